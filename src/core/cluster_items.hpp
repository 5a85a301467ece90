// The clustering passes of cluster_finalize.cpp, run on weighted items instead of a state's bins:
// what the cluster hierarchy (hierarchy.cpp) needs to cluster the clusters of one zoom at the
// next coarser zoom, each taken whole. Not part of the API: include cluster.hpp.
//
// Why items and not bins: a bin holds one longitude range and one west flag, so a cluster with
// members on both sides of the antimeridian cannot be put into one exactly; an Item keeps the
// east and west sums and ranges apart, as the finaliser's later passes already do.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"

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

// A clustering of inputs (the bins of a state, or given items): the clusters as items, in
// cluster_finalize's output order (or, ItemOrder::kRanked, in some order with each item's rank its
// position in the output order), and for every input the position of its cluster in that order.
// Both arrays come from the state's allocator; release them with item_clusters_free.
enum class ItemOrder : std::uint8_t {
    kOutput,  // items[k] is the k-th cluster of the output order
    kRanked,  // items[j].rank = k for the k-th: what the next clustering needs, without moving
              // every item into its place (a cache miss or two each)
};
struct ItemClusters {
    Item* items;
    std::uint32_t n_items;
    std::uint32_t* cluster_of_input;  // by bin index (st->bins order), or by input item
    std::uint32_t n_inputs;
};

// cluster_finalize_assign on st's bins, with the clusters as exact items (their centres and
// bounds by cluster_of_item are exactly cluster_finalize's) and the cluster of every bin by bin
// index. Canceled, OutOfMemory; on failure *out is empty.
Status cluster_finalize_items(const ClusterState* st, CancelCheck cancel, ItemClusters* out,
                              ClusterFinalizeStats* stats,
                              ItemOrder order = ItemOrder::kOutput) noexcept;

// cluster_finalize_items (ItemOrder::kRanked) for a state used once: its bins are released as
// soon as the clusters' sums are made, and its hash slots for good (at 10M markers, the bins and
// the sums are 0.85 and 0.93 GB, no longer held with each other and the passes' scratch). After
// it, succeeded or not, st may only be destroyed. Canceled, OutOfMemory.
Status cluster_finalize_items_taking(ClusterState* st, CancelCheck cancel,
                                     ItemClusters* out) noexcept;

// Clusters n items at params' zoom and radius (params: a state from cluster_create; its points,
// if any, are ignored) with the finaliser's passes: the first is a full greedy pass over all the
// items (heaviest first; equal counts by neighbour-grid cell, then by rank, which must be unique),
// then the incremental passes until one changes nothing. Every guarantee of cluster.hpp holds with
// items in place of bins: the result is a function of the items' contents and ranks, not of their
// order in the array. Canceled, OutOfMemory, StateTooLarge (the scratch would pass params'
// allocator's budget); on failure *out is empty.
Status cluster_items(const ClusterState* params, const Item* items, std::uint32_t n,
                     CancelCheck cancel, ItemClusters* out, ClusterFinalizeStats* stats,
                     ItemOrder order = ItemOrder::kOutput) noexcept;

// cluster_items on items the caller gives away, for the hierarchy's coarser zooms: their ranks
// must be 0 .. n - 1 (Internal otherwise), and the result is cluster_items' with
// ItemOrder::kRanked, but out->items is items itself (the clusters in its first out->n_items
// entries, n entries of room: release it with the allocator it came from) and
// out->cluster_of_input is indexed by the inputs' ranks, not their positions. Why: the coarser
// level is made without a second array of items beside the first (at 10M markers, 0.9 GB).
// On failure the array is still the caller's, its contents unspecified.
Status cluster_items_in_place(const ClusterState* params, Item* items, std::uint32_t n,
                              CancelCheck cancel, ItemClusters* out,
                              ClusterFinalizeStats* stats) noexcept;

void item_clusters_free(const Allocator& alloc, ItemClusters* c) noexcept;

// The output row of an item: centre (contract 4), bounds (contract 3), id (contract 6), exactly
// as cluster_finalize prints them.
void cluster_of_item(const Item& it, Cluster* out) noexcept;
// cluster_of_item's longitude bounds alone (no centre: a caller that keeps the centre makes them
// again from the sums without its Mercator round trip).
void item_lon_bounds(const Item& it, double* min_lon, double* max_lon) noexcept;

void item_add(Item& dst, const Item& src) noexcept;
// item_add's latitude and longitude ranges alone (no sums, no id): dst's widened by src's.
void item_add_bounds(Item& dst, const Item& src) noexcept;

}  // namespace cluster_internal
}  // namespace geocluster
