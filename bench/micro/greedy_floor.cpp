// The floor of a greedy clustering build: supercluster's algorithm (the JavaScript library the
// hierarchy's build goal is measured against), written in C++ from its description, without a
// server and without the hierarchy's guarantees (no separation between clusters unless
// --separate 1, nothing stored): how fast the cheapest build of the same zooms could be on this
// machine. Results: bench/results/2026-12-06-hierarchy-build-floor.md.
//
//   g++ -std=c++17 -O2 -ffp-contract=off -DNDEBUG -Isrc/core -Ibench/micro
//       bench/micro/greedy_floor.cpp -o bench/build/greedy_floor              (one command)
//   bench/build/greedy_floor [--index kd|grid|sweep|sort] [--order input|spatial]
//       [--separate 0|1] [--max-zoom 16] [--radius 60] [--extent 256]
//       < markers.txt                                  (markers_gen's rows, as hierarchy_bench)
//
// The algorithm: every marker becomes a point in [0,1] Web Mercator, stored as supercluster
// stores it (int32, (c - 0.5) * 2^30, truncated), weight 1. Then per zoom z from max_zoom down to
// 0: a spatial index over the current points, and one pass over them in their current order;
// each point not yet taken at this zoom takes every untaken point within r = radius / (extent *
// 2^z) (the distance test on the int32 coordinates, in double, as supercluster does); if that
// adds points (and reaches min_points, 2), they become one cluster at their weighted centre
// (truncated to int32), else the point passes through unchanged. The clusters and the points
// left alone, in the order their first point was met, are the next zoom's points. The result does
// not depend on the index (the neighbour sets are exact), so both indexes print the same counts:
//   kd:   a k-d tree sorted by median splits on alternating axes (64 points per leaf).
//   grid: a hash of r-sized cells (counting sort by bucket); a query reads the 3x3 cells.
// --order spatial runs the same rule over the points sorted by Morton code first: other clusters
// (the order decides which point takes which), but memory accesses that stay local.
// --index sweep: the same rule with the pass in cell order (sweep_zoom below: no index, the
// points sorted by cell per zoom, three cursors: cell_sweep.hpp). Other clusters, as --order
// spatial. With
// --separate 1 it repeats the pass at each zoom until a pass takes nothing, as the engine does for
// its separation guarantee (no two points of a zoom within r; not a copy of the engine's rules).
// --index sort only times the sorts a deterministic build needs (sort_floor below).
//
// Prints per zoom the points (clusters and lone points; supercluster's getClusters over the
// whole world at that zoom returns as many) and the CPU seconds of that zoom and of its indexing,
// then the total CPU and wall seconds of the clustering (the input parse and the hash excluded),
// the process's peak RSS and a hash of every zoom's points (equal for kd and grid).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "bench_common.hpp"
#include "cell_sweep.hpp"

namespace {

using geocluster_bench::cpu_seconds_of;
using geocluster_bench::read_markers;
using geocluster_bench::seconds_since;

constexpr double kScale = 1073741824.0;  // 2^30: [0,1] maps to [-2^29, 2^29]

// The current points of one zoom, in their order (struct of arrays: the index reads x and y).
struct Points {
    std::vector<std::int32_t> x, y, weight;
    std::size_t size() const { return x.size(); }
    void push(std::int32_t px, std::int32_t py, std::int32_t w) {
        x.push_back(px), y.push_back(py), weight.push_back(w);
    }
};

std::int32_t encode(double c) { return static_cast<std::int32_t>((c - 0.5) * kScale); }

double mercator_x(double lon) { return lon / 360.0 + 0.5; }

double mercator_y(double lat) {
    const double s = std::sin(lat * M_PI / 180.0);
    const double y = 0.5 - 0.25 * std::log((1.0 + s) / (1.0 - s)) / M_PI;
    return y < 0.0 ? 0.0 : (y > 1.0 ? 1.0 : y);
}

double sq_dist(std::int32_t ax, std::int32_t ay, std::int32_t bx, std::int32_t by) {
    const double dx = static_cast<double>(ax - bx);
    const double dy = static_cast<double>(ay - by);
    return dx * dx + dy * dy;
}

// k-d tree: points reordered so that each range's middle element splits it on one axis (x at
// even depths), leaves of kLeaf points scanned linearly.
class KdIndex {
  public:
    static constexpr std::size_t kLeaf = 64;

    void build(const Points& p) {
        const std::size_t n = p.size();
        items_.resize(n);
        for (std::size_t i = 0; i < n; ++i)
            items_[i] = Item{p.x[i], p.y[i], static_cast<std::uint32_t>(i)};
        split(0, n, 0);
    }

