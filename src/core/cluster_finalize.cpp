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
// moved items back in at their new centres), so a later pass costs O(items) of sequential work
// plus O(|C| log |C|), not a full re-sort.
//
// Why each guarantee holds (numbers refer to the contract in cluster.hpp):
//  1. Conservation: items are only ever added together, and every item ends in exactly one
//     item of the next pass (as a seed or taken by exactly one seed: the marks make sure).
//  2. Separation: the loop stops after a pass in which no seed took anything. In that pass every
//     item was a seed when its turn came, and any item within radius of it was not yet taken
//     (nothing was), so it would have been taken: hence no two items are within radius. "Within"
//     is radius + 64 fixed units (cluster_internal.hpp), which absorbs the rounding of double
//     distances and of the lat/lon output. Termination: a pass that takes something reduces the
//     number of items by at least one, so there are at most (bins) passes.
//  3. Membership: items are unions of whole bins; bounds are minima and maxima of member bins'
//     minima and maxima, i.e. of the members' original lat/lon, kept separately for members east
//     (lon >= 0) and west (lon < 0) so the shorter of the ordinary and the antimeridian-crossing
//     box can be chosen exactly.
//  4. Centre: sums of fixed-point positions, separately for east and west members, in 128-bit
//     integers; a crossing cluster adds count_west * 2^48 (x + 1 for every west member). The
//     exact quotient q + r / count orders the output and is converted with long double.
//  5. Determinism: the bins (with all their fields) are a function of the point multiset
//     (cluster.cpp). Every pass orders its items by a total order computed from their contents
//     only (count, then the unique bin key, or the unique rank derived from it), never by array
//     position; what a seed takes is a set defined by distances, whatever order the grid visits
//     it in; and adding items is exact (integer sums, minima and maxima of values that have no
//     -0.0 and no NaN), so the order in which an item's members are added does not matter
//     either. So the same bins give the same passes and the same output, bit for bit. The
//     output is sorted by count and exact centre, which separation makes unique; the rank
//     settles the impossible tie so that the order is total.
//  6. id: minimum over members that have one.
//  7. Finalisation needs O(bins) scratch, allocated from the state's allocator and released
//     before returning: per bin 77 bytes (centres 16, sort keys 16, grid 40, bin -> item 4,
//     marks 1); per item of the first pass's result 133 (items 128, list 4, state 1), + 4 for the
//     assignment; per grid entry 40 for the new entries of a later pass and an index of about 8
//     (dense) or at most 64 (hash of columns); 48 per cluster (twice per candidate when the seed
//     order does not pack) for the sort entries, whose second buffer for the output order is the
//     bin block's first arrays; 40 more per grid entry in the rare sort of cells that do not pack
//     (tiny radii over far-apart data). At most about 330 bytes per bin when every bin stays
//     alone, under 110 when the first pass merges them ten to one. The result is one Cluster per
//     cluster.
//
// Cancellation: every loop over bins, items, grid entries or clusters, and every sort (radix
// passes, polled_sort), polls the caller's CancelCheck every few thousand steps, so that a
// cancel is answered within milliseconds at any number of bins.
//
// Speed: every sort works on arrays of plain keys (no comparator chasing indices into the item
// array, which at a million bins is a cache miss per comparison), and the seed order and the
// grid order pack into one uint64 per entry whenever the fields fit (they do for any viewport),
// sorted by an LSD radix sort; the grid carries the centres, so a query touches the items only
// for what it takes; cells a little wider than the radius make a query visit 3 x 3 cells of
// side r (area 9 r^2) rather than 2 x 2 of side 2r (16 r^2); the grid index is a dense array
// over the occupied cells' bounding box when that is small (a viewport), so a query finds a
// column's entries with two loads, and otherwise a hash of the grid's columns finds a column's
// entries in one probe; the first pass reads the bins directly, and builds only the items it
// ends with, so a dense map (thousands of bins, a few hundred clusters) fills a few pages of
// items rather than one 128-byte item per bin.
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

// A sort entry: the seed order, when it does not pack into one uint64 (seed_order), compares
// key[0..2] (ascending), the output order key[0..4] then rank. key[0] is UINT64_MAX - count
// (heaviest first). index: the item (or bin, in the first pass).
struct Entry {
    std::uint64_t key[5];
    std::uint32_t rank;
    std::uint32_t index;
};

// A neighbour-grid entry: the column and row of the item's cell (each up to 2^42: cells are at
// least 65 fixed units wide, see Finalizer::run). The grid is sorted by (column, row), so a
// column's cells are contiguous and, within it, ordered by row. (Column-major like the seed order
// of the first pass, which visits bins column by column: consecutive queries then read
// neighbouring parts of the grid.)
struct Cell {
    std::uint64_t col, row;
    double x, y;
    std::uint32_t index;
    std::uint32_t unused;
};

constexpr auto cell_less = [](const Cell& a, const Cell& b) noexcept {
    return a.col != b.col ? a.col < b.col : a.row < b.row;
};

