// The clustering engine (src/core/cluster.hpp) against its contract.
//
// The heart is RandomDatasets: hundreds of generated datasets (dense duplicates, gaussian city
// blobs of very different sizes, points exactly on tile and bin edges, points at and near the
// antimeridian and the poles, cell-centre inputs, tiny to huge radii, every zoom, with and without
// ids), each checked by the slow reference in cluster_reference.hpp and for determinism under
// shuffles, random splits into partial states merged in random order, and serialisation
// round-trips. The other tests pin down degenerate inputs, statuses, the deserializer's defences,
// allocation failure, cancellation, and the clustering's quality.
#include "cluster.hpp"
#include "cluster_reference.hpp"
#include "mercator.hpp"
#include "quadkey.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <limits>
#include <random>
#include <type_traits>

namespace geocluster::testing {
namespace {

static_assert(std::is_trivially_destructible<Cluster>::value, "output rows are plain data");
static_assert(std::is_trivially_copyable<ClusterBinAssignment>::value, "plain data");

constexpr CancelCheck kNoCancel{nullptr, nullptr};

// ---- Helpers --------------------------------------------------------------------------------

struct Built {
    ClusterState* st = nullptr;
    Built() = default;
    Built(const Built&) = delete;
    Built& operator=(const Built&) = delete;
    ~Built() { cluster_destroy(st); }
};

ClusterState* make_state(int zoom, double radius, bool has_id, Allocator a = malloc_allocator()) {
    ClusterState* st = nullptr;
    EXPECT_EQ(cluster_create(zoom, radius, has_id, a, &st), Status::Ok);
    return st;
}

void add_all(ClusterState* st, const std::vector<Pt>& pts) {
    for (const Pt& p : pts) ASSERT_EQ(add_pt(st, p), Status::Ok) << p.lat << "," << p.lon;
}

std::vector<Cluster> finalize_vec(const ClusterState* st) {
    ClusterList l{};
    EXPECT_EQ(cluster_finalize(st, kNoCancel, &l), Status::Ok);
    std::vector<Cluster> v = to_vector(l);
    cluster_free_list(cluster_allocator(st), &l);
    return v;
}

std::vector<std::uint8_t> serialize_vec(const ClusterState* st) {
    std::vector<std::uint8_t> b(cluster_serialized_size(st));
    EXPECT_EQ(cluster_serialize(st, b.data(), b.size(), kNoCancel), Status::Ok);
    return b;
}

// Serialises and deserialises a state (and destroys the original). A failure aborts the test:
// the callers would otherwise go on with a null state.
ClusterState* round_trip(ClusterState* st) {
    const std::vector<std::uint8_t> b = serialize_vec(st);
    ClusterState* out = nullptr;
    const Status s = cluster_deserialize(b.data(), b.size(), malloc_allocator(), &out, kNoCancel);
    if (s != Status::Ok) {
        std::fprintf(stderr, "round trip failed: %s\n", status_name(s));
        std::abort();
    }
    cluster_destroy(st);
    return out;
}

Pt latlon(double lat, double lon, bool has_id = false, std::int64_t id = 0) {
    return Pt{lat, lon, false, 0, 0, has_id, id};
}

double lat_of_y(long double y) { return static_cast<double>(ref_lat_of_y(y)); }
double lon_of_x(long double x) { return static_cast<double>(x * 360.0L - 180.0L); }

// ---- Dataset generator -----------------------------------------------------------------------

struct Dataset {
    int zoom;
    double radius;
    bool has_id;
    std::vector<Pt> pts;
    std::string desc;
};

class Gen {
  public:
    explicit Gen(std::uint64_t seed) : rng_(seed) {}

    double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
    double log_uni(double a, double b) { return std::exp(uni(std::log(a), std::log(b))); }
    int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng_); }
    bool coin(double p = 0.5) { return uni(0, 1) < p; }
    double normal() { return std::normal_distribution<double>(0, 1)(rng_); }
    std::mt19937_64& rng() { return rng_; }

    Dataset make() {
        Dataset d;
        d.zoom = coin(0.3) ? integer(0, 4) : integer(0, 29);
        const double kind = uni(0, 1);
        d.radius =
            kind < 0.2 ? log_uni(0.01, 2) : (kind < 0.8 ? log_uni(10, 150) : log_uni(300, 1e7));
        d.has_id = coin();
        world_ = std::ldexp(256.0, d.zoom);
        radius_ = d.radius;
        const int n_target = coin(0.05) ? 0 : static_cast<int>(log_uni(1, 2500));
        d.desc = "zoom " + std::to_string(d.zoom) + " radius " + std::to_string(d.radius) +
                 (d.has_id ? " ids" : " no ids") + ":";
        while (static_cast<int>(d.pts.size()) < n_target) {
            const int n = std::min(n_target - static_cast<int>(d.pts.size()),
                                   static_cast<int>(log_uni(1, n_target + 1)));
            switch (integer(0, 7)) {
                case 0:
                    d.desc += " dups";
                    dups(d.pts, n);
                    break;
                case 1:
                case 2:
                    d.desc += " blob";
                    blob(d.pts, n);
                    break;
                case 3:
                    d.desc += " scatter";
                    scatter(d.pts, n);
                    break;
                case 4:
                    d.desc += " edges";
                    edges(d.pts, n);
                    break;
                case 5:
                    d.desc += " seam";
                    seam(d.pts, n);
                    break;
                case 6:
                    d.desc += " polar";
                    polar(d.pts, n);
                    break;
                default:
                    d.desc += " cells";
                    cells(d.pts, n);
                    break;
            }
        }
        std::shuffle(d.pts.begin(), d.pts.end(), rng_);
        return d;
    }

  private:
    void push(std::vector<Pt>& out, double lat, double lon) {
        Pt p = latlon(lat, lon);
        give_id(p);
        out.push_back(p);
    }
    void push_unit(std::vector<Pt>& out, long double x, long double y, bool as_mercator) {
        x = x - std::floor(x);
        y = std::min(std::max(y, 0.0L), 1.0L);
        Pt p = latlon(lat_of_y(y), lon_of_x(x));
        if (as_mercator) {
            p.mercator = true;
            p.ux = static_cast<double>(x);
            p.uy = static_cast<double>(y);
        }
        give_id(p);
        out.push_back(p);
    }
    void give_id(Pt& p) {
        if (!coin(0.9)) return;  // NULL id (or none at all when the state has no id column)
        p.has_id = true;
        const double r = uni(0, 1);
        p.id = r < 0.05   ? std::numeric_limits<std::int64_t>::min() + integer(0, 3)
               : r < 0.1  ? std::numeric_limits<std::int64_t>::max() - integer(0, 3)
               : r < 0.55 ? integer(-1000, 1000)
                          : static_cast<std::int64_t>(rng_());
    }
    long double px_to_unit(double px) const { return px / static_cast<long double>(world_); }