    // Appends to out the point indices within r (squared: r2) of (qx, qy).
    void within(std::int32_t qx, std::int32_t qy, double r, double r2,
                std::vector<std::uint32_t>& out) const {
        struct Range {
            std::size_t lo, hi;
            int axis;
        };
        Range stack[128];
        int sp = 0;
        stack[sp++] = Range{0, items_.size(), 0};
        while (sp > 0) {
            const Range g = stack[--sp];
            if (g.hi - g.lo <= kLeaf) {
                for (std::size_t i = g.lo; i < g.hi; ++i)
                    if (sq_dist(items_[i].x, items_[i].y, qx, qy) <= r2)
                        out.push_back(items_[i].id);
                continue;
            }
            const std::size_t m = g.lo + (g.hi - g.lo) / 2;
            const Item& c_m = items_[m];
            if (sq_dist(c_m.x, c_m.y, qx, qy) <= r2) out.push_back(c_m.id);
            const double q = g.axis == 0 ? qx : qy;
            const double c = g.axis == 0 ? c_m.x : c_m.y;
            if (q - r <= c) stack[sp++] = Range{g.lo, m, 1 - g.axis};
            if (q + r >= c) stack[sp++] = Range{m + 1, g.hi, 1 - g.axis};
        }
    }

  private:
    struct Item {
        std::int32_t x, y;
        std::uint32_t id;
    };

    void split(std::size_t lo, std::size_t hi, int axis) {
        if (hi - lo <= kLeaf) return;
        const std::size_t m = lo + (hi - lo) / 2;
        const auto at = [this](std::size_t i) {
            return items_.begin() + static_cast<std::ptrdiff_t>(i);
        };
        if (axis == 0)
            std::nth_element(at(lo), at(m), at(hi),
                             [](const Item& a, const Item& b) { return a.x < b.x; });
        else
            std::nth_element(at(lo), at(m), at(hi),
                             [](const Item& a, const Item& b) { return a.y < b.y; });
        split(lo, m, 1 - axis);
        split(m + 1, hi, 1 - axis);
    }

    std::vector<Item> items_;
};

// Uniform grid of cells at least r wide, hashed into a power-of-two table of buckets (a bucket
// may hold several cells: the exact distance test drops the strangers), points counting-sorted
// by bucket.
class GridIndex {
  public:
    void build(const Points& p, double r) {
        const std::size_t n = p.size();
        cell_ = static_cast<std::int64_t>(r) + 1;
        std::size_t t = 1;
        while (t < n) t <<= 1;
        mask_ = t - 1;
        start_.assign(t + 1, 0);
        std::vector<std::uint32_t> bucket(n);
        for (std::size_t i = 0; i < n; ++i) {
            bucket[i] = static_cast<std::uint32_t>(hash(cell_of(p.x[i]), cell_of(p.y[i])));
            ++start_[bucket[i] + 1];
        }
        for (std::size_t b = 0; b < t; ++b) start_[b + 1] += start_[b];
        std::vector<std::uint32_t> fill(start_.begin(), start_.end() - 1);
        order_.resize(n), xs_.resize(n), ys_.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint32_t at = fill[bucket[i]]++;
            order_[at] = static_cast<std::uint32_t>(i), xs_[at] = p.x[i], ys_[at] = p.y[i];
        }
    }

    void within(std::int32_t qx, std::int32_t qy, double, double r2,
                std::vector<std::uint32_t>& out) const {
        const std::int64_t cx = cell_of(qx), cy = cell_of(qy);
        std::uint64_t seen[9];
        int n_seen = 0;
        for (std::int64_t dy = -1; dy <= 1; ++dy)
            for (std::int64_t dx = -1; dx <= 1; ++dx) {
                const std::uint64_t b = hash(cx + dx, cy + dy);
                if (std::find(seen, seen + n_seen, b) != seen + n_seen)
                    continue;  // two cells, one bucket
                seen[n_seen++] = b;
                for (std::uint32_t i = start_[b]; i < start_[b + 1]; ++i)
                    if (sq_dist(xs_[i], ys_[i], qx, qy) <= r2) out.push_back(order_[i]);
            }
    }

