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

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "mercator.hpp"
#include "polled_sort.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace geocluster {

using namespace cluster_internal;

namespace {

// An item's centre: exactly q + r / count fixed units (r < count), and as doubles.
struct Centre {
    std::uint64_t qx, rx, qy, ry;
    double x, y;
};

struct Pos {
    double x, y;
};

// A neighbour-grid entry: an item (a bin, in the first pass) at its centre. The grid is sorted
// by cell (column, then row: cells of side cell_, see Finalizer::run), so a column's cells are
// contiguous and, within it, ordered by row; an entry's cell is computed from x and y.
struct GridEntry {
    double x, y;
    std::uint32_t index;
    std::uint32_t unused;
};
static_assert(sizeof(GridEntry) == 24, "three words per grid entry");

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
// The output order: key is a prefix of the order (count, then the centre's row), the rest is
// decided from the item itself when two keys are equal.
struct OutEntry {
    std::uint64_t key;
    std::uint32_t item;
    std::uint32_t unused;
};
static_assert(sizeof(OutEntry) == 16, "an output sort entry is two words");

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kNone = 0xFFFFFFFFu;

// Bits needed to write v: 0 for 0.
int bit_width(std::uint64_t v) noexcept { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

// Sorts keys[0..n) ascending by their bits [low, high) (all bits at or above high being 0); tmp
// has room for n keys. Returns the array that holds the result (keys or tmp), or nullptr when
// poll said cancel (it is asked after every counting pass over the keys). The bits below
// low carry an index through the sort and decide nothing the callers care about (their keys
// are unique above low, or equal ones may come in any order), so small arrays are simply
// sorted whole.
// Why a radix sort: the sorted fields fit in a few dozen bits, so one to three counting passes
// beat the n log n unpredictable branches of a comparison sort from a few dozen keys on.
// Digits of at most 11 bits (a 2048-bucket count array stays in L1), as many as needed, of
// equal width.
std::uint64_t* radix_sort(std::uint64_t* keys, std::uint64_t* tmp, std::uint32_t n, int low,
                          int high, Poller& poll) noexcept {
    constexpr int kMaxDigitBits = 11;
    if (n < 64) {  // below that, clearing and summing the buckets costs more than it saves
        std::sort(keys, keys + n);
        return keys;
    }
    const int bits = high - low;
    const int digits = (bits + kMaxDigitBits - 1) / kMaxDigitBits;
    const int digit_bits = digits == 0 ? 0 : (bits + digits - 1) / digits;
    const std::uint64_t mask = (std::uint64_t{1} << digit_bits) - 1;
    std::uint32_t count[std::size_t{1} << kMaxDigitBits];
    for (int shift = low; shift < high; shift += digit_bits) {
        std::memset(count, 0, (mask + 1) * sizeof count[0]);
        for (std::uint32_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) & mask];
        if (count[(keys[0] >> shift) & mask] == n) continue;  // one digit value: nothing to do
        std::uint32_t sum = 0;
        for (std::uint64_t b = 0; b <= mask; ++b) {
            const std::uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (std::uint32_t i = 0; i < n; ++i) tmp[count[(keys[i] >> shift) & mask]++] = keys[i];
        std::swap(keys, tmp);
        if (poll.canceled(n)) return nullptr;
    }
    return keys;
}

Item item_from_bin(const Bin& b) noexcept {
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

}  // namespace

namespace cluster_internal {

void item_add(Item& d, const Item& s) noexcept {
    d.count += s.count;
    d.count_w += s.count_w;
    wide_add(d.sx_e, wide_load(s.sx_e));
    wide_add(d.sx_w, wide_load(s.sx_w));
    wide_add(d.sy, wide_load(s.sy));
    d.min_lat = std::min(d.min_lat, s.min_lat);
    d.max_lat = std::max(d.max_lat, s.max_lat);
    d.min_lon_e = std::min(d.min_lon_e, s.min_lon_e);
    d.max_lon_e = std::max(d.max_lon_e, s.max_lon_e);
    d.min_lon_w = std::min(d.min_lon_w, s.min_lon_w);
    d.max_lon_w = std::max(d.max_lon_w, s.max_lon_w);
    if (s.has_id != 0 && (d.has_id == 0 || s.min_id < d.min_id)) {
        d.min_id = s.min_id;
        d.has_id = 1;
    }
    d.rank = std::min(d.rank, s.rank);
}

}  // namespace cluster_internal

namespace {

// item_add(d, item_from_bin(b)) but the rank, without building the item (a temporary item costs
// a store and reload of its 128 bytes per bin): the same operations on the same values, leaving
// out those that cannot change d (adding 0, min with +inf, max with -inf).
void item_add_bin(Item& d, const Bin& b) noexcept {
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
bool crosses(const Item& it) noexcept {
    if (it.count_w == 0 || it.count_w == it.count) return false;
    const double ordinary = it.max_lon_e - it.min_lon_w;
    const double crossing = 360.0 - (it.min_lon_e - it.max_lon_w);
    return crossing < ordinary;
}

// The centre of count members whose positions add up to (nx, ny), west members of a crossing
// cluster counted at x + 1.
void centre_from_sums(u128 nx, u128 ny, std::uint64_t count, Centre* c) noexcept {
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

void centre_of(const Item& it, Centre* c) noexcept {
    u128 nx = wide_load(it.sx_e) + wide_load(it.sx_w);
    if (crosses(it)) nx += static_cast<u128>(it.count_w) << kFixedBits;  // west members at x + 1
    centre_from_sums(nx, wide_load(it.sy), it.count, c);
}

// centre_of(item_from_bin(b)): a bin's members all lie on one side of the antimeridian
// (cluster_internal.hpp), so it never crosses it.
void centre_of_bin(const Bin& b, Centre* c) noexcept {
    centre_from_sums(bin_sum_x(b), bin_sum_y(b), b.count, c);
}

// Output order (contract 5) on exact centres: count descending, then q + r / count, y before x
// (with equal counts, (q, r) orders the same), then rank.
bool output_before(const Item& a, const Centre& ca, const Item& b, const Centre& cb) noexcept {
    if (a.count != b.count) return a.count > b.count;
    if (ca.qy != cb.qy) return ca.qy < cb.qy;
    if (ca.ry != cb.ry) return ca.ry < cb.ry;
    if (ca.qx != cb.qx) return ca.qx < cb.qx;
    if (ca.rx != cb.rx) return ca.rx < cb.rx;
    return a.rank < b.rank;
}

// Item states across passes, and marks within a pass.
enum : std::uint8_t { kClean = 0, kDirty = 1, kDead = 2 };
enum : std::uint8_t { kOut = 0, kCandidate = 1, kDone = 2 };

// The Finalizer owns finalisation's scratch arrays (all trivially destructible, all from the
// state's allocator) and releases them explicitly: it has no destructor on purpose. Its inputs
// ("units") are the state's bins, or given items (run_items). The first pass works on the units
// (grid entries and seeds are units) and creates the items: its seeds, numbered in seed order.
// Items then keep their number (absorbed items are marked dead).
class Finalizer {
public:
    Finalizer(const ClusterState* st, CancelCheck cancel) noexcept
        : st_(st), a_(st->alloc), poll_(cancel), state_bytes_(cluster_estimate_bytes(st)) {}

    Status run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
               std::size_t* n_assign) noexcept;
    // run on given items instead of the state's bins (the state gives the parameters only).
    Status run_items(const Item* items, std::uint32_t n, ItemClusters* out) noexcept {
        input_ = items;
        n_input_ = n;
        items_out_ = out;
        return run(true, nullptr, nullptr, nullptr);
    }
    // run, with the clusters as items (emit_items).
    Status run_to_items(ItemClusters* out) noexcept {
        items_out_ = out;
        return run(true, nullptr, nullptr, nullptr);
    }

    std::uint32_t passes = 0;
    std::size_t peak_scratch = 0;
    bool over_budget = false;  // an allocation was refused by the budget, not by the allocator
    std::uint64_t near_visits = 0;  // grid entries visited by neighbour queries

private:
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
        // The budget bounds the state and this scratch together (cluster.hpp, Allocator).
        if (a_.budget_bytes != 0 && state_bytes_ + live_ + n * sizeof(T) + 1 > a_.budget_bytes) {
            over_budget = true;
            return Status::OutOfMemory;  // StateTooLarge, said by finalize_impl
        }
        *p = static_cast<T*>(a_.alloc(a_.ctx, n * sizeof(T) + 1));  // + 1: never ask for 0 bytes
        if (*p == nullptr) return Status::OutOfMemory;
        live_ += n * sizeof(T) + 1;
        peak_scratch = std::max(peak_scratch, live_);
        return Status::Ok;
    }
    template <typename T>
    void put(T*& p, std::size_t n) noexcept {
        if (p == nullptr) return;
        a_.release(a_.ctx, p);
        live_ -= n * sizeof(T) + 1;
        p = nullptr;
    }
    template <typename T>
    static void carve(T** array, std::size_t n, unsigned char** at) noexcept {
        *array = reinterpret_cast<T*>(*at);
        *at += n * sizeof(T);
    }
    Status get_item_arrays() noexcept;
    void release_scratch() noexcept {
        put(grid_, n0_);
        put(unit_item_, n0_);
        put(order_, n_order_);
        put(item_block_, item_block_bytes_);
        count_ = nullptr;
        rank_ = head_ = next_ = nullptr;
        state_ = mark_ = nullptr;
        release_index();
    }
    void release_index() noexcept { put(starts_, n_starts_); }
    bool canceled(std::uint64_t work) noexcept { return poll_.canceled(work); }
    std::uint64_t col_of(double x) const noexcept { return static_cast<std::uint64_t>(x / cell_); }
    std::uint64_t row_of(double y) const noexcept { return static_cast<std::uint64_t>(y / cell_); }
    bool within(Pos p, const GridEntry& e) const noexcept {
        double dx = std::fabs(p.x - e.x);
        if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
        const double dy = p.y - e.y;
        return dx * dx + dy * dy < reach2_;
    }
    // A unit alone: its centre, and its sums as an item.
    Pos unit_pos(std::uint32_t u) const noexcept {
        Centre c;
        if (input_ != nullptr) {
            centre_of(input_[u], &c);
        } else {
            centre_of_bin(st_->bins[u], &c);
        }
        return Pos{c.x, c.y};
    }
    // Item i, added up from its members (*members: how many, for the poll).
    Item item_sum(std::uint32_t i, std::uint64_t* members) const noexcept;
    // Item i takes item j: one ring, one count, the smaller rank.
    void join(std::uint32_t i, std::uint32_t j) noexcept {
        count_[i] += count_[j];
        rank_[i] = std::min(rank_[i], rank_[j]);
        std::swap(next_[head_[i]], next_[head_[j]]);
    }

    template <typename PosOf>
    Status sorted_cells(std::uint32_t n, PosOf&& pos_of, const std::uint32_t* index,
                        GridEntry* out) noexcept;
    Status first_pass(bool* absorbed) noexcept;
    Status first_pass_items(bool* absorbed) noexcept;
    Status rank_items() noexcept;
    template <typename T, typename Sort, typename Row>
    Status order_from_keys(T* keys, std::uint32_t n, Sort&& sort, Row&& row_of_key) noexcept;
    Status seed_order(std::uint32_t n_seeds, std::uint64_t max_count) noexcept;
    Status update_grid(std::uint32_t* n_dirty) noexcept;
    Status index_grid() noexcept;
    template <typename F>
    std::uint64_t for_each_near(Pos q, F&& visit) noexcept;
    Status pass(bool* absorbed) noexcept;
    Status output_order(std::uint32_t* n, OutEntry** sorted, OutEntry** entries,
                        OutEntry** entries_tmp) noexcept;
    Status emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                std::size_t* n_assign) noexcept;
    Status emit_items() noexcept;

    const ClusterState* st_;
    Allocator a_;
    Poller poll_;
    std::size_t state_bytes_;
    std::size_t live_ = 0;

    std::uint32_t n0_ = 0;       // units
    std::uint32_t n_items_ = 0;  // items: the first pass's seeds (0 until it ends)
    bool first_ = true;          // in the first pass: grid entries and seeds are units
    double query_ = 0;           // half-width of a neighbour query, fixed units, a little > reach
    double cell_ = 0;            // grid cell side, fixed units, a little > query_
    double reach2_ = 0;
    std::uint64_t last_col_ = 0;

    // The grid: live items (first pass: units) by cell, n_grid_ of n0_.
    GridEntry* grid_ = nullptr;
    std::uint32_t n_grid_ = 0;
    // This pass's index of grid_: starts_[b] is the first entry at or after box cell b, for
    // b <= the box's cells. The box is box_cols_ x box_rows_ cells from column box_col_, row
    // box_row_. Cells, when the occupied cells' bounding box has at most about two cells per
    // entry (the usual map viewport): b = (column - box_col_) * box_rows_ + (row - box_row_).
    // Otherwise (sparse data) coarse columns: box_rows_ = 0, and b = (column - box_col_) >>
    // col_shift_, a run of columns sorted by (column, row) that a query searches.
    std::uint32_t* starts_ = nullptr;
    std::uint64_t n_starts_ = 0;
    std::uint64_t box_col_ = 0, box_row_ = 0, box_cols_ = 0, box_rows_ = 0;
    int col_shift_ = 0;
    // This pass's seed order: grid rows (n_order_ of them).
    std::uint32_t* order_ = nullptr;
    std::uint32_t n_order_ = 0;
    // First pass only: the item each unit went to (kNone: not yet taken).
    std::uint32_t* unit_item_ = nullptr;
    // Over the bins, for the widths of the first pass's packed seed keys.
    std::uint64_t max_bin_count_ = 0;
    std::uint64_t kx_min_ = ~std::uint64_t{0}, kx_max_ = 0;
    std::uint64_t ky_min_ = ~std::uint64_t{0}, ky_max_ = 0;

    // The items, one allocation carved into arrays (get_item_arrays), by item number, but next_,
    // which is by unit: every item's members form a ring, head_[i] -> next_ -> ... -> head_[i].
    unsigned char* item_block_ = nullptr;
    std::size_t item_block_bytes_ = 0;
    std::uint64_t* count_ = nullptr;  // points
    std::uint32_t* rank_ = nullptr;   // min over members of their first-pass item numbers
    std::uint32_t* head_ = nullptr;   // a member unit
    std::uint32_t* next_ = nullptr;   // by unit: the next member of its item's ring
    std::uint8_t* state_ = nullptr;   // kClean / kDirty / kDead
    std::uint8_t* mark_ = nullptr;    // this pass: kOut / kCandidate / kDone

    // run_items: the input items (the units); run_items and run_to_items: where emit_items puts
    // the result.
    const Item* input_ = nullptr;
    std::uint32_t n_input_ = 0;
    ItemClusters* items_out_ = nullptr;
};

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
    if (bits > 64) {  // at most 42 + 42 + 32 bits (cells are at least 65 fixed units wide)
        Key128 *keys = nullptr, *tmp = nullptr;
        if (get(&keys, n) != Status::Ok || get(&tmp, n) != Status::Ok) {
            put(keys, n);
            return Status::OutOfMemory;
        }
        Status s = Status::Ok;
        for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
            keys[k] = key128(packed(k));
            if (canceled(1)) s = Status::Canceled;
        }
        const Key128* sorted = s == Status::Ok ? polled_sort(keys, tmp, n, key128_less, poll_) : nullptr;
        if (s == Status::Ok && sorted == nullptr) s = Status::Canceled;
        for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
            const auto from = static_cast<std::uint32_t>(sorted[k].lo & index_mask);
            const Pos p = pos_of(from);
            out[k] = GridEntry{p.x, p.y, item(from), 0};
            if (canceled(1)) s = Status::Canceled;
        }
        put(tmp, n);
        put(keys, n);
        return s;
    }
    std::uint64_t *keys = nullptr, *keys_tmp = nullptr;
    if (get(&keys, n) != Status::Ok || get(&keys_tmp, n) != Status::Ok) {
        put(keys, n);
        return Status::OutOfMemory;
    }
    Status s = Status::Ok;
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        keys[k] = static_cast<std::uint64_t>(packed(k));
        if (canceled(1)) s = Status::Canceled;
    }
    const std::uint64_t* sorted =
        s == Status::Ok ? radix_sort(keys, keys_tmp, n, index_bits, bits, poll_) : nullptr;
    if (s == Status::Ok && sorted == nullptr) s = Status::Canceled;
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        const auto from = static_cast<std::uint32_t>(sorted[k] & index_mask);
        const Pos p = pos_of(from);
        out[k] = GridEntry{p.x, p.y, item(from), 0};
        if (canceled(1)) s = Status::Canceled;
    }
    put(keys_tmp, n);
    put(keys, n);
    return s;
}

