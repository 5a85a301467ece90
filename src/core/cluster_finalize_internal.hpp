// Internals of cluster_agg's finaliser, shared by its files (one per phase, over this header):
//   cluster_finalize.cpp         run and the entry points (the algorithm: docs/cluster-engine.md)
//   cluster_finalize_grid.cpp    the neighbour grid: patching it between passes, indexing it
//   cluster_finalize_passes.cpp  the seed order, the first pass and the later passes
//   cluster_finalize_output.cpp  the output order and the results
//   cluster_items.cpp            item arithmetic and an item's output row
// and the state of each phase in cluster_finalize_state.hpp.
// Not part of the API: include cluster.hpp.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "cluster_finalize_state.hpp"
#include "cluster_items.hpp"
#include "polled_sort.hpp"
#include "radix_sort.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace geocluster {
namespace cluster_internal {
namespace finalize {

// An item's centre: exactly q + r / count fixed units (r < count), and as doubles.
struct Centre {
    std::uint64_t qx, rx, qy, ry;
    double x, y;
};

struct Pos {
    double x, y;
};

// A sort key of up to 128 bits, for orders whose fields do not pack into one uint64 (far-apart
// data at tiny radii: columns, rows and bin keys of 40 to 50 bits each).
struct Key128 {
    std::uint64_t hi, lo;
};
constexpr auto key128_less = [](const Key128& a, const Key128& b) noexcept {
    return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
};
inline Key128 key128(u128 v) noexcept {
    return Key128{static_cast<std::uint64_t>(v >> 64), static_cast<std::uint64_t>(v)};
}

// Sort entries for the rarest orders, that do not pack into 128 bits (see seed_order and
// output_order): seed order by key[0..2], then the grid row it carries.
struct SeedEntry {
    std::uint64_t key[3];
    std::uint32_t row;
    std::uint32_t unused;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kNone = 0xFFFFFFFFu;

inline Item item_from_bin(const Bin& b) noexcept {
    const bool west = (b.kx & 1) != 0;
    Item it;
    it.count = b.count;
    it.count_w = west ? b.count : 0;
    it.sx_e = west ? Wide{0, 0} : wide_make(bin_sum_x(b));
    it.sx_w = west ? wide_make(bin_sum_x(b)) : Wide{0, 0};
    it.sy = wide_make(bin_sum_y(b));
    it.min_lat = b.min_lat;
    it.max_lat = b.max_lat;
    it.min_lon_e = west ? kInf : b.min_lon;
    it.max_lon_e = west ? -kInf : b.max_lon;
    it.min_lon_w = west ? b.min_lon : kInf;
    it.max_lon_w = west ? b.max_lon : -kInf;
    it.min_id = b.min_id;
    it.rank = 0;
    it.has_id = static_cast<std::uint32_t>(b.has_id);
    return it;
}

// item_add(d, item_from_bin(b)) but the rank, without building the item (a temporary item costs
// a store and reload of its 128 bytes per bin): the same operations on the same values, leaving
// out those that cannot change d (adding 0, min with +inf, max with -inf).
inline void item_add_bin(Item& d, const Bin& b) noexcept {
    d.count += b.count;
    if ((b.kx & 1) != 0) {  // west
        d.count_w += b.count;
        wide_add(d.sx_w, bin_sum_x(b));
        d.min_lon_w = std::min(d.min_lon_w, b.min_lon);
        d.max_lon_w = std::max(d.max_lon_w, b.max_lon);
    } else {
        wide_add(d.sx_e, bin_sum_x(b));
        d.min_lon_e = std::min(d.min_lon_e, b.min_lon);
        d.max_lon_e = std::max(d.max_lon_e, b.max_lon);
    }
    wide_add(d.sy, bin_sum_y(b));
    d.min_lat = std::min(d.min_lat, b.min_lat);
    d.max_lat = std::max(d.max_lat, b.max_lat);
    if (b.has_id != 0 && (d.has_id == 0 || b.min_id < d.min_id)) {
        d.min_id = b.min_id;
        d.has_id = 1;
    }
}

// Contract 3: the box that crosses the antimeridian wins only when strictly shorter, which needs
// members on both sides. West members all have lon < 0 <= every east member's lon, so the
// ordinary box is [min_lon_w, max_lon_e].
inline bool crosses(const Item& it) noexcept {
    if (it.count_w == 0 || it.count_w == it.count) return false;
    const double ordinary = it.max_lon_e - it.min_lon_w;
    const double crossing = 360.0 - (it.min_lon_e - it.max_lon_w);
    return crossing < ordinary;
}

// The centre of count members whose positions add up to (nx, ny), west members of a crossing
// cluster counted at x + 1.
inline void centre_from_sums(u128 nx, u128 ny, std::uint64_t count, Centre* c) noexcept {
    // Means stay below 2^49 (positions are <= 2^48, shifted ones <= 2^49, and a crossing cluster
    // has an unshifted member), so the quotients fit 64 bits.
    std::uint64_t qx, rx;
    if (count == 1) {  // the same quotients, without a division: a lone marker's bin
        qx = static_cast<std::uint64_t>(nx);
        rx = 0;
        c->qy = static_cast<std::uint64_t>(ny);
        c->ry = 0;
    } else if ((nx >> 64) == 0 && (ny >> 64) == 0) {
        // The sums fit 64 bits (always below 2^15 members): the same quotients from the hardware
        // divider instead of the 128-bit division routine, which costs several times more.
        const auto nx64 = static_cast<std::uint64_t>(nx), ny64 = static_cast<std::uint64_t>(ny);
        qx = nx64 / count;
        rx = nx64 % count;
        c->qy = ny64 / count;
        c->ry = ny64 % count;
    } else {
        qx = static_cast<std::uint64_t>(nx / count);
        rx = static_cast<std::uint64_t>(nx % count);
        c->qy = static_cast<std::uint64_t>(ny / count);
        c->ry = static_cast<std::uint64_t>(ny % count);
    }
    if (qx > kFixedOne || (qx == kFixedOne && rx > 0)) qx -= kFixedOne;  // wrap back into [0, 1]
    c->qx = qx;
    c->rx = rx;
    const double n = static_cast<double>(count);
    c->x = static_cast<double>(c->qx) + static_cast<double>(c->rx) / n;
    c->y = static_cast<double>(c->qy) + static_cast<double>(c->ry) / n;
}

inline void centre_of(const Item& it, Centre* c) noexcept {
    u128 nx = wide_load(it.sx_e) + wide_load(it.sx_w);
    if (crosses(it)) nx += static_cast<u128>(it.count_w) << kFixedBits;  // west members at x + 1
    centre_from_sums(nx, wide_load(it.sy), it.count, c);
}

// centre_of(item_from_bin(b)): a bin's members all lie on one side of the antimeridian
// (cluster_internal.hpp), so it never crosses it.
inline void centre_of_bin(const Bin& b, Centre* c) noexcept {
    centre_from_sums(bin_sum_x(b), bin_sum_y(b), b.count, c);
}

// The Finalizer holds what its phases share: the input and geometry (fixed for a run), the scratch
// memory, the poll, the grid with its index, and the items. Each phase's own state (FirstPass,
// SeedOrder, OutputOrder) lives in that phase. Its arrays are all trivially destructible and
// released explicitly: it has no destructor on purpose. The first pass works on the units (grid
// entries and seeds are units) and creates the items: its seeds, numbered in seed order. Items
// then keep their number (absorbed items are marked dead).
class Finalizer {
  public:
    Finalizer(const ClusterState* st, CancelCheck cancel) noexcept
        : mem_(st->alloc, cluster_estimate_bytes(st)), poll_(cancel) {
        in_.st = st;
    }