  private:
    std::int64_t cell_of(std::int32_t c) const {
        return (static_cast<std::int64_t>(c) + (1 << 29)) / cell_;
    }
    std::uint64_t hash(std::int64_t cx, std::int64_t cy) const {
        const std::uint64_t k = static_cast<std::uint64_t>(cx) * 0x9E3779B97F4A7C15ull ^
                                static_cast<std::uint64_t>(cy) * 0xC2B2AE3D27D4EB4Full;
        return (k ^ (k >> 29)) & mask_;
    }

    std::int64_t cell_ = 1;
    std::uint64_t mask_ = 0;
    std::vector<std::uint32_t> start_, order_;
    std::vector<std::int32_t> xs_, ys_;
};

struct Options {
    std::string index = "kd";
    std::string order = "input";
    int max_zoom = 16;
    double radius = 60, extent = 256;
    std::int32_t min_points = 2;
    bool separate = false;
};

// The greedy rule for point i of p, taken, and its neighbours near: with those of them not
// taken yet it becomes a cluster at their weighted centre when they weigh at least min_points
// (and more than i alone), else they all pass through as they are; all are taken.
void take_with_neighbours(const Points& p, std::size_t i, const std::vector<std::uint32_t>& near,
                          std::int32_t min_points, std::vector<std::uint8_t>& taken, Points& out) {
    std::int64_t weight = p.weight[i];
    for (std::uint32_t k : near)
        if (!taken[k]) weight += p.weight[k];
    const bool cluster = weight > p.weight[i] && weight >= min_points;
    // Sums in double as supercluster's: exact while 2^29 * markers < 2^53 (up to 16M).
    double wx = static_cast<double>(p.x[i]) * p.weight[i];
    double wy = static_cast<double>(p.y[i]) * p.weight[i];
    if (!cluster) out.push(p.x[i], p.y[i], p.weight[i]);
    for (std::uint32_t k : near) {
        if (taken[k]) continue;
        taken[k] = 1;
        if (cluster) {
            wx += static_cast<double>(p.x[k]) * p.weight[k];
            wy += static_cast<double>(p.y[k]) * p.weight[k];
        } else {
            out.push(p.x[k], p.y[k], p.weight[k]);  // too few to cluster: they pass through too
        }
    }
    if (cluster)
        out.push(static_cast<std::int32_t>(wx / static_cast<double>(weight)),
                 static_cast<std::int32_t>(wy / static_cast<double>(weight)),
                 static_cast<std::int32_t>(weight));
}

// One zoom's greedy pass over p in its order: the next zoom's points. find(i, taken, near)
// lists in near the neighbours of point i (taken ones may be listed or not).
template <typename Find>
Points greedy_pass(const Points& p, std::int32_t min_points, Find find) {
    const std::size_t n = p.size();
    std::vector<std::uint8_t> taken(n, 0);
    std::vector<std::uint32_t> near;
    Points out;
    out.x.reserve(n), out.y.reserve(n), out.weight.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (taken[i]) continue;
        taken[i] = 1;
        near.clear();
        find(i, taken, near);
        take_with_neighbours(p, i, near, min_points, taken, out);
    }
    return out;
}

// One zoom's pass in the points' own order, an index over them finding the neighbours.
template <typename Index>
Points cluster_zoom(const Points& p, const Index& index, double r, std::int32_t min_points) {
    const double r2 = r * r;
    return greedy_pass(
        p, min_points,
        [&](std::size_t i, const std::vector<std::uint8_t>&, std::vector<std::uint32_t>& near) {
            index.within(p.x[i], p.y[i], r, r2, near);
        });
}

// The same rule in another order, with no index to look up: per zoom the points sorted by
// their r-sized cell, row by row (key: row, then column), and the pass in that order. A point's
// neighbours lie in the three cells around it in the rows above, at and below its own; as the
// pass goes through the keys in order, where each of those three rows' runs begins only moves
// forward, so three cursors find them and every access is sequential.
struct Sweep {};  // run<Sweep>: no index object

Points sweep_zoom(const Points& p, double r, std::int32_t min_points) {
    const std::size_t n = p.size();
    const double r2 = r * r;
    const std::int64_t cell = static_cast<std::int64_t>(r) + 1;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t cx =
            static_cast<std::uint64_t>((p.x[i] + (std::int64_t{1} << 29)) / cell);
        const std::uint64_t cy =
            static_cast<std::uint64_t>((p.y[i] + (std::int64_t{1} << 29)) / cell);
        keyed[i] = {geocluster_bench::sweep_key(cy, cx), static_cast<std::uint32_t>(i)};
    }
    std::sort(keyed.begin(), keyed.end());
    std::vector<std::uint64_t> key(n);
    Points q;  // the points in key order
    q.x.resize(n), q.y.resize(n), q.weight.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t k = keyed[i].second;
        key[i] = keyed[i].first, q.x[i] = p.x[k], q.y[i] = p.y[k], q.weight[i] = p.weight[k];
    }
    keyed = {};
    geocluster_bench::SweepCursors cursors;
    return greedy_pass(q, min_points,
                       [&](std::size_t i, const std::vector<std::uint8_t>& taken,
                           std::vector<std::uint32_t>& near) {
                           cursors.visit(key.data(), n, key[i], [&](std::size_t k) {
                               if (!taken[k] && sq_dist(q.x[k], q.y[k], q.x[i], q.y[i]) <= r2)
                                   near.push_back(static_cast<std::uint32_t>(k));
                           });
                       });
}

