// A prototype of the cluster hierarchy's clustering by a cell-order sweep (greedy_floor.cpp's
// --index sweep --separate 1) that keeps the hierarchy's guarantees (src/core/hierarchy.hpp):
// conservation, separation across the antimeridian with the engine's reach, nesting with parent
// links, exact centres and bounds from the core's own items, and the same output for any input
// order. What it costs against the engine's clustering: the question of
// bench/results/2026-12-06-hierarchy-sweep-prototype.md. Nothing is stored or packed.
//
//   g++ -std=c++17 -O2 -ffp-contract=off -DNDEBUG -Isrc/core -Ibench/micro src/core/*.cpp
//       bench/micro/sweep_hierarchy.cpp -o bench/build/sweep_hierarchy           (one command)
//   bench/build/sweep_hierarchy [--check 1] [--max-zoom 16] [--radius 60] < markers.txt
//       (markers_gen's rows, as hierarchy_bench; ids must be unique, as a primary key's)
//
// The build. Every marker is an item of its own (hier_item_of_marker: exact fixed-point sums and
// bounds, as its bin holds it in the engine). Per zoom z from max_zoom down to 0, the items (at
// max_zoom the markers, below it zoom z + 1's clusters, each taken whole) are sorted by their
// centre's cell, row by row, cells a power of two of fixed units at least the engine's query
// reach wide (radius_px + 64 fixed units, and a little for rounding: cluster_internal.hpp), ties
// by the item's smallest id (the core's radix sort, ZoomOrder below); then passes: in that order,
// each item not yet taken takes every item not yet taken whose centre lies within the reach of its
// own (the engine's test: x across the antimeridian too), its sums grow by theirs (item_add) and
// its centre is made again (centre_of). Passes repeat until one takes nothing, so no two centres of
// the zoom are left within reach. After the first pass only an item that took something ("dirty")
// can be within reach of another (two clean items were both seeds that took nothing), so a clean
// item looks only at the dirty ones, and the next pass's order is the clean items' (still sorted)
// merged with the dirty ones sorted anew. The clusters of the zoom are the last pass's items,
// numbered in its order; each zoom z + 1 cluster's parent is the item that took it, followed
// through the passes.
//
// Prints per zoom the clusters, the passes and the CPU seconds (of which the zoom's first order,
// with at max_zoom the items made, and its first pass), then the total CPU seconds of the
// clustering (input parse excluded) with, apart, the part spent making the nodes the streamed
// create would keep (each cluster with two children or more, or of two markers or more at
// max_zoom, as an output row, and each single-marker leaf's centre: the engine's level hook and
// single_markers do the same), and the peak RSS.
//
// --check 1 then checks the result against independent computations (the guarantees' numbers as
// in hierarchy.hpp): 1 and 3 by counting the markers under every cluster through the parent
// links; 2 by a grid scan of every zoom's output centres over all pairs within radius_px, in long
// double world pixels, x wrapped; 4 by the members' mean position and box, from their lat/lon in
// long double, against each cluster's output row (1e-9 degrees for the centre, bounds and id
// exactly); 5 by building again from the markers shuffled and comparing a hash of every zoom's
// rows, parents and every marker's leaf.
#include "cluster_finalize_internal.hpp"
#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy.hpp"
#include "hierarchy_levels.hpp"
#include "mercator.hpp"
#include "radix_sort.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <malloc.h>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "cell_sweep.hpp"

namespace {

using geocluster::Cluster;
using geocluster::HierMarker;
using geocluster::cluster_internal::Item;
using geocluster::cluster_internal::kFixedBits;
using geocluster::cluster_internal::kFixedOneD;
using geocluster::cluster_internal::kMaxReachFixed;
using geocluster::cluster_internal::kSlackFixed;
using geocluster::cluster_internal::finalize::Centre;
using geocluster::cluster_internal::finalize::centre_of;
using geocluster_bench::cpu_seconds_of;
using geocluster_bench::fnv_bytes;
using geocluster_bench::sweep_key;
using geocluster_bench::SweepCursors;

double cpu_now() { return cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID); }

// The reach of a zoom and its cells: the engine's numbers (cluster.cpp init_params, and its
// finaliser's query width), cells 2^shift fixed units, columns and rows 0 .. cells - 1.
struct Geometry {
    double reach2;
    int shift;
    std::uint64_t cells;
};

Geometry geometry_of(double radius_px, int zoom) {
    const double rf = std::ldexp(radius_px, kFixedBits - 8 - zoom) + kSlackFixed;
    const double reach = rf < kMaxReachFixed ? rf : kMaxReachFixed;
    const double query = reach + reach * (1.0 / 1048576.0) + 1.0;
    int shift = 0;
    while (shift < kFixedBits && std::ldexp(1.0, shift) < query) ++shift;
    return Geometry{reach * reach, shift, std::uint64_t{1} << (kFixedBits - shift)};
}

