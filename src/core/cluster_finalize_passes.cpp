// The finaliser's passes: the seed order, the first pass over the bins (or given items) and the
// incremental later passes (cluster_finalize.cpp explains the algorithm).
#include "cluster_finalize_internal.hpp"

namespace geocluster {
namespace cluster_internal {
namespace finalize {

// Sorts n keys with sort(keys, tmp) (which returns the array holding the result, or nullptr on
// cancel), then writes row_of_key(sorted key) into order_ (allocated here) and releases the keys.
template <typename T, typename Sort, typename Row>
Status Finalizer::order_from_keys(T* keys, std::uint32_t n, Sort&& sort,
                                  Row&& row_of_key) noexcept {
    T* tmp = nullptr;
    Status s = get(&tmp, n);
    const T* sorted = s == Status::Ok ? sort(keys, tmp) : nullptr;
    if (s == Status::Ok && sorted == nullptr) s = Status::Canceled;
    // The buffer that does not hold the result goes first.
    if (sorted == keys || sorted == nullptr) {
        put(tmp, n);
    } else {
        put(keys, n);
        keys = tmp;
    }
    n_order_ = n;
    if (s == Status::Ok) s = get(&order_, n_order_);
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        order_[k] = row_of_key(keys[k]);
        if (canceled(1)) s = Status::Canceled;
    }
    put(keys, n);
    return s;
}

// The order of the seed entries too wide for a 128-bit key: their three key words.
namespace {
bool seed_entry_less(const SeedEntry& u, const SeedEntry& v) noexcept {
    if (u.key[0] != v.key[0]) return u.key[0] < v.key[0];
    if (u.key[1] != v.key[1]) return u.key[1] < v.key[1];
    return u.key[2] < v.key[2];
}
}  // namespace

// Puts the n_seeds candidates (first pass: every unit; later: items marked kCandidate), whose
// counts are at most max_count, in seed order, as grid rows into order_. Packed into one key when
// the fields fit 64 or 128 bits: count descending (as max_count - count), then (kx, ky) offsets
// in the first pass or the rank in later passes, then the grid row, which only carries the entry
// through the sort: (count, kx, ky) and (count, rank) are unique, so the order is the same total
// order whatever sort produces it.
Status Finalizer::seed_order(std::uint32_t n_seeds, std::uint64_t max_count) noexcept {
    const int row_bits = bit_width(n_grid_ - 1);
    const int a_bits = first_ ? bit_width(kx_max_ - kx_min_) : bit_width(n_items_ - 1);
    const int b_bits = first_ ? bit_width(ky_max_ - ky_min_) : 0;
    const int bits = bit_width(max_count) + a_bits + b_bits + row_bits;
    // Calls f(row, count, a, b) for every candidate, in grid order.
    const auto for_each_candidate = [this](auto&& f) noexcept {
        for (std::uint32_t r = 0; r < n_grid_; ++r) {
            const std::uint32_t i = grid_[r].index;
            if (first_) {
                const Bin& bin = st_->bins[i];
                f(r, bin.count, bin.kx - kx_min_, bin.ky - ky_min_);
            } else if (mark_[i] == kCandidate) {
                f(r, count_[i], std::uint64_t{rank_[i]}, std::uint64_t{0});
            }
            if (canceled(1)) return false;
        }
        return true;
    };
    const auto packed = [&](std::uint32_t r, std::uint64_t count, std::uint64_t a,
                            std::uint64_t b) noexcept {
        return ((static_cast<u128>(max_count - count) << a_bits | a) << b_bits | b) << row_bits | r;
    };
    const std::uint64_t row_mask = (std::uint64_t{1} << row_bits) - 1;
    const auto canceled_with = [this, n_seeds](auto* keys) noexcept {
        put(keys, n_seeds);
        return Status::Canceled;
    };
    std::uint32_t k = 0;
    if (bits <= 64) {
        std::uint64_t* keys = nullptr;
        if (get(&keys, n_seeds) != Status::Ok) return Status::OutOfMemory;
        const bool done = for_each_candidate(
            [&](std::uint32_t r, std::uint64_t c, std::uint64_t a, std::uint64_t b) noexcept {
                keys[k++] = static_cast<std::uint64_t>(packed(r, c, a, b));
            });
        if (!done) return canceled_with(keys);
        return order_from_keys(
            keys, n_seeds,
            [&](std::uint64_t* x, std::uint64_t* y) noexcept {
                return radix_sort(x, y, n_seeds, row_bits, bits, poll_);
            },
            [row_mask](std::uint64_t key) noexcept {
                return static_cast<std::uint32_t>(key & row_mask);
            });
    }
    if (bits <= 128) {
        Key128* keys = nullptr;
        if (get(&keys, n_seeds) != Status::Ok) return Status::OutOfMemory;
        const bool done = for_each_candidate(
            [&](std::uint32_t r, std::uint64_t c, std::uint64_t a, std::uint64_t b) noexcept {
                keys[k++] = key128(packed(r, c, a, b));
            });
        if (!done) return canceled_with(keys);
        return order_from_keys(
            keys, n_seeds,
            [&](Key128* x, Key128* y) noexcept {
                return polled_sort(x, y, n_seeds, key128_less, poll_);
            },
            [row_mask](const Key128& key) noexcept {
                return static_cast<std::uint32_t>(key.lo & row_mask);
            });
    }
    SeedEntry* entries = nullptr;
    if (get(&entries, n_seeds) != Status::Ok) return Status::OutOfMemory;
    const bool done = for_each_candidate(
        [&](std::uint32_t r, std::uint64_t c, std::uint64_t a, std::uint64_t b) noexcept {
            entries[k++] = SeedEntry{{max_count - c, a, b}, r, 0};
        });
    if (!done) return canceled_with(entries);
    return order_from_keys(
        entries, n_seeds,
        [&](SeedEntry* x, SeedEntry* y) noexcept {
            return polled_sort(x, y, n_seeds, seed_entry_less, poll_);
        },
        [](const SeedEntry& e) noexcept { return e.row; });
}

// The first pass, over the bins: every bin is a candidate, and the items are created as its seeds
// are, numbered in seed order. Rank = item number: that orders items as the seeds' positions in
// the pass did (a seed comes before every bin it takes, so its position is its item's least).
Status Finalizer::first_pass(bool* absorbed) noexcept {
    // 1. The ranges of the seed key fields, the grid, the seed order.
    for (std::uint32_t b = 0; b < n0_; ++b) {
        const Bin& bin = st_->bins[b];
        max_bin_count_ = std::max(max_bin_count_, bin.count);
        kx_min_ = std::min(kx_min_, bin.kx);
        kx_max_ = std::max(kx_max_, bin.kx);
        ky_min_ = std::min(ky_min_, bin.ky);
        ky_max_ = std::max(ky_max_, bin.ky);
        if (canceled(1)) return Status::Canceled;
    }
    Status s = sorted_cells(
        n0_, [this](std::uint32_t b) noexcept { return unit_pos(b); }, nullptr, grid_);
    if (s != Status::Ok) return s;
    n_grid_ = n0_;
    s = seed_order(n0_, max_bin_count_);
    if (s == Status::Ok) s = index_grid();
    if (s == Status::Ok) s = get(&unit_item_, n0_);
    if (s != Status::Ok) return s;
    std::memset(unit_item_, 0xFF, std::size_t{n0_} * sizeof(std::uint32_t));  // kNone

    // 2. Greedy absorption, heaviest first, deciding only who goes where: each seed opens an
    // item and takes its bins.
    for (std::uint32_t k = 0; k < n0_; ++k) {
        const GridEntry& seed = grid_[order_[k]];
        if (unit_item_[seed.index] != kNone) continue;  // taken by an earlier seed
        const std::uint32_t i = n_items_++;
        unit_item_[seed.index] = i;
        const Pos q{seed.x, seed.y};
        const std::uint64_t work = for_each_near(q, [&](const GridEntry& e) noexcept {
            if (unit_item_[e.index] != kNone || !within(q, e)) return;
            unit_item_[e.index] = i;
        });
        if (canceled(work + 1)) return Status::Canceled;
    }
    put(order_, n_order_);
    release_index();

    // 3. The items: rings of their bins, counts; an item of one bin is clean (its seed took
    // nothing), of more, dirty.
    s = get_item_arrays();
    if (s != Status::Ok) return s;
    std::memset(head_, 0xFF, std::size_t{n_items_} * sizeof(std::uint32_t));  // kNone
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        count_[i] = 0;
        rank_[i] = i;
    }
    for (std::uint32_t b = 0; b < n0_; ++b) {
        const std::uint32_t i = unit_item_[b];
        count_[i] += st_->bins[b].count;
        if (head_[i] == kNone) {
            head_[i] = next_[b] = b;
        } else {
            next_[b] = next_[head_[i]];
            next_[head_[i]] = b;
        }
        if (canceled(1)) return Status::Canceled;
    }
    bool any_dirty = false;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        state_[i] = next_[head_[i]] == head_[i] ? kClean : kDirty;
        any_dirty |= state_[i] == kDirty;
    }