// Open-addressing index from an occupied grid column to its run [start, end) in the sorted grid;
// start1 = start + 1, 0 marks an empty slot.
struct ColumnSlot {
    std::uint64_t column;
    std::uint32_t start1;
    std::uint32_t end;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

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

// item_add(d, item_from_bin(b)) but the rank, without building the item (why: the first pass adds
// thousands of bins, and a temporary item costs a store and reload of its 128 bytes each time):
// the same operations on the same values, leaving out those that cannot change d (adding 0,
// min with +inf, max with -inf).
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
    if ((nx >> 64) == 0 && (ny >> 64) == 0) {
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

// Function objects, not functions: std::sort given a function pointer calls through it for every
// comparison; given a lambda's type it inlines the comparison.
constexpr auto seed_less = [](const Entry& a, const Entry& b) noexcept {
    if (a.key[0] != b.key[0]) return a.key[0] < b.key[0];
    if (a.key[1] != b.key[1]) return a.key[1] < b.key[1];
    return a.key[2] < b.key[2];
};

constexpr auto output_less = [](const Entry& a, const Entry& b) noexcept {
    for (int i = 0; i < 5; ++i)
        if (a.key[i] != b.key[i]) return a.key[i] < b.key[i];
    return a.rank < b.rank;
};

// Item states across passes, and marks within a pass.
enum : std::uint8_t { kClean = 0, kDirty = 1, kDead = 2 };
enum : std::uint8_t { kOut = 0, kCandidate = 1, kDone = 2 };

// The Finalizer owns finalisation's scratch arrays (all trivially destructible, all from the
// state's allocator) and releases them explicitly: it has no destructor on purpose. The first
// pass works on the bins themselves (index = bin) and creates the items: its seeds, numbered in
// seed order. Items then keep their index (absorbed items are marked dead).
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
    // Points *array at n elements of the block at *at and moves *at past them. (Blocks are
    // carved widest alignment first: the allocator's 8 bytes then suit every array.)
    template <typename T>
    static void carve(T** array, std::size_t n, unsigned char** at) noexcept {
        *array = reinterpret_cast<T*>(*at);
        *at += n * sizeof(T);
    }
    Status get_bin_arrays() noexcept;
    Status get_item_arrays(bool want_assign) noexcept;
    void release_scratch() noexcept {
        put(bin_block_, bin_block_bytes_);
        put(item_block_, item_block_bytes_);
        pos_ = nullptr;
        keys_ = keys_tmp_ = nullptr;
        grid_ = nullptr;
        bin_item_ = nullptr;
        mark_ = nullptr;
        items_ = nullptr;
        list_ = into_ = nullptr;
        state_ = nullptr;
        put(fresh_, n_fresh_);
        put(entries_, n_entries_);
        put(cells_tmp_, n_cells_tmp_);
        put(entries_tmp_, n_entries_tmp_);
        release_index();
    }
    void release_index() noexcept {
        put(columns_, column_mask_ + 1);
        put(starts_, n_starts_);
    }
    bool canceled(std::uint64_t work) noexcept { return poll_.canceled(work); }
    std::uint64_t col_of(Pos p) const noexcept { return static_cast<std::uint64_t>(p.x / cell_); }
    std::uint64_t row_of(Pos p) const noexcept { return static_cast<std::uint64_t>(p.y / cell_); }
    Cell cell_of(std::uint32_t i) const noexcept {
        const Pos p = pos_[i];
        return Cell{col_of(p), row_of(p), p.x, p.y, i, 0};
    }
    bool within(Pos p, const Cell& e) const noexcept {
        double dx = std::fabs(p.x - e.x);
        if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
        const double dy = p.y - e.y;
        return dx * dx + dy * dy < reach2_;
    }

    Status sorted_cells(const std::uint32_t* items, std::uint32_t n, Cell* out) noexcept;
    Status first_pass(bool want_assign, bool* absorbed) noexcept;
    Status first_pass_items(bool* absorbed) noexcept;
    Status seed_order(std::uint32_t n_seeds, std::uint64_t max_count) noexcept;
    Status update_grid() noexcept;
    Status index_grid() noexcept;
    Status index_columns() noexcept;
    const ColumnSlot* column_run(std::uint64_t column) const noexcept;
    template <typename F>
    std::uint64_t for_each_near(Pos q, F&& visit) noexcept;
    Status pass(bool* absorbed) noexcept;
    Status output_order(std::uint32_t* n, const Entry** sorted) noexcept;
    Status emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                std::size_t* n_assign) noexcept;
    Status emit_items() noexcept;

    const ClusterState* st_;
    Allocator a_;
    Poller poll_;
    std::uint64_t budget_ = 0;
    std::size_t state_bytes_;
    std::size_t live_ = 0;

    std::uint32_t n0_ = 0;       // bins
    std::uint32_t n_items_ = 0;  // items: the first pass's seeds (0 until it ends)
    bool first_ = true;          // in the first pass: indices are bins
    double query_ = 0;           // half-width of a neighbour query, fixed units, a little > reach
    double cell_ = 0;            // grid cell side, fixed units, a little > query_
    double reach2_ = 0;
    std::uint64_t last_col_ = 0;

