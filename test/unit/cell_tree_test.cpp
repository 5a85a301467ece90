// The cell tree (cell_tree.hpp) against the text oracles of cell_tree_reference.hpp: every cell
// of the shallow levels exhaustively, and random cells of every level.
#include "cell_tree.hpp"

#include "cell_tree_reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace geocluster {
namespace {

using namespace geocluster::testing;

// Every cell of levels 0 .. max_level, in code order.
template <typename Kind>
std::vector<std::uint64_t> cells_to_level(int max_level) {
    std::vector<std::uint64_t> out{ref_code<Kind>("")};
    for (std::size_t i = 0; i < out.size(); ++i) {
        const std::string t = ref_text<Kind>(out[i]);
        if (static_cast<int>(t.size()) == max_level) continue;
        for (char d : ref_alphabet<Kind>()) out.push_back(ref_code<Kind>(t + d));
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A random cell: a random level, random digits, biased towards the smallest and largest digit
// so that siblings, carries and the world's right edge come up often.
template <typename Kind>
std::uint64_t random_cell(std::mt19937_64& rng, int max_level = Kind::kMaxLevel) {
    const std::string& a = ref_alphabet<Kind>();
    const int level = static_cast<int>(rng() % static_cast<unsigned>(max_level + 1));
    std::string t;
    for (int i = 0; i < level; ++i) {
        const unsigned r = static_cast<unsigned>(rng() % 4);
        t += r == 0 ? a.front() : r == 1 ? a.back() : a[rng() % a.size()];
    }
    return ref_code<Kind>(t);
}

template <typename Kind>
void exhaustive_pairs(int max_level) {
    const std::vector<std::uint64_t> cells = cells_to_level<Kind>(max_level);
    for (std::uint64_t a : cells) {
        std::uint64_t next = 0, ref_next = 0;
        const bool has = next_after_subtree<Kind>(a, &next);
        ASSERT_EQ(has, ref_next_after_subtree<Kind>(a, &ref_next)) << ref_text<Kind>(a);
        if (has) {
            ASSERT_EQ(next, ref_next) << ref_text<Kind>(a);
        }
        ASSERT_EQ(Kind::range_max(a), ref_range_max<Kind>(a));
        for (std::uint64_t b : cells) {
            ASSERT_EQ(Kind::common_ancestor(a, b), ref_common_ancestor<Kind>(a, b))
                << ref_text<Kind>(a) << " " << ref_text<Kind>(b);
            ASSERT_EQ(Kind::contains(a, b), ref_contains<Kind>(a, b));
            // The range of b's subtree, and a single code.
            ASSERT_EQ(ancestor_in_range<Kind>(a, b, Kind::range_max(b)),
                      ref_ancestor_in_range<Kind>(a, b, Kind::range_max(b)));
            ASSERT_EQ(ancestor_in_range<Kind>(a, b, b), ref_ancestor_in_range<Kind>(a, b, b));
        }
    }
}

TEST(CellTree, QuadkeyShallowLevelsExhaustively) { exhaustive_pairs<QuadkeyKind>(3); }
TEST(CellTree, GeohashShallowLevelsExhaustively) { exhaustive_pairs<GeohashKind>(1); }

template <typename Kind>
void random_pairs(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    for (int i = 0; i < 20000; ++i) {
        const std::uint64_t a = random_cell<Kind>(rng);
        // b: often a relative of a (an ancestor or a descendant), otherwise anything.
        std::uint64_t b = random_cell<Kind>(rng);
        if (rng() % 2 == 0) {
            const std::string t = ref_text<Kind>(a);
            const std::string rt =
                t.substr(0, rng() % (t.size() + 1)) + ref_text<Kind>(b).substr(0, rng() % 3);
            b = rt.size() <= static_cast<std::size_t>(Kind::kMaxLevel) ? ref_code<Kind>(rt) : a;
        }
        std::uint64_t next = 0, ref_next = 0;
        const bool has = next_after_subtree<Kind>(a, &next);
        ASSERT_EQ(has, ref_next_after_subtree<Kind>(a, &ref_next)) << ref_text<Kind>(a);
        if (has) {
            ASSERT_EQ(next, ref_next) << ref_text<Kind>(a);
        }
        ASSERT_EQ(Kind::common_ancestor(a, b), ref_common_ancestor<Kind>(a, b))
            << ref_text<Kind>(a) << " " << ref_text<Kind>(b);
        const std::uint64_t lo = std::min(b, Kind::range_max(b)), hi = Kind::range_max(b);
        ASSERT_EQ(ancestor_in_range<Kind>(a, lo, hi), ref_ancestor_in_range<Kind>(a, lo, hi));
        const std::uint64_t c = random_cell<Kind>(rng);
        const std::uint64_t lo2 = std::min(b, c), hi2 = std::max(b, c);
        ASSERT_EQ(ancestor_in_range<Kind>(a, lo2, hi2), ref_ancestor_in_range<Kind>(a, lo2, hi2));
    }
}

TEST(CellTree, QuadkeyRandomCells) { random_pairs<QuadkeyKind>(1); }
TEST(CellTree, GeohashRandomCells) { random_pairs<GeohashKind>(2); }

TEST(CellTree, NextAfterSubtreeEdges) {
    std::uint64_t next = 0;
    EXPECT_FALSE(next_after_subtree<QuadkeyKind>(ref_code<QuadkeyKind>(""), &next));  // the world
    EXPECT_FALSE(next_after_subtree<QuadkeyKind>(ref_code<QuadkeyKind>("333"), &next));
    ASSERT_TRUE(next_after_subtree<QuadkeyKind>(ref_code<QuadkeyKind>("0133"), &next));
    EXPECT_EQ(ref_text<QuadkeyKind>(next), "02");
    EXPECT_FALSE(next_after_subtree<GeohashKind>(ref_code<GeohashKind>("zzzzzzzzzzzz"), &next));
    ASSERT_TRUE(next_after_subtree<GeohashKind>(ref_code<GeohashKind>("u4z"), &next));
    EXPECT_EQ(ref_text<GeohashKind>(next), "u5");
}

// Random sets of cells (nested, repeated, siblings) through exact_intervals.
template <typename Kind>
void random_exact_intervals(std::uint64_t seed, int max_level, int rounds) {
    std::mt19937_64 rng(seed);
    for (int round = 0; round < rounds; ++round) {
        std::vector<std::uint64_t> cells;
        const int n = static_cast<int>(rng() % 12);
        for (int i = 0; i < n; ++i) {
            std::uint64_t c = random_cell<Kind>(rng, max_level);
            // Whole sibling families now and then: the case where subtrees join.
            if (rng() % 3 == 0 && Kind::level(c) < max_level) {
                for (int d = 0; d < Kind::kFanout; ++d) cells.push_back(Kind::child(c, d));
            } else {
                cells.push_back(c);
            }
        }
        std::vector<std::uint64_t> probes;
        for (int i = 0; i < 64; ++i) probes.push_back(random_cell<Kind>(rng, max_level + 1));
        std::vector<std::uint64_t> work = cells;
        std::vector<CodeRange> out(work.size() + 1);
        const std::size_t k = exact_intervals<Kind>(work.data(), work.size(), out.data());
        ASSERT_TRUE(std::is_sorted(work.begin(), work.end()));
        ASSERT_EQ(check_exact_intervals<Kind>(cells, out.data(), k, probes), "")
            << "round " << round;
    }
}

TEST(CellTree, QuadkeyExactIntervals) { random_exact_intervals<QuadkeyKind>(3, 4, 1500); }
TEST(CellTree, GeohashExactIntervals) { random_exact_intervals<GeohashKind>(4, 2, 300); }
TEST(CellTree, QuadkeyExactIntervalsDeep) {
    random_exact_intervals<QuadkeyKind>(5, QuadkeyKind::kMaxLevel - 1, 300);
}
TEST(CellTree, GeohashExactIntervalsDeep) {
    random_exact_intervals<GeohashKind>(6, GeohashKind::kMaxLevel - 1, 100);
}

TEST(CellTree, ExactIntervalsJoinOnlyWithoutAGap) {
    // "03" and "10" follow each other at level 2, but "1" lies between them: two intervals.
    std::uint64_t cells[] = {ref_code<QuadkeyKind>("10"), ref_code<QuadkeyKind>("03")};
    CodeRange out[2];
    ASSERT_EQ(exact_intervals<QuadkeyKind>(cells, 2, out), 2u);
    // The four children of "2" are one interval, the cell's own range less "2" itself.
    std::uint64_t kids[] = {ref_code<QuadkeyKind>("23"), ref_code<QuadkeyKind>("21"),
                            ref_code<QuadkeyKind>("20"), ref_code<QuadkeyKind>("22")};
    CodeRange one[4];
    ASSERT_EQ(exact_intervals<QuadkeyKind>(kids, 4, one), 1u);
    EXPECT_EQ(one[0].lo, ref_code<QuadkeyKind>("20"));
    EXPECT_EQ(one[0].hi, QuadkeyKind::range_max(ref_code<QuadkeyKind>("2")));
}

// The covers' ranges (SubtreeJoin::SameLevel) against the text successor.
template <typename Kind>
void random_same_level(std::uint64_t seed, int max_level) {
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 2000; ++round) {
        std::vector<std::uint64_t> cells;
        const int n = static_cast<int>(rng() % 16);
        const int level = 1 + static_cast<int>(rng() % static_cast<unsigned>(max_level));
        std::uint64_t c = random_cell<Kind>(rng, level);
        for (int i = 0; i < n; ++i) {
            cells.push_back(c);
            std::uint64_t succ = 0;
            if (rng() % 4 != 0 && ref_same_level_successor<Kind>(c, &succ)) {
                c = succ;  // mostly runs of consecutive cells, across carries too
            } else {
                c = random_cell<Kind>(rng, level);
            }
        }
        std::sort(cells.begin(), cells.end());
        std::vector<CodeRange> out(cells.size() + 1);
        const std::size_t k = merge_sorted_subtrees<Kind>(cells.data(), cells.size(), out.data(),
                                                          SubtreeJoin::SameLevel);
        const std::vector<CodeRange> ref = ref_same_level_ranges<Kind>(cells);
        ASSERT_EQ(k, ref.size()) << "round " << round;
        for (std::size_t i = 0; i < k; ++i) {
            ASSERT_EQ(out[i].lo, ref[i].lo) << "round " << round;
            ASSERT_EQ(out[i].hi, ref[i].hi) << "round " << round;
        }
    }
}

TEST(CellTree, QuadkeySameLevelRanges) { random_same_level<QuadkeyKind>(7, 6); }
TEST(CellTree, GeohashSameLevelRanges) { random_same_level<GeohashKind>(8, 3); }

TEST(CellTree, CoarsenRanges) {
    std::mt19937_64 rng(9);
    for (int round = 0; round < 3000; ++round) {
        // Ascending disjoint ranges with small gaps, so that ties are common.
        std::vector<CodeRange> in;
        std::uint64_t at = rng() % 5;
        const int n = static_cast<int>(rng() % 20);
        for (int i = 0; i < n; ++i) {
            const std::uint64_t len = rng() % 3;
            in.push_back(CodeRange{at, at + len});
            at += len + 1 + rng() % 4;
        }
        const std::size_t target = rng() % 22;
        std::vector<CodeRange> got = in;
        std::vector<std::uint64_t> gaps(in.size() + 1);
        got.resize(coarsen_ranges(got.data(), got.size(), target, gaps.data()));
        const std::vector<CodeRange> ref = ref_coarsen(in, target);
        ASSERT_EQ(got.size(), ref.size()) << "round " << round;
        for (std::size_t i = 0; i < got.size(); ++i) {
            ASSERT_EQ(got[i].lo, ref[i].lo) << "round " << round;
            ASSERT_EQ(got[i].hi, ref[i].hi) << "round " << round;
        }
    }
}

TEST(CellTree, CheckLatLon) {
    EXPECT_EQ(check_latlon(0.0, 0.0), Status::Ok);
    EXPECT_EQ(check_latlon(90.0, -180.0), Status::Ok);
    EXPECT_EQ(check_latlon(std::nan(""), 1000.0), Status::LatNotFinite);
    EXPECT_EQ(check_latlon(1000.0, std::nan("")), Status::LonNotFinite);
    EXPECT_EQ(check_latlon(90.5, 1000.0), Status::LatOutOfRange);
    EXPECT_EQ(check_latlon(-90.0, 180.5), Status::LonOutOfRange);
}

}  // namespace
}  // namespace geocluster
