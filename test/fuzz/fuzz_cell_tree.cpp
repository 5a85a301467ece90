// libFuzzer target: the cell tree algorithms (src/core/cell_tree.hpp) that drive GiST and
// SP-GiST pruning and the planner rewrites, against the text oracles of
// test/unit/cell_tree_reference.hpp.
//
// Input: one byte (bit 0: geohash; bits 1..: the count of cells, 0..15), then per cell 8 bytes
// read as a code and made valid (level taken modulo the deepest level plus one, digits below
// the level cleared). Checks: common_ancestor, next_after_subtree and ancestor_in_range on
// neighbouring cells; exact_intervals of all the cells (exact and minimal); the covers' same-level
// merge of the sorted cells; coarsen_ranges of the exact intervals to every smaller count.
#include "cell_tree.hpp"

#include "../unit/cell_tree_reference.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace geocluster;
using namespace geocluster::testing;

namespace {

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "cell tree mismatch: %s\n", what);
        std::abort();
    }
}

template <typename Kind>
std::uint64_t valid_code(std::uint64_t raw) {
    const int mask_bits = Kind::kFanout == 4 ? 5 : 4;  // the level field's width
    const int level =
        static_cast<int>((raw & ((std::uint64_t{1} << mask_bits) - 1)) % (Kind::kMaxLevel + 1));
    return Kind::ancestor(raw, level);  // keeps the digits above the level, clears the rest
}

template <typename Kind>
void pairs(const std::vector<std::uint64_t>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
        const std::uint64_t a = cells[i], b = cells[(i + 1) % cells.size()];
        check(Kind::is_valid(a), "the input cell is valid");
        check(Kind::common_ancestor(a, b) == ref_common_ancestor<Kind>(a, b), "common_ancestor");
        std::uint64_t next = 0, ref_next = 0;
        const bool has = next_after_subtree<Kind>(a, &next);
        check(has == ref_next_after_subtree<Kind>(a, &ref_next) && (!has || next == ref_next),
              "next_after_subtree");
        const std::uint64_t lo = std::min(b, Kind::range_max(b));
        const std::uint64_t hi = Kind::range_max(b);
        check(ancestor_in_range<Kind>(a, lo, hi) == ref_ancestor_in_range<Kind>(a, lo, hi),
              "ancestor_in_range over a subtree");
        const std::uint64_t c = cells[(i + 2) % cells.size()];
        const std::uint64_t lo2 = std::min(b, c), hi2 = std::max(b, c);
        check(ancestor_in_range<Kind>(a, lo2, hi2) == ref_ancestor_in_range<Kind>(a, lo2, hi2),
              "ancestor_in_range over any range");
    }
}

template <typename Kind>
void ranges(const std::vector<std::uint64_t>& cells) {
    std::vector<std::uint64_t> work = cells;
    std::vector<CodeRange> out(work.size() + 1);
    const std::size_t k = exact_intervals<Kind>(work.data(), work.size(), out.data());
    const std::string problem = check_exact_intervals<Kind>(cells, out.data(), k, {});
    if (!problem.empty()) check(false, problem.c_str());

    std::vector<CodeRange> same(work.size() + 1);
    const std::size_t ks =
        merge_sorted_subtrees<Kind>(work.data(), work.size(), same.data(), SubtreeJoin::SameLevel);
    const std::vector<CodeRange> ref = ref_same_level_ranges<Kind>(work);
    check(ks == ref.size(), "same-level range count");
    for (std::size_t i = 0; i < ks; ++i)
        check(same[i].lo == ref[i].lo && same[i].hi == ref[i].hi, "same-level range");

    const std::vector<CodeRange> exact(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k));
    std::vector<std::uint64_t> gaps(k + 1);
    for (std::size_t target = 0; target <= k; ++target) {
        std::vector<CodeRange> got = exact;
        got.resize(coarsen_ranges(got.data(), got.size(), target, gaps.data()));
        const std::vector<CodeRange> want = ref_coarsen(exact, target);
        check(got.size() == want.size(), "coarsen count");
        for (std::size_t i = 0; i < got.size(); ++i) {
            check(got[i].lo == want[i].lo && got[i].hi == want[i].hi, "coarsen");
        }
    }
}

template <typename Kind>
void run(const std::uint8_t* data, std::size_t size, std::size_t n) {
    std::vector<std::uint64_t> cells;
    for (std::size_t i = 0; i < n && 1 + 8 * (i + 1) <= size; ++i) {
        std::uint64_t raw = 0;
        std::memcpy(&raw, data + 1 + 8 * i, 8);
        cells.push_back(valid_code<Kind>(raw));
    }
    if (cells.empty()) return;
    pairs<Kind>(cells);
    ranges<Kind>(cells);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t n = (data[0] >> 1) & 15;
    if (data[0] & 1) {
        run<GeohashKind>(data, size, n);
    } else {
        run<QuadkeyKind>(data, size, n);
    }
    return 0;
}