// Sorts n keys with sort(keys, tmp) (which returns the array holding the result, or nullptr on
// cancel), then writes row_of_key(sorted key) into order_ (allocated here) and releases the keys.
template <typename T, typename Sort, typename Row>
Status Finalizer::order_from_keys(T* keys, std::uint32_t n, Sort&& sort, Row&& row_of_key) noexcept {
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
    std::uint32_t k = 0;
    if (bits <= 64) {
        std::uint64_t* keys = nullptr;
        if (get(&keys, n_seeds) != Status::Ok) return Status::OutOfMemory;
        const bool done = for_each_candidate([&](std::uint32_t r, std::uint64_t c, std::uint64_t a, std::uint64_t b) noexcept {
            keys[k++] = static_cast<std::uint64_t>(packed(r, c, a, b));
        });
        if (!done) {
            put(keys, n_seeds);
            return Status::Canceled;
        }
        return order_from_keys(
            keys, n_seeds,
            [&](std::uint64_t* x, std::uint64_t* y) noexcept {
                return radix_sort(x, y, n_seeds, row_bits, bits, poll_);
            },
            [row_mask](std::uint64_t key) noexcept { return static_cast<std::uint32_t>(key & row_mask); });
    }
    if (bits <= 128) {
        Key128* keys = nullptr;
        if (get(&keys, n_seeds) != Status::Ok) return Status::OutOfMemory;
        const bool done = for_each_candidate([&](std::uint32_t r, std::uint64_t c, std::uint64_t a, std::uint64_t b) noexcept {
            keys[k++] = key128(packed(r, c, a, b));
        });
        if (!done) {
            put(keys, n_seeds);
            return Status::Canceled;
        }
        return order_from_keys(
            keys, n_seeds,
            [&](Key128* x, Key128* y) noexcept { return polled_sort(x, y, n_seeds, key128_less, poll_); },
            [row_mask](const Key128& key) noexcept { return static_cast<std::uint32_t>(key.lo & row_mask); });
    }
    SeedEntry* entries = nullptr;
    if (get(&entries, n_seeds) != Status::Ok) return Status::OutOfMemory;
    const bool done = for_each_candidate([&](std::uint32_t r, std::uint64_t c, std::uint64_t a, std::uint64_t b) noexcept {
        entries[k++] = SeedEntry{{max_count - c, a, b}, r, 0};
    });
    if (!done) {
        put(entries, n_seeds);
        return Status::Canceled;
    }
    return order_from_keys(
        entries, n_seeds,
        [&](SeedEntry* x, SeedEntry* y) noexcept {
            return polled_sort(x, y, n_seeds, [](const SeedEntry& u, const SeedEntry& v) noexcept {
                if (u.key[0] != v.key[0]) return u.key[0] < v.key[0];
                if (u.key[1] != v.key[1]) return u.key[1] < v.key[1];
                return u.key[2] < v.key[2];
            }, poll_);
        },
        [](const SeedEntry& e) noexcept { return e.row; });
}

