// Build time and memory of the cluster hierarchy (src/core/hierarchy.hpp), without a server, on
// the SQL benchmark's own dataset: markers_gen's rows on stdin (only id, lat and lon are read).
//
//   mkdir -p bench/build
//   g++ -std=c++17 -O2 -Wall -Wextra -ffp-contract=off bench/gen/markers_gen.cpp -o bench/build/markers_gen
//   g++ -std=c++17 -O2 -DNDEBUG -Isrc/core src/core/*.cpp bench/micro/hierarchy_bench.cpp
//       -o bench/build/hierarchy_bench                                   (one command)
//   bench/build/markers_gen --seed 1 --first 1 --last 10000000 |
//       bench/build/hierarchy_bench [--max-zoom 16] [--radius 60] [--repeat 3]
//
// Reported per run: the build's wall time and the peak of the bytes live at once through its
// allocator (everything the build holds, the result included, the input markers excluded);
// then, once, the nodes per zoom, and for comparison the time cluster_agg's engine alone takes
// for max_zoom (adding every marker and finalising: the first step of the build).
#include "cluster.hpp"
#include "hierarchy.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "counting_alloc.hpp"

namespace {

using namespace geocluster;


// markers_gen's COPY text rows: id, lat, lon, then columns we do not need.
std::vector<HierMarker> read_markers(std::FILE* in) {
    std::vector<HierMarker> m;
    char line[512];
    while (std::fgets(line, sizeof line, in) != nullptr) {
        char* p = line;
        const long long id = std::strtoll(p, &p, 10);
        const double lat = std::strtod(p, &p);
        const double lon = std::strtod(p, &p);
        m.push_back(HierMarker{lat, lon, id});
    }
    return m;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds of this process: on a shared machine, less noisy than the wall clock.
double cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
    int max_zoom = 16, repeat = 3;
    double radius = kDefaultRadiusPx;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--max-zoom") max_zoom = std::atoi(argv[i + 1]);
        else if (a == "--radius") radius = std::atof(argv[i + 1]);
        else if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: hierarchy_bench [--max-zoom Z] [--radius PX] [--repeat N] < rows\n");
            return 2;
        }
    }
    const std::vector<HierMarker> markers = read_markers(stdin);
    std::printf("markers %zu, max_zoom %d, radius_px %g\n", markers.size(), max_zoom, radius);
    const CancelCheck no_cancel{nullptr, nullptr};
    for (int r = 0; r < repeat; ++r) {
        CountingAlloc a;
        std::vector<std::uint64_t> next(static_cast<std::size_t>(max_zoom) + 1, 0);
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = cpu_seconds();
        HierBuild b{};
        const Status s = hierarchy_build(markers.data(), markers.size(), radius, max_zoom,
                                         next.data(), a.allocator(), no_cancel, &b);
        const double took = seconds_since(t0), cpu = cpu_seconds() - cpu0;
        if (s != Status::Ok) {
            std::fprintf(stderr, "hierarchy_build: %s\n", status_name(s));
            return 1;
        }
        std::printf("build %d: %.3f s (cpu %.3f s), peak %.1f MB, result %.1f MB (%zu nodes)\n",
                    r + 1, took, cpu, a.peak / 1e6,
                    (b.n_nodes * sizeof(HierNode) + b.n_markers * sizeof(std::int64_t)) / 1e6,
                    b.n_nodes);
        if (r + 1 == repeat) {
            std::printf("nodes per zoom:");
            for (int z = 0; z <= max_zoom; ++z)
                std::printf(" %d:%llu", z, static_cast<unsigned long long>(next[static_cast<std::size_t>(z)]));
            std::printf("\n");
        }
        hierarchy_free(a.allocator(), &b);
    }
    // The engine alone at max_zoom, as cluster_agg runs it.
    CountingAlloc a;
    const double cpu0 = cpu_seconds();
    ClusterState* st = nullptr;
    if (cluster_create(max_zoom, radius, true, a.allocator(), &st) != Status::Ok) return 1;
    for (const HierMarker& m : markers)
        if (cluster_add_point(st, m.lat, m.lon, true, m.id) != Status::Ok) return 1;
    const double added = cpu_seconds() - cpu0;
    ClusterList l{};
    if (cluster_finalize(st, no_cancel, &l) != Status::Ok) return 1;
    std::printf("engine at max_zoom (cpu): add %.3f s, finalize %.3f s, %zu bins, %zu clusters, peak %.1f MB\n",
                added, cpu_seconds() - cpu0 - added, cluster_bin_count(st), l.size, a.peak / 1e6);
    cluster_free_list(a.allocator(), &l);
    cluster_destroy(st);
    return 0;
}