std::uint64_t hash_points(std::uint64_t h, const Points& p) {
    using geocluster_bench::fnv_bytes;
    for (std::size_t i = 0; i < p.size(); ++i)
        h = fnv_bytes(fnv_bytes(fnv_bytes(h, &p.x[i], 4), &p.y[i], 4), &p.weight[i], 4);
    return h;
}

// 30 bits of each coordinate interleaved (Morton, x in the even bits).
std::uint64_t morton(std::int32_t x, std::int32_t y) {
    auto spread = [](std::uint64_t v) {
        v &= 0x3FFFFFFFull;
        v = (v | (v << 16)) & 0x0000FFFF0000FFFFull;
        v = (v | (v << 8)) & 0x00FF00FF00FF00FFull;
        v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0Full;
        v = (v | (v << 2)) & 0x3333333333333333ull;
        v = (v | (v << 1)) & 0x5555555555555555ull;
        return v;
    };
    const std::uint64_t ux = static_cast<std::uint64_t>(static_cast<std::int64_t>(x) + (1 << 29));
    const std::uint64_t uy = static_cast<std::uint64_t>(static_cast<std::int64_t>(y) + (1 << 29));
    return spread(ux) | (spread(uy) << 1);
}

// The points sorted by their Morton code: a different greedy order (so other clusters than
// supercluster's) whose memory accesses stay local.
Points in_spatial_order(const Points& p) {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed(p.size());
    for (std::size_t i = 0; i < p.size(); ++i)
        keyed[i] = {morton(p.x[i], p.y[i]), static_cast<std::uint32_t>(i)};
    std::sort(keyed.begin(), keyed.end());
    Points out;
    out.x.reserve(p.size()), out.y.reserve(p.size()), out.weight.reserve(p.size());
    for (const auto& k : keyed) out.push(p.x[k.second], p.y[k.second], p.weight[k.second]);
    return out;
}

template <typename Index>
int run(const Options& o, Points points) {
    const double cpu0 = cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    const auto wall0 = std::chrono::steady_clock::now();
    if (o.order == "spatial") {
        points = in_spatial_order(points);
        std::printf("sorted in Morton order: cpu %.3f s\n",
                    cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID) - cpu0);
    }
    std::uint64_t h = geocluster_bench::kFnvStart;
    Index index;
    bool stale =
        true;  // a zoom that formed no cluster leaves the points, and so the index, as they are
    double index_cpu = 0, hash_cpu = 0;  // the hash is a check, not the build: left out of its time
    int passes = 0;
    std::printf("zoom points cpu_s index_cpu_s\n");
    for (int z = o.max_zoom; z >= 0; --z) {
        const double c0 = cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID);
        const double r = o.radius / (o.extent * std::ldexp(1.0, z)) * kScale;
        if constexpr (std::is_same<Index, GridIndex>::value) {
            index.build(points, r);  // the cells follow r
        } else if constexpr (std::is_same<Index, KdIndex>::value) {
            if (stale) index.build(points);
        }  // (the sweep sorts the points in its pass)
        const double built = cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID) - c0;
        index_cpu += built;
        Points next;
        if constexpr (std::is_same<Index, Sweep>::value) {
            next = sweep_zoom(points, r, o.min_points);
            ++passes;
            // --separate 1: passes again over the pass's result until one takes nothing, so that
            // no two points of the zoom are left within r (the engine's separation rule).
            while (o.separate && next.size() != points.size()) {
                points = std::move(next);
                next = sweep_zoom(points, r, o.min_points);
                ++passes;
            }
        } else {
            next = cluster_zoom(points, index, r, o.min_points);
            ++passes;
        }
        stale = next.size() != points.size();
        points = std::move(next);
        const double done = cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID);
        h = hash_points(h, points);
        hash_cpu += cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID) - done;
        std::printf("%2d %10zu %7.3f %7.3f\n", z, points.size(), done - c0, built);
    }
    std::printf(
        "index %s, order %s: cpu %.3f s (indexing %.3f s), wall %.3f s, peak RSS %.0f MiB, points "
        "hash %016llx (%.3f s, not counted), %d passes\n",
        o.index.c_str(), o.index == "sweep" ? "cells" : o.order.c_str(),
        cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID) - cpu0 - hash_cpu, index_cpu,
        seconds_since(wall0) - hash_cpu, geocluster_bench::peak_rss_mib(),
        static_cast<unsigned long long>(h), hash_cpu, passes);
    return 0;
}