// Brings the grid up to date: entries of items that died or moved (the dirty ones) leave, the
// dirty items come back at their new centres. The survivors stay sorted, so this is a filter
// and a merge with the few new entries, not a sort of everything.
Status Finalizer::update_grid(std::uint32_t* n_dirty) noexcept {
    release_index();  // it indexes the grid as it was
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < n_grid_; ++r) {
        if (state_[grid_[r].index] == kClean) grid_[kept++] = grid_[r];
        if (canceled(1)) return Status::Canceled;
    }
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) n += state_[i] == kDirty;
    *n_dirty = n;
    // The dirty items' new centres, then their entries sorted by cell.
    std::uint32_t* dirty = nullptr;
    Pos* pos = nullptr;
    GridEntry* fresh = nullptr;
    const auto release = [&]() noexcept {
        put(fresh, n);
        put(pos, n);
        put(dirty, n);
    };
    if (get(&dirty, n) != Status::Ok || get(&pos, n) != Status::Ok ||
        get(&fresh, n) != Status::Ok) {
        release();
        return Status::OutOfMemory;
    }
    std::uint32_t k = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (state_[i] != kDirty) continue;
        std::uint64_t members = 0;
        Centre c;
        centre_of(item_sum(i, &members), &c);
        dirty[k] = i;
        pos[k++] = Pos{c.x, c.y};
        if (canceled(members)) {
            release();
            return Status::Canceled;
        }
    }
    Status s = sorted_cells(n, [pos](std::uint32_t j) noexcept { return pos[j]; }, dirty, fresh);
    // Merge from the back: live items never outnumber the units, so the grid has the room.
    if (s == Status::Ok) {
        std::int64_t i = static_cast<std::int64_t>(kept) - 1, j = static_cast<std::int64_t>(n) - 1;
        const auto before = [this](const GridEntry& a, const GridEntry& b) noexcept {
            const std::uint64_t ca = col_of(a.x), cb = col_of(b.x);
            return ca != cb ? ca < cb : row_of(a.y) < row_of(b.y);
        };
        for (std::int64_t at = kept + n - 1; j >= 0; --at) {
            grid_[at] = (i >= 0 && before(fresh[j], grid_[i])) ? grid_[i--] : fresh[j--];
            if (canceled(1)) {
                s = Status::Canceled;
                break;
            }
        }
        n_grid_ = kept + n;
    }
    release();
    return s;
}