    Status run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
               std::size_t* n_assign) noexcept;
    // run on given items instead of the state's bins (the state gives the parameters only),
    // with the clusters as items (emit_items).
    Status run_items(const Item* items, std::uint32_t n, ItemClusters* out) noexcept {
        in_.items = items;
        in_.n = n;
        in_.items_out = out;
        return run(true, nullptr, nullptr, nullptr);
    }
    ClusterFinalizeStats stats() const noexcept {
        return ClusterFinalizeStats{passes_, mem_.peak, cluster_estimate_bytes(in_.st),
                                    near_visits_};
    }
    bool over_budget() const noexcept { return mem_.over_budget; }

  private:
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
        return mem_.get(p, n);
    }
    template <typename T>
    void put(T*& p, std::size_t n) noexcept {
        mem_.put(p, n);
    }
    template <typename T>
    static void carve(T** array, std::size_t n, unsigned char** at) noexcept {
        *array = reinterpret_cast<T*>(*at);
        *at += n * sizeof(T);
    }
    Status get_item_arrays() noexcept;
    Status get_item_sums() noexcept;
    void release_scratch() noexcept {
        put(grid_.entries, in_.n);
        put(items_.block, items_.block_bytes);
        items_.count = nullptr;
        items_.rank = items_.head = items_.next = nullptr;
        items_.state = items_.mark = nullptr;
        const Allocator& a = mem_.allocator();
        if (items_.sum != nullptr) a.release(a.ctx, items_.sum);
        items_.sum = nullptr;
        release_index();
    }
    void release_index() noexcept {
        put(index_.starts, index_.n_starts);
        for (GridCursor& c : index_.cursor) c.at = nullptr;
        index_.row_lo = index_.row_hi = GridIndex::kNoRow;
    }
    bool canceled(std::uint64_t work) noexcept { return poll_.canceled(work); }
    std::uint64_t col_of(double x) const noexcept {
        return static_cast<std::uint64_t>(x / geo_.cell);
    }
    std::uint64_t row_of(double y) const noexcept {
        return static_cast<std::uint64_t>(y / geo_.cell);
    }
    // The least position whose column (or row) is at least k: col_of is monotone, so
    // col_of(x) < k exactly when x < cell_start(k). From k * cell, moved by ulps to the edge.
    double cell_start(std::uint64_t k) const noexcept {
        const auto step = [](double x, std::int64_t by) noexcept {  // by ulps, x >= 0 finite
            std::uint64_t bits;
            std::memcpy(&bits, &x, sizeof bits);
            bits += static_cast<std::uint64_t>(by);
            std::memcpy(&x, &bits, sizeof x);
            return x;
        };
        double x = static_cast<double>(k) * geo_.cell;
        while (x > 0.0 && col_of(x) >= k) x = step(x, -1);
        while (col_of(x) < k) x = step(x, 1);
        return x;
    }
    // A grid entry's unit (while the grid holds units: the first pass) or item (after it).
    static std::uint32_t unit_of(const GridEntry& e) noexcept { return e.id; }
    static std::uint32_t item_of(const GridEntry& e) noexcept { return e.id; }
    bool within(Pos p, const GridEntry& e) const noexcept {
        double dx = std::fabs(p.x - e.x);
        if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
        const double dy = p.y - e.y;
        return dx * dx + dy * dy < geo_.reach2;
    }
    // A unit alone: its centre, and its sums as an item.
    Pos unit_pos(std::uint32_t u) const noexcept {
        Centre c;
        if (in_.items != nullptr) {
            centre_of(in_.items[u], &c);
        } else {
            centre_of_bin(in_.st->bins[u], &c);
        }
        return Pos{c.x, c.y};
    }
    // Item i, added up from its members (*members: how many, for the poll).
    Item item_sum(std::uint32_t i, std::uint64_t* members) const noexcept;
    // Item i's exact centre (*members, when given: the members added up for it, for the poll).
    Centre exact_centre(std::uint32_t i, std::uint64_t* members = nullptr) const noexcept;
    // Item i takes item j: one ring, one count, the smaller rank (and the sum, when kept).
    void join(std::uint32_t i, std::uint32_t j) noexcept {
        items_.count[i] += items_.count[j];
        items_.rank[i] = std::min(items_.rank[i], items_.rank[j]);
        std::swap(items_.next[items_.head[i]], items_.next[items_.head[j]]);
        if (items_.sum != nullptr) item_add(items_.sum[i], items_.sum[j]);
    }

