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
//     it in; and adding items is exact. So the same bins give the same passes and the same
//     output, bit for bit. The output is sorted by count and exact centre, which separation
//     makes unique; the rank settles the impossible tie so that the order is total.
//  6. id: minimum over members that have one.
//  7. Finalisation needs O(bins) scratch, about 260 bytes per bin at its peak (items 128, seed
//     entries 48, grid 32, column index <= 32, centres 16, lists and flags 6), allocated from the
//     state's allocator and released before returning; the result is one Cluster per cluster.
//
// Speed: every sort works on arrays of plain keys (no comparator chasing indices into the item
// array, which at a million bins is a cache miss per comparison); the grid carries the centres,
// so a query touches the items only for what it takes; and a hash index of the grid's columns
// finds a column's entries in one probe.
#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "mercator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace geocluster {

using namespace cluster_internal;

namespace {

// A cluster in the making (or a bin, in the first pass).
struct Item {
    std::uint64_t count, count_w;  // all members; members with lon < 0
    Wide sx_e, sx_w, sy;           // sums of X over east / west members, of Y over all
    double min_lat, max_lat;
    double min_lon_e, max_lon_e;  // over east members (+inf/-inf when none)
    double min_lon_w, max_lon_w;  // over west members (+inf/-inf when none)
    std::int64_t min_id;
    std::uint32_t rank;  // min over members of their bins' first-pass rank: unique
    std::uint32_t has_id;
};

// An item's centre: exactly q + r / count fixed units (r < count), and as doubles.
struct Centre {
    std::uint64_t qx, rx, qy, ry;
    double x, y;
};

struct Pos {
    double x, y;
};

// A sort entry: the seed order compares key[0..2] (ascending), the output order key[0..4] then
// rank. key[0] is UINT64_MAX - count (heaviest first). index: the item.
struct Entry {
    std::uint64_t key[5];
    std::uint32_t rank;
    std::uint32_t index;
};

// A neighbour-grid entry. key = column << 32 | row of the item's cell; the grid is sorted by
// key, so a column's cells are contiguous and, within it, ordered by row. (Column-major like
// the seed order of the first pass, which visits bins column by column: consecutive queries
// then read neighbouring parts of the grid.)
struct Cell {
    std::uint64_t key;
    double x, y;
    std::uint32_t index;
    std::uint32_t unused;
};

// Open-addressing index from an occupied grid column to its run [start, end) in the sorted grid;
// start1 = start + 1, 0 marks an empty slot.
struct ColumnSlot {
    std::uint32_t column;
    std::uint32_t start1;
    std::uint32_t end;
    std::uint32_t unused;
};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::uint32_t kPollEvery = 4096;

Item item_from_bin(const Bin& b) noexcept {
    const bool west = (b.kx & 1) != 0;
    Item it;
    it.count = b.count;
    it.count_w = west ? b.count : 0;
    it.sx_e = west ? Wide{0, 0} : b.sum_x;
    it.sx_w = west ? b.sum_x : Wide{0, 0};
    it.sy = b.sum_y;
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

// Contract 3: the box that crosses the antimeridian wins only when strictly shorter, which needs
// members on both sides. West members all have lon < 0 <= every east member's lon, so the
// ordinary box is [min_lon_w, max_lon_e].
bool crosses(const Item& it) noexcept {
    if (it.count_w == 0 || it.count_w == it.count) return false;
    const double ordinary = it.max_lon_e - it.min_lon_w;
    const double crossing = 360.0 - (it.min_lon_e - it.max_lon_w);
    return crossing < ordinary;
}

void centre_of(const Item& it, Centre* c) noexcept {
    u128 nx = wide_load(it.sx_e) + wide_load(it.sx_w);
    if (crosses(it)) nx += static_cast<u128>(it.count_w) << kFixedBits;  // west members at x + 1
    const u128 ny = wide_load(it.sy);
    // Means stay below 2^49 (positions are <= 2^48, shifted ones <= 2^49, and a crossing cluster
    // has an unshifted member), so the quotients fit 64 bits.
    std::uint64_t qx = static_cast<std::uint64_t>(nx / it.count);
    const auto rx = static_cast<std::uint64_t>(nx % it.count);
    if (qx > kFixedOne || (qx == kFixedOne && rx > 0)) qx -= kFixedOne;  // wrap back into [0, 1]
    c->qx = qx;
    c->rx = rx;
    c->qy = static_cast<std::uint64_t>(ny / it.count);
    c->ry = static_cast<std::uint64_t>(ny % it.count);
    const double n = static_cast<double>(it.count);
    c->x = static_cast<double>(c->qx) + static_cast<double>(c->rx) / n;
    c->y = static_cast<double>(c->qy) + static_cast<double>(c->ry) / n;
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
// state's allocator) and releases them explicitly: it has no destructor on purpose. Items keep
// their index for the whole run (bin i starts as item i); absorbed items are marked dead.
class Finalizer {
public:
    Finalizer(const ClusterState* st, CancelCheck cancel) noexcept
        : st_(st), a_(st->alloc), cancel_(cancel) {}

    Status run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
               std::size_t* n_assign) noexcept;

    std::uint32_t passes = 0;
    std::size_t peak_scratch = 0;

private:
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
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
    void release_scratch() noexcept {
        put(items_, n0_);
        put(pos_, n0_);
        put(state_, n0_);
        put(mark_, n0_);
        put(list_, n0_);
        put(seeds_, n0_);
        put(grid_, n0_);
        put(fresh_, n_fresh_);
        put(columns_, column_mask_ + 1);
        put(into_, n0_);
    }
    bool canceled(std::uint64_t work) noexcept {
        if (cancel_.should_cancel == nullptr) return false;
        budget_ += work;
        if (budget_ < kPollEvery) return false;
        budget_ = 0;
        return cancel_.should_cancel(cancel_.ctx);
    }
    Cell cell_of(std::uint32_t i) const noexcept {
        const Pos p = pos_[i];
        return Cell{
            static_cast<std::uint64_t>(p.x / cell_) << 32 | static_cast<std::uint64_t>(p.y / cell_),
            p.x, p.y, i, 0};
    }
    bool within(Pos p, const Cell& e) const noexcept {
        double dx = std::fabs(p.x - e.x);
        if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
        const double dy = p.y - e.y;
        return dx * dx + dy * dy < reach2_;
    }

    Status update_grid() noexcept;
    Status index_columns() noexcept;
    const ColumnSlot* column_run(std::uint32_t column) const noexcept;
    template <typename F>
    std::uint64_t for_each_near(Pos q, F&& visit) const noexcept;
    Status pass(bool* absorbed) noexcept;
    Status emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                std::size_t* n_assign) noexcept;

    const ClusterState* st_;
    Allocator a_;
    CancelCheck cancel_;
    std::uint64_t budget_ = 0;
    std::size_t live_ = 0;

    std::uint32_t n0_ = 0;  // bins = items at the start
    bool first_ = true;     // first pass: every item is dirty, the grid is empty
    double query_ = 0;      // half-width of a neighbour query, fixed units, a little > reach
    double cell_ = 0;       // grid cell side, fixed units, > 2 * query_
    double reach2_ = 0;
    std::uint64_t last_col_ = 0;

    Item* items_ = nullptr;
    Pos* pos_ = nullptr;             // centre of every live item, as of this pass
    std::uint8_t* state_ = nullptr;  // kClean / kDirty / kDead
    std::uint8_t* mark_ = nullptr;   // this pass: kOut / kCandidate / kDone
    std::uint32_t* list_ = nullptr;  // the dirty items (n_list_); at the end, item -> output slot
    std::uint32_t n_list_ = 0;
    Entry* seeds_ = nullptr;  // candidates in seed order; at the end, the output order
    Cell* grid_ = nullptr;    // live items by cell key (n_grid_)
    std::uint32_t n_grid_ = 0;
    Cell* fresh_ = nullptr;  // this pass: grid entries of the dirty items
    std::uint32_t n_fresh_ = 0;
    ColumnSlot* columns_ = nullptr;  // this pass: occupied column -> its run in grid_
    std::uint64_t column_mask_ = 0;
    std::uint32_t* into_ = nullptr;  // assignment only: absorbed item -> the seed that took it
};

// Brings the grid up to date: entries of items that died or moved (the dirty ones) leave, the
// dirty items come back at their new centres. The survivors stay sorted, so this is a filter
// and a merge with the few new entries, not a sort of everything.
Status Finalizer::update_grid() noexcept {
    if (first_) {
        for (std::uint32_t i = 0; i < n0_; ++i) grid_[i] = cell_of(i);
        n_grid_ = n0_;
        std::sort(grid_, grid_ + n_grid_,
                  [](const Cell& a, const Cell& b) noexcept { return a.key < b.key; });
        return Status::Ok;
    }
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < n_grid_; ++r)
        if (state_[grid_[r].index] == kClean) grid_[kept++] = grid_[r];
    n_fresh_ = n_list_;
    if (get(&fresh_, n_fresh_) != Status::Ok) return Status::OutOfMemory;
    for (std::uint32_t k = 0; k < n_list_; ++k) fresh_[k] = cell_of(list_[k]);
    std::sort(fresh_, fresh_ + n_fresh_,
              [](const Cell& a, const Cell& b) noexcept { return a.key < b.key; });
    // Merge from the back: live items never outnumber the bins, so the grid has the room.
    std::int64_t i = static_cast<std::int64_t>(kept) - 1,
                 j = static_cast<std::int64_t>(n_fresh_) - 1;
    for (std::int64_t k = kept + n_fresh_ - 1; j >= 0; --k)
        grid_[k] = (i >= 0 && grid_[i].key > fresh_[j].key) ? grid_[i--] : fresh_[j--];
    n_grid_ = kept + n_fresh_;
    put(fresh_, n_fresh_);
    return Status::Ok;
}

