// Reading a packed cluster hierarchy (hierarchy_pack.hpp): which blocks a reader fetches, and what
// it makes of their records. The SQL side fetches the block rows by primary key and calls these;
// test/unit/hierarchy_pack_test.cpp reads a packed build back through them at every zoom.
//
//  - Viewport at zoom z: the blocks of band(z) covering the box (kHierViewportRingBlocks: a node
//    stays in the block of the centre it was made with; a ring is what will let later writes
//    move a centre a little without moving the node), each decoded with the box
//    (hier_node_block_next_in), each kept record given as the node at z (hier_node_at). Beyond
//    max_zoom: the single markers of the last band's node and member blocks whose position is
//    in the box (hier_node_block_next_marker_in).
//  - Children of the node id at zoom z (record r of its block): r itself at z + 1 when its run goes
//    on (z < r.zoom_max); none at max_zoom; else the records of band(z + 1) with zoom_min z + 1 and
//    parent_id id, in the blocks covering r's bounds plus the ring (a child's centre lies in its
//    parent's bounds, up to rounding and the Web Mercator clamp, which the ring and the clamped
//    block rows absorb).
//  - Leaves of a node: band after band, the records of the blocks covering its bounds whose parent
//    is in the set of its descendants (HierDescent); then, for the multi-marker leaves, their
//    markers in the member blocks.
#pragma once

#include "core.hpp"

#include "hierarchy_pack.hpp"

namespace geocluster {

// The ring of blocks read around a box. Lookups by a cluster's bounds (children, leaves) need one:
// a centre is in its members' box only up to rounding and the Web Mercator clamp. A viewport
// needs none while centres never move (the block of a centre in the box is in the box's blocks:
// both come from the same monotonic fixed-point position); writes that move centres will read
// the one-block ring there too (docs/hierarchy-storage.md).
constexpr int kHierRingBlocks = 1;
constexpr int kHierViewportRingBlocks = 0;

// A run of block numbers lo..hi (inclusive) of one band.
struct HierBlockRange {
    std::uint64_t lo, hi;
};
// Room enough for the ranges of any box in band (hier_block_ranges).
std::size_t hier_block_ranges_cap(const HierBand& band) noexcept;
// The blocks of band covering the box (south <= north, lon parts west1..east1 and, when
// west2 <= east2, west2..east2, all within the world) widened by ring blocks on every side
// (across the antimeridian too), as ascending, disjoint, non-adjacent ranges. out has
// hier_block_ranges_cap(band) entries; returns how many it filled.
std::size_t hier_block_ranges(const HierBand& band, const HierBlockBox& box, int ring,
                              HierBlockRange* out) noexcept;
// The box of a node's bounds (min_lon > max_lon: across the antimeridian), zoom left 0.
HierBlockBox hier_bounds_box(double min_lat, double min_lon, double max_lat,
                             double max_lon) noexcept;

// Record r of block block of band as the node it is at zoom (zoom_min <= zoom <= zoom_max), with
// a single marker's sums made from its position.
HierNode hier_node_at(const HierBlockNode& r, const HierBand& band, std::uint64_t block,
                      int zoom) noexcept;

// The record of slot in a block with its delta (delta_len 0: none; hierarchy_delta.hpp): Ok with
// *found false when none; HierarchyBlockCorrupt.
Status hier_block_find(const unsigned char* data, std::size_t len, const unsigned char* delta,
                       std::size_t delta_len, std::uint32_t slot, HierBlockNode* out,
                       bool* found) noexcept;

// One more than the largest slot of a block's records or its delta's (0 for none): where a
// block's slots end, for a writer that hands out new ones. HierarchyBlockCorrupt.
Status hier_block_slot_end(const unsigned char* data, std::size_t len, const unsigned char* delta,
                           std::size_t delta_len, std::uint64_t* end) noexcept;

// The order of viewports and children: count descending, north to south, west to east, then
// the marker id (the smallest member's), then the cluster id.
bool hier_node_before(const HierNode& a, const HierNode& c) noexcept;

// A set of cluster ids (open addressing), its table from the allocator.
struct HierIdSet {
    std::int64_t* slots;  // -1: empty
    std::size_t cap;      // a power of two
    std::size_t n;
};
Status hier_id_set_init(HierIdSet* s, std::size_t expected, const Allocator& alloc) noexcept;
bool hier_id_set_has(const HierIdSet& s, std::int64_t id) noexcept;
Status hier_id_set_add(HierIdSet* s, std::int64_t id, const Allocator& alloc) noexcept;
void hier_id_set_free(HierIdSet* s, const Allocator& alloc) noexcept;

// A record with the block it came from.
struct HierBandRecord {
    HierBlockNode node;
    std::uint64_t block;
};
// The descendants of a node, walked band by band.
struct HierDescent {
    HierIdSet ends;    // the ids, at the last zoom of their record, of the multi-marker descendants
    HierIdSet leaves;  // of those, the ones that are leaves (their record reaches max_zoom)
    int max_zoom;
};
// Starts at record r of (band, block) at zoom. Single markers found are appended to ids (the
// node itself when it is one); ids has room for r.count.
Status hier_descent_start(HierDescent* d, const HierBlockNode& r, const HierBand& band,
                          std::uint64_t block, int max_zoom, std::int64_t* ids, std::size_t* n_ids,
                          const Allocator& alloc) noexcept;
// One band's records (any order; the ones that are not descendants are skipped; they are
// reordered): adds the descendants among them, appending the single markers' ids to ids.
Status hier_descent_band(HierDescent* d, const HierBand& band, HierBandRecord* recs, std::size_t n,
                         std::int64_t* ids, std::size_t* n_ids, std::size_t ids_cap,
                         const Allocator& alloc) noexcept;
void hier_descent_free(HierDescent* d, const Allocator& alloc) noexcept;

}  // namespace geocluster
