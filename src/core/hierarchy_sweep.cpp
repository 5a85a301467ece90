// The hierarchy's cell-order sweep (hierarchy_sweep.hpp: what it does and why the guarantees
// hold).
//
// Memory: a zoom's inputs are references (hierarchy_sweep.hpp): a marker becomes an item, in
// the pool, only when it takes something, and an item taken by another is dropped from the pool
// once the zoom is done (the rest moved down, in pool order). A zoom's working arrays (about 90
// bytes per input) are released once its clusters' references are written.
#include "core.hpp"

#include "hierarchy_sweep.hpp"

#include "cluster_finalize_internal.hpp"
#include "cluster_internal.hpp"
#include "hierarchy_levels.hpp"
#include "polled_sort.hpp"
#include "radix_sort.hpp"
#include "sweep_cursors.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace geocluster {
namespace hier_sweep {

using namespace cluster_internal;
using finalize::Centre;
using finalize::centre_of;

// A take in a pass, by positions: the seed's and the taken item's, or kNone once the seed's
// takes are all found.
struct Take {
    std::uint32_t seed;
    std::uint32_t taken;
};

struct Entry {  // a sort entry; (key, id, x, y) decides the order
    std::uint64_t key;
    std::int64_t id;
    double x, y;
    std::uint32_t slot;
    std::uint32_t unused;
};

namespace {

constexpr std::uint32_t kNone = 0xFFFFFFFFu;
constexpr std::uint32_t kRootBit = 0x80000000u;  // cluster_items: an input that is a cluster
constexpr std::size_t kSortRun = 65536;     // a std::sort this long takes a few ms: poll between
constexpr int kMaxCellBits = 31;            // rows and columns below 2^31: sweep_key's room
constexpr unsigned char kStateStays = 2;    // state_ after a pass: a seed that took nothing
constexpr std::uint32_t kTakeBatch = 4096;  // a pass's takes summed at once (Take: 32 KiB)

inline bool entry_less(const Entry& a, const Entry& b) noexcept {
    if (a.key != b.key) return a.key < b.key;
    if (a.id != b.id) return a.id < b.id;
    if (a.x != b.x) return a.x < b.x;
    return a.y < b.y;
}

// entry_less as a type, for the sorts: through a function pointer it was a call a comparison.
struct EntryLess {
    bool operator()(const Entry& a, const Entry& b) const noexcept { return entry_less(a, b); }
};

// The reach of a zoom and its cells: the engine's numbers (cluster.cpp init_params, and the
// finaliser's query width, cluster_finalize.cpp), cells 2^shift fixed units, at most 2^31 of them
// across (wider cells than needed at tiny radii and deep zooms: the same neighbours, more
// entries visited), columns and rows 0 .. cells - 1.
struct Geometry {
    double reach2;
    int shift;
    std::uint64_t cells;
};

Geometry geometry_of(double radius_px, int zoom) noexcept {
    const double rf = std::ldexp(radius_px, kFixedBits - 8 - zoom) + kSlackFixed;
    const double reach = rf < kMaxReachFixed ? rf : kMaxReachFixed;
    const double query = reach + reach * (1.0 / 1048576.0) + 1.0;
    int shift = kFixedBits - kMaxCellBits;
    while (shift < kFixedBits && std::ldexp(1.0, shift) < query) ++shift;
    return Geometry{reach * reach, shift, std::uint64_t{1} << (kFixedBits - shift)};
}

// The cell of a centre: of its x and y rounded down (within 1 of the exact centre's, which the
// query's + 1 absorbs), x = 2^48 (lon 180) and y = 2^48 in the last column and row.
inline std::uint64_t key_of(double x, double y, const Geometry& g) noexcept {
    const std::uint64_t col = std::min(static_cast<std::uint64_t>(x) >> g.shift, g.cells - 1);
    const std::uint64_t row = std::min(static_cast<std::uint64_t>(y) >> g.shift, g.cells - 1);
    return sweep_key(row, col);
}

// The engine's "within reach" (Finalizer::within).
bool within(double ax, double ay, double bx, double by, double reach2) noexcept {
    double dx = std::fabs(ax - bx);
    if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
    const double dy = ay - by;
    return dx * dx + dy * dy < reach2;
}

// f(k) for every k whose key[k] lies in the 3 x 3 cells around key q, and across the
// antimeridian in those of the column at the other edge (found by binary search: only the two
// edge columns need it; with fewer than 3 columns every column is already a neighbour).
// Returns the entries visited.
template <typename F>
std::size_t visit_around(SweepCursors& cursors, const std::uint64_t* key, std::size_t n,
                         std::uint64_t q, const Geometry& g, F&& f) noexcept {
    std::size_t work = cursors.visit(key, n, q, f);
    if (g.cells < 3) return work;
    const std::uint64_t col = sweep_col(q), row = sweep_row(q);
    std::uint64_t other;
    if (col == 0) {
        other = g.cells - 1;
    } else if (col == g.cells - 1) {
        other = 0;
    } else {
        return work;
    }
    for (std::uint64_t r = row == 0 ? 0 : row - 1; r <= row + 1 && r < g.cells; ++r) {
        const std::uint64_t k = sweep_key(r, other);
        for (const std::uint64_t* p = std::lower_bound(key, key + n, k); p != key + n && *p == k;
             ++p) {
            f(static_cast<std::size_t>(p - key));
            ++work;
        }
        work += 16;  // the search
    }
    return work;
}

// item_add(*d, hier_item_of_marker_at(m, fixed_x, fixed_y)), field by field (most takes are of a
// single marker, whose item is mostly an empty side: no 128-byte item made): a marker is one
// member with an id, on one side of the antimeridian (lon < 0: west), its item's other side
// empty (+inf / -inf ranges and zero sums, which leave d's as they are), its rank 0.
inline void add_marker(Item* d, const HierMarker& m, std::uint64_t fixed_x,
                       std::uint64_t fixed_y) noexcept {
    const double lat = m.lat + 0.0, lon = m.lon + 0.0;
    d->count += 1;
    if (lon < 0.0) {
        d->count_w += 1;
        wide_add(d->sx_w, fixed_x);
        d->min_lon_w = std::min(d->min_lon_w, lon);
        d->max_lon_w = std::max(d->max_lon_w, lon);
    } else {
        wide_add(d->sx_e, fixed_x);
        d->min_lon_e = std::min(d->min_lon_e, lon);
        d->max_lon_e = std::max(d->max_lon_e, lon);
    }
    wide_add(d->sy, fixed_y);
    d->min_lat = std::min(d->min_lat, lat);
    d->max_lat = std::max(d->max_lat, lat);
    if (d->has_id == 0 || m.id < d->min_id) {
        d->min_id = m.id;
        d->has_id = 1;
    }
    d->rank = 0;
}

// The first i in [from, n) with s[i] != v, or n: eight bytes a step (after a zoom's first pass
// most of state_ is one value).
inline std::uint32_t first_not(const unsigned char* s, std::uint32_t from, std::uint32_t n,
                               unsigned char v) noexcept {
    const std::uint64_t all = 0x0101010101010101ull * v;
    std::uint32_t i = from;
    for (; i + 8 <= n; i += 8) {
        std::uint64_t w;
        std::memcpy(&w, s + i, sizeof w);
        if (w != all) break;  // the byte is among these eight
    }
    while (i < n && s[i] == v) ++i;
    return i;
}

}  // namespace

// Input s's item: while ref_[s] is a marker, the marker's (at its centre, its fixed-point
// position exactly: a lone marker's centre_of); once it takes something, or when it is a
// cluster of several, its pooled item.
struct RefAccess {
    Sweep* sw;
    Item* grow(std::uint32_t s, double x, double y) noexcept {
        std::uint32_t& r = sw->ref_[s];
        if ((r & Sweep::kPooled) != 0) return &sw->pooled(r & ~Sweep::kPooled);
        std::uint32_t p;
        if (sw->pool_append(&p) != Status::Ok) return nullptr;
        sw->pooled(p) = marker_item(r, x, y);
        r = Sweep::kPooled | p;
        return &sw->pooled(p);
    }
    Item value(std::uint32_t s, double x, double y) const noexcept {
        const std::uint32_t r = sw->ref_[s];
        return (r & Sweep::kPooled) != 0 ? sw->pooled(r & ~Sweep::kPooled) : marker_item(r, x, y);
    }
    // item_add(*d, value(s, x, y)), without a copy of the item, and for a marker without making
    // its item (most takes are of a single marker).
    void add_to(Item* d, std::uint32_t s, double x, double y) const noexcept {
        const std::uint32_t r = sw->ref_[s];
        if ((r & Sweep::kPooled) != 0) {
            item_add(*d, sw->pooled(r & ~Sweep::kPooled));
        } else {
            add_marker(d, sw->singles_[r], static_cast<std::uint64_t>(x),
                       static_cast<std::uint64_t>(y));
        }
    }
    Item marker_item(std::uint32_t m, double x, double y) const noexcept {
        return hier_item_of_marker_at(sw->singles_[m], static_cast<std::uint64_t>(x),
                                      static_cast<std::uint64_t>(y));
    }
    std::int64_t id(std::uint32_t s) const noexcept {
        const std::uint32_t r = sw->ref_[s];
        return (r & Sweep::kPooled) != 0 ? sw->pooled(r & ~Sweep::kPooled).min_id
                                         : sw->singles_[r].id;
    }
    // What id and value read, in two steps: the reference and centre, then what it refers to.
    void prefetch(std::uint32_t s) const noexcept {
        __builtin_prefetch(&sw->ref_[s]);
        __builtin_prefetch(&sw->x_[s]);
        __builtin_prefetch(&sw->y_[s]);
    }
    void prefetch_ref(std::uint32_t s) const noexcept { __builtin_prefetch(&sw->ref_[s]); }
    void prefetch_item(std::uint32_t s) const noexcept {
        const std::uint32_t r = sw->ref_[s];
        if ((r & Sweep::kPooled) != 0) {
            __builtin_prefetch(&sw->pooled(r & ~Sweep::kPooled).min_id);
        } else {
            __builtin_prefetch(&sw->singles_[r]);
        }
    }
};

void Sweep::release() noexcept {
    put_zoom_arrays();
    put(x_);
    put(y_);
    room_ = 0;
    put(ref_);
    put(own_);
    singles_ = nullptr;
    in_place_ = false;
    n_ = 0;
    pool_trim(0);
    put(chunk_);
    chunk_room_ = 0;
}

// The arrays every step of a zoom uses; the others are made by the step that needs them, sized
// to it (the first order's radix buffers, a pass's movers and dirty list, the ordinals at the
// end), so that the largest of them are never held together.
Status Sweep::get_zoom_arrays(std::uint32_t n) noexcept {
    Status s = get(&key_, n);
    if (s == Status::Ok) s = get(&slot_, n);
    if (s == Status::Ok) s = get(&state_, n);
    if (s == Status::Ok) s = get(&dirty_, n);
    if (s == Status::Ok) s = get(&into_, n);
    ent_room_ = 0;
    return s;
}

void Sweep::put_zoom_arrays() noexcept {
    put(key_);
    put(slot_);
    put(ent_);
    put(buf_a_);
    put(buf_b_);
    put(state_);
    put(dirty_);
    put(into_);
    put(ordinal_);
    put(take_);
    ent_room_ = 0;
}

// Room in ent_ for a pass's next mover (of n items: at most n / 2 move, each having taken
// another), grown by half: a pass's movers are not known ahead, and most are in the first.
Status Sweep::mover_room(std::uint32_t n_moved, std::uint32_t n) noexcept {
    if (n_moved < ent_room_) return Status::Ok;
    const std::size_t most = std::size_t{n} / 2 + 1;
    std::size_t room = std::size_t{ent_room_} + ent_room_ / 2 + n / 16 + 64;
    if (room > most) room = most;
    if (room <= n_moved) return Status::Internal;  // more movers than n / 2: never
    Entry* grown = nullptr;
    if (get(&grown, room) != Status::Ok) return Status::OutOfMemory;
    if (n_moved > 0) std::memcpy(grown, ent_, std::size_t{n_moved} * sizeof(Entry));
    put(ent_);
    ent_ = grown;
    ent_room_ = static_cast<std::uint32_t>(room);
    return Status::Ok;
}

// The markers of the clusters held that are single, copied to an array of their own in their
// ordinal order (once the zoom's arrays are gone), their references made indices into it.
Status Sweep::keep_singles() noexcept {
    if (in_place_) return Status::Ok;  // the references index the reordered markers
    std::uint32_t n_single = 0;
    for (std::uint32_t k = 0; k < n_; ++k) n_single += (ref_[k] & kPooled) == 0;
    HierMarker* single = nullptr;
    if (get(&single, n_single) != Status::Ok) return Status::OutOfMemory;
    constexpr std::uint32_t kAhead = 16;  // at max_zoom the markers are read in no order
    for (std::uint32_t k = 0, j = 0; k < n_; ++k) {
        if (k + kAhead < n_ && (ref_[k + kAhead] & kPooled) == 0)
            __builtin_prefetch(&singles_[ref_[k + kAhead]]);
        if ((ref_[k] & kPooled) != 0) continue;
        single[j] = singles_[ref_[k]];
        ref_[k] = j++;
    }
    put(own_);
    own_ = single;
    singles_ = single;
    return Status::Ok;
}

// A new pool item, at *p (its contents the caller's to write).
Status Sweep::pool_append(std::uint32_t* p) noexcept {
    if (n_pool_ >= kPooled) return Status::Internal;  // at most one per input: never
    if ((n_pool_ & kPoolChunkMask) == 0 && (n_pool_ >> kPoolChunkBits) == n_chunks_) {
        if (n_chunks_ == chunk_room_) {
            const std::uint32_t room = chunk_room_ + chunk_room_ / 2 + 64;
            Item** grown = nullptr;
            if (get(&grown, room) != Status::Ok) return Status::OutOfMemory;
            if (n_chunks_ > 0) std::memcpy(grown, chunk_, n_chunks_ * sizeof(Item*));
            put(chunk_);
            chunk_ = grown;
            chunk_room_ = room;
        }
        if (get(&chunk_[n_chunks_], std::size_t{kPoolChunkMask} + 1) != Status::Ok)
            return Status::OutOfMemory;
        ++n_chunks_;
    }
    *p = n_pool_++;
    return Status::Ok;
}

// The pool cut to its first n items, the chunks past them released.
void Sweep::pool_trim(std::uint32_t n) noexcept {
    const std::uint32_t keep = (n + kPoolChunkMask) >> kPoolChunkBits;
    while (n_chunks_ > keep) put(chunk_[--n_chunks_]);
    n_pool_ = n;
}

// After a zoom's sweep over n inputs (ref_ by slot) that made n_out clusters (in slot_'s first
// n_out, in ordinal order): ref_ by ordinal, and the pool holding the clusters' items only, the
// taken ones dropped and the rest moved down in pool order (each pool item is one input's, so
// state_ and ordinal_, n entries, hold a mark and a new place for each).
Status Sweep::keep_clusters(std::uint32_t n, std::uint32_t n_out) noexcept {
    if (n_pool_ > n) return Status::Internal;
    std::uint32_t* refs = nullptr;
    Status s = get(&refs, n_out);
    if (s != Status::Ok) return s;
    for (std::uint32_t k = 0; k < n_out; ++k) refs[k] = ref_[slot_[k]];
    put(ref_);
    ref_ = refs;
    n_ = n_out;
    Poller poll(cancel_);
    std::memset(state_, 0, n_pool_);
    for (std::uint32_t k = 0; k < n_out; ++k)
        if ((refs[k] & kPooled) != 0) state_[refs[k] & ~kPooled] = 1;
    std::uint32_t kept = 0;
    for (std::uint32_t p = 0; p < n_pool_; ++p) {
        if (state_[p] == 0) continue;
        if (kept != p) pooled(kept) = pooled(p);
        ordinal_[p] = kept++;
        if (poll.canceled(1)) return Status::Canceled;
    }
    for (std::uint32_t k = 0; k < n_out; ++k)
        if ((refs[k] & kPooled) != 0) refs[k] = kPooled | ordinal_[refs[k] & ~kPooled];
    pool_trim(kept);
    return Status::Ok;
}

// x_ and y_ moved to arrays of n when that frees a fifth of their room or more.
Status Sweep::keep_centres(std::uint32_t n) noexcept {
    if (std::size_t{n} + n / 4 >= room_) return Status::Ok;
    double *x = nullptr, *y = nullptr;
    Status s = get(&x, n);
    if (s == Status::Ok) s = get(&y, n);
    if (s != Status::Ok) {
        put(x);
        return s;
    }
    std::memcpy(x, x_, std::size_t{n} * sizeof(double));
    std::memcpy(y, y_, std::size_t{n} * sizeof(double));
    put(x_);
    put(y_);
    x_ = x;
    y_ = y;
    room_ = n;
    return Status::Ok;
}

std::uint32_t Sweep::root(std::uint32_t s) noexcept {
    std::uint32_t r = s;
    while (into_[r] != r) r = into_[r];
    while (into_[s] != r) {  // path compression
        const std::uint32_t next = into_[s];
        into_[s] = r;
        s = next;
    }
    return r;
}

// e[0..n) sorted by entry_less, in place; tmp (room for n, or nullptr: allocated when needed)
// for the polled merge of long arrays.
Status Sweep::sort_entries(Entry* e, std::size_t n, Entry* tmp) noexcept {
    if (n <= kSortRun) {
        std::sort(e, e + n, EntryLess{});
        return Status::Ok;
    }
    Entry* own = nullptr;
    if (tmp == nullptr) {
        if (get(&own, n) != Status::Ok) return Status::OutOfMemory;
        tmp = own;
    }
    Poller poll(cancel_);
    const Entry* sorted = polled_sort(e, tmp, n, EntryLess{}, poll);
    if (sorted != nullptr && sorted != e) std::memcpy(e, sorted, n * sizeof(Entry));
    put(own);
    return sorted == nullptr ? Status::Canceled : Status::Ok;
}

// The zoom's first order: inputs 0 .. n - 1 (centres in x_, y_; input i grows in slot i) into
// key_, x_, y_, slot_ by (cell, id, centre). A radix sort of the cells' bits with each input's
// position below them gives the cells' order; each run of one cell with more than one item is
// then sorted by id where it lies, so only those items' ids are read, in order. A comparison sort
// when cell and position do not fit 64 bits.
template <typename Access>
Status Sweep::order(Access& acc, std::uint32_t n, int zoom) noexcept {
    const Geometry g = geometry_of(radius_px_, zoom);
    Poller poll(cancel_);
    int pos_bits = bit_width(n > 1 ? n - 1 : 1);
    const int cell_bits = kFixedBits - g.shift;          // of a column, and of a row
    for (std::uint32_t i = 0; i < n; ++i) into_[i] = i;  // by slot: each input its own item
    if (pos_bits + 2 * cell_bits > 64) {
        Entry* e = nullptr;
        Status s = get(&e, n);
        for (std::uint32_t i = 0; s == Status::Ok && i < n; ++i) {
            e[i] = Entry{key_of(x_[i], y_[i], g), acc.id(i), x_[i], y_[i], i, 0};
            if (poll.canceled(1)) s = Status::Canceled;
        }
        if (s == Status::Ok) s = sort_entries(e, n, nullptr);
        for (std::uint32_t p = 0; s == Status::Ok && p < n; ++p) {
            key_[p] = e[p].key;
            x_[p] = e[p].x;
            y_[p] = e[p].y;
            slot_[p] = e[p].slot;
        }
        put(e);
        return s;
    }
    Status s = get(&buf_a_, n);
    if (s == Status::Ok) s = get(&buf_b_, n);
    if (s != Status::Ok) return s;
    bool by_rows = false;
    s = order_by_rows(n, zoom, &by_rows);
    if (s != Status::Ok) return s;
    if (by_rows) {
        put(buf_a_);
        put(buf_b_);
        return sort_cell_runs(acc, n);
    }
    for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint64_t k = key_of(x_[i], y_[i], g);
        buf_a_[i] = (sweep_row(k) << cell_bits | sweep_col(k)) << pos_bits | i;
        if (poll.canceled(1)) return Status::Canceled;
    }
    const std::uint64_t* sorted =
        radix_sort(buf_a_, buf_b_, n, pos_bits, pos_bits + 2 * cell_bits, poll);
    if (sorted == nullptr) return Status::Canceled;
    const std::uint64_t pos_mask = (std::uint64_t{1} << pos_bits) - 1;
    const std::uint64_t col_mask = (std::uint64_t{1} << cell_bits) - 1;
    // The centres in cell order: x through the radix sort's other buffer and y through key_
    // (x_ and y_ are read at random, so they are not permuted in place), then the keys.
    std::uint64_t* other = sorted == buf_a_ ? buf_b_ : buf_a_;
    constexpr std::uint32_t kAhead = 16;  // the inputs are read in no order: fetched ahead
    for (std::uint32_t p = 0; p < n; ++p) {
        if (p + kAhead < n) acc.prefetch(static_cast<std::uint32_t>(sorted[p + kAhead] & pos_mask));
        const auto i = static_cast<std::uint32_t>(sorted[p] & pos_mask);
        std::memcpy(&other[p], &x_[i], sizeof(double));
        std::memcpy(&key_[p], &y_[i], sizeof(double));
        slot_[p] = i;
        if (poll.canceled(1)) return Status::Canceled;
    }
    for (std::uint32_t p = 0; p < n; ++p) {
        std::memcpy(&x_[p], &other[p], sizeof(double));
        std::memcpy(&y_[p], &key_[p], sizeof(double));
        const std::uint64_t cell = sorted[p] >> pos_bits;
        key_[p] = sweep_key(cell >> cell_bits, cell & col_mask);
    }
    put(buf_a_);
    put(buf_b_);
    return sort_cell_runs(acc, n);
}

