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
// --blocks 1 packs the last build (hier_pack) and encodes every block, printing the time, the
// peak of build and pack together and a fingerprint over every block's band, tile and bytes, in
// write order: what cluster_hierarchy_create wrote before it was streamed. --stream 1 runs the
// streamed create instead (hier_stream_*: build, pack and encode block by block), --repeat
// times, with the same report: equal fingerprints are the same table rows, bit for bit.
// --replay BOXES (with --stream 1) then reads the viewports of BOXES from the last run's node
// blocks as cluster_viewport does and prints per zoom what they read (replay below):
//   /usr/bin/python3 bench/micro/viewport_boxes.py --markers m1.txt > boxes.txt
//   hierarchy_bench --repeat 1 --stream 1 --replay boxes.txt < m1.txt
//
// --storage 1 also packs the last build's nodes as the extension stores them (hier_pack, the
// layout of docs/hierarchy-storage.md: each node once per band for the zooms over which it is the
// same cluster, in blocks by the tile of its centre) and prints the encoded bytes per band, per
// marker and against a heap size given with --heap-bytes, and the records a viewport decodes per
// block it reads (marker-weighted mean).
#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "hierarchy.hpp"
#include "hierarchy_block.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_read.hpp"
#include "hierarchy_stream.hpp"
#include "region_alloc.hpp"

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

// Adds one encoded block to f (its table, band and tile, then its bytes), and returns its length
// (its bytes in buf's first). made: the streamed create's block, encoded as the create encodes it
// (hier_node_block_encode_made). buf only grows: zeroing each block's bound was the bench's, not
// the create's (a palloc).
std::size_t add_block(Fingerprint* f, bool member, int band, std::uint64_t block,
                      const HierBlockNode* recs, std::size_t n, int lo, int hi,
                      std::vector<unsigned char>* buf, bool made = false) {
    if (buf->size() < hier_node_block_bound(n)) buf->resize(hier_node_block_bound(n));
    std::size_t len = 0;
    if ((made ? hier_node_block_encode_made : hier_node_block_encode)(recs, n, lo, hi, buf->data(),
                                                                      &len) != Status::Ok) {
        std::fprintf(stderr, "encode failed\n");
        std::exit(1);
    }
    f->add(member), f->add(band), f->add(block), f->add(len);
    for (std::size_t i = 0; i < len; ++i) f->add((*buf)[i]);
    return len;
}

// The CPU seconds of fingerprinting bytes bytes (add_block's loop, which the create does not do:
// one multiply a byte, in sequence, whatever the bytes), timed apart so that the packing's own
// CPU can be told from the bench's.
double fingerprint_cpu(std::size_t bytes) {
    std::vector<unsigned char> chunk(std::size_t{1} << 20, 0x5a);
    Fingerprint f;
    const double t0 = cpu_seconds();
    for (std::size_t done = 0; done < bytes; done += chunk.size()) {
        const std::size_t n = std::min(chunk.size(), bytes - done);
        for (std::size_t i = 0; i < n; ++i) f.add(chunk[i]);
    }
    const double t = cpu_seconds() - t0;
    if (f.h == 0) std::printf(" ");  // (the hash used, so that the loop stays)
    return t;
}

// The blocks the create wrote before it was streamed: hier_pack of a build, every block encoded.
// Returns the fingerprint; *blocks the count.
std::uint64_t packed_blocks(const HierBuild& b, const std::vector<HierMarker>& markers,
                            int max_zoom, CountingAlloc* a, std::size_t* blocks) {
    HierSlotCounters counters{nullptr, 0};
    HierPacked p{};
    if (hier_pack(b, markers.data(), max_zoom, &counters, a->allocator(), a->allocator(),
                  CancelCheck{nullptr, nullptr}, &p) != Status::Ok) {
        std::fprintf(stderr, "hier_pack failed\n");
        std::exit(1);
    }
    const HierBands bands = hier_bands(max_zoom);
    Fingerprint f;
    std::vector<unsigned char> buf;
    for (std::size_t k = 0; k < p.n_blocks; ++k) {
        const HierPackedBlock& blk = p.blocks[k];
        const HierBand& band = bands.band[blk.band];
        add_block(&f, false, blk.band, blk.block, p.records + blk.first, blk.n, band.zoom_lo,
                  band.zoom_hi, &buf);
    }
    for (std::size_t k = 0; k < p.n_member_blocks; ++k) {
        const HierPackedBlock& blk = p.member_blocks[k];
        add_block(&f, true, blk.band, blk.block, p.members + blk.first, blk.n, max_zoom, max_zoom,
                  &buf);
    }
    *blocks = p.n_blocks + p.n_member_blocks;
    hier_packed_free(a->allocator(), &p);
    hier_slot_counters_free(a->allocator(), &counters);
    return f.h;
}

