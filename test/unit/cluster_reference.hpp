// The slow, obviously-correct oracle for the clustering engine (cluster.hpp), and the test
// allocators. The oracle recomputes every guarantee of the contract from the raw points in long
// double, by brute force, using the engine only to learn which cluster each point was put in
// (the bin assignment, which is what the contract leaves to the engine).
#pragma once

#include "cluster.hpp"
#include "mercator_reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace geocluster::testing {

// ---- Allocators ---------------------------------------------------------------------------

// malloc with bookkeeping: live blocks and bytes, peak bytes, and an optional failure after
// `fail_after` successful allocations (to test OutOfMemory paths).
struct TrackingAllocator {
    std::unordered_map<void*, std::size_t> sizes;
    std::size_t live_bytes = 0, peak_bytes = 0;
    long allocations = 0;
    long fail_after = -1;  // < 0: never fail
    bool paused = false;   // the test's own bookkeeping: neither counted nor failed

    static void* do_alloc(void* ctx, std::size_t n) {
        auto* self = static_cast<TrackingAllocator*>(ctx);
        if (!self->paused && self->fail_after >= 0 && self->allocations >= self->fail_after)
            return nullptr;
        void* p = std::malloc(n);
        if (p == nullptr) return nullptr;
        if (!self->paused) ++self->allocations;
        self->sizes[p] = n;
        self->live_bytes += n;
        self->peak_bytes = std::max(self->peak_bytes, self->live_bytes);
        return p;
    }
    static void do_release(void* ctx, void* p) {
        auto* self = static_cast<TrackingAllocator*>(ctx);
        auto it = self->sizes.find(p);
        if (it == self->sizes.end()) {
            ADD_FAILURE() << "release of a pointer the allocator did not hand out";
            return;
        }
        self->live_bytes -= it->second;
        self->sizes.erase(it);
        std::free(p);
    }
    Allocator allocator(std::size_t budget_bytes = 0) {
        return Allocator{&do_alloc, &do_release, this, budget_bytes};
    }
    std::size_t live_blocks() const { return sizes.size(); }
};

inline Allocator malloc_allocator() {
    return Allocator{[](void*, std::size_t n) -> void* { return std::malloc(n); },
                     [](void*, void* p) { std::free(p); }, nullptr, 0};
}

// ---- Points -------------------------------------------------------------------------------

struct Pt {
    double lat, lon;
    bool mercator;  // added with cluster_add_mercator(ux, uy, lat, lon)
    double ux, uy;
    bool has_id;
    std::int64_t id;
};

inline Status add_pt(ClusterState* st, const Pt& p) {
    return p.mercator ? cluster_add_mercator(st, p.ux, p.uy, p.lat, p.lon, p.has_id, p.id)
                      : cluster_add_point(st, p.lat, p.lon, p.has_id, p.id);
}

// The contract's position of a point, in long double, unrounded.
inline long double ref_x(const Pt& p) {
    return p.mercator ? static_cast<long double>(p.ux) : (p.lon + 180.0L) / 360.0L;
}
inline long double ref_y(const Pt& p) {
    return p.mercator ? static_cast<long double>(p.uy) : ref_mercator_y(p.lat);
}

// ---- Output comparison --------------------------------------------------------------------

inline std::uint64_t bits(double d) {
    std::uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
}

inline bool same_cluster(const Cluster& a, const Cluster& b) {
    return a.count == b.count && bits(a.lat) == bits(b.lat) && bits(a.lon) == bits(b.lon) &&
           bits(a.min_lat) == bits(b.min_lat) && bits(a.min_lon) == bits(b.min_lon) &&
           bits(a.max_lat) == bits(b.max_lat) && bits(a.max_lon) == bits(b.max_lon) &&
           a.has_id == b.has_id && a.id == b.id;
}

inline std::vector<Cluster> to_vector(const ClusterList& l) {
    return std::vector<Cluster>(l.items, l.items + l.size);
}

inline ::testing::AssertionResult same_output(const std::vector<Cluster>& a,
                                              const std::vector<Cluster>& b) {
    if (a.size() != b.size())
        return ::testing::AssertionFailure()
               << "cluster counts differ: " << a.size() << " vs " << b.size();
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!same_cluster(a[i], b[i]))
            return ::testing::AssertionFailure()
                   << "cluster " << i << " differs: count " << a[i].count << " vs " << b[i].count
                   << ", lat " << a[i].lat << " vs " << b[i].lat << ", lon " << a[i].lon << " vs "
                   << b[i].lon;
    return ::testing::AssertionSuccess();
}

