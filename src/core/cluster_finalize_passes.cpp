// The finaliser's passes: the seed order, the first pass over the bins (or given items) and the
// incremental later passes (cluster_finalize.cpp explains the algorithm).
#include "cluster_finalize_internal.hpp"

namespace geocluster {
namespace cluster_internal {
namespace finalize {

// Sorts n keys with sort(keys, tmp) (which returns the array holding the result, or nullptr on
// cancel), then writes row_of_key(sorted key) into *order (allocated here, the caller's to
// release, whatever the status) and releases the keys.
template <typename T, typename Sort, typename Row>
Status Finalizer::order_from_keys(T* keys, std::uint32_t n, Sort&& sort, Row&& row_of_key,
                                  SeedOrder* order) noexcept {
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
    order->n = n;
    if (s == Status::Ok) s = get(&order->rows, order->n);
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        order->rows[k] = row_of_key(keys[k]);
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

// Calls f(grid row, count, a, b) for every seed candidate, in grid order: while the grid holds
// units (the first pass), every unit with its bin key's offsets from *bins as (a, b); after, the
// items marked kCandidate with their rank as a. False when canceled.
template <typename F>
bool Finalizer::for_each_seed_candidate(const BinKeyRange* bins, F&& f) noexcept {
    const bool units = grid_.holds == GridHolds::kUnits;
    for (std::uint32_t r = 0; r < grid_.n; ++r) {
        const GridEntry& e = grid_.entries[r];
        if (units) {
            const Bin& bin = in_.st->bins[unit_of(e)];
            f(r, bin.count, bin.kx - bins->kx_min, bin.ky - bins->ky_min);
        } else if (items_.mark[item_of(e)] == kCandidate) {
            const std::uint32_t i = item_of(e);
            f(r, items_.count[i], std::uint64_t{items_.rank[i]}, std::uint64_t{0});
        }
        if (canceled(1)) return false;
    }
    return true;
}

// Puts the n_seeds candidates (first pass: every unit; later: items marked kCandidate), whose
// counts are at most max_count, in seed order, as grid rows into *order (the caller's to release,
// whatever the status). Packed into one key when the fields fit 64 or 128 bits: count descending
// (as max_count - count), then (kx, ky) offsets from *bins in the first pass (the grid holds
// units) or the rank in later passes, then the grid row, which only carries the entry
// through the sort: (count, kx, ky) and (count, rank) are unique, so the order is the same total
// order whatever sort produces it.
Status Finalizer::seed_order(std::uint32_t n_seeds, std::uint64_t max_count,
                             const BinKeyRange* bins, SeedOrder* order) noexcept {
    const bool units = grid_.holds == GridHolds::kUnits;  // the first pass: *bins is its ranges
    const int row_bits = bit_width(grid_.n - 1);
    const int a_bits = units ? bit_width(bins->kx_max - bins->kx_min) : bit_width(items_.n - 1);
    const int b_bits = units ? bit_width(bins->ky_max - bins->ky_min) : 0;
    const int bits = bit_width(max_count) + a_bits + b_bits + row_bits;
    const auto for_each_candidate = [this, bins](auto&& f) noexcept {
        return for_each_seed_candidate(bins, f);
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
            },
            order);
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
            },
            order);
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
        [](const SeedEntry& e) noexcept { return e.row; }, order);
}

// The first pass, over the bins: every bin is a candidate, and the items are created as its seeds
// are, numbered in seed order. Rank = item number: that orders items as the seeds' positions in
// the pass did (a seed comes before every bin it takes, so its position is its item's least).
Status Finalizer::first_pass(bool* absorbed) noexcept {
    FirstPass first;
    grid_.holds = GridHolds::kUnits;
    Status s = first_pass_seeds(&first);
    bool any_dirty = false;
    if (s == Status::Ok) s = first_pass_rings(&first, &any_dirty);
    put(first.order.rows, first.order.n);  // both released already, unless s is not Ok
    put(first.unit_item, in_.n);
    if (s != Status::Ok) return s;
    std::memset(items_.mark, kOut, items_.n);
    *absorbed = any_dirty;
    return Status::Ok;
}