// --replay FILE (with --stream 1): the viewports of FILE (bench/micro/viewport_boxes.py: zoom
// south north west1 east1 west2 east2 per line) read from the streamed create's node blocks as
// cluster_viewport reads them (hier_block_ranges, then hier_node_block_next_in per block), and
// what that costs, per zoom, as deterministic counters: blocks, index entries and records
// decoded, rows returned, and the bytes and TOAST slices a server would fetch (a block over
// kSliceFromBytes read in slices as sliced_block in src/pg/hierarchy_read.cpp does: its first
// 8 kB, the rest of its header, then the runs hier_node_block_kept_chunks gives, merged when
// closer than 8 kB; any other block whole); then the CPU time of decoding (decode_us) and of
// finding the runs to fetch of the sliced blocks (kept_us), the best of 20 rounds.
struct StoredBlock {
    int band;
    std::uint64_t block;
    std::vector<unsigned char> bytes;
};

struct Runs {
    std::vector<std::size_t> lo, hi;
};
void add_run(void* c, std::size_t offset, std::size_t length) {
    auto* r = static_cast<Runs*>(c);
    if (!r->lo.empty() && offset <= r->hi.back() + 8192) {
        r->hi.back() = offset + length;
        return;
    }
    r->lo.push_back(offset);
    r->hi.push_back(offset + length);
}

struct ReplayCount {
    double blocks = 0, entries = 0, records = 0, rows = 0, bytes = 0, slices = 0;
};

// One block read with the box: adds to *c.
void replay_block(const std::vector<unsigned char>& blk, const HierBlockBox& box, ReplayCount* c) {
    HierNodeBlockReader r;
    if (hier_node_block_open(blk.data(), blk.size(), &r) != Status::Ok) std::exit(1);
    c->blocks += 1;
    if (blk.size() <= 16384) {
        c->bytes += static_cast<double>(blk.size());
        c->slices += 1;
    } else {
        std::size_t header = 0;
        hier_node_block_header_bytes(blk.data(), blk.size(), box, false, &header);
        std::size_t have = std::max<std::size_t>(std::min<std::size_t>(blk.size(), 8192), header);
        c->bytes += static_cast<double>(have);
        c->slices += header > 8192 ? 2 : 1;
        Runs runs;
        if (hier_node_block_kept_chunks(r, blk.data(), box, false, add_run, &runs) != Status::Ok)
            std::exit(1);
        for (std::size_t i = 0; i < runs.lo.size(); ++i) {
            const std::size_t lo = std::max(runs.lo[i], have);
            if (runs.hi[i] > lo) {
                c->bytes += static_cast<double>(runs.hi[i] - lo);
                c->slices += 1;
            }
        }
    }
    HierBlockNode d;
    Status st = Status::Ok;
    while (hier_node_block_next_in(&r, box, &d, &st)) c->rows += 1;
    if (st != Status::Ok) std::exit(1);
    c->entries += static_cast<double>(r.entries_read);
    c->records += static_cast<double>(r.records_read);
}

