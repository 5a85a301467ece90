// Checks the cluster hierarchy's clustering (the core's cell-order sweep,
// src/core/hierarchy_sweep.hpp) against independent computations of its guarantees
// (src/core/hierarchy.hpp), and times it. It was the prototype of that sweep
// (bench/results/2026-12-06-hierarchy-sweep-prototype.md); it now runs the core's
// hierarchy_build_levels, with a level hook that records every zoom.
//
//   g++ -std=c++17 -O2 -ffp-contract=off -DNDEBUG -Isrc/core -Ibench/micro src/core/*.cpp
//       bench/micro/sweep_hierarchy.cpp -o bench/build/sweep_hierarchy           (one command)
//   bench/build/sweep_hierarchy [--check 1] [--max-zoom 16] [--radius 60] < markers.txt
//       (markers_gen's rows, as hierarchy_bench; ids must be unique, as a primary key's)
//
// Prints the clusters per zoom, the CPU seconds of the build (the recording hook's apart) and
// the peak RSS. --check 1 then checks the result (the guarantees' numbers as in hierarchy.hpp):
// 1 and 3 by counting the markers under every cluster through the parent links; 2 by a grid
// scan of every zoom's output centres over all pairs within radius_px, in long double world
// pixels, x wrapped; 4 by the members' mean position and box, from their lat/lon in long double,
// against each cluster's output row (1e-9 degrees for the centre, bounds and id exactly); 5 by
// building again from the markers shuffled and comparing a hash of every zoom's rows, parents and
// every marker's leaf. Exit status 1 when a check fails.
#include "cluster_items.hpp"
#include "hierarchy.hpp"
#include "hierarchy_levels.hpp"
#include "mercator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "cell_sweep.hpp"

namespace {

using geocluster::Cluster;
using geocluster::HierMarker;
using geocluster_bench::cpu_seconds_of;
using geocluster_bench::fnv_bytes;

double cpu_now() { return cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID); }

struct Options {
    int max_zoom = 16;
    double radius = 60;
    bool check = false;
};

// Every zoom's rows in ordinal order and parents, and each marker's leaf ordinal.
struct RecordSink {
    std::vector<std::vector<Cluster>> rows;          // by zoom
    std::vector<std::vector<std::uint32_t>> parent;  // by zoom: of zoom + 1's clusters
    std::vector<std::uint32_t> leaf_of_marker;       // by input position
    double cpu_s = 0;
    bool record = true;
};

geocluster::Status on_level(void* ctx, int zoom, const geocluster::hier_sweep::Sweep& clusters,
                            const std::uint32_t* parent_of_finer, std::uint32_t n_finer) noexcept {
    RecordSink& rec = *static_cast<RecordSink*>(ctx);
    const double c0 = cpu_now();
    const std::uint32_t n = clusters.n_clusters();
    rec.rows[zoom].resize(n);
    if (rec.record)
        for (std::uint32_t k = 0; k < n; ++k)
            geocluster::cluster_internal::cluster_of_item(clusters.cluster(k), &rec.rows[zoom][k]);
    rec.parent[zoom].assign(parent_of_finer, parent_of_finer + n_finer);
    rec.cpu_s += cpu_now() - c0;
    return geocluster::Status::Ok;
}

void* plain_alloc(void*, std::size_t bytes) { return std::malloc(bytes); }
void plain_release(void*, void* p) { std::free(p); }

// The core's build, every zoom recorded. Returns its CPU seconds, the recording's apart.
double build(const std::vector<HierMarker>& markers, const Options& o, RecordSink& rec) {
    rec.rows.assign(o.max_zoom + 1, {});
    rec.parent.assign(o.max_zoom + 1, {});
    std::vector<std::uint64_t> next(o.max_zoom + 1, 0);
    const geocluster::Allocator alloc{&plain_alloc, &plain_release, nullptr, 0};
    const geocluster::HierLevelHook hook{&on_level, &rec};
    std::uint32_t* leaf = nullptr;
    const double c0 = cpu_now();
    const geocluster::Status s = geocluster::hierarchy_build_levels(
        markers.data(), markers.size(), o.radius, o.max_zoom, next.data(), alloc,
        geocluster::CancelCheck{nullptr, nullptr}, hook, &leaf);
    const double cpu = cpu_now() - c0 - rec.cpu_s;
    if (s != geocluster::Status::Ok) {
        std::fprintf(stderr, "sweep_hierarchy: build failed: %s\n", geocluster::status_message(s));
        std::exit(2);
    }
    rec.leaf_of_marker.assign(leaf, leaf + markers.size());
    std::free(leaf);
    return cpu;
}

