// The finaliser's output: the clusters in contract 5's order, as Cluster rows (with the bin
// assignment) or as items.
#include "cluster_finalize_internal.hpp"

#include <cstring>

namespace geocluster {
namespace cluster_internal {
namespace finalize {

// Item i's exact centre: from its kept sum, or of its bin alone when it has one (the usual tie:
// lone markers on one row), without adding up an item.
Centre Finalizer::exact_centre(std::uint32_t i, std::uint64_t* members) const noexcept {
    Centre c;
    std::uint64_t m = 1;
    if (items_.sum != nullptr) {
        centre_of(items_.sum[i], &c);
    } else if (in_.items == nullptr && items_.next[items_.head[i]] == items_.head[i]) {
        centre_of_bin(in_.st->bins[items_.head[i]], &c);
    } else {
        centre_of(item_sum(i, &m), &c);
    }
    if (members != nullptr) *members = m;
    return c;
}

// Sorts n entries by less into tmp (*sorted = tmp; null when canceled): radix sorted by as much of
// the key as fits beside an entry's index in 64 bits, then every run of equal such keys by less.
// The same order as any sort by less: less is a total order whose first field is the key.
template <typename Less>
Status Finalizer::radix_sorted(const OutEntry* entries, OutEntry* tmp, std::uint32_t n, Less&& less,
                               OutEntry** sorted) noexcept {
    *sorted = nullptr;
    std::uint64_t key_min = ~std::uint64_t{0}, key_max = 0;
    for (std::uint32_t j = 0; j < n; ++j) {
        key_min = std::min(key_min, entries[j].key);
        key_max = std::max(key_max, entries[j].key);
    }
    const int index_bits = bit_width(n - 1), width = bit_width(key_max - key_min);
    const int shift = std::max(0, width + index_bits - 64);
    std::uint64_t *keys = nullptr, *buf = nullptr;
    if (get(&keys, n) != Status::Ok || get(&buf, n) != Status::Ok) {
        put(keys, n);
        return Status::OutOfMemory;
    }
    for (std::uint32_t j = 0; j < n; ++j)
        keys[j] = (entries[j].key - key_min) >> shift << index_bits | j;
    const std::uint64_t* by_key =
        radix_sort(keys, buf, n, index_bits, index_bits + width - shift, poll_);
    Status s = by_key != nullptr ? Status::Ok : Status::Canceled;
    const std::uint64_t mask = (std::uint64_t{1} << index_bits) - 1;
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) tmp[k] = entries[by_key[k] & mask];
    for (std::uint32_t a = 0, b = 1; a < n && s == Status::Ok; a = b++) {
        while (b < n && (by_key[b] ^ by_key[a]) <= mask) ++b;  // the same key bits
        if (b - a > 1) std::sort(tmp + a, tmp + b, less);
        if (canceled(b - a)) s = Status::Canceled;
    }
    put(buf, n);
    put(keys, n);
    if (s == Status::Ok) *sorted = tmp;
    return s;
}

// Output order (contract 5): count descending, then the exact centre, y before x, then rank.
// The sort key holds the count and as much of the centre's row (q of y) as fits; equal keys are
// decided by the exact centres. order->sorted: the n live items in that order, in order->entries
// (the caller's to release, with order->entries_tmp on failure; n entries each).
Status Finalizer::output_order(OutputOrder* order) noexcept {
    std::uint32_t n = 0;
    std::uint64_t max_count = 0;
    for (std::uint32_t i = 0; i < items_.n; ++i) {
        if (items_.state[i] == kDead) continue;
        ++n;
        max_count = std::max(max_count, items_.count[i]);
    }
    order->n = n;
    if (get(&order->entries, n) != Status::Ok || get(&order->entries_tmp, n) != Status::Ok)
        return Status::OutOfMemory;
    // Every cluster a lone marker (count 1, so r = 0): the order is (qy, qx), and the key holds
    // both, as offsets from their minima, as far as they fit (the usual tie otherwise: a row of
    // markers with one qy).
    std::uint64_t qy_min = ~std::uint64_t{0}, qy_max = 0, qx_min = ~std::uint64_t{0}, qx_max = 0;
    for (std::uint32_t i = 0; i < items_.n && max_count == 1; ++i) {
        if (items_.state[i] == kDead) continue;
        const Centre c = exact_centre(i);
        qy_min = std::min(qy_min, c.qy);
        qy_max = std::max(qy_max, c.qy);
        qx_min = std::min(qx_min, c.qx);
        qx_max = std::max(qx_max, c.qx);
        if (canceled(1)) return Status::Canceled;
    }
    const int y_bits = 64 - bit_width(max_count);                                // max_count >= 1
    const int y_shift = y_bits >= kFixedBits + 1 ? 0 : kFixedBits + 1 - y_bits;  // qy <= 2^48
    const int x_bits = max_count == 1 ? 64 - bit_width(qy_max - qy_min) : 0;
    const int x_used = bit_width(qx_max - qx_min);
    const int x_shift = x_used > x_bits ? x_used - x_bits : 0;
    n = 0;
    for (std::uint32_t i = 0; i < items_.n; ++i) {
        if (items_.state[i] == kDead) continue;
        std::uint64_t members = 1, key;
        Centre c;
        if (max_count == 1) {
            c = exact_centre(i);
            key = x_bits == 64 ? (c.qx - qx_min) >> x_shift
                               : (c.qy - qy_min) << x_bits | (c.qx - qx_min) >> x_shift;
        } else {
            c = exact_centre(i, &members);
            key = (max_count - items_.count[i]) << y_bits | c.qy >> y_shift;
        }
        order->entries[n++] = OutEntry{key, i, 0};
        if (canceled(members)) return Status::Canceled;
    }
    const auto less = [this](const OutEntry& a, const OutEntry& b) noexcept {
        if (a.key != b.key) return a.key < b.key;
        const std::uint32_t i = a.item, j = b.item;
        if (items_.count[i] != items_.count[j]) return items_.count[i] > items_.count[j];
        const Centre ci = exact_centre(i), cj = exact_centre(j);
        if (ci.qy != cj.qy) return ci.qy < cj.qy;
        if (ci.ry != cj.ry) return ci.ry < cj.ry;
        if (ci.qx != cj.qx) return ci.qx < cj.qx;
        if (ci.rx != cj.rx) return ci.rx < cj.rx;
        return items_.rank[i] < items_.rank[j];
    };
    if (in_.items_out != nullptr) {
        const Status sorted =
            radix_sorted(order->entries, order->entries_tmp, n, less, &order->sorted);
        if (sorted != Status::Ok) return sorted;
    } else {  // the rows as cluster_agg has always sorted them (its scratch under its budget)
        order->sorted = polled_sort(order->entries, order->entries_tmp, n, less, poll_);
        if (order->sorted == nullptr) return Status::Canceled;
    }
    // The other buffer goes before the output is allocated.
    if (order->sorted == order->entries) {
        put(order->entries_tmp, n);
    } else {
        put(order->entries, n);
        order->entries = order->entries_tmp;
        order->entries_tmp = nullptr;
    }
    return Status::Ok;
}

// What emit and emit_items share: the clusters in output order into a new array *rows of *n_rows
// (row(sum of the k-th, &(*rows)[k])) and, when inputs is not null, the cluster of every input u
// (bin, or given item) into a new array *inputs of in_.n (input(u, k)). Both from the state's
// allocator, the caller's; on failure neither is left allocated.
template <typename Row, typename Input, typename RowOf, typename InputOf>
Status Finalizer::emit_order(Row** rows, std::uint32_t* n_rows, Input** inputs, RowOf&& row,
                             InputOf&& input) noexcept {
    const Allocator& a = mem_.allocator();
    OutputOrder order;
    Status s = output_order(&order);
    const std::uint32_t n = order.n;
    Row* out = nullptr;
    Input* of_input = nullptr;
    if (s == Status::Ok) {
        out = static_cast<Row*>(a.alloc(a.ctx, std::size_t{n} * sizeof(Row) + 1));
        if (inputs != nullptr)
            of_input = static_cast<Input*>(a.alloc(a.ctx, std::size_t{in_.n} * sizeof(Input) + 1));
        if (out == nullptr || (inputs != nullptr && of_input == nullptr)) s = Status::OutOfMemory;
    }
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        const std::uint32_t i = order.sorted[k].item;
        std::uint64_t members = 0;
        row(item_sum(i, &members), &out[k]);
        if (inputs != nullptr) {
            std::uint32_t u = items_.head[i];
            do {
                of_input[u] = input(u, k);
                u = items_.next[u];
            } while (u != items_.head[i]);
        }
        if (canceled(members)) s = Status::Canceled;
    }
    put(order.entries_tmp, n);
    put(order.entries, n);
    if (s != Status::Ok) {
        if (of_input != nullptr) a.release(a.ctx, of_input);
        if (out != nullptr) a.release(a.ctx, out);
        return s;
    }
    *rows = out;
    *n_rows = n;
    if (inputs != nullptr) *inputs = of_input;
    return Status::Ok;
}

Status Finalizer::emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                       std::size_t* n_assign) noexcept {
    const Allocator& a = mem_.allocator();
    Cluster* clusters = nullptr;
    std::uint32_t n = 0;
    ClusterBinAssignment* pairs = nullptr;
    const Status s = emit_order(
        &clusters, &n, want_assign ? &pairs : nullptr, cluster_of_item,
        [this](std::uint32_t u, std::uint32_t k) noexcept {
            return ClusterBinAssignment{ClusterBinKey{in_.st->bins[u].kx, in_.st->bins[u].ky}, k};
        });
    if (s != Status::Ok) return s;
    if (want_assign) {
        // One entry per bin: sorted with polls, so that a cancel does not wait for the sort.
        const auto by_key = [](const ClusterBinAssignment& x,
                               const ClusterBinAssignment& y) noexcept {
            return x.key.kx != y.key.kx ? x.key.kx < y.key.kx : x.key.ky < y.key.ky;
        };
        ClusterBinAssignment* tmp = nullptr;
        const ClusterBinAssignment* sorted = pairs;
        if (in_.n > 1) {
            const Status got = get(&tmp, in_.n);
            sorted = got == Status::Ok ? polled_sort(pairs, tmp, in_.n, by_key, poll_) : nullptr;
            if (sorted == tmp && tmp != nullptr)
                std::memcpy(pairs, tmp, in_.n * sizeof(ClusterBinAssignment));
            if (got == Status::Ok) put(tmp, in_.n);
            if (sorted == nullptr) {
                a.release(a.ctx, pairs);
                a.release(a.ctx, clusters);
                return got == Status::Ok ? Status::Canceled : got;
            }
        }
        *assign = pairs;
        *n_assign = in_.n;
    }
    *out = ClusterList{clusters, n};
    return Status::Ok;
}