// order's stable sort by cell (the radix sort's order: by cell, then by input) without the radix
// sort, when the inputs' cells already come row by row, each row in at most two runs of
// ascending columns, as the clusters of the zoom below do in their order (a row of twice wider
// cells is two of their rows, each in column order): then merging each row's two runs is that
// sort, in two passes where the radix sort made up to six and then read the centres at random.
// *done false when the cells do not come so (at max_zoom, the markers), nothing else changed. Needs
// buf_a_ and buf_b_ (n each): the cells by input, then the centres in order.
Status Sweep::order_by_rows(std::uint32_t n, int zoom, bool* done) noexcept {
    *done = false;
    const Geometry g = geometry_of(radius_px_, zoom);
    std::uint64_t* cell = buf_a_;
    for (std::uint32_t i = 0; i < n; ++i) {
        cell[i] = key_of(x_[i], y_[i], g);
        if (i == 0 || cell[i] >= cell[i - 1]) continue;
        if (sweep_row(cell[i]) != sweep_row(cell[i - 1])) return Status::Ok;  // rows out of order
        for (std::uint32_t j = i - 1; j > 0 && sweep_row(cell[j - 1]) == sweep_row(cell[i]); --j)
            if (cell[j - 1] > cell[j]) return Status::Ok;  // a third run in the row
    }
    Poller poll(cancel_);
    for (std::uint32_t a = 0, p = 0; a < n;) {  // a row's runs [a, m) and [m, e), merged
        const std::uint64_t row = sweep_row(cell[a]);
        std::uint32_t m = a + 1;
        while (m < n && cell[m] >= cell[m - 1] && sweep_row(cell[m]) == row) ++m;
        std::uint32_t e = m;
        while (e < n && sweep_row(cell[e]) == row) ++e;
        for (std::uint32_t l = a, r = m; l < m || r < e; ++p) {
            const std::uint32_t i = r == e || (l < m && cell[l] <= cell[r]) ? l++ : r++;
            key_[p] = cell[i];
            slot_[p] = i;
            std::memcpy(&buf_b_[p], &x_[i], sizeof(double));
        }
        if (poll.canceled(e - a)) return Status::Canceled;
        a = e;
    }
    for (std::uint32_t p = 0; p < n; ++p) std::memcpy(&buf_a_[p], &y_[slot_[p]], sizeof(double));
    std::memcpy(x_, buf_b_, std::size_t{n} * sizeof(double));
    std::memcpy(y_, buf_a_, std::size_t{n} * sizeof(double));
    *done = true;
    return Status::Ok;
}

