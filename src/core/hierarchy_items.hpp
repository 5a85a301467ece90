// A stored hierarchy node as the engine's Item (cluster_items.hpp): the build's coarser zooms
// (hierarchy.cpp) and the incremental update (hierarchy_update.cpp) both fold nodes this way.
// Not part of the API.
#pragma once

#include "core.hpp"

#include "cluster_items.hpp"
#include "hierarchy.hpp"

namespace geocluster {

inline cluster_internal::Item hier_item_of_node(const HierNode& n) noexcept {
    cluster_internal::Item it;
    it.count = n.count;
    it.count_w = n.sums.count_w;
    it.sx_e = cluster_internal::Wide{n.sums.sx_e_lo, n.sums.sx_e_hi};
    it.sx_w = cluster_internal::Wide{n.sums.sx_w_lo, n.sums.sx_w_hi};
    it.sy = cluster_internal::Wide{n.sums.sy_lo, n.sums.sy_hi};
    it.min_lat = n.min_lat;
    it.max_lat = n.max_lat;
    it.min_lon_e = n.sums.min_lon_e;
    it.max_lon_e = n.sums.max_lon_e;
    it.min_lon_w = n.sums.min_lon_w;
    it.max_lon_w = n.sums.max_lon_w;
    it.min_id = n.id;
    it.rank = 0;
    it.has_id = 1;  // every marker has an id
    return it;
}

}  // namespace geocluster
