// Writes to a stored hierarchy (src/core/hierarchy_store.hpp), on blocks held in memory as the
// SQL tables hold them (hierarchy_store_reference.hpp): a packed build, then random write
// sequences. After every step the whole store is decoded and checked by the build's brute-force
// oracle (every guarantee recomputed from the markers), the blocks by the layout's rule (each
// record in the tile of its centre), and the ids by the stability rules (a cluster that holds no
// written marker and whose members did not change keeps its id; a retired id never comes back;
// no id in two partitions). With a threshold of 0, every node block is read in part (by box and
// by slot) and written as a delta until one is due to be folded; with the default, the small
// blocks here are read and written whole: both ways are checked.
#include "hierarchy_store.hpp"

#include "hierarchy_store_reference.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace geocluster {
namespace {

using testing::make_scenario;
using testing::run_store_scenario;
using testing::Scenario;

TEST(HierarchyStore, RandomWriteSequencesKeepEveryGuarantee) {
    std::uint64_t deltas = 0;
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        const Scenario s = make_scenario(seed, 60, 30);
        ASSERT_EQ(run_store_scenario(s, 0, &deltas), "") << "scenario " << seed;
    }
    EXPECT_GT(deltas, 1000u);  // the deltas were exercised, not folded away at once
}

TEST(HierarchyStore, LargerBatchesWithDeltasAndBlocksReadInPart) {
    std::uint64_t deltas = 0;
    for (std::uint64_t seed = 500; seed < 506; ++seed) {
        const Scenario s = make_scenario(seed, 400, 15);
        ASSERT_EQ(run_store_scenario(s, 0, &deltas), "") << "scenario " << seed;
    }
    EXPECT_GT(deltas, 100u);
}

TEST(HierarchyStore, LargerBatchesWrittenWhole) {
    std::uint64_t deltas = 0;
    for (std::uint64_t seed = 500; seed < 506; ++seed) {
        const Scenario s = make_scenario(seed, 400, 15);
        ASSERT_EQ(run_store_scenario(s, kHierDeltaMinBlockBytes, &deltas), "")
            << "scenario " << seed;
    }
}

}  // namespace
}  // namespace geocluster
