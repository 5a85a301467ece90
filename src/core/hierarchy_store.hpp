// Writes to a stored cluster hierarchy (docs/hierarchy-writes.md): the incremental update of
// hierarchy_update.hpp run on the blocks of hierarchy_pack.hpp's layout, reading only the blocks
// the write touches and giving back the blocks it changed, re-encoded.
//
// One HierStoreUpdate serves one batch of writes to one partition of one hierarchy (the SQL
// layer makes one per statement, or per chunk of a large statement, and per partition value):
//   init, apply (erases and inserts, in order), then changes: the blocks to write back (a block
//   left without records is to be deleted) and the slot counters to store.
// The caller reads blocks for it through HierStoreOps. Those calls must not throw or longjmp:
// a caller that fails returns false, the update stops with Status::HierarchyReadFailed and
// the caller raises its own error once apply has returned.
//
// What a write keeps (hierarchy.hpp's guarantees; determinism becomes "a rebuild restores the
// deterministic shape"): conservation, separation, nesting and expansion zooms, exact centres
// and bounds, as hierarchy_update.hpp keeps them. Ids: a cluster whose members a batch does not
// change keeps its id. A cluster whose members change keeps its id too, except where the stored
// layout cannot keep it: a record (one slot, a run of zooms with the same members) that the
// write splits keeps its id at the finer zooms and takes a new one at the coarser; a cluster
// whose centre leaves the block tile it is stored in moves to the tile of its centre under a
// new id; a run that two records now hold (an erase left a cluster one child) keeps the finer
// record's. Retired ids are never handed out again (slot counters, below).
//
// Markers are matched by (id, exact position): an erase names the row as it was (its id, lat
// and lon), so that ids need not be unique.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "hierarchy_delta.hpp"

#include <cstdint>
#include <memory>

namespace geocluster {

struct HierStoreOps {
    void* ctx;
    // The bytes of block (band, block) of the partition being written: from the nodes table, or
    // with members = true from the members table (band is then the last band). *data = nullptr
    // and *len = 0 when there is no such row. *delta and *delta_len: the row's delta
    // (hierarchy_delta.hpp), nullptr and 0 when it has none. The bytes must
    // stay valid until the update is destroyed. False when the caller failed.
    // A large block may come in part: then *have < *len, and only its first *have bytes
    // are filled in the *len bytes at *data; fill gets the others as they are needed.
    bool (*fetch)(void* ctx, bool members, int band, std::uint64_t block,
                  const unsigned char** data, std::size_t* len, std::size_t* have,
                  const unsigned char** delta, std::size_t* delta_len);
    // Fills bytes [offset, offset + length) of a block that fetch gave in part, in place. Never
    // called for a block fetched whole. False when the caller failed.
    bool (*fill)(void* ctx, bool members, int band, std::uint64_t block, std::size_t offset,
                 std::size_t length);
    // Calls found(found_ctx, block) for every block lo..hi (lo <= hi) of band that has a row
    // of the partition being written, in the nodes table or with members = true the members
    // table, so that a writer reading a wide box fetches only the blocks that exist. found
    // never throws. False when the caller failed.
    bool (*list)(void* ctx, bool members, int band, std::uint64_t lo, std::uint64_t hi,
                 void (*found)(void* found_ctx, std::uint64_t block), void* found_ctx);
    // The first slot of (band, block) never handed out in any partition of the hierarchy: the
    // stored counter when there is one, else one more than the largest slot of any partition's
    // row of that block (0 when there is none). False when the caller failed.
    bool (*slot_floor)(void* ctx, int band, std::uint64_t block, std::uint64_t* next);
};

// One write. An erase names a marker as stored: its id and exact position (a marker not found
// there is an error: the hierarchy disagrees with the rows, HierarchyBlockCorrupt). An insert
// adds a marker; its position is validated (BadLatitude-like statuses of validate_lat_lon).
struct HierStoreWrite {
    bool insert;
    std::int64_t id;
    double lat, lon;
};

// Puts a batch's writes in the order that reads the fewest blocks: its erases first (a batch of
// erases and inserts is a statement's old rows, then its new ones, and must stay so), each part
// along a Z-order curve of the positions, so that consecutive writes share their blocks and a
// chunk of them reads a neighbourhood, not the world. Any order keeps every guarantee; this one
// is total (ties broken by id and position), so a batch's result does not depend on the order
// its rows came in. Positions need not be valid (they sort anywhere; apply refuses them).
void hier_store_order_writes(HierStoreWrite* writes, std::size_t n) noexcept;

// A block to write back. When delta_only, the row keeps its data and its delta becomes data
// (len = 0: none). Else data is its new bytes and it has no delta; len = 0 deletes the row.
struct HierStoreBlock {
    bool members;
    int band;
    std::uint64_t block;
    bool delta_only;
    const unsigned char* data;
    std::size_t len;
};
// A slot counter to store (insert or update): the first slot of (band, block) never handed out.
struct HierStoreSlots {
    int band;
    std::uint64_t block;
    std::uint64_t next;
};

class HierStoreUpdate {
  public:
    HierStoreUpdate() noexcept;
    ~HierStoreUpdate();
    HierStoreUpdate(const HierStoreUpdate&) = delete;
    HierStoreUpdate& operator=(const HierStoreUpdate&) = delete;

    // radius_px and max_zoom as the hierarchy was built with (RadiusInvalid, ZoomOutOfRange).
    // max_bytes bounds the working copy (the blocks read, decoded, and the clusters made):
    // HierarchyWriteTooLarge beyond it. A block of delta_min_block_bytes or more that a
    // write changes gets a delta instead of new bytes, until hier_delta_fold_due
    // (hierarchy_delta.hpp); tests lower it to write deltas on small blocks.
    Status init(double radius_px, int max_zoom, const HierStoreOps& ops, std::size_t max_bytes,
                std::size_t delta_min_block_bytes = kHierDeltaMinBlockBytes) noexcept;

    // Applies the writes in order (a batch: one separation repair at the end), then encodes the
    // changed blocks. Call once. On any failure the update is unusable and nothing is to be
    // written.
    Status apply(const HierStoreWrite* writes, std::size_t n, CancelCheck cancel) noexcept;

    // After a successful apply: the blocks to write back, and the slot counters to store. The
    // arrays and the bytes live until the update is destroyed.
    const HierStoreBlock* blocks(std::size_t* n) const noexcept;
    const HierStoreSlots* slots(std::size_t* n) const noexcept;

    // Blocks read and clusters changed, for tests and the benchmark; and what a batch's repeated
    // reads of one block saved: scans that needed no parse (their box within one parsed before),
    // blocks decoded whole after many scans, scans that visited decoded records by latitude.
    struct Stats {
        std::uint64_t blocks_read, blocks_written, deltas_written, records_changed, ids_changed;
        std::uint64_t parses_skipped, blocks_decoded_whole, indexed_scans;
    };
    Stats stats() const noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace geocluster
