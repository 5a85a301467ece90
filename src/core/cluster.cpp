// cluster_agg's state: creation, the per-row path and combine (the bin table: cluster_bins.cpp).
//
// The state is Bin records in chunks (cluster_internal.hpp, BinStore) plus an open-addressing
// index of 8-byte slots, both in allocator memory, never grown past the allocator's budget
// (reserve_bins). Nothing in it has a destructor, so a PostgreSQL context reset frees it
// without our help.
//
// Why the state is order- and split-independent: a bin's key depends on the point alone (its
// fixed-point position and the sign of its lon), and a bin's fields are an integer count, integer
// sums, minima and maxima, all commutative and associative exactly. (Latitudes and longitudes
// are normalised so that -0.0 becomes +0.0: min(-0.0, +0.0) would otherwise depend on which came
// first.) So the set of bins, with every field bit for bit, is a function of the multiset of
// points, however they were added, split or merged; cluster_finalize depends on that set only.
#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "mercator.hpp"
#include "mercator_series.hpp"
#include "polled_sort.hpp"
#include "quadkey.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>

namespace geocluster {

using namespace cluster_internal;

namespace cluster_internal {

void init_params(ClusterState* st, int zoom, double radius_px, bool has_id) noexcept {
    st->zoom = zoom;
    st->radius_px = radius_px;
    st->has_id = has_id;
    // radius_px / (256 * 2^zoom) world widths = radius_px * 2^(40 - zoom) fixed units (exact:
    // a power-of-two scaling). Overflows to inf for absurd radii, which the clamps absorb.
    const double radius_fixed = std::ldexp(radius_px, kFixedBits - 8 - zoom);
    const double side = std::floor(radius_fixed / kBinsPerRadius);
    const double max_side = 562949953421312.0;  // 2^49: one bin for the whole world
    st->bin_side =
        side < 1.0 ? 1
                   : (side > max_side ? std::uint64_t{1} << 49 : static_cast<std::uint64_t>(side));
    st->max_key = kFixedOne / st->bin_side;
    st->inv_side = 1.0 / static_cast<double>(st->bin_side);
    const double reach = radius_fixed + kSlackFixed;
    st->reach = reach < kMaxReachFixed ? reach : kMaxReachFixed;
}

Status validate_lat_lon(double lat, double lon) noexcept { return check_latlon(lat, lon); }

namespace {

void fold_point(Bin* b, const Pending& p) noexcept {
    b->count += 1;
    bin_add_sums(*b, p.x, p.y);
    // Branch-free (minsd/maxsd, cmov): whether a point moves a bound is a coin toss early in a
    // bin's life. No NaN reaches here, and -0.0 was normalised, so min/max are exact.
    b->min_lat = std::min(b->min_lat, p.lat);
    b->max_lat = std::max(b->max_lat, p.lat);
    b->min_lon = std::min(b->min_lon, p.lon);
    b->max_lon = std::max(b->max_lon, p.lon);
    const bool take_id = p.has_id != 0 && (b->has_id == 0 || p.id < b->min_id);
    b->min_id = take_id ? p.id : b->min_id;
    b->has_id = b->has_id | p.has_id;
}

constexpr std::uint32_t kMissingBin = 0xFFFFFFFFu;

// How many distinct keys among the batch's points marked kMissingBin: reserving exactly that
// keeps a small group small (a batch of 256 points in one new bin reserves one bin, not 256).
// A local open-addressing set of the keys, twice the batch size.
std::uint32_t distinct_missing(const std::uint64_t* kx, const std::uint64_t* ky,
                               const std::uint64_t* hash, const std::uint32_t* bin,
                               std::uint32_t n) noexcept {
    constexpr std::uint32_t kSetSlots = 2 * kPendingCap;
    std::uint32_t set[kSetSlots];  // point index + 1, 0 = empty
    std::memset(set, 0, sizeof(set));
    std::uint32_t distinct = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (bin[i] != kMissingBin) continue;
        for (std::uint64_t j = hash[i] & (kSetSlots - 1);; j = (j + 1) & (kSetSlots - 1)) {
            if (set[j] == 0) {
                set[j] = i + 1;
                ++distinct;
                break;
            }
            const std::uint32_t k = set[j] - 1;
            if (kx[k] == kx[i] && ky[k] == ky[i]) break;
        }
    }
    return distinct;
}

}  // namespace

namespace {

// A batch of pending points on its way into the bins: each point's key, hash and bin index.
struct Batch {
    std::uint64_t kx[kPendingCap], ky[kPendingCap], hash[kPendingCap];
    std::uint32_t bin[kPendingCap];
};

// 1. Positions (of points given by lat/lon), keys and hashes; start fetching each key's first
//    hash slot.
void batch_keys(ClusterState* st, std::uint32_t n, Batch* b) noexcept {
    for (std::uint32_t i = 0; i < n; ++i) {
        Pending& p = st->pending[i];
        if (p.x == kPositionPending) {
            p.x = fixed_x_of_lon(p.lon);
            p.y = fixed_y_of_lat(p.lat);
        } else if (std::isnan(p.lat)) {  // a cell centre: lat/lon from the exact position
            p.lat = mercator_lat(static_cast<double>(p.y) / kFixedOneD) + 0.0;
            p.lon = mercator_lon(static_cast<double>(p.x) / kFixedOneD) + 0.0;
        }
        b->kx[i] = div_side(st, p.x) << 1 | (p.lon < 0.0 ? 1u : 0u);
        b->ky[i] = div_side(st, p.y);
        b->hash[i] = hash_key(b->kx[i], b->ky[i]);
        if (st->slots != nullptr) __builtin_prefetch(&st->slots[b->hash[i] & st->slot_mask]);
    }
}

// 2. Find each bin in two steps, so that the cache misses of a batch overlap instead of queueing
//    one after another: (a, here) probe the hash slots (being fetched since step 1) by their
//    32-bit tags alone and start fetching the bin a tag names (a Bin spans two cache lines);
//    (b, batch_verify) check each point's key against that bin. A point with the previous
//    point's key (rows that arrive sorted) takes its bin without a probe.
void batch_probe(const ClusterState* st, std::uint32_t n, Batch* b) noexcept {
    if (st->slots == nullptr) {
        for (std::uint32_t i = 0; i < n; ++i) b->bin[i] = kMissingBin;
        return;
    }
    const Slot* const slots = st->slots;
    const std::uint64_t mask = st->slot_mask;
    // The previous batch's last point (none yet: no key matches kMissingBin's bin).
    std::uint32_t prev = st->n_bins > 0 ? st->last : kMissingBin;
    std::uint64_t prev_kx = prev != kMissingBin ? st->bins[prev].kx : ~std::uint64_t{0};
    std::uint64_t prev_ky = prev != kMissingBin ? st->bins[prev].ky : ~std::uint64_t{0};
    for (std::uint32_t i = 0; i < n; ++i) {
        if (b->kx[i] == prev_kx && b->ky[i] == prev_ky && prev != kMissingBin) {  // verified in (b)
            b->bin[i] = prev;
            continue;
        }
        const auto tag = tag_of(b->hash[i]);
        std::uint32_t found = kMissingBin;
        for (std::uint64_t j = b->hash[i] & mask;; j = (j + 1) & mask) {
            const Slot sl = slots[j];
            if (sl.index1 == 0) break;
            if (sl.tag == tag) {
                found = sl.index1 - 1;
                break;
            }
        }
        if (found != kMissingBin) {
            __builtin_prefetch(&st->bins[found]);
            __builtin_prefetch(reinterpret_cast<const char*>(&st->bins[found]) + 64);
        }
        b->bin[i] = prev = found;
        prev_kx = b->kx[i];
        prev_ky = b->ky[i];
    }
}

// (b): each point's key against its bin, by then in cache; a proper search on the rare false tag
// match. Returns how many points have no bin yet (bin = kMissingBin).
std::uint32_t batch_verify(const ClusterState* st, std::uint32_t n, Batch* b) noexcept {
    std::uint32_t missing = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (b->bin[i] != kMissingBin) {
            const Bin& bin = st->bins[b->bin[i]];
            if (bin.kx == b->kx[i] && bin.ky == b->ky[i]) continue;
            b->bin[i] = find_index_hashed(st, b->kx[i], b->ky[i], b->hash[i]);
            if (b->bin[i] != kNoBin) continue;
            b->bin[i] = kMissingBin;
        }
        ++missing;
    }
    return missing;
}

// 3. Room for the missing keys, then their bins. While the tables have room for every missing
//    point (the usual case), nothing needs counting; otherwise reserve exactly the distinct new
//    keys, so that a small group stays small (a batch of 256 points in one new bin reserves one
//    bin, not 256). Nothing changes in the state unless every new key has room.
Status batch_insert(ClusterState* st, std::uint32_t n, std::uint32_t missing, Batch* b) noexcept {
    std::uint64_t need = std::uint64_t{st->n_bins} + missing;
    const std::uint64_t slot_room = st->slots != nullptr ? (st->slot_mask + 1) / 2 : 0;
    if (need > st->cap_bins || need > slot_room)
        need = std::uint64_t{st->n_bins} + distinct_missing(b->kx, b->ky, b->hash, b->bin, n);
    const Status s = reserve_bins(st, need, false);
    if (s != Status::Ok) return s;
    // One probe per point: an earlier point of the batch may have added its key.
    for (std::uint32_t i = 0; i < n; ++i)
        if (b->bin[i] == kMissingBin)
            b->bin[i] = find_or_insert_index(st, b->kx[i], b->ky[i], b->hash[i]);
    return Status::Ok;
}

}  // namespace

