// The packed layout of a stored cluster hierarchy (docs/hierarchy-storage.md): its zoom bands and
// block tiles, its cluster ids, and the packing of a build (hierarchy.hpp) into node blocks
// (hierarchy_block.hpp) that the SQL side writes one row per (band, block, partition).
//
// Bands. The zooms 0..max_zoom are cut into bands, each with a block zoom: a node of a band is
// stored once for the run of zooms of that band over which it is the same cluster, in the block
// named by the tile of its centre at the block zoom. The bands are a fixed table clipped to
// max_zoom (hier_bands): 0-6/1, 7-10/5, 11-16/9, 17-24/13 (zooms/block zoom), the layout
// measured smallest at 1M markers (band D of the design document, its finest band's blocks made
// four times larger once the index inside a block made large blocks cheap to read: a third of
// the rows, under the storage goal) plus one band for the street
// zooms beyond 16.
//
// Ids. cluster_id = zoom << 47 | block << (47 - 2 * bz) | slot, with bz the band's block zoom and
// block = y << bz | x the block tile: below 2^52, so that 2^52 + cluster_id (GeoJSON feature ids)
// stays a safe JavaScript integer. The slot takes what the block leaves: 45 bits at bz 1, 29 at
// 9, 21 at 13; a build that would put more nodes in one block is refused (HierarchyBlockFull).
// A node has the same block and slot at every zoom of its band: its ids differ only in the zoom
// bits. Slots of a (band, block) are handed out across the partitions of a hierarchy
// (HierSlotCounters), so ids are unique in the whole hierarchy.
#pragma once

#include "core.hpp"

#include "hierarchy.hpp"
#include "hierarchy_block.hpp"

namespace geocluster {

constexpr int kHierIdZoomShift = 47;
constexpr int kHierMaxBands = 4;

struct HierBand {
    int zoom_lo, zoom_hi, block_zoom;
};
struct HierBands {
    HierBand band[kHierMaxBands];
    int n;
};

// The bands of a hierarchy of zooms 0..max_zoom (0..kHierMaxZoom).
HierBands hier_bands(int max_zoom) noexcept;
// The band holding zoom, or -1 when zoom is beyond the bands.
int hier_band_of(const HierBands& bands, int zoom) noexcept;

inline int hier_slot_bits(const HierBand& band) noexcept {
    return kHierIdZoomShift - 2 * band.block_zoom;
}
inline std::int64_t hier_cluster_id(int zoom, const HierBand& band, std::uint64_t block,
                                    std::uint32_t slot) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(zoom) << kHierIdZoomShift |
                                     block << hier_slot_bits(band) | slot);
}
// The same node's id at another zoom of its band.
inline std::int64_t hier_id_at_zoom(std::int64_t id, int zoom) noexcept {
    const std::int64_t low = (std::int64_t{1} << kHierIdZoomShift) - 1;
    return (id & low) | static_cast<std::int64_t>(zoom) << kHierIdZoomShift;
}

struct HierIdParts {
    int zoom, band;
    std::uint64_t block;
    std::uint32_t slot;
};
// Splits an id of a hierarchy with these bands; false when it cannot be one (negative, its zoom
// beyond the bands, its block beyond the block zoom's tiles).
bool hier_id_parts(const HierBands& bands, std::int64_t id, HierIdParts* out) noexcept;

// The block tile (y << bz | x) of a position at block zoom bz, from its fixed-point position
// (clamped as the build clamps it, so a centre beyond 85.05 degrees is in the edge row).
std::uint64_t hier_block_of(int block_zoom, double lat, double lon) noexcept;
// The same from the fixed-point position (cluster_internal's fixed_x_of_lon, fixed_y_of_lat),
// for a caller that needs it for hier_z_order_fixed too.
std::uint64_t hier_block_of_fixed(int block_zoom, std::uint64_t x, std::uint64_t y) noexcept;

