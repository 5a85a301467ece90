// cluster_viewport_merge's core: the clusters of several shards' viewports (each shard's own
// hierarchy, read by cluster_viewport) clustered again as one. Not a second clustering
// algorithm: each cluster of a shard (a "part") becomes one weighted item of the engine
// (cluster_items.hpp), and the engine's passes cluster the items as cluster_agg's clusters its
// bins. SQL: src/sql/geocluster/70_scale_out.sql.
//
// A part is known by its count, centre, box and smallest id only, not by its members. The item
// of a part puts all its members at the part's centre, and takes its box as the members' ranges
// east of 0 (lon >= 0) and west of it: exact when the box lies on one side of 0 and of 180, the
// whole arc on each side taken as filled otherwise (a box across 0, or across 180). Hence the
// guarantees (docs/scale-out.md states them for users):
//  - separation, conservation, id, order: the engine's (cluster.hpp, contracts 1, 2, 5, 6), with
//    parts in place of bins; the result does not depend on the parts' order (items are ranked by
//    their contents);
//  - centre: the count-weighted Web Mercator mean of the parts' centres, parts centred west of 0
//    counted at x + 1 when the result's box crosses 180 (contract 4 with parts for members);
//    except in a result that holds both a part whose box crosses 180 and one whose box holds 0
//    (its box is then [-180, 180] and its centre a plain mean in which a part crossing 180 counts
//    as one member on the far side of 180 from its centre: only approximate);
//  - latitude bounds: exact; longitude bounds: contract 3 applied to the parts' boxes (taken as
//    filled, as above), so always holding every member, and the members' own box when no part's
//    box holds 0 or crosses 180.
#pragma once

#include "core.hpp"

#include "cluster.hpp"

namespace geocluster {

// One cluster of a shard's viewport (the fields of a cluster_node that the merge reads).
struct MergePart {
    std::int64_t count;                         // <= 0: left out
    double lat, lon;                            // centre
    double min_lat, min_lon, max_lat, max_lon;  // box; min_lon > max_lon across 180
    std::int64_t id;                            // valid when has_id
    bool has_id;
};

constexpr double kMergeMaxZoom = 30.0;
constexpr double kMergeMaxRadiusPx = 1e6;

// Clusters the parts at zoom floor(zoom) (0 to 30; MergeZoomInvalid) so that no two centres are
// closer than radius_px world pixels (0 to 1e6; MergeRadiusInvalid; 0 merges nothing). Into *out
// (from alloc; release with cluster_free_list) in cluster_agg's order. A part with count > 0
// needs a valid centre and box (LatNotFinite ... LonOutOfRange; BoxInvalid for min_lat >
// max_lat; MergePartInvalid for a part of one member whose box reaches both sides of 0 or 180),
// and all counts together at most 2^46 (ClusterTooManyPoints); *bad_part is then the index of
// the part that failed. StateTooLarge when the items and the engine's scratch would pass alloc's
// budget; OutOfMemory; Canceled. On failure *out is empty.
Status viewport_merge(const MergePart* parts, std::size_t n, double zoom, double radius_px,
                      const Allocator& alloc, CancelCheck cancel, ClusterList* out,
                      std::size_t* bad_part) noexcept;

}  // namespace geocluster
