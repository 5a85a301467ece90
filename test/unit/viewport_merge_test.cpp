// cluster_viewport_merge's core (src/core/viewport_merge.hpp) against the slow oracle of
// viewport_merge_reference.hpp: random parts (the guarantees that need no membership, and the
// same result for shuffled input), random groups of parts whose clusters are known (counts,
// ids, bounds and centres, across the antimeridian and longitude 0), then examples, zoom 30,
// radius 0, and every failure status, allocation failure and cancellation.
#include "viewport_merge.hpp"

#include "cluster_items.hpp"
#include "cluster_reference.hpp"
#include "viewport_merge_reference.hpp"

#include <gtest/gtest.h>

#include <random>

namespace geocluster::testing {
namespace {

constexpr CancelCheck kNoCancel{nullptr, nullptr};

struct Merged {
    Status status;
    std::vector<Cluster> clusters;
    std::size_t bad_part;
};

Merged merge(const std::vector<MergePart>& parts, double zoom, double radius,
             const Allocator& alloc = malloc_allocator(), CancelCheck cancel = kNoCancel) {
    ClusterList list{nullptr, 0};
    Merged m{Status::Ok, {}, 0};
    m.status =
        viewport_merge(parts.data(), parts.size(), zoom, radius, alloc, cancel, &list, &m.bad_part);
    m.clusters = to_vector(list);
    cluster_free_list(alloc, &list);
    return m;
}

double lat_of_y(long double y) { return static_cast<double>(ref_lat_of_y(y)); }

// A part of count members at world pixel (px, py) of a world of `world` px, with a box reaching
// up to `spread` px from it (wrapped across 180 as a box that crosses it); a single member's box
// is its position.
MergePart part_at(std::mt19937_64& rng, long double world, long double px, long double py,
                  long double spread, std::int64_t id) {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    py = std::min(std::max(py, 0.0L), world);
    MergePart p{};
    p.count = u(rng) < 0.3 ? 1 : 1 + static_cast<std::int64_t>(u(rng) * 500);
    px -= std::floor(px / world) * world;
    p.lon = static_cast<double>(px / world * 360.0L - 180.0L);
    p.lat = lat_of_y(py / world);
    p.id = id;
    p.has_id = true;
    if (p.count == 1) {
        p.min_lat = p.max_lat = p.lat;
        p.min_lon = p.max_lon = p.lon;
        return p;
    }
    const long double w = u(rng) * spread, e = u(rng) * spread;
    const long double n = u(rng) * spread, s = u(rng) * spread;
    const auto lon_at = [&](long double x) {
        x -= std::floor(x / world) * world;
        return static_cast<double>(x / world * 360.0L - 180.0L);
    };
    p.min_lon = lon_at(px - w);
    p.max_lon = lon_at(px + e);
    if (p.min_lon == 180.0) p.min_lon = -180.0;  // a wrapped west end: -180, not 180
    p.min_lat = lat_of_y(std::min<long double>(1.0L, (py + s) / world));
    p.max_lat = lat_of_y(std::max<long double>(0.0L, (py - n) / world));
    return p;
}

TEST(ViewportMerge, RandomPartsKeepTheGuarantees) {
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::size_t merges = 0;
    for (int round = 0; round < 300; ++round) {
        const double zoom = round % 7 == 0 ? 30.0 : std::floor(u(rng) * 18) + (round % 2) * 0.5;
        const double radius = 5 + u(rng) * 100;
        const long double world = merge_world_px(zoom);
        // Parts around a few centres (some across the antimeridian), within a few radii of them.
        std::vector<MergePart> parts;
        const int n_centres = 1 + static_cast<int>(u(rng) * 5);
        const int n = static_cast<int>(u(rng) * 120);
        for (int i = 0; i < n; ++i) {
            const int c = i % n_centres;
            const long double cx = c == 0 ? 0.0L : world * (0.1L + 0.2L * c);
            const long double cy = world * (0.2L + 0.15L * c);
            parts.push_back(part_at(rng, world, cx + (u(rng) - 0.5) * 6 * radius,
                                    cy + (u(rng) - 0.5) * 6 * radius, radius / 4, 1000 + i));
        }
        if (round % 5 == 0 && !parts.empty()) parts[0].count = 0;  // left out
        const Merged m = merge(parts, zoom, radius);
        ASSERT_EQ(m.status, Status::Ok) << status_name(m.status);
        ASSERT_EQ(check_merge(parts, zoom, radius, m.clusters), "") << "round " << round;
        merges += parts.size() - m.clusters.size();
        std::vector<MergePart> shuffled = parts;
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        ASSERT_TRUE(same_output(merge(shuffled, zoom, radius).clusters, m.clusters))
            << "round " << round;
    }
    EXPECT_GT(merges, 5000u);  // most parts were merged with others
}

// Groups of parts within radius / 8 px of a group centre, group centres at least 4 radii apart:
// each group is exactly one cluster.
TEST(ViewportMerge, GroupsFarApartAreOneClusterEach) {
    std::mt19937_64 rng(23);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    int crossing = 0, holding_zero = 0;
    for (int round = 0; round < 300; ++round) {
        const double zoom = 1 + std::floor(u(rng) * 20);
        const double radius = 10 + u(rng) * 80;
        const long double world = merge_world_px(zoom);
        std::vector<std::pair<long double, long double>> centres;
        for (int tries = 0; tries < 40 && centres.size() < 12; ++tries) {
            // near 180 and near 0 often, elsewhere else
            const double k = u(rng);
            long double x =
                k < 0.3 ? (u(rng) - 0.5) * radius / 4
                        : (k < 0.5 ? world / 2 + (u(rng) - 0.5) * radius / 4 : u(rng) * world);
            x = std::fmod(x + world, world);
            const long double y = world * (0.05L + 0.9L * u(rng));
            bool far = true;
            for (const auto& c : centres) {
                long double dx = std::fabs(c.first - x);
                dx = std::min(dx, world - dx);
                if (std::hypot(dx, c.second - y) < 4 * radius) far = false;
            }
            if (far) centres.emplace_back(x, y);
        }
        std::vector<std::vector<MergePart>> groups(centres.size());
        std::vector<MergePart> parts;
        std::int64_t id = 1;
        for (std::size_t g = 0; g < centres.size(); ++g) {
            const int n = 1 + static_cast<int>(u(rng) * 4);
            for (int i = 0; i < n; ++i) {
                const long double r = radius / 8;
                groups[g].push_back(part_at(rng, world, centres[g].first + (u(rng) - 0.5) * r,
                                            centres[g].second + (u(rng) - 0.5) * r, r / 2,
                                            id++ * 7 % 1000));
                const MergePart& p = groups[g].back();
                crossing += p.min_lon > p.max_lon;
                holding_zero += p.min_lon < 0 && p.max_lon >= 0;
                parts.push_back(p);
            }
        }
        std::shuffle(parts.begin(), parts.end(), rng);
        const Merged m = merge(parts, zoom, radius);
        ASSERT_EQ(m.status, Status::Ok) << status_name(m.status);
        ASSERT_EQ(check_merge(parts, zoom, radius, m.clusters), "") << "round " << round;
        ASSERT_EQ(check_groups(groups, m.clusters), "") << "round " << round;
    }
    EXPECT_GT(crossing, 50);  // the cases the boxes' side ranges exist for
    EXPECT_GT(holding_zero, 50);
}

MergePart point(std::int64_t count, double lat, double lon, std::int64_t id) {
    return MergePart{count, lat, lon, lat, lon, lat, lon, id, true};
}

TEST(ViewportMerge, Examples) {
    // Two parts 0.8 degrees apart across the antimeridian: 0.57 px at zoom 0, merged.
    std::vector<MergePart> parts = {
        MergePart{3, 0, 179.6, -1, 179.5, 1, 179.7, 7, true},
        point(1, 0, -179.6, 9),
    };
    Merged m = merge(parts, 0, 60);
    ASSERT_EQ(m.status, Status::Ok);
    ASSERT_EQ(m.clusters.size(), 1u);
    EXPECT_EQ(m.clusters[0].count, 4);
    EXPECT_NEAR(m.clusters[0].lon, 179.8, 1e-9);
    EXPECT_EQ(m.clusters[0].min_lon, 179.5);  // across 180
    EXPECT_EQ(m.clusters[0].max_lon, -179.6);
    EXPECT_EQ(m.clusters[0].id, 7);
    // 145 px apart at zoom 8: kept, each part as it was (its centre up to rounding).
    m = merge(parts, 8, 60);
    ASSERT_EQ(m.clusters.size(), 2u);
    EXPECT_EQ(m.clusters[0].count, 3);
    EXPECT_NEAR(m.clusters[0].lon, 179.6, 1e-12);
    EXPECT_EQ(m.clusters[0].min_lon, 179.5);
    EXPECT_EQ(m.clusters[0].max_lon, 179.7);
    EXPECT_EQ(m.clusters[1].id, 9);
    // A part across 180 keeps its box; with a part holding longitude 0 in one cluster, the box
    // is the whole world.
    parts = {MergePart{5, 10, -179.9, 9, 179.5, 11, -179.5, 3, true}};
    m = merge(parts, 3, 60);
    ASSERT_EQ(m.clusters.size(), 1u);
    EXPECT_EQ(m.clusters[0].min_lon, 179.5);
    EXPECT_EQ(m.clusters[0].max_lon, -179.5);
    EXPECT_NEAR(m.clusters[0].lon, -179.9, 1e-12);
    parts.push_back(MergePart{5, 10, 1, 9, -1, 11, 2, 4, true});
    m = merge(parts, 0, 1000);
    ASSERT_EQ(m.clusters.size(), 1u);
    EXPECT_EQ(m.clusters[0].min_lon, -180.0);
    EXPECT_EQ(m.clusters[0].max_lon, 180.0);
    // No ids: none.
    parts = {MergePart{2, 1, 1, 1, 1, 1, 1, 0, false},
             MergePart{2, 1, 1.001, 1, 1, 1, 1.1, 5, true}};
    m = merge(parts, 5, 60);
    ASSERT_EQ(m.clusters.size(), 1u);
    EXPECT_TRUE(m.clusters[0].has_id);
    EXPECT_EQ(m.clusters[0].id, 5);
    parts[1].has_id = false;
    EXPECT_FALSE(merge(parts, 5, 60).clusters[0].has_id);
}

TEST(ViewportMerge, RadiusZeroMergesNothing) {
    const std::vector<MergePart> parts = {point(1, 0, 0, 2), point(1, 0, 0, 1), point(3, -5, 0, 3),
                                          point(1, 5, 0, 4)};
    const Merged m = merge(parts, 4, 0);
    ASSERT_EQ(m.status, Status::Ok);
    ASSERT_EQ(m.clusters.size(), 4u);
    EXPECT_EQ(m.clusters[0].id, 3);  // count first, then north to south
    EXPECT_EQ(m.clusters[1].id, 4);
    EXPECT_EQ(check_merge(parts, 4, 0, m.clusters), "");
}

TEST(ViewportMerge, ZoomThirtyIsZoomTwentyNineAtHalfTheRadius) {
    std::mt19937_64 rng(5);
    std::vector<MergePart> parts;
    const long double world = merge_world_px(30);
    for (int i = 0; i < 200; ++i)
        parts.push_back(
            part_at(rng, world, world / 3 + (i % 20) * 17.0L, world / 3 + (i / 20) * 13.0L, 5, i));
    const Merged a = merge(parts, 30, 60), b = merge(parts, 29.5, 30);
    ASSERT_EQ(a.status, Status::Ok);
    EXPECT_TRUE(same_output(a.clusters, b.clusters));
    EXPECT_EQ(check_merge(parts, 30, 60, a.clusters), "");
    EXPECT_LT(a.clusters.size(), parts.size());
}

TEST(ViewportMerge, Statuses) {
    const std::vector<MergePart> ok = {point(1, 0, 0, 1)};
    for (double zoom : {-1.0, -0.0001, 30.0001, std::nan(""), HUGE_VAL})
        EXPECT_EQ(merge(ok, zoom, 60).status, Status::MergeZoomInvalid) << zoom;
    for (double radius : {-1.0, 1e6 + 1, std::nan(""), HUGE_VAL})
        EXPECT_EQ(merge(ok, 3, radius).status, Status::MergeRadiusInvalid) << radius;
    EXPECT_EQ(merge(ok, 30, 1e6).status, Status::Ok);
    EXPECT_EQ(merge({}, 3, 60).status, Status::Ok);

    const auto bad = [](MergePart p) {
        std::vector<MergePart> parts = {point(1, 0, 0, 1), point(0, 99, 999, 1), p};
        const Merged m = merge(parts, 3, 60);
        EXPECT_EQ(m.bad_part, m.status == Status::Ok ? parts.size() : 2u);
        return m.status;
    };
    EXPECT_EQ(bad(point(1, 91, 0, 2)), Status::LatOutOfRange);  // count 0 above: left out
    EXPECT_EQ(bad(point(1, 0, std::nan(""), 2)), Status::LonNotFinite);
    EXPECT_EQ(bad(MergePart{2, 0, 0, 0, -181, 1, 1, 2, true}), Status::LonOutOfRange);
    EXPECT_EQ(bad(MergePart{2, 0, 0, 1, 0, 0, 0, 2, true}), Status::BoxInvalid);
    EXPECT_EQ(bad(MergePart{1, 0, 0, 0, -1, 0, 1, 2, true}), Status::MergePartInvalid);
    EXPECT_EQ(bad(MergePart{1, 0, 0, 0, 170, 0, -170, 2, true}), Status::MergePartInvalid);
    EXPECT_EQ(bad(MergePart{2, 0, 0, 0, -1, 0, 1, 2, true}), Status::Ok);
    EXPECT_EQ(bad(point(std::int64_t{1} << 46, 0, 0, 2)), Status::ClusterTooManyPoints);
    EXPECT_EQ(bad(point(INT64_MAX, 0, 0, 2)), Status::ClusterTooManyPoints);
    EXPECT_EQ(bad(point((std::int64_t{1} << 46) - 1, 0, 0, 2)), Status::Ok);
}

TEST(ViewportMerge, BudgetAllocationFailureAndCancel) {
    std::mt19937_64 rng(7);
    std::vector<MergePart> parts;
    for (int i = 0; i < 5000; ++i) parts.push_back(part_at(rng, 1 << 20, i * 200.0L, 5e5, 20, i));
    {
        // The items and the sort's copy of them; later the items and the engine's scratch (less).
        const std::size_t items = 5000 * sizeof(cluster_internal::Item) + 1;
        TrackingAllocator t;
        for (double radius : {60.0, 0.0}) {
            EXPECT_EQ(merge(parts, 12, radius, t.allocator(2 * items - 1)).status,
                      Status::StateTooLarge);
            EXPECT_EQ(merge(parts, 12, radius, t.allocator(2 * items)).status, Status::Ok);
        }
        EXPECT_EQ(t.live_blocks(), 0u);
    }
    for (double radius : {60.0, 0.0}) {
        for (long fail = 0; fail < 40; ++fail) {
            TrackingAllocator t;
            t.fail_after = fail;
            const Status s = merge(parts, 12, radius, t.allocator()).status;
            EXPECT_TRUE(s == Status::OutOfMemory || s == Status::Ok) << status_name(s);
            EXPECT_EQ(t.live_blocks(), 0u);
            if (s == Status::Ok) break;
        }
        TrackingAllocator t;
        const CancelCheck always{[](void*) { return true; }, nullptr};
        EXPECT_EQ(merge(parts, 12, radius, t.allocator(), always).status, Status::Canceled);
        EXPECT_EQ(t.live_blocks(), 0u);
    }
}

}  // namespace
}  // namespace geocluster::testing
