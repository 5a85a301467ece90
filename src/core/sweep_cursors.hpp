// Neighbours in a cell-order sweep: a point's cell as a row-major key, and forward-only cursors
// that find the runs of the 3x3 cells around a key in an array sorted by key. The hierarchy's
// clustering (hierarchy_sweep.cpp) and the bench's greedy sweep (bench/micro/greedy_floor.cpp)
// share them. Not part of the API.
#pragma once

#include "core.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace geocluster {
namespace cluster_internal {

// Row-major cell key: row in the high 32 bits. Both + 1, so that the cells left of column 0 and
// above row 0 have keys too (none holds a point); rows and columns must stay below 2^32 - 1.
constexpr std::uint64_t kSweepRow = std::uint64_t{1} << 32;
constexpr std::uint64_t sweep_key(std::uint64_t row, std::uint64_t col) noexcept {
    return (row + 1) << 32 | (col + 1);
}
constexpr std::uint64_t sweep_row(std::uint64_t key) noexcept { return (key >> 32) - 1; }
constexpr std::uint64_t sweep_col(std::uint64_t key) noexcept { return (key & 0xFFFFFFFFu) - 1; }

// Why cursors: in an array sorted by key, each of the three rows around a point (above, at,
// below) holds its three cells in one run of keys, and as the queries go through the keys in
// order, where each run begins only moves forward. So no index is built and every access is
// sequential.
class SweepCursors {
  public:
    void reset() noexcept { at_[0] = at_[1] = at_[2] = 0; }
    // f(k) for every k < n with key[k] in the 3x3 cells around key q (columns q - 1 .. q + 1 of
    // the rows above, at and below q's, no wrap). key sorted; q never smaller than the last q.
    // Returns the entries visited (work for a cancellation poll).
    template <typename F>
    std::size_t visit(const std::uint64_t* key, std::size_t n, std::uint64_t q, F&& f) noexcept {
        std::size_t work = 0;
        for (int d = 0; d < 3; ++d) {
            const std::uint64_t first =
                q + static_cast<std::uint64_t>(d) * kSweepRow - kSweepRow - 1;
            const std::uint64_t last = first + 2;
            // A local cursor: key and at_ have the same type, so through a reference every step
            // would be a store.
            std::size_t c = at_[d];
            const std::size_t from = c;
            if (c < n && key[c] < first) c = skip(key, n, c, first);
            at_[d] = c;
            work += c - from;
            for (std::size_t k = c; k < n && key[k] <= last; ++k) f(k), ++work;
        }
        return work;
    }

  private:
    // The first k > c with key[k] >= first (key[c] < first), or n: by steps doubling from c,
    // then a binary search in the last step. Why: when the queries are few and far apart (the
    // hierarchy's later passes look around its dirty items only, a few in a million), a linear
    // walk would step over every entry between them, three times.
    // The first few entries are stepped over one by one: in a dense sweep the cursors move by a
    // few entries a query, where the search's call and its branches cost more.
    static std::size_t skip(const std::uint64_t* key, std::size_t n, std::size_t c,
                            std::uint64_t first) noexcept {
        for (int i = 0; i < 4; ++i)
            if (++c == n || key[c] >= first) return c;
        std::size_t step = 1;
        while (step < n - c && key[c + step] < first) {
            c += step;
            step *= 2;
        }
        const std::size_t hi = step < n - c ? c + step : n;  // key[hi] >= first, or hi == n
        return static_cast<std::size_t>(std::lower_bound(key + c + 1, key + hi, first) - key);
    }

    std::size_t at_[3] = {0, 0, 0};
};

}  // namespace cluster_internal
}  // namespace geocluster
