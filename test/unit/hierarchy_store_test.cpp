// Writes to a stored hierarchy (src/core/hierarchy_store.hpp), on blocks held in memory as the
// SQL tables hold them (hierarchy_store_reference.hpp): a packed build, then random write
// sequences. After every step the whole store is decoded and checked by the build's brute-force
// oracle (every guarantee recomputed from the markers), the blocks by the layout's rule (each
// record in the tile of its centre), and the ids by the stability rules (a cluster that holds no
// written marker and whose members did not change keeps its id; a retired id never comes back;
// no id in two partitions). With a threshold of 0, every block (nodes and members) is read in
// part (by box and by slot) and written as a delta until one is due to be folded; with the
// default, the small blocks here are read and written whole: both ways are checked.
#include "hierarchy_store.hpp"

#include "hierarchy_store_reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <tuple>
#include <vector>

namespace geocluster {
namespace {

using testing::make_scenario;
using testing::run_store_scenario;
using testing::Scenario;
using testing::Store;

TEST(HierarchyStore, RandomWriteSequencesKeepEveryGuarantee) {
    std::uint64_t deltas = 0;
    Store::Reads reads;
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        const Scenario s = make_scenario(seed, 60, 30);
        ASSERT_EQ(run_store_scenario(s, 0, &deltas, false, &reads), "") << "scenario " << seed;
    }
    EXPECT_GT(deltas, 1000u);  // the deltas were exercised, not folded away at once
    EXPECT_GT(reads.member_deltas_written, 300u);  // member blocks' too
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

// Statements as the SQL layer gives them: each writes a marker at most once (its erases are rows
// from before it), a few hundred writes at a time, put in Z-order first, over a few thousand
// markers, so that blocks hold enough records and are scanned often enough in one batch for
// the batch's read savings (parses skipped, blocks decoded whole, records visited by
// latitude) to be taken, and checked by the oracle like every other step.
Scenario make_statement_scenario(std::uint64_t seed, int n_initial, int n_steps, int batch) {
    testing::WriteGen g(seed);
    Scenario s;
    s.radius = g.coin(0.2) ? g.uni(300, 5e5) : g.uni(20, 120);
    s.max_zoom = g.integer(8, 16);
    s.n_parts = g.coin(0.3) ? 2 : 1;
    std::int64_t next_id = 1;
    std::vector<std::int64_t> live;
    testing::add_initial_markers(g, n_initial, &s, &live, &next_id);
    for (int t = 0; t < n_steps; ++t) {
        std::shuffle(live.begin(), live.end(), g.rng());
        std::vector<HierWrite> step;
        std::size_t used = 0;  // live[0..used) are written by this step already
        std::vector<std::int64_t> born;
        for (int b = 0; b < batch; ++b) {
            HierWrite w{HierWriteKind::Insert, 0, 0, 0, g.integer(0, s.n_parts - 1)};
            const double k = g.uni(0, 1);
            if (used == live.size() || k < 0.5) {
                w.id = next_id++;
                born.push_back(w.id);
                g.position(&w.lat, &w.lon);
            } else if (k < 0.8) {
                w.kind = HierWriteKind::Move;
                w.id = live[used++];
                g.position(&w.lat, &w.lon);
            } else {
                w.kind = HierWriteKind::Erase;
                w.id = live[used];
                live[used] = live.back();
                live.pop_back();
            }
            step.push_back(w);
        }
        live.insert(live.end(), born.begin(), born.end());
        s.steps.push_back(step);
    }
    return s;
}

TEST(HierarchyStore, StatementsInZOrderKeepEveryGuarantee) {
    Store::Reads reads;
    for (std::uint64_t seed = 700; seed < 704; ++seed) {
        const Scenario s = make_statement_scenario(seed, 1500, 3, 250);
        ASSERT_EQ(run_store_scenario(s, 0, nullptr, true, &reads), "") << "scenario " << seed;
        ASSERT_EQ(run_store_scenario(s, kHierDeltaMinBlockBytes, nullptr, true, &reads), "")
            << "scenario " << seed << ", written whole";
    }
    // (each saving was taken, so the oracle checked what it changes)
    EXPECT_GT(reads.parses_skipped, 0u);
    EXPECT_GT(reads.blocks_decoded_whole, 0u);
    EXPECT_GT(reads.indexed_scans, 0u);
}

// A batch cancelled at any of its cancel checks stops with Canceled and hands out no block. The
// checks run through every phase of a batch (its writes, the repair's lookups, the write-back's
// planning and encoding: what SQL's statement_timeout relies on, test/t/066), and a cancel
// thrown from any of them unwinds the working copy cleanly.
TEST(HierarchyStore, CancelAtAnyCheckStopsTheBatch) {
    const Scenario sc = make_statement_scenario(710, 1500, 1, 600);
    Store base;
    base.delta_min_block_bytes = 0;
    base.radius = sc.radius;
    base.max_zoom = sc.max_zoom;
    base.bands = hier_bands(sc.max_zoom);
    ASSERT_EQ(testing::build_store(&base, sc.initial, sc.initial_parts), "");
    struct Countdown {
        std::uint64_t calls = 0, cancel_at = 0;  // 0: never
    };
    const auto check = [](void* c) {
        auto* d = static_cast<Countdown*>(c);
        return ++d->calls == d->cancel_at;
    };
    Countdown counted;
    {
        Store s = base;
        ASSERT_EQ(testing::apply_step(&s, sc.steps[0], true, CancelCheck{check, &counted}), "");
    }
    // (far more checks than writes: the repair and the write-back check too)
    ASSERT_GT(counted.calls, 3u * sc.steps[0].size());
    for (int i = 1; i <= 60; ++i) {
        Countdown d;
        d.cancel_at = 1 + (counted.calls - 1) * static_cast<std::uint64_t>(i) / 60;
        Store s = base;
        const std::string f = testing::apply_step(&s, sc.steps[0], true, CancelCheck{check, &d});
        EXPECT_NE(f.find(std::string("apply: ") + status_message(Status::Canceled)),
                  std::string::npos)
            << "cancelled at check " << d.cancel_at << " of " << counted.calls << ": " << f;
    }
}

TEST(HierarchyStore, OrderOfWritesIsTotalAndKeepsErasesFirst) {
    testing::WriteGen g(42);
    std::vector<HierStoreWrite> w;
    for (int i = 0; i < 2000; ++i) {
        HierStoreWrite x{g.coin(), g.integer(0, 50), 0, 0};
        g.position(&x.lat, &x.lon);
        if (g.coin(0.05)) x.lat = g.coin() ? NAN : 1e9;  // refused later by apply, ordered anyway
        w.push_back(x);
        if (g.coin(0.1)) w.push_back(x);  // duplicates
    }
    std::vector<HierStoreWrite> a = w, b = w;
    std::shuffle(b.begin(), b.end(), g.rng());
    hier_store_order_writes(a.data(), a.size());
    hier_store_order_writes(b.data(), b.size());
    const auto bits = [](double v) {
        std::uint64_t u;
        std::memcpy(&u, &v, sizeof u);
        return u;
    };
    std::size_t first_insert = a.size();
    std::multiset<std::tuple<bool, std::int64_t, std::uint64_t, std::uint64_t>> in, out;
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].insert, b[i].insert);
        EXPECT_EQ(a[i].id, b[i].id);
        EXPECT_EQ(bits(a[i].lat), bits(b[i].lat));
        EXPECT_EQ(bits(a[i].lon), bits(b[i].lon));
        if (a[i].insert && first_insert == a.size()) first_insert = i;
        if (!a[i].insert) {
            EXPECT_LT(i, first_insert) << "an erase after an insert";
        }
        in.emplace(w[i].insert, w[i].id, bits(w[i].lat), bits(w[i].lon));
        out.emplace(a[i].insert, a[i].id, bits(a[i].lat), bits(a[i].lon));
    }
    EXPECT_EQ(in, out);  // a permutation
    // neighbours on the curve are near: the mean step between consecutive valid inserts is far
    // below a random order's (about 100 degrees)
    double step = 0;
    std::size_t steps = 0;
    for (std::size_t i = first_insert + 1; i < a.size(); ++i) {
        const HierStoreWrite &p = a[i - 1], &q = a[i];
        if (!(std::fabs(p.lat) <= 90 && std::fabs(q.lat) <= 90)) continue;
        step += std::fabs(p.lat - q.lat) + std::fabs(p.lon - q.lon);
        ++steps;
    }
    EXPECT_LT(step / static_cast<double>(steps), 10.0);
}

}  // namespace
}  // namespace geocluster