Status flush_pending(ClusterState* st) noexcept {
    const std::uint32_t n = st->n_pending;
    if (n == 0) return Status::Ok;
    Batch b;
    batch_keys(st, n, &b);
    batch_probe(st, n, &b);
    const std::uint32_t missing = batch_verify(st, n, &b);
    if (missing > 0) {
        const Status s = batch_insert(st, n, missing, &b);
        if (s != Status::Ok) return s;
    }
    // 4. Fold the points in.
    for (std::uint32_t i = 0; i < n; ++i) fold_point(&st->bins[b.bin[i]], st->pending[i]);
    st->last = b.bin[n - 1];
    st->n_pending = 0;
    return Status::Ok;
}

}  // namespace cluster_internal

namespace {

ClusterBinKey key_of(const ClusterState* st, std::uint64_t x, std::uint64_t y,
                     double lon) noexcept {
    return ClusterBinKey{div_side(st, x) << 1 | (lon < 0.0 ? 1u : 0u), div_side(st, y)};
}

// Makes room in the point buffer. It starts at 16 points and doubles (folding first) up to
// kPendingCap, so that a GROUP BY with many small groups does not pay 12 KB per group.
Status grow_or_flush_pending(ClusterState* st) noexcept {
    if (st->n_pending > 0) {
        const Status s = flush_pending(st);
        if (s != Status::Ok) return s;
    }
    if (st->cap_pending < kPendingCap) {
        const std::uint32_t cap = st->cap_pending == 0 ? 16 : 2 * st->cap_pending;
        const std::size_t peak =  // as in reserve_bins: the old buffer is live while it grows
            state_bytes(st->cap_bins, st->bins.cap_chunks, slot_count(st), cap) +
            std::size_t{st->cap_pending} * sizeof(Pending);
        if (st->alloc.budget_bytes != 0 && peak > st->alloc.budget_bytes) {
            if (st->pending != nullptr) return Status::Ok;  // go on with the buffer it has
            st->refused_bytes = peak;
            return Status::StateTooLarge;
        }
        auto* p = static_cast<Pending*>(
            st->alloc.alloc(st->alloc.ctx, std::size_t{cap} * sizeof(Pending)));
        if (p != nullptr) {
            if (st->pending != nullptr) st->alloc.release(st->alloc.ctx, st->pending);
            st->pending = p;
            st->cap_pending = cap;
        } else if (st->pending == nullptr) {
            return Status::OutOfMemory;  // (with a buffer already, going on with it is fine)
        }
    }
    return Status::Ok;
}

// The per-row path: lat/lon are validated and free of -0.0; x/y are fixed-point positions. The
// point waits in the pending buffer (cluster_internal.hpp) and is counted at once.
Status add_fixed(ClusterState* st, std::uint64_t x, std::uint64_t y, double lat, double lon,
                 bool has_id, std::int64_t id) noexcept {
    if (st->total >= kMaxTotalCount) return Status::ClusterTooManyPoints;
    if (st->n_pending == st->cap_pending) {
        const Status s = grow_or_flush_pending(st);
        if (s != Status::Ok) return s;
    }
    st->pending[st->n_pending++] = Pending{x, y, lat, lon, id, has_id ? 1u : 0u};
    st->total += 1;
    return Status::Ok;
}

// Whether a position lies within kLatLonSlackFixed of lat/lon's own, as the deserialiser expects
// of every member (cluster_internal.hpp).
bool near_own_lat_lon(std::uint64_t x, std::uint64_t y, double lat, double lon) noexcept {
    const std::uint64_t ox = fixed_x_of_lon(lon), oy = fixed_y_of_lat(lat);
    return (x > ox ? x - ox : ox - x) <= kLatLonSlackFixed &&
           (y > oy ? y - oy : oy - y) <= kLatLonSlackFixed;
}

Status unit_position(double unit_x, double unit_y, std::uint64_t* x, std::uint64_t* y) noexcept {
    if (!(unit_x >= 0.0 && unit_x <= 1.0 && unit_y >= 0.0 && unit_y <= 1.0))
        return Status::UnitPositionOutOfRange;  // also NaN
    *x = fixed_from_unit(unit_x);
    *y = fixed_from_unit(unit_y);
    return Status::Ok;
}

}  // namespace

