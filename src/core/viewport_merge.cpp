// cluster_viewport_merge (viewport_merge.hpp): shards' clusters as the engine's items, clustered
// by the engine's passes (cluster_items).
#include "core.hpp"

#include "viewport_merge.hpp"

#include "cluster_finalize_internal.hpp"
#include "cluster_items.hpp"
#include "polled_sort.hpp"
#include "quadkey.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

namespace geocluster {

using namespace cluster_internal;

namespace {

// The largest longitude west of 0: the west end of a box that reaches 0 from the west, whose
// members' easternmost west longitude is not known.
constexpr double kJustWest = -std::numeric_limits<double>::denorm_min();
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// A part's box as the ranges of its members east of 0 (lon >= 0) and west of it, each the hull
// of the box's arc on that side (+inf/-inf when the arc does not reach that side).
void side_ranges(double west_lon, double east_lon, Item* it) noexcept {
    it->min_lon_e = it->min_lon_w = kInfinity;
    it->max_lon_e = it->max_lon_w = -kInfinity;
    if (west_lon <= east_lon) {  // [west_lon, east_lon]
        if (east_lon >= 0.0) {
            it->min_lon_e = std::max(west_lon, 0.0);
            it->max_lon_e = east_lon;
        }
        if (west_lon < 0.0) {
            it->min_lon_w = west_lon;
            it->max_lon_w = std::min(east_lon, kJustWest);
        }
        return;
    }
    // Across 180: [west_lon, 180] and [-180, east_lon]; an arc that also holds 0 has both sides
    // up to 0.
    const bool holds_zero = west_lon < 0.0 || east_lon >= 0.0;
    it->min_lon_e = holds_zero ? 0.0 : west_lon;
    it->max_lon_e = 180.0;
    it->min_lon_w = -180.0;
    it->max_lon_w = holds_zero ? kJustWest : east_lon;
}

Status validate(const MergePart& p) noexcept {
    Status s = check_latlon(p.lat, p.lon);
    if (s == Status::Ok) s = check_latlon(p.min_lat, p.min_lon);
    if (s == Status::Ok) s = check_latlon(p.max_lat, p.max_lon);
    if (s == Status::Ok && p.min_lat > p.max_lat) s = Status::BoxInvalid;
    return s;
}

// The item of a part (validated, count > 0): all its members at its centre, its box as filled
// (viewport_merge.hpp). A box on both sides needs members on both: count_w is one member on the
// far side from the centre, the others on the centre's side (for a part that crosses 180, that
// makes its centre in a plain mean as near its own as any split can).
Status item_of_part(const MergePart& p, Item* it) noexcept {
    const double lat = p.lat + 0.0, lon = p.lon + 0.0;  // + 0.0: no -0.0
    const auto count = static_cast<std::uint64_t>(p.count);
    it->count = count;
    it->min_lat = p.min_lat + 0.0;
    it->max_lat = p.max_lat + 0.0;
    side_ranges(p.min_lon + 0.0, p.max_lon + 0.0, it);
    const bool east = it->max_lon_e >= it->min_lon_e, west = it->max_lon_w >= it->min_lon_w;
    if (east && west && count == 1) return Status::MergePartInvalid;
    it->count_w = !west ? 0 : !east ? count : lon < 0.0 ? count - 1 : 1;
    it->has_id = p.has_id ? 1 : 0;
    it->min_id = p.has_id ? p.id : 0;
    it->rank = 0;
    // Sums: count times the centre, so that the item's centre is the part's. A part that crosses
    // 180 has its west members counted at x + 1 (contract 4): its centre x, in that frame, is
    // one more when it lies west of 0, and its sum leaves the count_w shifts out.
    const u128 x = fixed_x_of_lon(lon), y = fixed_y_of_lat(lat);
    u128 sum_x = x * count;
    if (finalize::crosses(*it)) {
        if (lon < 0.0) sum_x += static_cast<u128>(count) << kFixedBits;
        sum_x -= static_cast<u128>(it->count_w) << kFixedBits;
    }
    it->sx_e = wide_make(sum_x);
    it->sx_w = Wide{0, 0};
    it->sy = wide_make(y * count);
    return Status::Ok;
}

// The items of the parts with count > 0, sorted by their contents and ranked in that order, so
// that the engine's result does not depend on the parts' order. *items from alloc.
Status ranked_items(const MergePart* parts, std::size_t n, const Allocator& alloc, Poller& poll,
                    Item** items, std::uint32_t* n_items, std::size_t* bad_part) noexcept {
    std::size_t m = 0;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (parts[i].count <= 0) continue;
        const Status s = validate(parts[i]);
        *bad_part = i;
        if (s != Status::Ok) return s;
        total += static_cast<std::uint64_t>(parts[i].count);
        if (static_cast<std::uint64_t>(parts[i].count) > kMaxTotalCount || total > kMaxTotalCount)
            return Status::ClusterTooManyPoints;
        ++m;
        if (poll.canceled(1)) return Status::Canceled;
    }
    *bad_part = n;
    const std::size_t bytes = m * sizeof(Item) + 1;
    if (m > kMaxBins || (alloc.budget_bytes != 0 && 2 * bytes > alloc.budget_bytes))
        return Status::StateTooLarge;  // the items, and the sort's copy of them
    Item* a = static_cast<Item*>(alloc.alloc(alloc.ctx, bytes));
    Item* tmp = static_cast<Item*>(alloc.alloc(alloc.ctx, bytes));
    Status s = a != nullptr && tmp != nullptr ? Status::Ok : Status::OutOfMemory;
    std::size_t k = 0;
    for (std::size_t i = 0; i < n && s == Status::Ok; ++i) {
        if (parts[i].count <= 0) continue;
        s = item_of_part(parts[i], &a[k++]);
        if (s != Status::Ok) *bad_part = i;
    }
    const auto key = [](const Item& it) noexcept {
        return std::make_tuple(it.count, it.count_w, wide_load(it.sx_e), wide_load(it.sy),
                               it.min_lat, it.max_lat, it.min_lon_e, it.max_lon_e, it.min_lon_w,
                               it.max_lon_w, it.has_id, it.min_id);
    };
    const auto less = [&key](const Item& l, const Item& r) noexcept { return key(l) < key(r); };
    Item* sorted = s == Status::Ok ? polled_sort(a, tmp, m, less, poll) : nullptr;
    if (s == Status::Ok && sorted == nullptr) s = Status::Canceled;
    if (sorted == tmp) std::swap(a, tmp);
    if (tmp != nullptr) alloc.release(alloc.ctx, tmp);
    if (s != Status::Ok) {
        if (a != nullptr) alloc.release(alloc.ctx, a);
        return s;
    }
    for (std::uint32_t r = 0; r < m; ++r) a[r].rank = r;
    *items = a;
    *n_items = static_cast<std::uint32_t>(m);
    return Status::Ok;
}

// radius_px 0: every item is a cluster of its own, in cluster_agg's order (count descending,
// north to south, west to east; the rest of the row only orders equal parts).
Status unmerged(const Item* items, std::uint32_t n, const Allocator& alloc, Poller& poll,
                ClusterList* out) noexcept {
    auto* c = static_cast<Cluster*>(alloc.alloc(alloc.ctx, std::size_t{n} * sizeof(Cluster) + 1));
    auto* tmp = static_cast<Cluster*>(alloc.alloc(alloc.ctx, std::size_t{n} * sizeof(Cluster) + 1));
    if (c == nullptr || tmp == nullptr) {
        if (c != nullptr) alloc.release(alloc.ctx, c);
        if (tmp != nullptr) alloc.release(alloc.ctx, tmp);
        return Status::OutOfMemory;
    }
    for (std::uint32_t i = 0; i < n; ++i) cluster_of_item(items[i], &c[i]);
    const auto key = [](const Cluster& x) noexcept {
        return std::make_tuple(-x.count, -x.lat, x.lon, x.min_lat, x.min_lon, x.max_lat, x.max_lon,
                               x.has_id, x.id);
    };
    const auto less = [&key](const Cluster& l, const Cluster& r) noexcept {
        return key(l) < key(r);
    };
    Cluster* sorted = polled_sort(c, tmp, n, less, poll);
    if (sorted == tmp) std::swap(c, tmp);
    alloc.release(alloc.ctx, tmp);
    if (sorted == nullptr) {
        alloc.release(alloc.ctx, c);
        return Status::Canceled;
    }
    *out = ClusterList{c, n};
    return Status::Ok;
}

// The engine's clustering of the items at zoom floor(zoom). Zoom 30, beyond the engine's 29, is
// zoom 29 at half the radius: the same radius in world widths, exactly (a power of two).
Status merged(const Item* items, std::uint32_t n, double zoom, double radius_px,
              const Allocator& alloc, CancelCheck cancel, ClusterList* out) noexcept {
    int z = static_cast<int>(std::floor(zoom));
    if (z > 29) {
        radius_px = std::ldexp(radius_px, 29 - z);
        z = 29;
    }
    ClusterState* params = nullptr;
    Status s = cluster_create(z, radius_px, true, alloc, &params);
    ItemClusters clusters{nullptr, 0, nullptr, 0};
    if (s == Status::Ok) s = cluster_items(params, items, n, cancel, &clusters, nullptr);
    cluster_destroy(params);
    Cluster* c = nullptr;
    if (s == Status::Ok) {
        c = static_cast<Cluster*>(
            alloc.alloc(alloc.ctx, std::size_t{clusters.n_items} * sizeof(Cluster) + 1));
        if (c == nullptr) s = Status::OutOfMemory;
    }
    if (s == Status::Ok) {
        for (std::uint32_t k = 0; k < clusters.n_items; ++k)
            cluster_of_item(clusters.items[k], &c[k]);
        *out = ClusterList{c, clusters.n_items};
    }
    item_clusters_free(alloc, &clusters);
    return s;
}

}  // namespace