// The cell of a centre: of its x and y rounded down (within 1 of the exact centre's, which the
// query's + 1 absorbs), x = 1 (lon 180) and y = 1 in the last column and row.
std::uint64_t key_of(double x, double y, const Geometry& g) {
    const std::uint64_t col = std::min(static_cast<std::uint64_t>(x) >> g.shift, g.cells - 1);
    const std::uint64_t row = std::min(static_cast<std::uint64_t>(y) >> g.shift, g.cells - 1);
    return sweep_key(row, col);
}

// The engine's "within reach" (cluster_finalize_internal.hpp Finalizer::within).
bool within(double ax, double ay, double bx, double by, double reach2) {
    double dx = std::fabs(ax - bx);
    if (dx > 0.5 * kFixedOneD) dx = kFixedOneD - dx;  // across the antimeridian
    const double dy = ay - by;
    return dx * dx + dy * dy < reach2;
}

// The 3x3 cells around key q, and across the antimeridian those of the column at the other edge
// (found by binary search: only the two edge columns need it).
template <typename F>
void visit_around(SweepCursors& cursors, const std::uint64_t* key, std::size_t n, std::uint64_t q,
                  const Geometry& g, F&& f) {
    cursors.visit(key, n, q, f);
    if (g.cells < 3) return;  // every column is already a neighbour
    const std::uint64_t col = (q & 0xFFFFFFFFu) - 1, row = (q >> 32) - 1;
    std::uint64_t other;
    if (col == 0) {
        other = g.cells - 1;
    } else if (col == g.cells - 1) {
        other = 0;
    } else {
        return;
    }
    for (std::uint64_t r = row == 0 ? 0 : row - 1; r <= row + 1 && r < g.cells; ++r) {
        const std::uint64_t k = sweep_key(r, other);
        for (const std::uint64_t* p = std::lower_bound(key, key + n, k); p != key + n && *p == k;
             ++p)
            f(static_cast<std::size_t>(p - key));
    }
}

// A zoom's live items in their sweep order (struct of arrays: the passes read keys and centres).
struct Live {
    std::vector<std::uint64_t> key;
    std::vector<double> x, y;
    std::vector<std::int64_t> id;     // the item's smallest id: the tie-break of the order
    std::vector<std::uint32_t> slot;  // the item in the items array
    std::size_t size() const { return key.size(); }
    void resize(std::size_t n) {
        key.resize(n), x.resize(n), y.resize(n), id.resize(n), slot.resize(n);
    }
};

struct Entry {  // a sort entry: (key, id) is unique, so the order is the items' contents'
    std::uint64_t key;
    std::int64_t id;
    double x, y;
    std::uint32_t slot;
};
bool entry_less(const Entry& a, const Entry& b) {
    return a.key != b.key ? a.key < b.key : a.id < b.id;
}

struct ZoomStats {
    std::size_t clusters = 0;
    int passes = 0;
    double cpu_s = 0;
    double order_cpu_s = 0;  // of which the zoom's first order (and at max_zoom the items)
    double first_pass_cpu_s = 0;
};

// One pass over in (dirty[i]: item i took something in the previous pass, all 1 in a zoom's
// first); out gets the items after it in the next pass's order, dirty_out theirs. Returns the
// items taken.
// A pass's scratch, kept from pass to pass (fresh vectors each pass cost page faults).
struct PassScratch {
    std::vector<std::uint32_t> dpos;  // the dirty items' positions, ascending, and their keys
    std::vector<std::uint64_t> dkey;
    std::vector<std::uint8_t> taken;
    std::vector<std::uint32_t> near;
    std::vector<std::uint32_t> stay;  // positions of the items that took nothing, in order
    std::vector<Entry> moved;         // the ones that took something, at their new centres
};