// Runs of one cell (key_), after the first order's radix sort: by (id, centre), through a
// scratch of the longest run's entries.
template <typename Access>
Status Sweep::sort_cell_runs(Access& acc, std::uint32_t n) noexcept {
    Poller poll(cancel_);
    Status s = Status::Ok;
    Entry* run = nullptr;
    std::size_t run_room = 0;
    for (std::uint32_t p = 0; s == Status::Ok && p < n;) {
        std::uint32_t e = p + 1;
        while (e < n && key_[e] == key_[p]) ++e;
        if (e - p > 1) {
            if (e - p > run_room) {
                put(run);
                run_room = std::max<std::size_t>(e - p, 2 * run_room);
                s = get(&run, run_room);
                if (s != Status::Ok) break;
            }
            for (std::uint32_t q = p; q < e; ++q) acc.prefetch_item(slot_[q]);
            bool in_order = true;
            for (std::uint32_t q = p; q < e; ++q) {
                run[q - p] = Entry{key_[q], acc.id(slot_[q]), x_[q], y_[q], slot_[q], 0};
                in_order = in_order && (q == p || entry_less(run[q - p - 1], run[q - p]));
            }
            if (!in_order) {
                s = sort_entries(run, e - p, nullptr);
                for (std::uint32_t q = p; s == Status::Ok && q < e; ++q) {
                    x_[q] = run[q - p].x;
                    y_[q] = run[q - p].y;
                    slot_[q] = run[q - p].slot;
                }
            }
        }
        if (s == Status::Ok && poll.canceled(e - p)) s = Status::Canceled;
        p = e;
    }
    put(run);
    return s;
}