// ---- --check: independent computations ---------------------------------------------------

long double unit_y_ld(double lat) {  // Web Mercator y in long double, clamped as the engine
    const long double l =
        std::max(-85.05112878L, std::min(85.05112878L, static_cast<long double>(lat)));
    const long double s = std::sin(l * geocluster::kPiL / 180.0L);
    const long double y = 0.5L - std::log((1.0L + s) / (1.0L - s)) / (4.0L * geocluster::kPiL);
    return std::max(0.0L, std::min(1.0L, y));
}

struct Acc {  // a cluster's members, summed in long double
    std::uint64_t count = 0, count_w = 0;
    long double sx = 0, sy = 0;
    double min_lat = INFINITY, max_lat = -INFINITY;
    double min_e = INFINITY, max_e = -INFINITY, min_w = INFINITY, max_w = -INFINITY;
    std::int64_t min_id = INT64_MAX;
};

int check_result(const std::vector<HierMarker>& markers, const RecordSink& rec, const Options& o) {
    const std::size_t n = markers.size();
    int failures = 0;
    auto fail = [&failures](const char* what, int z, std::size_t k) {
        if (failures++ < 10) std::printf("  FAIL %s at zoom %d, cluster %zu\n", what, z, k);
    };
    std::vector<std::uint32_t> cluster_of(rec.leaf_of_marker);  // each marker's cluster at zoom z
    std::size_t sep_pairs_tested = 0;
    double worst_centre_deg = 0;
    for (int z = o.max_zoom; z >= 0; --z) {
        const std::vector<Cluster>& rows = rec.rows[z];
        const std::size_t nz = rows.size();
        if (z < o.max_zoom) {  // nesting: parents exist, every cluster has a child
            const std::vector<std::uint32_t>& par = rec.parent[z];
            std::vector<std::uint64_t> child_count(nz, 0), child_sum(nz, 0);
            const std::vector<Cluster>& finer = rec.rows[z + 1];
            if (par.size() != finer.size()) fail("parent array size", z, 0);
            for (std::size_t j = 0; j < par.size(); ++j) {
                if (par[j] >= nz) {
                    fail("parent out of range", z, j);
                    continue;
                }
                ++child_count[par[j]];
                child_sum[par[j]] += static_cast<std::uint64_t>(finer[j].count);
            }
            for (std::size_t k = 0; k < nz; ++k) {
                if (child_count[k] == 0) fail("childless cluster", z, k);
                if (child_sum[k] != static_cast<std::uint64_t>(rows[k].count))
                    fail("count != children's counts", z, k);
            }
            for (std::uint32_t& c : cluster_of) c = c < par.size() ? par[c] : UINT32_MAX;
        }
        // Conservation, centre, bounds, id: from the members.
        std::vector<Acc> acc(nz);
        for (std::size_t m = 0; m < n; ++m) {
            if (cluster_of[m] >= nz) {
                fail("marker's cluster out of range", z, m);
                continue;
            }
            Acc& a = acc[cluster_of[m]];
            const HierMarker& mk = markers[m];
            const double lon = mk.lon + 0.0, lat = mk.lat + 0.0;
            ++a.count;
            a.sx += (static_cast<long double>(lon) + 180.0L) / 360.0L;
            a.sy += unit_y_ld(lat);
            a.min_lat = std::min(a.min_lat, lat), a.max_lat = std::max(a.max_lat, lat);
            if (lon < 0) {
                ++a.count_w;
                a.min_w = std::min(a.min_w, lon), a.max_w = std::max(a.max_w, lon);
            } else {
                a.min_e = std::min(a.min_e, lon), a.max_e = std::max(a.max_e, lon);
            }
            a.min_id = std::min(a.min_id, mk.id);
        }
        std::uint64_t total = 0;
        for (std::size_t k = 0; k < nz; ++k) {
            const Acc& a = acc[k];
            const Cluster& c = rows[k];
            total += a.count;
            if (a.count == 0 || a.count != static_cast<std::uint64_t>(c.count)) {
                fail("count != members", z, k);
                continue;
            }
            // Bounds: the ordinary box, or the one across 180 when members lie on both sides
            // and it is strictly shorter (cluster.hpp contract 3).
            const bool both = a.count_w > 0 && a.count_w < a.count;
            const bool crossing = both && 360.0 - (a.min_e - a.max_w) < a.max_e - a.min_w;
            const double min_lon = crossing ? a.min_e : (a.count_w > 0 ? a.min_w : a.min_e);
            const double max_lon = crossing ? a.max_w : (a.count_w < a.count ? a.max_e : a.max_w);
            if (c.min_lat != a.min_lat || c.max_lat != a.max_lat || c.min_lon != min_lon ||
                c.max_lon != max_lon)
                fail("bounds", z, k);
            if (!c.has_id || c.id != a.min_id) fail("id", z, k);
            long double ux = (a.sx + (crossing ? static_cast<long double>(a.count_w) : 0.0L)) /
                             static_cast<long double>(a.count);
            if (ux > 1.0L) ux -= 1.0L;
            const long double uy = a.sy / static_cast<long double>(a.count);
            const long double lon_c = ux * 360.0L - 180.0L;
            const long double lat_c = std::atan(std::sinh(geocluster::kPiL * (1.0L - 2.0L * uy))) *
                                      (180.0L / geocluster::kPiL);
            long double dlon = std::fabs(lon_c - static_cast<long double>(c.lon));
            dlon = std::min(dlon, 360.0L - dlon);
            const long double dlat = std::fabs(lat_c - static_cast<long double>(c.lat));
            worst_centre_deg =
                std::max(worst_centre_deg, static_cast<double>(std::max(dlon, dlat)));
            if (dlon > 1e-9L || dlat > 1e-9L) fail("centre", z, k);
        }
        if (total != n) fail("markers conserved", z, 0);
        // Separation: every pair of centres within radius_px, by a grid of cells >= radius_px
        // (a whole number of them across the world, so x wraps cell to cell).
        const long double w = std::ldexp(256.0L, z);
        const long double r = o.radius;
        const std::uint64_t cells = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(w / r));
        const long double side = w / static_cast<long double>(cells);
        struct P {
            std::uint64_t cell;
            long double x, y;
        };
        std::vector<P> pts(nz);
        for (std::size_t k = 0; k < nz; ++k) {
            const long double x = (static_cast<long double>(rows[k].lon) + 180.0L) / 360.0L * w;
            const long double y = unit_y_ld(rows[k].lat) * w;
            const std::uint64_t cx = std::min(cells - 1, static_cast<std::uint64_t>(x / side));
            const std::uint64_t cy = std::min(cells - 1, static_cast<std::uint64_t>(y / side));
            pts[k] = P{cy * cells + cx, x, y};
        }
        std::sort(pts.begin(), pts.end(), [](const P& a, const P& b) { return a.cell < b.cell; });
        auto range_of = [&pts](std::uint64_t cell) {
            const auto lo =
                std::lower_bound(pts.begin(), pts.end(), cell,
                                 [](const P& p, std::uint64_t c) { return p.cell < c; });
            auto hi = lo;
            while (hi != pts.end() && hi->cell == cell) ++hi;
            return std::make_pair(lo, hi);
        };
        std::size_t close = 0;
        for (std::size_t i = 0; i < nz; ++i) {
            const std::uint64_t cx = pts[i].cell % cells, cy = pts[i].cell / cells;
            std::uint64_t cols[3] = {(cx + cells - 1) % cells, cx, (cx + 1) % cells};
            const int n_cols = cells >= 3 ? 3 : static_cast<int>(cells);
            if (cells < 3) cols[0] = 0, cols[1] = 1;
            for (std::uint64_t ry = cy == 0 ? 0 : cy - 1; ry <= cy + 1 && ry < cells; ++ry)
                for (int ci = 0; ci < n_cols; ++ci) {
                    const auto rg = range_of(ry * cells + cols[ci]);
                    for (auto p = rg.first; p != rg.second; ++p) {
                        if (static_cast<std::size_t>(p - pts.begin()) == i) continue;
                        long double dx = std::fabs(p->x - pts[i].x);
                        dx = std::min(dx, w - dx);
                        const long double dy = p->y - pts[i].y;
                        ++sep_pairs_tested;
                        if (dx * dx + dy * dy < r * r) ++close;
                    }
                }
        }
        if (close > 0) {
            std::printf("  zoom %d: %zu ordered pairs of centres closer than %g px\n", z, close,
                        o.radius);
            fail("separation", z, 0);
        }
    }
    std::printf(
        "check: %s (conservation, separation: %zu pairs within a cell's reach tested, "
        "nesting, centres within %.2g degrees of the members' long double mean, bounds "
        "and ids exact)\n",
        failures == 0 ? "all guarantees hold" : "FAILED", sep_pairs_tested, worst_centre_deg);
    return failures;
}

