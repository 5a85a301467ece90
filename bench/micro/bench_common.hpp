// What the hierarchy micro benchmarks (hierarchy_bench.cpp, hierarchy_update_bench.cpp) share:
// markers_gen's rows read from stdin, and their clocks.
#pragma once

#include "hierarchy.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace geocluster_bench {

// markers_gen's COPY text rows: id, lat, lon, then columns we do not need.
inline std::vector<geocluster::HierMarker> read_markers(std::FILE* in) {
    std::vector<geocluster::HierMarker> m;
    char line[512];
    while (std::fgets(line, sizeof line, in) != nullptr) {
        char* p = line;
        const long long id = std::strtoll(p, &p, 10);
        const double lat = std::strtod(p, &p);
        const double lon = std::strtod(p, &p);
        m.push_back(geocluster::HierMarker{lat, lon, id});
    }
    return m;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Seconds of a CPU clock (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID): each benchmark
// says which one it reads and why.
inline double cpu_seconds_of(clockid_t clock) {
    timespec t{};
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace geocluster_bench