// What a deterministic build must do whatever its clustering: put the markers in an order that
// does not depend on the order the rows came in. Times std::sort of (id, x, y) by id (from the
// input order, then from a shuffle) and by Morton code (ties by id).
int sort_floor(const std::vector<geocluster::HierMarker>& markers) {
    struct Item {
        std::int64_t id;
        std::int32_t x, y;
    };
    std::vector<Item> items(markers.size());
    for (std::size_t i = 0; i < markers.size(); ++i)
        items[i] = Item{markers[i].id, encode(mercator_x(markers[i].lon)),
                        encode(mercator_y(markers[i].lat))};
    const std::vector<Item> input = items;
    auto timed = [&items](const char* what, auto less) {
        const double c0 = cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID);
        std::sort(items.begin(), items.end(), less);
        std::printf("sort by %s: cpu %.3f s\n", what,
                    cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID) - c0);
    };
    const auto by_id = [](const Item& a, const Item& b) { return a.id < b.id; };
    timed("id, from the input order", by_id);
    std::mt19937_64 rng(1);
    std::shuffle(items.begin(), items.end(), rng);
    timed("id, from a shuffle", by_id);
    // By position: the Morton code made once per item (a key beside it), ties by id.
    struct Keyed {
        std::uint64_t key;
        Item item;
    };
    std::vector<Keyed> keyed(input.size());
    const double c0 = cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID);
    for (std::size_t i = 0; i < input.size(); ++i)
        keyed[i] = Keyed{morton(input[i].x, input[i].y), input[i]};
    std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
        return a.key != b.key ? a.key < b.key : a.item.id < b.item.id;
    });
    std::printf("sort by Morton code then id, from the input order: cpu %.3f s (keys made in it)\n",
                cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID) - c0);
    std::printf("%zu items of %zu bytes\n", items.size(), sizeof(Item));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--index") {
            o.index = argv[i + 1];
        } else if (a == "--order") {
            o.order = argv[i + 1];
        } else if (a == "--max-zoom") {
            o.max_zoom = std::atoi(argv[i + 1]);
        } else if (a == "--radius") {
            o.radius = std::atof(argv[i + 1]);
        } else if (a == "--separate") {
            o.separate = std::atoi(argv[i + 1]) != 0;
        } else if (a == "--extent") {
            o.extent = std::atof(argv[i + 1]);
        } else {
            std::fprintf(stderr, "greedy_floor: unknown option %s\n", a.c_str());
            return 2;
        }
    }
    if ((argc - 1) % 2 != 0 ||
        (o.index != "kd" && o.index != "grid" && o.index != "sweep" && o.index != "sort") ||
        (o.order != "input" && o.order != "spatial") || o.max_zoom < 0 || o.max_zoom > 30) {
        std::fprintf(stderr,
                     "usage: greedy_floor [--index kd|grid|sweep|sort] [--order input|spatial] "
                     "[--separate 0|1] [--max-zoom "
                     "16] [--radius 60] [--extent 256]\n");
        return 2;
    }
    const auto t0 = std::chrono::steady_clock::now();
    Points points;
    {
        const std::vector<geocluster::HierMarker> markers =
            read_markers(stdin);  // freed before the build
        if (o.index == "sort") return sort_floor(markers);
        points.x.reserve(markers.size()), points.y.reserve(markers.size()),
            points.weight.reserve(markers.size());
        for (const geocluster::HierMarker& m : markers)
            points.push(encode(mercator_x(m.lon)), encode(mercator_y(m.lat)), 1);
    }
    std::printf("%zu markers read and projected in %.3f s\n", points.size(), seconds_since(t0));
    if (o.index == "sweep") return run<Sweep>(o, std::move(points));
    return o.index == "kd" ? run<KdIndex>(o, std::move(points))
                           : run<GridIndex>(o, std::move(points));
}