// Before a pass over n items: the dirty items' keys and positions, in order, in buf_a_ and
// buf_b_ (*nd of them: what a clean item looks at), and every item's state_.
Status Sweep::mark_pass(std::uint32_t n, int zoom, bool first, std::size_t* nd_out) noexcept {
    constexpr unsigned char kFree = 0, kStays = kStateStays;
    const Geometry g = geometry_of(radius_px_, zoom);
    Poller poll(cancel_);
    // The dirty items' keys and positions, in order: what a clean item looks at.
    std::size_t nd = 0;
    if (!first) {
        for (std::uint32_t i = 0; i < n; ++i) nd += dirty_[i];
        Status s = get(&buf_a_, nd);
        if (s == Status::Ok) s = get(&buf_b_, nd);
        if (s != Status::Ok) return s;
        nd = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            if (dirty_[i] == 0) continue;
            buf_a_[nd] = key_[i];
            buf_b_[nd++] = i;
        }
    }
    const std::uint64_t* dpos = buf_b_;
    if (first) {
        std::memset(state_, kFree, n);
    } else {
        // Only the dirty items and the clean ones within reach of one can take or be taken
        // (two clean items are both seeds that took nothing): every other item stays as it
        // is, so it is marked so before the pass, which then looks at the few that matter
        // instead of every item (a few percent of a zoom's items are dirty in its second pass,
        // well under 1% in the later ones).
        std::memset(state_, kStays, n);
        unsigned char* const state = state_;  // locals: state could alias the members
        const double* const xs = x_;
        const double* const ys = y_;
        const std::uint64_t* const keys = key_;
        SweepCursors mark_cursors;
        for (std::size_t j = 0; j < nd; ++j) {
            const auto d = static_cast<std::uint32_t>(dpos[j]);
            const double xd = xs[d], yd = ys[d];
            state[d] = kFree;
            const std::size_t work =
                visit_around(mark_cursors, keys, n, keys[d], g, [&](std::size_t k) {
                    if (within(xd, yd, xs[k], ys[k], g.reach2)) state[k] = kFree;
                });
            if (poll.canceled(work + 1)) return Status::Canceled;
        }
    }
    *nd_out = nd;
    return Status::Ok;
}