// Indexes the sorted grid by cell when the bounding box of the occupied cells is small: then a
// query finds the entries of a column's rows with two loads. Otherwise by coarse columns (runs of
// 2^col_shift_ columns, at most one per entry), where a query searches the run for its column:
// 4 bytes per entry either way. (A binary search over the whole grid per query costs ~20 cache
// misses at a million bins; a search within a run of a few entries, one or two.)
Status Finalizer::index_grid() noexcept {
    release_index();
    box_cols_ = 0;  // nothing to visit
    if (n_grid_ == 0) return Status::Ok;
    std::uint64_t row_min = ~std::uint64_t{0}, row_max = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i) {
        row_min = std::min(row_min, row_of(grid_[i].y));
        row_max = std::max(row_max, row_of(grid_[i].y));
        if (canceled(1)) return Status::Canceled;
    }
    box_col_ = col_of(grid_[0].x);  // sorted: the first and last entries hold the extreme columns
    box_row_ = row_min;
    box_cols_ = col_of(grid_[n_grid_ - 1].x) - box_col_ + 1;
    box_rows_ = row_max - row_min + 1;
    // box_cols_ * box_rows_ > limit, without the product (both may be up to 2^42).
    const std::uint64_t limit = 2 * std::uint64_t{n_grid_} + 64;
    col_shift_ = 0;
    if (box_rows_ > limit || box_cols_ > limit / box_rows_) {
        box_rows_ = 0;
        while (((box_cols_ - 1) >> col_shift_) + 1 > n_grid_) ++col_shift_;
        n_starts_ = ((box_cols_ - 1) >> col_shift_) + 2;
    } else {
        n_starts_ = box_cols_ * box_rows_ + 1;
    }
    if (get(&starts_, n_starts_) != Status::Ok) return Status::OutOfMemory;
    // The grid's order (column, then row) is the box cells' order, so one sweep fills starts_.
    std::uint64_t b = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i) {
        const std::uint64_t col = col_of(grid_[i].x) - box_col_;
        const std::uint64_t cell =
            box_rows_ != 0 ? col * box_rows_ + (row_of(grid_[i].y) - box_row_) : col >> col_shift_;
        while (b <= cell) starts_[b++] = i;
        if (canceled(1)) return Status::Canceled;
    }
    while (b < n_starts_) starts_[b++] = n_grid_;
    return Status::Ok;
}