std::size_t sweep_pass(const Live& in, const std::vector<std::uint8_t>& dirty, bool all_dirty,
                       Item* items, std::uint32_t* into, const Geometry& g, PassScratch& sc,
                       Live& out, std::vector<std::uint8_t>& dirty_out) {
    const std::size_t n = in.size();
    std::vector<std::uint32_t>& dpos = sc.dpos;
    std::vector<std::uint64_t>& dkey = sc.dkey;
    dpos.clear(), dkey.clear();
    if (!all_dirty) {
        for (std::size_t i = 0; i < n; ++i)
            if (dirty[i]) dpos.push_back(static_cast<std::uint32_t>(i)), dkey.push_back(in.key[i]);
    }
    std::vector<std::uint8_t>& taken = sc.taken;
    taken.assign(n, 0);
    std::vector<std::uint32_t>& near = sc.near;
    std::vector<std::uint32_t>& stay = sc.stay;
    std::vector<Entry>& moved = sc.moved;
    stay.clear(), moved.clear();
    SweepCursors all_cursors, dirty_cursors;
    std::size_t n_taken = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (taken[i]) continue;
        taken[i] = 1;
        near.clear();
        const double xi = in.x[i], yi = in.y[i];
        if (all_dirty || dirty[i]) {
            visit_around(all_cursors, in.key.data(), n, in.key[i], g, [&](std::size_t k) {
                if (!taken[k] && within(xi, yi, in.x[k], in.y[k], g.reach2))
                    near.push_back(static_cast<std::uint32_t>(k));
            });
        } else {  // clean: only a dirty item can be within reach
            visit_around(dirty_cursors, dkey.data(), dkey.size(), in.key[i], g, [&](std::size_t j) {
                const std::uint32_t k = dpos[j];
                if (!taken[k] && within(xi, yi, in.x[k], in.y[k], g.reach2)) near.push_back(k);
            });
        }
        if (near.empty()) {
            stay.push_back(static_cast<std::uint32_t>(i));
            continue;
        }
        const std::uint32_t s = in.slot[i];
        for (std::uint32_t k : near) {
            taken[k] = 1;
            geocluster::cluster_internal::item_add(items[s], items[in.slot[k]]);
            into[in.slot[k]] = s;
        }
        n_taken += near.size();
        Centre c;
        centre_of(items[s], &c);
        moved.push_back(Entry{key_of(c.x, c.y, g), items[s].min_id, c.x, c.y, s});
    }
    std::sort(moved.begin(), moved.end(), entry_less);
    out.resize(stay.size() + moved.size());
    dirty_out.assign(out.size(), 0);
    std::size_t a = 0, b = 0;
    for (std::size_t o = 0; o < out.size(); ++o) {
        const bool take_moved =
            a == stay.size() ||
            (b < moved.size() && (moved[b].key != in.key[stay[a]] ? moved[b].key < in.key[stay[a]]
                                                                  : moved[b].id < in.id[stay[a]]));
        if (take_moved) {
            const Entry& e = moved[b++];
            out.key[o] = e.key, out.x[o] = e.x, out.y[o] = e.y, out.id[o] = e.id,
            out.slot[o] = e.slot;
            dirty_out[o] = 1;
        } else {
            const std::uint32_t i = stay[a++];
            out.key[o] = in.key[i], out.x[o] = in.x[i], out.y[o] = in.y[i], out.id[o] = in.id[i],
            out.slot[o] = in.slot[i];
        }
    }
    return n_taken;
}

std::uint32_t find_root(std::uint32_t* into, std::uint32_t s) {
    std::uint32_t r = s;
    while (into[r] != r) r = into[r];
    while (into[s] != r) {
        const std::uint32_t next = into[s];
        into[s] = r;
        s = next;
    }
    return r;
}

// What a zoom hands on: its clusters (items by slot, in ordinal order) and the parent (an
// ordinal of this zoom) of each cluster of zoom + 1, or of each marker at max_zoom.
struct LevelSink {
    virtual ~LevelSink() = default;
    virtual void level(int zoom, const Item* items, const std::vector<std::uint32_t>& slots,
                       const std::vector<std::uint32_t>& parent_of_finer) = 0;
};

// The nodes the streamed create keeps of a zoom (hierarchy_stream.cpp level_runs): an output row
// for every cluster that is not its only child's cluster again; and at max_zoom the centre of
// every single-marker leaf (its single_markers), which packing needs too. Both are part of the
// engine's "clustering" time in hierarchy_bench, so they are part of this one.
struct NodeSink : LevelSink {
    std::vector<Cluster> multi;
    std::vector<std::pair<double, double>> single_centre;  // lat, lon
    std::vector<std::uint32_t> children;
    double cpu_s = 0;
    int max_zoom = 0;
    void level(int zoom, const Item* items, const std::vector<std::uint32_t>& slots,
               const std::vector<std::uint32_t>& parent_of_finer) override {
        const double c0 = cpu_now();
        children.assign(slots.size(), 0);
        if (zoom < max_zoom)
            for (std::uint32_t p : parent_of_finer)
                if (p < children.size()) ++children[p];  // (out of range: --check says so)
        for (std::size_t k = 0; k < slots.size(); ++k) {
            const Item& it = items[slots[k]];
            if (zoom == max_zoom ? it.count > 1 : children[k] > 1) {
                Cluster c;
                geocluster::cluster_internal::cluster_of_item(it, &c);
                multi.push_back(c);
            } else if (zoom == max_zoom) {
                Cluster c;
                geocluster::cluster_internal::cluster_of_item(it, &c);
                single_centre.emplace_back(c.lat, c.lon);
            }
        }
        cpu_s += cpu_now() - c0;
    }
};