    void dups(std::vector<Pt>& out, int n) {
        const double lat = coin(0.2) ? (coin() ? 90.0 : -90.0) : uni(-90, 90);
        const double lon = coin(0.2) ? (coin() ? 180.0 : -180.0) : uni(-180, 180);
        for (int i = 0; i < n; ++i) push(out, lat, lon);
    }
    void blob(std::vector<Pt>& out, int n) {
        long double cx = uni(0, 1), cy = uni(0, 1);
        if (coin(0.2)) cx = coin() ? 1e-9L : 1.0L - 1e-9L;  // on the seam
        if (coin(0.1)) cy = coin() ? 0.0L : 1.0L;           // at a pole
        const double sigma = radius_ * log_uni(0.05, 30);   // in px
        const bool merc = coin(0.2);
        for (int i = 0; i < n; ++i)
            push_unit(out, cx + px_to_unit(sigma * normal()), cy + px_to_unit(sigma * normal()),
                      merc);
    }
    void scatter(std::vector<Pt>& out, int n) {
        const bool by_latlon = coin();
        for (int i = 0; i < n; ++i) {
            if (by_latlon)
                push(out, uni(-90, 90), uni(-180, 180));
            else
                push_unit(out, uni(0, 1), uni(0, 1), coin(0.3));
        }
    }
    // Points exactly on tile edges (at this zoom and a few deeper) and on bin edges.
    void edges(std::vector<Pt>& out, int n) {
        for (int i = 0; i < n; ++i) {
            long double x, y;
            if (coin()) {
                const int m = std::min(d_zoom() + integer(0, 6), 40);
                const long double cells = std::ldexp(1.0L, m);
                x = std::floor(uni(0, 1) * cells) / cells;
                y = std::floor(uni(0, 1) * cells) / cells;
            } else {
                const long double side = radius_ / 4.0L / world_;  // unit width of a bin
                x = std::floor(uni(0, 1) / side) * side;
                y = std::floor(uni(0, 1) / side) * side;
                if (x > 1.0L) x = 0;
                if (y > 1.0L) y = 1;
            }
            push_unit(out, x, y, coin());
        }
    }
    // At and near the antimeridian, within a few radii of it.
    void seam(std::vector<Pt>& out, int n) {
        const double lat = uni(-80, 80);
        const double spread_deg = std::min(360.0 * radius_ * log_uni(0.1, 10) / world_, 30.0);
        const double lat_spread = std::min(spread_deg, 5.0);
        for (int i = 0; i < n; ++i) {
            const double r = uni(0, 1);
            const double lon = r < 0.1   ? 180.0
                               : r < 0.2 ? -180.0
                               : r < 0.6 ? 180.0 - uni(0, spread_deg)
                                         : -180.0 + uni(0, spread_deg);
            push(out, std::min(std::max(lat + uni(-lat_spread, lat_spread), -90.0), 90.0), lon);
        }
    }
    // Beyond the Mercator edge (|lat| > 85.05112878) and at the poles.
    void polar(std::vector<Pt>& out, int n) {
        const double lon = uni(-180, 180);
        const double spread = std::min(360.0 * radius_ * log_uni(0.1, 10) / world_, 180.0);
        for (int i = 0; i < n; ++i) {
            const double r = uni(0, 1);
            const double lat = r < 0.1    ? 90.0
                               : r < 0.2  ? -90.0
                               : r < 0.3  ? kMercatorMaxLat
                               : r < 0.65 ? uni(85.0, 90.0)
                                          : -uni(85.0, 90.0);
            double l = lon + uni(-spread, spread);
            if (l > 180) l -= 360;
            if (l < -180) l += 360;
            push(out, lat, l);
        }
    }
    // Cell-centre inputs: the exact unit centre of a tile at some level, with its lat/lon.
    void cells(std::vector<Pt>& out, int n) {
        const int m = std::min(std::max(d_zoom() + integer(-3, 8), 0), 29);
        const long double count = std::ldexp(1.0L, m);
        const long double cx = uni(0, 1), cy = uni(0, 1);
        const double spread = std::min(1.0, std::ldexp(integer(1, 20), -m));
        for (int i = 0; i < n; ++i) {
            long double x = std::floor((cx + uni(-spread, spread)) * count);
            long double y = std::floor((cy + uni(-spread, spread)) * count);
            x = std::fmod(std::fmod(x, count) + count, count);
            y = std::min(std::max(y, 0.0L), count - 1);
            push_unit(out, (x + 0.5L) / count, (y + 0.5L) / count, true);
        }
    }
    int d_zoom() const { return static_cast<int>(std::log2(world_ / 256.0)); }

    std::mt19937_64 rng_;
    double world_ = 256, radius_ = 60;
};

// ---- The property test -----------------------------------------------------------------------

struct Finalized {
    std::vector<Cluster> clusters;
    std::vector<ClusterBinAssignment> assign;
};

Finalized finalize_assign(const ClusterState* st) {
    Finalized f;
    ClusterList l{};
    ClusterBinAssignment* a = nullptr;
    std::size_t na = 0;
    EXPECT_EQ(cluster_finalize_assign(st, kNoCancel, &l, &a, &na, nullptr), Status::Ok);
    f.clusters = to_vector(l);
    f.assign.assign(a, a + na);
    cluster_free_list(cluster_allocator(st), &l);
    if (a != nullptr) cluster_allocator(st).release(cluster_allocator(st).ctx, a);
    return f;
}

// Builds the dataset split into `parts` partial states (some round-tripped through
// serialisation), merged in random order.
ClusterState* build_split(const Dataset& d, Gen& g, int parts) {
    std::vector<ClusterState*> states;
    for (int i = 0; i < parts; ++i) states.push_back(make_state(d.zoom, d.radius, d.has_id));
    for (const Pt& p : d.pts) EXPECT_EQ(add_pt(states[g.integer(0, parts - 1)], p), Status::Ok);
    for (auto& s : states)
        if (g.coin()) s = round_trip(s);
    while (states.size() > 1) {
        const int i = g.integer(0, static_cast<int>(states.size()) - 1);
        int j = g.integer(0, static_cast<int>(states.size()) - 2);
        if (j >= i) ++j;
        EXPECT_EQ(cluster_merge(states[i], states[j], kNoCancel), Status::Ok);
        cluster_destroy(states[j]);
        states.erase(states.begin() + j);
        if (g.coin(0.2)) {
            const int k = g.integer(0, static_cast<int>(states.size()) - 1);
            states[k] = round_trip(states[k]);
        }
    }
    return states[0];
}

TEST(ClusterProperties, RandomDatasets) {
    constexpr int kDatasets = 300;
    double worst_member_dist = 0;
    std::size_t total_clusters = 0, total_points = 0, crossing = 0, polar = 0;
    for (int n = 0; n < kDatasets; ++n) {
        Gen g(0x5EEDull * 1000003 + n);
        const Dataset d = g.make();
        const std::string what = "dataset " + std::to_string(n) + " (" +
                                 std::to_string(d.pts.size()) + " points, " + d.desc + ")";
        SCOPED_TRACE(what);
        Built a;
        a.st = make_state(d.zoom, d.radius, d.has_id);
        add_all(a.st, d.pts);
        ASSERT_EQ(cluster_point_count(a.st), d.pts.size());
        const Finalized ref = finalize_assign(a.st);
        const RefStats stats =
            check_contract(a.st, d.pts, ref.clusters, ref.assign.data(), ref.assign.size(), what);
        worst_member_dist = std::max(worst_member_dist, stats.max_member_dist_over_radius);
        total_clusters += ref.clusters.size();
        total_points += d.pts.size();
        for (const Cluster& c : ref.clusters) crossing += c.min_lon > c.max_lon ? 1 : 0;
        for (const Pt& p : d.pts) polar += std::fabs(p.lat) > kMercatorMaxLat ? 1 : 0;
        const std::vector<std::uint8_t> bytes = serialize_vec(a.st);

        // Finalize leaves the state alone: a second call gives the same.
        EXPECT_TRUE(same_output(ref.clusters, finalize_vec(a.st)));

        // Row order.
        for (int shuffle = 0; shuffle < 2; ++shuffle) {
            std::vector<Pt> pts = d.pts;
            std::shuffle(pts.begin(), pts.end(), g.rng());
            Built b;
            b.st = make_state(d.zoom, d.radius, d.has_id);
            add_all(b.st, pts);
            EXPECT_TRUE(same_output(ref.clusters, finalize_vec(b.st))) << "after shuffle";
            EXPECT_EQ(serialize_vec(b.st), bytes) << "serialised state depends on row order";
        }
        // Splits into partial states, merged in random order, with round-trips in between.
        for (int split = 0; split < 2; ++split) {
            Built c;
            c.st = build_split(d, g, g.integer(1, 8));
            EXPECT_TRUE(same_output(ref.clusters, finalize_vec(c.st))) << "after split/merge";
            EXPECT_EQ(serialize_vec(c.st), bytes) << "serialised state depends on the split";
        }
        // Serialise/deserialise the whole state.
        {
            Built r;
            ASSERT_EQ(cluster_deserialize(bytes.data(), bytes.size(), malloc_allocator(), &r.st,
                                          kNoCancel),
                      Status::Ok);
            EXPECT_TRUE(same_output(ref.clusters, finalize_vec(r.st))) << "after round-trip";
            EXPECT_EQ(serialize_vec(r.st), bytes);
        }
        if (HasFailure()) break;  // one dataset's failures are enough to read
    }
    std::printf(
        "[ quality  ] %d datasets, %zu points (%zu beyond 85.05 deg), %zu clusters (%zu crossing "
        "the antimeridian); furthest member %.2f radii from its centre\n",
        kDatasets, total_points, polar, total_clusters, crossing, worst_member_dist);
}

// ---- Degenerate inputs and statuses ----------------------------------------------------------

TEST(ClusterEdges, ZeroPointsGiveZeroClusters) {
    Built b;
    b.st = make_state(5, 60, true);
    EXPECT_TRUE(finalize_vec(b.st).empty());
    b.st = round_trip(b.st);
    EXPECT_TRUE(finalize_vec(b.st).empty());
    EXPECT_EQ(cluster_serialized_size(b.st), 24u);
}

TEST(ClusterEdges, OnePointIsOneClusterWithItsId) {
    for (const bool with_id : {true, false}) {
        Built b;
        b.st = make_state(12, 60, true);
        ASSERT_EQ(cluster_add_point(b.st, 48.8566, 2.3522, with_id, -77), Status::Ok);
        const auto out = finalize_vec(b.st);
        ASSERT_EQ(out.size(), 1u);
        EXPECT_EQ(out[0].count, 1);
        EXPECT_NEAR(out[0].lat, 48.8566, 1e-9);
        EXPECT_NEAR(out[0].lon, 2.3522, 1e-9);
        EXPECT_EQ(out[0].min_lat, 48.8566);
        EXPECT_EQ(out[0].max_lat, 48.8566);
        EXPECT_EQ(out[0].min_lon, 2.3522);
        EXPECT_EQ(out[0].max_lon, 2.3522);
        EXPECT_EQ(out[0].has_id, with_id);
        if (with_id) {
            EXPECT_EQ(out[0].id, -77);
        }
    }
}

