// Drift and cost of incremental hierarchy maintenance (src/core/hierarchy_update.hpp), without a
// server, on the SQL benchmark's dataset: markers_gen's rows on stdin (id, lat, lon read).
//
//   mkdir -p bench/build
//   g++ -std=c++17 -O2 -Wall -Wextra -ffp-contract=off bench/gen/markers_gen.cpp -o
//   bench/build/markers_gen g++ -std=c++17 -O2 -DNDEBUG -Isrc/core src/core/*.cpp
//   bench/micro/hierarchy_update_bench.cpp
//       -o bench/build/hierarchy_update_bench                            (one command)
//   bench/build/markers_gen --seed 1 --first 1 --last 2000000 |
//       bench/build/hierarchy_update_bench --markers 1000000 [--writes N] [--max-zoom 16] [--radius
//       60]
//
// The first --markers rows are built into a hierarchy; then --writes random writes (default as
// many as markers), a third each: inserts (positions from the rows after the first --markers,
// so they follow the dataset), moves (a live marker to one of those positions) and erases (a
// live marker), one apply per write. Reported: the time per write (mean, and p50/p99/max over
// the writes, CPU time of the thread), merges per write, clusters touched per write, then per zoom
// the clusters of the updated hierarchy against a fresh build of the same final markers, and both
// build times. With --bulk B, the --writes rows after the first --markers are inserted instead,
// in the stored writer's order, B at a time (bench/hierarchy/writes.py --copy-floors): only
// the CPU time of those inserts is reported.
#include "hierarchy.hpp"
#include "hierarchy_store.hpp"
#include "hierarchy_update.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "bench_common.hpp"