// A pass's batch of takes (Take: a seed and the item it takes, or kNone once its takes are
// done), in order: each taken item summed into its seed, and each seed that is done made a mover
// at its new centre (ent_, *n_moved of them), the items fetched ahead.
template <typename Access>
Status Sweep::sum_takes(Access& acc, const Take* batch, std::uint32_t n_batch, int zoom,
                        std::uint32_t n, std::uint32_t* n_moved_io) noexcept {
    const Geometry g = geometry_of(radius_px_, zoom);
    std::uint32_t n_moved = *n_moved_io;
    constexpr std::uint32_t kAhead = 16;
    for (std::uint32_t r = 0; r < n_batch; ++r) {
        if (r + kAhead < n_batch) {
            const Take& t = batch[r + kAhead];
            acc.prefetch_ref(slot_[t.seed]);
            if (t.taken != kNone) {
                acc.prefetch_ref(slot_[t.taken]);
                __builtin_prefetch(&into_[slot_[t.taken]], 1);
            }
        }
        if (r + kAhead / 2 < n_batch) {
            const Take& t = batch[r + kAhead / 2];
            acc.prefetch_item(slot_[t.seed]);
            if (t.taken != kNone) acc.prefetch_item(slot_[t.taken]);
        }
        const Take t = batch[r];
        const std::uint32_t si = slot_[t.seed];
        Item* seed = acc.grow(si, x_[t.seed], y_[t.seed]);  // made on its first take
        if (seed == nullptr) return Status::OutOfMemory;
        if (t.taken != kNone) {
            const std::uint32_t sk = slot_[t.taken];
            acc.add_to(seed, sk, x_[t.taken], y_[t.taken]);
            into_[sk] = si;
            continue;
        }
        Centre c;  // the seed's takes are all summed: it moves to its new centre
        centre_of(*seed, &c);
        const Status s = mover_room(n_moved, n);
        if (s != Status::Ok) return s;
        ent_[n_moved++] = Entry{key_of(c.x, c.y, g), seed->min_id, c.x, c.y, si, 0};
    }
    *n_moved_io = n_moved;
    return Status::Ok;
}