// Calls visit(grid entry) for every live item whose cell meets the square of half-width query_
// around q, columns wrapping around the world (x = 0 and x = 2^48 are the same meridian).
// query_ is a little more than the reach, so an item within reach by the double arithmetic of
// within() always lies in a visited cell; cells are a little wider than query_, so the square
// (side 2 query_, under two cells) meets at most 3 x 3 cells. Returns the number of entries
// visited (work for the poll).
template <typename F>
std::uint64_t Finalizer::for_each_near(Pos q, F&& visit) noexcept {
    const double g = cell_, r = query_;
    const double world = kFixedOneD;
    struct Range {
        std::uint64_t lo, hi;
    } cols[2];
    int n_cols = 0;
    if (2.0 * r >= world) {
        cols[n_cols++] = Range{0, last_col_};
    } else {
        const double a = q.x - r, b = q.x + r;
        cols[n_cols++] = Range{static_cast<std::uint64_t>(std::max(a, 0.0) / g),
                               static_cast<std::uint64_t>(std::min(b, world) / g)};
        if (a < 0.0) cols[n_cols++] = Range{static_cast<std::uint64_t>((a + world) / g), last_col_};
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
    for (int c = 0; c < n_cols; ++c) {
        for (std::uint64_t col = cols[c].lo; col <= cols[c].hi; ++col) {
            if (col < box_col_ || col - box_col_ >= box_cols_) continue;
            if (box_rows_ != 0) {  // the entries of rows lo .. hi are one run
                const std::uint64_t lo = std::max(row_lo, box_row_);
                const std::uint64_t hi = std::min(row_hi, box_row_ + box_rows_ - 1);
                if (lo > hi) continue;
                const std::uint64_t first = (col - box_col_) * box_rows_ - box_row_;
                const GridEntry* end = grid_ + starts_[first + hi + 1];
                for (const GridEntry* it = grid_ + starts_[first + lo]; it != end; ++it) {
                    visit(*it);
                    ++visited;
                }
                continue;
            }
            const std::uint64_t run = (col - box_col_) >> col_shift_;
            const GridEntry* end = grid_ + starts_[run + 1];
            const GridEntry* it = std::lower_bound(
                static_cast<const GridEntry*>(grid_ + starts_[run]), end, col,
                [this, row_lo](const GridEntry& e, std::uint64_t column) noexcept {
                    const std::uint64_t ec = col_of(e.x);
                    return ec != column ? ec < column : row_of(e.y) < row_lo;
                });
            for (; it != end && col_of(it->x) == col && row_of(it->y) <= row_hi; ++it) {
                visit(*it);
                ++visited;
            }
        }
    }
    near_visits += visited;
    return visited;
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
    Status s = sorted_cells(n0_, [this](std::uint32_t b) noexcept { return unit_pos(b); },
                            nullptr, grid_);
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
    std::uint64_t col_min = ~std::uint64_t{0}, col_max = 0, row_min = ~std::uint64_t{0}, row_max = 0;
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

// Output order (contract 5): count descending, then the exact centre, y before x, then rank.
// The sort key holds the count and as much of the centre's row (q of y) as fits; equal keys are
// decided by output_before on the exact centres. *sorted: the live items in that order, in
// *entries (the caller's to release, with *entries_tmp on failure; n entries each).
Status Finalizer::output_order(std::uint32_t* n_out, OutEntry** sorted, OutEntry** entries,
                               OutEntry** entries_tmp) noexcept {
    std::uint32_t n = 0;
    std::uint64_t max_count = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (state_[i] == kDead) continue;
        ++n;
        max_count = std::max(max_count, count_[i]);
    }
    *n_out = n;
    if (get(entries, n) != Status::Ok || get(entries_tmp, n) != Status::Ok)
        return Status::OutOfMemory;
    const int y_bits = 64 - bit_width(max_count);  // max_count >= 1
    const int y_shift = y_bits >= kFixedBits + 1 ? 0 : kFixedBits + 1 - y_bits;  // qy <= 2^48
    n = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (state_[i] == kDead) continue;
        std::uint64_t members = 0;
        Centre c;
        centre_of(item_sum(i, &members), &c);
        (*entries)[n++] = OutEntry{(max_count - count_[i]) << y_bits | c.qy >> y_shift, i, 0};
        if (canceled(members)) return Status::Canceled;
    }
    *sorted = polled_sort(
        *entries, *entries_tmp, n,
        [this](const OutEntry& a, const OutEntry& b) noexcept {
            if (a.key != b.key) return a.key < b.key;
            std::uint64_t members = 0;
            const Item ia = item_sum(a.item, &members), ib = item_sum(b.item, &members);
            Centre ca, cb;
            centre_of(ia, &ca);
            centre_of(ib, &cb);
            return output_before(ia, ca, ib, cb);
        },
        poll_);
    if (*sorted == nullptr) return Status::Canceled;
    // The other buffer goes before the output is allocated.
    if (*sorted == *entries) {
        put(*entries_tmp, n);
    } else {
        put(*entries, n);
        *entries = *entries_tmp;
        *entries_tmp = nullptr;
    }
    return Status::Ok;
}