TEST(ClusterEdges, AMillionIdenticalPointsAreOneCluster) {
    Built b;
    b.st = make_state(18, 60, true);
    for (int i = 0; i < 1000000; ++i)
        ASSERT_EQ(cluster_add_point(b.st, -33.8688, 151.2093, true, 1000000 - i), Status::Ok);
    EXPECT_EQ(cluster_bin_count(b.st), 1u);
    const auto out = finalize_vec(b.st);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].count, 1000000);
    EXPECT_NEAR(out[0].lat, -33.8688, 1e-9);
    EXPECT_NEAR(out[0].lon, 151.2093, 1e-9);
    EXPECT_EQ(out[0].min_lat, -33.8688);
    EXPECT_EQ(out[0].max_lon, 151.2093);
    EXPECT_EQ(out[0].id, 1);
}

TEST(ClusterEdges, MemoryGrowsWithBinsNotRows) {
    Built b;
    b.st = make_state(10, 60, false);
    // 1,000 points: past the first fold of the 256-point buffer (cluster.hpp, Buffering).
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(cluster_add_point(b.st, 10, 10, false, 0), Status::Ok);
    const std::size_t one = cluster_estimate_bytes(b.st);
    for (int i = 0; i < 200000; ++i)
        ASSERT_EQ(cluster_add_point(b.st, 10, 10, false, 0), Status::Ok);
    EXPECT_EQ(cluster_estimate_bytes(b.st), one);
    EXPECT_EQ(cluster_bin_count(b.st), 1u);
    EXPECT_LT(one, 4096u + 256u * 48u);  // state, 16 bins, 32 slots, and the point buffer
}

// Finalisation's work stays O(bins) per pass at any radius the function accepts: its
// neighbour queries visit a bounded number of grid entries each (ClusterFinalizeStats
// near_visits), also at radii of a thousandth of a pixel at zoom 29, where the grid's cells are
// a few dozen fixed units wide. A lattice of bins (the spacing of the tiny-radius reproducer,
// 1.3e-10 degrees, and one at which they merge over several passes), alone and with two markers
// at opposite corners of the world (the cells then span too much to pack into one sort key).
// Cells that stopped shrinking below a fixed size made every bin of such a lattice visit all the
// others: about bins / 2 visits per bin.
TEST(ClusterEdges, TinyRadiiKeepFinalizeWorkLinear) {
    constexpr int kSide = 120;  // 14,400 bins
    for (const double radius : {0.001, 0.01, 0.1}) {
        for (const double step : {1.3e-10, 3e-11}) {
            for (const bool far : {false, true}) {
                Built b;
                b.st = make_state(29, radius, false);
                for (int i = 0; i < kSide * kSide; ++i)
                    ASSERT_EQ(cluster_add_point(b.st, 2 + (i / kSide) * step,
                                                2 + (i % kSide) * step, false, 0),
                              Status::Ok);
                if (far) {
                    ASSERT_EQ(cluster_add_point(b.st, -85, -179.9, false, 0), Status::Ok);
                    ASSERT_EQ(cluster_add_point(b.st, 85, 179.9, false, 0), Status::Ok);
                }
                ClusterList l{};
                ClusterFinalizeStats stats{};
                ASSERT_EQ(cluster_finalize_assign(b.st, kNoCancel, &l, nullptr, nullptr, &stats),
                          Status::Ok);
                const std::vector<Cluster> out = to_vector(l);
                cluster_free_list(cluster_allocator(b.st), &l);
                const std::uint64_t bins = cluster_bin_count(b.st);
                EXPECT_LE(stats.near_visits, 16 * bins * stats.passes)
                    << "radius " << radius << " step " << step << " far " << far << ": "
                    << stats.near_visits << " visits, " << bins << " bins, " << stats.passes
                    << " passes";
                std::int64_t total = 0;
                for (const Cluster& c : out) total += c.count;
                EXPECT_EQ(total, kSide * kSide + (far ? 2 : 0));
            }
        }
    }
}

TEST(ClusterEdges, InvalidParameters) {
    ClusterState* st = nullptr;
    const Allocator a = malloc_allocator();
    EXPECT_EQ(cluster_create(-1, 60, false, a, &st), Status::ZoomOutOfRange);
    EXPECT_EQ(cluster_create(30, 60, false, a, &st), Status::ZoomOutOfRange);
    for (double r :
         {0.0, -1.0, -0.0, std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()})
        EXPECT_EQ(cluster_create(3, r, false, a, &st), Status::RadiusInvalid) << r;
    EXPECT_EQ(st, nullptr);
    EXPECT_EQ(cluster_create(0, 1e-300, false, a, &st), Status::Ok);
    cluster_destroy(st);
    EXPECT_EQ(cluster_create(29, 1e300, false, a, &st), Status::Ok);
    cluster_destroy(st);
}

TEST(ClusterEdges, InvalidPoints) {
    Built b;
    b.st = make_state(3, 60, true);
    const double nan = std::numeric_limits<double>::quiet_NaN(),
                 inf = std::numeric_limits<double>::infinity();
    EXPECT_EQ(cluster_add_point(b.st, nan, 0, false, 0), Status::LatNotFinite);
    EXPECT_EQ(cluster_add_point(b.st, inf, 0, false, 0), Status::LatNotFinite);
    EXPECT_EQ(cluster_add_point(b.st, 0, -inf, false, 0), Status::LonNotFinite);
    EXPECT_EQ(cluster_add_point(b.st, 90.0000001, 0, false, 0), Status::LatOutOfRange);
    EXPECT_EQ(cluster_add_point(b.st, 0, -180.0000001, false, 0), Status::LonOutOfRange);
    EXPECT_EQ(cluster_add_mercator(b.st, 1.0000001, 0.5, 0, 0, false, 0),
              Status::UnitPositionOutOfRange);
    EXPECT_EQ(cluster_add_mercator(b.st, 0.5, nan, 0, 0, false, 0), Status::UnitPositionOutOfRange);
    EXPECT_EQ(cluster_add_mercator(b.st, 0.5, 0.5, 91, 0, false, 0), Status::LatOutOfRange);
    EXPECT_EQ(cluster_point_count(b.st), 0u);
    EXPECT_EQ(cluster_bin_count(b.st), 0u);
}

TEST(ClusterEdges, MergeChecksParameters) {
    Built a, b, c, d;
    a.st = make_state(5, 60, true);
    b.st = make_state(6, 60, true);
    c.st = make_state(5, 61, true);
    d.st = make_state(5, 60, false);
    EXPECT_EQ(cluster_merge(a.st, b.st, kNoCancel), Status::ClusterParamsDiffer);
    EXPECT_EQ(cluster_merge(a.st, c.st, kNoCancel), Status::ClusterParamsDiffer);
    EXPECT_EQ(cluster_merge(a.st, d.st, kNoCancel), Status::ClusterParamsDiffer);
    EXPECT_EQ(cluster_merge(a.st, a.st, kNoCancel), Status::Internal);
    EXPECT_EQ(cluster_check_params(a.st, 5, 60, true), Status::Ok);
    EXPECT_EQ(cluster_check_params(a.st, 5, 60.5, true), Status::ClusterParamsDiffer);
}

TEST(ClusterEdges, StateWithoutIdColumnIgnoresIds) {
    Built b;
    b.st = make_state(3, 60, false);
    ASSERT_EQ(cluster_add_point(b.st, 1, 1, true, 5), Status::Ok);
    const auto out = finalize_vec(b.st);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].has_id);
}

TEST(ClusterEdges, NegativeZeroIsNormalised) {
    Built a, b;
    a.st = make_state(3, 60, false);
    b.st = make_state(3, 60, false);
    ASSERT_EQ(cluster_add_point(a.st, -0.0, -0.0, false, 0), Status::Ok);
    ASSERT_EQ(cluster_add_point(a.st, 0.0, 0.0, false, 0), Status::Ok);
    ASSERT_EQ(cluster_add_point(b.st, 0.0, 0.0, false, 0), Status::Ok);
    ASSERT_EQ(cluster_add_point(b.st, -0.0, -0.0, false, 0), Status::Ok);
    EXPECT_TRUE(same_output(finalize_vec(a.st), finalize_vec(b.st)));
    EXPECT_EQ(serialize_vec(a.st), serialize_vec(b.st));
}

