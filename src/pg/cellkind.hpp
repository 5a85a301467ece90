// The cell hierarchy as the index code sees it: one small traits struct per cell type, over
// the core's codecs (src/core/quadkey.hpp, geohash.hpp), used as a template parameter by the
// planner support (planner_support.cpp) and the GiST and SP-GiST operator classes
// (opclass_gist.cpp, opclass_spgist.cpp).
//
// A cell c at level L is a string of L digits (quadkey: 2 bits each, 4 children; geohash:
// 5 bits each, 32 children). Codes order like their text, and the descendants of c (c
// included) are exactly the codes [c, range_max(c)]; the ancestors of c are the L + 1 codes
// ancestor(c, 0) < ancestor(c, 1) < ... < ancestor(c, L) = c. Everything here is O(1) bit
// arithmetic on valid codes, noexcept and allocation-free: it runs in per-tuple index paths.
#pragma once

#include "glue.hpp"

extern "C" {
#include "access/stratnum.h"
}

#include "geohash.hpp"
#include "quadkey.hpp"

#include <algorithm>

namespace geocluster::pg {

// Digits common to a and b (the length of the common prefix of their digit strings,
// ignoring levels), for a layout whose digit i (1-based) occupies bits
// [64 - first_bit - digit_bits * i, 64 - first_bit - digit_bits * (i - 1)).
inline int common_digits(std::uint64_t a, std::uint64_t b, std::uint64_t digit_mask, int first_bit,
                         int digit_bits, int max_level) noexcept {
    const std::uint64_t x = (a ^ b) & digit_mask;
    if (x == 0) return max_level;
    return (__builtin_clzll(x) - first_bit) / digit_bits;
}

struct QuadkeyKind {
    static constexpr const char* kTypeName = "quadkey";
    static constexpr const char* kRangeEndFunction = "quadkey_range_end";
    static constexpr int kMaxLevel = kQuadkeyMaxLevel;
    static constexpr int kFanout = 4;

    static int level(std::uint64_t c) noexcept { return quadkey_level(c); }
    static bool contains(std::uint64_t a, std::uint64_t b) noexcept { return quadkey_contains(a, b); }
    static std::uint64_t range_max(std::uint64_t c) noexcept { return quadkey_range_max(c); }
    // The ancestor at level l, 0 <= l <= level(c).
    static std::uint64_t ancestor(std::uint64_t c, int l) noexcept {
        return (c & quadkey_detail::prefix_mask(l)) | static_cast<std::uint64_t>(l);
    }
    // Digit i (1-based, i <= level(c)): 0..3.
    static int digit(std::uint64_t c, int i) noexcept {
        return static_cast<int>((c >> quadkey_detail::digit_shift(i)) & 3);
    }
    // The child of c (level(c) < kMaxLevel) by digit d.
    static std::uint64_t child(std::uint64_t c, int d) noexcept {
        const int l = level(c) + 1;
        return (c & ~quadkey_detail::kLevelMask) | (static_cast<std::uint64_t>(d) << quadkey_detail::digit_shift(l)) |
               static_cast<std::uint64_t>(l);
    }
    // The deepest cell that contains both a and b.
    static std::uint64_t common_ancestor(std::uint64_t a, std::uint64_t b) noexcept {
        int l = common_digits(a, b, quadkey_detail::kDigitMask, 1, 2, kMaxLevel);
        if (level(a) < l) l = level(a);
        if (level(b) < l) l = level(b);
        return ancestor(a, l);
    }
};

struct GeohashKind {
    static constexpr const char* kTypeName = "geohash";
    static constexpr const char* kRangeEndFunction = "geohash_range_end";
    static constexpr int kMaxLevel = kGeohashMaxPrecision;
    static constexpr int kFanout = 32;

