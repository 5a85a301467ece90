// What the readers of a stored cluster hierarchy share (hierarchy_read.cpp): the session's cache
// of a hierarchy's shape and tables, the fetch of block rows by primary key (an index scan of
// its own: no SPI, no plan), a growing list of nodes, and the output of a cluster_node row.
// hier_lookup runs inside SPI (SPI_connect first).
#pragma once

#include "hierarchy_delta.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_read.hpp"
#include "polled_sort.hpp"

#include "glue.hpp"

extern "C" {
#include "executor/spi.h"
#include "funcapi.h"
}

namespace geocluster::pg {

// Where a block table's rows are: its primary key index and the attribute numbers of its columns
// (block, data, delta, part; band only in the nodes table), as the table says now.
struct HierBlockTable {
    Oid rel, index;
    AttrNumber block_att, data_att, delta_att;
    int part_key;  // the index column of part (1-based), 0 when not partitioned
};

// What a session keeps per hierarchy.
struct HierCacheEntry {
    Oid handle;  // hash key
    bool valid;
    Oid members;
    int max_zoom;
    HierBands bands;
    bool partitioned;
    HierBlockTable nodes_table, members_table;
};

// The session's entry for a hierarchy, (re)filled from its metadata when needed (22023 when
// handle is none).
const HierCacheEntry* hier_lookup(Oid handle, Oid fn_oid);

// A fetched block row: its block number, bytes and delta (delta_len 0: none; hierarchy_delta.hpp).
struct BlockRow {
    std::uint64_t block;
    const unsigned char* data;
    std::size_t len;
    const unsigned char* delta;
    std::size_t delta_len;
};
// Called with each fetched block row; may ereport.
using BlockVisit = void (*)(void* ctx, const BlockRow& row);
// A reader that decodes blocks with a box (hier_node_block_next_in, or next_marker_in with
// any_zoom): a block kept out of line is then fetched in slices, its header and top index and
// the groups of chunks the box keeps (hier_node_block_kept_chunks); visit gets a buffer of the
// block's size
// where only those bytes are filled.
struct BoxSlices {
    HierBlockBox box;
    bool any_zoom;
};
// The rows of band's blocks (or of the member blocks) in the ranges, of every partition or, with
// part, of that partition value's.
void fetch_blocks(const HierCacheEntry* h, bool members, int band, const HierBlockRange* ranges,
                  std::size_t n_ranges, const Datum* part, BlockVisit visit, void* ctx,
                  const BoxSlices* slices = nullptr);
// The same for the blocks of band covering box plus ring blocks around it.
void fetch_box(const HierCacheEntry* h, bool members, int band, const HierBlockBox& box, int ring,
               const Datum* part, BlockVisit visit, void* ctx, const BoxSlices* slices = nullptr);

// Bytes [offset, offset + length) of an out-of-line value (uncompressed), straight into
// dst + offset; dst has VARHDRSZ bytes of room before it.
void fetch_toast_slice(Relation toast, const varatt_external& ext, std::size_t offset,
                       std::size_t length, unsigned char* dst);

// Calls f(record) for every record of a node block with its delta folded over it (a malformed
// block is an ERROR).
template <typename F>
void each_record(const BlockRow& row, F f) {
    HierOverlayReader rd;
    check(hier_overlay_open(row.data, row.len, row.delta, row.delta_len, &rd));
    HierBlockNode r;
    Status s = Status::Ok;
    while (hier_overlay_next(&rd, &r, &s)) f(r);
    check(s);
}

// The record of a cluster id (false: no such node at that zoom).
bool find_record(const HierCacheEntry* h, std::int64_t id, HierIdParts* parts, HierBlockNode* rec);

// Nodes collected in the current memory context.
struct NodeList {
    HierNode* v;
    std::size_t n, cap;
};
void node_list_push(NodeList* l, const HierNode& n);
// Into the viewports' order (hier_node_before), polling for a cancel.
void sort_nodes(NodeList* l);
// One cluster_node row (cluster_id and expansion_zoom NULL when negative).
void put_node(ReturnSetInfo* rsinfo, const HierNode& n);

}  // namespace geocluster::pg