Status Finalizer::emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                       std::size_t* n_assign) noexcept {
    std::uint32_t n = 0;
    OutEntry *sorted = nullptr, *entries = nullptr, *entries_tmp = nullptr;
    Status s = output_order(&n, &sorted, &entries, &entries_tmp);
    Cluster* clusters = nullptr;
    ClusterBinAssignment* pairs = nullptr;
    if (s == Status::Ok) {
        clusters = static_cast<Cluster*>(a_.alloc(a_.ctx, std::size_t{n} * sizeof(Cluster) + 1));
        if (want_assign)
            pairs = static_cast<ClusterBinAssignment*>(
                a_.alloc(a_.ctx, std::size_t{n0_} * sizeof(ClusterBinAssignment) + 1));
        if (clusters == nullptr || (want_assign && pairs == nullptr)) s = Status::OutOfMemory;
    }
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        const std::uint32_t i = sorted[k].item;
        std::uint64_t members = 0;
        cluster_of_item(item_sum(i, &members), &clusters[k]);
        if (want_assign) {
            std::uint32_t u = head_[i];
            do {
                pairs[u] = ClusterBinAssignment{ClusterBinKey{st_->bins[u].kx, st_->bins[u].ky}, k};
                u = next_[u];
            } while (u != head_[i]);
        }
        if (canceled(members)) s = Status::Canceled;
    }
    put(entries_tmp, n);
    put(entries, n);
    if (s != Status::Ok) {
        if (pairs != nullptr) a_.release(a_.ctx, pairs);
        if (clusters != nullptr) a_.release(a_.ctx, clusters);
        return s;
    }
    if (want_assign) {
        std::sort(pairs, pairs + n0_,
                  [](const ClusterBinAssignment& x, const ClusterBinAssignment& y) noexcept {
                      return x.key.kx != y.key.kx ? x.key.kx < y.key.kx : x.key.ky < y.key.ky;
                  });
        *assign = pairs;
        *n_assign = n0_;
    }
    *out = ClusterList{clusters, n};
    return Status::Ok;
}