void replay(const std::vector<StoredBlock>& blocks, int max_zoom, const char* path) {
    std::FILE* f = std::fopen(path, "r");
    if (f == nullptr) {
        std::fprintf(stderr, "cannot read %s\n", path);
        std::exit(2);
    }
    std::vector<HierBlockBox> boxes;
    HierBlockBox b{};
    while (std::fscanf(f, "%d %lf %lf %lf %lf %lf %lf", &b.zoom, &b.south, &b.north, &b.west1,
                       &b.east1, &b.west2, &b.east2) == 7)
        boxes.push_back(b);
    std::fclose(f);
    const HierBands bands = hier_bands(max_zoom);
    // The blocks each box reads, found once.
    std::vector<std::vector<const StoredBlock*>> reads(boxes.size());
    for (std::size_t i = 0; i < boxes.size(); ++i) {
        const int bi = hier_band_of(bands, boxes[i].zoom);
        const HierBand& band = bands.band[bi];
        std::vector<HierBlockRange> ranges(hier_block_ranges_cap(band));
        const std::size_t n =
            hier_block_ranges(band, boxes[i], kHierViewportRingBlocks, ranges.data());
        for (std::size_t k = 0; k < n; ++k) {
            auto it =
                std::lower_bound(blocks.begin(), blocks.end(), std::make_pair(bi, ranges[k].lo),
                                 [](const StoredBlock& s, std::pair<int, std::uint64_t> key) {
                                     return std::make_pair(s.band, s.block) < key;
                                 });
            for (; it != blocks.end() && it->band == bi && it->block <= ranges[k].hi; ++it)
                reads[i].push_back(&*it);
        }
    }
    std::printf(
        "replay of %zu viewports (per viewport, mean and max; decoding CPU microseconds, "
        "the best of 20 rounds)\n",
        boxes.size());
    std::printf(
        "zoom viewports blocks entries records(max) rows bytes(max) slices decode_us kept_us\n");
    for (int z = 0; z <= kHierMaxZoom; ++z) {
        ReplayCount sum, mx;
        std::size_t n = 0;
        double best_us = 1e300, best_kept_us = 1e300;
        for (int round = 0; round < 20; ++round) {
            const double t0 = cpu_seconds();
            for (std::size_t i = 0; i < boxes.size(); ++i) {
                if (boxes[i].zoom != z) continue;
                for (const StoredBlock* s : reads[i]) {
                    HierNodeBlockReader r;
                    hier_node_block_open(s->bytes.data(), s->bytes.size(), &r);
                    HierBlockNode d;
                    Status st = Status::Ok;
                    while (hier_node_block_next_in(&r, boxes[i], &d, &st)) {
                    }
                }
            }
            best_us = std::min(best_us, (cpu_seconds() - t0) * 1e6);
            // What a server does besides, per sliced block: the runs to fetch.
            const double t1 = cpu_seconds();
            for (std::size_t i = 0; i < boxes.size(); ++i) {
                if (boxes[i].zoom != z) continue;
                for (const StoredBlock* s : reads[i]) {
                    if (s->bytes.size() <= 16384) continue;
                    HierNodeBlockReader r;
                    hier_node_block_open(s->bytes.data(), s->bytes.size(), &r);
                    Runs runs;
                    hier_node_block_kept_chunks(r, s->bytes.data(), boxes[i], false, add_run,
                                                &runs);
                }
            }
            best_kept_us = std::min(best_kept_us, (cpu_seconds() - t1) * 1e6);
        }
        for (std::size_t i = 0; i < boxes.size(); ++i) {
            if (boxes[i].zoom != z) continue;
            ReplayCount c;
            for (const StoredBlock* s : reads[i]) replay_block(s->bytes, boxes[i], &c);
            ++n;
            sum.blocks += c.blocks;
            sum.entries += c.entries;
            sum.records += c.records;
            sum.rows += c.rows;
            sum.bytes += c.bytes;
            sum.slices += c.slices;
            mx.records = std::max(mx.records, c.records);
            mx.bytes = std::max(mx.bytes, c.bytes);
        }
        if (n == 0) continue;
        const double k = 1.0 / static_cast<double>(n);
        std::printf("%d %zu %.2f %.0f %.0f(%.0f) %.1f %.0f(%.0f) %.2f %.1f %.1f\n", z, n,
                    sum.blocks * k, sum.entries * k, sum.records * k, mx.records, sum.rows * k,
                    sum.bytes * k, mx.bytes, sum.slices * k, best_us * k, best_kept_us * k);
    }
}

