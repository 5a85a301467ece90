// The cluster hierarchy (src/core/hierarchy.hpp) against its guarantees.
//
// RandomDatasets is the heart: generated marker sets (uniform, cities of every size at every
// zoom, groups straddling the antimeridian, the poles, duplicates; tiny to huge radii; max_zoom
// 0 to 24), each checked by the slow oracle of hierarchy_reference.hpp (conservation,
// separation, nesting, centres, bounds, sums, ids, the sweep's order, expansion zooms,
// identity), and for determinism under shuffles. The other tests pin down
// examples, statuses, id continuation, allocation failure and cancellation.
#include "cluster.hpp"
#include "cluster_items.hpp"
#include "cluster_reference.hpp"
#include "hierarchy.hpp"
#include "hierarchy_levels.hpp"
#include "hierarchy_reference.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <random>
#include <type_traits>

namespace geocluster::testing {
namespace {

static_assert(std::is_trivially_destructible<HierNode>::value, "nodes are plain data");
static_assert(std::is_trivially_destructible<cluster_internal::Item>::value, "plain data");

constexpr CancelCheck kNoCancel{nullptr, nullptr};

struct HierDataset {
    double radius;
    int max_zoom;
    std::vector<HierMarker> markers;
    std::string desc;
};

// Owns a build (malloc allocator) for the test's lifetime.
struct Hier {
    HierBuild b{};
    std::vector<std::uint64_t> before, after;
    Status status = Status::Ok;
    Hier() = default;
    Hier(const Hier&) = delete;
    Hier& operator=(const Hier&) = delete;
    ~Hier() { hierarchy_free(malloc_allocator(), &b); }
};

void build(const std::vector<HierMarker>& m, double radius, int max_zoom,
           std::vector<std::uint64_t> next, Hier* h) {
    h->before = next;
    h->status = hierarchy_build(m.data(), m.size(), radius, max_zoom, next.data(),
                                malloc_allocator(), kNoCancel, &h->b);
    h->after = next;
}

std::string check(const std::vector<HierMarker>& m, double radius, int max_zoom, const Hier& h) {
    return check_hierarchy(m.data(), m.size(), radius, max_zoom, h.before.data(), h.after.data(),
                           h.b);
}

class HierGen {
  public:
    explicit HierGen(std::uint64_t seed) : rng_(seed) {}

    double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
    double log_uni(double a, double b) { return std::exp(uni(std::log(a), std::log(b))); }
    int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng_); }
    bool coin(double p = 0.5) { return uni(0, 1) < p; }
    double normal() { return std::normal_distribution<double>(0, 1)(rng_); }
    std::mt19937_64& rng() { return rng_; }

    HierDataset make(int max_n) {
        HierDataset d;
        d.max_zoom = coin(0.08) ? integer(19, kHierMaxZoom) : integer(0, 18);
        const double kind = uni(0, 1);
        d.radius =
            kind < 0.15 ? log_uni(0.01, 2) : (kind < 0.8 ? log_uni(10, 150) : log_uni(300, 1e7));
        radius_ = d.radius;
        max_zoom_ = d.max_zoom;
        const int n_target = coin(0.03) ? 0 : static_cast<int>(log_uni(1, max_n));
        d.desc =
            "max_zoom " + std::to_string(d.max_zoom) + " radius " + std::to_string(d.radius) + ":";
        while (static_cast<int>(d.markers.size()) < n_target) {
            const int n = std::min(n_target - static_cast<int>(d.markers.size()),
                                   static_cast<int>(log_uni(1, n_target + 1)));
            switch (integer(0, 6)) {
                case 0:
                    d.desc += " uniform";
                    uniform(d.markers, n);
                    break;
                case 1:
                case 2:
                    d.desc += " city";
                    city(d.markers, n);
                    break;
                case 3:
                    d.desc += " seam";
                    seam(d.markers, n);
                    break;
                case 4:
                    d.desc += " polar";
                    polar(d.markers, n);
                    break;
                case 5:
                    d.desc += " dups";
                    dups(d.markers, n);
                    break;
                default:
                    d.desc += " cities";  // a city of towns: blobs inside a blob
                    for (int left = n; left > 0;) {
                        const int part = std::min(left, integer(1, 40));
                        city(d.markers, part);
                        left -= part;
                    }
                    break;
            }
        }
        std::shuffle(d.markers.begin(), d.markers.end(), rng_);
        return d;
    }

