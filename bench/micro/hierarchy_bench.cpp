// Build time and memory of the cluster hierarchy (src/core/hierarchy.hpp), without a server, on
// the SQL benchmark's own dataset: markers_gen's rows on stdin (only id, lat and lon are read).
//
//   mkdir -p bench/build
//   g++ -std=c++17 -O2 -Wall -Wextra -ffp-contract=off bench/gen/markers_gen.cpp -o
//   bench/build/markers_gen g++ -std=c++17 -O2 -DNDEBUG -Isrc/core src/core/*.cpp
//   bench/micro/hierarchy_bench.cpp
//       -o bench/build/hierarchy_bench                                   (one command)
//   bench/build/markers_gen --seed 1 --first 1 --last 10000000 |
//       bench/build/hierarchy_bench [--max-zoom 16] [--radius 60] [--repeat 3]
//
// Reported per run: the build's wall time and the peak of the bytes live at once through its
// allocator (everything the build holds, the result included, the input markers excluded);
// then, once, the nodes per zoom, and for comparison the time cluster_agg's engine alone takes
// for max_zoom (adding every marker and finalising: the first step of the build).
//
// --fingerprint 1 prints a 64-bit hash over every field of every node, in order, and over
// leaf_of_marker: equal results print equal fingerprints, and a change in any byte changes it
// but with odds of 2^-64 (how a change to the build is shown not to change its output).
//
// --storage BANDS (e.g. 0-5/0,6-9/4,10-12/7,13-14/10,15-16/12: zoom ranges and the zoom of their
// block tiles) also packs the last build's nodes the way docs/hierarchy-storage.md lays them out
// (each node once per band for the zooms over which it is the same cluster, in blocks by the tile
// of its centre, encoded by hierarchy_block.hpp; the ids of multi-marker leaves in member blocks)
// and prints the encoded bytes per band, per marker and against a heap size given with
// --heap-bytes, and the records a viewport decodes per block it reads (marker-weighted mean).
#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "hierarchy.hpp"
#include "hierarchy_block.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "counting_alloc.hpp"

