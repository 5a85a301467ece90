// The cell hierarchy as bit arithmetic: one traits struct per cell type over the codecs
// (quadkey.hpp, geohash.hpp), and the tree algorithms written once over it. The glue uses the
// traits for the SQL types (src/pg/celltype.hpp), the GiST and SP-GiST operator classes and
// the planner support; the covers use merge_sorted_subtrees for their code ranges.
//
// A cell c at level L is a string of L digits (quadkey: 2 bits each, 4 children; geohash:
// 5 bits each, 32 children). Codes order like their text, and the descendants of c (c
// included) are exactly the codes [c, range_max(c)]; the ancestors of c are the L + 1 codes
// ancestor(c, 0) < ancestor(c, 1) < ... < ancestor(c, L) = c. Everything here works on valid
// codes, is noexcept and allocation-free: it runs in per-tuple index paths.
#pragma once

#include "core.hpp"

#include "geohash.hpp"
#include "quadkey.hpp"

#include <algorithm>

namespace geocluster {

// An inclusive range of codes [lo, hi], for btree range scans.
struct CodeRange {
    std::uint64_t lo;
    std::uint64_t hi;
};

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
    static constexpr std::size_t kTextBufSize = kQuadkeyTextBufSize;
    static constexpr int kMaxLevel = kQuadkeyMaxLevel;
    static constexpr int kFanout = 4;

    static Status parse(const char* text, std::size_t len, std::uint64_t* out) noexcept {
        return quadkey_parse(text, len, out);
    }
    static std::size_t format(std::uint64_t c, char* buf) noexcept {
        return quadkey_format(c, buf);
    }
    static bool is_valid(std::uint64_t c) noexcept { return quadkey_is_valid(c); }
    static int compare(std::uint64_t a, std::uint64_t b) noexcept { return quadkey_compare(a, b); }
    static int level(std::uint64_t c) noexcept { return quadkey_level(c); }
    static bool contains(std::uint64_t a, std::uint64_t b) noexcept {
        return quadkey_contains(a, b);
    }
    static std::uint64_t range_max(std::uint64_t c) noexcept { return quadkey_range_max(c); }
    static LatLon center(std::uint64_t c) noexcept { return quadkey_center(c); }
    static LatLonBox bounds(std::uint64_t c) noexcept { return quadkey_bounds(c); }
    static int neighbors(std::uint64_t c, std::uint64_t out[8]) noexcept {
        return quadkey_neighbors(c, out);
    }
    // Shift of digit i (1-based): one unit of digit i is 1 << digit_shift(i).
    static int digit_shift(int i) noexcept { return quadkey_detail::digit_shift(i); }
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
        return (c & ~quadkey_detail::kLevelMask) |
               (static_cast<std::uint64_t>(d) << quadkey_detail::digit_shift(l)) |
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

// The same members as QuadkeyKind over the geohash codec: the traits are the one per-type part
// of the cell tree, so their shape repeats.
struct GeohashKind {
    static constexpr const char* kTypeName = "geohash";
    static constexpr const char* kRangeEndFunction = "geohash_range_end";
    static constexpr std::size_t kTextBufSize = kGeohashTextBufSize;
    static constexpr int kMaxLevel = kGeohashMaxPrecision;
    static constexpr int kFanout = 32;