// One pass over the *n live items (dirty_: took something in the last pass; all of them in a
// zoom's first pass), which it leaves in the next pass's order with their dirty_ flags.
template <typename Access>
Status Sweep::pass(Access& acc, std::uint32_t* n_live, int zoom, bool first,
                   std::size_t* n_taken) noexcept {
    constexpr unsigned char kFree = 0, kTaken = 1, kStays = kStateStays, kMoved = 3;
    const Geometry g = geometry_of(radius_px_, zoom);
    const std::uint32_t n = *n_live;
    Poller poll(cancel_);
    std::size_t nd = 0;
    Status marked = mark_pass(n, zoom, first, &nd);
    if (marked != Status::Ok) return marked;
    const std::uint64_t* dkey = buf_a_;
    const std::uint64_t* dpos = buf_b_;
    SweepCursors all_cursors, dirty_cursors;
    std::uint32_t n_moved = 0;
    std::size_t taken = 0;
    // Which items a seed takes depends on the centres and states alone, not on the items: the
    // takes are found first and their items summed after, in batches, in the same order, so
    // that the items (a cache miss each into the references and the markers, which are in
    // input order, not the sweep's) can be fetched ahead.
    if (take_ == nullptr && get(&take_, kTakeBatch) != Status::Ok) return Status::OutOfMemory;
    Take* const batch = take_;
    std::uint32_t n_batch = 0;
    Status flushed = Status::Ok;
    auto flush = [&]() -> Status {
        const Status f = sum_takes(acc, batch, n_batch, zoom, n, &n_moved);
        n_batch = 0;
        return f;
    };
    // The arrays in locals: a store through state (unsigned char) could alias the members, which
    // the compiler would then read again after every store.
    unsigned char* const state = state_;
    const unsigned char* const dirty = dirty_;
    const double* const xs = x_;
    const double* const ys = y_;
    const std::uint64_t* const keys = key_;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (state[i] != kFree) {
            if (first) continue;
            // After the first pass the free items are few: found by memchr's wide compares.
            const void* next = std::memchr(state + i, kFree, n - i);
            if (next == nullptr) break;
            i = static_cast<std::uint32_t>(static_cast<const unsigned char*>(next) - state);
        }
        state[i] = kStays;
        const double xi = xs[i], yi = ys[i];
        bool took = false;
        auto take = [&](std::size_t k) {
            if (state[k] != kFree || !within(xi, yi, xs[k], ys[k], g.reach2)) return;
            took = true;
            state[k] = kTaken;
            ++taken;
            batch[n_batch++] = Take{i, static_cast<std::uint32_t>(k)};
            if (n_batch == kTakeBatch && flushed == Status::Ok) flushed = flush();
        };
        std::size_t work;
        if (first || dirty[i] != 0) {
            work = visit_around(all_cursors, keys, n, keys[i], g, take);
        } else {  // clean: only a dirty item can be within reach
            work = visit_around(dirty_cursors, dkey, nd, keys[i], g,
                                [&](std::size_t j) { take(static_cast<std::size_t>(dpos[j])); });
        }
        if (took) {
            state[i] = kMoved;
            batch[n_batch++] = Take{i, kNone};
            if (n_batch == kTakeBatch && flushed == Status::Ok) flushed = flush();
        }
        if (flushed != Status::Ok) return flushed;
        if (poll.canceled(work + 1)) return Status::Canceled;
    }
    if (flushed == Status::Ok) flushed = flush();
    if (flushed != Status::Ok) return flushed;
    *n_taken = taken;
    put(buf_a_);
    put(buf_b_);
    if (poll.canceled(n)) return Status::Canceled;
    return next_order(acc, n, n_moved, n_live);
}

// After a pass over n items (state_: each one's fate; the n_moved movers in ent_ at their new
// centres): the items that stay, to the front in order; the movers sorted (the rest of ent_, if
// room enough, for the sort's merge); then both merged from the back, in place, into the next
// pass's order, the movers dirty.
template <typename Access>
Status Sweep::next_order(Access& acc, std::uint32_t n, std::uint32_t n_moved,
                         std::uint32_t* n_live) noexcept {
    // The arrays in locals (a store through dirty could alias the members).
    const unsigned char* const state = state_;
    unsigned char* const dirty = dirty_;
    double* const xs = x_;
    double* const ys = y_;
    std::uint64_t* const keys = key_;
    std::uint32_t* const slots = slot_;
    // The items before the first that moves or is taken stay where they are: not copied (after
    // the first pass most of a zoom's items are before it, or after the last mover, below).
    std::uint32_t n_stay = 0;
    n_stay = first_not(state, n_stay, n, kStateStays);
    for (std::uint32_t i = n_stay; i < n;) {  // each run of stays moved down as one block
        const std::uint32_t e = first_not(state, i, n, kStateStays);
        const std::size_t count = e - i;
        if (count >= 16) {  // (a short one, in a zoom's first pass, copied item by item)
            move_items(i, static_cast<std::uint32_t>(count), n_stay);
            n_stay += e - i;
        } else {
            for (std::uint32_t k = i; k < e; ++k, ++n_stay) {
                keys[n_stay] = keys[k];
                xs[n_stay] = xs[k];
                ys[n_stay] = ys[k];
                slots[n_stay] = slots[k];
            }
        }
        i = e + 1;
    }
    const Status s =
        sort_entries(ent_, n_moved, ent_room_ - n_moved >= n_moved ? ent_ + n_moved : nullptr);
    if (s != Status::Ok) return s;
    if (std::size_t{n_moved} * 16 < n_stay) {
        merge_few_movers(acc, n_stay, n_moved);
        *n_live = n_stay + n_moved;
        return Status::Ok;
    }
    const Entry* const ent = ent_;
    std::uint32_t a = n_stay, b = n_moved;
    for (std::uint32_t o = n_stay + n_moved; o-- > 0;) {
        if (b == 0) {  // the stays left are at their places already (a == o + 1)
            std::memset(dirty, 0, std::size_t{o} + 1);
            break;
        }
        bool mover;
        if (a == 0) {
            mover = true;
        } else if (keys[a - 1] != ent[b - 1].key) {
            mover = keys[a - 1] < ent[b - 1].key;
        } else {  // the same cell: the id, read only then
            const Entry stay{keys[a - 1], acc.id(slots[a - 1]), xs[a - 1], ys[a - 1], 0, 0};
            mover = entry_less(stay, ent[b - 1]);
        }
        if (mover) {
            const Entry& e = ent[--b];
            keys[o] = e.key;
            xs[o] = e.x;
            ys[o] = e.y;
            slots[o] = e.slot;
            dirty[o] = 1;
        } else {
            --a;
            keys[o] = keys[a];
            xs[o] = xs[a];
            ys[o] = ys[a];
            slots[o] = slots[a];
            dirty[o] = 0;
        }
    }
    *n_live = n_stay + n_moved;
    return Status::Ok;
}

