// cluster_agg's final step: turning the bins into clusters.
//
// Algorithm. Every bin starts as an item (a weighted point at its exact centroid). Then passes of
// supercluster-style greedy absorption run until one changes nothing:
//
//   pass:  compute every item's centre exactly (integer sums / count);
//          visit the items heaviest first (ties: by bin key in the first pass, then by a rank
//          the first pass hands out);
//          an item not yet taken becomes a seed and takes every item not yet taken whose centre
//          lies within radius of the seed's centre (a grid of cells wider than the radius,
//          wrapped east-west, finds them); the seed and what it took become one item.
//
// The first pass over the bins is the clustering proper: clusters grow around the heaviest bins
// (real concentrations), and since every item a seed takes is within one radius of the seed's
// own centre, absorption does not chain the way single-linkage/DBSCAN does (a line of markers
// spaced radius/2 apart becomes a row of clusters of ~5, not one). The later passes only repair
// what greedy absorption leaves behind: two centres that ended up closer than radius after their
// centroids moved. Those are merged, again around the heavier one. Typical data needs 2-5 passes.
//
// Later passes are incremental, with the same result as a full pass. Call an item "dirty" when
// it took something in the previous pass (its centre moved) and "clean" otherwise. Two clean
// items are never within radius: both were seeds that took nothing, and whichever came first
// would have taken the other. So every absorption of the next pass involves a dirty item, and
// the pass only needs the candidates C = dirty items + clean items within radius of a dirty one,
// visited in the same seed order: an item outside C is a seed that takes nothing and is never
// taken. The grid is kept across passes and patched (entries of absorbed and moved items out,
// moved items back in at their new centres).
//
// An item is a ring of its member bins (next_), a count and a rank: no sums. Its sums are
// added up from its members when they are needed, at the start of the pass after it changed
// (its new centre) and for the output, so that finalisation holds about 50 bytes per bin, not
// a 128-byte Item per bin (most bins at deep zooms end as clusters of their own).
//
// Why each guarantee holds (numbers refer to the contract in cluster.hpp):
//  1. Conservation: items are only ever joined, and every item ends in exactly one item of the
//     next pass (as a seed or taken by exactly one seed: the marks make sure).
//  2. Separation: the loop stops after a pass in which no seed took anything. In that pass every
//     item was a seed when its turn came, and any item within radius of it was not yet taken
//     (nothing was), so it would have been taken: hence no two items are within radius. "Within"
//     is radius + 64 fixed units (cluster_internal.hpp), which absorbs the rounding of double
//     distances and of the lat/lon output. Termination: a pass that takes something reduces the
//     number of items by at least one, so there are at most (bins) passes.
//  3. Membership: items are unions of whole bins; bounds are minima and maxima of member bins'
//     minima and maxima, kept separately for members east (lon >= 0) and west (lon < 0) so the
//     shorter of the ordinary and the antimeridian-crossing box can be chosen exactly.
//  4. Centre: sums of fixed-point positions, separately for east and west members, in 128-bit
//     integers; a crossing cluster adds count_west * 2^48 (x + 1 for every west member). The
//     exact quotient q + r / count orders the output and is converted with long double.
//  5. Determinism: the bins are a function of the point multiset (cluster.cpp). Every pass
//     orders its items by a total order computed from their contents only (count, then the
//     unique bin key, or the unique rank derived from it), never by array position; what a seed
//     takes is a set defined by distances; and adding members is exact (integer sums, minima and
//     maxima of values without -0.0 or NaN), so the order of a ring does not matter either.
//  6. id: minimum over members that have one.
//  7. Finalisation's scratch comes from the state's allocator, within its budget, and is
//     released before returning; the state's hash slots are released while it runs and rebuilt
//     after (cluster_internal.hpp, release_slots).
//
// Cancellation: every loop over bins, items, grid entries or clusters, and every sort, polls the
// caller's CancelCheck every few thousand steps.
#include "core.hpp"

#include "cluster_finalize_internal.hpp"