    // Two allocations, each carved into arrays: two calls to the allocator instead of ten. The
    // bin block: pos_, keys_, keys_tmp_, grid_, bin_item_, mark_, n0_ elements each, indexed by
    // bin in the first pass and by item after it. The item block, allocated once the first pass
    // knows how many items there are: items_, list_, into_, state_.
    unsigned char* bin_block_ = nullptr;
    std::size_t bin_block_bytes_ = 0;
    unsigned char* item_block_ = nullptr;
    std::size_t item_block_bytes_ = 0;
    Item* items_ = nullptr;
    Pos* pos_ = nullptr;             // centre of every live item (first pass: bin), as of this pass
    std::uint8_t* state_ = nullptr;  // kClean / kDirty / kDead
    std::uint8_t* mark_ = nullptr;   // this pass: kOut / kCandidate / kDone
    std::uint32_t* bin_item_ = nullptr;  // bin -> the item (first-pass seed) it went to
    std::uint32_t* list_ = nullptr;  // the dirty items (n_list_); at the end, item -> output slot
    std::uint32_t n_list_ = 0;
    Cell* grid_ = nullptr;  // live items by cell key (n_grid_)
    std::uint32_t n_grid_ = 0;
    Cell* fresh_ = nullptr;  // this pass: grid entries of the dirty items
    std::uint32_t n_fresh_ = 0;
    // The second buffer of a sort that does not pack into keys_ (rare: see sorted_cells and
    // seed_order), released when the sort is done.
    Cell* cells_tmp_ = nullptr;
    std::uint32_t n_cells_tmp_ = 0;
    Entry* entries_tmp_ = nullptr;
    std::uint32_t n_entries_tmp_ = 0;
    // This pass's index of grid_, one of two kinds. Dense, when the occupied cells' bounding box
    // (box_cols_ x box_rows_ cells from column box_col_, row box_row_) has at most about two
    // cells per entry, as in the usual map viewport: starts_[b] is the first entry at or after
    // box cell b = (column - box_col_) * box_rows_ + (row - box_row_), for b <= the box's cells.
    // Otherwise columns_, a hash of the occupied columns.
    std::uint32_t* starts_ = nullptr;
    std::uint64_t n_starts_ = 0;
    std::uint64_t box_col_ = 0, box_row_ = 0, box_cols_ = 0, box_rows_ = 0;
    ColumnSlot* columns_ = nullptr;  // occupied column -> its run in grid_
    std::uint64_t column_mask_ = 0;
    std::uint32_t* into_ = nullptr;  // assignment only: absorbed item -> the item that took it
    // Sort entries: the candidates when their seed order does not pack into keys_ (for that
    // pass), then the clusters in output order.
    Entry* entries_ = nullptr;
    std::uint32_t n_entries_ = 0;
    // Packed sort keys and the radix sort's second buffer. After seed_order: the item indices in
    // seed order.
    std::uint64_t* keys_ = nullptr;
    std::uint64_t* keys_tmp_ = nullptr;
    // Over the bins, for the widths of the first pass's packed seed keys.
    std::uint64_t max_bin_count_ = 0;
    std::uint64_t kx_min_ = ~std::uint64_t{0}, kx_max_ = 0;
    std::uint64_t ky_min_ = ~std::uint64_t{0}, ky_max_ = 0;
    // run_items: the input items (then the "bins" are these items, bin_item_ the identity);
    // run_items and run_to_items: where emit_items puts the result.
    const Item* input_ = nullptr;
    std::uint32_t n_input_ = 0;
    ItemClusters* items_out_ = nullptr;
};

// Writes the grid entries of items[0..n) (items null: of 0 .. n - 1) to out, sorted by cell
// (ties in any order: what a query does with a cell's entries does not depend on their order).
// Canceled, OutOfMemory (only when the keys do not pack: see below).
Status Finalizer::sorted_cells(const std::uint32_t* items, std::uint32_t n, Cell* out) noexcept {
    if (n == 0) return Status::Ok;
    const auto item = [items](std::uint32_t k) noexcept { return items ? items[k] : k; };
    std::uint64_t col_min = ~std::uint64_t{0}, col_max = 0;
    std::uint64_t row_min = ~std::uint64_t{0}, row_max = 0;
    for (std::uint32_t k = 0; k < n; ++k) {
        const Pos p = pos_[item(k)];
        col_min = std::min(col_min, col_of(p));
        col_max = std::max(col_max, col_of(p));
        row_min = std::min(row_min, row_of(p));
        row_max = std::max(row_max, row_of(p));
        if (canceled(1)) return Status::Canceled;
    }
    // Packed: (column - col_min, row - row_min, k), which sorts like the cell and carries k. It
    // fits whenever the occupied cells span less than about 2^44 / n cells (any viewport); only
    // tiny radii over far-apart data need the comparison sort, and its second buffer.
    const int row_bits = bit_width(row_max - row_min), index_bits = bit_width(n - 1);
    const int bits = bit_width(col_max - col_min) + row_bits + index_bits;
    if (bits > 64) {
        for (std::uint32_t k = 0; k < n; ++k) {
            out[k] = cell_of(item(k));
            if (canceled(1)) return Status::Canceled;
        }
        n_cells_tmp_ = n;
        if (get(&cells_tmp_, n_cells_tmp_) != Status::Ok) return Status::OutOfMemory;
        const Cell* sorted = polled_sort(out, cells_tmp_, n, cell_less, poll_);
        if (sorted == nullptr) return Status::Canceled;
        if (sorted != out) std::memcpy(out, sorted, std::size_t{n} * sizeof(Cell));
        put(cells_tmp_, n_cells_tmp_);
        return Status::Ok;
    }
    for (std::uint32_t k = 0; k < n; ++k) {
        const Pos p = pos_[item(k)];
        keys_[k] = ((col_of(p) - col_min) << row_bits | (row_of(p) - row_min)) << index_bits | k;
        if (canceled(1)) return Status::Canceled;
    }
    const std::uint64_t* sorted = radix_sort(keys_, keys_tmp_, n, index_bits, bits, poll_);
    if (sorted == nullptr) return Status::Canceled;
    const std::uint64_t index_mask = (std::uint64_t{1} << index_bits) - 1;
    const std::uint64_t row_mask = (std::uint64_t{1} << row_bits) - 1;
    for (std::uint32_t k = 0; k < n; ++k) {
        const std::uint64_t packed = sorted[k];
        const std::uint32_t i = item(static_cast<std::uint32_t>(packed & index_mask));
        const std::uint64_t col = (packed >> (row_bits + index_bits)) + col_min;
        const std::uint64_t row = ((packed >> index_bits) & row_mask) + row_min;
        out[k] = Cell{col, row, pos_[i].x, pos_[i].y, i, 0};
        if (canceled(1)) return Status::Canceled;
    }
    return Status::Ok;
}

