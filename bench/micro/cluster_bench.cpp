// Micro benchmarks of the clustering engine (src/core/cluster.hpp), without a server.
//
//   mkdir -p bench/build
//   g++ -std=c++17 -O2 -DNDEBUG -Isrc/core src/core/cluster*.cpp src/core/mercator_series.cpp
//   bench/micro/cluster_bench.cpp
//       -lbenchmark -lpthread -o bench/build/cluster_bench          (one command)
//   bench/build/cluster_bench
//
// Data: city-like markers (3000 cities with Zipf sizes, each a dense core and a wider metro ring
// of 2-30 km, 12% rural background, a few on the antimeridian and beyond 85 degrees), generated
// in memory from a fixed seed. (bench/gen/markers_gen.cpp makes the SQL benchmark's dataset; this
// is a simpler stand-in with the same shape, so the micro benchmark needs no files.)
//
// Reported: add_point throughput (items_per_second), finalize time, and memory: the state's
// bytes (cluster_estimate_bytes), finalize's scratch, and the peak of all bytes live at once
// through the allocator while building and finalizing.
#include "cluster.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "counting_alloc.hpp"

namespace {

using namespace geocluster;

constexpr CancelCheck kNoCancel{nullptr, nullptr};

struct Markers {
    std::vector<double> lat, lon;
};

const Markers& city_markers(std::size_t n) {
    static Markers m;
    if (m.lat.size() >= n) return m;
    std::mt19937_64 rng(20240601);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> g(0, 1);
    struct City {
        double lat, lon, sigma_core, sigma_metro;
    };
    std::vector<City> cities;
    std::vector<double> weight;
    for (int k = 0; k < 3000; ++k) {
        const double lat = -45 + 110 * u(rng);
        const double lon = k < 10 ? (k % 2 ? 179.5 : -179.5) : -180 + 360 * u(rng);
        const double km = 2 + 28 * u(rng);
        cities.push_back(City{lat, lon, km / 4 / 111.0, km / 111.0});
        weight.push_back(1.0 / (k + 1));
    }
    std::discrete_distribution<int> pick(weight.begin(), weight.end());
    m.lat.clear();
    m.lon.clear();
    for (std::size_t i = 0; i < n; ++i) {
        double lat, lon;
        const double r = u(rng);
        if (r < 0.12) {  // rural background
            lat = -55 + 125 * u(rng);
            lon = -180 + 360 * u(rng);
        } else if (r < 0.125) {  // beyond the Mercator edge
            lat = (u(rng) < 0.5 ? 1 : -1) * (85 + 5 * u(rng));
            lon = -180 + 360 * u(rng);
        } else {
            const City& c = cities[pick(rng)];
            const double s = u(rng) < 0.4 ? c.sigma_core : c.sigma_metro;
            lat = c.lat + s * g(rng);
            lon = c.lon + s * g(rng) / std::cos(c.lat * 3.14159265358979 / 180);
        }
        lat = std::min(std::max(lat, -90.0), 90.0);
        if (lon > 180) lon -= 360;
        if (lon < -180) lon += 360;
        m.lat.push_back(lat);
        m.lon.push_back(lon);
    }
    return m;
}

ClusterState* build(int zoom, std::size_t n, CountingAlloc& a) {
    const Markers& m = city_markers(n);
    ClusterState* st = nullptr;
    if (cluster_create(zoom, kDefaultRadiusPx, true, a.allocator(), &st) != Status::Ok)
        std::abort();
    for (std::size_t i = 0; i < n; ++i)
        if (cluster_add_point(st, m.lat[i], m.lon[i], true, static_cast<std::int64_t>(i)) !=
            Status::Ok)
            std::abort();
    return st;
}

// add_point throughput: 1M city-like markers into a fresh state per iteration.
void BM_AddPoint(benchmark::State& state) {
    const int zoom = static_cast<int>(state.range(0));
    const std::size_t n = 1000000;
    const Markers& m = city_markers(n);
    CountingAlloc a;
    std::size_t bins = 0, bytes = 0;
    for (auto _ : state) {
        ClusterState* st = nullptr;
        if (cluster_create(zoom, kDefaultRadiusPx, true, a.allocator(), &st) != Status::Ok)
            std::abort();
        for (std::size_t i = 0; i < n; ++i)
            if (cluster_add_point(st, m.lat[i], m.lon[i], true, static_cast<std::int64_t>(i)) !=
                Status::Ok)
                std::abort();
        bins = cluster_bin_count(st);
        bytes = cluster_estimate_bytes(st);
        cluster_destroy(st);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
    state.counters["bins"] = static_cast<double>(bins);
    state.counters["state_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_AddPoint)->Arg(3)->Arg(10)->Arg(16)->Unit(benchmark::kMillisecond);

// What the finalize benchmarks time: cluster_finalize_assign of st, once per iteration (its
// result released through a); then the counters they share. Returns the last run's stats.
ClusterFinalizeStats finalize_timed(benchmark::State& state, ClusterState* st, CountingAlloc& a) {
    ClusterFinalizeStats stats{};
    std::size_t clusters = 0;
    for (auto _ : state) {
        ClusterList l{};
        if (cluster_finalize_assign(st, kNoCancel, &l, nullptr, nullptr, &stats) != Status::Ok)
            std::abort();
        clusters = l.size;
        cluster_free_list(a.allocator(), &l);
    }
    state.counters["bins"] = static_cast<double>(cluster_bin_count(st));
    state.counters["clusters"] = static_cast<double>(clusters);
    state.counters["passes"] = stats.passes;
    state.counters["scratch_bytes"] = static_cast<double>(stats.scratch_bytes);
    return stats;
}

// finalize on a state built once (outside the timing) from n markers.
void BM_Finalize(benchmark::State& state) {
    const int zoom = static_cast<int>(state.range(0));
    const auto n = static_cast<std::size_t>(state.range(1));
    CountingAlloc a;
    ClusterState* st = build(zoom, n, a);
    const std::size_t state_bytes = cluster_estimate_bytes(st);
    finalize_timed(state, st, a);
    state.counters["points"] = static_cast<double>(n);
    state.counters["state_bytes"] = static_cast<double>(state_bytes);
    state.counters["peak_bytes"] = static_cast<double>(a.peak);
    cluster_destroy(st);
}
BENCHMARK(BM_Finalize)
    ->Args({3, 10000000})
    ->Args({10, 10000000})
    ->Args({16, 1000000})
    ->Unit(benchmark::kMillisecond);

// Memory per occupied bin (what geocluster.max_state_memory bounds, divided by the bins at the
// end), over four kinds of data. Arg 0 picks the kind, arg 1 the markers:
//   0 lone:     uniform over the world at zoom 29, radius 1e-6 px: every marker a bin and a
//               cluster of its own, the worst case the budget is for;
//   1 street:   the city markers at zoom 16, radius 60 (mostly lone bins, some merging);
//   2 clustered: the city markers at zoom 10 (bins merge several to one);
//   3 world:    the city markers at zoom 3 (thousands of bins, each holding many markers).
// Reported per bin: the state after the adds (cluster_estimate_bytes); the peak of all bytes
// live while adding (a growth holds old and new hash slots); finalize's state (hash slots
// released) plus its peak scratch; budget_peak, the larger of the two peaks; and, for scale,
// all bytes live at finalize's peak including the result list, which the budget does not count.
// The README quotes these.
void BM_MemoryPerBin(benchmark::State& state) {
    const int kind = static_cast<int>(state.range(0));
    const auto n = static_cast<std::size_t>(state.range(1));
    std::vector<double> la(n), lo(n);
    if (kind == 0) {
        std::mt19937_64 rng(3);
        std::uniform_real_distribution<double> lat(-85, 85), lon(-180, 180);
        for (std::size_t i = 0; i < n; ++i) la[i] = lat(rng), lo[i] = lon(rng);
    } else {
        const Markers& m = city_markers(n);
        std::copy(m.lat.begin(), m.lat.begin() + static_cast<std::ptrdiff_t>(n), la.begin());
        std::copy(m.lon.begin(), m.lon.begin() + static_cast<std::ptrdiff_t>(n), lo.begin());
    }
    const int zoom = kind == 0 ? 29 : kind == 1 ? 16 : kind == 2 ? 10 : 3;
    const double radius = kind == 0 ? 1e-6 : kDefaultRadiusPx;
    std::size_t bins = 0, clusters = 0, state_bytes = 0, add_peak = 0, final_bytes = 0,
                all_peak = 0;
    for (auto _ : state) {
        CountingAlloc a;
        ClusterState* st = nullptr;
        if (cluster_create(zoom, radius, true, a.allocator(), &st) != Status::Ok) std::abort();
        for (std::size_t i = 0; i < n; ++i)
            if (cluster_add_point(st, la[i], lo[i], true, static_cast<std::int64_t>(i)) !=
                Status::Ok)
                std::abort();
        if (cluster_serialized_size(st) == SIZE_MAX) std::abort();  // folds the last points in
        add_peak = a.peak;
        ClusterList l{};
        ClusterFinalizeStats stats{};
        a.peak = a.live;
        if (cluster_finalize_assign(st, kNoCancel, &l, nullptr, nullptr, &stats) != Status::Ok)
            std::abort();
        all_peak = a.peak;
        final_bytes = stats.state_bytes + stats.scratch_bytes;
        bins = cluster_bin_count(st);
        clusters = l.size;
        state_bytes = cluster_estimate_bytes(st);
        cluster_free_list(a.allocator(), &l);
        cluster_destroy(st);
    }
    const double per = 1.0 / static_cast<double>(bins);
    state.counters["bins"] = static_cast<double>(bins);
    state.counters["clusters"] = static_cast<double>(clusters);
    state.counters["state_B_per_bin"] = static_cast<double>(state_bytes) * per;
    state.counters["adding_peak_B_per_bin"] = static_cast<double>(add_peak) * per;
    state.counters["finalize_B_per_bin"] = static_cast<double>(final_bytes) * per;
    state.counters["budget_peak_B_per_bin"] =
        static_cast<double>(std::max(add_peak, final_bytes)) * per;
    state.counters["with_result_B_per_bin"] = static_cast<double>(all_peak) * per;
}
BENCHMARK(BM_MemoryPerBin)
    ->Args({0, 1100000})
    ->Args({0, 2000000})
    ->Args({1, 1000000})
    ->Args({1, 3000000})
    ->Args({2, 1000000})
    ->Args({2, 3000000})
    ->Args({3, 1000000})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// finalize at a tiny radius: a 400 x 400 lattice of markers 1.3e-10 degrees apart at zoom 29,
// radius 0.001 px (160,000 bins, each its own cluster), the SQL reproducer
//   SELECT cardinality(cluster_agg(2 + (i % 400) * 1.3e-10, 2 + (i / 400) * 1.3e-10, 29, 0.001))
//     FROM generate_series(0, 159999) i;
// whose finalisation was quadratic while the neighbour grid's cells stopped shrinking at 65,537
// fixed units (27.5 s); its goal is well under a second. Arg: 1 adds two markers at opposite
// corners of the world, so that the grid's cells do not pack into one sort key.
void BM_FinalizeTinyRadius(benchmark::State& state) {
    const bool far = state.range(0) != 0;
    CountingAlloc a;
    ClusterState* st = nullptr;
    if (cluster_create(29, 0.001, false, a.allocator(), &st) != Status::Ok) std::abort();
    for (int i = 0; i < 160000; ++i)
        if (cluster_add_point(st, 2 + (i / 400) * 1.3e-10, 2 + (i % 400) * 1.3e-10, false, 0) !=
            Status::Ok)
            std::abort();
    if (far && (cluster_add_point(st, -85, -179.9, false, 0) != Status::Ok ||
                cluster_add_point(st, 85, 179.9, false, 0) != Status::Ok))
        std::abort();
    const ClusterFinalizeStats stats = finalize_timed(state, st, a);
    state.counters["near_visits"] = static_cast<double>(stats.near_visits);
    cluster_destroy(st);
}
BENCHMARK(BM_FinalizeTinyRadius)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Parallel-aggregation path: serialize + deserialize + merge of a 1M-marker state.
void BM_SerializeMerge(benchmark::State& state) {
    const int zoom = static_cast<int>(state.range(0));
    CountingAlloc a;
    ClusterState* st = build(zoom, 1000000, a);
    std::vector<std::uint8_t> bytes(cluster_serialized_size(st));
    for (auto _ : state) {
        if (cluster_serialize(st, bytes.data(), bytes.size(), kNoCancel) != Status::Ok)
            std::abort();
        ClusterState* back = nullptr;
        ClusterState* dst = nullptr;
        if (cluster_deserialize(bytes.data(), bytes.size(), a.allocator(), &back, kNoCancel) !=
            Status::Ok)
            std::abort();
        if (cluster_create(zoom, kDefaultRadiusPx, true, a.allocator(), &dst) != Status::Ok)
            std::abort();
        if (cluster_merge(dst, back, kNoCancel) != Status::Ok) std::abort();
        cluster_destroy(back);
        cluster_destroy(dst);
    }
    state.counters["bins"] = static_cast<double>(cluster_bin_count(st));
    state.counters["serialized_bytes"] = static_cast<double>(bytes.size());
    cluster_destroy(st);
}
BENCHMARK(BM_SerializeMerge)->Arg(10)->Arg(16)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
