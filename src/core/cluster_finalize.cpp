// cluster_agg's final step: turning the bins into clusters by passes of greedy absorption around
// the heaviest items, the later passes incremental, until a pass changes nothing. The algorithm
// and why each guarantee of cluster.hpp holds: docs/cluster-engine.md.
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
    if (items_.sum != nullptr) {
        Item it = items_.sum[i];
        it.rank = items_.rank[i];
        *members = 1;
        return it;
    }
    const std::uint32_t first = items_.head[i];
    Item it = in_.items != nullptr ? in_.items[first] : item_from_bin(in_.st->bins[first]);
    std::uint64_t m = 1;
    for (std::uint32_t u = items_.next[first]; u != first; u = items_.next[u], ++m) {
        if (in_.items != nullptr) {
            item_add(it, in_.items[u]);
        } else {
            item_add_bin(it, in_.st->bins[u]);
        }
    }
    it.rank = items_.rank[i];
    *members = m;
    return it;
}

Status Finalizer::get_item_arrays() noexcept {
    const std::size_t n = items_.n;
    items_.block_bytes = n * (sizeof(std::uint64_t) + 2 * sizeof(std::uint32_t) + 2) +
                         std::size_t{in_.n} * sizeof(std::uint32_t);
    if (get(&items_.block, items_.block_bytes) != Status::Ok) return Status::OutOfMemory;
    unsigned char* at = items_.block;  // widest first: the allocator's 8 bytes suit every array
    carve(&items_.count, n, &at);
    carve(&items_.rank, n, &at);
    carve(&items_.head, n, &at);
    carve(&items_.next, in_.n, &at);
    carve(&items_.state, n, &at);
    carve(&items_.mark, n, &at);
    return get_item_sums();
}

Status Finalizer::get_item_sums() noexcept {
    if (in_.items_out != nullptr) {  // the output's room, allocated as emit_order does
        const Allocator& a = mem_.allocator();
        items_.sum = static_cast<Item*>(a.alloc(a.ctx, std::size_t{items_.n} * sizeof(Item) + 1));
        if (items_.sum == nullptr) return Status::OutOfMemory;
    }
    return Status::Ok;
}

Status Finalizer::run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                      std::size_t* n_assign) noexcept {
    if (in_.items == nullptr) in_.n = in_.st->n_bins;  // else run_items set it
    if (in_.n == 0) return Status::Ok;
    // A little wider than the reach, so that rounding in the cell arithmetic never hides a
    // neighbour (see for_each_near); +1 keeps it above the ulp of positions near 2^48. Cells a
    // little wider than that, so that a query spans at most three columns and three rows.
    geo_.query = in_.st->reach + in_.st->reach * (1.0 / 1048576.0) + 1.0;
    // The cell follows the reach down to the smallest radius (reach >= 64 fixed units, so cells
    // are at least 65 wide and columns and rows below 2^42): a query then visits a bounded
    // number of entries, O(1) per bin and pass, at any radius.
    geo_.cell = geo_.query * (1.0 + 1.0 / 1048576.0);
    geo_.last_col = static_cast<std::uint64_t>(kFixedOneD / geo_.cell);
    geo_.reach2 = in_.st->reach * in_.st->reach;

    Status s = get(&grid_.entries, in_.n);
    bool absorbed = false;
    if (s == Status::Ok) {
        ++passes_;
        s = in_.items != nullptr ? first_pass_items(&absorbed) : first_pass(&absorbed);
    }
    while (s == Status::Ok && absorbed) {
        ++passes_;
        s = pass(&absorbed);
    }
    release_index();  // not needed by emit, nor is the grid
    put(grid_.entries, in_.n);
    if (s == Status::Ok)
        s = in_.items_out != nullptr ? emit_items() : emit(want_assign, out, assign, n_assign);
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
        if (r == Status::OutOfMemory && f.over_budget()) r = Status::StateTooLarge;
        if (stats != nullptr) *stats = f.stats();
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

Status cluster_items(const ClusterState* params, const Item* items, std::uint32_t n,
                     CancelCheck cancel, ItemClusters* out, ClusterFinalizeStats* stats) noexcept {
    *out = ItemClusters{nullptr, 0, nullptr, 0};
    if (stats != nullptr) *stats = ClusterFinalizeStats{0, 0, 0, 0};
    if (n > kMaxBins) return Status::OutOfMemory;
    Finalizer f(params, cancel);
    Status s = f.run_items(items, n, out);
    if (s == Status::OutOfMemory && f.over_budget()) s = Status::StateTooLarge;
    if (stats != nullptr) *stats = f.stats();
    return s;
}

}  // namespace cluster_internal

}  // namespace geocluster