// Everything --check needs: every zoom's rows in ordinal order and parents.
struct RecordSink : LevelSink {
    std::vector<std::vector<Cluster>> rows;          // by zoom
    std::vector<std::vector<std::uint32_t>> parent;  // by zoom: of zoom + 1's clusters
    std::vector<std::uint32_t> leaf_of_marker;       // by input position
    double cpu_s = 0;
    int max_zoom = 0;
    void level(int zoom, const Item* items, const std::vector<std::uint32_t>& slots,
               const std::vector<std::uint32_t>& parent_of_finer) override {
        const double c0 = cpu_now();
        if (rows.empty()) rows.resize(max_zoom + 1), parent.resize(max_zoom + 1);
        rows[zoom].resize(slots.size());
        for (std::size_t k = 0; k < slots.size(); ++k)
            geocluster::cluster_internal::cluster_of_item(items[slots[k]], &rows[zoom][k]);
        if (zoom == max_zoom)
            leaf_of_marker = parent_of_finer;
        else
            parent[zoom] = parent_of_finer;
        cpu_s += cpu_now() - c0;
    }
};

struct Options {
    int max_zoom = 16;
    double radius = 60;
    bool check = false;
};

// A zoom's first order: by cell, ties by id. A radix sort (the core's) of the cells' bits with
// each item's position below them gives the cells' order (ties by position); the caller gathers
// its arrays in that order, where each run of one cell (a few items) lies together, and then
// sorts the runs by id (sort_runs_by_id): the ids are read in order, not looked up at random.
// A comparison sort by (cell, id) when cell and position do not fit 64 bits.
struct ZoomOrder {
    std::vector<std::uint32_t> at;   // the items' positions in order
    std::vector<std::uint64_t> key;  // and their sweep keys
    std::vector<std::uint64_t> packed, tmp;

    template <typename X, typename Y, typename Id>
    void sort(std::size_t n, const Geometry& g, X x, Y y, Id id) {
        int pos_bits = 1;
        while ((std::size_t{1} << pos_bits) < n) ++pos_bits;
        const int cell_bits = kFixedBits - g.shift;  // of a column, and of a row
        at.resize(n), key.resize(n);
        if (pos_bits + 2 * cell_bits <= 64) {
            packed.resize(n), tmp.resize(n);
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint64_t k = key_of(x(i), y(i), g);
                const std::uint64_t row = (k >> 32) - 1, col = (k & 0xFFFFFFFFu) - 1;
                packed[i] = ((row << cell_bits | col) << pos_bits) | i;
            }
            geocluster::cluster_internal::Poller poll(geocluster::CancelCheck{nullptr, nullptr});
            const std::uint64_t* sorted = geocluster::cluster_internal::radix_sort(
                packed.data(), tmp.data(), static_cast<std::uint32_t>(n), pos_bits,
                pos_bits + 2 * cell_bits, poll);
            const std::uint64_t pos_mask = (std::uint64_t{1} << pos_bits) - 1;
            const std::uint64_t col_mask = (std::uint64_t{1} << cell_bits) - 1;
            for (std::size_t p = 0; p < n; ++p) {
                const std::uint64_t cell = sorted[p] >> pos_bits;
                at[p] = static_cast<std::uint32_t>(sorted[p] & pos_mask);
                key[p] = sweep_key(cell >> cell_bits, cell & col_mask);
            }
            return;
        }
        std::vector<Entry> entries(n);
        for (std::size_t i = 0; i < n; ++i)
            entries[i] = Entry{key_of(x(i), y(i), g), id(i), 0, 0, static_cast<std::uint32_t>(i)};
        std::sort(entries.begin(), entries.end(), entry_less);
        for (std::size_t p = 0; p < n; ++p) at[p] = entries[p].slot, key[p] = entries[p].key;
    }
};

// Each run of one key in live sorted by id; move(p, q) is told that the entry at p moved to q
// within the run (through a buffer: for the arrays beside live, the items at max_zoom).
template <typename Begin, typename Move, typename End>
void sort_runs_by_id(Live& live, Begin begin, Move move, End end) {
    const std::size_t n = live.size();
    std::vector<std::pair<std::int64_t, std::uint32_t>> run;
    Live saved;
    for (std::size_t p = 0; p < n;) {
        std::size_t e = p + 1;
        bool sorted = true;
        while (e < n && live.key[e] == live.key[p]) sorted &= live.id[e - 1] < live.id[e], ++e;
        if (!sorted) {
            run.clear();
            for (std::size_t q = p; q < e; ++q)
                run.emplace_back(live.id[q], static_cast<std::uint32_t>(q));
            std::sort(run.begin(), run.end());
            const std::size_t len = e - p;
            saved.resize(len);
            for (std::size_t q = 0; q < len; ++q)
                saved.x[q] = live.x[p + q], saved.y[q] = live.y[p + q],
                saved.id[q] = live.id[p + q], saved.slot[q] = live.slot[p + q];
            begin(p, e);
            for (std::size_t q = 0; q < len; ++q) {
                const std::size_t from = run[q].second - p;
                live.x[p + q] = saved.x[from], live.y[p + q] = saved.y[from],
                           live.id[p + q] = saved.id[from], live.slot[p + q] = saved.slot[from];
                move(run[q].second, p + q);
            }
            end();
        }
        p = e;
    }
}