namespace {

using namespace geocluster;

using geocluster_bench::read_markers;
using geocluster_bench::seconds_since;

// CPU seconds of this process: on a shared machine, less noisy than the wall clock.
double cpu_seconds() { return geocluster_bench::cpu_seconds_of(CLOCK_PROCESS_CPUTIME_ID); }

struct Band {
    int lo, hi, block_zoom;
};

std::vector<Band> parse_bands(const char* spec) {
    std::vector<Band> v;
    const char* p = spec;
    while (*p != '\0') {
        Band b{};
        char* e;
        b.lo = static_cast<int>(std::strtol(p, &e, 10));
        if (*e != '-') return {};
        b.hi = static_cast<int>(std::strtol(e + 1, &e, 10));
        if (*e != '/') return {};
        b.block_zoom = static_cast<int>(std::strtol(e + 1, &e, 10));
        v.push_back(b);
        p = *e == ',' ? e + 1 : e;
        if (*e != ',' && *e != '\0') return {};
    }
    return v;
}

// The tile of zoom z holding (lat, lon), as one number.
std::uint64_t tile_of(double lat, double lon, int z) {
    using namespace cluster_internal;
    const std::uint64_t x = fixed_x_of_lon(lon), y = fixed_y_of_lat(lat);
    const int shift = kFixedBits - z;
    const std::uint64_t n = std::uint64_t{1} << z;
    const std::uint64_t tx = std::min(n - 1, x >> shift), ty = std::min(n - 1, y >> shift);
    return ty << 32 | tx;
}

// FNV-1a over the bytes of each value, field by field (no padding bytes hashed).
struct Fingerprint {
    std::uint64_t h = 1469598103934665603ull;
    template <typename T>
    void add(const T& v) {
        unsigned char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
    }
};

std::uint64_t fingerprint(const HierBuild& b) {
    Fingerprint f;
    for (std::size_t i = 0; i < b.n_nodes; ++i) {
        const HierNode& n = b.nodes[i];
        const HierSums& s = n.sums;
        f.add(n.cluster_id), f.add(n.parent_id), f.add(n.zoom), f.add(n.expansion_zoom);
        f.add(n.count), f.add(n.lat), f.add(n.lon), f.add(n.min_lat), f.add(n.min_lon);
        f.add(n.max_lat), f.add(n.max_lon), f.add(n.id);
        f.add(s.count_w), f.add(s.sx_e_lo), f.add(s.sx_e_hi), f.add(s.sx_w_lo), f.add(s.sx_w_hi);
        f.add(s.sy_lo), f.add(s.sy_hi), f.add(s.min_lon_e), f.add(s.max_lon_e), f.add(s.min_lon_w);
        f.add(s.max_lon_w);
    }
    for (std::size_t i = 0; i < b.n_markers; ++i) f.add(b.leaf_of_marker[i]);
    return f.h;
}

void storage_report(const HierBuild& b, const std::vector<HierMarker>& markers, int max_zoom,
                    const std::vector<Band>& bands, double heap_bytes) {
    // Nodes are in (zoom, ordinal) order with ordinals from 0: a cluster_id's position.
    std::vector<std::size_t> first(static_cast<std::size_t>(max_zoom) + 2, 0);
    for (std::size_t i = 0; i < b.n_nodes; ++i)
        first[static_cast<std::size_t>(b.nodes[i].zoom) + 1] = i + 1;
    for (int z = 1; z <= max_zoom + 1; ++z) first[z] = std::max(first[z], first[z - 1]);
    const auto pos = [&](std::int64_t cid) {
        return first[static_cast<std::size_t>(cid >> kHierZoomShift)] +
               static_cast<std::size_t>(cid & ((std::int64_t{1} << kHierZoomShift) - 1));
    };
    // span_top[i]: the coarsest node that is the same cluster as node i (same count as its
    // parent = the parent's only child), found from zoom 0 down.
    std::vector<std::size_t> top(b.n_nodes);
    for (std::size_t i = 0; i < b.n_nodes; ++i) {
        const HierNode& n = b.nodes[i];
        top[i] = i;
        if (n.parent_id >= 0 && b.nodes[pos(n.parent_id)].count == n.count)
            top[i] = top[pos(n.parent_id)];
    }
    // span_bottom of a top: the finest zoom of its span.
    std::vector<int> bottom(b.n_nodes, -1);
    for (std::size_t i = 0; i < b.n_nodes; ++i)
        bottom[top[i]] = std::max(bottom[top[i]], b.nodes[i].zoom);
    double total = 0;
    std::printf("storage (bands zoom range/block zoom):\n");
    for (const Band& band : bands) {
        // Records: one per span meeting the band, its data from the node at the band's first zoom
        // of it (the same cluster at every zoom of the span), keyed by block tile.
        struct Rec {
            std::uint64_t block;
            HierBlockNode n;
        };
        std::vector<Rec> recs;
        for (std::size_t i = 0; i < b.n_nodes; ++i) {
            const HierNode& h = b.nodes[i];
            const int zmin = b.nodes[top[i]].zoom, zmax = bottom[top[i]];
            const int lo = std::max(zmin, band.lo), hi = std::min(zmax, band.hi);
            if (lo > hi || h.zoom != lo) continue;
            HierBlockNode n{0,
                            lo,
                            hi,
                            h.count,
                            h.id,
                            h.parent_id,
                            h.expansion_zoom,
                            h.lat,
                            h.lon,
                            h.min_lat,
                            h.min_lon,
                            h.max_lat,
                            h.max_lon,
                            h.count > 1 ? h.sums : HierSums{}};
            recs.push_back(Rec{tile_of(h.lat, h.lon, band.block_zoom), n});
        }
        std::sort(recs.begin(), recs.end(), [](const Rec& x, const Rec& y) {
            if (x.block != y.block) return x.block < y.block;
            if (x.n.parent_id != y.n.parent_id) return x.n.parent_id < y.n.parent_id;
            if (x.n.lat != y.n.lat) return x.n.lat > y.n.lat;
            return x.n.lon < y.n.lon;
        });
        std::size_t bytes = 0, blocks = 0, largest = 0;
        double weighted = 0, decode_s = 0, filtered_s = 0;
        std::vector<HierBlockNode> block;
        std::vector<unsigned char> buf;
        for (std::size_t i = 0; i < recs.size(); ++i) {
            recs[i].n.slot = static_cast<std::uint32_t>(block.size());
            block.push_back(recs[i].n);
            if (i + 1 < recs.size() && recs[i + 1].block == recs[i].block) continue;
            buf.resize(hier_node_block_bound(block.size()));
            std::size_t len = 0;
            if (hier_node_block_encode(block.data(), block.size(), band.lo, band.hi, buf.data(),
                                       &len) != Status::Ok) {
                std::fprintf(stderr, "encode failed\n");
                std::exit(1);
            }
            // Decoded again, timed: what a viewport pays per record it reads.
            const double d0 = cpu_seconds();
            HierNodeBlockReader rd;
            HierBlockNode got;
            Status ds = hier_node_block_open(buf.data(), len, &rd);
            std::size_t n_got = 0;
            while (ds == Status::Ok && hier_node_block_next(&rd, &got, &ds)) ++n_got;
            decode_s += cpu_seconds() - d0;
            if (ds != Status::Ok || n_got != block.size()) {
                std::fprintf(stderr, "decode failed\n");
                std::exit(1);
            }
            // And as a viewport reads it: the band's first zoom, a box of about a sixteenth of
            // the block around its middle record (next_in: only candidates get their centre).
            const HierBlockNode& mid = block[block.size() / 2];
            const double side = 360.0 / std::pow(2.0, band.block_zoom) / 4;
            const HierBlockBox box{band.lo,
                                   mid.lat - side / 2,
                                   mid.lat + side / 2,
                                   mid.lon - side / 2,
                                   mid.lon + side / 2,
                                   1,
                                   0};
            const double f0 = cpu_seconds();
            ds = hier_node_block_open(buf.data(), len, &rd);
            while (ds == Status::Ok && hier_node_block_next_in(&rd, box, &got, &ds)) {
            }
            filtered_s += cpu_seconds() - f0;
            bytes += len;
            ++blocks;
            largest = std::max(largest, block.size());
            weighted += static_cast<double>(block.size()) * static_cast<double>(block.size());
            block.clear();
        }
        total += static_cast<double>(bytes);
        std::printf(
            "  %2d-%2d/%2d: %9zu records in %7zu blocks, %8.1f MB (%.1f B/record), largest block "
            "%zu records, "
            "records per block read %.0f, decoded at %.0f ns (cpu)/record, %.0f through a small "
            "box\n",
            band.lo, band.hi, band.block_zoom, recs.size(), blocks,
            static_cast<double>(bytes) / 1e6,
            recs.empty() ? 0.0 : static_cast<double>(bytes) / static_cast<double>(recs.size()),
            largest, recs.empty() ? 0.0 : weighted / static_cast<double>(recs.size()),
            recs.empty() ? 0.0 : decode_s * 1e9 / static_cast<double>(recs.size()),
            recs.empty() ? 0.0 : filtered_s * 1e9 / static_cast<double>(recs.size()));
    }
    // Members: the ids of every multi-marker leaf, in blocks of the band holding max_zoom.
    int leaf_block_zoom = max_zoom;
    for (const Band& band : bands)
        if (band.lo <= max_zoom && max_zoom <= band.hi) leaf_block_zoom = band.block_zoom;
    std::vector<std::pair<std::size_t, std::int64_t>> of_leaf;  // (leaf position, id)
    for (std::size_t i = 0; i < b.n_markers; ++i) {
        const std::size_t leaf = pos(b.leaf_of_marker[i]);
        if (b.nodes[leaf].count > 1) of_leaf.push_back({leaf, markers[i].id});
    }
    std::sort(of_leaf.begin(), of_leaf.end(), [&](const auto& x, const auto& y) {
        const HierNode &a = b.nodes[x.first], &c = b.nodes[y.first];
        const std::uint64_t ta = tile_of(a.lat, a.lon, leaf_block_zoom),
                            tc = tile_of(c.lat, c.lon, leaf_block_zoom);
        if (ta != tc) return ta < tc;
        return x < y;
    });
    std::size_t member_bytes = 0, leaves = 0;
    std::vector<std::int64_t> ids;
    std::vector<HierMemberList> lists;
    std::vector<std::vector<std::int64_t>> held;
    for (std::size_t i = 0; i < of_leaf.size();) {
        std::size_t j = i;
        while (j < of_leaf.size() && of_leaf[j].first == of_leaf[i].first) ++j;
        held.emplace_back();
        for (std::size_t k = i; k < j; ++k) held.back().push_back(of_leaf[k].second);
        ++leaves;
        const HierNode& a = b.nodes[of_leaf[i].first];
        const bool end_of_block =
            j == of_leaf.size() || tile_of(a.lat, a.lon, leaf_block_zoom) !=
                                       tile_of(b.nodes[of_leaf[j].first].lat,
                                               b.nodes[of_leaf[j].first].lon, leaf_block_zoom);
        if (end_of_block) {
            std::size_t n_ids = 0;
            lists.clear();
            for (std::size_t k = 0; k < held.size(); ++k) {
                lists.push_back(HierMemberList{static_cast<std::uint32_t>(k), held[k].data(),
                                               static_cast<std::uint32_t>(held[k].size())});
                n_ids += held[k].size();
            }
            std::vector<unsigned char> buf(hier_member_block_bound(lists.size(), n_ids));
            std::size_t len = 0;
            if (hier_member_block_encode(lists.data(), lists.size(), buf.data(), &len) !=
                Status::Ok) {
                std::fprintf(stderr, "member encode failed\n");
                std::exit(1);
            }
            member_bytes += len;
            held.clear();
        }
        i = j;
    }
    total += static_cast<double>(member_bytes);
    std::printf("  members: %zu multi-marker leaves, %zu ids, %.1f MB\n", leaves, of_leaf.size(),
                static_cast<double>(member_bytes) / 1e6);
    std::printf("  total %.1f MB, %.1f bytes per marker", total / 1e6,
                total / static_cast<double>(markers.size()));
    if (heap_bytes > 0)
        std::printf(", %.0f%% of a heap of %.1f MB", 100.0 * total / heap_bytes, heap_bytes / 1e6);
    std::printf(" (encoded bytes: without row headers, TOAST chunking or compression)\n");
}

}  // namespace