// A cluster straddling the antimeridian reports min_lon > max_lon and a centre on the seam.
// cluster_add_cell_centre (lat/lon derived in the batch) gives the state, byte for byte, that
// cluster_add_mercator gives with quadkey_center's lat/lon; and it refuses a position that is
// not exact in fixed point rather than round it.
TEST(ClusterEdges, CellCentresEqualQuadkeyCenters) {
    std::mt19937_64 rng(29);
    for (int zoom : {2, 9, 17}) {
        Built a, b;
        a.st = make_state(zoom, 60, true);
        b.st = make_state(zoom, 60, true);
        for (int i = 0; i < 5000; ++i) {
            const int level = static_cast<int>(rng() % 30);
            const std::int64_t n = std::int64_t{1} << level;
            const auto x = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
            // Some rows at the edges and on the middle meridian.
            const auto y = i % 7 == 0
                               ? (i % 2 == 0 ? 0 : n - 1)
                               : static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
            QuadkeyCode code{};
            ASSERT_EQ(quadkey_from_tile(level, x, y, &code), Status::Ok);
            const double ux = std::ldexp(static_cast<double>(x) + 0.5, -level);
            const double uy = std::ldexp(static_cast<double>(y) + 0.5, -level);
            const LatLon c = quadkey_center(code);
            ASSERT_EQ(cluster_add_mercator(a.st, ux, uy, c.lat, c.lon, true, i), Status::Ok);
            ASSERT_EQ(cluster_add_cell_centre(b.st, ux, uy, true, i), Status::Ok);
        }
        EXPECT_EQ(serialize_vec(a.st), serialize_vec(b.st)) << zoom;
    }
    Built c;
    c.st = make_state(5, 60, false);
    EXPECT_EQ(cluster_add_cell_centre(c.st, 0.1, 0.5, false, 0), Status::UnitPositionOutOfRange);
    EXPECT_EQ(cluster_add_cell_centre(c.st, 0.5, 1.5, false, 0), Status::UnitPositionOutOfRange);
    EXPECT_EQ(cluster_point_count(c.st), 0u);
}

TEST(ClusterEdges, AntimeridianCluster) {
    Built b;
    b.st = make_state(4, 60, false);
    for (double lon : {179.9, 179.95, -179.9, -179.95, 180.0, -180.0})
        ASSERT_EQ(cluster_add_point(b.st, 10, lon, false, 0), Status::Ok);
    const auto out = finalize_vec(b.st);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].min_lon, 179.9);
    EXPECT_EQ(out[0].max_lon, -179.9);
    EXPECT_NEAR(std::fabs(out[0].lon), 180.0, 1e-9);
    // Points on both sides of lon 0 keep the ordinary box.
    Built c;
    c.st = make_state(4, 60, false);
    for (double lon : {-0.1, 0.1})
        ASSERT_EQ(cluster_add_point(c.st, 10, lon, false, 0), Status::Ok);
    const auto out2 = finalize_vec(c.st);
    ASSERT_EQ(out2.size(), 1u);
    EXPECT_EQ(out2[0].min_lon, -0.1);
    EXPECT_EQ(out2[0].max_lon, 0.1);
    EXPECT_NEAR(out2[0].lon, 0.0, 1e-9);
}

TEST(ClusterEdges, PolesAreClampedForPositionOnly) {
    Built b;
    b.st = make_state(2, 60, false);
    ASSERT_EQ(cluster_add_point(b.st, 90, 0, false, 0), Status::Ok);
    ASSERT_EQ(cluster_add_point(b.st, 89, 0.5, false, 0), Status::Ok);
    const auto out = finalize_vec(b.st);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].max_lat, 90.0);
    EXPECT_EQ(out[0].min_lat, 89.0);
    EXPECT_NEAR(out[0].lat, 85.0511287798066, 1e-9);  // the top edge of the square world
}

// Pairs of markers exactly radius_px apart (as exact unit positions), in every direction, at
// every zoom: whether the engine keeps them apart or merges them, the printed centres must not
// be closer than the radius. This is what the engine's 64-unit slack is for.
TEST(ClusterEdges, PairsAtExactlyTheRadius) {
    Gen g(11);
    for (int zoom = 0; zoom <= 29; ++zoom) {
        for (double radius : {0.25, 1.0, 7.0, 60.0, 100.5, 1000.0}) {
            const long double world = std::ldexp(256.0L, zoom);
            if (radius > world / 4) continue;
            for (int dir = 0; dir < 8; ++dir) {
                const long double angle = dir * kPiL / 4 + g.uni(0, 1e-3);
                const long double x = g.uni(0.1, 0.9), y = g.uni(0.2, 0.8);
                const long double x2 = x + std::cos(angle) * radius / world;
                const long double y2 = y + std::sin(angle) * radius / world;
                std::vector<Pt> pts;
                for (auto [px, py] : {std::pair{x, y}, std::pair{x2, y2}}) {
                    Pt p = latlon(lat_of_y(py), lon_of_x(px));
                    p.mercator = true;
                    p.ux = static_cast<double>(px);
                    p.uy = static_cast<double>(py);
                    pts.push_back(p);
                }
                Built b;
                b.st = make_state(zoom, radius, false);
                add_all(b.st, pts);
                const Finalized f = finalize_assign(b.st);
                check_contract(
                    b.st, pts, f.clusters, f.assign.data(), f.assign.size(),
                    "zoom " + std::to_string(zoom) + " radius " + std::to_string(radius));
                if (HasFailure()) return;
            }
        }
    }
}

// ---- Quality ---------------------------------------------------------------------------------

// Three cities far apart: three clusters at their centres.
TEST(ClusterQuality, CitiesBecomeClustersAtTheirCentres) {
    Gen g(42);
    Built b;
    b.st = make_state(10, 60, false);
    const double world = std::ldexp(256.0, 10);
    const long double centres[3][2] = {{0.30L, 0.40L}, {0.3005L, 0.4005L}, {0.70L, 0.60L}};
    std::vector<Pt> pts;
    for (const auto& c : centres)
        for (int i = 0; i < 1000; ++i) {
            const long double x = c[0] + 8.0 * g.normal() / world,
                              y = c[1] + 8.0 * g.normal() / world;
            pts.push_back(latlon(lat_of_y(y), lon_of_x(x)));
        }
    add_all(b.st, pts);
    const auto out = finalize_vec(b.st);
    ASSERT_EQ(out.size(), 3u);
    for (const Cluster& c : out) {
        EXPECT_EQ(c.count, 1000);
        bool near_one = false;
        for (const auto& ctr : centres) {
            const double dx = ((c.lon + 180) / 360 - static_cast<double>(ctr[0])) * world;
            const double dy =
                (static_cast<double>(ref_mercator_y(c.lat)) - static_cast<double>(ctr[1])) * world;
            near_one |= std::hypot(dx, dy) < 1.5;  // 8 px blobs of 1000: mean within ~0.3 px
        }
        EXPECT_TRUE(near_one) << c.lat << "," << c.lon;
    }
}

// A line of markers radius/2 apart must not collapse into one cluster (DBSCAN would): greedy
// absorption around seeds gives clusters of about five markers.
TEST(ClusterQuality, ChainsDoNotCollapse) {
    const int zoom = 12;
    const double world = std::ldexp(256.0, zoom), radius = 60;
    Built b;
    b.st = make_state(zoom, radius, false);
    std::vector<Pt> pts;
    for (int i = 0; i < 2001; ++i)
        pts.push_back(latlon(0.0, lon_of_x(0.4L + i * (radius / 2) / world)));
    add_all(b.st, pts);
    const Finalized f = finalize_assign(b.st);
    check_contract(b.st, pts, f.clusters, f.assign.data(), f.assign.size(), "chain");
    EXPECT_GE(f.clusters.size(), 300u);
    for (const Cluster& c : f.clusters) EXPECT_LE(c.count, 8);
}

// Supercluster's greedy absorption, point by point in input order, as a yardstick (it does not
// guarantee separation). On city-like data the engine should find about as many clusters.
std::size_t supercluster_like(const std::vector<Pt>& pts, int zoom, double radius,
                              std::size_t* violations) {
    const double world = std::ldexp(256.0, zoom);
    std::vector<double> xs, ys;
    for (const Pt& p : pts) {
        xs.push_back(static_cast<double>(ref_x(p)) * world);
        ys.push_back(static_cast<double>(ref_y(p)) * world);
    }
    std::vector<bool> done(pts.size());
    std::vector<double> cx, cy;
    for (std::size_t i = 0; i < pts.size(); ++i) {
        if (done[i]) continue;
        done[i] = true;
        double sx = xs[i], sy = ys[i];
        std::size_t n = 1;
        for (std::size_t j = i + 1; j < pts.size(); ++j) {
            if (done[j]) continue;
            double dx = std::fabs(xs[i] - xs[j]);
            dx = std::min(dx, world - dx);
            const double dy = ys[i] - ys[j];
            if (dx * dx + dy * dy <= radius * radius) {
                done[j] = true;
                sx += xs[j];
                sy += ys[j];
                ++n;
            }
        }
        cx.push_back(sx / n);
        cy.push_back(sy / n);
    }
    *violations = 0;
    for (std::size_t i = 0; i < cx.size(); ++i)
        for (std::size_t j = i + 1; j < cx.size(); ++j)
            if (std::hypot(cx[i] - cx[j], cy[i] - cy[j]) < radius) ++*violations;
    return cx.size();
}