// Puts the n_seeds candidates (marked kCandidate; in the first pass, every bin), whose counts are
// at most max_count, in seed order, their indices into keys_. Packed into one uint64 when the
// fields fit: count descending (as max_count - count), then (kx, ky) offsets in the first pass
// or the rank in later passes, then the index, which only carries the item through the sort:
// (count, kx, ky) and (count, rank) are unique, so the order is the same total order as
// seed_less, whatever sort produces it.
Status Finalizer::seed_order(std::uint32_t n_seeds, std::uint64_t max_count) noexcept {
    const std::uint32_t n = first_ ? n0_ : n_items_;
    const int index_bits = bit_width(n - 1);
    const int a_bits = first_ ? bit_width(kx_max_ - kx_min_) : index_bits;  // rank < n_items_
    const int b_bits = first_ ? bit_width(ky_max_ - ky_min_) : 0;
    const int bits = bit_width(max_count) + a_bits + b_bits + index_bits;
    if (bits <= 64) {
        std::uint32_t k = 0;
        for (std::uint32_t i = 0; i < n; ++i) {
            if (mark_[i] != kCandidate) continue;
            std::uint64_t count, a, b;
            if (first_) {
                const Bin& bin = st_->bins[i];
                count = bin.count;
                a = bin.kx - kx_min_;
                b = bin.ky - ky_min_;
            } else {
                count = items_[i].count;
                a = items_[i].rank;
                b = 0;
            }
            keys_[k++] = (((max_count - count) << a_bits | a) << b_bits | b) << index_bits | i;
            if (canceled(1)) return Status::Canceled;
        }
        const std::uint64_t* sorted =
            radix_sort(keys_, keys_tmp_, n_seeds, index_bits, bits, poll_);
        if (sorted == nullptr) return Status::Canceled;
        const std::uint64_t index_mask = (std::uint64_t{1} << index_bits) - 1;
        for (k = 0; k < n_seeds; ++k) keys_[k] = sorted[k] & index_mask;
        return Status::Ok;
    }
    n_entries_ = n_seeds;
    if (get(&entries_, n_entries_) != Status::Ok) return Status::OutOfMemory;
    std::uint32_t k = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (mark_[i] != kCandidate) continue;
        Entry& e = entries_[k++];
        e.key[0] = ~std::uint64_t{0} - (first_ ? st_->bins[i].count : items_[i].count);
        e.key[1] = first_ ? st_->bins[i].kx : items_[i].rank;  // unique either way
        e.key[2] = first_ ? st_->bins[i].ky : 0;
        e.key[3] = e.key[4] = 0;
        e.rank = 0;
        e.index = i;
        if (canceled(1)) return Status::Canceled;
    }
    n_entries_tmp_ = n_seeds;
    if (get(&entries_tmp_, n_entries_tmp_) != Status::Ok) return Status::OutOfMemory;
    const Entry* sorted = polled_sort(entries_, entries_tmp_, n_seeds, seed_less, poll_);
    if (sorted == nullptr) return Status::Canceled;
    for (k = 0; k < n_seeds; ++k) keys_[k] = sorted[k].index;
    put(entries_tmp_, n_entries_tmp_);
    put(entries_, n_entries_);
    return Status::Ok;
}

// Brings the grid up to date: entries of items that died or moved (the dirty ones) leave, the
// dirty items come back at their new centres. The survivors stay sorted, so this is a filter
// and a merge with the few new entries, not a sort of everything.
Status Finalizer::update_grid() noexcept {
    release_index();  // it indexes the grid as it was
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < n_grid_; ++r) {
        if (state_[grid_[r].index] == kClean) grid_[kept++] = grid_[r];
        if (canceled(1)) return Status::Canceled;
    }
    n_fresh_ = n_list_;
    if (get(&fresh_, n_fresh_) != Status::Ok) return Status::OutOfMemory;
    const Status s = sorted_cells(list_, n_list_, fresh_);
    if (s != Status::Ok) return s;
    // Merge from the back: live items never outnumber the bins, so the grid has the room.
    std::int64_t i = static_cast<std::int64_t>(kept) - 1,
                 j = static_cast<std::int64_t>(n_fresh_) - 1;
    for (std::int64_t k = kept + n_fresh_ - 1; j >= 0; --k) {
        grid_[k] = (i >= 0 && cell_less(fresh_[j], grid_[i])) ? grid_[i--] : fresh_[j--];
        if (canceled(1)) return Status::Canceled;
    }
    n_grid_ = kept + n_fresh_;
    put(fresh_, n_fresh_);
    return Status::Ok;
}

// Indexes the sorted grid. Dense when the bounding box of the occupied cells is small: then a
// query finds the entries of a column's rows with two loads. Otherwise one hash slot per occupied
// column. (A binary search over the whole grid per query costs ~20 cache misses at a million
// bins; a probe and a search within a column's run cost one or two.)
Status Finalizer::index_grid() noexcept {
    release_index();
    if (n_grid_ == 0) return index_columns();
    std::uint64_t row_min = ~std::uint64_t{0}, row_max = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i) {
        row_min = std::min(row_min, grid_[i].row);
        row_max = std::max(row_max, grid_[i].row);
        if (canceled(1)) return Status::Canceled;
    }
    box_col_ = grid_[0].col;  // sorted: the first and last entries hold the extreme columns
    box_row_ = row_min;
    box_cols_ = grid_[n_grid_ - 1].col - box_col_ + 1;
    box_rows_ = row_max - row_min + 1;
    // box_cols_ * box_rows_ > limit, without the product (both may be up to 2^42).
    const std::uint64_t limit = 2 * std::uint64_t{n_grid_} + 64;
    if (box_rows_ > limit || box_cols_ > limit / box_rows_) return index_columns();
    const std::uint64_t box_cells = box_cols_ * box_rows_;
    n_starts_ = box_cells + 1;
    if (get(&starts_, n_starts_) != Status::Ok) return Status::OutOfMemory;
    // The grid's order (column, then row) is the box cells' order, so one sweep fills starts_.
    std::uint64_t b = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i) {
        const std::uint64_t cell =
            (grid_[i].col - box_col_) * box_rows_ + (grid_[i].row - box_row_);
        while (b <= cell) starts_[b++] = i;
        if (canceled(1)) return Status::Canceled;
    }
    while (b < n_starts_) starts_[b++] = n_grid_;
    return Status::Ok;
}