// Items [from, from + count) of a pass's order (cell key, centre, slot) moved to [to, ...), the
// ranges overlapping or not.
void Sweep::move_items(std::uint32_t from, std::uint32_t count, std::uint32_t to) noexcept {
    std::memmove(&key_[to], &key_[from], std::size_t{count} * sizeof(std::uint64_t));
    std::memmove(&x_[to], &x_[from], std::size_t{count} * sizeof(double));
    std::memmove(&y_[to], &y_[from], std::size_t{count} * sizeof(double));
    std::memmove(&slot_[to], &slot_[from], std::size_t{count} * sizeof(std::uint32_t));
}

// next_order's merge when the movers are few (a zoom's later passes): each mover's place among
// the n_stay stays found by a galloping search back from the last place (the merge's: after
// every stay that comes before it), and the stays between two places moved up as one block,
// where the merge compared and copied every stay.
template <typename Access>
void Sweep::merge_few_movers(Access& acc, std::uint32_t n_stay, std::uint32_t n_moved) noexcept {
    const Entry* const ent = ent_;
    auto before = [&](std::uint32_t k, const Entry& e) {  // stay k before mover e
        if (key_[k] != e.key) return key_[k] < e.key;
        return entry_less(Entry{key_[k], acc.id(slot_[k]), x_[k], y_[k], 0, 0}, e);
    };
    std::memset(dirty_, 0, std::size_t{n_stay} + n_moved);
    std::uint32_t a = n_stay, o = n_stay + n_moved;
    for (std::uint32_t b = n_moved; b-- > 0;) {
        const Entry& e = ent[b];
        // The first stay of [0, a) not before e: stays lo .. a - 1 are known not to be.
        std::uint32_t lo = a, step = 1;
        while (lo > 0 && !before(lo - 1, e)) {
            const std::uint32_t probe = lo > step ? lo - step : 0;
            if (before(probe, e)) {  // the place is in (probe, lo - 1]: a binary search
                std::uint32_t l = probe + 1, h = lo - 1;  // before(l - 1), !before(h)
                while (l < h) {
                    const std::uint32_t m = l + (h - l) / 2;
                    if (before(m, e)) {
                        l = m + 1;
                    } else {
                        h = m;
                    }
                }
                lo = l;
                break;
            }
            lo = probe;
            step *= 2;
        }
        const std::uint32_t count = a - lo;
        o -= count;
        if (count > 0 && o != lo) move_items(lo, count, o);
        a = lo;
        --o;
        key_[o] = e.key;
        x_[o] = e.x;
        y_[o] = e.y;
        slot_[o] = e.slot;
        dirty_[o] = 1;
    }
}

// A zoom over inputs 0 .. n - 1 (their centres in x_, y_): the order, then passes until one takes
// nothing; ordinal_ by slot for the last pass's items, *n_out of them, in order in slot_, x_, y_.
template <typename Access>
Status Sweep::sweep_zoom(Access& acc, std::uint32_t n, int zoom, std::uint32_t* n_out) noexcept {
    Status s = order(acc, n, zoom);
    std::uint32_t live = n;
    for (bool first = true; s == Status::Ok; first = false) {
        std::size_t taken = 0;
        s = pass(acc, &live, zoom, first, &taken);
        if (taken == 0) break;
    }
    put(ent_);
    ent_room_ = 0;
    if (s == Status::Ok) s = get(&ordinal_, n);
    if (s != Status::Ok) return s;
    for (std::uint32_t k = 0; k < live; ++k) ordinal_[slot_[k]] = k;
    *n_out = live;
    return Status::Ok;
}

// Zoom zoom swept over the n items held (by slot: ref_, x_, y_): on Ok the clusters held are
// the zoom's (the pool compacted, the zoom's arrays released) and *cluster (n entries, the
// caller's, also when a later step fails) each input's ordinal.
Status Sweep::sweep_held(std::uint32_t n, int zoom, std::uint32_t** cluster) noexcept {
    *cluster = nullptr;
    Status s = get_zoom_arrays(n);
    if (s != Status::Ok) return s;
    RefAccess acc{this};
    std::uint32_t n_out = 0;
    s = sweep_zoom(acc, n, zoom, &n_out);
    if (s != Status::Ok) return s;
    Poller poll(cancel_);
    for (std::uint32_t j = 0; j < n; ++j) {  // every link to its root, then the roots' ordinals
        root(j);
        if (poll.canceled(1)) return Status::Canceled;
    }
    for (std::uint32_t j = 0; j < n; ++j) into_[j] = ordinal_[into_[j]];
    s = keep_clusters(n, n_out);
    *cluster = into_;
    into_ = nullptr;
    put_zoom_arrays();
    return s;
}

// Zoom zoom swept over the markers (validated and projected here): sweep_held's result, each
// marker's ordinal in *cluster.
Status Sweep::sweep_markers(const HierMarker* markers, std::size_t n, int zoom,
                            std::uint32_t** cluster) noexcept {
    *cluster = nullptr;
    if (n >= kPooled) return Status::StateTooLarge;  // a reference holds a marker in 31 bits
    const auto n32 = static_cast<std::uint32_t>(n);
    singles_ = markers;
    Status s = get(&x_, n);
    if (s == Status::Ok) s = get(&y_, n);
    if (s == Status::Ok) s = get(&ref_, n);
    if (s != Status::Ok) return s;
    room_ = n;
    Poller poll(cancel_);
    for (std::uint32_t i = 0; i < n32; ++i) {  // validated as cluster_add_point does
        s = validate_lat_lon(markers[i].lat, markers[i].lon);
        if (s != Status::Ok) return s;
        x_[i] = static_cast<double>(fixed_x_of_lon(markers[i].lon + 0.0));
        y_[i] = static_cast<double>(fixed_y_of_lat(markers[i].lat + 0.0));
        ref_[i] = i;
        if (poll.canceled(1)) return Status::Canceled;
    }
    return sweep_held(n32, zoom, cluster);
}

