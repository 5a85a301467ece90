// Membership tables (src/core/cluster_membership.hpp): every point's cluster, found through the
// table by its bin key, is the cluster the engine put it in: per cluster, the points the table
// assigns give back the engine's count and smallest id; the table's own checks reject malformed
// bytes.
#include "cluster_membership.hpp"
#include "cluster_reference.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace geocluster::testing {
namespace {

constexpr CancelCheck kNoCancel{nullptr, nullptr};

std::vector<std::uint8_t> table_of(const ClusterState* st, std::size_t* n_clusters) {
    ClusterList list{};
    ClusterBinAssignment* assign = nullptr;
    std::size_t n = 0;
    EXPECT_EQ(cluster_finalize_assign(st, kNoCancel, &list, &assign, &n, nullptr), Status::Ok);
    std::vector<std::uint8_t> bytes(membership_size(n));
    EXPECT_EQ(membership_write(cluster_zoom(st), cluster_radius_px(st), assign, n, list.size,
                               bytes.data(), bytes.size()),
              Status::Ok);
    *n_clusters = list.size;
    cluster_allocator(st).release(cluster_allocator(st).ctx, assign);
    cluster_free_list(cluster_allocator(st), &list);
    return bytes;
}

TEST(ClusterMembership, EveryPointFindsItsCluster) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 20; ++round) {
        const int zoom = static_cast<int>(rng() % 16);
        const double radius = 10.0 + static_cast<double>(rng() % 80);
        std::uniform_real_distribution<double> lat(-60, 60), lon(-180, 180), near(-2, 2);
        std::vector<Pt> pts;
        for (int i = 0; i < 3000; ++i) {
            Pt p{};
            p.lat = i % 2 ? lat(rng) : 10 + near(rng);
            p.lon = i % 3 ? lon(rng) : 179.5 + near(rng) / 4;  // some across the antimeridian
            if (p.lon > 180) p.lon -= 360;
            p.has_id = true;
            p.id = i;
            pts.push_back(p);
        }
        ClusterState* st = nullptr;
        ASSERT_EQ(cluster_create(zoom, radius, true, malloc_allocator(), &st), Status::Ok);
        for (const Pt& p : pts) ASSERT_EQ(add_pt(st, p), Status::Ok);
        std::size_t n_clusters = 0;
        const std::vector<std::uint8_t> bytes = table_of(st, &n_clusters);
        ClusterList list{};
        ASSERT_EQ(cluster_finalize(st, kNoCancel, &list), Status::Ok);
        MembershipView view{};
        ASSERT_EQ(membership_view(bytes.data(), bytes.size(), &view), Status::Ok);
        ASSERT_EQ(view.n_clusters, list.size);
        std::vector<std::int64_t> count(list.size, 0), min_id(list.size, INT64_MAX);
        for (const Pt& p : pts) {
            ClusterBinKey key{};
            ASSERT_EQ(cluster_bin_key(st, p.lat, p.lon, &key), Status::Ok);
            std::uint32_t ordinal = 0;
            ASSERT_EQ(membership_find(view, key, &ordinal), Status::Ok);
            ASSERT_GE(ordinal, 1u);
            ASSERT_LE(ordinal, list.size);
            count[ordinal - 1] += 1;
            min_id[ordinal - 1] = std::min(min_id[ordinal - 1], p.id);
        }
        for (std::size_t k = 0; k < list.size; ++k) {
            EXPECT_EQ(count[k], list.items[k].count) << "round " << round << " cluster " << k;
            EXPECT_EQ(min_id[k], list.items[k].id) << "round " << round << " cluster " << k;
        }
        // A bin no point occupies: not found.
        ClusterBinKey far{};
        ASSERT_EQ(cluster_bin_key(st, -80, 0, &far), Status::Ok);
        std::uint32_t ordinal = 7;
        ASSERT_EQ(membership_find(view, far, &ordinal), Status::Ok);
        EXPECT_EQ(ordinal, 0u);
        cluster_free_list(cluster_allocator(st), &list);
        cluster_destroy(st);
    }
}

TEST(ClusterMembership, MalformedTablesAreRejected) {
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_create(5, 60, false, malloc_allocator(), &st), Status::Ok);
    ASSERT_EQ(cluster_add_point(st, 10, 10, false, 0), Status::Ok);
    ASSERT_EQ(cluster_add_point(st, -10, -10, false, 0), Status::Ok);
    std::size_t n_clusters = 0;
    std::vector<std::uint8_t> bytes = table_of(st, &n_clusters);
    ASSERT_EQ(n_clusters, 2u);
    MembershipView view{};
    ASSERT_EQ(membership_view(bytes.data(), bytes.size(), &view), Status::Ok);
    for (std::size_t len = 0; len < bytes.size(); ++len)
        EXPECT_NE(membership_view(bytes.data(), len, &view), Status::Ok) << len;
    std::vector<std::uint8_t> b = bytes;
    b[3] = 2;  // version
    EXPECT_EQ(membership_view(b.data(), b.size(), &view), Status::StateBadVersion);
    b = bytes;
    b[4] = 30;  // zoom
    EXPECT_EQ(membership_view(b.data(), b.size(), &view), Status::StateCorrupt);
    b = bytes;
    b[16] = 3;  // more clusters than bins
    EXPECT_EQ(membership_view(b.data(), b.size(), &view), Status::StateCorrupt);
    b = bytes;
    b[kMembershipHeaderBytes + 16] = 2;  // the first entry names cluster 2 of 2
    ASSERT_EQ(membership_view(b.data(), b.size(), &view), Status::Ok);
    ClusterBinKey key{};
    ASSERT_EQ(cluster_bin_key(st, 10, 10, &key), Status::Ok);
    ClusterBinKey key2{};
    ASSERT_EQ(cluster_bin_key(st, -10, -10, &key2), Status::Ok);
    std::uint32_t o1 = 0, o2 = 0;
    const Status s1 = membership_find(view, key, &o1), s2 = membership_find(view, key2, &o2);
    EXPECT_TRUE(s1 == Status::StateCorrupt || s2 == Status::StateCorrupt);
    cluster_destroy(st);
}

}  // namespace
}  // namespace geocluster::testing