// The build: sinks get every zoom, max_zoom first. Returns the clustering's CPU seconds.
double build(const std::vector<HierMarker>& markers, const Options& o,
             const std::vector<LevelSink*>& sinks, std::vector<ZoomStats>& stats) {
    const double cpu0 = cpu_now();
    const std::size_t n = markers.size();
    stats.assign(o.max_zoom + 1, ZoomStats{});
    std::vector<Item> items(n);
    std::vector<std::uint32_t> into(n), ordinal(n);
    std::vector<std::uint32_t> slot_of_marker(n);
    Live live, next;
    std::vector<std::uint8_t> dirty, dirty_next;
    std::vector<std::uint32_t> slots, parent;
    PassScratch scratch;
    ZoomOrder order;
    for (int z = o.max_zoom; z >= 0; --z) {
        const double c0 = cpu_now();
        const Geometry g = geometry_of(o.radius, z);
        if (z == o.max_zoom) {  // the markers, sorted, become the items in that order
            order.sort(
                n, g,
                [&](std::size_t i) {
                    return static_cast<double>(
                        geocluster::cluster_internal::fixed_x_of_lon(markers[i].lon + 0.0));
                },
                [&](std::size_t i) {
                    return static_cast<double>(
                        geocluster::cluster_internal::fixed_y_of_lat(markers[i].lat + 0.0));
                },
                [&](std::size_t i) { return markers[i].id; });
            live.resize(n);
            for (std::size_t p = 0; p < n; ++p) {
                const std::uint32_t m = order.at[p];
                if (p + 16 < n) __builtin_prefetch(&markers[order.at[p + 16]]);  // a random read
                items[p] = geocluster::hier_item_of_marker(markers[m]);
                Centre c;
                centre_of(items[p], &c);
                live.key[p] = order.key[p], live.x[p] = c.x, live.y[p] = c.y,
                live.id[p] = markers[m].id, live.slot[p] = m;  // the marker, for now
            }
            std::vector<Item> run_items;  // a run's items, while they move within it
            std::size_t run_first = 0;
            sort_runs_by_id(
                live,
                [&](std::size_t p, std::size_t e) {
                    run_first = p;
                    run_items.assign(items.begin() + static_cast<std::ptrdiff_t>(p),
                                     items.begin() + static_cast<std::ptrdiff_t>(e));
                },
                [&](std::size_t from, std::size_t to) { items[to] = run_items[from - run_first]; },
                [] {});
            for (std::size_t p = 0; p < n; ++p) {
                slot_of_marker[live.slot[p]] = static_cast<std::uint32_t>(p);
                live.slot[p] = static_cast<std::uint32_t>(p);
            }
        } else {  // zoom z + 1's clusters at zoom z's cells
            order.sort(
                live.size(), g, [&](std::size_t i) { return live.x[i]; },
                [&](std::size_t i) { return live.y[i]; },
                [&](std::size_t i) { return live.id[i]; });
            next.resize(live.size());
            for (std::size_t p = 0; p < live.size(); ++p) {
                const std::uint32_t i = order.at[p];
                next.key[p] = order.key[p], next.x[p] = live.x[i], next.y[p] = live.y[i],
                next.id[p] = live.id[i], next.slot[p] = live.slot[i];
            }
            std::swap(live, next);
            sort_runs_by_id(
                live, [](std::size_t, std::size_t) {}, [](std::size_t, std::size_t) {}, [] {});
        }
        for (std::size_t i = 0; i < live.size(); ++i) into[live.slot[i]] = live.slot[i];
        stats[z].order_cpu_s = cpu_now() - c0;
        const std::vector<std::uint32_t> finer =
            z == o.max_zoom ? std::vector<std::uint32_t>{} : slots;  // zoom z + 1's, by ordinal
        bool first = true;
        for (;;) {
            const std::size_t taken = sweep_pass(live, dirty, first, items.data(), into.data(), g,
                                                 scratch, next, dirty_next);
            if (++stats[z].passes == 1)
                stats[z].first_pass_cpu_s = cpu_now() - c0 - stats[z].order_cpu_s;
            std::swap(live, next);
            std::swap(dirty, dirty_next);
            first = false;
            if (taken == 0) break;
        }
        slots = live.slot;
        for (std::size_t k = 0; k < slots.size(); ++k)
            ordinal[slots[k]] = static_cast<std::uint32_t>(k);
        if (z == o.max_zoom) {
            parent.resize(n);
            for (std::size_t m = 0; m < n; ++m)
                parent[m] = ordinal[find_root(into.data(), slot_of_marker[m])];
        } else {
            parent.resize(finer.size());
            for (std::size_t j = 0; j < finer.size(); ++j)
                parent[j] = ordinal[find_root(into.data(), finer[j])];
        }
        stats[z].clusters = slots.size();
        stats[z].cpu_s = cpu_now() - c0;
        for (LevelSink* s : sinks) s->level(z, items.data(), slots, parent);
    }
    return cpu_now() - cpu0;
}