Status Finalizer::index_columns() noexcept {
    std::uint64_t columns = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i)
        if (i == 0 || grid_[i].col != grid_[i - 1].col) ++columns;
    std::uint64_t n_slots = 16;
    while (n_slots < 2 * columns) n_slots *= 2;
    column_mask_ = n_slots - 1;
    if (get(&columns_, n_slots) != Status::Ok) return Status::OutOfMemory;
    // Cleared in steps that poll: at millions of columns this is hundreds of MB of fresh pages.
    constexpr std::uint64_t kClearStep = 65536;
    for (std::uint64_t at = 0; at < n_slots; at += kClearStep) {
        std::memset(columns_ + at, 0, std::min(kClearStep, n_slots - at) * sizeof(ColumnSlot));
        if (canceled(Poller::kPollEvery)) return Status::Canceled;
    }
    for (std::uint32_t i = 0; i < n_grid_;) {
        const std::uint64_t column = grid_[i].col;
        std::uint32_t end = i + 1;
        while (end < n_grid_ && grid_[end].col == column) ++end;
        std::uint64_t j = hash_key(column, 0) & column_mask_;
        while (columns_[j].start1 != 0) j = (j + 1) & column_mask_;
        columns_[j] = ColumnSlot{column, i + 1, end};
        if (canceled(end - i)) return Status::Canceled;
        i = end;
    }
    return Status::Ok;
}

const ColumnSlot* Finalizer::column_run(std::uint64_t column) const noexcept {
    for (std::uint64_t j = hash_key(column, 0) & column_mask_;; j = (j + 1) & column_mask_) {
        const ColumnSlot& s = columns_[j];
        if (s.start1 == 0) return nullptr;
        if (s.column == column) return &s;
    }
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
            const Cell* it;
            const Cell* end;
            if (starts_ != nullptr) {
                const std::uint64_t lo = std::max(row_lo, box_row_);
                const std::uint64_t hi = std::min(row_hi, box_row_ + box_rows_ - 1);
                if (col < box_col_ || col - box_col_ >= box_cols_ || lo > hi) continue;
                const std::uint64_t first = (col - box_col_) * box_rows_ - box_row_;
                it = grid_ + starts_[first + lo];
                end = grid_ + starts_[first + hi + 1];
            } else {
                const ColumnSlot* run = column_run(col);
                if (run == nullptr) continue;
                end = grid_ + run->end;
                it = std::lower_bound(
                    static_cast<const Cell*>(grid_ + (run->start1 - 1)), end, row_lo,
                    [](const Cell& e, std::uint64_t row) noexcept { return e.row < row; });
            }
            for (; it != end && it->row <= row_hi; ++it) {
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
Status Finalizer::first_pass(bool want_assign, bool* absorbed) noexcept {
    // 1. Centres of the bins (and the ranges of their seed key fields), the grid, the seed
    // order.
    for (std::uint32_t b = 0; b < n0_; ++b) {
        const Bin& bin = st_->bins[b];
        Centre c;
        centre_of_bin(bin, &c);
        pos_[b] = Pos{c.x, c.y};
        max_bin_count_ = std::max(max_bin_count_, bin.count);
        kx_min_ = std::min(kx_min_, bin.kx);
        kx_max_ = std::max(kx_max_, bin.kx);
        ky_min_ = std::min(ky_min_, bin.ky);
        ky_max_ = std::max(ky_max_, bin.ky);
        if (canceled(1)) return Status::Canceled;
    }
    Status s = sorted_cells(nullptr, n0_, grid_);
    if (s != Status::Ok) return s;
    n_grid_ = n0_;
    s = index_grid();
    if (s != Status::Ok) return s;
    std::memset(mark_, kCandidate, n0_);
    s = seed_order(n0_, max_bin_count_);
    if (s != Status::Ok) return s;

    // 2. Greedy absorption, heaviest first, deciding only who goes where: each seed opens an
    // item and takes its bins. (The items are summed below, in one sweep over the bins in
    // memory order, rather than here, one random bin at a time.)
    for (std::uint32_t k = 0; k < n0_; ++k) {
        const auto b = static_cast<std::uint32_t>(keys_[k]);
        if (mark_[b] != kCandidate) continue;  // taken by an earlier seed
        mark_[b] = kDone;
        const std::uint32_t i = n_items_++;
        bin_item_[b] = i;
        const Pos q = pos_[b];
        const std::uint64_t work = for_each_near(q, [&](const Cell& e) noexcept {
            if (mark_[e.index] != kCandidate || !within(q, e)) return;
            mark_[e.index] = kDone;
            bin_item_[e.index] = i;
        });
        if (canceled(work + 1)) return Status::Canceled;
    }
    s = get_item_arrays(want_assign);
    if (s != Status::Ok) return s;
    // An item of one bin is clean (its seed took nothing); of more, dirty. state_ is kDead here
    // for an item that has no bin yet.
    std::memset(state_, kDead, n_items_);
    for (std::uint32_t b = 0; b < n0_; ++b) {
        const std::uint32_t i = bin_item_[b];
        if (state_[i] == kDead) {
            items_[i] = item_from_bin(st_->bins[b]);
            items_[i].rank = i;
            state_[i] = kClean;
        } else {
            item_add_bin(items_[i], st_->bins[b]);
            state_[i] = kDirty;
        }
        if (canceled(1)) return Status::Canceled;
    }
    n_list_ = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (state_[i] == kDirty) list_[n_list_++] = i;
        if (canceled(1)) return Status::Canceled;
    }

    // 3. From bins to items: the grid keeps the entries of the clean items (seeds that took
    // nothing, so their only bin is the seed), renumbered; they are where those items are.
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < n_grid_; ++r) {
        Cell e = grid_[r];
        e.index = bin_item_[e.index];
        if (state_[e.index] != kClean) continue;
        grid_[kept++] = e;
        pos_[e.index] = Pos{e.x, e.y};  // bin positions are no longer needed
        if (canceled(1)) return Status::Canceled;
    }
    n_grid_ = kept;
    std::memset(mark_, kOut, n_items_);
    first_ = false;
    *absorbed = n_list_ > 0;
    return Status::Ok;
}

