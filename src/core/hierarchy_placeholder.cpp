// PLACEHOLDER, TO BE REPLACED: a deliberately simple hierarchy_build so that the SQL side
// (src/pg/hierarchy.cpp, src/sql/geocluster/60_hierarchy.sql) can be built and tested before the
// real implementation (src/core/hierarchy.cpp) is merged. Delete this file then; nothing else
// refers to it.
//
// What it does: zoom max_zoom clusters the markers with the engine (cluster_agg's clustering);
// every coarser zoom z runs the engine over the zoom z + 1 clusters, each added as `count`
// copies of a point at its centre (so weighted, and all in one bin, which keeps nesting exact).
// Counts, sums, centres, bounds, ids and expansion zooms are then recomputed from the members'
// exact sums, so the output has the header's shape; separation at coarse zooms is only as good
// as the engine's view of the children's centres.
#include "hierarchy.hpp"

#include "cluster_internal.hpp"
#include "mercator_series.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace geocluster {
namespace {

using cluster_internal::u128;
using cluster_internal::kFixedBits;
using cluster_internal::kFixedOne;

u128 load(std::uint64_t lo, std::uint64_t hi) { return (static_cast<u128>(hi) << 64) | lo; }
void store(u128 v, std::uint64_t* lo, std::uint64_t* hi) {
    *lo = static_cast<std::uint64_t>(v);
    *hi = static_cast<std::uint64_t>(v >> 64);
}

void sums_empty(HierNode* n) {
    std::memset(&n->sums, 0, sizeof(n->sums));
    const double inf = std::numeric_limits<double>::infinity();
    n->sums.min_lon_e = n->sums.min_lon_w = inf;
    n->sums.max_lon_e = n->sums.max_lon_w = -inf;
    n->count = 0;
    n->min_lat = inf;
    n->max_lat = -inf;
    n->id = std::numeric_limits<std::int64_t>::max();
}

void add_marker(HierNode* n, const HierMarker& m) {
    const u128 x = cluster_internal::fixed_from_unit(mercator_x(m.lon));
    const u128 y = cluster_internal::fixed_from_unit(mercator_y_series(m.lat));
    HierSums& s = n->sums;
    if (m.lon < 0) {
        s.count_w += 1;
        store(load(s.sx_w_lo, s.sx_w_hi) + x, &s.sx_w_lo, &s.sx_w_hi);
        s.min_lon_w = std::min(s.min_lon_w, m.lon);
        s.max_lon_w = std::max(s.max_lon_w, m.lon);
    } else {
        store(load(s.sx_e_lo, s.sx_e_hi) + x, &s.sx_e_lo, &s.sx_e_hi);
        s.min_lon_e = std::min(s.min_lon_e, m.lon);
        s.max_lon_e = std::max(s.max_lon_e, m.lon);
    }
    store(load(s.sy_lo, s.sy_hi) + y, &s.sy_lo, &s.sy_hi);
    n->count += 1;
    n->min_lat = std::min(n->min_lat, m.lat);
    n->max_lat = std::max(n->max_lat, m.lat);
    n->id = std::min(n->id, m.id);
}

void add_node(HierNode* n, const HierNode& c) {
    HierSums& s = n->sums;
    s.count_w += c.sums.count_w;
    store(load(s.sx_e_lo, s.sx_e_hi) + load(c.sums.sx_e_lo, c.sums.sx_e_hi), &s.sx_e_lo, &s.sx_e_hi);
    store(load(s.sx_w_lo, s.sx_w_hi) + load(c.sums.sx_w_lo, c.sums.sx_w_hi), &s.sx_w_lo, &s.sx_w_hi);
    store(load(s.sy_lo, s.sy_hi) + load(c.sums.sy_lo, c.sums.sy_hi), &s.sy_lo, &s.sy_hi);
    s.min_lon_e = std::min(s.min_lon_e, c.sums.min_lon_e);
    s.max_lon_e = std::max(s.max_lon_e, c.sums.max_lon_e);
    s.min_lon_w = std::min(s.min_lon_w, c.sums.min_lon_w);
    s.max_lon_w = std::max(s.max_lon_w, c.sums.max_lon_w);
    n->count += c.count;
    n->min_lat = std::min(n->min_lat, c.min_lat);
    n->max_lat = std::max(n->max_lat, c.max_lat);
    n->id = std::min(n->id, c.id);
}

// Centre and box from the sums, as cluster_finalize.cpp computes them (contracts 3 and 4).
void finish(HierNode* n) {
    const HierSums& s = n->sums;
    bool crosses = false;
    if (s.count_w > 0 && s.count_w < n->count)
        crosses = 360.0 - (s.min_lon_e - s.max_lon_w) < s.max_lon_e - s.min_lon_w;
    u128 nx = load(s.sx_e_lo, s.sx_e_hi) + load(s.sx_w_lo, s.sx_w_hi);
    if (crosses) nx += static_cast<u128>(s.count_w) << kFixedBits;
    const u128 ny = load(s.sy_lo, s.sy_hi);
    std::uint64_t qx = static_cast<std::uint64_t>(nx / n->count);
    const std::uint64_t rx = static_cast<std::uint64_t>(nx % n->count);
    const std::uint64_t qy = static_cast<std::uint64_t>(ny / n->count);
    const std::uint64_t ry = static_cast<std::uint64_t>(ny % n->count);
    if (qx > kFixedOne || (qx == kFixedOne && rx > 0)) qx -= kFixedOne;
    constexpr long double kPiL = 3.141592653589793238462643383279502884L;
    const long double one = 281474976710656.0L, cnt = static_cast<long double>(n->count);
    const long double ux = (static_cast<long double>(qx) + static_cast<long double>(rx) / cnt) / one;
    const long double uy = (static_cast<long double>(qy) + static_cast<long double>(ry) / cnt) / one;
    n->lon = static_cast<double>(ux * 360.0L - 180.0L);
    n->lat = static_cast<double>(std::atan(std::sinh(kPiL * (1.0L - 2.0L * uy))) * (180.0L / kPiL));
    if (crosses) {
        n->min_lon = s.min_lon_e;
        n->max_lon = s.max_lon_w;
    } else {
        n->min_lon = s.count_w > 0 ? s.min_lon_w : s.min_lon_e;
        n->max_lon = s.count_w < n->count ? s.max_lon_e : s.max_lon_w;
    }
}

// The engine's cluster index of a point, from the sorted bin assignment.
std::size_t cluster_of(const ClusterState* st, const ClusterBinAssignment* a, std::size_t n, double lat,
                       double lon) {
    ClusterBinKey k{};
    cluster_bin_key(st, lat, lon, &k);
    std::size_t lo = 0, hi = n;
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        const ClusterBinKey& m = a[mid].key;
        if (m.kx < k.kx || (m.kx == k.kx && m.ky < k.ky)) lo = mid + 1;
        else hi = mid;
    }
    return a[lo].cluster;
}

}  // namespace

