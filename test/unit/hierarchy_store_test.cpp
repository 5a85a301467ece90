// Writes to a stored hierarchy (src/core/hierarchy_store.hpp), on blocks held in memory as the
// SQL tables hold them (hierarchy_store_reference.hpp): a packed build, then random write
// sequences. After every step the whole store is decoded and checked by the build's brute-force
// oracle (every guarantee recomputed from the markers), the blocks by the layout's rule (each
// record in the tile of its centre), and the ids by the stability rules (a cluster that holds no
// written marker and whose members did not change keeps its id; a retired id never comes back;
// no id in two partitions).
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
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        const Scenario s = make_scenario(seed, 60, 30);
        ASSERT_EQ(run_store_scenario(s), "") << "scenario " << seed;
    }
}

TEST(HierarchyStore, LargerBatches) {
    for (std::uint64_t seed = 500; seed < 506; ++seed) {
        const Scenario s = make_scenario(seed, 400, 15);
        ASSERT_EQ(run_store_scenario(s), "") << "scenario " << seed;
    }
}

}  // namespace
}  // namespace geocluster
