// What the cell-order sweep programs share (greedy_floor.cpp's --index sweep, sweep_hierarchy.cpp):
// the core's cell keys and cursors (src/core/sweep_cursors.hpp), the process's peak RSS, and the
// hash step of their output hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/resource.h>

#include "sweep_cursors.hpp"

namespace geocluster_bench {

// The core's cell keys and cursors (src/core/sweep_cursors.hpp), under the names the programs use.
using geocluster::cluster_internal::kSweepRow;
using geocluster::cluster_internal::sweep_key;
using geocluster::cluster_internal::SweepCursors;

inline double peak_rss_mib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

// FNV-1a over n bytes, continuing from h (start: kFnvStart).
constexpr std::uint64_t kFnvStart = 1469598103934665603ull;
inline std::uint64_t fnv_bytes(std::uint64_t h, const void* p, std::size_t n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

}  // namespace geocluster_bench