// Indexes the sorted grid: one slot per occupied column. (A binary search over the whole grid
// per query costs ~20 cache misses at a million bins; a probe and a search within a column's run
// cost one or two.)
Status Finalizer::index_columns() noexcept {
    std::uint64_t columns = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i)
        if (i == 0 || (grid_[i].key >> 32) != (grid_[i - 1].key >> 32)) ++columns;
    std::uint64_t n_slots = 16;
    while (n_slots < 2 * columns) n_slots *= 2;
    put(columns_, column_mask_ + 1);
    column_mask_ = n_slots - 1;
    if (get(&columns_, n_slots) != Status::Ok) return Status::OutOfMemory;
    std::memset(columns_, 0, n_slots * sizeof(ColumnSlot));
    for (std::uint32_t i = 0; i < n_grid_;) {
        const auto column = static_cast<std::uint32_t>(grid_[i].key >> 32);
        std::uint32_t end = i + 1;
        while (end < n_grid_ && static_cast<std::uint32_t>(grid_[end].key >> 32) == column) ++end;
        std::uint64_t j = hash_key(column, 0) & column_mask_;
        while (columns_[j].start1 != 0) j = (j + 1) & column_mask_;
        columns_[j] = ColumnSlot{column, i + 1, end, 0};
        i = end;
    }
    return Status::Ok;
}