namespace geocluster {

using namespace cluster_internal;
using namespace cluster_internal::finalize;

namespace cluster_internal {
namespace finalize {

Item Finalizer::item_sum(std::uint32_t i, std::uint64_t* members) const noexcept {
    const std::uint32_t first = head_[i];
    Item it = input_ != nullptr ? input_[first] : item_from_bin(st_->bins[first]);
    std::uint64_t m = 1;
    for (std::uint32_t u = next_[first]; u != first; u = next_[u], ++m) {
        if (input_ != nullptr) {
            item_add(it, input_[u]);
        } else {
            item_add_bin(it, st_->bins[u]);
        }
    }
    it.rank = rank_[i];
    *members = m;
    return it;
}

Status Finalizer::get_item_arrays() noexcept {
    const std::size_t n = n_items_;
    item_block_bytes_ = n * (sizeof(std::uint64_t) + 2 * sizeof(std::uint32_t) + 2) +
                        std::size_t{n0_} * sizeof(std::uint32_t);
    if (get(&item_block_, item_block_bytes_) != Status::Ok) return Status::OutOfMemory;
    unsigned char* at = item_block_;  // widest first: the allocator's 8 bytes suit every array
    carve(&count_, n, &at);
    carve(&rank_, n, &at);
    carve(&head_, n, &at);
    carve(&next_, n0_, &at);
    carve(&state_, n, &at);
    carve(&mark_, n, &at);
    return Status::Ok;
}

Status Finalizer::run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                      std::size_t* n_assign) noexcept {
    n0_ = input_ != nullptr ? n_input_ : st_->n_bins;
    if (n0_ == 0) return Status::Ok;
    // A little wider than the reach, so that rounding in the cell arithmetic never hides a
    // neighbour (see for_each_near); +1 keeps it above the ulp of positions near 2^48. Cells a
    // little wider than that, so that a query spans at most three columns and three rows.
    query_ = st_->reach + st_->reach * (1.0 / 1048576.0) + 1.0;
    // The cell follows the reach down to the smallest radius (reach >= 64 fixed units, so cells
    // are at least 65 wide and columns and rows below 2^42): a query then visits a bounded
    // number of entries, O(1) per bin and pass, at any radius.
    cell_ = query_ * (1.0 + 1.0 / 1048576.0);
    last_col_ = static_cast<std::uint64_t>(kFixedOneD / cell_);
    reach2_ = st_->reach * st_->reach;

    Status s = get(&grid_, n0_);
    bool absorbed = false;
    if (s == Status::Ok) {
        ++passes;
        s = input_ != nullptr ? first_pass_items(&absorbed) : first_pass(&absorbed);
    }
    while (s == Status::Ok && absorbed) {
        ++passes;
        s = pass(&absorbed);
    }
    release_index();  // not needed by emit, nor is the grid
    put(grid_, n0_);
    if (s == Status::Ok)
        s = items_out_ != nullptr ? emit_items() : emit(want_assign, out, assign, n_assign);
    release_scratch();
    return s;
}

}  // namespace finalize
}  // namespace cluster_internal

namespace {

// Runs f on the state with its hash slots released (cluster_internal.hpp, release_slots), and
// rebuilds them after. The cast: the slots are an index, not the state's value, and states are
// never const objects (as for settle).
template <typename F>
Status without_slots(const ClusterState* st, F&& f) noexcept {
    auto* mst = const_cast<ClusterState*>(st);
    const std::uint64_t n_slots = slot_count(st);
    release_slots(mst);
    const Status s = f();
    const Status restored = restore_slots(mst, n_slots);
    return s != Status::Ok ? s : restored;
}

Status finalize_impl(const ClusterState* st, CancelCheck cancel, ClusterList* out,
                     ClusterBinAssignment** assign, std::size_t* n_assign,
                     ClusterFinalizeStats* stats) noexcept {
    *out = ClusterList{nullptr, 0};
    if (assign != nullptr) *assign = nullptr;
    if (n_assign != nullptr) *n_assign = 0;
    const Status settled = settle(st);
    if (settled != Status::Ok) return settled;
    Status s = without_slots(st, [&]() noexcept {
        Finalizer f(st, cancel);
        Status r = f.run(assign != nullptr, out, assign, n_assign);
        if (r == Status::OutOfMemory && f.over_budget) r = Status::StateTooLarge;
        if (stats != nullptr)
            *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, cluster_estimate_bytes(st),
                                          f.near_visits};
        return r;
    });
    if (s != Status::Ok) {
        cluster_free_list(st->alloc, out);
        if (assign != nullptr && *assign != nullptr) {
            st->alloc.release(st->alloc.ctx, *assign);
            *assign = nullptr;
            *n_assign = 0;
        }
    }
    return s;
}

}  // namespace

Status cluster_finalize(const ClusterState* st, CancelCheck cancel, ClusterList* out) noexcept {
    return finalize_impl(st, cancel, out, nullptr, nullptr, nullptr);
}

Status cluster_finalize_assign(const ClusterState* st, CancelCheck cancel, ClusterList* out,
                               ClusterBinAssignment** assign, std::size_t* n_assign,
                               ClusterFinalizeStats* stats) noexcept {
    return finalize_impl(st, cancel, out, assign, n_assign, stats);
}

void cluster_free_list(const Allocator& alloc, ClusterList* list) noexcept {
    if (list->items != nullptr) alloc.release(alloc.ctx, list->items);
    *list = ClusterList{nullptr, 0};
}

namespace cluster_internal {

Status cluster_finalize_items(const ClusterState* st, CancelCheck cancel, ItemClusters* out,
                              ClusterFinalizeStats* stats) noexcept {
    *out = ItemClusters{nullptr, 0, nullptr, 0};
    const Status settled = settle(st);
    if (settled != Status::Ok) return settled;
    const Status s = without_slots(st, [&]() noexcept {
        Finalizer f(st, cancel);
        const Status r = f.run_to_items(out);
        if (stats != nullptr)
            *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, cluster_estimate_bytes(st),
                                          f.near_visits};
        return r;
    });
    if (s != Status::Ok) item_clusters_free(st->alloc, out);
    return s;
}

Status cluster_items(const ClusterState* params, const Item* items, std::uint32_t n,
                     CancelCheck cancel, ItemClusters* out, ClusterFinalizeStats* stats) noexcept {
    *out = ItemClusters{nullptr, 0, nullptr, 0};
    if (stats != nullptr) *stats = ClusterFinalizeStats{0, 0, 0, 0};
    if (n > kMaxBins) return Status::OutOfMemory;
    Finalizer f(params, cancel);
    const Status s = f.run_items(items, n, out);
    if (stats != nullptr)
        *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, cluster_estimate_bytes(params),
                                      f.near_visits};
    return s;
}

}  // namespace cluster_internal

}  // namespace geocluster