// The first pass's steps 1 and 2: who goes where, into first->unit_item.
Status Finalizer::first_pass_seeds(FirstPass* first) noexcept {
    // 1. The ranges of the seed key fields, the grid, the seed order.
    BinKeyRange& keys = first->keys;
    for (std::uint32_t b = 0; b < in_.n; ++b) {
        const Bin& bin = in_.st->bins[b];
        keys.max_count = std::max(keys.max_count, bin.count);
        keys.kx_min = std::min(keys.kx_min, bin.kx);
        keys.kx_max = std::max(keys.kx_max, bin.kx);
        keys.ky_min = std::min(keys.ky_min, bin.ky);
        keys.ky_max = std::max(keys.ky_max, bin.ky);
        if (canceled(1)) return Status::Canceled;
    }
    Status s = sorted_cells(
        in_.n, [this](std::uint32_t b) noexcept { return unit_pos(b); }, nullptr, grid_.entries);
    if (s != Status::Ok) return s;
    grid_.n = in_.n;
    s = seed_order(in_.n, keys.max_count, &keys, &first->order);
    if (s == Status::Ok) s = index_grid();
    if (s == Status::Ok) s = get(&first->unit_item, in_.n);
    if (s != Status::Ok) return s;
    std::uint32_t* unit_item = first->unit_item;
    std::memset(unit_item, 0xFF, std::size_t{in_.n} * sizeof(std::uint32_t));  // kNone

    // 2. Greedy absorption, heaviest first, deciding only who goes where: each seed opens an
    // item and takes its bins.
    for (std::uint32_t k = 0; k < in_.n; ++k) {
        const GridEntry& seed = grid_.entries[first->order.rows[k]];
        if (unit_item[unit_of(seed)] != kNone) continue;  // taken by an earlier seed
        const std::uint32_t i = items_.n++;
        unit_item[unit_of(seed)] = i;
        const Pos q{seed.x, seed.y};
        const std::uint64_t work = for_each_near(q, [&](const GridEntry& e) noexcept {
            if (unit_item[unit_of(e)] != kNone || !within(q, e)) return;
            unit_item[unit_of(e)] = i;
        });
        if (canceled(work + 1)) return Status::Canceled;
    }
    put(first->order.rows, first->order.n);
    release_index();
    return Status::Ok;
}

// The first pass's steps 3 and 4: the items from first->unit_item, which is released after.
Status Finalizer::first_pass_rings(FirstPass* first, bool* any_dirty) noexcept {
    // 3. The items: rings of their bins, counts; an item of one bin is clean (its seed took
    // nothing), of more, dirty.
    Status s = get_item_arrays();
    if (s != Status::Ok) return s;
    const std::uint32_t* unit_item = first->unit_item;
    std::memset(items_.head, 0xFF, std::size_t{items_.n} * sizeof(std::uint32_t));  // kNone
    for (std::uint32_t i = 0; i < items_.n; ++i) {
        items_.count[i] = 0;
        items_.rank[i] = i;
    }
    for (std::uint32_t b = 0; b < in_.n; ++b) {
        const std::uint32_t i = unit_item[b];
        const Bin& bin = in_.st->bins[b];
        items_.count[i] += bin.count;
        if (items_.head[i] == kNone) {
            items_.head[i] = items_.next[b] = b;
        } else {
            items_.next[b] = items_.next[items_.head[i]];
            items_.next[items_.head[i]] = b;
        }
        if (canceled(1)) return Status::Canceled;
    }
    *any_dirty = false;
    for (std::uint32_t i = 0; i < items_.n; ++i) {
        items_.state[i] = items_.next[items_.head[i]] == items_.head[i] ? kClean : kDirty;
        *any_dirty |= items_.state[i] == kDirty;
    }

    // 4. From bins to items: the grid keeps the entries of the clean items (seeds that took
    // nothing, so their only bin is the seed), renumbered; they are where those items are.
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < grid_.n; ++r) {
        GridEntry e = grid_.entries[r];
        e.id = unit_item[unit_of(e)];
        if (items_.state[item_of(e)] == kClean) grid_.entries[kept++] = e;
        if (canceled(1)) return Status::Canceled;
    }
    grid_.n = kept;
    grid_.holds = GridHolds::kItems;
    put(first->unit_item, in_.n);
    return Status::Ok;
}

// A later pass, over the items (grid_ready: the grid holds every item, all of them dirty).
Status Finalizer::pass(bool* absorbed, bool grid_ready) noexcept {
    *absorbed = false;
    // 1. New centres of the dirty items, in the grid.
    std::uint32_t n_dirty = grid_.n;
    Status s = grid_ready ? Status::Ok : update_grid(&n_dirty);
    if (s == Status::Ok) s = index_grid();
    if (s != Status::Ok) return s;
    // 2. The candidates, in seed order.
    std::uint32_t n_seeds = 0;
    std::uint64_t max_count = 0;
    s = pass_candidates(n_dirty, &n_seeds, &max_count);
    if (s != Status::Ok) return s;
    SeedOrder order;
    s = seed_order(n_seeds, max_count, nullptr, &order);
    // 3. Greedy absorption, heaviest first.
    if (s == Status::Ok) s = pass_absorb(order, absorbed);
    put(order.rows, order.n);
    return s;
}