int main(int argc, char** argv) {
    int max_zoom = 16, repeat = 3;
    bool want_fingerprint = false;
    double radius = kDefaultRadiusPx, heap_bytes = 0;
    std::vector<Band> bands;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--max-zoom")
            max_zoom = std::atoi(argv[i + 1]);
        else if (a == "--radius")
            radius = std::atof(argv[i + 1]);
        else if (a == "--repeat")
            repeat = std::atoi(argv[i + 1]);
        else if (a == "--fingerprint")
            want_fingerprint = std::atoi(argv[i + 1]) != 0;
        else if (a == "--heap-bytes")
            heap_bytes = std::atof(argv[i + 1]);
        else if (a == "--storage" && !(bands = parse_bands(argv[i + 1])).empty())
            continue;
        else {
            std::fprintf(stderr,
                         "usage: hierarchy_bench [--max-zoom Z] [--radius PX] [--repeat N] "
                         "[--storage LO-HI/BZ,...] [--heap-bytes N] [--fingerprint 1] < rows\n");
            return 2;
        }
    }
    const std::vector<HierMarker> markers = read_markers(stdin);
    std::printf("markers %zu, max_zoom %d, radius_px %g\n", markers.size(), max_zoom, radius);
    const CancelCheck no_cancel{nullptr, nullptr};
    for (int r = 0; r < repeat; ++r) {
        CountingAlloc a;
        std::vector<std::uint64_t> next(static_cast<std::size_t>(max_zoom) + 1, 0);
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = cpu_seconds();
        HierBuild b{};
        const Status s = hierarchy_build(markers.data(), markers.size(), radius, max_zoom,
                                         next.data(), a.allocator(), no_cancel, &b);
        const double took = seconds_since(t0), cpu = cpu_seconds() - cpu0;
        if (s != Status::Ok) {
            std::fprintf(stderr, "hierarchy_build: %s\n", status_name(s));
            return 1;
        }
        std::printf("build %d: %.3f s (cpu %.3f s), peak %.1f MB, result %.1f MB (%zu nodes)\n",
                    r + 1, took, cpu, a.peak / 1e6,
                    (b.n_nodes * sizeof(HierNode) + b.n_markers * sizeof(std::int64_t)) / 1e6,
                    b.n_nodes);
        if (r + 1 == repeat) {
            std::printf("nodes per zoom:");
            for (int z = 0; z <= max_zoom; ++z)
                std::printf(" %d:%llu", z,
                            static_cast<unsigned long long>(next[static_cast<std::size_t>(z)]));
            std::printf("\n");
            if (want_fingerprint)
                std::printf("fingerprint %016llx\n",
                            static_cast<unsigned long long>(fingerprint(b)));
            if (!bands.empty()) storage_report(b, markers, max_zoom, bands, heap_bytes);
        }
        hierarchy_free(a.allocator(), &b);
    }
    // The engine alone at max_zoom, as cluster_agg runs it.
    CountingAlloc a;
    const double cpu0 = cpu_seconds();
    ClusterState* st = nullptr;
    if (cluster_create(max_zoom, radius, true, a.allocator(), &st) != Status::Ok) return 1;
    for (const HierMarker& m : markers)
        if (cluster_add_point(st, m.lat, m.lon, true, m.id) != Status::Ok) return 1;
    const double added = cpu_seconds() - cpu0;
    ClusterList l{};
    if (cluster_finalize(st, no_cancel, &l) != Status::Ok) return 1;
    std::printf(
        "engine at max_zoom (cpu): add %.3f s, finalize %.3f s, %zu bins, %zu clusters, peak %.1f "
        "MB\n",
        added, cpu_seconds() - cpu0 - added, cluster_bin_count(st), l.size, a.peak / 1e6);
    cluster_free_list(a.allocator(), &l);
    cluster_destroy(st);
    return 0;
}