TEST(ClusterQuality, ComparableToSuperclusterOnCities) {
    for (int zoom : {3, 6, 9, 12}) {
        Gen g(1000 + zoom);
        std::vector<Pt> pts;
        // 40 cities with power-law sizes and spreads of 2-200 km, around one region.
        for (int c = 0; c < 40; ++c) {
            const double lat = g.uni(35, 60), lon = g.uni(-10, 30);
            const int n = static_cast<int>(1500.0 / (c + 1));
            const double sigma = g.log_uni(0.02, 2.0);
            for (int i = 0; i < n; ++i)
                pts.push_back(latlon(std::min(std::max(lat + sigma * g.normal(), -90.0), 90.0),
                                     std::min(std::max(lon + sigma * g.normal(), -180.0), 180.0)));
        }
        std::shuffle(pts.begin(), pts.end(), g.rng());
        Built b;
        b.st = make_state(zoom, 60, false);
        add_all(b.st, pts);
        const Finalized f = finalize_assign(b.st);
        const RefStats s =
            check_contract(b.st, pts, f.clusters, f.assign.data(), f.assign.size(), "cities");
        std::size_t violations = 0;
        const std::size_t sc = supercluster_like(pts, zoom, 60, &violations);
        std::printf(
            "[ quality  ] zoom %2d: %zu points, %zu bins -> %zu clusters (supercluster-like "
            "greedy: "
            "%zu clusters, %zu pairs closer than the radius); furthest member %.2f radii\n",
            zoom, pts.size(), cluster_bin_count(b.st), f.clusters.size(), sc, violations,
            s.max_member_dist_over_radius);
        // Supercluster's count minus its separation violations is about what a separated
        // clustering can show; allow 30% either way.
        EXPECT_GE(f.clusters.size() * 10, (sc - violations) * 7);
        EXPECT_LE(f.clusters.size() * 10, sc * 13);
    }
}

// ---- Deserializer defences -------------------------------------------------------------------

std::vector<std::uint8_t> sample_state_bytes(int zoom = 8, double radius = 60, bool ids = true) {
    Built b;
    b.st = make_state(zoom, radius, ids);
    Gen g(7);
    for (int i = 0; i < 6; ++i) {
        const double lat = g.uni(-89, 89), lon = g.uni(-179, 179);
        for (int k = 0; k <= i; ++k)
            EXPECT_EQ(cluster_add_point(b.st, lat + k * 1e-4, lon, k % 2 == 0, i * 10 + k),
                      Status::Ok);
    }
    EXPECT_EQ(cluster_add_point(b.st, 10, -179.99999, false, 0), Status::Ok);
    return serialize_vec(b.st);
}

// Whether a cluster's centre lies in its own bounds, latitudes clamped as positions are, give or
// take 1e-9 degrees (the bounds are the members' lat/lon, the centre their mean position).
bool centre_in_own_bounds(const Cluster& c) {
    constexpr double eps = 1e-9;
    const double lat_lo = clamp_mercator_lat(c.min_lat);
    const double lat_hi = clamp_mercator_lat(c.max_lat);
    if (!(c.lat >= lat_lo - eps && c.lat <= lat_hi + eps)) return false;
    const double span =
        c.min_lon <= c.max_lon ? c.max_lon - c.min_lon : c.max_lon - c.min_lon + 360.0;
    double off = std::fmod(c.lon - c.min_lon, 360.0);
    if (off < 0) off += 360.0;
    return off <= span + eps || off >= 360.0 - eps;
}

// Accepts a mutated value or rejects it cleanly; an accepted value must behave like a state.
void exercise(const std::vector<std::uint8_t>& bytes, TrackingAllocator& t, const char* what) {
    ClusterState* st = nullptr;
    const std::size_t before = t.peak_bytes = t.live_bytes;
    const Status s = cluster_deserialize(bytes.data(), bytes.size(), t.allocator(), &st, kNoCancel);
    EXPECT_LE(t.peak_bytes - before, 4 * bytes.size() + 4096)
        << what << ": allocation not capped by length";
    if (s != Status::Ok) {
        EXPECT_TRUE(s == Status::StateCorrupt || s == Status::StateBadVersion)
            << what << ": " << status_name(s);
        EXPECT_EQ(st, nullptr);
        return;
    }
    std::vector<std::uint8_t> again(cluster_serialized_size(st));
    EXPECT_EQ(cluster_serialize(st, again.data(), again.size(), kNoCancel), Status::Ok);
    EXPECT_EQ(again, bytes) << what << ": accepted a non-canonical value";
    ClusterList l{};
    EXPECT_EQ(cluster_finalize(st, kNoCancel, &l), Status::Ok);
    long double total = 0;
    for (std::size_t i = 0; i < l.size; ++i) {
        total += l.items[i].count;
        EXPECT_TRUE(centre_in_own_bounds(l.items[i])) << what << ": cluster " << i;
    }
    EXPECT_EQ(total, static_cast<long double>(cluster_point_count(st)));
    cluster_free_list(t.allocator(), &l);
    cluster_destroy(st);
}

TEST(ClusterSerial, RoundTripIsExact) {
    const auto bytes = sample_state_bytes();
    TrackingAllocator t;
    exercise(bytes, t, "valid");
    EXPECT_EQ(t.live_blocks(), 0u);
    EXPECT_EQ(bytes.size(), 24u + 97u * 7u);
}

TEST(ClusterSerial, HeaderChecks) {
    const auto good = sample_state_bytes();
    ClusterState* st = nullptr;
    const Allocator a = malloc_allocator();
    auto expect = [&](std::vector<std::uint8_t> b, Status want, const char* what) {
        EXPECT_EQ(cluster_deserialize(b.data(), b.size(), a, &st, kNoCancel), want) << what;
        EXPECT_EQ(st, nullptr);
    };
    auto with = [&](std::size_t at, std::uint8_t v) {
        auto b = good;
        b[at] = v;
        return b;
    };
    expect(with(0, 'X'), Status::StateCorrupt, "magic");
    expect(with(4, 0), Status::StateBadVersion, "version 0");
    expect(with(4, 2), Status::StateBadVersion, "version 2");
    expect(with(5, 30), Status::StateCorrupt, "zoom 30");
    expect(with(6, 3), Status::StateCorrupt, "unknown flag");
    expect(with(7, 1), Status::StateCorrupt, "reserved byte");
    expect(with(6, 0), Status::StateCorrupt, "ids in bins of a state without id column");
    for (double r : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                     std::numeric_limits<double>::infinity()}) {
        auto b = good;
        std::memcpy(&b[8], &r, 8);
        expect(b, Status::StateCorrupt, "radius");
    }
    expect(std::vector<std::uint8_t>(), Status::StateCorrupt, "empty");
    // A bin count far beyond the bytes present: rejected before allocating anything.
    TrackingAllocator t;
    for (std::uint64_t n : {std::uint64_t{8}, std::uint64_t{1} << 40, ~std::uint64_t{0}}) {
        auto b = good;
        for (int i = 0; i < 8; ++i) b[16 + i] = static_cast<std::uint8_t>(n >> (8 * i));
        EXPECT_EQ(cluster_deserialize(b.data(), b.size(), t.allocator(), &st, kNoCancel),
                  Status::StateCorrupt);
    }
    EXPECT_EQ(t.allocations, 0);
    // Every truncation.
    for (std::size_t len = 0; len < good.size(); ++len)
        EXPECT_EQ(cluster_deserialize(good.data(), len, a, &st, kNoCancel), Status::StateCorrupt)
            << len;
}