  private:
    void push(std::vector<HierMarker>& out, double lat, double lon) {
        const double r = uni(0, 1);
        const std::int64_t id = r < 0.05  ? std::numeric_limits<std::int64_t>::min() + integer(0, 3)
                                : r < 0.1 ? std::numeric_limits<std::int64_t>::max() - integer(0, 3)
                                : r < 0.6 ? integer(-1000, 1000)
                                          : static_cast<std::int64_t>(rng_());
        out.push_back(HierMarker{lat, lon, id});
    }
    // A unit position (wrapped in x, clamped in y) as a marker.
    void push_unit(std::vector<HierMarker>& out, long double x, long double y) {
        x = x - std::floor(x);
        y = std::min(std::max(y, 0.0L), 1.0L);
        push(out, static_cast<double>(ref_lat_of_y(y)), static_cast<double>(x * 360.0L - 180.0L));
    }
    void uniform(std::vector<HierMarker>& out, int n) {
        for (int i = 0; i < n; ++i) push(out, uni(-90, 90), uni(-180, 180));
    }
    // A gaussian blob whose size is some radius at some zoom, so that it splits somewhere
    // between zoom 0 and max_zoom.
    void city(std::vector<HierMarker>& out, int n) {
        long double cx = uni(0, 1), cy = uni(0.05, 0.95);
        if (coin(0.15)) cx = coin() ? 1e-9L : 1.0L - 1e-9L;  // on the seam
        const int zoom = integer(0, max_zoom_);
        const long double sigma = radius_ * log_uni(0.05, 20) / std::ldexp(256.0L, zoom);
        for (int i = 0; i < n; ++i) push_unit(out, cx + sigma * normal(), cy + sigma * normal());
    }
    // At and near the antimeridian, both sides, some exactly at +-180.
    void seam(std::vector<HierMarker>& out, int n) {
        const double lat = uni(-80, 80);
        const double spread = std::min(
            360.0 * radius_ * log_uni(0.05, 10) / std::ldexp(256.0, integer(0, max_zoom_)), 30.0);
        for (int i = 0; i < n; ++i) {
            const double r = uni(0, 1);
            const double lon = r < 0.1   ? 180.0
                               : r < 0.2 ? -180.0
                               : r < 0.6 ? 180.0 - uni(0, spread)
                                         : -180.0 + uni(0, spread);
            push(out, std::min(std::max(lat + uni(-spread, spread) / 4, -90.0), 90.0), lon);
        }
    }
    void polar(std::vector<HierMarker>& out, int n) {
        const double lon = uni(-180, 180);
        for (int i = 0; i < n; ++i) {
            const double r = uni(0, 1);
            const double lat = r < 0.15  ? 90.0
                               : r < 0.3 ? -90.0
                               : r < 0.4 ? 85.05112878
                               : r < 0.7 ? uni(85.0, 90.0)
                                         : -uni(85.0, 90.0);
            double l = lon + uni(-20, 20);
            if (l > 180) l -= 360;
            if (l < -180) l += 360;
            push(out, lat, l);
        }
    }
    void dups(std::vector<HierMarker>& out, int n) {
        const double lat = coin(0.2) ? 0.0 : uni(-85, 85),
                     lon = coin(0.2) ? -180.0 : uni(-180, 180);
        for (int i = 0; i < n; ++i) push(out, coin(0.05) ? -0.0 : lat, lon);
    }

    std::mt19937_64 rng_;
    double radius_ = 60;
    int max_zoom_ = 16;
};

std::vector<std::uint64_t> some_ordinals(HierGen& g, int max_zoom) {
    std::vector<std::uint64_t> next(static_cast<std::size_t>(max_zoom) + 1, 0);
    if (g.coin(0.5)) return next;
    for (auto& o : next) {
        const double r = g.uni(0, 1);
        o = r < 0.3   ? 0
            : r < 0.8 ? static_cast<std::uint64_t>(g.integer(0, 1000000))
                      : (std::uint64_t{1} << 40) - 100000 +
                            static_cast<std::uint64_t>(g.integer(0, 90000));
    }
    return next;
}

// ---- The property test -----------------------------------------------------------------------

