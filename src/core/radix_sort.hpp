// An LSD radix sort of uint64 keys by a range of their bits: the finaliser's sorts of packed
// seed and grid keys. Not part of the API.
#pragma once

#include "core.hpp"

#include "polled_sort.hpp"

#include <algorithm>
#include <cstring>

namespace geocluster {
namespace cluster_internal {

// Bits needed to write v: 0 for 0.
inline int bit_width(std::uint64_t v) noexcept { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

// Sorts keys[0..n) ascending by their bits [low, high) (all bits at or above high being 0); tmp
// has room for n keys. Returns the array that holds the result (keys or tmp), or nullptr when
// poll said cancel (it is asked after every counting pass over the keys). The bits below
// low carry an index through the sort and decide nothing the callers care about (their keys
// are unique above low, or equal ones may come in any order), so small arrays are simply
// sorted whole.
// Why a radix sort: the sorted fields fit in a few dozen bits, so one to three counting passes
// beat the n log n unpredictable branches of a comparison sort from a few dozen keys on.
// Digits of at most 11 bits (a 2048-bucket count array stays in L1), as many as needed, of
// equal width.
inline std::uint64_t* radix_sort(std::uint64_t* keys, std::uint64_t* tmp, std::uint32_t n, int low,
                                 int high, Poller& poll) noexcept {
    constexpr int kMaxDigitBits = 11;
    if (n < 64) {  // below that, clearing and summing the buckets costs more than it saves
        std::sort(keys, keys + n);
        return keys;
    }
    const int bits = high - low;
    const int digits = (bits + kMaxDigitBits - 1) / kMaxDigitBits;
    const int digit_bits = digits == 0 ? 0 : (bits + digits - 1) / digits;
    const std::uint64_t mask = (std::uint64_t{1} << digit_bits) - 1;
    std::uint32_t count[std::size_t{1} << kMaxDigitBits];
    for (int shift = low; shift < high; shift += digit_bits) {
        std::memset(count, 0, (mask + 1) * sizeof count[0]);
        for (std::uint32_t i = 0; i < n; ++i) ++count[(keys[i] >> shift) & mask];
        if (count[(keys[0] >> shift) & mask] == n) continue;  // one digit value: nothing to do
        std::uint32_t sum = 0;
        for (std::uint64_t b = 0; b <= mask; ++b) {
            const std::uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (std::uint32_t i = 0; i < n; ++i) tmp[count[(keys[i] >> shift) & mask]++] = keys[i];
        std::swap(keys, tmp);
        if (poll.canceled(n)) return nullptr;
    }
    return keys;
}

}  // namespace cluster_internal
}  // namespace geocluster