const ColumnSlot* Finalizer::column_run(std::uint32_t column) const noexcept {
    for (std::uint64_t j = hash_key(column, 0) & column_mask_;; j = (j + 1) & column_mask_) {
        const ColumnSlot& s = columns_[j];
        if (s.start1 == 0) return nullptr;
        if (s.column == column) return &s;
    }
}

// Calls visit(grid entry) for every live item whose cell meets the square of half-width query_
// around q, columns wrapping around the world (x = 0 and x = 2^48 are the same meridian).
// query_ is a little more than the reach, so an item within reach by the double arithmetic of
// within() always lies in a visited cell; cells are a little more than twice query_, so the
// square meets at most 2 x 2 cells. Returns the number of entries visited (work for the poll).
template <typename F>
std::uint64_t Finalizer::for_each_near(Pos q, F&& visit) const noexcept {
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
            const ColumnSlot* run = column_run(static_cast<std::uint32_t>(col));
            if (run == nullptr) continue;
            const Cell* const end = grid_ + run->end;
            const Cell* it = std::lower_bound(
                static_cast<const Cell*>(grid_ + (run->start1 - 1)), end, (col << 32) | row_lo,
                [](const Cell& e, std::uint64_t key) noexcept { return e.key < key; });
            for (const std::uint64_t last = (col << 32) | row_hi; it != end && it->key <= last;
                 ++it) {
                visit(*it);
                ++visited;
            }
        }
    }
    return visited;
}