Status cluster_create(int zoom, double radius_px, bool has_id, const Allocator& alloc,
                      ClusterState** out) noexcept {
    *out = nullptr;
    if (zoom < 0 || zoom > kMaxZoom) return Status::ZoomOutOfRange;
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    auto* st = static_cast<ClusterState*>(alloc.alloc(alloc.ctx, sizeof(ClusterState)));
    if (st == nullptr) return Status::OutOfMemory;
    std::memset(static_cast<void*>(st), 0, sizeof(ClusterState));
    st->alloc = alloc;
    init_params(st, zoom, radius_px, has_id);
    *out = st;
    return Status::Ok;
}

void cluster_destroy(ClusterState* st) noexcept {
    if (st == nullptr) return;
    const Allocator a = st->alloc;
    for (std::uint32_t j = 0; j < st->bins.n_chunks; ++j) a.release(a.ctx, st->bins.chunks[j]);
    if (st->bins.chunks != nullptr) a.release(a.ctx, st->bins.chunks);
    if (st->slots != nullptr) a.release(a.ctx, st->slots);
    if (st->pending != nullptr) a.release(a.ctx, st->pending);
    a.release(a.ctx, st);
}

Status cluster_check_params(const ClusterState* st, int zoom, double radius_px,
                            bool has_id) noexcept {
    return st->zoom == zoom && st->radius_px == radius_px && st->has_id == has_id
               ? Status::Ok
               : Status::ClusterParamsDiffer;
}