// A later pass, over the items.
Status Finalizer::pass(bool* absorbed) noexcept {
    *absorbed = false;
    // 1. New centres of the dirty items.
    for (std::uint32_t k = 0; k < n_list_; ++k) {
        Centre c;
        centre_of(items_[list_[k]], &c);
        pos_[list_[k]] = Pos{c.x, c.y};
        if (canceled(1)) return Status::Canceled;
    }
    Status s = update_grid();
    if (s == Status::Ok) s = index_grid();
    if (s != Status::Ok) return s;

    // 2. The candidates: the dirty items and every clean item within reach of one (none to look
    // for when every live item, all n_grid_ of them, is dirty: the first pass of run_items).
    for (std::uint32_t k = 0; k < n_list_; ++k) mark_[list_[k]] = kCandidate;
    for (std::uint32_t k = 0; k < n_list_ && n_list_ < n_grid_; ++k) {
        const Pos q = pos_[list_[k]];
        const std::uint64_t work = for_each_near(q, [&](const Cell& e) noexcept {
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
        max_count = std::max(max_count, items_[i].count);
    }
    s = seed_order(n_seeds, max_count);
    if (s != Status::Ok) return s;

    // 3. Greedy absorption, heaviest first. The dirty list is rebuilt as we go.
    n_list_ = 0;
    for (std::uint32_t k = 0; k < n_seeds; ++k) {
        const auto i = static_cast<std::uint32_t>(keys_[k]);
        if (mark_[i] != kCandidate) continue;  // taken by an earlier seed
        mark_[i] = kDone;
        Item& seed = items_[i];
        const Pos q = pos_[i];
        bool took = false;
        const std::uint64_t work = for_each_near(q, [&](const Cell& e) noexcept {
            if (mark_[e.index] != kCandidate || !within(q, e)) return;
            mark_[e.index] = kDone;
            state_[e.index] = kDead;
            item_add(seed, items_[e.index]);
            if (into_ != nullptr) into_[e.index] = i;
            took = true;
        });
        state_[i] = took ? kDirty : kClean;
        if (took) list_[n_list_++] = i;
        if (canceled(work + 1)) return Status::Canceled;
    }
    for (std::uint32_t k = 0; k < n_seeds; ++k) mark_[keys_[k]] = kOut;
    *absorbed = n_list_ > 0;
    return Status::Ok;
}

// The first pass of run_items, over the given items: they are the items (bin_item_ is the
// identity), all dirty, so that pass() takes every one of them as a candidate: a full greedy
// pass, heaviest first. Equal counts go by grid cell, column by column, then by the given rank,
// and the items are ranked anew in that order: like the first pass over bins (by bin key), so
// that consecutive seeds query neighbouring parts of the grid instead of a cache miss each.
Status Finalizer::first_pass_items(bool* absorbed) noexcept {
    n_items_ = n0_;
    Status s = get_item_arrays(true);
    if (s != Status::Ok) return s;
    // The order (cell, given rank), packed into one uint64 and radix sorted when the fields fit
    // and the ranks are 0 .. n - 1 (as the hierarchy gives them; list_ then maps a rank back to
    // its item), else sorted as entries.
    std::uint64_t col_min = ~std::uint64_t{0}, col_max = 0, row_min = ~std::uint64_t{0}, row_max = 0;
    bool dense_ranks = true;
    std::memset(mark_, 0, n0_);
    const auto centre_pos = [this](std::uint32_t i) noexcept {
        Centre c;
        centre_of(items_[i], &c);
        return Pos{c.x, c.y};
    };
    for (std::uint32_t i = 0; i < n0_; ++i) {
        items_[i] = input_[i];
        bin_item_[i] = i;
        const Pos p = centre_pos(i);
        col_min = std::min(col_min, col_of(p));
        col_max = std::max(col_max, col_of(p));
        row_min = std::min(row_min, row_of(p));
        row_max = std::max(row_max, row_of(p));
        const std::uint32_t rank = items_[i].rank;
        if (rank >= n0_ || mark_[rank] != 0) {
            dense_ranks = false;
        } else {
            mark_[rank] = 1;
            list_[rank] = i;
        }
        if (canceled(1)) return Status::Canceled;
    }
    const int rank_bits = bit_width(n0_ - 1), row_bits = bit_width(row_max - row_min);
    const int bits = bit_width(col_max - col_min) + row_bits + rank_bits;
    if (dense_ranks && bits <= 64) {
        for (std::uint32_t i = 0; i < n0_; ++i) {
            const Pos p = centre_pos(i);
            keys_[i] = ((col_of(p) - col_min) << row_bits | (row_of(p) - row_min)) << rank_bits |
                       items_[i].rank;
            if (canceled(1)) return Status::Canceled;
        }
        const std::uint64_t* sorted = radix_sort(keys_, keys_tmp_, n0_, 0, bits, poll_);
        if (sorted == nullptr) return Status::Canceled;
        const std::uint64_t rank_mask = (std::uint64_t{1} << rank_bits) - 1;
        for (std::uint32_t k = 0; k < n0_; ++k) items_[list_[sorted[k] & rank_mask]].rank = k;
    } else {
        if (get(&entries_, n0_) != Status::Ok) return Status::OutOfMemory;
        n_entries_ = n0_;
        for (std::uint32_t i = 0; i < n0_; ++i) {
            const Pos p = centre_pos(i);
            entries_[i] = Entry{{col_of(p), row_of(p), items_[i].rank, 0, 0}, 0, i};
            if (canceled(1)) return Status::Canceled;
        }
        // (cell, given rank): unique. The second buffer is the bin block's front (pos_, keys_,
        // keys_tmp_, grid_), unused until the pass below.
        const Entry* sorted =
            polled_sort(entries_, reinterpret_cast<Entry*>(bin_block_), n0_, seed_less, poll_);
        if (sorted == nullptr) return Status::Canceled;
        for (std::uint32_t k = 0; k < n0_; ++k) items_[sorted[k].index].rank = k;
        put(entries_, n_entries_);
    }
    for (std::uint32_t i = 0; i < n0_; ++i) list_[i] = i;
    std::memset(state_, kDirty, n_items_);
    std::memset(mark_, kOut, n_items_);
    n_list_ = n_items_;
    n_grid_ = 0;
    first_ = false;
    return pass(absorbed);
}

// Output order (contract 5): count descending, then the exact centre, y before x. With equal
// counts, q + r / count orders as (q, r). *sorted_out: the live items' entries in that order
// (entries_ or the front of the bin block, whichever the polled sort ended in).
Status Finalizer::output_order(std::uint32_t* n_out, const Entry** sorted_out) noexcept {
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) n += state_[i] != kDead;
    n_entries_ = n;
    if (get(&entries_, n_entries_) != Status::Ok) return Status::OutOfMemory;
    n = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (state_[i] == kDead) continue;
        const Item& it = items_[i];
        Centre c;
        centre_of(it, &c);
        entries_[n++] = Entry{{~std::uint64_t{0} - it.count, c.qy, c.ry, c.qx, c.rx}, it.rank, i};
        if (canceled(1)) return Status::Canceled;
    }
    // The sort's second buffer is the front of the bin block: its first arrays (pos_, keys_,
    // keys_tmp_, grid_: 72 bytes per bin) are not read from here on, and n <= n0_.
    static_assert(sizeof(Entry) <= sizeof(Pos) + 2 * sizeof(std::uint64_t) + sizeof(Cell),
                  "the output sort's second buffer fits the bin block's first arrays");
    *sorted_out = polled_sort(entries_, reinterpret_cast<Entry*>(bin_block_), n, output_less, poll_);
    if (*sorted_out == nullptr) return Status::Canceled;
    *n_out = n;
    return Status::Ok;
}