    // 4. From bins to items: the grid keeps the entries of the clean items (seeds that took
    // nothing, so their only bin is the seed), renumbered; they are where those items are.
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < n_grid_; ++r) {
        GridEntry e = grid_[r];
        e.index = unit_item_[e.index];
        if (state_[e.index] == kClean) grid_[kept++] = e;
        if (canceled(1)) return Status::Canceled;
    }
    n_grid_ = kept;
    put(unit_item_, n0_);
    std::memset(mark_, kOut, n_items_);
    first_ = false;
    *absorbed = any_dirty;
    return Status::Ok;
}

// A later pass, over the items.
Status Finalizer::pass(bool* absorbed) noexcept {
    *absorbed = false;
    // 1. New centres of the dirty items, in the grid.
    std::uint32_t n_dirty = 0;
    Status s = update_grid(&n_dirty);
    if (s == Status::Ok) s = index_grid();
    if (s != Status::Ok) return s;

    // 2. The candidates: the dirty items and every clean item within reach of one (none to look
    // for when every live item is dirty: the first pass of run_items).
    for (std::uint32_t r = 0; r < n_grid_; ++r)
        if (state_[grid_[r].index] == kDirty) mark_[grid_[r].index] = kCandidate;
    for (std::uint32_t r = 0; r < n_grid_ && n_dirty < n_grid_; ++r) {
        if (state_[grid_[r].index] != kDirty) continue;
        const Pos q{grid_[r].x, grid_[r].y};
        const std::uint64_t work = for_each_near(q, [&](const GridEntry& e) noexcept {
            if (state_[e.index] == kClean && mark_[e.index] == kOut && within(q, e))
                mark_[e.index] = kCandidate;
        });
        if (canceled(work + 1)) return Status::Canceled;
    }
    std::uint32_t n_seeds = 0;
    std::uint64_t max_count = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (canceled(1)) return Status::Canceled;
        if (mark_[i] != kCandidate) continue;
        ++n_seeds;
        max_count = std::max(max_count, count_[i]);
    }
    s = seed_order(n_seeds, max_count);
    if (s != Status::Ok) return s;

    // 3. Greedy absorption, heaviest first.
    bool any = false;
    for (std::uint32_t k = 0; k < n_seeds; ++k) {
        const GridEntry& seed = grid_[order_[k]];
        const std::uint32_t i = seed.index;
        if (mark_[i] != kCandidate) continue;  // taken by an earlier seed
        mark_[i] = kDone;
        const Pos q{seed.x, seed.y};
        bool took = false;
        const std::uint64_t work = for_each_near(q, [&](const GridEntry& e) noexcept {
            if (mark_[e.index] != kCandidate || !within(q, e)) return;
            mark_[e.index] = kDone;
            state_[e.index] = kDead;
            join(i, e.index);
            took = true;
        });
        state_[i] = took ? kDirty : kClean;
        any |= took;
        if (canceled(work + 1)) return Status::Canceled;
    }
    for (std::uint32_t k = 0; k < n_seeds; ++k) mark_[grid_[order_[k]].index] = kOut;
    put(order_, n_order_);
    *absorbed = any;
    return Status::Ok;
}

