// The cluster hierarchy: one stored clustering of a whole set of markers at every zoom
// 0..max_zoom, nested from street level to the world (cluster_hierarchy_create in SQL).
//
// How it is built (hierarchy_sweep.hpp). Zoom max_zoom clusters the markers themselves; every
// coarser zoom z clusters the clusters of zoom z + 1, each taken whole as one weighted item. A
// zoom is a sweep in cell order: the items sorted by the cell of their centre (rows north to
// south, columns west to east, then by smallest id), each item not yet taken takes every item
// not yet taken within radius_px of its centre, and passes repeat until one takes nothing. So a
// zoom-z cluster is a union of whole zoom z + 1 clusters (nesting), and no two centres of one
// zoom are left within radius_px (separation). The distance test, its slack and the exact sums
// are the engine's (cluster.hpp), but not its order of seeds (heaviest first) nor its bins: zoom
// max_zoom is not what cluster_agg gives at that zoom, and seeds come in cell order, so a
// concentration may be cut where the raster meets it.
//
// Guarantees, per zoom (property-tested in test/unit against a slow reference, and by
// bench/micro/sweep_hierarchy --check at a million markers):
//  1. Conservation: counts add up to the number of markers.
//  2. Separation:   no two centres closer than radius_px world pixels (256 px tiles), across the
//                   antimeridian too (the engine's slack, cluster_internal.hpp, included).
//  3. Nesting:      every cluster of zoom z < max_zoom is the union of one or more clusters of
//                   zoom z + 1 (its children: the nodes whose parent_id is its cluster_id); every
//                   marker is in exactly one cluster of max_zoom (leaf_of_marker).
//  4. Centre:       the count-weighted mean of the members' Web Mercator positions, from exact
//                   integer sums (the same definition as cluster.hpp's contract 4); bounds are
//                   the members' exact box (min_lon > max_lon across the antimeridian). A
//                   single marker inside Web Mercator's latitudes is its own lat/lon, exactly
//                   (hier_single_centre: the mean of one position, where cluster_agg gives its
//                   fixed-point round trip, within 1e-12 degrees).
//  5. Determinism:  the same markers, in any order, give the same nodes, ids included.
//
// Identity. cluster_id = zoom << kHierZoomShift | ordinal. Ordinals are handed out per zoom in
// the sweep's order (by cell, rows north to south, then smallest id), starting at the
// caller's next_ordinal[zoom], which the build advances: a caller that builds several
// partitions passes the same array so that ids stay unique per zoom, and later writes take new
// ordinals from where the build stopped, so an existing cluster is never renamed.
#pragma once

#include "core.hpp"

#include "cluster.hpp"

namespace geocluster {

constexpr int kHierZoomShift = 40;  // cluster_id = zoom << 40 | ordinal (ordinal < 2^40)
constexpr int kHierMaxZoom = 24;    // largest max_zoom accepted (ZoomOutOfRange beyond)

// A marker: lat in [-90, 90], lon in [-180, 180], finite (validated by the build: BadLatitude /
// BadLongitude statuses as for cluster_add_point).
struct HierMarker {
    double lat, lon;
    std::int64_t id;
};

// The exact sums behind a node's centre, kept so that later writes can update a node without
// reading its members: fixed-point positions (cluster_internal.hpp, 2^48 per world width) summed
// over east (lon >= 0) and west (lon < 0) members separately, and the east and west longitude
// ranges, so the antimeridian choice of contract 3 can be redone exactly.
struct HierSums {
    std::uint64_t count_w;           // members with lon < 0
    std::uint64_t sx_e_lo, sx_e_hi;  // sum of X over east members (128-bit)
    std::uint64_t sx_w_lo, sx_w_hi;  // sum of X over west members
    std::uint64_t sy_lo, sy_hi;      // sum of Y over all members
    double min_lon_e, max_lon_e;     // +inf / -inf when no east member
    double min_lon_w, max_lon_w;     // +inf / -inf when no west member
};

struct HierNode {
    std::int64_t cluster_id;
    std::int64_t parent_id;  // the zoom - 1 cluster containing it; -1 at zoom 0
    int zoom;
    int expansion_zoom;  // lowest zoom > zoom where its members fall into more than one cluster;
                         // max_zoom + 1 for a multi-marker cluster that never splits up to
                         // max_zoom; -1 (NULL in SQL) for a single marker
    std::uint64_t count;
    double lat, lon;                            // centre
    double min_lat, min_lon, max_lat, max_lon;  // bounds
    std::int64_t id;                            // the marker's id when count = 1, else min id
    HierSums sums;
};

// A build result: nodes sorted by (zoom, ordinal); leaf_of_marker[i] is the cluster_id of the
// max_zoom cluster holding markers[i]. Both arrays come from the allocator; release them with
// hierarchy_free.
struct HierBuild {
    HierNode* nodes;
    std::size_t n_nodes;
    std::int64_t* leaf_of_marker;
    std::size_t n_markers;
};

// radius_px finite and > 0 (RadiusInvalid); max_zoom 0..kHierMaxZoom (ZoomOutOfRange);
// next_ordinal has max_zoom + 1 entries, and a zoom's ordinals must stay below 2^40
// (HierarchyIdsExhausted). Canceled, OutOfMemory as for cluster_finalize. On any failure
// next_ordinal is unchanged and *out is empty.
Status hierarchy_build(const HierMarker* markers, std::size_t n_markers, double radius_px,
                       int max_zoom, std::uint64_t* next_ordinal, const Allocator& alloc,
                       CancelCheck cancel, HierBuild* out) noexcept;

void hierarchy_free(const Allocator& alloc, HierBuild* build) noexcept;

}  // namespace geocluster