Status Finalizer::emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                       std::size_t* n_assign) noexcept {
    std::uint32_t n = 0;
    const Entry* sorted = nullptr;
    const Status order = output_order(&n, &sorted);
    if (order != Status::Ok) return order;

    auto* clusters = static_cast<Cluster*>(a_.alloc(a_.ctx, std::size_t{n} * sizeof(Cluster)));
    if (clusters == nullptr) return Status::OutOfMemory;
    ClusterBinAssignment* pairs = nullptr;
    if (want_assign) {
        pairs = static_cast<ClusterBinAssignment*>(
            a_.alloc(a_.ctx, std::size_t{n0_} * sizeof(ClusterBinAssignment)));
        if (pairs == nullptr) {
            a_.release(a_.ctx, clusters);
            return Status::OutOfMemory;
        }
    }
    for (std::uint32_t k = 0; k < n; ++k) {
        if (canceled(1)) {
            if (pairs != nullptr) a_.release(a_.ctx, pairs);
            a_.release(a_.ctx, clusters);
            return Status::Canceled;
        }
        const Entry& e = sorted[k];
        cluster_of_item(items_[e.index], &clusters[k]);
        list_[e.index] = k;  // item -> output position, for the assignment
    }
    if (want_assign) {
        for (std::uint32_t b = 0; b < n0_; ++b) {
            std::uint32_t item = bin_item_[b];  // follow it into its cluster
            while (state_[item] == kDead) item = into_[item];
            pairs[b] =
                ClusterBinAssignment{ClusterBinKey{st_->bins[b].kx, st_->bins[b].ky}, list_[item]};
        }
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
    const Entry* sorted = nullptr;
    const Status order = output_order(&n, &sorted);
    if (order != Status::Ok) return order;
    auto* items = static_cast<Item*>(a_.alloc(a_.ctx, std::size_t{n} * sizeof(Item) + 1));
    auto* of_input = static_cast<std::uint32_t*>(
        a_.alloc(a_.ctx, std::size_t{n0_} * sizeof(std::uint32_t) + 1));
    Status s = items != nullptr && of_input != nullptr ? Status::Ok : Status::OutOfMemory;
    for (std::uint32_t k = 0; k < n && s == Status::Ok; ++k) {
        const std::uint32_t i = sorted[k].index;
        items[k] = items_[i];
        list_[i] = k;  // item -> output position
        if (canceled(1)) s = Status::Canceled;
    }
    for (std::uint32_t b = 0; b < n0_ && s == Status::Ok; ++b) {
        std::uint32_t item = bin_item_[b];  // follow it into its cluster
        while (state_[item] == kDead) item = into_[item];
        of_input[b] = list_[item];
        if (canceled(1)) s = Status::Canceled;
    }
    if (s != Status::Ok) {
        if (items != nullptr) a_.release(a_.ctx, items);
        if (of_input != nullptr) a_.release(a_.ctx, of_input);
        return s;
    }
    *items_out_ = ItemClusters{items, n, of_input, n0_};
    return Status::Ok;
}

Status Finalizer::get_bin_arrays() noexcept {
    const std::size_t n = n0_;
    bin_block_bytes_ = n * (sizeof(Pos) + 2 * sizeof(std::uint64_t) + sizeof(Cell) +
                            sizeof(std::uint32_t) + sizeof(std::uint8_t));
    if (get(&bin_block_, bin_block_bytes_) != Status::Ok) return Status::OutOfMemory;
    unsigned char* at = bin_block_;
    carve(&pos_, n, &at);
    carve(&keys_, n, &at);
    carve(&keys_tmp_, n, &at);
    carve(&grid_, n, &at);
    carve(&bin_item_, n, &at);
    carve(&mark_, n, &at);
    return Status::Ok;
}

Status Finalizer::get_item_arrays(bool want_assign) noexcept {
    const std::size_t n = n_items_;
    item_block_bytes_ =
        n * (sizeof(Item) + (want_assign ? 2 : 1) * sizeof(std::uint32_t) + sizeof(std::uint8_t));
    if (get(&item_block_, item_block_bytes_) != Status::Ok) return Status::OutOfMemory;
    unsigned char* at = item_block_;
    carve(&items_, n, &at);
    carve(&list_, n, &at);
    if (want_assign) carve(&into_, n, &at);
    carve(&state_, n, &at);
    return Status::Ok;
}

Status Finalizer::run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                      std::size_t* n_assign) noexcept {
    n0_ = input_ != nullptr ? n_input_ : st_->n_bins;
    if (n0_ == 0) return Status::Ok;
    Status s = get_bin_arrays();
    if (s != Status::Ok) return s;
    // A little wider than the reach, so that rounding in the cell arithmetic never hides a
    // neighbour (see for_each_near); +1 keeps it above the ulp of positions near 2^48. Cells a
    // little wider than that, so that a query spans at most three columns and three rows.
    query_ = st_->reach + st_->reach * (1.0 / 1048576.0) + 1.0;
    // The cell follows the reach down to the smallest radius (reach >= 64 fixed units, so cells
    // are at least 65 wide and columns and rows below 2^42): a query then visits a bounded
    // number of entries, O(1) per bin and pass, at any radius. (Cells of a fixed minimum size
    // made tiny radii quadratic: every bin of a dense square of one cell visited all the others.)
    cell_ = query_ * (1.0 + 1.0 / 1048576.0);
    last_col_ = static_cast<std::uint64_t>(kFixedOneD / cell_);
    reach2_ = st_->reach * st_->reach;

    bool absorbed = false;
    ++passes;
    s = input_ != nullptr ? first_pass_items(&absorbed) : first_pass(want_assign, &absorbed);
    while (s == Status::Ok && absorbed) {
        ++passes;
        s = pass(&absorbed);
    }
    release_index();  // not needed by emit
    if (s == Status::Ok)
        s = items_out_ != nullptr ? emit_items() : emit(want_assign, out, assign, n_assign);
    release_scratch();
    return s;
}