// The streamed create: build, pack and encode, block by block.
void streamed(const std::vector<HierMarker>& markers, int max_zoom, double radius, int repeat,
              const char* replay_path, bool regions) {
    for (int r = 0; r < repeat; ++r) {
        CountingAlloc a;
        RegionAllocator* ra = nullptr;  // --regions 1: the arrays mapped as the create maps them
        if (regions && region_allocator_create(a.allocator(), kRegionMinBytes, &ra) != Status::Ok)
            std::exit(1);
        const Allocator build_alloc = regions ? region_allocator(ra) : a.allocator();
        std::vector<HierMarker> work(markers);  // the stream reorders its markers (not timed)
        std::vector<std::uint64_t> next(static_cast<std::size_t>(max_zoom) + 1, 0);
        HierSlotCounters counters{nullptr, 0};
        const auto t0 = std::chrono::steady_clock::now();
        const double cpu0 = cpu_seconds();
        HierStream* s = nullptr;
        Status st =
            hier_stream_start(work.data(), work.size(), radius, max_zoom, next.data(), &counters,
                              build_alloc, a.allocator(), CancelCheck{nullptr, nullptr}, &s);
        const RegionStats at_built = regions ? region_allocator_stats(ra) : RegionStats{};
        const double built = cpu_seconds() - cpu0;
        const std::size_t build_peak = a.peak, held = a.live;
        a.peak = a.live;  // from here: the packing's peak
        Fingerprint f;
        std::vector<unsigned char> buf;
        std::size_t blocks = 0;
        std::size_t all_bytes = 0;  // of node and member blocks
        HierStreamBlock blk;
        std::vector<StoredBlock> stored;
        std::size_t node_bytes = 0;
        while (st == Status::Ok && hier_stream_next(s, &blk, &st)) {
            const std::size_t len = add_block(&f, blk.member, blk.band, blk.block, blk.records,
                                              blk.n, blk.zoom_lo, blk.zoom_hi, &buf, true);
            all_bytes += len;
            ++blocks;
            if (!blk.member) node_bytes += len;
            if (replay_path != nullptr && !blk.member)
                stored.push_back({blk.band, blk.block, {buf.begin(), buf.begin() + len}});
        }
        if (st != Status::Ok) {
            std::fprintf(stderr, "streamed create: %s\n", status_name(st));
            std::exit(1);
        }
        hier_stream_free(s);
        hier_slot_counters_free(a.allocator(), &counters);
        const double packed = cpu_seconds() - cpu0 - built, wall = seconds_since(t0);
        const double bench_cpu = fingerprint_cpu(all_bytes);
        std::printf(
            "streamed %d: %.3f s (cpu %.3f s: clustering %.3f s, packing and encoding %.3f s, "
            "of which the bench's fingerprint about %.3f s), "
            "peak %.1f MB while clustering, %.1f MB held after it, %.1f MB while packing, %zu "
            "blocks, blocks fingerprint %016llx\n",
            r + 1, wall, built + packed, built, packed, bench_cpu, build_peak / 1e6, held / 1e6,
            a.peak / 1e6, blocks, static_cast<unsigned long long>(f.h));
        std::printf("node blocks: %zu bytes\n", node_bytes);
        if (regions) {
            const RegionStats rs = region_allocator_stats(ra);
            std::printf(
                "regions: mapped peak %.1f MB (%.1f MB by the end of the clustering), "
                "requests' peak %.1f MB, mapped afresh %.1f MB, reused %.1f MB\n",
                rs.mapped_peak_bytes / 1e6, at_built.mapped_peak_bytes / 1e6,
                rs.request_peak_bytes / 1e6, rs.fresh_bytes / 1e6, rs.reused_bytes / 1e6);
            region_allocator_free(ra);
        }
        if (replay_path != nullptr && r + 1 == repeat) {
            std::sort(stored.begin(), stored.end(), [](const StoredBlock& x, const StoredBlock& y) {
                return std::make_pair(x.band, x.block) < std::make_pair(y.band, y.block);
            });
            replay(stored, max_zoom, replay_path);
        }
    }
}