// The clusters as items in output order, and the cluster of every input (bin, or given item),
// into *items_out_.
Status Finalizer::emit_items() noexcept {
    std::uint32_t n = 0;
    OutEntry *sorted = nullptr, *entries = nullptr, *entries_tmp = nullptr;
    Status s = output_order(&n, &sorted, &entries, &entries_tmp);
    Item* items = nullptr;
    std::uint32_t* of_input = nullptr;
    if (s == Status::Ok) {
        items = static_cast<Item*>(a_.alloc(a_.ctx, std::size_t{n} * sizeof(Item) + 1));
        of_input = static_cast<std::uint32_t*>(
            a_.alloc(a_.ctx, std::size_t{n0_} * sizeof(std::uint32_t) + 1));
        if (items == nullptr || of_input == nullptr) s = Status::OutOfMemory;
    }
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        const std::uint32_t i = sorted[k].item;
        std::uint64_t members = 0;
        items[k] = item_sum(i, &members);
        std::uint32_t u = head_[i];
        do {
            of_input[u] = k;
            u = next_[u];
        } while (u != head_[i]);
        if (canceled(members)) s = Status::Canceled;
    }
    put(entries_tmp, n);
    put(entries, n);
    if (s != Status::Ok) {
        if (items != nullptr) a_.release(a_.ctx, items);
        if (of_input != nullptr) a_.release(a_.ctx, of_input);
        return s;
    }
    *items_out_ = ItemClusters{items, n, of_input, n0_};
    return Status::Ok;
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