namespace {

using namespace geocluster;

using geocluster_bench::read_markers;
using geocluster_bench::seconds_since;

// CPU seconds of this thread: on a shared machine the wall clock of one short write mostly
// measures the scheduler (writes of 50 us took 4-20 ms whenever the process was preempted).
double cpu_seconds() { return geocluster_bench::cpu_seconds_of(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace

int main(int argc, char** argv) {
    int max_zoom = 16;
    double radius = 60;
    std::size_t n_markers = 1000000, n_writes = 0, bulk_batch = 0;
    // --max-zoom and --radius as hierarchy_bench.cpp reads them, and options of its own.
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--max-zoom")
            max_zoom = std::atoi(argv[i + 1]);
        else if (a == "--radius")
            radius = std::atof(argv[i + 1]);
        else if (a == "--markers")
            n_markers = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--writes")
            n_writes = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--bulk")
            bulk_batch = std::strtoull(argv[i + 1], nullptr, 10);
        else {
            std::fprintf(stderr,
                         "usage: hierarchy_update_bench [--markers N] [--writes N] "
                         "[--bulk BATCH] [--max-zoom Z] [--radius PX] < rows\n");
            return 2;
        }
    }
    if (n_writes == 0) n_writes = n_markers;
    const std::vector<HierMarker> rows = read_markers(stdin);
    if (rows.size() <= n_markers) {
        std::fprintf(stderr, "need more than --markers rows (the rest are insert positions)\n");
        return 2;
    }
    const std::vector<HierMarker> initial(rows.begin(),
                                          rows.begin() + static_cast<long>(n_markers));
    const std::size_t n_pool = rows.size() - n_markers;

    HierarchyUpdater u;
    if (u.init(radius, max_zoom) != Status::Ok) return 1;
    auto t0 = std::chrono::steady_clock::now();
    if (u.build(initial.data(), nullptr, initial.size()) != Status::Ok) return 1;
    const double load_s = seconds_since(t0);

    if (bulk_batch > 0) {
        // A bulk statement's floor: the next n_writes rows inserted, put in the stored writer's
        // order (hier_store_order_writes) and applied bulk_batch at a time, with the whole
        // hierarchy in memory: no storage, no SQL.
        const std::size_t n = std::min(n_writes, n_pool);
        std::vector<HierStoreWrite> order(n);
        for (std::size_t i = 0; i < n; ++i) {
            const HierMarker& m = rows[n_markers + i];
            order[i] = HierStoreWrite{true, m.id, m.lat, m.lon};
        }
        hier_store_order_writes(order.data(), n);
        std::vector<HierWrite> batch;
        const double c0 = cpu_seconds();
        for (std::size_t at = 0; at < n; at += bulk_batch) {
            batch.clear();
            for (std::size_t i = at; i < std::min(n, at + bulk_batch); ++i)
                batch.push_back(
                    HierWrite{HierWriteKind::Insert, order[i].id, order[i].lat, order[i].lon, 0});
            const Status s = u.apply(batch.data(), batch.size());
            if (s != Status::Ok) {
                std::fprintf(stderr, "batch at %zu failed: %s\n", at, status_name(s));
                return 1;
            }
        }
        const double cpu_s = cpu_seconds() - c0;
        std::printf(
            "markers %zu, max_zoom %d, radius %g px; build + load %.1f s; %zu inserts in "
            "batches of %zu: CPU %.2f s, %.2f us an insert\n",
            n_markers, max_zoom, radius, load_s, n, bulk_batch, cpu_s,
            cpu_s * 1e6 / static_cast<double>(n));
        return 0;
    }

    std::mt19937_64 rng(1);
    std::vector<std::int64_t> live;
    for (const HierMarker& m : initial) live.push_back(m.id);
    std::int64_t next_id = rows.back().id + 1;
    std::vector<double> op_us;
    op_us.reserve(n_writes);
    std::size_t n_ins = 0, n_mov = 0, n_del = 0;
    const HierUpdateStats s0 = u.stats();
    const auto tw = std::chrono::steady_clock::now();
    for (std::size_t w = 0; w < n_writes; ++w) {
        const HierMarker& pos = rows[n_markers + rng() % n_pool];
        const unsigned kind = static_cast<unsigned>(rng() % 3);
        Status s;
        const double t = cpu_seconds();
        if (kind == 0 || live.empty()) {
            s = u.insert(next_id, pos.lat, pos.lon);
            live.push_back(next_id++);
            ++n_ins;
        } else if (kind == 1) {
            s = u.move(live[rng() % live.size()], pos.lat, pos.lon);
            ++n_mov;
        } else {
            const std::size_t i = rng() % live.size();
            s = u.erase(live[i]);
            live[i] = live.back();
            live.pop_back();
            ++n_del;
        }
        op_us.push_back((cpu_seconds() - t) * 1e6);

        if (s != Status::Ok) {
            std::fprintf(stderr, "write %zu failed: %s\n", w, status_name(s));
            return 1;
        }
    }
    const double writes_s = seconds_since(tw);
    const HierUpdateStats s1 = u.stats();
    std::vector<double> sorted = op_us;
    std::sort(sorted.begin(), sorted.end());
    const auto pct = [&](double p) {
        return sorted[static_cast<std::size_t>(p * (sorted.size() - 1))];
    };

    std::vector<HierMarker> final_markers, unused;
    std::vector<HierNode> nodes;
    std::vector<std::int64_t> leaf;
    if (u.export_partition(0, &nodes, &final_markers, &leaf) != Status::Ok) return 1;
    HierarchyUpdater fresh;
    if (fresh.init(radius, max_zoom) != Status::Ok) return 1;
    t0 = std::chrono::steady_clock::now();
    if (fresh.build(final_markers.data(), nullptr, final_markers.size()) != Status::Ok) return 1;
    const double fresh_s = seconds_since(t0);

    std::printf(
        "markers %zu, max_zoom %d, radius %g px; %zu writes: %zu inserts, %zu moves, "
        "%zu erases; %zu markers at the end\n",
        n_markers, max_zoom, radius, n_writes, n_ins, n_mov, n_del, final_markers.size());
    std::printf("build + load %.1f s; fresh build + load of the final markers %.1f s\n", load_s,
                fresh_s);
    double cpu_sum = 0;
    for (const double x : op_us) cpu_sum += x;
    std::printf(
        "per write: wall %.1f us; CPU mean %.1f us, p50 %.1f us, p99 %.1f us, max %.0f us; "
        "%.3f merges, %.1f clusters touched\n",
        writes_s * 1e6 / static_cast<double>(n_writes), cpu_sum / static_cast<double>(n_writes),
        pct(0.5), pct(0.99), sorted.back(),
        static_cast<double>(s1.merges - s0.merges) / static_cast<double>(n_writes),
        static_cast<double>(s1.nodes_touched - s0.nodes_touched) / static_cast<double>(n_writes));
    const std::vector<std::size_t> a = u.nodes_per_zoom(0), b = fresh.nodes_per_zoom(0);
    std::printf("zoom  updated    fresh   updated/fresh\n");
    std::size_t sa = 0, sb = 0;
    for (int z = 0; z <= max_zoom; ++z) {
        const auto zu = static_cast<std::size_t>(z);
        sa += a[zu];
        sb += b[zu];
        std::printf("%4d %8zu %8zu   %.3f\n", z, a[zu], b[zu],
                    static_cast<double>(a[zu]) / static_cast<double>(b[zu]));
    }
    std::printf(" all %8zu %8zu   %.3f\n", sa, sb,
                static_cast<double>(sa) / static_cast<double>(sb));
    return 0;
}