TEST(ClusterSerial, RecordChecks) {
    const auto good = sample_state_bytes();
    ClusterState* st = nullptr;
    const Allocator a = malloc_allocator();
    constexpr std::size_t R = 24;  // first record
    auto put64 = [](std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v) {
        for (int i = 0; i < 8; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    };
    auto putf = [&](std::vector<std::uint8_t>& b, std::size_t at, double d) {
        std::uint64_t v;
        std::memcpy(&v, &d, 8);
        put64(b, at, v);
    };
    auto corrupt = [&](const char* what, auto mutate) {
        auto b = good;
        mutate(b);
        EXPECT_EQ(cluster_deserialize(b.data(), b.size(), a, &st, kNoCancel), Status::StateCorrupt)
            << what;
        cluster_destroy(st);
        st = nullptr;
    };
    corrupt("count 0", [&](auto& b) { put64(b, R + 16, 0); });
    corrupt("count huge", [&](auto& b) { put64(b, R + 16, std::uint64_t{1} << 63); });
    corrupt("duplicate bin",
            [&](auto& b) { std::copy(b.begin() + R, b.begin() + R + 97, b.begin() + R + 97); });
    corrupt("unsorted", [&](auto& b) {
        std::vector<std::uint8_t> tmp(b.begin() + R, b.begin() + R + 97);
        std::copy(b.begin() + R + 97, b.begin() + R + 194, b.begin() + R);
        std::copy(tmp.begin(), tmp.end(), b.begin() + R + 97);
    });
    corrupt("column out of range", [&](auto& b) { put64(b, R, ~std::uint64_t{0}); });
    corrupt("row out of range", [&](auto& b) { put64(b, R + 8, std::uint64_t{1} << 50); });
    corrupt("sum_x beyond the bin", [&](auto& b) { put64(b, R + 24, ~std::uint64_t{0}); });
    corrupt("sum_x below the bin", [&](auto& b) { put64(b, b.size() - 97 + 24, 0); });
    corrupt("sum_y above the bin", [&](auto& b) { put64(b, R + 48, 1); });
    corrupt("min_lat > max_lat", [&](auto& b) {
        putf(b, R + 56, 89.5);
        putf(b, R + 64, 0.0);
    });
    corrupt("lat NaN", [&](auto& b) { putf(b, R + 56, std::numeric_limits<double>::quiet_NaN()); });
    corrupt("lat beyond 90", [&](auto& b) { putf(b, R + 64, 90.5); });
    corrupt("lon on the wrong side", [&](auto& b) {  // the first record is the most western bin
        putf(b, R + 72, 5.0);
        putf(b, R + 80, 6.0);
    });
    corrupt("negative zero", [&](auto& b) {
        putf(b, R + 56, -0.0);
        putf(b, R + 64, -0.0);
    });
    corrupt("record flag bits", [&](auto& b) { b[R + 96] = 2; });
    // Records that contradict each other, each field valid alone (the Paris/Sydney kind: bounds
    // of one place, bin and sums of another).
    auto first_one_point = [&](const std::vector<std::uint8_t>& b) {
        for (std::size_t r = R; r < b.size(); r += 97)
            if (b[r + 16] == 1 && std::all_of(b.begin() + r + 17, b.begin() + r + 24,
                                              [](std::uint8_t c) { return c == 0; }))
                return r;
        ADD_FAILURE() << "the sample has no one-point bin";
        return R;
    };
    const std::size_t p1 = first_one_point(good);
    corrupt("bounds moved to another place (same side)", [&](auto& b) {
        const double lon = b[p1 + 7] & 0x80 ? -120.5 : 120.5;  // the sign of the stored lon
        putf(b, p1 + 56, -33.8688);
        putf(b, p1 + 64, -33.8688);
        putf(b, p1 + 72, lon);
        putf(b, p1 + 80, lon);
    });
    corrupt("latitude moved within the column", [&](auto& b) {
        double lat;
        std::memcpy(&lat, &b[p1 + 56], 8);
        putf(b, p1 + 56, lat > 0 ? lat - 20 : lat + 20);
        putf(b, p1 + 64, lat > 0 ? lat - 20 : lat + 20);
    });
    corrupt("longitude moved within the row", [&](auto& b) {
        double lon;
        std::memcpy(&lon, &b[p1 + 72], 8);
        putf(b, p1 + 72, lon / 2);  // same side, many bins (0.08 degrees at zoom 8) away
        putf(b, p1 + 80, lon / 2);
    });
    corrupt("centre outside the bounds (sum moved within the bin)", [&](auto& b) {
        // A bin of one point whose sum_x is another position of the same bin, the end further
        // from the point: at zoom 8 a bin is 15 px = 15 * 2^32 fixed units wide, the slack 64.
        std::uint64_t sx = 0;
        for (int i = 0; i < 8; ++i) sx |= std::uint64_t{b[p1 + 24 + i]} << (8 * i);
        std::uint64_t kx = 0;
        for (int i = 0; i < 8; ++i) kx |= std::uint64_t{b[p1 + i]} << (8 * i);
        const std::uint64_t side = (std::uint64_t{60} << (40 - 8)) / 4;
        const std::uint64_t lo = (kx >> 1) * side;
        put64(b, p1 + 24, sx - lo > side / 2 ? lo : lo + side - 1);
    });
    corrupt("bounds of several points stretched beyond their bin", [&](auto& b) {
        std::size_t r = R;
        for (; r < b.size(); r += 97)
            if (b[r + 16] >= 2) break;
        if (r >= b.size())
            return ADD_FAILURE() << "the sample has no bin of several points", void();
        double lon;
        std::memcpy(&lon, &b[r + 80], 8);
        putf(b, r + 80, lon + 1.0);
    });
    corrupt("min_id without id", [&](auto& b) {
        for (std::size_t r = R; r < b.size(); r += 97)
            if (b[r + 96] == 0) return put64(b, r + 88, 5);
        ADD_FAILURE() << "the sample has no bin without id";
    });
}

TEST(ClusterSerial, EveryBitFlipIsHandled) {
    const auto good = sample_state_bytes();
    TrackingAllocator t;
    for (std::size_t bit = 0; bit < good.size() * 8; ++bit) {
        auto b = good;
        b[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        exercise(b, t, ("bit " + std::to_string(bit)).c_str());
    }
    EXPECT_EQ(t.live_blocks(), 0u);
}

TEST(ClusterSerial, GarbageIsHandled) {
    std::mt19937_64 rng(99);
    const auto good = sample_state_bytes(0, 1e6, false);
    TrackingAllocator t;
    for (int i = 0; i < 20000; ++i) {
        std::vector<std::uint8_t> b;
        if (i % 2 == 0) {
            b.resize(rng() % 400);
            for (auto& c : b) c = static_cast<std::uint8_t>(rng());
            if (b.size() >= 5 && i % 4 == 0) std::copy(good.begin(), good.begin() + 5, b.begin());
        } else {
            b = good;
            const int edits = 1 + static_cast<int>(rng() % 8);
            for (int e = 0; e < edits; ++e) b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
        }
        exercise(b, t, "garbage");
        if (HasFailure()) break;
    }
    EXPECT_EQ(t.live_blocks(), 0u);
}

// ---- Allocation failure and cancellation ---------------------------------------------------

// Every allocation of a full life cycle fails once, in turn: the failing call returns
// OutOfMemory and leaves its state unchanged and usable (the call is retried and succeeds, and
// the life cycle ends with the right clusters), and nothing leaks.
TEST(ClusterResources, OutOfMemoryEverywhere) {
    Gen g(5);
    std::vector<Pt> pts;
    for (int i = 0; i < 3000; ++i) pts.push_back(latlon(g.uni(-80, 80), g.uni(-180, 180), true, i));
    Built ref;
    ref.st = make_state(9, 40, true);
    add_all(ref.st, pts);
    const auto want = finalize_vec(ref.st);

    for (long fail_at = 0;; ++fail_at) {
        SCOPED_TRACE("allocation " + std::to_string(fail_at) + " fails");
        TrackingAllocator t;
        t.fail_after = fail_at;
        bool hit = false;
        auto ok = [&](Status s) {
            if (s == Status::OutOfMemory && !hit) {
                hit = true;
                t.fail_after = -1;  // the retry may allocate
                return false;
            }
            EXPECT_EQ(s, Status::Ok);
            return true;
        };
        ClusterState *a = nullptr, *b = nullptr, *c = nullptr;
        while (!ok(cluster_create(9, 40, true, t.allocator(), &a))) EXPECT_EQ(a, nullptr);
        while (!ok(cluster_create(9, 40, true, t.allocator(), &b))) EXPECT_EQ(b, nullptr);
        for (std::size_t i = 0; i < pts.size(); ++i) {
            ClusterState* st = i % 2 != 0 ? a : b;
            const std::uint64_t points = cluster_point_count(st);
            const std::size_t bins = cluster_bin_count(st);
            while (!ok(add_pt(st, pts[i]))) {
                EXPECT_EQ(cluster_point_count(st), points);
                EXPECT_EQ(cluster_bin_count(st), bins);
            }
        }
        auto snapshot = [&](const ClusterState* st) {
            t.paused = true;
            auto bytes = serialize_vec(st);
            t.paused = false;
            return bytes;
        };
        const std::vector<std::uint8_t> a_before = snapshot(a);
        while (!ok(cluster_merge(a, b, kNoCancel))) EXPECT_EQ(snapshot(a), a_before);
        std::vector<std::uint8_t> bytes(cluster_serialized_size(a));
        while (!ok(cluster_serialize(a, bytes.data(), bytes.size(), kNoCancel))) {
        }
        while (!ok(cluster_deserialize(bytes.data(), bytes.size(), t.allocator(), &c, kNoCancel)))
            EXPECT_EQ(c, nullptr);
        ClusterList l{};
        ClusterBinAssignment* asg = nullptr;
        std::size_t n = 0;
        while (!ok(cluster_finalize_assign(c, kNoCancel, &l, &asg, &n, nullptr))) {
            EXPECT_EQ(l.items, nullptr);
            EXPECT_EQ(asg, nullptr);
        }
        EXPECT_TRUE(same_output(want, to_vector(l)));
        cluster_free_list(t.allocator(), &l);
        t.allocator().release(&t, asg);
        cluster_destroy(a);
        cluster_destroy(b);
        cluster_destroy(c);
        EXPECT_EQ(t.live_blocks(), 0u) << "leak";
        if (!hit || HasFailure()) break;  // no allocation left to fail
    }
}

TEST(ClusterResources, FinalizeOutOfMemoryAtEachAllocation) {
    Gen g(6);
    for (long fail_at = 0; fail_at < 12; ++fail_at) {
        TrackingAllocator t;
        ClusterState* st = nullptr;
        ASSERT_EQ(cluster_create(7, 60, true, t.allocator(), &st), Status::Ok);
        for (int i = 0; i < 2000; ++i)
            ASSERT_EQ(cluster_add_point(st, g.uni(-60, 60), g.uni(-180, 180), true, i), Status::Ok);
        if (fail_at == 0) {
            // The last points are still buffered (cluster.hpp, Buffering): with no memory to fold
            // them in, every reader fails cleanly, and nothing is lost. 2,148 markers in bins of
            // their own: the buffer is folded in at 16, 48, 112, 240, then every 256 points, so
            // 2,032 bins are folded (in chunks for 2,048) and the 116 buffered ones need more.
            TrackingAllocator u;
            ClusterState* lone = nullptr;
            ASSERT_EQ(cluster_create(29, 1e-6, true, u.allocator(), &lone), Status::Ok);
            for (int i = 0; i < 2148; ++i)
                ASSERT_EQ(cluster_add_point(lone, -60 + i * 0.05, -170 + i * 0.1, true, i),
                          Status::Ok);
            ASSERT_EQ(cluster_bin_count(lone), 2032u);
            u.fail_after = u.allocations;
            EXPECT_EQ(cluster_serialized_size(lone), SIZE_MAX);
            ClusterList l{};
            EXPECT_EQ(cluster_finalize(lone, kNoCancel, &l), Status::OutOfMemory);
            EXPECT_EQ(cluster_point_count(lone), 2148u);
            u.fail_after = -1;
            EXPECT_EQ(cluster_serialized_size(lone), 24u + 2148u * 97u);
            cluster_destroy(lone);
            EXPECT_EQ(u.live_blocks(), 0u);
        }
        const std::size_t size = cluster_serialized_size(st);  // folds the buffer in
        t.fail_after = t.allocations + fail_at;
        ClusterList l{};
        ClusterBinAssignment* asg = nullptr;
        std::size_t n = 0;
        const Status s = cluster_finalize_assign(st, kNoCancel, &l, &asg, &n, nullptr);
        if (s == Status::Ok) {
            cluster_free_list(t.allocator(), &l);
            t.allocator().release(&t, asg);
        } else {
            EXPECT_EQ(s, Status::OutOfMemory);
            EXPECT_EQ(l.items, nullptr);
        }
        // serialize needs scratch too
        EXPECT_EQ(cluster_serialized_size(st), size);
        std::vector<std::uint8_t> bytes(size);
        t.fail_after = t.allocations;
        EXPECT_EQ(cluster_serialize(st, bytes.data(), bytes.size(), kNoCancel),
                  Status::OutOfMemory);
        t.fail_after = -1;
        cluster_destroy(st);
        EXPECT_EQ(t.live_blocks(), 0u) << fail_at;
    }
}

// ---- The memory budget (Allocator::budget_bytes) ---------------------------------------------

// Every point in its own bin (zoom 29, a tiny radius) until the budget refuses: nothing beyond
// the budget is ever live, not even while a growth copies the tables, and the refused state is
// unchanged.
TEST(ClusterBudget, GrowthStopsAtTheBudget) {
    constexpr std::size_t budget = 1u << 20;
    TrackingAllocator t;
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_create(29, 1e-6, true, t.allocator(budget), &st), Status::Ok);
    Gen g(11);
    Status s = Status::Ok;
    std::uint64_t added = 0;
    while (s == Status::Ok && added < 1000000) {
        s = cluster_add_point(st, g.uni(-80, 80), g.uni(-180, 180), true,
                              static_cast<std::int64_t>(added));
        if (s == Status::Ok) ++added;
        ASSERT_LE(cluster_estimate_bytes(st), budget);
    }
    ASSERT_EQ(s, Status::StateTooLarge);
    EXPECT_GT(cluster_refused_bytes(st), budget);
    EXPECT_EQ(cluster_point_count(st), added);
    // The last growth was cut to what fits beside the old tables it copies.
    EXPECT_GT(cluster_estimate_bytes(st), budget * 2 / 5);
    EXPECT_LE(t.peak_bytes, budget);
    // The points already buffered need the growth that was refused: every reader says so, and
    // the state is still destroyed cleanly.
    EXPECT_EQ(cluster_serialized_size(st), SIZE_MAX);
    ClusterList l{};
    EXPECT_EQ(cluster_finalize(st, kNoCancel, &l), Status::StateTooLarge);
    // Twice as many points without a budget, serialised: refused by the deserialiser under the
    // budget, before its tables are allocated; accepted without one.
    ClusterState* copy = nullptr;
    {
        Built free_state;
        free_state.st = make_state(29, 1e-6, true);
        Gen g2(11);
        for (std::uint64_t i = 0; i < 2 * added; ++i)
            ASSERT_EQ(cluster_add_point(free_state.st, g2.uni(-80, 80), g2.uni(-180, 180), true,
                                        static_cast<std::int64_t>(i)),
                      Status::Ok);
        const std::vector<std::uint8_t> bytes = serialize_vec(free_state.st);
        const long allocations = t.allocations;
        EXPECT_EQ(
            cluster_deserialize(bytes.data(), bytes.size(), t.allocator(budget), &copy, kNoCancel),
            Status::StateTooLarge);
        EXPECT_EQ(copy, nullptr);
        EXPECT_EQ(t.allocations, allocations + 1);  // the ClusterState alone
        ASSERT_EQ(
            cluster_deserialize(bytes.data(), bytes.size(), malloc_allocator(), &copy, kNoCancel),
            Status::Ok);
        EXPECT_EQ(cluster_point_count(copy), 2 * added);
    }
    cluster_destroy(copy);
    cluster_destroy(st);
    EXPECT_EQ(t.live_blocks(), 0u);
}

// Finalisation's scratch counts on top of the state: a state that fits, whose scratch does not,
// finalizes to StateTooLarge and nothing leaks; a budget with room gives the same clusters as no
// budget.
TEST(ClusterBudget, FinalizeScratchCounts) {
    Gen g(12);
    std::vector<Pt> pts;
    for (int i = 0; i < 5000; ++i) pts.push_back(latlon(g.uni(-60, 60), g.uni(-180, 180), true, i));
    Built free_state;
    free_state.st = make_state(16, 30, true);
    add_all(free_state.st, pts);
    const std::vector<Cluster> want = finalize_vec(free_state.st);

    // Deserialised, the state is exactly its size (no room to grow).
    const std::vector<std::uint8_t> bytes = serialize_vec(free_state.st);
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_deserialize(bytes.data(), bytes.size(), malloc_allocator(), &st, kNoCancel),
              Status::Ok);
    const std::size_t state_bytes = cluster_estimate_bytes(st);
    cluster_destroy(st);
    TrackingAllocator t;
    ASSERT_EQ(cluster_deserialize(bytes.data(), bytes.size(), t.allocator(state_bytes + 1024), &st,
                                  kNoCancel),
              Status::Ok);
    ClusterList l{};
    EXPECT_EQ(cluster_finalize(st, kNoCancel, &l), Status::StateTooLarge);
    EXPECT_EQ(l.items, nullptr);
    EXPECT_EQ(cluster_refused_bytes(st), 0u);  // the state itself was never refused
    cluster_destroy(st);
    EXPECT_EQ(t.live_blocks(), 0u);

    ASSERT_EQ(cluster_create(16, 30, true, t.allocator(64 * state_bytes), &st), Status::Ok);
    add_all(st, pts);
    const std::vector<Cluster> got = finalize_vec(st);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {  // bit for bit (Cluster has padding: by field)
        const Cluster &x = got[i], &y = want[i];
        const double fx[] = {x.lat, x.lon, x.min_lat, x.min_lon, x.max_lat, x.max_lon};
        const double fy[] = {y.lat, y.lon, y.min_lat, y.min_lon, y.max_lat, y.max_lon};
        EXPECT_TRUE(x.count == y.count && x.has_id == y.has_id && x.id == y.id &&
                    std::memcmp(fx, fy, sizeof fx) == 0)
            << i;
    }
    cluster_destroy(st);
}