Status hierarchy_build(const HierMarker* markers, std::size_t n_markers, double radius_px, int max_zoom,
                       std::uint64_t* next_ordinal, const Allocator& alloc, CancelCheck cancel,
                       HierBuild* out) noexcept {
    *out = HierBuild{nullptr, 0, nullptr, 0};
    if (!(radius_px > 0) || !std::isfinite(radius_px)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    for (std::size_t i = 0; i < n_markers; ++i) {
        const Status s = cluster_internal::validate_lat_lon(markers[i].lat, markers[i].lon);
        if (s != Status::Ok) return s;
    }
    out->n_markers = n_markers;
    out->leaf_of_marker =
        static_cast<std::int64_t*>(alloc.alloc(alloc.ctx, sizeof(std::int64_t) * (n_markers ? n_markers : 1)));
    // One array per zoom, concatenated (zoom 0 first) at the end.
    HierNode* level_nodes[kHierMaxZoom + 2] = {};
    std::size_t level_count[kHierMaxZoom + 2] = {};
    // The cluster (index in its zoom) of each marker or child.
    std::size_t* parent_of = static_cast<std::size_t*>(alloc.alloc(alloc.ctx, sizeof(std::size_t) * (n_markers ? n_markers : 1)));
    if (out->leaf_of_marker == nullptr || parent_of == nullptr) {
        if (parent_of != nullptr) alloc.release(alloc.ctx, parent_of);
        hierarchy_free(alloc, out);
        return Status::OutOfMemory;
    }
    if (n_markers == 0) {
        alloc.release(alloc.ctx, parent_of);
        return Status::Ok;
    }
    Status status = Status::Ok;
    for (int z = max_zoom; z >= 0 && status == Status::Ok; --z) {
        if (cancel.should_cancel != nullptr && cancel.should_cancel(cancel.ctx)) {
            status = Status::Canceled;
            break;
        }
        ClusterState* st = nullptr;
        status = cluster_create(z, radius_px, false, alloc, &st);
        if (status != Status::Ok) break;
        const bool leaves = z == max_zoom;
        const std::size_t n_items = leaves ? n_markers : level_count[z + 1];
        const HierNode* child = leaves ? nullptr : level_nodes[z + 1];
        for (std::size_t i = 0; i < n_items && status == Status::Ok; ++i) {
            if (leaves) {
                status = cluster_add_point(st, markers[i].lat, markers[i].lon, false, 0);
            } else {
                for (std::uint64_t k = 0; k < child[i].count && status == Status::Ok; ++k)
                    status = cluster_add_point(st, child[i].lat, child[i].lon, false, 0);
            }
        }
        ClusterList list{nullptr, 0};
        ClusterBinAssignment* assign = nullptr;
        std::size_t n_assign = 0;
        if (status == Status::Ok) status = cluster_finalize_assign(st, cancel, &list, &assign, &n_assign, nullptr);
        if (status != Status::Ok) {
            cluster_destroy(st);
            break;
        }
        HierNode* level = static_cast<HierNode*>(alloc.alloc(alloc.ctx, sizeof(HierNode) * list.size));
        if (level == nullptr) {
            status = Status::OutOfMemory;
            cluster_free_list(alloc, &list);
            alloc.release(alloc.ctx, assign);
            cluster_destroy(st);
            break;
        }
        level_nodes[z] = level;
        level_count[z] = list.size;
        for (std::size_t k = 0; k < list.size; ++k) sums_empty(&level[k]);
        for (std::size_t i = 0; i < n_items; ++i) {
            const std::size_t c = leaves ? cluster_of(st, assign, n_assign, markers[i].lat, markers[i].lon)
                                         : cluster_of(st, assign, n_assign, child[i].lat, child[i].lon);
            if (leaves) {
                add_marker(&level[c], markers[i]);
                parent_of[i] = c;
            } else {
                add_node(&level[c], child[i]);
                parent_of[i] = c;
            }
        }
        for (std::size_t k = 0; k < list.size; ++k) {
            HierNode& n = level[k];
            finish(&n);
            n.zoom = z;
            n.cluster_id = (static_cast<std::int64_t>(z) << kHierZoomShift) |
                           static_cast<std::int64_t>(next_ordinal[z] + k);
            n.parent_id = -1;
            n.expansion_zoom = n.count == 1 ? -1 : max_zoom + 1;
        }
        if (leaves) {
            for (std::size_t i = 0; i < n_markers; ++i) out->leaf_of_marker[i] = level[parent_of[i]].cluster_id;
        } else {
            HierNode* ch = level_nodes[z + 1];
            std::size_t* n_children = static_cast<std::size_t*>(alloc.alloc(alloc.ctx, sizeof(std::size_t) * list.size));
            if (n_children == nullptr) status = Status::OutOfMemory;
            else {
                std::fill(n_children, n_children + list.size, std::size_t{0});
                for (std::size_t i = 0; i < n_items; ++i) {
                    ch[i].parent_id = level[parent_of[i]].cluster_id;
                    n_children[parent_of[i]] += 1;
                }
                // expansion: the next zoom if it has more than one child, else the only child's.
                for (std::size_t i = 0; i < n_items; ++i) {
                    HierNode& p = level[parent_of[i]];
                    if (p.count == 1) p.expansion_zoom = -1;
                    else if (n_children[parent_of[i]] > 1) p.expansion_zoom = z + 1;
                    else p.expansion_zoom = ch[i].expansion_zoom;
                }
                alloc.release(alloc.ctx, n_children);
            }
        }
        next_ordinal[z] += list.size;
        cluster_free_list(alloc, &list);
        alloc.release(alloc.ctx, assign);
        cluster_destroy(st);
    }
    alloc.release(alloc.ctx, parent_of);
    std::size_t total = 0;
    for (int z = 0; z <= max_zoom; ++z) total += level_count[z];
    if (status == Status::Ok) {
        out->nodes = static_cast<HierNode*>(alloc.alloc(alloc.ctx, sizeof(HierNode) * (total ? total : 1)));
        if (out->nodes == nullptr) status = Status::OutOfMemory;
    }
    std::size_t at = 0;
    for (int z = 0; z <= max_zoom; ++z) {
        if (level_nodes[z] == nullptr) continue;
        if (status == Status::Ok) std::memcpy(out->nodes + at, level_nodes[z], sizeof(HierNode) * level_count[z]);
        at += level_count[z];
        alloc.release(alloc.ctx, level_nodes[z]);
    }
    if (status != Status::Ok) {
        hierarchy_free(alloc, out);
        return status;
    }
    out->n_nodes = total;
    return Status::Ok;
}

void hierarchy_free(const Allocator& alloc, HierBuild* build) noexcept {
    if (build->nodes != nullptr) alloc.release(alloc.ctx, build->nodes);
    if (build->leaf_of_marker != nullptr) alloc.release(alloc.ctx, build->leaf_of_marker);
    *build = HierBuild{nullptr, 0, nullptr, 0};
}

}  // namespace geocluster