// Marks the candidates kCandidate: the dirty items and every clean item within reach of one (none
// to look for when every live item is dirty: the first pass of run_items). *n_seeds: how many,
// *max_count: their largest count.
Status Finalizer::pass_candidates(std::uint32_t n_dirty, std::uint32_t* n_seeds,
                                  std::uint64_t* max_count) noexcept {
    for (std::uint32_t r = 0; r < grid_.n; ++r) {
        const std::uint32_t i = item_of(grid_.entries[r]);
        if (items_.state[i] == kDirty) items_.mark[i] = kCandidate;
    }
    for (std::uint32_t r = 0; r < grid_.n && n_dirty < grid_.n; ++r) {
        if (items_.state[item_of(grid_.entries[r])] != kDirty) continue;
        const Pos q{grid_.entries[r].x, grid_.entries[r].y};
        const std::uint64_t work = for_each_near(q, [&](const GridEntry& e) noexcept {
            const std::uint32_t j = item_of(e);
            if (items_.state[j] == kClean && items_.mark[j] == kOut && within(q, e))
                items_.mark[j] = kCandidate;
        });
        if (canceled(work + 1)) return Status::Canceled;
    }
    for (std::uint32_t i = 0; i < items_.n; ++i) {
        if (canceled(1)) return Status::Canceled;
        if (items_.mark[i] != kCandidate) continue;
        ++*n_seeds;
        *max_count = std::max(*max_count, items_.count[i]);
    }
    return Status::Ok;
}

// Each seed in order, not yet taken, takes the candidates within its reach; the marks go back to
// kOut after. *any: whether a seed took any.
Status Finalizer::pass_absorb(const SeedOrder& order, bool* any) noexcept {
    for (std::uint32_t k = 0; k < order.n; ++k) {
        const GridEntry& seed = grid_.entries[order.rows[k]];
        const std::uint32_t i = item_of(seed);
        if (items_.mark[i] != kCandidate) continue;  // taken by an earlier seed
        items_.mark[i] = kDone;
        const Pos q{seed.x, seed.y};
        bool took = false;
        const std::uint64_t work = for_each_near(q, [&](const GridEntry& e) noexcept {
            const std::uint32_t j = item_of(e);
            if (items_.mark[j] != kCandidate || !within(q, e)) return;
            items_.mark[j] = kDone;
            items_.state[j] = kDead;
            join(i, j);
            took = true;
        });
        items_.state[i] = took ? kDirty : kClean;
        *any |= took;
        if (canceled(work + 1)) return Status::Canceled;
    }
    // Every mark back to kOut (only the candidates' were not): one sweep, not a miss per seed.
    std::memset(items_.mark, kOut, items_.n);
    return Status::Ok;
}

// The first pass of run_items, over the given items: they are the items (each its own ring), all
// dirty, so that pass() takes every one of them as a candidate: a full greedy pass, heaviest
// first. Equal counts go by grid cell, column by column, then by the given rank, and the items
// are ranked anew in that order: like the first pass over bins (by bin key), so that
// consecutive seeds query neighbouring parts of the grid instead of a cache miss each.
Status Finalizer::first_pass_items(bool* absorbed) noexcept {
    items_.n = in_.n;
    Status s = get_item_arrays();
    if (s != Status::Ok) return s;
    for (std::uint32_t i = 0; i < in_.n; ++i) {
        items_.next[i] = i;
        items_.state[i] = kDirty;
        items_.mark[i] = kOut;
    }
    s = rank_items();
    if (s != Status::Ok) return s;
    grid_.holds = GridHolds::kItems;
    return pass(absorbed, true);
}

// The items, numbered in the order (cell of the centre, given rank), their rank that number, and
// the grid: every item at its centre, in that order, which is by cell as the grid must be (so the
// first pass neither computes the centres again nor sorts them again). Numbered so, the items'
// arrays are read in about the grid's order by the queries and the seed orders, not at random.
Status Finalizer::rank_items() noexcept {
    Pos* pos = nullptr;
    if (get(&pos, in_.n) != Status::Ok) return Status::OutOfMemory;
    const Status s = rank_items_at(pos);
    put(pos, in_.n);
    if (s == Status::Ok) grid_.n = in_.n;
    return s;
}