// ---- The oracle ---------------------------------------------------------------------------

struct RefStats {
    std::size_t clusters = 0;
    double max_member_dist_over_radius = 0;  // quality: how far members are from their centre
    double min_separation_over_radius = 1e300;
};

// Checks contract items 1-4 and 6, and the order of item 5, for `out` computed from `pts`.
// `assign` is the engine's bin -> cluster table. Returns stats for quality reports.
inline RefStats check_contract(const ClusterState* st, const std::vector<Pt>& pts,
                               const std::vector<Cluster>& out, const ClusterBinAssignment* assign,
                               std::size_t n_assign, const std::string& what) {
    SCOPED_TRACE(what);
    RefStats stats;
    stats.clusters = out.size();
    const int zoom = cluster_zoom(st);
    const long double radius = cluster_radius_px(st);
    const long double world = std::ldexp(256.0L, zoom);

    // 1. Conservation.
    long double total = 0;
    for (const Cluster& c : out) {
        EXPECT_GT(c.count, 0);
        total += c.count;
    }
    EXPECT_EQ(total, static_cast<long double>(pts.size()));

    // 3. Membership: every point in exactly one cluster (the one of its bin).
    std::vector<std::vector<const Pt*>> members(out.size());
    for (const Pt& p : pts) {
        ClusterBinKey k{};
        const Status s = p.mercator ? cluster_bin_key_mercator(st, p.ux, p.uy, p.lat, p.lon, &k)
                                    : cluster_bin_key(st, p.lat, p.lon, &k);
        EXPECT_EQ(s, Status::Ok);
        const ClusterBinAssignment* it =
            std::lower_bound(assign, assign + n_assign, k,
                             [](const ClusterBinAssignment& a, const ClusterBinKey& key) {
                                 return a.key.kx != key.kx ? a.key.kx < key.kx : a.key.ky < key.ky;
                             });
        if (it == assign + n_assign || it->key.kx != k.kx || it->key.ky != k.ky) {
            ADD_FAILURE() << "point " << p.lat << "," << p.lon << " has no cluster";
            return stats;
        }
        if (it->cluster >= out.size()) {
            ADD_FAILURE() << "assignment to a cluster that does not exist";
            return stats;
        }
        members[it->cluster].push_back(&p);
    }

    const bool state_has_id = cluster_has_id(st);
    for (std::size_t c = 0; c < out.size(); ++c) {
        const Cluster& o = out[c];
        const auto& m = members[c];
        SCOPED_TRACE("cluster " + std::to_string(c));
        if (static_cast<std::size_t>(o.count) != m.size()) {
            ADD_FAILURE() << "count " << o.count << " but " << m.size() << " points assigned";
            return stats;
        }
        // Bounds: exact bounding box; lon the shorter of the ordinary and the crossing box.
        double min_lat = 1e300, max_lat = -1e300, min_e = 1e300, max_e = -1e300, min_w = 1e300,
               max_w = -1e300;
        bool has_id = false;
        std::int64_t min_id = 0;
        for (const Pt* p : m) {
            min_lat = std::min(min_lat, p->lat);
            max_lat = std::max(max_lat, p->lat);
            if (p->lon < 0) {
                min_w = std::min(min_w, p->lon);
                max_w = std::max(max_w, p->lon);
            } else {
                min_e = std::min(min_e, p->lon);
                max_e = std::max(max_e, p->lon);
            }
            if (state_has_id && p->has_id && (!has_id || p->id < min_id)) {
                has_id = true;
                min_id = p->id;
            }
        }
        const bool any_w = max_w > -1e300, any_e = max_e > -1e300;
        bool crossing = false;
        double min_lon, max_lon;
        if (any_w && any_e) {
            crossing = 360.0 - (min_e - max_w) < max_e - min_w;
            min_lon = crossing ? min_e : min_w;
            max_lon = crossing ? max_w : max_e;
        } else {
            min_lon = any_w ? min_w : min_e;
            max_lon = any_w ? max_w : max_e;
        }
        EXPECT_EQ(bits(o.min_lat), bits(min_lat));
        EXPECT_EQ(bits(o.max_lat), bits(max_lat));
        EXPECT_EQ(bits(o.min_lon), bits(min_lon));
        EXPECT_EQ(bits(o.max_lon), bits(max_lon));
        EXPECT_EQ(o.min_lon > o.max_lon, crossing);
        for (const Pt* p : m) {
            EXPECT_TRUE(p->lat >= o.min_lat && p->lat <= o.max_lat);
            if (o.min_lon <= o.max_lon)
                EXPECT_TRUE(p->lon >= o.min_lon && p->lon <= o.max_lon);
            else
                EXPECT_TRUE(p->lon >= o.min_lon || p->lon <= o.max_lon);
        }
        // 6. id.
        EXPECT_EQ(o.has_id, has_id);
        if (has_id) {
            EXPECT_EQ(o.id, min_id);
        }
        // 4. Centre: long double mean of the members' positions, west members at x + 1 when the
        // box crosses the antimeridian, wrapped back.
        long double sx = 0, sy = 0;
        for (const Pt* p : m) {
            sx += ref_x(*p) + (crossing && p->lon < 0 ? 1.0L : 0.0L);
            sy += ref_y(*p);
        }
        long double mx = sx / m.size(), my = sy / m.size();
        if (mx > 1.0L) mx -= 1.0L;
        const long double exp_lon = mx * 360.0L - 180.0L, exp_lat = ref_lat_of_y(my);
        long double dlon = std::fabs(exp_lon - o.lon);
        dlon = std::min(dlon, 360.0L - dlon);
        EXPECT_LE(dlon, 1e-9L) << "centre lon " << o.lon << " expected "
                               << static_cast<double>(exp_lon);
        EXPECT_LE(std::fabs(exp_lat - o.lat), 1e-9L)
            << "centre lat " << o.lat << " expected " << static_cast<double>(exp_lat);
        EXPECT_GE(o.lon, -180.0);
        EXPECT_LE(o.lon, 180.0);
        // Quality statistic: furthest member from the centre, in radii.
        const long double cx = (o.lon + 180.0L) / 360.0L * world,
                          cy = ref_mercator_y(o.lat) * world;
        for (const Pt* p : m) {
            long double dx = std::fabs(ref_x(*p) * world - cx);
            dx = std::min(dx, world - dx);
            const long double dy = ref_y(*p) * world - cy;
            stats.max_member_dist_over_radius =
                std::max(stats.max_member_dist_over_radius,
                         static_cast<double>(std::sqrt(dx * dx + dy * dy) / radius));
        }
    }

    // 2. Separation, by brute force over all pairs, from the printed lat/lon.
    std::vector<long double> xs(out.size()), ys(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        xs[i] = (out[i].lon + 180.0L) / 360.0L * world;
        ys[i] = ref_mercator_y(out[i].lat) * world;
    }
    std::size_t violations = 0;
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t j = i + 1; j < out.size(); ++j) {
            long double dx = std::fabs(xs[i] - xs[j]);
            dx = std::min(dx, world - dx);
            const long double dy = ys[i] - ys[j];
            const long double d = std::sqrt(dx * dx + dy * dy);
            stats.min_separation_over_radius =
                std::min(stats.min_separation_over_radius, static_cast<double>(d / radius));
            if (d < radius && ++violations <= 5)
                ADD_FAILURE() << "centres " << i << " and " << j << " are "
                              << static_cast<double>(d) << " px apart, radius "
                              << static_cast<double>(radius);
        }
    EXPECT_EQ(violations, 0u);

    // 5. Order: count descending, then north to south, then west to east (the exact order is on
    // the unrounded centres; the printed values can only tie, never invert).
    for (std::size_t i = 1; i < out.size(); ++i) {
        const Cluster& a = out[i - 1];
        const Cluster& b = out[i];
        if (a.count != b.count) {
            EXPECT_GT(a.count, b.count);
        } else if (a.lat != b.lat) {
            EXPECT_GT(a.lat, b.lat) << "at " << i;
        } else {
            EXPECT_LE(a.lon, b.lon) << "at " << i;
        }
    }
    return stats;
}

}  // namespace geocluster::testing
