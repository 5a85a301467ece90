// cluster_agg's final step: turning the bins into clusters.
//
// Algorithm. Every bin starts as an item (a weighted point at its exact centroid). Then passes of
// supercluster-style greedy absorption run until one changes nothing:
//
//   pass:  compute every item's centre exactly (integer sums / count);
//          visit the items heaviest first (ties: by centre, id, then a unique rank);
//          an item not yet taken becomes a seed and takes every item not yet taken whose centre
//          lies within radius of the seed's centre (a grid of radius-sized cells, wrapped
//          east-west, finds them); the seed and what it took become one item.
//
// The first pass over the bins is the clustering proper: clusters grow around the heaviest bins
// (real concentrations), and since every item a seed takes is within one radius of the seed's
// own centre, absorption does not chain the way single-linkage/DBSCAN does (a line of markers
// spaced radius/2 apart becomes a row of clusters, not one). The later passes only repair what
// greedy absorption leaves behind: two centres that ended up closer than radius after their
// centroids moved. Those are merged, again around the heavier one.
//
// Why each guarantee holds (numbers refer to the contract in cluster.hpp):
//  1. Conservation: items are only ever added together, and every item ends in exactly one
//     item of the next pass (as a seed or taken by exactly one seed, taken[] makes sure).
//  2. Separation: the loop stops after a pass in which no seed took anything. In that pass every
//     item was a seed when its turn came, and any item within radius of it was not yet taken
//     (nothing was), so it would have been taken: hence no two items are within radius. "Within"
//     is radius + 64 fixed units (cluster_internal.hpp), which absorbs the rounding of double
//     distances and of the lat/lon output. Termination: a pass that takes something reduces the
//     number of items by at least one, so there are at most (bins) passes; in practice a handful.
//  3. Membership: items are unions of whole bins; bounds are minima and maxima of member bins'
//     minima and maxima, i.e. of the members' original lat/lon, kept separately for members east
//     (lon >= 0) and west (lon < 0) so the shorter of the ordinary and the antimeridian-crossing
//     box can be chosen exactly.
//  4. Centre: sums of fixed-point positions, separately for east and west members, in 128-bit
//     integers; a crossing cluster adds count_west * 2^48 (x + 1 for every west member). The
//     exact quotient q + r / count is kept for ordering and converted with long double.
//  5. Determinism: the bins (with all their fields) are a function of the point multiset
//     (cluster.cpp). Every pass orders its items by a total order computed from their contents
//     only (count, exact centre, id, and a rank given by the first pass's total order, which ends
//     in the unique bin key), never by array position; what a seed takes is a set defined by
//     distances, whatever order the grid visits it in; and adding items is exact. So the same
//     bins give the same passes and the same output, bit for bit.
//  6. id: minimum over members that have one.
//  7. Finalisation needs O(bins) scratch (about 200 bytes per bin), allocated from the state's
//     allocator and released before returning; the result is one Cluster per cluster.
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
    double min_lon_e, max_lon_e;   // over east members (+inf/-inf when none)
    double min_lon_w, max_lon_w;   // over west members (+inf/-inf when none)
    std::int64_t min_id;
    std::uint32_t rank;            // min over members of their bins' first-pass rank: unique
    std::uint32_t has_id;
};

// An item's centre at the start of a pass: exactly q + r / count fixed units (r < count), and as
// doubles for distances, plus its grid cell.
struct Centre {
    std::uint64_t qx, rx, qy, ry;
    double x, y;
    std::uint64_t gx, gy;
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

void centre_of(const Item& it, double cell, Centre* c) noexcept {
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
    c->gx = static_cast<std::uint64_t>(c->x / cell);
    c->gy = static_cast<std::uint64_t>(c->y / cell);
}

// The Finalizer owns finalisation's scratch arrays (all trivially destructible, all from the
// state's allocator) and releases them explicitly: it has no destructor on purpose.
class Finalizer {
public:
    Finalizer(const ClusterState* st, CancelCheck cancel) noexcept : st_(st), a_(st->alloc), cancel_(cancel) {}