// ---- --check: independent computations ---------------------------------------------------

long double unit_y_ld(double lat) {  // Web Mercator y in long double, clamped as the engine
    const long double l =
        std::max(-85.05112878L, std::min(85.05112878L, static_cast<long double>(lat)));
    const long double s = std::sin(l * geocluster::kPiL / 180.0L);
    const long double y = 0.5L - std::log((1.0L + s) / (1.0L - s)) / (4.0L * geocluster::kPiL);
    return std::max(0.0L, std::min(1.0L, y));
}

struct Acc {  // a cluster's members, summed in long double
    std::uint64_t count = 0, count_w = 0;
    long double sx = 0, sy = 0;
    double min_lat = INFINITY, max_lat = -INFINITY;
    double min_e = INFINITY, max_e = -INFINITY, min_w = INFINITY, max_w = -INFINITY;
    std::int64_t min_id = INT64_MAX;
};

int check_result(const std::vector<HierMarker>& markers, const RecordSink& rec, const Options& o) {
    const std::size_t n = markers.size();
    int failures = 0;
    auto fail = [&failures](const char* what, int z, std::size_t k) {
        if (failures++ < 10) std::printf("  FAIL %s at zoom %d, cluster %zu\n", what, z, k);
    };
    std::vector<std::uint32_t> cluster_of(rec.leaf_of_marker);  // each marker's cluster at zoom z
    std::size_t sep_pairs_tested = 0;
    double worst_centre_deg = 0;
    for (int z = o.max_zoom; z >= 0; --z) {
        const std::vector<Cluster>& rows = rec.rows[z];
        const std::size_t nz = rows.size();
        if (z < o.max_zoom) {  // nesting: parents exist, every cluster has a child
            const std::vector<std::uint32_t>& par = rec.parent[z];
            std::vector<std::uint64_t> child_count(nz, 0), child_sum(nz, 0);
            const std::vector<Cluster>& finer = rec.rows[z + 1];
            if (par.size() != finer.size()) fail("parent array size", z, 0);
            for (std::size_t j = 0; j < par.size(); ++j) {
                if (par[j] >= nz) {
                    fail("parent out of range", z, j);
                    continue;
                }
                ++child_count[par[j]];
                child_sum[par[j]] += static_cast<std::uint64_t>(finer[j].count);
            }
            for (std::size_t k = 0; k < nz; ++k) {
                if (child_count[k] == 0) fail("childless cluster", z, k);
                if (child_sum[k] != static_cast<std::uint64_t>(rows[k].count))
                    fail("count != children's counts", z, k);
            }
            for (std::uint32_t& c : cluster_of) c = c < par.size() ? par[c] : UINT32_MAX;
        }
        // Conservation, centre, bounds, id: from the members.
        std::vector<Acc> acc(nz);
        for (std::size_t m = 0; m < n; ++m) {
            if (cluster_of[m] >= nz) {
                fail("marker's cluster out of range", z, m);
                continue;
            }
            Acc& a = acc[cluster_of[m]];
            const HierMarker& mk = markers[m];
            const double lon = mk.lon + 0.0, lat = mk.lat + 0.0;
            ++a.count;
            a.sx += (static_cast<long double>(lon) + 180.0L) / 360.0L;
            a.sy += unit_y_ld(lat);
            a.min_lat = std::min(a.min_lat, lat), a.max_lat = std::max(a.max_lat, lat);
            if (lon < 0) {
                ++a.count_w;
                a.min_w = std::min(a.min_w, lon), a.max_w = std::max(a.max_w, lon);
            } else {
                a.min_e = std::min(a.min_e, lon), a.max_e = std::max(a.max_e, lon);
            }
            a.min_id = std::min(a.min_id, mk.id);
        }
        std::uint64_t total = 0;
        for (std::size_t k = 0; k < nz; ++k) {
            const Acc& a = acc[k];
            const Cluster& c = rows[k];
            total += a.count;
            if (a.count == 0 || a.count != static_cast<std::uint64_t>(c.count)) {
                fail("count != members", z, k);
                continue;
            }
            // Bounds: the ordinary box, or the one across 180 when members lie on both sides
            // and it is strictly shorter (cluster.hpp contract 3).
            const bool both = a.count_w > 0 && a.count_w < a.count;
            const bool crossing = both && 360.0 - (a.min_e - a.max_w) < a.max_e - a.min_w;
            const double min_lon = crossing ? a.min_e : (a.count_w > 0 ? a.min_w : a.min_e);
            const double max_lon = crossing ? a.max_w : (a.count_w < a.count ? a.max_e : a.max_w);
            if (c.min_lat != a.min_lat || c.max_lat != a.max_lat || c.min_lon != min_lon ||
                c.max_lon != max_lon)
                fail("bounds", z, k);
            if (!c.has_id || c.id != a.min_id) fail("id", z, k);
            long double ux = (a.sx + (crossing ? static_cast<long double>(a.count_w) : 0.0L)) /
                             static_cast<long double>(a.count);
            if (ux > 1.0L) ux -= 1.0L;
            const long double uy = a.sy / static_cast<long double>(a.count);
            const long double lon_c = ux * 360.0L - 180.0L;
            const long double lat_c = std::atan(std::sinh(geocluster::kPiL * (1.0L - 2.0L * uy))) *
                                      (180.0L / geocluster::kPiL);
            long double dlon = std::fabs(lon_c - static_cast<long double>(c.lon));
            dlon = std::min(dlon, 360.0L - dlon);
            const long double dlat = std::fabs(lat_c - static_cast<long double>(c.lat));
            worst_centre_deg =
                std::max(worst_centre_deg, static_cast<double>(std::max(dlon, dlat)));
            if (dlon > 1e-9L || dlat > 1e-9L) fail("centre", z, k);
        }
        if (total != n) fail("markers conserved", z, 0);
        // Separation: every pair of centres within radius_px, by a grid of cells >= radius_px
        // (a whole number of them across the world, so x wraps cell to cell).
        const long double w = std::ldexp(256.0L, z);
        const long double r = o.radius;
        const std::uint64_t cells = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(w / r));
        const long double side = w / static_cast<long double>(cells);
        struct P {
            std::uint64_t cell;
            long double x, y;
        };
        std::vector<P> pts(nz);
        for (std::size_t k = 0; k < nz; ++k) {
            const long double x = (static_cast<long double>(rows[k].lon) + 180.0L) / 360.0L * w;
            const long double y = unit_y_ld(rows[k].lat) * w;
            const std::uint64_t cx = std::min(cells - 1, static_cast<std::uint64_t>(x / side));
            const std::uint64_t cy = std::min(cells - 1, static_cast<std::uint64_t>(y / side));
            pts[k] = P{cy * cells + cx, x, y};
        }
        std::sort(pts.begin(), pts.end(), [](const P& a, const P& b) { return a.cell < b.cell; });
        auto range_of = [&pts](std::uint64_t cell) {
            const auto lo =
                std::lower_bound(pts.begin(), pts.end(), cell,
                                 [](const P& p, std::uint64_t c) { return p.cell < c; });
            auto hi = lo;
            while (hi != pts.end() && hi->cell == cell) ++hi;
            return std::make_pair(lo, hi);
        };
        std::size_t close = 0;
        for (std::size_t i = 0; i < nz; ++i) {
            const std::uint64_t cx = pts[i].cell % cells, cy = pts[i].cell / cells;
            std::uint64_t cols[3] = {(cx + cells - 1) % cells, cx, (cx + 1) % cells};
            const int n_cols = cells >= 3 ? 3 : static_cast<int>(cells);
            if (cells < 3) cols[0] = 0, cols[1] = 1;
            for (std::uint64_t ry = cy == 0 ? 0 : cy - 1; ry <= cy + 1 && ry < cells; ++ry)
                for (int ci = 0; ci < n_cols; ++ci) {
                    const auto rg = range_of(ry * cells + cols[ci]);
                    for (auto p = rg.first; p != rg.second; ++p) {
                        if (static_cast<std::size_t>(p - pts.begin()) == i) continue;
                        long double dx = std::fabs(p->x - pts[i].x);
                        dx = std::min(dx, w - dx);
                        const long double dy = p->y - pts[i].y;
                        ++sep_pairs_tested;
                        if (dx * dx + dy * dy < r * r) ++close;
                    }
                }
        }
        if (close > 0) {
            std::printf("  zoom %d: %zu ordered pairs of centres closer than %g px\n", z, close,
                        o.radius);
            fail("separation", z, 0);
        }
    }
    std::printf(
        "check: %s (conservation, separation: %zu pairs within a cell's reach tested, "
        "nesting, centres within %.2g degrees of the members' long double mean, bounds "
        "and ids exact)\n",
        failures == 0 ? "all guarantees hold" : "FAILED", sep_pairs_tested, worst_centre_deg);
    return failures;
}

