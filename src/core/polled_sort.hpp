// Polling for cancellation in the engine's long loops, and a sort that polls.
//
// Every loop of the engine over bins or clusters (finalisation, serialisation, combine) asks the
// caller's CancelCheck every few thousand steps, so that a cancelled query stops within
// milliseconds whatever the number of bins. A std::sort over millions of entries cannot be
// interrupted, so the long sorts go through polled_sort: runs of 65,536 entries sorted by
// std::sort (a few ms each, even when the comparison chases an index into the bins), then merged
// pairwise, a poll between runs and every 4,096 merged entries.
#pragma once

#include "core.hpp"

#include "cluster.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace geocluster {
namespace cluster_internal {

// Counts work and asks the CancelCheck once every kPollEvery units of it (a unit: about one
// entry visited, a few nanoseconds to a cache miss). A null function never cancels.
class Poller {
  public:
    static constexpr std::uint64_t kPollEvery = 4096;

    explicit Poller(CancelCheck cancel) noexcept : cancel_(cancel) {}

    bool canceled(std::uint64_t work) noexcept {
        if (cancel_.should_cancel == nullptr) return false;
        budget_ += work;
        if (budget_ < kPollEvery) return false;
        budget_ = 0;
        return cancel_.should_cancel(cancel_.ctx);
    }

  private:
    CancelCheck cancel_;
    std::uint64_t budget_ = 0;
};

// Sorts a[0..n) by less (equal entries in any order: every caller's order is total, or ties do
// not matter to it), polling between steps of bounded work. tmp
// has room for n entries. Returns the array that holds the result (a or tmp), or nullptr when
// the poll said cancel (a and tmp then hold the entries in some order). T must be trivially
// copyable; less must not throw.
template <typename T, typename Less>
T* polled_sort(T* a, T* tmp, std::size_t n, Less less, Poller& poll) noexcept {
    // Long runs: fewer merge passes, each of which touches every entry (and, for an index sort,
    // its bin: a cache miss), cost less than the poll granularity they give up (short runs
    // made serialising a large state measurably slower than one std::sort).
    constexpr std::size_t kRun = 65536;
    constexpr std::size_t kMergeStep = 4096;
    for (std::size_t lo = 0; lo < n; lo += kRun) {
        const std::size_t hi = std::min(n, lo + kRun);
        std::sort(a + lo, a + hi, less);
        if (poll.canceled(hi - lo)) return nullptr;
    }
    for (std::size_t width = kRun; width < n; width *= 2) {
        for (std::size_t lo = 0; lo < n; lo += 2 * width) {
            const std::size_t mid = std::min(n, lo + width), hi = std::min(n, lo + 2 * width);
            std::size_t i = lo, j = mid, k = lo;
            while (k < hi) {
                const std::size_t stop = std::min(hi, k + kMergeStep);
                while (k < stop && i < mid && j < hi) tmp[k++] = less(a[j], a[i]) ? a[j++] : a[i++];
                while (k < stop && i < mid) tmp[k++] = a[i++];
                while (k < stop && j < hi) tmp[k++] = a[j++];
                if (poll.canceled(kMergeStep)) return nullptr;
            }
        }
        std::swap(a, tmp);
    }
    return a;
}

}  // namespace cluster_internal
}  // namespace geocluster