// Every zoom's rows and parents in order, and every marker's leaf by its id: the same result
// gives the same hash whatever the markers' order.
std::uint64_t hash_result(const std::vector<HierMarker>& markers, const RecordSink& rec) {
    std::uint64_t h = geocluster_bench::kFnvStart;
    for (std::size_t z = 0; z < rec.rows.size(); ++z) {
        for (const Cluster& c : rec.rows[z]) {
            h = fnv_bytes(h, &c.count, sizeof c.count);
            const double d[6] = {c.lat, c.lon, c.min_lat, c.min_lon, c.max_lat, c.max_lon};
            h = fnv_bytes(h, d, sizeof d);
            h = fnv_bytes(h, &c.id, sizeof c.id);
        }
        for (std::uint32_t p : rec.parent[z]) h = fnv_bytes(h, &p, sizeof p);
    }
    std::vector<std::pair<std::int64_t, std::uint32_t>> leaf(markers.size());
    for (std::size_t m = 0; m < markers.size(); ++m)
        leaf[m] = {markers[m].id, rec.leaf_of_marker[m]};
    std::sort(leaf.begin(), leaf.end());
    for (const auto& l : leaf) h = fnv_bytes(fnv_bytes(h, &l.first, 8), &l.second, 4);
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--max-zoom") {
            o.max_zoom = std::atoi(argv[i + 1]);
        } else if (a == "--radius") {
            o.radius = std::atof(argv[i + 1]);
        } else if (a == "--check") {
            o.check = std::atoi(argv[i + 1]) != 0;
        } else {
            std::fprintf(stderr, "sweep_hierarchy: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if ((argc - 1) % 2 != 0 || o.max_zoom < 0 || o.max_zoom > geocluster::kHierMaxZoom ||
        !(o.radius > 0) || !(o.radius <= 256)) {
        std::fprintf(stderr,
                     "usage: sweep_hierarchy [--check 0|1] [--max-zoom 16] [--radius 60] < "
                     "markers.txt\n");
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<HierMarker> markers = geocluster_bench::read_markers(stdin);
    std::printf("%zu markers read in %.3f s\n", markers.size(),
                geocluster_bench::seconds_since(t0));
    RecordSink rec;
    rec.record = o.check;
    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu = build(markers, o, rec);
    const double wall = geocluster_bench::seconds_since(wall0);
    std::printf("zoom clusters\n");
    for (int z = o.max_zoom; z >= 0; --z) std::printf("%2d %10zu\n", z, rec.rows[z].size());
    std::printf("sweep hierarchy: cpu %.3f s, wall %.3f s, peak RSS %.0f MiB\n", cpu, wall,
                geocluster_bench::peak_rss_mib());
    if (!o.check) return 0;

    const double c0 = cpu_now();
    const int failures = check_result(markers, rec, o);
    const std::uint64_t h1 = hash_result(markers, rec);
    std::mt19937_64 rng(7);
    std::shuffle(markers.begin(), markers.end(), rng);
    RecordSink rec2;
    build(markers, o, rec2);
    const std::uint64_t h2 = hash_result(markers, rec2);
    std::printf("determinism: hash %016llx in input order, %016llx shuffled: %s\n",
                static_cast<unsigned long long>(h1), static_cast<unsigned long long>(h2),
                h1 == h2 ? "equal" : "DIFFERENT");
    std::printf("check cpu %.3f s (the build again included)\n", cpu_now() - c0);
    return failures == 0 && h1 == h2 ? 0 : 1;
}