// Packs the build as the extension stores it (hier_pack: the core's bands, blocks and ids) and
// reports, per band, the encoded bytes and what a viewport pays to decode a block.
void storage_report(const HierBuild& b, const std::vector<HierMarker>& markers, int max_zoom,
                    double heap_bytes) {
    CountingAlloc a;
    HierSlotCounters counters{nullptr, 0};
    HierPacked p{};
    const double p0 = cpu_seconds();
    if (hier_pack(b, markers.data(), max_zoom, &counters, a.allocator(), a.allocator(),
                  CancelCheck{nullptr, nullptr}, &p) != Status::Ok) {
        std::fprintf(stderr, "hier_pack failed\n");
        std::exit(1);
    }
    std::printf("storage: packed in %.3f s (cpu), peak %.1f MB (bands zoom range/block zoom)\n",
                cpu_seconds() - p0, a.peak / 1e6);
    const HierBands bands = hier_bands(max_zoom);
    double total = 0;
    std::vector<unsigned char> buf;
    for (int bi = 0; bi < bands.n; ++bi) {
        const HierBand& band = bands.band[bi];
        std::size_t bytes = 0, blocks = 0, largest = 0, records = 0;
        double weighted = 0, decode_s = 0, filtered_s = 0;
        for (std::size_t k = 0; k < p.n_blocks; ++k) {
            const HierPackedBlock& blk = p.blocks[k];
            if (blk.band != bi) continue;
            buf.resize(hier_node_block_bound(blk.n));
            std::size_t len = 0;
            if (hier_packed_block_encode(p.records, blk, band.zoom_lo, band.zoom_hi, buf.data(),
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
            if (ds != Status::Ok || n_got != blk.n) {
                std::fprintf(stderr, "decode failed\n");
                std::exit(1);
            }
            // And as a viewport reads it: the band's first zoom, a box of about a sixteenth of
            // the block around its middle record (next_in: only candidates get their centre).
            const HierBlockNode& mid = p.records[blk.first + blk.n / 2];
            const double side = 360.0 / std::pow(2.0, band.block_zoom) / 4;
            const HierBlockBox box{band.zoom_lo,
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
            records += blk.n;
            largest = std::max(largest, blk.n);
            weighted += static_cast<double>(blk.n) * static_cast<double>(blk.n);
        }
        total += static_cast<double>(bytes);
        const double per = records == 0 ? 0.0 : 1.0 / static_cast<double>(records);
        std::printf(
            "  %2d-%2d/%2d: %9zu records in %7zu blocks, %8.1f MB (%.1f B/record), largest block "
            "%zu records, records per block read %.0f, decoded at %.0f ns (cpu)/record, %.0f "
            "through a small box\n",
            band.zoom_lo, band.zoom_hi, band.block_zoom, records, blocks,
            static_cast<double>(bytes) / 1e6, static_cast<double>(bytes) * per, largest,
            weighted * per, decode_s * 1e9 * per, filtered_s * 1e9 * per);
    }
    // Members: the markers of the multi-marker leaves, in blocks of the last band.
    std::size_t member_bytes = 0;
    for (std::size_t k = 0; k < p.n_member_blocks; ++k) {
        buf.resize(hier_node_block_bound(p.member_blocks[k].n));
        std::size_t len = 0;
        if (hier_packed_block_encode(p.members, p.member_blocks[k], max_zoom, max_zoom, buf.data(),
                                     &len) != Status::Ok) {
            std::fprintf(stderr, "member encode failed\n");
            std::exit(1);
        }
        member_bytes += len;
    }
    total += static_cast<double>(member_bytes);
    std::printf("  members: %zu markers of multi-marker leaves in %zu blocks, %.1f MB\n",
                p.n_members, p.n_member_blocks, static_cast<double>(member_bytes) / 1e6);
    std::printf("  total %.1f MB, %.1f bytes per marker, %zu block rows", total / 1e6,
                total / static_cast<double>(markers.size()), p.n_blocks + p.n_member_blocks);
    if (heap_bytes > 0)
        std::printf(", %.0f%% of a heap of %.1f MB", 100.0 * total / heap_bytes, heap_bytes / 1e6);
    std::printf(" (encoded bytes: without row headers, TOAST chunking or compression)\n");
    hier_packed_free(a.allocator(), &p);
    hier_slot_counters_free(a.allocator(), &counters);
}

}  // namespace

int main(int argc, char** argv) {
    int max_zoom = 16, repeat = 3;
    bool want_fingerprint = false;
    double radius = kDefaultRadiusPx, heap_bytes = 0;
    bool storage = false, blocks = false, stream = false, regions = false;
    const char* replay_path = nullptr;
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
        else if (a == "--blocks")
            blocks = std::atoi(argv[i + 1]) != 0;
        else if (a == "--stream")
            stream = std::atoi(argv[i + 1]) != 0;
        else if (a == "--regions")
            regions = std::atoi(argv[i + 1]) != 0;
        else if (a == "--replay")
            replay_path = argv[i + 1];
        else if (a == "--storage")
            storage = std::atoi(argv[i + 1]) != 0;
        else {
            std::fprintf(
                stderr,
                "usage: hierarchy_bench [--max-zoom Z] [--radius PX] [--repeat N] "
                "[--storage 1] [--heap-bytes N] [--fingerprint 1] [--blocks 1] [--stream 1] "
                "[--regions 1] [--replay BOXES] < "
                "rows\n");
            return 2;
        }
    }
    const std::vector<HierMarker> markers = read_markers(stdin);
    std::printf("markers %zu, max_zoom %d, radius_px %g\n", markers.size(), max_zoom, radius);
    const CancelCheck no_cancel{nullptr, nullptr};
    if (stream) {
        streamed(markers, max_zoom, radius, repeat, replay_path, regions);
        return 0;
    }
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
            if (storage) storage_report(b, markers, max_zoom, heap_bytes);
        }
        if (blocks) {
            const double p0 = cpu_seconds();
            std::size_t n_blocks = 0;
            const std::uint64_t h = packed_blocks(b, markers, max_zoom, &a, &n_blocks);
            std::printf(
                "packed %d: cpu %.3f s (build and pack %.3f s), peak %.1f MB, %zu blocks, blocks "
                "fingerprint %016llx\n",
                r + 1, cpu_seconds() - p0, cpu_seconds() - cpu0, a.peak / 1e6, n_blocks,
                static_cast<unsigned long long>(h));
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
