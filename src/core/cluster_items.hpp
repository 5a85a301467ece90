// The clustering passes of cluster_finalize.cpp, run on weighted items instead of a state's bins:
// what cluster_viewport_merge (viewport_merge.hpp) needs to cluster the clusters of several
// shards, each taken whole. The Item, its exact sums and its output row are also the cluster
// hierarchy's clusters in the making (hierarchy_sweep.hpp). Not part of the API: include
// cluster.hpp.
//
// Why items and not bins: a bin holds one longitude range and one west flag, so a cluster with
// members on both sides of the antimeridian cannot be put into one exactly; an Item keeps the
// east and west sums and ranges apart, as the finaliser's later passes already do.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"

#include <algorithm>

namespace geocluster {
namespace cluster_internal {

// A cluster in the making (or a bin, in the finaliser's first pass): exact integer sums and
// exact minima and maxima, so that adding items is exact, commutative and associative.
struct Item {
    std::uint64_t count, count_w;  // all members; members with lon < 0
    Wide sx_e, sx_w, sy;           // sums of X over east / west members, of Y over all
    double min_lat, max_lat;
    double min_lon_e, max_lon_e;  // over east members (+inf/-inf when none)
    double min_lon_w, max_lon_w;  // over west members (+inf/-inf when none)
    std::int64_t min_id;
    std::uint32_t rank;  // min over members of their first-pass item numbers: unique
    std::uint32_t has_id;
};

// A clustering of given items: the clusters as items, in cluster_finalize's output order, and for
// every input the position of its cluster in that order. Both arrays come from the parameters'
// allocator; release them with item_clusters_free.
struct ItemClusters {
    Item* items;
    std::uint32_t n_items;
    std::uint32_t* cluster_of_input;  // by bin index (st->bins order), or by input item
    std::uint32_t n_inputs;
};

// Clusters n items at params' zoom and radius (params: a state from cluster_create; its points,
// if any, are ignored) with the finaliser's passes: the first is a full greedy pass over all the
// items (heaviest first; equal counts by neighbour-grid cell, then by rank, which must be unique),
// then the incremental passes until one changes nothing. Every guarantee of cluster.hpp holds with
// items in place of bins: the result is a function of the items' contents and ranks, not of their
// order in the array. Canceled, OutOfMemory, StateTooLarge (the scratch would pass params'
// allocator's budget); on failure *out is empty.
Status cluster_items(const ClusterState* params, const Item* items, std::uint32_t n,
                     CancelCheck cancel, ItemClusters* out, ClusterFinalizeStats* stats) noexcept;

void item_clusters_free(const Allocator& alloc, ItemClusters* c) noexcept;

// The output row of an item: centre (contract 4), bounds (contract 3), id (contract 6), exactly
// as cluster_finalize prints them.
void cluster_of_item(const Item& it, Cluster* out) noexcept;
// cluster_of_item's longitude bounds alone (no centre: a caller that keeps the centre makes them
// again from the sums without its Mercator round trip).
void item_lon_bounds(const Item& it, double* min_lon, double* max_lon) noexcept;

// item_add's latitude and longitude ranges alone (no sums, no id): dst's widened by src's.
// Inline, as item_add: the hierarchy's sweep adds millions of items.
inline void item_add_bounds(Item& d, const Item& s) noexcept {
    d.min_lat = std::min(d.min_lat, s.min_lat);
    d.max_lat = std::max(d.max_lat, s.max_lat);
    d.min_lon_e = std::min(d.min_lon_e, s.min_lon_e);
    d.max_lon_e = std::max(d.max_lon_e, s.max_lon_e);
    d.min_lon_w = std::min(d.min_lon_w, s.min_lon_w);
    d.max_lon_w = std::max(d.max_lon_w, s.max_lon_w);
}

inline void item_add(Item& d, const Item& s) noexcept {
    d.count += s.count;
    d.count_w += s.count_w;
    wide_add(d.sx_e, wide_load(s.sx_e));
    wide_add(d.sx_w, wide_load(s.sx_w));
    wide_add(d.sy, wide_load(s.sy));
    item_add_bounds(d, s);
    if (s.has_id != 0 && (d.has_id == 0 || s.min_id < d.min_id)) {
        d.min_id = s.min_id;
        d.has_id = 1;
    }
    d.rank = std::min(d.rank, s.rank);
}

}  // namespace cluster_internal
}  // namespace geocluster
