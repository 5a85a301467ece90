// What the cell-order sweeps share (greedy_floor.cpp's --index sweep, sweep_hierarchy.cpp): a
// point's cell as a row-major key, forward-only cursors that find the runs of the 3x3 cells
// around a key in an array sorted by key, the process's peak RSS, and the hash step of their
// output hashes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/resource.h>

namespace geocluster_bench {

// Row-major cell key: row in the high 32 bits. Both + 1, so that the cells left of column 0 and
// above row 0 have keys too (none holds a point); rows and columns must stay below 2^32 - 1.
constexpr std::uint64_t kSweepRow = std::uint64_t{1} << 32;
inline std::uint64_t sweep_key(std::uint64_t row, std::uint64_t col) {
    return (row + 1) << 32 | (col + 1);
}

// Why cursors: in an array sorted by key, each of the three rows around a point (above, at,
// below) holds its three cells in one run of keys, and as the queries go through the keys in
// order, where each run begins only moves forward. So no index is built and every access is
// sequential.
class SweepCursors {
  public:
    void reset() { at_[0] = at_[1] = at_[2] = 0; }
    // f(k) for every k < n with key[k] in the 3x3 cells around key q (columns q - 1 .. q + 1 of
    // the rows above, at and below q's, no wrap). key sorted; q never smaller than the last q.
    template <typename F>
    void visit(const std::uint64_t* key, std::size_t n, std::uint64_t q, F&& f) {
        for (int d = 0; d < 3; ++d) {
            const std::uint64_t first =
                q + static_cast<std::uint64_t>(d) * kSweepRow - kSweepRow - 1;
            const std::uint64_t last = first + 2;
            std::size_t& c = at_[d];
            while (c < n && key[c] < first) ++c;
            for (std::size_t k = c; k < n && key[k] <= last; ++k) f(k);
        }
    }

  private:
    std::size_t at_[3] = {0, 0, 0};
};

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