TEST(HierarchyProperties, RandomDatasets) {
    HierGen g(20261206);
    std::size_t nodes = 0, markers = 0;
    for (int t = 0; t < 160; ++t) {
        HierDataset d = g.make(1500);
        SCOPED_TRACE("dataset " + std::to_string(t) + ": " + d.desc + " (" +
                     std::to_string(d.markers.size()) + " markers)");
        Hier h;
        build(d.markers, d.radius, d.max_zoom, some_ordinals(g, d.max_zoom), &h);
        if (h.status == Status::HierarchyIdsExhausted) {  // drew ordinals too close to 2^40
            bool near_end = false;
            for (const std::uint64_t o : h.before)
                near_end = near_end || o + d.markers.size() > (std::uint64_t{1} << 40);
            EXPECT_TRUE(near_end);
            EXPECT_EQ(h.after, h.before) << "a failed build must not advance next_ordinal";
            continue;
        }
        ASSERT_EQ(h.status, Status::Ok);
        nodes += h.b.n_nodes;
        markers += d.markers.size();
        EXPECT_EQ(check(d.markers, d.radius, d.max_zoom, h), "");

        // Determinism: the same markers in another order give the same nodes, ids included, and
        // every marker the same leaf.
        std::vector<std::size_t> perm(d.markers.size());
        for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
        std::shuffle(perm.begin(), perm.end(), g.rng());
        std::vector<HierMarker> shuffled;
        for (const std::size_t i : perm) shuffled.push_back(d.markers[i]);
        Hier h2;
        build(shuffled, d.radius, d.max_zoom, h.before, &h2);
        ASSERT_EQ(h2.status, Status::Ok);
        ASSERT_EQ(h2.b.n_nodes, h.b.n_nodes);
        std::size_t differ = 0;
        for (std::size_t j = 0; j < h.b.n_nodes; ++j)
            differ += !same_node(h.b.nodes[j], h2.b.nodes[j]);
        EXPECT_EQ(differ, 0u) << "nodes differ after a shuffle";
        for (std::size_t k = 0; k < perm.size(); ++k)
            ASSERT_EQ(h2.b.leaf_of_marker[k], h.b.leaf_of_marker[perm[k]]);
        EXPECT_EQ(h2.after, h.after);
    }
    std::printf("[          ] %zu markers, %zu nodes checked\n", markers, nodes);
}

// The engine on given items (cluster_items, what viewport merges run): the result depends on the
// items' contents and ranks, not on their place in the array. The items are the datasets'
// markers, each an item of its own, clustered a few zooms coarser.
TEST(ClusterItems, IgnoresArrayOrder) {
    using namespace cluster_internal;
    HierGen g(7);
    for (int t = 0; t < 40; ++t) {
        HierDataset d = g.make(3000);
        SCOPED_TRACE(d.desc);
        std::vector<Item> given;
        for (std::size_t k = 0; k < d.markers.size(); ++k) {
            given.push_back(hier_item_of_marker(d.markers[k]));
            given.back().rank = static_cast<std::uint32_t>(k);  // unique, as cluster_items needs
        }
        const auto n = static_cast<std::uint32_t>(given.size());
        const int zoom = std::max(0, d.max_zoom - g.integer(0, 4));
        ClusterState* params = nullptr;
        ASSERT_EQ(cluster_create(zoom, d.radius, true, malloc_allocator(), &params), Status::Ok);
        ItemClusters a{}, b{};
        ASSERT_EQ(cluster_items(params, given.data(), n, kNoCancel, &a, nullptr), Status::Ok);
        std::vector<std::uint32_t> perm(n);
        for (std::uint32_t k = 0; k < n; ++k) perm[k] = k;
        std::shuffle(perm.begin(), perm.end(), g.rng());
        std::vector<Item> shuffled;
        for (const std::uint32_t k : perm) shuffled.push_back(given[k]);
        ASSERT_EQ(cluster_items(params, shuffled.data(), n, kNoCancel, &b, nullptr), Status::Ok);
        ASSERT_EQ(a.n_items, b.n_items);
        for (std::uint32_t k = 0; k < a.n_items; ++k) {
            Item x = a.items[k], y = b.items[k];
            x.rank = y.rank = 0;  // the rank is scratch: min over members of the first-pass order
            EXPECT_EQ(std::memcmp(&x, &y, sizeof x), 0) << "cluster " << k;
        }
        for (std::uint32_t k = 0; k < n; ++k)
            EXPECT_EQ(b.cluster_of_input[k], a.cluster_of_input[perm[k]]);
        item_clusters_free(malloc_allocator(), &a);
        item_clusters_free(malloc_allocator(), &b);
        cluster_destroy(params);
    }
}