Status cluster_add_point(ClusterState* st, double lat, double lon, bool has_id,
                         std::int64_t id) noexcept {
    const Status s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    lat += 0.0;  // -0.0 -> +0.0 (see the top of this file)
    lon += 0.0;
    return add_fixed(st, kPositionPending, kPositionPending, lat, lon, has_id && st->has_id, id);
}

Status cluster_add_mercator(ClusterState* st, double unit_x, double unit_y, double lat, double lon,
                            bool has_id, std::int64_t id) noexcept {
    std::uint64_t x = 0, y = 0;
    Status s = unit_position(unit_x, unit_y, &x, &y);
    if (s != Status::Ok) return s;
    s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    if (!near_own_lat_lon(x, y, lat, lon)) return Status::UnitPositionOutOfRange;
    return add_fixed(st, x, y, lat + 0.0, lon + 0.0, has_id && st->has_id, id);
}

Status cluster_add_cell_centre(ClusterState* st, double unit_x, double unit_y, bool has_id,
                               std::int64_t id) noexcept {
    std::uint64_t x = 0, y = 0;
    const Status s = unit_position(unit_x, unit_y, &x, &y);
    if (s != Status::Ok) return s;
    // Cell centres are multiples of 2^-30 at most (zoom 29 and geohash precision 12 alike), so
    // x / 2^48 and y / 2^48 give back unit_x and unit_y exactly.
    if (static_cast<double>(x) != unit_x * kFixedOneD ||
        static_cast<double>(y) != unit_y * kFixedOneD)
        return Status::UnitPositionOutOfRange;
    return add_fixed(st, x, y, std::numeric_limits<double>::quiet_NaN(), 0.0, has_id && st->has_id,
                     id);
}