// The first pass of run_items, over the given items: they are the items (each its own ring), all
// dirty, so that pass() takes every one of them as a candidate: a full greedy pass, heaviest
// first. Equal counts go by grid cell, column by column, then by the given rank, and the items
// are ranked anew in that order: like the first pass over bins (by bin key), so that
// consecutive seeds query neighbouring parts of the grid instead of a cache miss each.
Status Finalizer::first_pass_items(bool* absorbed) noexcept {
    n_items_ = n0_;
    Status s = get_item_arrays();
    if (s != Status::Ok) return s;
    for (std::uint32_t i = 0; i < n0_; ++i) {
        head_[i] = next_[i] = i;
        count_[i] = input_[i].count;
        state_[i] = kDirty;
        mark_[i] = kOut;
    }
    s = rank_items();
    if (s != Status::Ok) return s;
    n_grid_ = 0;
    first_ = false;
    return pass(absorbed);
}

// rank_[i] = the position of item i in the order (cell of its centre, given rank). Packed into
// one uint64 and radix sorted when the fields fit and the given ranks are 0 .. n - 1 (as the
// hierarchy gives them), else sorted as entries.
Status Finalizer::rank_items() noexcept {
    std::uint64_t col_min = ~std::uint64_t{0}, col_max = 0, row_min = ~std::uint64_t{0},
                  row_max = 0;
    bool dense_ranks = true;
    std::memset(rank_, 0xFF, std::size_t{n0_} * sizeof(std::uint32_t));  // given rank -> item
    for (std::uint32_t i = 0; i < n0_; ++i) {
        const Pos p = unit_pos(i);
        col_min = std::min(col_min, col_of(p.x));
        col_max = std::max(col_max, col_of(p.x));
        row_min = std::min(row_min, row_of(p.y));
        row_max = std::max(row_max, row_of(p.y));
        const std::uint32_t given = input_[i].rank;
        if (given >= n0_ || rank_[given] != kNone) {
            dense_ranks = false;
        } else {
            rank_[given] = i;
        }
        if (canceled(1)) return Status::Canceled;
    }
    const int rank_bits = bit_width(n0_ - 1), row_bits = bit_width(row_max - row_min);
    const int bits = bit_width(col_max - col_min) + row_bits + rank_bits;
    if (dense_ranks && bits <= 64) {
        std::uint64_t *keys = nullptr, *tmp = nullptr;
        if (get(&keys, n0_) != Status::Ok || get(&tmp, n0_) != Status::Ok) {
            put(keys, n0_);
            return Status::OutOfMemory;
        }
        for (std::uint32_t i = 0; i < n0_; ++i) {
            const Pos p = unit_pos(i);
            keys[i] = ((col_of(p.x) - col_min) << row_bits | (row_of(p.y) - row_min)) << rank_bits |
                      input_[i].rank;
        }
        const std::uint64_t* sorted = radix_sort(keys, tmp, n0_, 0, bits, poll_);
        if (sorted != nullptr) {
            // rank_ maps a given rank to its item until every item has its new rank: the sorted
            // keys' items are read into the other buffer before rank_ is overwritten.
            std::uint64_t* by_item = sorted == keys ? tmp : keys;
            const std::uint64_t rank_mask = (std::uint64_t{1} << rank_bits) - 1;
            for (std::uint32_t k = 0; k < n0_; ++k) by_item[k] = rank_[sorted[k] & rank_mask];
            for (std::uint32_t k = 0; k < n0_; ++k) rank_[by_item[k]] = k;
        }
        put(tmp, n0_);
        put(keys, n0_);
        return sorted != nullptr ? Status::Ok : Status::Canceled;
    }
    SeedEntry *entries = nullptr, *tmp = nullptr;
    if (get(&entries, n0_) != Status::Ok || get(&tmp, n0_) != Status::Ok) {
        put(entries, n0_);
        return Status::OutOfMemory;
    }
    for (std::uint32_t i = 0; i < n0_; ++i) {
        const Pos p = unit_pos(i);
        entries[i] = SeedEntry{{col_of(p.x), row_of(p.y), input_[i].rank}, i, 0};
    }
    // (cell, given rank): unique.
    const SeedEntry* sorted = polled_sort(
        entries, tmp, n0_,
        [](const SeedEntry& x, const SeedEntry& y) noexcept {
            if (x.key[0] != y.key[0]) return x.key[0] < y.key[0];
            if (x.key[1] != y.key[1]) return x.key[1] < y.key[1];
            return x.key[2] < y.key[2];
        },
        poll_);
    if (sorted != nullptr)
        for (std::uint32_t k = 0; k < n0_; ++k) rank_[sorted[k].row] = k;
    put(tmp, n0_);
    put(entries, n0_);
    return sorted != nullptr ? Status::Ok : Status::Canceled;
}

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