// ---- Examples --------------------------------------------------------------------------------

TEST(HierarchyEdges, NoMarkers) {
    Hier h;
    build({}, 60, 5, std::vector<std::uint64_t>(6, 7), &h);
    ASSERT_EQ(h.status, Status::Ok);
    EXPECT_EQ(h.b.n_nodes, 0u);
    EXPECT_EQ(h.b.n_markers, 0u);
    EXPECT_EQ(h.after, h.before);
}

TEST(HierarchyEdges, OneMarkerIsOneNodePerZoom) {
    const std::vector<HierMarker> m{{51.5, -0.12, 42}};
    Hier h;
    build(m, 60, 3, {0, 10, 20, 30}, &h);
    ASSERT_EQ(h.status, Status::Ok);
    ASSERT_EQ(h.b.n_nodes, 4u);
    for (int z = 0; z <= 3; ++z) {
        const HierNode& o = h.b.nodes[z];
        EXPECT_EQ(o.zoom, z);
        EXPECT_EQ(o.cluster_id, (std::int64_t{z} << 40) | (10 * z));
        EXPECT_EQ(o.parent_id, z == 0 ? -1 : (std::int64_t{z - 1} << 40) | (10 * (z - 1)));
        EXPECT_EQ(o.count, 1u);
        EXPECT_EQ(o.expansion_zoom, -1);
        EXPECT_EQ(o.id, 42);
        EXPECT_EQ(o.min_lat, 51.5);
        EXPECT_EQ(o.max_lon, -0.12);
        EXPECT_NEAR(o.lat, 51.5, 1e-9);
        EXPECT_NEAR(o.lon, -0.12, 1e-9);
    }
    EXPECT_EQ(h.b.leaf_of_marker[0], (std::int64_t{3} << 40) | 30);
    EXPECT_EQ(h.after, (std::vector<std::uint64_t>{1, 11, 21, 31}));
}

TEST(HierarchyEdges, IdenticalMarkersNeverSplit) {
    std::vector<HierMarker> m;
    for (int i = 0; i < 5000; ++i) m.push_back(HierMarker{-33.9, 151.2, 100 - i});
    Hier h;
    build(m, 40, 18, std::vector<std::uint64_t>(19, 0), &h);
    ASSERT_EQ(h.status, Status::Ok);
    ASSERT_EQ(h.b.n_nodes, 19u);
    for (const HierNode* o = h.b.nodes; o != h.b.nodes + 19; ++o) {
        EXPECT_EQ(o->count, 5000u);
        EXPECT_EQ(o->expansion_zoom, 19);  // max_zoom + 1: never splits
        EXPECT_EQ(o->id, 100 - 4999);
    }
}

// Two markers on the equator 1.5 radii apart at zoom 11: one cluster up to zoom 10 (0.75 radii
// apart), two from zoom 11 on. A third far away is alone everywhere.
TEST(HierarchyEdges, ExpansionZoomIsWhereMembersSplit) {
    const double radius = 50;
    const double dlon = 1.5 * radius / std::ldexp(256.0, 11) * 360.0;
    const std::vector<HierMarker> m{{0.0, 10.0, 1}, {0.0, 10.0 + dlon, 2}, {45.0, -100.0, 3}};
    Hier h;
    build(m, radius, 14, std::vector<std::uint64_t>(15, 0), &h);
    ASSERT_EQ(h.status, Status::Ok);
    EXPECT_EQ(check(m, radius, 14, h), "");
    for (std::size_t j = 0; j < h.b.n_nodes; ++j) {
        const HierNode& o = h.b.nodes[j];
        if (o.count == 2) {
            EXPECT_LE(o.zoom, 10);
            EXPECT_EQ(o.expansion_zoom, 11);
        } else {
            EXPECT_EQ(o.expansion_zoom, -1);
            if (o.id != 3) {
                EXPECT_GE(o.zoom, 11);
            }
        }
    }
}