Status finalize_impl(const ClusterState* st, CancelCheck cancel, ClusterList* out,
                     ClusterBinAssignment** assign, std::size_t* n_assign,
                     ClusterFinalizeStats* stats) noexcept {
    *out = ClusterList{nullptr, 0};
    if (assign != nullptr) *assign = nullptr;
    if (n_assign != nullptr) *n_assign = 0;
    const Status settled = settle(st);
    if (settled != Status::Ok) return settled;
    Finalizer f(st, cancel);
    Status s = f.run(assign != nullptr, out, assign, n_assign);
    if (s == Status::OutOfMemory && f.over_budget) s = Status::StateTooLarge;
    if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, f.near_visits};
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
    Finalizer f(st, cancel);
    const Status s = f.run_to_items(out);
    if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, f.near_visits};
    return s;
}

Status cluster_items(const ClusterState* params, const Item* items, std::uint32_t n,
                     CancelCheck cancel, ItemClusters* out, ClusterFinalizeStats* stats) noexcept {
    *out = ItemClusters{nullptr, 0, nullptr, 0};
    if (stats != nullptr) *stats = ClusterFinalizeStats{0, 0, 0};
    if (n > kMaxBins) return Status::OutOfMemory;
    Finalizer f(params, cancel);
    const Status s = f.run_items(items, n, out);
    if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch, f.near_visits};
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
    constexpr long double kPiL = 3.141592653589793238462643383279502884L;
    const long double one = static_cast<long double>(kFixedOneD);
    const long double count = static_cast<long double>(it.count);
    const long double ux =
        (static_cast<long double>(c.qx) + static_cast<long double>(c.rx) / count) / one;
    const long double uy =
        (static_cast<long double>(c.qy) + static_cast<long double>(c.ry) / count) / one;
    o->count = static_cast<std::int64_t>(it.count);
    o->lon = static_cast<double>(ux * 360.0L - 180.0L);
    o->lat =
        static_cast<double>(std::atan(std::sinh(kPiL * (1.0L - 2.0L * uy))) * (180.0L / kPiL));
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