    template <typename PosOf>
    Status sorted_cells(std::uint32_t n, PosOf&& pos_of, const std::uint32_t* index,
                        GridEntry* out) noexcept;
    Status first_pass(bool* absorbed) noexcept;
    Status first_pass_seeds(FirstPass* first) noexcept;
    Status first_pass_rings(FirstPass* first, bool* any_dirty) noexcept;
    Status first_pass_items(bool* absorbed) noexcept;
    Status rank_items() noexcept;
    // What rank_items_at learns of the given items in one sweep (given_positions).
    struct GivenSpan {
        std::uint64_t col_min, col_max, row_min, row_max;
        bool dense_ranks;
    };
    Status given_positions(Pos* pos, std::uint32_t* item_of_given, GivenSpan* span) noexcept;
    Status rank_items_at(Pos* pos) noexcept;
    template <typename T, typename Sort, typename Row>
    Status order_from_keys(T* keys, std::uint32_t n, Sort&& sort, Row&& row_of_key,
                           SeedOrder* order) noexcept;
    template <typename F>
    bool for_each_seed_candidate(const BinKeyRange* bins, F&& f) noexcept;
    Status seed_order(std::uint32_t n_seeds, std::uint64_t max_count, const BinKeyRange* bins,
                      SeedOrder* order) noexcept;
    Status update_grid(std::uint32_t* n_dirty) noexcept;
    Status index_grid() noexcept;
    template <typename F>
    std::uint64_t for_each_near(Pos q, F&& visit) noexcept;
    void rows_start(std::uint64_t lo, std::uint64_t hi, double* y_lo, double* y_hi) noexcept;
    const GridCursor& seek(std::uint64_t col, double y) noexcept;
    Status pass(bool* absorbed, bool grid_ready = false) noexcept;
    Status pass_candidates(std::uint32_t n_dirty, std::uint32_t* n_seeds,
                           std::uint64_t* max_count) noexcept;
    Status pass_absorb(const SeedOrder& order, bool* any) noexcept;
    Status output_order(OutputOrder* order) noexcept;
    template <typename Less>
    Status radix_sorted(const OutEntry* entries, OutEntry* tmp, std::uint32_t n, Less&& less,
                        OutEntry** sorted) noexcept;
    template <typename Row, typename Input, typename RowOf, typename InputOf>
    Status emit_order(Row** rows, std::uint32_t* n_rows, Input** inputs, RowOf&& row,
                      InputOf&& input) noexcept;
    Status emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                std::size_t* n_assign) noexcept;
    Status emit_items() noexcept;
    Status sums_in_order(const OutputOrder& order) noexcept;