// Two builds that share next_ordinal (two partitions of one hierarchy) get disjoint ids, and the
// second build's ordinals start where the first's stopped.
TEST(HierarchyEdges, SharedNextOrdinalGivesDisjointIds) {
    HierGen g(99);
    for (int t = 0; t < 10; ++t) {
        HierDataset a = g.make(800), b = g.make(800);
        b.radius = a.radius;
        b.max_zoom = a.max_zoom;
        std::vector<std::uint64_t> next(static_cast<std::size_t>(a.max_zoom) + 1, 5);
        Hier ha, hb;
        build(a.markers, a.radius, a.max_zoom, next, &ha);
        ASSERT_EQ(ha.status, Status::Ok);
        build(b.markers, b.radius, b.max_zoom, ha.after, &hb);
        ASSERT_EQ(hb.status, Status::Ok);
        EXPECT_EQ(check(b.markers, b.radius, b.max_zoom, hb), "");
        std::unordered_map<std::int64_t, int> seen;
        for (std::size_t j = 0; j < ha.b.n_nodes; ++j) ++seen[ha.b.nodes[j].cluster_id];
        for (std::size_t j = 0; j < hb.b.n_nodes; ++j)
            EXPECT_EQ(seen.count(hb.b.nodes[j].cluster_id), 0u) << "id used by both builds";
        // The second build is the same as a fresh one, but for the ordinals.
        Hier fresh;
        build(b.markers, b.radius, b.max_zoom, next, &fresh);
        ASSERT_EQ(fresh.b.n_nodes, hb.b.n_nodes);
        for (std::size_t j = 0; j < hb.b.n_nodes; ++j) {
            HierNode x = fresh.b.nodes[j];
            const auto shift = [&](std::int64_t id) {
                if (id < 0) return id;
                const auto z = static_cast<std::size_t>(id >> kHierZoomShift);
                return id + static_cast<std::int64_t>(ha.after[z] - next[z]);
            };
            x.cluster_id = shift(x.cluster_id);
            x.parent_id = shift(x.parent_id);
            EXPECT_TRUE(same_node(x, hb.b.nodes[j])) << "node " << j;
        }
    }
}

// ---- Statuses --------------------------------------------------------------------------------

TEST(HierarchyEdges, InvalidParameters) {
    const std::vector<HierMarker> ok{{10, 20, 1}};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    const auto status = [](const std::vector<HierMarker>& m, double radius, int max_zoom,
                           std::vector<std::uint64_t> next) {
        const std::vector<std::uint64_t> was = next;
        HierBuild b{};
        const Status s = hierarchy_build(m.data(), m.size(), radius, max_zoom, next.data(),
                                         malloc_allocator(), kNoCancel, &b);
        if (s != Status::Ok) {
            EXPECT_EQ(next, was) << "next_ordinal changed by a failed build";
            EXPECT_EQ(b.nodes, nullptr);
            EXPECT_EQ(b.leaf_of_marker, nullptr);
        }
        hierarchy_free(malloc_allocator(), &b);
        return s;
    };
    const std::vector<std::uint64_t> zeros(26, 0);
    EXPECT_EQ(status(ok, 0, 5, zeros), Status::RadiusInvalid);
    EXPECT_EQ(status(ok, -1, 5, zeros), Status::RadiusInvalid);
    EXPECT_EQ(status(ok, nan, 5, zeros), Status::RadiusInvalid);
    EXPECT_EQ(status(ok, inf, 5, zeros), Status::RadiusInvalid);
    EXPECT_EQ(status(ok, 60, -1, zeros), Status::ZoomOutOfRange);
    EXPECT_EQ(status(ok, 60, kHierMaxZoom + 1, zeros), Status::ZoomOutOfRange);
    EXPECT_EQ(status(ok, 60, kHierMaxZoom, zeros), Status::Ok);
    EXPECT_EQ(status({{10, 20, 1}, {91, 0, 2}}, 60, 5, zeros), Status::LatOutOfRange);
    EXPECT_EQ(status({{10, 20, 1}, {0, -180.5, 2}}, 60, 5, zeros), Status::LonOutOfRange);
    EXPECT_EQ(status({{nan, 20, 1}}, 60, 5, zeros), Status::LatNotFinite);
    EXPECT_EQ(status({{10, inf, 1}}, 60, 5, zeros), Status::LonNotFinite);
    // Ordinals: 2^40 per zoom. One left is enough for one marker, not for two far apart.
    std::vector<std::uint64_t> full(6, 0);
    full[3] = std::uint64_t{1} << 40;
    EXPECT_EQ(status(ok, 60, 5, full), Status::HierarchyIdsExhausted);
    full[3] = (std::uint64_t{1} << 40) - 1;
    EXPECT_EQ(status(ok, 60, 5, full), Status::Ok);
    EXPECT_EQ(status({{10, 20, 1}, {-10, -20, 2}}, 60, 5, full), Status::HierarchyIdsExhausted);
    full[3] = 0;
    full[5] = (std::uint64_t{1} << 40) - 1;
    EXPECT_EQ(status({{10, 20, 1}, {-10, -20, 2}}, 60, 5, full), Status::HierarchyIdsExhausted);
}