    static Status parse(const char* text, std::size_t len, std::uint64_t* out) noexcept {
        return geohash_parse(text, len, out);
    }
    static std::size_t format(std::uint64_t c, char* buf) noexcept {
        return geohash_format(c, buf);
    }
    static bool is_valid(std::uint64_t c) noexcept { return geohash_is_valid(c); }
    static int compare(std::uint64_t a, std::uint64_t b) noexcept { return geohash_compare(a, b); }
    static int level(std::uint64_t c) noexcept { return geohash_precision(c); }
    static bool contains(std::uint64_t a, std::uint64_t b) noexcept {
        return geohash_contains(a, b);
    }
    static std::uint64_t range_max(std::uint64_t c) noexcept { return geohash_range_max(c); }
    static LatLon center(std::uint64_t c) noexcept { return geohash_center(c); }
    static LatLonBox bounds(std::uint64_t c) noexcept { return geohash_bounds(c); }
    static int neighbors(std::uint64_t c, std::uint64_t out[8]) noexcept {
        return geohash_neighbors(c, out);
    }
    static int digit_shift(int i) noexcept { return geohash_detail::symbol_shift(i); }
    static std::uint64_t ancestor(std::uint64_t c, int l) noexcept {
        return (c & geohash_detail::prefix_mask(l)) | static_cast<std::uint64_t>(l);
    }
    static int digit(std::uint64_t c, int i) noexcept {
        return static_cast<int>((c >> geohash_detail::symbol_shift(i)) & 31);
    }
    static std::uint64_t child(std::uint64_t c, int d) noexcept {
        const int l = level(c) + 1;
        return (c & geohash_detail::kSymbolMask) |
               (static_cast<std::uint64_t>(d) << geohash_detail::symbol_shift(l)) |
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

// When merge_sorted_subtrees lets the subtree of a cell c join the range of the cell before it.
enum class SubtreeJoin {
    // Only when no code lies between them (c is the first code after the previous subtree):
    // the ranges hold exactly the codes inside the cells.
    Exact,
    // When c is the next cell of the same level in code order: the range then also holds the
    // coarser ancestors of c that sort between the two (the covers' *_cover_ranges contract).
    SameLevel,
};

template <typename Kind>
inline bool subtree_joins(std::uint64_t prev, std::uint64_t c, SubtreeJoin join) noexcept {
    if (join == SubtreeJoin::Exact) {
        std::uint64_t next = 0;
        return next_after_subtree<Kind>(prev, &next) && c == next;
    }
    const int level = Kind::level(prev);
    return level > 0 && level <= Kind::kMaxLevel && Kind::level(c) == level &&
           c == prev + (std::uint64_t{1} << Kind::digit_shift(level));
}

// Merges the subtrees of the ascending cells codes[0 .. n) (duplicates and nesting allowed)
// into ascending, disjoint code ranges: a cell inside an earlier range is skipped, a cell that
// joins the previous one (see SubtreeJoin) extends its range, any other starts a new range
// [c, range_max(c)]. out needs room for n ranges; returns how many were written.
template <typename Kind>
inline std::size_t merge_sorted_subtrees(const std::uint64_t* codes, std::size_t n, CodeRange* out,
                                         SubtreeJoin join) noexcept {
    std::size_t k = 0;
    std::uint64_t prev = 0;  // the last cell not skipped
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t c = codes[i];
        if (k > 0 && c <= out[k - 1].hi) continue;  // a descendant of a cell already in
        if (k > 0 && subtree_joins<Kind>(prev, c, join)) {
            out[k - 1].hi = Kind::range_max(c);
        } else {
            out[k++] = CodeRange{c, Kind::range_max(c)};
        }
        prev = c;
    }
    return k;
}

// Turns the cells in codes[0 .. n) (any order, duplicates and nesting allowed; reordered in
// place) into the fewest ascending, disjoint code intervals that hold exactly the codes inside
// at least one of the cells. Two neighbouring subtrees share an interval only when no code lies
// between them (the second starts right after the first ends, as the four children of a cell
// do), so unlike cover.hpp's *_cover_ranges the intervals are exact whatever the levels of the
// values tested against them. out needs room for n intervals; returns how many were written.
template <typename Kind>
inline std::size_t exact_intervals(std::uint64_t* codes, std::size_t n, CodeRange* out) noexcept {
    std::sort(codes, codes + n);  // in place, allocation-free
    return merge_sorted_subtrees<Kind>(codes, n, out, SubtreeJoin::Exact);
}

// Merges the ascending, disjoint ranges iv[0 .. k) separated by the smallest gaps (in code
// order) until `target` remain; returns the new count. Ties at the threshold gap are merged
// left to right. gaps is scratch space for k - 1 values.
inline std::size_t coarsen_ranges(CodeRange* iv, std::size_t k, std::size_t target,
                                  std::uint64_t* gaps) noexcept {
    if (k <= target || target == 0) return k;
    const std::size_t need = k - target;  // merges to make
    for (std::size_t i = 0; i + 1 < k; ++i) gaps[i] = iv[i + 1].lo - iv[i].hi;
    std::nth_element(gaps, gaps + (need - 1), gaps + (k - 1));
    const std::uint64_t threshold = gaps[need - 1];
    std::size_t below = 0;
    for (std::size_t i = 0; i + 1 < k; ++i) below += iv[i + 1].lo - iv[i].hi < threshold ? 1 : 0;
    std::size_t at_threshold = need - below;
    std::size_t out = 0;
    CodeRange cur = iv[0];
    for (std::size_t i = 0; i + 1 < k; ++i) {
        const std::uint64_t gap = iv[i + 1].lo - iv[i].hi;
        bool merge = gap < threshold;
        if (!merge && gap == threshold && at_threshold > 0) {
            merge = true;
            --at_threshold;
        }
        if (merge) {
            cur.hi = iv[i + 1].hi;
        } else {
            iv[out++] = cur;
            cur = iv[i + 1];
        }
    }
    iv[out++] = cur;
    return out;
}

}  // namespace geocluster