Status Finalizer::pass(bool* absorbed) noexcept {
    *absorbed = false;
    // 1. New centres of the dirty items (the first time: of every item).
    for (std::uint32_t k = 0; k < n_list_; ++k) {
        Centre c;
        centre_of(items_[list_[k]], &c);
        pos_[list_[k]] = Pos{c.x, c.y};
        if (canceled(1)) return Status::Canceled;
    }
    Status s = update_grid();
    if (s == Status::Ok) s = index_columns();
    if (s != Status::Ok) return s;

    // 2. The candidates: the dirty items and every clean item within reach of one.
    for (std::uint32_t k = 0; k < n_list_; ++k) mark_[list_[k]] = kCandidate;
    if (!first_) {
        for (std::uint32_t k = 0; k < n_list_; ++k) {
            const Pos q = pos_[list_[k]];
            const std::uint64_t work = for_each_near(q, [&](const Cell& e) noexcept {
                if (state_[e.index] == kClean && mark_[e.index] == kOut && within(q, e))
                    mark_[e.index] = kCandidate;
            });
            if (canceled(work + 1)) return Status::Canceled;
        }
    }
    std::uint32_t n_seeds = 0;
    for (std::uint32_t i = 0; i < n0_; ++i) {
        if (mark_[i] != kCandidate) continue;
        const Item& it = items_[i];
        Entry& e = seeds_[n_seeds++];
        e.key[0] = ~std::uint64_t{0} - it.count;
        e.key[1] = first_ ? st_->bins[i].kx : it.rank;  // unique either way
        e.key[2] = first_ ? st_->bins[i].ky : 0;
        e.key[3] = e.key[4] = 0;
        e.rank = 0;
        e.index = i;
    }
    std::sort(seeds_, seeds_ + n_seeds, seed_less);
    if (first_)
        for (std::uint32_t k = 0; k < n_seeds; ++k) items_[seeds_[k].index].rank = k;

    // 3. Greedy absorption, heaviest first. The dirty list is rebuilt as we go.
    n_list_ = 0;
    for (std::uint32_t k = 0; k < n_seeds; ++k) {
        const std::uint32_t i = seeds_[k].index;
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
    for (std::uint32_t k = 0; k < n_seeds; ++k) mark_[seeds_[k].index] = kOut;
    *absorbed = n_list_ > 0;
    return Status::Ok;
}

Status Finalizer::emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                       std::size_t* n_assign) noexcept {
    // Output order (contract 5): count descending, then the exact centre, y before x. With equal
    // counts, q + r / count orders as (q, r).
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < n0_; ++i) {
        if (state_[i] == kDead) continue;
        const Item& it = items_[i];
        Centre c;
        centre_of(it, &c);
        seeds_[n++] = Entry{{~std::uint64_t{0} - it.count, c.qy, c.ry, c.qx, c.rx}, it.rank, i};
    }
    std::sort(seeds_, seeds_ + n, output_less);

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
    constexpr long double kPiL = 3.141592653589793238462643383279502884L;
    const long double one = static_cast<long double>(kFixedOneD);
    for (std::uint32_t k = 0; k < n; ++k) {
        const Entry& e = seeds_[k];
        const Item& it = items_[e.index];
        const long double count = static_cast<long double>(it.count);
        const long double ux =
            (static_cast<long double>(e.key[3]) + static_cast<long double>(e.key[4]) / count) / one;
        const long double uy =
            (static_cast<long double>(e.key[1]) + static_cast<long double>(e.key[2]) / count) / one;
        Cluster& o = clusters[k];
        o.count = static_cast<std::int64_t>(it.count);
        o.lon = static_cast<double>(ux * 360.0L - 180.0L);
        o.lat =
            static_cast<double>(std::atan(std::sinh(kPiL * (1.0L - 2.0L * uy))) * (180.0L / kPiL));
        o.min_lat = it.min_lat;
        o.max_lat = it.max_lat;
        if (crosses(it)) {
            o.min_lon = it.min_lon_e;
            o.max_lon = it.max_lon_w;
        } else {
            o.min_lon = it.count_w > 0 ? it.min_lon_w : it.min_lon_e;
            o.max_lon = it.count_w < it.count ? it.max_lon_e : it.max_lon_w;
        }
        o.has_id = it.has_id != 0;
        o.id = o.has_id ? it.min_id : 0;
        list_[e.index] = k;  // item -> output position, for the assignment
    }
    if (want_assign) {
        for (std::uint32_t b = 0; b < n0_; ++b) {
            std::uint32_t item = b;  // bin b started as item b; follow it into its cluster
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

Status Finalizer::run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                      std::size_t* n_assign) noexcept {
    n0_ = st_->n_bins;
    if (n0_ == 0) return Status::Ok;
    Status s = get(&items_, n0_);
    if (s == Status::Ok) s = get(&pos_, n0_);
    if (s == Status::Ok) s = get(&state_, n0_);
    if (s == Status::Ok) s = get(&mark_, n0_);
    if (s == Status::Ok) s = get(&list_, n0_);
    if (s == Status::Ok) s = get(&seeds_, n0_);
    if (s == Status::Ok) s = get(&grid_, n0_);
    if (s == Status::Ok && want_assign) s = get(&into_, n0_);
    if (s != Status::Ok) {
        release_scratch();
        return s;
    }
    for (std::uint32_t i = 0; i < n0_; ++i) {
        items_[i] = item_from_bin(st_->bins[i]);
        list_[i] = i;  // everything is dirty before the first pass
    }
    n_list_ = n0_;
    std::memset(state_, kDirty, n0_);
    std::memset(mark_, kOut, n0_);
    // A little wider than the reach, so that rounding in the cell arithmetic never hides a
    // neighbour (see for_each_near); +1 keeps it above the ulp of positions near 2^48.
    query_ = st_->reach + st_->reach * (1.0 / 1048576.0) + 1.0;
    // At least 2^16 + 1 fixed units, so that rows and columns (< 2^48 / cell_) fit 32 bits each;
    // that is 32 px at zoom 29 and less below: only tiny radii at the deepest zooms get cells
    // larger than they need (slower queries in extremely dense data, same result).
    cell_ = std::max(2.0 * query_ * (1.0 + 1.0 / 1048576.0), 65537.0);
    last_col_ = static_cast<std::uint64_t>(kFixedOneD / cell_);
    reach2_ = st_->reach * st_->reach;

    for (;;) {
        bool absorbed = false;
        ++passes;
        s = pass(&absorbed);
        first_ = false;
        if (s != Status::Ok || !absorbed) break;
    }
    if (s == Status::Ok) s = emit(want_assign, out, assign, n_assign);
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
    const Status s = f.run(assign != nullptr, out, assign, n_assign);
    if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.peak_scratch};
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

}  // namespace geocluster