// Runs f on the state with its hash slots released (cluster_internal.hpp, release_slots), and
// rebuilds them after. The cast: the slots are an index, not the state's value, and states are
// never const objects (as for settle).
template <typename F>
Status without_slots(const ClusterState* st, CancelCheck cancel, F&& f) noexcept {
    auto* mst = const_cast<ClusterState*>(st);
    const std::uint64_t n_slots = slot_count(st);
    release_slots(mst);
    const Status s = f();
    Poller poll(cancel);
    const Status restored = restore_slots(mst, n_slots, &poll);
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
    Status s = without_slots(st, cancel, [&]() noexcept {
        Finalizer f(st, cancel);
        Status r = f.run(assign != nullptr, out, assign, n_assign);
        if (r == Status::OutOfMemory && f.over_budget) r = Status::StateTooLarge;
        if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, cluster_estimate_bytes(st), f.near_visits};
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
    const Status s = without_slots(st, cancel, [&]() noexcept {
        Finalizer f(st, cancel);
        const Status r = f.run_to_items(out);
        if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, cluster_estimate_bytes(st), f.near_visits};
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
    if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, cluster_estimate_bytes(params), f.near_visits};
    return s;
}

void item_clusters_free(const Allocator& alloc, ItemClusters* c) noexcept {
    if (c->items != nullptr) alloc.release(alloc.ctx, c->items);
    if (c->cluster_of_input != nullptr) alloc.release(alloc.ctx, c->cluster_of_input);
    *c = ItemClusters{nullptr, 0, nullptr, 0};
}

void cluster_of_item(const Item& it, Cluster* o) noexcept {
    Centre c;
    centre_of(it, &c);
    const long double one = static_cast<long double>(kFixedOneD);
    const long double count = static_cast<long double>(it.count);
    const long double ux =
        (static_cast<long double>(c.qx) + static_cast<long double>(c.rx) / count) / one;
    const long double uy =
        (static_cast<long double>(c.qy) + static_cast<long double>(c.ry) / count) / one;
    o->count = static_cast<std::int64_t>(it.count);
    o->lon = static_cast<double>(ux * 360.0L - 180.0L);
    o->lat = mercator_lat_precise(1.0L - 2.0L * uy);
    o->min_lat = it.min_lat;
    o->max_lat = it.max_lat;
    if (crosses(it)) {
        o->min_lon = it.min_lon_e;
        o->max_lon = it.max_lon_w;
    } else {
        o->min_lon = it.count_w > 0 ? it.min_lon_w : it.min_lon_e;
        o->max_lon = it.count_w < it.count ? it.max_lon_e : it.max_lon_w;
    }
    o->has_id = it.has_id != 0;
    o->id = o->has_id ? it.min_id : 0;
}

}  // namespace cluster_internal

}  // namespace geocluster