// 160 bytes per occupied bin is enough for everything the budget bounds, adding and finalizing:
// 300,000 markers over the world at zoom 29 with a tiny radius, every one a bin and a cluster
// of its own (the worst case: the most bins per marker, no merging), under a budget of 160 bytes
// per marker. (The engine needs about 145: 88 per bin, up to 48 for the hash slots while they
// grow, and about 55 of finalisation scratch while the slots are released.)
TEST(ClusterBudget, AHundredAndSixtyBytesPerBin) {
    constexpr std::size_t n = 300000;
    constexpr std::size_t budget = 160 * n;
    TrackingAllocator t;
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_create(29, 1e-6, true, t.allocator(budget), &st), Status::Ok);
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> lat(-85, 85), lon(-180, 180);
    for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(cluster_add_point(st, lat(rng), lon(rng), true, static_cast<std::int64_t>(i)),
                  Status::Ok)
            << i << " markers, " << cluster_refused_bytes(st) << " bytes refused";
    ClusterList l{};
    ClusterFinalizeStats stats{};
    ASSERT_EQ(cluster_finalize_assign(st, kNoCancel, &l, nullptr, nullptr, &stats), Status::Ok);
    EXPECT_EQ(cluster_bin_count(st), n);
    EXPECT_EQ(l.size, n);
    EXPECT_LE(stats.state_bytes + stats.scratch_bytes, budget);
    cluster_free_list(t.allocator(), &l);
    cluster_destroy(st);
    EXPECT_EQ(t.live_blocks(), 0u);
}