// Every zoom's rows and parents in order, and every marker's leaf by its id: the same result
// gives the same hash whatever the markers' order.
std::uint64_t hash_result(const std::vector<HierMarker>& markers, const RecordSink& rec) {
    std::uint64_t h = geocluster_bench::kFnvStart;
    for (std::size_t z = 0; z < rec.rows.size(); ++z) {
        for (const Cluster& c : rec.rows[z]) {
            h = fnv_bytes(h, &c.count, sizeof c.count);
            const double d[6] = {c.lat, c.lon, c.min_lat, c.min_lon, c.max_lat, c.max_lon};
            h = fnv_bytes(h, d, sizeof d);
            h = fnv_bytes(h, &c.id, sizeof c.id);
        }
        for (std::uint32_t p : rec.parent[z]) h = fnv_bytes(h, &p, sizeof p);
    }
    std::vector<std::pair<std::int64_t, std::uint32_t>> leaf(markers.size());
    for (std::size_t m = 0; m < markers.size(); ++m)
        leaf[m] = {markers[m].id, rec.leaf_of_marker[m]};
    std::sort(leaf.begin(), leaf.end());
    for (const auto& l : leaf) h = fnv_bytes(fnv_bytes(h, &l.first, 8), &l.second, 4);
    return h;
}

}  // namespace