    static int level(std::uint64_t c) noexcept { return geohash_precision(c); }
    static bool contains(std::uint64_t a, std::uint64_t b) noexcept { return geohash_contains(a, b); }
    static std::uint64_t range_max(std::uint64_t c) noexcept { return geohash_range_max(c); }
    static std::uint64_t ancestor(std::uint64_t c, int l) noexcept {
        return (c & geohash_detail::prefix_mask(l)) | static_cast<std::uint64_t>(l);
    }
    static int digit(std::uint64_t c, int i) noexcept {
        return static_cast<int>((c >> geohash_detail::symbol_shift(i)) & 31);
    }
    static std::uint64_t child(std::uint64_t c, int d) noexcept {
        const int l = level(c) + 1;
        return (c & geohash_detail::kSymbolMask) | (static_cast<std::uint64_t>(d) << geohash_detail::symbol_shift(l)) |
               static_cast<std::uint64_t>(l);
    }
    static std::uint64_t common_ancestor(std::uint64_t a, std::uint64_t b) noexcept {
        int l = common_digits(a, b, geohash_detail::kSymbolMask, 0, 5, kMaxLevel);
        if (level(a) < l) l = level(a);
        if (level(b) < l) l = level(b);
        return ancestor(a, l);
    }
};

// True when some ancestor-or-self of c lies in the code range [lo, hi], i.e. when a subtree
// whose codes span [lo, hi] may hold a cell that contains c. The ancestors increase with
// their level, so walk up from c until they drop below lo.
template <typename Kind>
inline bool ancestor_in_range(std::uint64_t c, std::uint64_t lo, std::uint64_t hi) noexcept {
    if (c < lo) return false;  // every ancestor is <= c
    for (int l = Kind::level(c); l >= 0; --l) {
        const std::uint64_t a = Kind::ancestor(c, l);
        if (a < lo) return false;
        if (a <= hi) return true;
    }
    return false;
}

}  // namespace geocluster::pg

namespace geocluster::pg {

// An inclusive range of codes.
struct CellInterval {
    std::uint64_t lo;
    std::uint64_t hi;
};

// The smallest code greater than every descendant of c, or false when there is none (c is on
// the right edge of the world: all its digits are the largest). It is the next sibling of the
// deepest ancestor-or-self of c that has one.
template <typename Kind>
inline bool next_after_subtree(std::uint64_t c, std::uint64_t* next) noexcept {
    for (int j = Kind::level(c); j >= 1; --j) {
        const int d = Kind::digit(c, j);
        if (d < Kind::kFanout - 1) {
            *next = Kind::child(Kind::ancestor(c, j - 1), d + 1);
            return true;
        }
    }
    return false;
}

// Turns the cells in codes[0 .. n) (any order, duplicates and nesting allowed; reordered in
// place) into the fewest ascending, disjoint code intervals that hold exactly the codes inside
// at least one of the cells. Two neighbouring subtrees share an interval only when no code lies
// between them (the second starts right after the first ends, as the four children of a cell
// do), so unlike cover.hpp's *_cover_ranges the intervals are exact whatever the levels of the
// values tested against them. out needs room for n intervals; returns how many were written.
template <typename Kind>
inline std::size_t exact_intervals(std::uint64_t* codes, std::size_t n, CellInterval* out) noexcept {
    std::sort(codes, codes + n);  // in place, allocation-free
    std::size_t k = 0;
    bool has_next = false;
    std::uint64_t next = 0;  // the first code after the current interval's last subtree
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t c = codes[i];
        if (k > 0 && c <= out[k - 1].hi) continue;  // inside (a descendant of) a cell already in
        if (k > 0 && has_next && c == next) {
            out[k - 1].hi = Kind::range_max(c);
        } else {
            out[k++] = CellInterval{c, Kind::range_max(c)};
        }
        has_next = next_after_subtree<Kind>(c, &next);
    }
    return k;
}

}  // namespace geocluster::pg

namespace geocluster::pg {

// The exact answer of an operator for a stored cell v and a query cell x, by its strategy
// number (the GiST leaf test and the SP-GiST leaf test alike).
template <typename Kind>
bool cell_matches(std::uint64_t v, std::uint64_t x, StrategyNumber strategy) noexcept {
    switch (strategy) {
        case RTOverlapStrategyNumber:
            return Kind::contains(v, x) || Kind::contains(x, v);
        case RTContainsStrategyNumber:
            return Kind::contains(v, x);
        case RTContainedByStrategyNumber:
            return Kind::contains(x, v);
        case RTEqualStrategyNumber:
            return v == x;
        case RTLessStrategyNumber:
            return v < x;
        case RTLessEqualStrategyNumber:
            return v <= x;
        case RTGreaterStrategyNumber:
            return v > x;
        case RTGreaterEqualStrategyNumber:
            return v >= x;
        default:
            return false;
    }
}

}  // namespace geocluster::pg