// The next free slot of each (band, block), kept across the partitions of one build. Sorted by
// key = band << 56 | block. Its array comes from the allocator given to hier_pack.
struct HierSlotCounter {
    std::uint64_t key;
    std::uint64_t next;
};
struct HierSlotCounters {
    HierSlotCounter* v;
    std::size_t n;
};
void hier_slot_counters_free(const Allocator& alloc, HierSlotCounters* c) noexcept;
// The next slot of key's block: its counter's, or 0.
// The record of node h in a block: its slot, zooms and parent's packed id as given, the rest
// (count, id, expansion zoom, centre, bounds, a cluster's sums) h's. The packer and the streamed
// create make their records here.
HierBlockNode hier_record_of(const HierNode& h, std::uint32_t slot, int zoom_min, int zoom_max,
                             std::int64_t parent_id) noexcept;

// The Z-order (Morton) key of a centre: the bits of its fixed-point x and y interleaved. Within a
// block, a zoom's records are sorted by it first (then by their parents' ids, north to south),
// so that the chunks of the block's index (runs of records) cover small boxes; the packer and
// the streamed create sort alike.
std::uint64_t hier_z_order(double lat, double lon) noexcept;
std::uint64_t hier_z_order_fixed(std::uint64_t x, std::uint64_t y) noexcept;
std::uint64_t hier_slot_counter_next(const HierSlotCounters& c, std::uint64_t key) noexcept;
// c merged with updates (both sorted by key; an update wins), its array reallocated from alloc.
Status hier_slot_counters_merge(HierSlotCounters* c, const HierSlotCounter* updates,
                                std::size_t n_updates, const Allocator& alloc) noexcept;

// One block of packed records: records[first .. first + n) of its array, slots ascending.
struct HierPackedBlock {
    int band;
    std::uint64_t block;
    std::size_t first, n;
};

// A packed build. Node blocks are sorted by (band, block). Member blocks hold the markers of the
// multi-marker leaves (a single-marker leaf is its own marker: it has none) as single-marker
// records of zoom max_zoom whose parent_id is their leaf's cluster_id, in the block of the last
// band holding the marker's position (band = that band), sorted by (leaf, marker id), slots
// from 0: what cluster_leaves lists and what a viewport beyond max_zoom shows at the markers'
// exact positions.
// id_of_node[i] is the packed cluster_id of build.nodes[i].
struct HierPacked {
    HierBlockNode* records;
    std::size_t n_records;
    HierPackedBlock* blocks;
    std::size_t n_blocks;
    HierBlockNode* members;
    std::size_t n_members;
    HierPackedBlock* member_blocks;
    std::size_t n_member_blocks;
    std::int64_t* id_of_node;
};

// Packs a build of markers (the same arrays hierarchy_build was given and returned) made with
// max_zoom. Slots continue from counters, which are updated (their array reallocated through
// counters_alloc); on failure counters are unchanged and *out is empty. HierarchyBlockFull when a
// block would overflow its slots; Canceled, OutOfMemory; Internal if the build is not one
// hierarchy_build made.
Status hier_pack(const HierBuild& build, const HierMarker* markers, int max_zoom,
                 HierSlotCounters* counters, const Allocator& alloc,
                 const Allocator& counters_alloc, CancelCheck cancel, HierPacked* out) noexcept;
void hier_packed_free(const Allocator& alloc, HierPacked* p) noexcept;
// The member record of marker m in the leaf whose packed id is leaf (HierPacked's members).
HierBlockNode hier_member_record(const HierMarker& m, int max_zoom, std::int64_t leaf,
                                 std::uint32_t slot) noexcept;

// Encodes one packed block (records or members) of band zooms zoom_lo..zoom_hi into out
// (hier_node_block_bound(block.n) bytes).
Status hier_packed_block_encode(const HierBlockNode* records, const HierPackedBlock& block,
                                int zoom_lo, int zoom_hi, unsigned char* out,
                                std::size_t* len) noexcept;

}  // namespace geocluster