Status viewport_merge(const MergePart* parts, std::size_t n, double zoom, double radius_px,
                      const Allocator& alloc, CancelCheck cancel, ClusterList* out,
                      std::size_t* bad_part) noexcept {
    *out = ClusterList{nullptr, 0};
    *bad_part = n;
    if (!(zoom >= 0.0 && zoom <= kMergeMaxZoom)) return Status::MergeZoomInvalid;
    if (!(radius_px >= 0.0 && radius_px <= kMergeMaxRadiusPx)) return Status::MergeRadiusInvalid;
    Poller poll(cancel);
    Item* items = nullptr;
    std::uint32_t n_items = 0;
    Status s = ranked_items(parts, n, alloc, poll, &items, &n_items, bad_part);
    if (s != Status::Ok || n_items == 0) {
        if (items != nullptr) alloc.release(alloc.ctx, items);
        return s;
    }
    // The engine's scratch shares the budget with the items.
    Allocator engine = alloc;
    if (engine.budget_bytes != 0) engine.budget_bytes -= std::size_t{n_items} * sizeof(Item) + 1;
    s = radius_px == 0.0 ? unmerged(items, n_items, alloc, poll, out)
                         : merged(items, n_items, zoom, radius_px, engine, cancel, out);
    alloc.release(alloc.ctx, items);
    return s;
}

}  // namespace geocluster
