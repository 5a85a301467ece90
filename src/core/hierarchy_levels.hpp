// The build's clustering (hierarchy.cpp, phase A) without its nodes: each zoom's clusters handed
// to a consumer as they are made, from max_zoom down, for the streamed create
// (hierarchy_stream.hpp) that keeps of them only what packing needs. Not part of the API.
#pragma once

#include "core.hpp"

#include "cluster_items.hpp"
#include "hierarchy.hpp"
#include "hierarchy_sweep.hpp"

namespace geocluster {

// Called once per zoom, max_zoom first, then max_zoom - 1 .. 0: zoom's clusters as the
// clustering holds them (hier_sweep::Sweep's n_clusters, single and cluster: by ordinal, each
// one's exact item what hierarchy_build's nodes of that zoom are summed to, bit for bit), and
// for each of the n_finer clusters of zoom + 1 its parent's ordinal (nullptr and 0 at
// max_zoom). Both live until the call returns. A status other than Ok ends the build.
struct HierLevelHook {
    Status (*level)(void* ctx, int zoom, const hier_sweep::Sweep& clusters,
                    const std::uint32_t* parent_of_finer, std::uint32_t n_finer) noexcept;
    void* ctx;
    // Set: parent_of_finer comes from the build's allocator and is the hook's from the call on
    // (released by it, or kept), so that the hook keeps the array without a copy.
    bool adopts_parents = false;
};

// hierarchy_build's clustering with hook for its nodes: arguments and statuses as there;
// *leaf_of_marker (from alloc, n_markers entries): each marker's max_zoom cluster as its
// position among the hook's max_zoom clusters (HierBuild's cluster_id less its zoom and first
// ordinal: 4 bytes a marker, not 8). next_ordinal is advanced on success, as hierarchy_build does.
Status hierarchy_build_levels(const HierMarker* markers, std::size_t n_markers, double radius_px,
                              int max_zoom, std::uint64_t* next_ordinal, const Allocator& alloc,
                              CancelCheck cancel, const HierLevelHook& hook,
                              std::uint32_t** leaf_of_marker) noexcept;

// hierarchy_build_levels for a caller that gives the markers' order up (the streamed create): on
// Ok the markers are reordered in place, first the single leaves' markers in leaf order
// (*n_single of them), then the multi-marker leaves' markers leaf by leaf in leaf order, as many
// as the hook's max_zoom clusters count (Sweep::cluster_markers_in_place). No leaf per marker is
// made, and no copy of the single markers.
Status hierarchy_build_levels_in_place(HierMarker* markers, std::size_t n_markers, double radius_px,
                                       int max_zoom, std::uint64_t* next_ordinal,
                                       const Allocator& alloc, CancelCheck cancel,
                                       const HierLevelHook& hook, std::uint32_t* n_single) noexcept;

// The sums a node keeps of its item; the item of one marker, as its bin holds it; a node's
// count, sums, centre and bounds from its item (cluster_id, parent_id -1, zoom and
// expansion_zoom left to the caller): phase B's own steps.
HierSums hier_sums_of_item(const cluster_internal::Item& it) noexcept;
cluster_internal::Item hier_item_of_marker(const HierMarker& m) noexcept;
void hier_node_of_item(const cluster_internal::Item& it, HierNode* out) noexcept;

}  // namespace geocluster