    Status run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
               std::size_t* n_assign) noexcept;

private:
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
        *p = static_cast<T*>(a_.alloc(a_.ctx, n * sizeof(T)));
        if (*p == nullptr) return Status::OutOfMemory;
        scratch_ += n * sizeof(T);
        return Status::Ok;
    }
    void put(void* p) noexcept {
        if (p != nullptr) a_.release(a_.ctx, p);
    }
    void release_scratch() noexcept {
        put(items_);
        put(cen_);
        put(order_);
        put(grid_);
        put(taken_);
        put(owner_);
        put(into_);
    }
    bool canceled(std::uint64_t work) noexcept {
        if (cancel_.should_cancel == nullptr) return false;
        budget_ += work;
        if (budget_ < kPollEvery) return false;
        budget_ = 0;
        return cancel_.should_cancel(cancel_.ctx);
    }

    bool seed_before(std::uint32_t a, std::uint32_t b) const noexcept;
    bool within(const Centre& p, const Centre& q) const noexcept;
    template <typename F>
    std::uint64_t for_each_near(const Centre& q, F&& visit) const noexcept;
    Status pass(bool* absorbed) noexcept;
    void compact() noexcept;
    Status emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                std::size_t* n_assign) noexcept;

    const ClusterState* st_;
    Allocator a_;
    CancelCheck cancel_;
    std::uint64_t budget_ = 0;
    std::size_t scratch_ = 0;

    std::uint32_t n_ = 0;      // items in this pass
    std::uint32_t heads_ = 0;  // items after this pass: order_[0, heads_) are the seeds
    bool first_ = true;        // first pass: items are the bins, in the state's order
    double cell_ = 0;          // grid cell side, fixed units, >= reach
    std::uint64_t last_cell_ = 0;

    Item* items_ = nullptr;
    Centre* cen_ = nullptr;
    std::uint32_t* order_ = nullptr;  // seed order; then the seeds, in seed order
    std::uint32_t* grid_ = nullptr;   // items sorted by cell; then old index -> new index
    std::uint8_t* taken_ = nullptr;
    std::uint32_t* owner_ = nullptr;  // assignment only: bin -> item
    std::uint32_t* into_ = nullptr;   // assignment only: item -> seed that took it

public:
    std::uint32_t passes = 0;
    std::size_t scratch_bytes() const noexcept { return scratch_; }
};

// The total order of seeds and of the output (contract 5). Centres compare exactly: with equal
// counts, q + r / count orders as (q, r).
bool Finalizer::seed_before(std::uint32_t a, std::uint32_t b) const noexcept {
    const Item& A = items_[a];
    const Item& B = items_[b];
    if (A.count != B.count) return A.count > B.count;
    const Centre& ca = cen_[a];
    const Centre& cb = cen_[b];
    if (ca.qy != cb.qy) return ca.qy < cb.qy;
    if (ca.ry != cb.ry) return ca.ry < cb.ry;
    if (ca.qx != cb.qx) return ca.qx < cb.qx;
    if (ca.rx != cb.rx) return ca.rx < cb.rx;
    if (A.has_id != B.has_id) return A.has_id > B.has_id;
    if (A.has_id != 0 && A.min_id != B.min_id) return A.min_id < B.min_id;
    if (first_) {
        const Bin& ba = st_->bins[a];
        const Bin& bb = st_->bins[b];
        return ba.kx != bb.kx ? ba.kx < bb.kx : ba.ky < bb.ky;
    }
    return A.rank < B.rank;
}

bool Finalizer::within(const Centre& p, const Centre& q) const noexcept {
    double dx = std::fabs(p.x - q.x);
    if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
    const double dy = p.y - q.y;
    return dx * dx + dy * dy < st_->reach * st_->reach;
}