// ---- Allocation failure and cancellation -----------------------------------------------------

std::vector<HierMarker> cities(std::size_t n, std::uint64_t seed) {
    HierGen g(seed);
    std::vector<HierMarker> m;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0, 1);
    std::uniform_real_distribution<double> u(0, 1);
    for (std::size_t i = 0; i < n; ++i) {
        const int c = static_cast<int>(u(rng) * 20);
        m.push_back(HierMarker{std::clamp(-40 + 4.0 * c + 0.3 * normal(rng), -90.0, 90.0),
                               std::clamp(-170 + 17.0 * c + 0.3 * normal(rng), -180.0, 180.0),
                               static_cast<std::int64_t>(i)});
    }
    return m;
}

TEST(HierarchyResources, OutOfMemoryAtEachAllocation) {
    const std::vector<HierMarker> m = cities(3000, 5);
    for (long k = 0;; ++k) {
        TrackingAllocator a;
        a.fail_after = k;
        std::vector<std::uint64_t> next(13, 3);
        HierBuild b{};
        const Status s =
            hierarchy_build(m.data(), m.size(), 60, 12, next.data(), a.allocator(), kNoCancel, &b);
        if (s == Status::Ok) {
            EXPECT_GT(k, 10) << "a build allocates more than that";
            EXPECT_NE(next, std::vector<std::uint64_t>(13, 3));
            hierarchy_free(a.allocator(), &b);
            EXPECT_EQ(a.live_blocks(), 0u);
            break;
        }
        ASSERT_EQ(s, Status::OutOfMemory) << "failing allocation " << k;
        EXPECT_EQ(a.live_blocks(), 0u) << "leak after failing allocation " << k;
        EXPECT_EQ(next, std::vector<std::uint64_t>(13, 3));
        ASSERT_LT(k, 100000);
    }
}

TEST(HierarchyResources, CancelStopsCleanly) {
    const std::vector<HierMarker> m = cities(30000, 6);
    struct Counter {
        int left;
        int polls = 0;
    };
    int total_polls = 0;
    {
        Counter c{1 << 30};
        CancelCheck never{[](void* p) {
                              ++static_cast<Counter*>(p)->polls;
                              return false;
                          },
                          &c};
        TrackingAllocator a;
        std::vector<std::uint64_t> next(17, 0);
        HierBuild b{};
        ASSERT_EQ(
            hierarchy_build(m.data(), m.size(), 60, 16, next.data(), a.allocator(), never, &b),
            Status::Ok);
        hierarchy_free(a.allocator(), &b);
        total_polls = c.polls;
    }
    ASSERT_GT(total_polls, 20);
    for (int k = 0; k < total_polls; k += std::max(1, total_polls / 25)) {
        Counter c{k};
        CancelCheck cancel{[](void* p) {
                               auto* self = static_cast<Counter*>(p);
                               return self->left-- <= 0;
                           },
                           &c};
        TrackingAllocator a;
        std::vector<std::uint64_t> next(17, 0);
        HierBuild b{};
        EXPECT_EQ(
            hierarchy_build(m.data(), m.size(), 60, 16, next.data(), a.allocator(), cancel, &b),
            Status::Canceled)
            << "cancel at poll " << k;
        EXPECT_EQ(a.live_blocks(), 0u);
        EXPECT_EQ(next, std::vector<std::uint64_t>(17, 0));
        EXPECT_EQ(b.nodes, nullptr);
    }
}

}  // namespace
}  // namespace geocluster::testing