// Merging (the combine step) is refused before dst grows past the budget, leaving dst as it was.
TEST(ClusterBudget, MergeIsRefusedBeforeGrowing) {
    Gen g(13);
    TrackingAllocator t;
    ClusterState *a = nullptr, *b = nullptr;
    ASSERT_EQ(cluster_create(29, 1e-6, false, malloc_allocator(), &b), Status::Ok);
    for (int i = 0; i < 20000; ++i)
        ASSERT_EQ(cluster_add_point(b, g.uni(-80, 80), g.uni(-180, 180), false, 0), Status::Ok);
    const std::size_t b_bytes = cluster_estimate_bytes(b);
    ASSERT_EQ(cluster_create(29, 1e-6, false, t.allocator(b_bytes / 2), &a), Status::Ok);
    for (int i = 0; i < 100; ++i)
        ASSERT_EQ(cluster_add_point(a, g.uni(-80, 80), g.uni(-180, 180), false, 0), Status::Ok);
    const std::vector<std::uint8_t> before = serialize_vec(a);
    const long allocations = t.allocations;
    EXPECT_EQ(cluster_merge(a, b, kNoCancel), Status::StateTooLarge);
    EXPECT_EQ(t.allocations, allocations);  // refused before allocating
    EXPECT_EQ(serialize_vec(a), before);
    EXPECT_GT(cluster_refused_bytes(a), b_bytes / 2);
    cluster_destroy(a);
    cluster_destroy(b);
    EXPECT_EQ(t.live_blocks(), 0u);
}

// A budget of 0 is no limit, and a state that needs no growth is never refused: a million
// points in one bin fit in a few kB.
TEST(ClusterBudget, OneBinFitsAnySensibleBudget) {
    TrackingAllocator t;
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_create(10, 60, false, t.allocator(64 * 1024), &st), Status::Ok);
    for (int i = 0; i < 1000000; ++i)
        ASSERT_EQ(cluster_add_point(st, 10, 10, false, 0), Status::Ok);
    EXPECT_EQ(finalize_vec(st).size(), 1u);
    cluster_destroy(st);
}

TEST(ClusterResources, CancelStopsFinalizeCleanly) {
    Gen g(8);
    TrackingAllocator t;
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_create(14, 60, false, t.allocator(), &st), Status::Ok);
    for (int i = 0; i < 30000; ++i)
        ASSERT_EQ(cluster_add_point(st, g.uni(40, 50), g.uni(0, 10), false, 0), Status::Ok);
    const std::size_t state_blocks = t.live_blocks();
    struct Ctx {
        int calls = 0, cancel_at = 0;
    };
    int max_calls = 0;
    {
        Ctx ctx{0, 1 << 30};
        ClusterList l{};
        ASSERT_EQ(cluster_finalize(st,
                                   CancelCheck{[](void* c) {
                                                   return ++static_cast<Ctx*>(c)->calls >=
                                                          static_cast<Ctx*>(c)->cancel_at;
                                               },
                                               &ctx},
                                   &l),
                  Status::Ok);
        cluster_free_list(t.allocator(), &l);
        max_calls = ctx.calls;
    }
    EXPECT_GT(max_calls, 10);
    for (int at = 1; at <= max_calls; at += std::max(1, max_calls / 20)) {
        Ctx ctx{0, at};
        ClusterList l{};
        EXPECT_EQ(cluster_finalize(st,
                                   CancelCheck{[](void* c) {
                                                   return ++static_cast<Ctx*>(c)->calls >=
                                                          static_cast<Ctx*>(c)->cancel_at;
                                               },
                                               &ctx},
                                   &l),
                  Status::Canceled);
        EXPECT_EQ(l.items, nullptr);
        EXPECT_EQ(t.live_blocks(), state_blocks);
    }
    cluster_destroy(st);
    EXPECT_EQ(t.live_blocks(), 0u);
}

// serialize, deserialize and merge poll too: cancelled at every few polls they return Canceled
// and release their scratch; the sorts poll as well (finalize of a lattice at a tiny radius with
// two far-apart markers takes the comparison sort of cells, polled_sort).
TEST(ClusterResources, CancelStopsSerializeDeserializeMergeCleanly) {
    struct Ctx {
        int calls = 0, cancel_at = 0;
        static bool check(void* c) {
            auto* self = static_cast<Ctx*>(c);
            return ++self->calls >= self->cancel_at;
        }
    };
    Gen g(9);
    TrackingAllocator t;
    ClusterState* st = nullptr;
    ASSERT_EQ(cluster_create(14, 60, true, t.allocator(), &st), Status::Ok);
    for (int i = 0; i < 30000; ++i)
        ASSERT_EQ(cluster_add_point(st, g.uni(-60, 60), g.uni(-180, 180), true, i), Status::Ok);
    std::vector<std::uint8_t> bytes(cluster_serialized_size(st));
    ASSERT_EQ(cluster_serialize(st, bytes.data(), bytes.size(), kNoCancel), Status::Ok);
    const std::size_t state_blocks = t.live_blocks();
    // Polls each call makes when never cancelled; then cancelled at 20 points of each.
    const auto run = [&](int which, CancelCheck cancel) {
        if (which == 0) {
            std::vector<std::uint8_t> out(bytes.size());
            return cluster_serialize(st, out.data(), out.size(), cancel);
        }
        ClusterState* back = nullptr;
        Status s = cluster_deserialize(bytes.data(), bytes.size(), t.allocator(), &back,
                                       which == 1 ? cancel : kNoCancel);
        if (s == Status::Ok && which == 2) {
            ClusterState* dst = nullptr;
            EXPECT_EQ(cluster_create(14, 60, true, t.allocator(), &dst), Status::Ok);
            s = cluster_merge(dst, back, cancel);
            cluster_destroy(dst);
        }
        cluster_destroy(back);
        return s;
    };
    for (int which = 0; which < 3; ++which) {
        Ctx never{0, 1 << 30};
        ASSERT_EQ(run(which, CancelCheck{Ctx::check, &never}), Status::Ok) << which;
        EXPECT_GT(never.calls, 5) << which;
        for (int at = 1; at <= never.calls; at += std::max(1, never.calls / 20)) {
            Ctx ctx{0, at};
            EXPECT_EQ(run(which, CancelCheck{Ctx::check, &ctx}), Status::Canceled) << which;
            EXPECT_EQ(t.live_blocks(), state_blocks) << which;
        }
    }
    cluster_destroy(st);
    EXPECT_EQ(t.live_blocks(), 0u);

    ASSERT_EQ(cluster_create(29, 0.001, false, t.allocator(), &st), Status::Ok);
    for (int i = 0; i < 10000; ++i)
        ASSERT_EQ(cluster_add_point(st, 2 + (i / 100) * 1.3e-10, 2 + (i % 100) * 1.3e-10, false, 0),
                  Status::Ok);
    ASSERT_EQ(cluster_add_point(st, -85, -179.9, false, 0), Status::Ok);
    ASSERT_EQ(cluster_add_point(st, 85, 179.9, false, 0), Status::Ok);
    Ctx never{0, 1 << 30};
    ClusterList l{};
    ASSERT_EQ(cluster_finalize(st, CancelCheck{Ctx::check, &never}, &l), Status::Ok);
    cluster_free_list(t.allocator(), &l);
    const std::size_t blocks = t.live_blocks();
    for (int at = 1; at <= never.calls; at += std::max(1, never.calls / 20)) {
        Ctx ctx{0, at};
        EXPECT_EQ(cluster_finalize(st, CancelCheck{Ctx::check, &ctx}, &l), Status::Canceled);
        EXPECT_EQ(l.items, nullptr);
        EXPECT_EQ(t.live_blocks(), blocks);
    }
    cluster_destroy(st);
    EXPECT_EQ(t.live_blocks(), 0u);
}

// Writes the fuzz target's seed corpus: GEOCLUSTER_WRITE_CORPUS=dir ./core_tests
// --gtest_also_run_disabled_tests --gtest_filter=*WriteFuzzCorpus*
TEST(ClusterSerial, DISABLED_WriteFuzzCorpus) {
    const char* dir = std::getenv("GEOCLUSTER_WRITE_CORPUS");
    ASSERT_NE(dir, nullptr);
    int n = 0;
    auto write = [&](const std::vector<std::uint8_t>& b) {
        std::ofstream f(std::string(dir) + "/seed_" + std::to_string(n++), std::ios::binary);
        f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    };
    write(sample_state_bytes());
    write(sample_state_bytes(0, 1e6, false));
    write(sample_state_bytes(29, 0.5, true));
    for (int i = 0; i < 12; ++i) {
        Gen g(777 + i);
        Dataset d = g.make();
        if (d.pts.size() > 30) d.pts.resize(30);
        Built b;
        b.st = make_state(d.zoom, d.radius, d.has_id);
        add_all(b.st, d.pts);
        write(serialize_vec(b.st));
    }
}

}  // namespace
}  // namespace geocluster::testing