// Calls visit(j) for every item j whose cell is within one cell of q's, columns wrapping around
// the world (x = 0 and x = 2^48 are the same meridian). Cells are a little wider than the reach
// (cell_), so an item within reach of q by the double arithmetic of within() always lies in the
// visited cells. Returns the number of items visited (work for the cancel poll).
template <typename F>
std::uint64_t Finalizer::for_each_near(const Centre& q, F&& visit) const noexcept {
    const double g = cell_;
    const double world = kFixedOneD;
    struct Range {
        std::uint64_t lo, hi;
    } cols[2];
    int n_cols = 0;
    if (2.0 * g >= world) {
        cols[n_cols++] = Range{0, last_cell_};
    } else {
        const double a = q.x - g, b = q.x + g;
        cols[n_cols++] = Range{static_cast<std::uint64_t>(std::max(a, 0.0) / g),
                               static_cast<std::uint64_t>(std::min(b, world) / g)};
        if (a < 0.0) cols[n_cols++] = Range{static_cast<std::uint64_t>((a + world) / g), last_cell_};
        if (b > world) cols[n_cols++] = Range{0, static_cast<std::uint64_t>((b - world) / g)};
        // Two ranges at most (2g < world: only one end can wrap); join them if they overlap.
        if (n_cols == 2) {
            if (cols[1].lo < cols[0].lo) std::swap(cols[0], cols[1]);
            if (cols[1].lo <= cols[0].hi + 1) {
                cols[0].hi = std::max(cols[0].hi, cols[1].hi);
                n_cols = 1;
            }
        }
    }
    const std::uint64_t row_lo = static_cast<std::uint64_t>(std::max(q.y - g, 0.0) / g);
    const std::uint64_t row_hi = static_cast<std::uint64_t>(std::min(q.y + g, world) / g);
    const Centre* cen = cen_;
    std::uint64_t visited = 0;
    for (std::uint64_t row = row_lo; row <= row_hi; ++row) {
        for (int c = 0; c < n_cols; ++c) {
            std::uint32_t* it = std::lower_bound(
                grid_, grid_ + n_, cols[c].lo, [cen, row](std::uint32_t j, std::uint64_t col) noexcept {
                    return cen[j].gy != row ? cen[j].gy < row : cen[j].gx < col;
                });
            for (; it != grid_ + n_ && cen[*it].gy == row && cen[*it].gx <= cols[c].hi; ++it) {
                visit(*it);
                ++visited;
            }
        }
    }
    return visited;
}

Status Finalizer::pass(bool* absorbed) noexcept {
    *absorbed = false;
    for (std::uint32_t i = 0; i < n_; ++i) {
        centre_of(items_[i], cell_, &cen_[i]);
        order_[i] = i;
        grid_[i] = i;
        if (canceled(1)) return Status::Canceled;
    }
    std::sort(order_, order_ + n_,
              [this](std::uint32_t a, std::uint32_t b) noexcept { return seed_before(a, b); });
    if (first_)
        for (std::uint32_t k = 0; k < n_; ++k) items_[order_[k]].rank = k;
    const Centre* cen = cen_;
    std::sort(grid_, grid_ + n_, [cen](std::uint32_t a, std::uint32_t b) noexcept {
        return cen[a].gy != cen[b].gy ? cen[a].gy < cen[b].gy : cen[a].gx < cen[b].gx;
    });
    std::memset(taken_, 0, n_);

    std::uint32_t heads = 0;
    bool any = false;
    for (std::uint32_t k = 0; k < n_; ++k) {
        const std::uint32_t i = order_[k];
        if (taken_[i] != 0) continue;
        taken_[i] = 1;
        if (into_ != nullptr) into_[i] = i;
        Item& seed = items_[i];
        const Centre q = cen_[i];
        const std::uint64_t work = for_each_near(q, [&](std::uint32_t j) noexcept {
            if (taken_[j] != 0 || !within(q, cen_[j])) return;
            taken_[j] = 1;
            item_add(seed, items_[j]);
            if (into_ != nullptr) into_[j] = i;
            any = true;
        });
        order_[heads++] = i;  // heads <= k + 1: never overwrites an entry still to be read
        if (canceled(work + 1)) return Status::Canceled;
    }
    heads_ = heads;
    *absorbed = any;
    return Status::Ok;
}

// Moves the seeds (the next pass's items) to the front. Taking them in increasing index order,
// seed k moves to position k <= its index, never onto a seed still to move.
void Finalizer::compact() noexcept {
    std::sort(order_, order_ + heads_);
    for (std::uint32_t k = 0; k < heads_; ++k) {
        const std::uint32_t from = order_[k];
        if (from != k) items_[k] = items_[from];
        grid_[from] = k;  // grid_ is free now: old index -> new index
    }
    if (owner_ != nullptr)
        for (std::uint32_t b = 0; b < st_->n_bins; ++b) owner_[b] = grid_[into_[owner_[b]]];
    n_ = heads_;
}