    Input in_;
    Geometry geo_;
    Scratch mem_;
    Poller poll_;
    Grid grid_;
    GridIndex index_;
    Items items_;
    std::uint32_t passes_ = 0;
    std::uint64_t near_visits_ = 0;  // grid entries visited by neighbour queries
};

// Writes n grid entries to out, sorted by cell (ties in any order: what a query does with a
// cell's entries does not depend on their order): entry k at pos_of(k), for item index[k]
// (index null: k). pos_of is called up to three times per entry. Canceled, OutOfMemory.
template <typename PosOf>
Status Finalizer::sorted_cells(std::uint32_t n, PosOf&& pos_of, const std::uint32_t* index,
                               GridEntry* out) noexcept {
    if (n == 0) return Status::Ok;
    const auto item = [index](std::uint32_t k) noexcept { return index ? index[k] : k; };
    std::uint64_t col_min = ~std::uint64_t{0}, col_max = 0;
    std::uint64_t row_min = ~std::uint64_t{0}, row_max = 0;
    for (std::uint32_t k = 0; k < n; ++k) {
        const Pos p = pos_of(k);
        col_min = std::min(col_min, col_of(p.x));
        col_max = std::max(col_max, col_of(p.x));
        row_min = std::min(row_min, row_of(p.y));
        row_max = std::max(row_max, row_of(p.y));
        if (canceled(1)) return Status::Canceled;
    }
    // Packed: (column - col_min, row - row_min, k), which sorts like the cell and carries k. It
    // fits whenever the occupied cells span less than about 2^44 / n cells (any viewport); only
    // tiny radii over far-apart data need the comparison sort.
    const int row_bits = bit_width(row_max - row_min), index_bits = bit_width(n - 1);
    const int bits = bit_width(col_max - col_min) + row_bits + index_bits;
    const auto packed = [&](std::uint32_t k) noexcept {
        const Pos p = pos_of(k);
        return (static_cast<u128>(col_of(p.x) - col_min) << row_bits | (row_of(p.y) - row_min))
                   << index_bits |
               k;
    };
    const std::uint64_t index_mask = (std::uint64_t{1} << index_bits) - 1;
    // Either key width: the keys (key_of(k)), sorted (sort(keys, tmp): the sorted buffer, null
    // when canceled), then the entries in their order (index_of(key): the k a key carries).
    const auto by_keys = [&](auto&& key_of, auto&& sort, auto&& index_of) noexcept {
        using Key = decltype(key_of(std::uint32_t{0}));
        Key *keys = nullptr, *tmp = nullptr;
        if (get(&keys, n) != Status::Ok || get(&tmp, n) != Status::Ok) {
            put(keys, n);
            return Status::OutOfMemory;
        }
        Status s = Status::Ok;
        for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
            keys[k] = key_of(k);
            if (canceled(1)) s = Status::Canceled;
        }
        const Key* sorted = s == Status::Ok ? sort(keys, tmp) : nullptr;
        if (s == Status::Ok && sorted == nullptr) s = Status::Canceled;
        for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
            const std::uint32_t from = index_of(sorted[k]);
            const Pos p = pos_of(from);
            out[k] = GridEntry{p.x, p.y, item(from), 0};
            if (canceled(1)) s = Status::Canceled;
        }
        put(tmp, n);
        put(keys, n);
        return s;
    };
    if (bits > 64) {  // at most 42 + 42 + 32 bits (cells are at least 65 fixed units wide)
        return by_keys([&](std::uint32_t k) noexcept { return key128(packed(k)); },
                       [&](Key128* keys, Key128* tmp) noexcept {
                           return polled_sort(keys, tmp, n, key128_less, poll_);
                       },
                       [index_mask](const Key128& key) noexcept {
                           return static_cast<std::uint32_t>(key.lo & index_mask);
                       });
    }
    return by_keys([&](std::uint32_t k) noexcept { return static_cast<std::uint64_t>(packed(k)); },
                   [&](std::uint64_t* keys, std::uint64_t* tmp) noexcept {
                       return radix_sort(keys, tmp, n, index_bits, bits, poll_);
                   },
                   [index_mask](std::uint64_t key) noexcept {
                       return static_cast<std::uint32_t>(key & index_mask);
                   });
}