Status cluster_merge(ClusterState* dst, const ClusterState* src, CancelCheck cancel) noexcept {
    if (dst == nullptr || src == nullptr || dst == src) return Status::Internal;
    if (cluster_check_params(dst, src->zoom, src->radius_px, src->has_id) != Status::Ok)
        return Status::ClusterParamsDiffer;
    if (src->total > kMaxTotalCount - dst->total) return Status::ClusterTooManyPoints;
    Status settled = settle(src);
    if (settled == Status::Ok) settled = settle(dst);
    if (settled != Status::Ok) return settled;
    // Count the new keys first and reserve once, so that a failure leaves dst untouched.
    Poller poll(cancel);
    std::uint64_t fresh = 0;
    for (std::uint32_t i = 0; i < src->n_bins; ++i) {
        if (find_bin(dst, src->bins[i].kx, src->bins[i].ky) == nullptr) ++fresh;
        if (poll.canceled(1)) return Status::Canceled;
    }
    if (fresh > 0) {
        const Status s = reserve_bins(dst, dst->n_bins + fresh, true, &poll);
        if (s != Status::Ok) return s;
    }
    // src's bins hold all its points (settled above), so counting them bin by bin keeps dst
    // consistent when a cancel stops this halfway.
    for (std::uint32_t i = 0; i < src->n_bins; ++i) {
        const Bin& sb = src->bins[i];
        absorb_bin(find_or_insert_bin(dst, sb.kx, sb.ky, hash_key(sb.kx, sb.ky)), sb);
        dst->total += sb.count;
        if (poll.canceled(1)) return Status::Canceled;
    }
    return Status::Ok;
}

std::size_t cluster_estimate_bytes(const ClusterState* st) noexcept {
    return state_bytes(st->cap_bins, st->bins.cap_chunks, slot_count(st), st->cap_pending);
}

std::size_t cluster_refused_bytes(const ClusterState* st) noexcept { return st->refused_bytes; }

int cluster_zoom(const ClusterState* st) noexcept { return st->zoom; }
double cluster_radius_px(const ClusterState* st) noexcept { return st->radius_px; }
bool cluster_has_id(const ClusterState* st) noexcept { return st->has_id; }
std::uint64_t cluster_point_count(const ClusterState* st) noexcept { return st->total; }
std::size_t cluster_bin_count(const ClusterState* st) noexcept { return st->n_bins; }
const Allocator& cluster_allocator(const ClusterState* st) noexcept { return st->alloc; }

Status cluster_bin_key(const ClusterState* st, double lat, double lon,
                       ClusterBinKey* out) noexcept {
    const Status s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    lat += 0.0;
    lon += 0.0;
    *out = key_of(st, fixed_x_of_lon(lon), fixed_y_of_lat(lat), lon);
    return Status::Ok;
}

Status cluster_bin_key_mercator(const ClusterState* st, double unit_x, double unit_y, double lat,
                                double lon, ClusterBinKey* out) noexcept {
    std::uint64_t x = 0, y = 0;
    Status s = unit_position(unit_x, unit_y, &x, &y);
    if (s != Status::Ok) return s;
    s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    *out = key_of(st, x, y, lon + 0.0);
    return Status::Ok;
}

}  // namespace geocluster