// The clusters as items in output order, and the cluster of every given item, into
// *in_.items_out: the kept sums, put in output order where they are (sums_in_order).
Status Finalizer::emit_items() noexcept {
    const Allocator& a = mem_.allocator();
    OutputOrder order;
    Status s = output_order(&order);
    std::uint32_t* of_input = nullptr;
    if (s == Status::Ok) {
        of_input = static_cast<std::uint32_t*>(
            a.alloc(a.ctx, std::size_t{in_.n} * sizeof(std::uint32_t) + 1));
        if (of_input == nullptr) s = Status::OutOfMemory;
    }
    for (std::uint32_t k = 0; k < order.n && s == Status::Ok; ++k) {
        const std::uint32_t i = order.sorted[k].item;
        std::uint32_t u = items_.head[i];
        do {
            of_input[u] = k;
            u = items_.next[u];
        } while (u != items_.head[i]);
        if (canceled(1)) s = Status::Canceled;
    }
    if (s == Status::Ok) s = sums_in_order(order);
    put(order.entries_tmp, order.n);
    put(order.entries, order.n);
    if (s != Status::Ok) {
        if (of_input != nullptr) a.release(a.ctx, of_input);
        return s;
    }
    *in_.items_out = ItemClusters{items_.sum, order.n, of_input, in_.n};
    items_.sum = nullptr;  // the output's now
    return Status::Ok;
}

// Moves the live items' sums, with their ranks, to their places in the output order (k-th
// cluster at items_.sum[k]) by following the permutation's cycles in place: each swap puts one
// sum where it belongs, and a dead item's room takes whatever comes. The ranks' array is reused
// for each item's place, the states travel with the sums.
Status Finalizer::sums_in_order(const OutputOrder& order) noexcept {
    std::uint32_t* const place = items_.rank;
    for (std::uint32_t k = 0; k < order.n; ++k) {
        const std::uint32_t i = order.sorted[k].item;
        items_.sum[i].rank = items_.rank[i];
        place[i] = k;
    }
    for (std::uint32_t p = 0; p < items_.n; ++p) {
        while (items_.state[p] != kDead && place[p] != p) {
            const std::uint32_t q = place[p];
            std::swap(items_.sum[p], items_.sum[q]);
            std::swap(place[p], place[q]);
            std::swap(items_.state[p], items_.state[q]);
        }
        if (canceled(1)) return Status::Canceled;
    }
    return Status::Ok;
}

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