int main(int argc, char** argv) {
    // Freed arrays stay in the heap for the next zoom's, as in a memory context, instead of going
    // back to the kernel and coming back as fresh pages to be zeroed (12% of the CPU at 10M).
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, -1);
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--max-zoom") {
            o.max_zoom = std::atoi(argv[i + 1]);
        } else if (a == "--radius") {
            o.radius = std::atof(argv[i + 1]);
        } else if (a == "--check") {
            o.check = std::atoi(argv[i + 1]) != 0;
        } else {
            std::fprintf(stderr, "sweep_hierarchy: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if ((argc - 1) % 2 != 0 || o.max_zoom < 0 || o.max_zoom > geocluster::kHierMaxZoom ||
        !(o.radius > 0) || !(o.radius <= 256)) {
        std::fprintf(stderr,
                     "usage: sweep_hierarchy [--check 0|1] [--max-zoom 16] [--radius 60] < "
                     "markers.txt\n");
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<HierMarker> markers = geocluster_bench::read_markers(stdin);
    std::printf("%zu markers read in %.3f s\n", markers.size(),
                geocluster_bench::seconds_since(t0));

    NodeSink nodes;
    nodes.max_zoom = o.max_zoom;
    RecordSink rec;
    rec.max_zoom = o.max_zoom;
    std::vector<LevelSink*> sinks{&nodes};
    if (o.check) sinks.push_back(&rec);
    std::vector<ZoomStats> stats;
    const auto wall0 = std::chrono::steady_clock::now();
    const double cpu = build(markers, o, sinks, stats) - rec.cpu_s;  // the check's records apart
    const double wall = geocluster_bench::seconds_since(wall0);
    std::printf("zoom clusters passes cpu_s order_cpu_s first_pass_cpu_s\n");
    int passes = 0;
    for (int z = o.max_zoom; z >= 0; --z) {
        std::printf("%2d %10zu %3d %7.3f %7.3f %7.3f\n", z, stats[z].clusters, stats[z].passes,
                    stats[z].cpu_s, stats[z].order_cpu_s, stats[z].first_pass_cpu_s);
        passes += stats[z].passes;
    }
    std::printf(
        "sweep hierarchy: cpu %.3f s (of which nodes %.3f s: %zu multi-child nodes, %zu single "
        "leaves' centres), wall %.3f s, %d passes, peak RSS %.0f MiB\n",
        cpu, nodes.cpu_s, nodes.multi.size(), nodes.single_centre.size(), wall, passes,
        geocluster_bench::peak_rss_mib());
    if (!o.check) return 0;

    const double c0 = cpu_now();
    const int failures = check_result(markers, rec, o);
    const std::uint64_t h1 = hash_result(markers, rec);
    std::mt19937_64 rng(7);
    std::shuffle(markers.begin(), markers.end(), rng);
    RecordSink rec2;
    rec2.max_zoom = o.max_zoom;
    std::vector<ZoomStats> stats2;
    build(markers, o, {&rec2}, stats2);
    const std::uint64_t h2 = hash_result(markers, rec2);
    std::printf("determinism: hash %016llx in input order, %016llx shuffled: %s\n",
                static_cast<unsigned long long>(h1), static_cast<unsigned long long>(h2),
                h1 == h2 ? "equal" : "DIFFERENT");
    std::printf("check cpu %.3f s (the build again included)\n", cpu_now() - c0);
    return failures == 0 && h1 == h2 ? 0 : 1;
}