Status Sweep::cluster_markers(const HierMarker* markers, std::size_t n, int zoom,
                              std::int64_t** ordinal_of_marker) noexcept {
    *ordinal_of_marker = nullptr;
    std::uint32_t* leaf = nullptr;
    Status s = sweep_markers(markers, n, zoom, &leaf);
    if (s == Status::Ok) s = keep_singles();
    if (s == Status::Ok) s = keep_centres(n_);
    // The markers' 8-byte ordinals made only once the zoom's arrays are gone.
    std::int64_t* out = nullptr;
    if (s == Status::Ok) s = get(&out, n);
    for (std::size_t m = 0; s == Status::Ok && m < n; ++m) out[m] = leaf[m];
    put(leaf);
    if (s == Status::Ok) *ordinal_of_marker = out;
    return s;
}

Status Sweep::cluster_markers_in_place(HierMarker* markers, std::size_t n, int zoom,
                                       std::uint32_t* n_single) noexcept {
    *n_single = 0;
    std::uint32_t* cluster = nullptr;
    Status s = sweep_markers(markers, n, zoom, &cluster);
    if (s == Status::Ok) s = reorder_markers(markers, n, cluster, n_single);
    put(cluster);
    if (s == Status::Ok) s = keep_centres(n_);
    if (s == Status::Ok) {
        singles_ = markers;
        in_place_ = true;
    }
    return s;
}

// Each markers[i] moved to place[i] (place a permutation of 0..n), in place. A cycle through
// the whole array was a cache miss a step, one after another (1.6 s at 10M markers), so first
// every marker goes to its bucket of 2^13 places (American flag: each bucket's next free place
// is read in order, about 1,200 streams at 10M, whose heads stay in cache), then the cycles
// inside each bucket, in cache.
Status Sweep::permute(HierMarker* markers, std::uint32_t* place, std::uint32_t n) noexcept {
    constexpr int kBucketBits = 13;
    const std::uint32_t n_buckets = (n >> kBucketBits) + 1;
    std::uint32_t* next = nullptr;
    Status s = get(&next, n_buckets);
    if (s != Status::Ok) return s;
    for (std::uint32_t b = 0; b < n_buckets; ++b) next[b] = b << kBucketBits;
    Poller poll(cancel_);
    for (std::uint32_t b = 0; s == Status::Ok && b < n_buckets; ++b) {
        const std::uint32_t end = std::min(n, (b + 1) << kBucketBits);
        while (next[b] < end) {
            const std::uint32_t i = next[b], t = place[i] >> kBucketBits;
            if (t == b) {
                ++next[b];
                continue;
            }
            const std::uint32_t j = next[t]++;  // its bucket's next place takes it for good
            std::swap(markers[i], markers[j]);
            std::swap(place[i], place[j]);
        }
        if (poll.canceled(end - (b << kBucketBits) + 1)) s = Status::Canceled;
    }
    put(next);
    for (std::uint32_t i = 0; s == Status::Ok && i < n; ++i) {
        while (place[i] != i) {
            const std::uint32_t to = place[i];
            std::swap(markers[i], markers[to]);
            std::swap(place[i], place[to]);
        }
        if (poll.canceled(1)) s = Status::Canceled;
    }
    return s;
}

// The markers reordered as cluster_markers_in_place says, from each one's ordinal (cluster, n_
// clusters held): each marker's place (singles by rank, the others after them cluster by
// cluster, in marker order within one), made in cluster's memory, then the markers moved there
// (permute). The single clusters' references become their ranks.
Status Sweep::reorder_markers(HierMarker* markers, std::size_t n, std::uint32_t* cluster,
                              std::uint32_t* n_single) noexcept {
    std::uint32_t* next = nullptr;  // by ordinal: the next place of its markers
    Status s = get(&next, n_);
    if (s != Status::Ok) return s;
    std::uint32_t singles = 0;
    for (std::uint32_t k = 0; k < n_; ++k) singles += single(k) ? 1 : 0;
    std::uint32_t n_markers = singles;
    for (std::uint32_t k = 0, rank = 0; k < n_; ++k) {
        if (single(k)) {
            ref_[k] = next[k] = rank++;
        } else {
            next[k] = n_markers;
            n_markers += static_cast<std::uint32_t>(pooled(ref_[k] & ~kPooled).count);
        }
    }
    if (n_markers != n) s = Status::Internal;
    Poller poll(cancel_);
    for (std::uint32_t i = 0; s == Status::Ok && i < n_markers; ++i) {
        cluster[i] = next[cluster[i]]++;
        if (poll.canceled(1)) s = Status::Canceled;
    }
    put(next);
    if (s == Status::Ok) s = permute(markers, cluster, n_markers);
    if (s == Status::Ok) *n_single = singles;
    return s;
}

Status Sweep::cluster_coarser_into(int zoom, std::uint32_t** cluster_of_finer) noexcept {
    Status s = sweep_held(n_, zoom, cluster_of_finer);
    if (s == Status::Ok) s = keep_singles();
    if (s == Status::Ok) s = keep_centres(n_);
    return s;
}

Status Sweep::cluster_coarser(int zoom, std::uint32_t* cluster_of_finer) noexcept {
    const std::uint32_t n = n_;
    std::uint32_t* made = nullptr;
    const Status s = cluster_coarser_into(zoom, &made);
    if (s == Status::Ok) std::memcpy(cluster_of_finer, made, sizeof(std::uint32_t) * n);
    put(made);
    return s;
}

Item Sweep::cluster(std::uint32_t k) const noexcept {
    const std::uint32_t r = ref_[k];
    Item it = (r & kPooled) != 0
                  ? pooled(r & ~kPooled)
                  : hier_item_of_marker_at(singles_[r], static_cast<std::uint64_t>(x_[k]),
                                           static_cast<std::uint64_t>(y_[k]));
    it.rank = k;
    return it;
}

}  // namespace hier_sweep
}  // namespace geocluster