Status Finalizer::emit(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                       std::size_t* n_assign) noexcept {
    // The last pass took nothing, so every item was a seed, in seed order: order_ is the output
    // order (contract 5).
    auto* clusters = static_cast<Cluster*>(a_.alloc(a_.ctx, std::size_t{n_} * sizeof(Cluster)));
    if (clusters == nullptr) return Status::OutOfMemory;
    ClusterBinAssignment* pairs = nullptr;
    if (want_assign) {
        pairs = static_cast<ClusterBinAssignment*>(
            a_.alloc(a_.ctx, std::size_t{st_->n_bins} * sizeof(ClusterBinAssignment)));
        if (pairs == nullptr) {
            a_.release(a_.ctx, clusters);
            return Status::OutOfMemory;
        }
    }
    constexpr long double kPiL = 3.141592653589793238462643383279502884L;
    const long double one = static_cast<long double>(kFixedOneD);
    for (std::uint32_t k = 0; k < n_; ++k) {
        const std::uint32_t i = order_[k];
        const Item& it = items_[i];
        const Centre& c = cen_[i];
        const long double n = static_cast<long double>(it.count);
        const long double ux = (static_cast<long double>(c.qx) + static_cast<long double>(c.rx) / n) / one;
        const long double uy = (static_cast<long double>(c.qy) + static_cast<long double>(c.ry) / n) / one;
        Cluster& o = clusters[k];
        o.count = static_cast<std::int64_t>(it.count);
        o.lon = static_cast<double>(ux * 360.0L - 180.0L);
        o.lat = static_cast<double>(std::atan(std::sinh(kPiL * (1.0L - 2.0L * uy))) * (180.0L / kPiL));
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
        grid_[i] = k;  // item -> output position, for the assignment
    }
    if (want_assign) {
        for (std::uint32_t b = 0; b < st_->n_bins; ++b)
            pairs[b] = ClusterBinAssignment{ClusterBinKey{st_->bins[b].kx, st_->bins[b].ky},
                                            grid_[owner_[b]]};
        std::sort(pairs, pairs + st_->n_bins,
                  [](const ClusterBinAssignment& x, const ClusterBinAssignment& y) noexcept {
                      return x.key.kx != y.key.kx ? x.key.kx < y.key.kx : x.key.ky < y.key.ky;
                  });
        *assign = pairs;
        *n_assign = st_->n_bins;
    }
    *out = ClusterList{clusters, n_};
    return Status::Ok;
}

Status Finalizer::run(bool want_assign, ClusterList* out, ClusterBinAssignment** assign,
                      std::size_t* n_assign) noexcept {
    n_ = st_->n_bins;
    if (n_ == 0) return Status::Ok;
    Status s = get(&items_, n_);
    if (s == Status::Ok) s = get(&cen_, n_);
    if (s == Status::Ok) s = get(&order_, n_);
    if (s == Status::Ok) s = get(&grid_, n_);
    if (s == Status::Ok) s = get(&taken_, n_);
    if (s == Status::Ok && want_assign) s = get(&owner_, n_);
    if (s == Status::Ok && want_assign) s = get(&into_, n_);
    if (s != Status::Ok) {
        release_scratch();
        return s;
    }
    for (std::uint32_t i = 0; i < n_; ++i) {
        items_[i] = item_from_bin(st_->bins[i]);
        if (owner_ != nullptr) owner_[i] = i;
    }
    // A little wider than the reach, so that rounding in the cell computation never hides a
    // neighbour (see for_each_near); +1 keeps it above the ulp of positions near 2^48.
    cell_ = st_->reach + st_->reach * (1.0 / 1048576.0) + 1.0;
    last_cell_ = static_cast<std::uint64_t>(kFixedOneD / cell_);

    for (;;) {
        bool absorbed = false;
        ++passes;
        s = pass(&absorbed);
        if (s != Status::Ok || !absorbed) break;
        compact();
        first_ = false;
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
    Finalizer f(st, cancel);
    const Status s = f.run(assign != nullptr, out, assign, n_assign);
    if (stats != nullptr) *stats = ClusterFinalizeStats{f.passes, f.scratch_bytes()};
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