// Calls visit(grid entry) for every live item whose cell meets the square of half-width geo_.query
// around q, columns wrapping around the world (x = 0 and x = 2^48 are the same meridian).
// geo_.query is a little more than the reach, so an item within reach by the double arithmetic of
// within() always lies in a visited cell; cells are a little wider than geo_.query, so the square
// (side 2 geo_.query, under two cells) meets at most 3 x 3 cells. Returns the number of entries
// visited (work for the poll).
template <typename F>
std::uint64_t Finalizer::for_each_near(Pos q, F&& visit) noexcept {
    const double g = geo_.cell, r = geo_.query;
    const double world = kFixedOneD;
    struct Range {
        std::uint64_t lo, hi;
    } cols[2];
    int n_cols = 0;
    if (2.0 * r >= world) {
        cols[n_cols++] = Range{0, geo_.last_col};
    } else {
        const double a = q.x - r, b = q.x + r;
        cols[n_cols++] = Range{static_cast<std::uint64_t>(std::max(a, 0.0) / g),
                               static_cast<std::uint64_t>(std::min(b, world) / g)};
        if (a < 0.0)
            cols[n_cols++] = Range{static_cast<std::uint64_t>((a + world) / g), geo_.last_col};
        if (b > world) cols[n_cols++] = Range{0, static_cast<std::uint64_t>((b - world) / g)};
        // Two ranges at most (2r < world: only one end can wrap); join them if they overlap.
        if (n_cols == 2) {
            if (cols[1].lo < cols[0].lo) std::swap(cols[0], cols[1]);
            if (cols[1].lo <= cols[0].hi + 1) {
                cols[0].hi = std::max(cols[0].hi, cols[1].hi);
                n_cols = 1;
            }
        }
    }
    const auto row_lo = static_cast<std::uint64_t>(std::max(q.y - r, 0.0) / g);
    const auto row_hi = static_cast<std::uint64_t>(std::min(q.y + r, world) / g);
    std::uint64_t visited = 0;
    double y_lo = -1.0, y_hi = -1.0;  // where rows row_lo and row_hi + 1 start, once needed
    for (int c = 0; c < n_cols; ++c) {
        for (std::uint64_t col = cols[c].lo; col <= cols[c].hi; ++col) {
            if (col < index_.box_col || col - index_.box_col >= index_.box_cols) continue;
            if (index_.box_rows != 0) {  // the entries of rows lo .. hi are one run
                const std::uint64_t lo = std::max(row_lo, index_.box_row);
                const std::uint64_t hi = std::min(row_hi, index_.box_row + index_.box_rows - 1);
                if (lo > hi) continue;
                const std::uint64_t first =
                    (col - index_.box_col) * index_.box_rows - index_.box_row;
                const GridEntry* end = grid_.entries + index_.starts[first + hi + 1];
                for (const GridEntry* it = grid_.entries + index_.starts[first + lo]; it != end;
                     ++it) {
                    visit(*it);
                    ++visited;
                }
                continue;
            }
            // The run's entries of column col, rows row_lo .. row_hi, found by comparing
            // positions with where the column and rows start: no division per comparison.
            if (y_lo < 0.0) rows_start(row_lo, row_hi, &y_lo, &y_hi);
            const GridCursor& cur = seek(col, y_lo);
            const GridEntry* it = cur.at;
            const GridEntry* end =
                grid_.entries + index_.starts[((col - index_.box_col) >> index_.col_shift) + 1];
            for (; it != end && it->x < cur.x_hi && it->y < y_hi; ++it) {
                visit(*it);
                ++visited;
            }
        }
    }
    near_visits_ += visited;
    return visited;
}

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
