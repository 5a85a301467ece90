// What the write trigger of a cluster hierarchy (hierarchy_write.cpp) shares with the code that
// reads and writes the hierarchy's block tables for it (hierarchy_write_tables.cpp).
//
// The block tables are maintained like an index: read and written through the table and index
// AMs, not SQL, so a role that may write the source needs no privilege on them, and no trigger or
// rule of theirs runs. Every lookup is by primary key with a snapshot taken after the
// hierarchy's write lock (so a writer that committed while we waited is seen).
#pragma once

#include "hierarchy_store.hpp"

#include "glue.hpp"

extern "C" {
#include "nodes/execnodes.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
}

namespace geocluster::pg {

// One block table (nodes, members or slot counters) opened for writing: its heap, its primary
// key (its only index) and where its columns are.
struct WriteTable {
    Relation heap, index;
    IndexInfo* index_info;
    AttrNumber band_att, block_att, value_att, part_att;  // value: data, or next (slots)
    AttrNumber delta_att;                                 // nodes, members; else invalid
    int n_keys;                                           // the primary key's columns
};

// A hierarchy as its write trigger needs it: from the metadata row, read directly (the writer
// may not have SELECT on it).
struct WriteMeta {
    Oid nodes, members, slots;
    Oid source;              // the table the hierarchy clusters (InvalidOid when it is gone)
    const char* nodes_name;  // schema-qualified, for messages
    double radius_px;
    int max_zoom;
    const char *lat_column, *lon_column, *geometry_column, *id_column, *partition_column;
};

// Everything one statement's maintenance works with.
struct WriteRun {
    const WriteMeta* meta;
    WriteTable nodes, members, slots;
    Snapshot latest;  // taken after the lock (and after each chunk's CommandCounterIncrement)
    Snapshot xact;    // REPEATABLE READ / SERIALIZABLE: the transaction's, else nullptr
    bool has_part;
    Datum part;           // the partition value of the current chunk (text)
    MemoryContext chunk;  // lives as long as the current HierStoreUpdate
    ErrorData* failure;   // an error a callback caught, rethrown once apply returned
    List* partial;        // the blocks write_fetch gave in part (PartBlock), in chunk
};

// The key of one row of a block table (band unused for members, part unless partitioned).
struct RowKey {
    int band;
    std::uint64_t block;
};

// The metadata of the hierarchy whose nodes table is nodes (22023 when it is none).
void write_meta(Oid nodes, Oid fn_oid, WriteMeta* meta);
// Opens the three block tables (RowExclusiveLock, held to the end of the transaction); refuses
// tables with indexes other than the primary key the create made.
void open_write_tables(WriteRun* run);
void close_write_tables(WriteRun* run);

// HierStoreOps callbacks (ctx: the WriteRun). They do not longjmp: a failure is kept in
// run->failure and they return false.
bool write_fetch(void* ctx, bool members, int band, std::uint64_t block, const unsigned char** data,
                 std::size_t* len, std::size_t* have, const unsigned char** delta,
                 std::size_t* delta_len);
bool write_fill(void* ctx, bool members, int band, std::uint64_t block, std::size_t offset,
                std::size_t length);
bool write_list(void* ctx, bool members, int band, std::uint64_t lo, std::uint64_t hi,
                void (*found)(void* found_ctx, std::uint64_t block), void* found_ctx);
bool write_slot_floor(void* ctx, int band, std::uint64_t block, std::uint64_t* next);

// Writes back what a successful apply changed: block rows inserted, updated or deleted, slot
// counters upserted.
void write_back(WriteRun* run, const HierStoreUpdate& update);

// Folds every delta of the nodes and members tables into its block (cluster_hierarchy_compact);
// returns how many rows it folded.
std::int64_t compact_write_tables(WriteRun* run);
// Deletes every row of the three block tables (the source was truncated whole).
void clear_write_tables(WriteRun* run);

}  // namespace geocluster::pg