// rank_items with room for the items' centres. Packed into one uint64 and radix sorted when the
// fields fit and the given ranks are 0 .. n - 1 (as the hierarchy gives them), else sorted as
// entries.
// The given items' centres into pos, the cells they span, and whether the given ranks are
// 0 .. n - 1 (then item_of_given maps each given rank to its item).
Status Finalizer::given_positions(Pos* pos, std::uint32_t* item_of_given,
                                  GivenSpan* span) noexcept {
    *span = GivenSpan{~std::uint64_t{0}, 0, ~std::uint64_t{0}, 0, true};
    std::memset(item_of_given, 0xFF, std::size_t{in_.n} * sizeof(std::uint32_t));
    for (std::uint32_t i = 0; i < in_.n; ++i) {
        const Pos p = pos[i] = unit_pos(i);
        span->col_min = std::min(span->col_min, col_of(p.x));
        span->col_max = std::max(span->col_max, col_of(p.x));
        span->row_min = std::min(span->row_min, row_of(p.y));
        span->row_max = std::max(span->row_max, row_of(p.y));
        const std::uint32_t given = in_.items[i].rank;
        if (given >= in_.n || item_of_given[given] != kNone) {
            span->dense_ranks = false;
        } else {
            item_of_given[given] = i;
        }
        if (canceled(1)) return Status::Canceled;
    }
    return Status::Ok;
}

Status Finalizer::rank_items_at(Pos* pos) noexcept {
    // The rank array lends its room, until the items have their ranks, to the map from a given
    // rank to its item (kNone: none), which tells whether the given ranks are 0 .. n - 1.
    std::uint32_t* const item_of_given = items_.rank;
    GivenSpan span;
    if (given_positions(pos, item_of_given, &span) != Status::Ok) return Status::Canceled;
    // Given item i becomes item k, of rank k, the k-th entry of the grid; its unit is i.
    const auto place = [this, pos](std::uint32_t i, std::uint32_t k) noexcept {
        items_.rank[k] = k;
        items_.count[k] = in_.items[i].count;
        items_.head[k] = i;
        items_.sum[k] = in_.items[i];
        grid_.entries[k] = GridEntry{pos[i].x, pos[i].y, k, 0};
    };
    const int rank_bits = bit_width(in_.n - 1), row_bits = bit_width(span.row_max - span.row_min);
    const int bits = bit_width(span.col_max - span.col_min) + row_bits + rank_bits;
    if (span.dense_ranks && bits <= 64) {
        std::uint64_t *keys = nullptr, *tmp = nullptr;
        if (get(&keys, in_.n) != Status::Ok || get(&tmp, in_.n) != Status::Ok) {
            put(keys, in_.n);
            return Status::OutOfMemory;
        }
        for (std::uint32_t i = 0; i < in_.n; ++i)
            keys[i] =
                ((col_of(pos[i].x) - span.col_min) << row_bits | (row_of(pos[i].y) - span.row_min))
                    << rank_bits |
                in_.items[i].rank;
        const std::uint64_t* sorted = radix_sort(keys, tmp, in_.n, 0, bits, poll_);
        if (sorted != nullptr) {
            // The sorted keys' items are read (through item_of_given) into the other buffer
            // before the ranks overwrite that map.
            std::uint64_t* by_item = sorted == keys ? tmp : keys;
            const std::uint64_t rank_mask = (std::uint64_t{1} << rank_bits) - 1;
            for (std::uint32_t k = 0; k < in_.n; ++k)
                by_item[k] = item_of_given[sorted[k] & rank_mask];
            // The given items are read at random: fetched a few ahead.
            constexpr std::uint32_t kAhead = 8;
            for (std::uint32_t k = 0; k < in_.n; ++k) {
                if (k + kAhead < in_.n) {
                    const char* at = reinterpret_cast<const char*>(&in_.items[by_item[k + kAhead]]);
                    __builtin_prefetch(at);
                    __builtin_prefetch(at + 64);
                }
                place(static_cast<std::uint32_t>(by_item[k]), k);
            }
        }
        put(tmp, in_.n);
        put(keys, in_.n);
        return sorted != nullptr ? Status::Ok : Status::Canceled;
    }
    SeedEntry *entries = nullptr, *tmp = nullptr;
    if (get(&entries, in_.n) != Status::Ok || get(&tmp, in_.n) != Status::Ok) {
        put(entries, in_.n);
        return Status::OutOfMemory;
    }
    for (std::uint32_t i = 0; i < in_.n; ++i)
        entries[i] = SeedEntry{{col_of(pos[i].x), row_of(pos[i].y), in_.items[i].rank}, i, 0};
    // (cell, given rank): unique.
    SeedEntry* const sorted = polled_sort(entries, tmp, in_.n, seed_entry_less, poll_);
    if (sorted != nullptr) {
        for (std::uint32_t k = 0; k < in_.n; ++k) place(sorted[k].row, k);
    }
    put(tmp, in_.n);
    put(entries, in_.n);
    return sorted != nullptr ? Status::Ok : Status::Canceled;
}

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
