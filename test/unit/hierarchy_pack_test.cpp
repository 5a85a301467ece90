// The packed hierarchy (src/core/hierarchy_pack.hpp, hierarchy_read.hpp): real builds packed into
// blocks, encoded, and read back through the readers' helpers at every zoom give the build's
// nodes bit for bit with their ids translated; children, small viewports (across the
// antimeridian too) and leaves read through the blocks equal what the build says; ids fit 52
// bits and are unique across partitions; packing is deterministic; a full block is refused. The
// streamed create (hierarchy_stream.hpp) gives hier_pack's blocks of every build here, record for
// record, and the same counters; canceled at any poll or out of memory at any allocation it
// releases everything.
#include "cluster_reference.hpp"
#include "hierarchy.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_read.hpp"
#include "hierarchy_stream.hpp"
#include "region_alloc.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

namespace geocluster::testing {
namespace {

constexpr CancelCheck kNoCancel{nullptr, nullptr};

using Bytes = std::vector<unsigned char>;
using BlockKey = std::pair<int, std::uint64_t>;  // (band, block)

// A packed hierarchy held as a table would hold it: rows per (band, block), one per partition.
struct Store {
    int max_zoom = 0;
    HierBands bands{};
    std::map<BlockKey, std::vector<Bytes>> nodes, members;
    std::vector<HierNode> expected;                     // the builds' nodes, ids translated
    std::vector<std::vector<std::int64_t>> members_of;  // per expected node: its marker ids
};

std::vector<HierMarker> dataset(std::uint64_t seed, std::size_t n) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0, 1);
    std::normal_distribution<double> normal(0, 1);
    std::vector<HierMarker> m;
    for (std::size_t i = 0; i < n; ++i) {
        const double k = u(rng);
        double lat, lon;
        if (k < 0.2) {  // anywhere, poles included
            lat = -90 + 180 * u(rng);
            lon = -180 + 360 * u(rng);
        } else if (k < 0.35) {  // across the antimeridian
            lat = 10 * normal(rng);
            lon = 180 - std::fabs(0.5 * normal(rng));
            if (u(rng) < 0.5) lon = -lon;
        } else if (k < 0.45) {  // duplicates
            lat = 48.85;
            lon = 2.35;
        } else {  // cities of every size
            const int c = static_cast<int>(u(rng) * 12);
            const double spread = std::pow(10.0, -static_cast<double>(c % 5));
            lat = std::clamp(-60 + 10.0 * c + spread * normal(rng), -90.0, 90.0);
            lon = std::clamp(-150 + 25.0 * c + spread * normal(rng), -180.0, 180.0);
        }
        m.push_back(HierMarker{lat, lon, static_cast<std::int64_t>(seed * 100000 + i)});
    }
    return m;
}

Bytes encode_block(const HierBlockNode* recs, const HierPackedBlock& b, int lo, int hi) {
    Bytes out(hier_node_block_bound(b.n));
    std::size_t len = 0;
    EXPECT_EQ(Status::Ok, hier_packed_block_encode(recs, b, lo, hi, out.data(), &len));
    out.resize(len);
    return out;
}

// An allocator that counts the bytes live (the size in a 16-byte header).
struct CountingAlloc {
    std::size_t live = 0;
    static void* alloc(void* ctx, std::size_t n) {
        auto* p = static_cast<unsigned char*>(std::malloc(n + 16));
        if (p == nullptr) return nullptr;
        std::memcpy(p, &n, sizeof n);
        static_cast<CountingAlloc*>(ctx)->live += n;
        return p + 16;
    }
    static void release(void* ctx, void* q) {
        auto* p = static_cast<unsigned char*>(q) - 16;
        std::size_t n;
        std::memcpy(&n, p, sizeof n);
        static_cast<CountingAlloc*>(ctx)->live -= n;
        std::free(p);
    }
    Allocator allocator() { return Allocator{&alloc, &release, this, 0}; }
};

bool same_record(const HierBlockNode& a, const HierBlockNode& b) {
    return std::memcmp(&a.sums, &b.sums, sizeof a.sums) == 0 && a.slot == b.slot &&
           a.zoom_min == b.zoom_min && a.zoom_max == b.zoom_max && a.count == b.count &&
           a.id == b.id && a.parent_id == b.parent_id && a.expansion_zoom == b.expansion_zoom &&
           std::memcmp(&a.lat, &b.lat, 6 * sizeof(double)) == 0;
}

// The streamed create of m with copies of next and counters gives p's blocks (node blocks, then
// member blocks, each record equal) and, once done, counters_after.
void expect_stream_is_pack(const std::vector<HierMarker>& m, double radius, int max_zoom,
                           std::vector<std::uint64_t> next, const HierSlotCounters& counters,
                           const HierPacked& p, const std::vector<std::uint64_t>& next_after,
                           const HierSlotCounters& counters_after) {
    CountingAlloc ca;
    const Allocator a = ca.allocator();
    HierSlotCounters c{
        static_cast<HierSlotCounter*>(a.alloc(a.ctx, counters.n * sizeof(HierSlotCounter) + 1)),
        counters.n};
    if (counters.n > 0) std::memcpy(c.v, counters.v, counters.n * sizeof(HierSlotCounter));
    // The stream's arrays of a page or more mapped as the create maps them (region_alloc.hpp):
    // reused mappings, cut or grown, hold what they are given.
    RegionAllocator* regions = nullptr;
    ASSERT_EQ(Status::Ok, region_allocator_create(a, 4096, &regions));
    HierStream* s = nullptr;
    std::vector<HierMarker> work(m);  // the stream reorders its markers
    Status st = hier_stream_start(work.data(), work.size(), radius, max_zoom, next.data(), &c,
                                  region_allocator(regions), a, kNoCancel, &s);
    ASSERT_EQ(Status::Ok, st);
    EXPECT_EQ(next_after, next);
    std::size_t k = 0;
    HierStreamBlock blk;
    while (hier_stream_next(s, &blk, &st)) {
        const bool member = k >= p.n_blocks;
        ASSERT_LT(k, p.n_blocks + p.n_member_blocks);
        const HierPackedBlock& want = member ? p.member_blocks[k - p.n_blocks] : p.blocks[k];
        const HierBlockNode* recs = member ? p.members : p.records;
        EXPECT_EQ(member, blk.member);
        EXPECT_EQ(want.band, blk.band);
        EXPECT_EQ(want.block, blk.block);
        ASSERT_EQ(want.n, blk.n);
        for (std::size_t r = 0; r < blk.n; ++r) {
            // A member record's centre is its position (HierStreamBlock), not its centre.
            HierBlockNode rec = blk.records[r];
            if (member) {
                EXPECT_TRUE(rec.lat == rec.min_lat && rec.lon == rec.min_lon)
                    << "block " << k << " record " << r;
                rec.lat = recs[want.first + r].lat;
                rec.lon = recs[want.first + r].lon;
            }
            EXPECT_TRUE(same_record(recs[want.first + r], rec)) << "block " << k << " record " << r;
        }
        // The bytes the create writes: the same as hier_pack's block's.
        Bytes made(hier_node_block_bound(blk.n));
        std::size_t len = 0;
        EXPECT_EQ(Status::Ok, hier_node_block_encode_made(blk.records, blk.n, blk.zoom_lo,
                                                          blk.zoom_hi, made.data(), &len));
        made.resize(len);
        EXPECT_EQ(encode_block(recs, want, blk.zoom_lo, blk.zoom_hi), made) << "block " << k;
        ++k;
    }
    EXPECT_EQ(Status::Ok, st);
    EXPECT_EQ(p.n_blocks + p.n_member_blocks, k);
    ASSERT_EQ(counters_after.n, c.n);
    for (std::size_t i = 0; i < c.n; ++i) {
        EXPECT_EQ(counters_after.v[i].key, c.v[i].key);
        EXPECT_EQ(counters_after.v[i].next, c.v[i].next);
    }
    hier_stream_free(s);
    const RegionStats rs = region_allocator_stats(regions);
    EXPECT_LE(rs.mapped_peak_bytes, rs.request_peak_bytes);
    region_allocator_free(regions);
    hier_slot_counters_free(a, &c);
    EXPECT_EQ(0u, ca.live);
}

// Builds and packs one partition into the store.
void add_partition(Store* st, const std::vector<HierMarker>& m, double radius,
                   std::vector<std::uint64_t>* next, HierSlotCounters* counters) {
    const Allocator a = malloc_allocator();
    HierBuild b{};
    const std::vector<std::uint64_t> next_before = *next;
    ASSERT_EQ(Status::Ok, hierarchy_build(m.data(), m.size(), radius, st->max_zoom, next->data(), a,
                                          kNoCancel, &b));
    HierSlotCounters counters_before{nullptr, counters->n};
    counters_before.v =
        static_cast<HierSlotCounter*>(a.alloc(a.ctx, counters->n * sizeof(HierSlotCounter) + 1));
    if (counters->n > 0)
        std::memcpy(counters_before.v, counters->v, counters->n * sizeof(HierSlotCounter));
    HierPacked p{};
    ASSERT_EQ(Status::Ok, hier_pack(b, m.data(), st->max_zoom, counters, a, a, kNoCancel, &p));
    expect_stream_is_pack(m, radius, st->max_zoom, next_before, counters_before, p, *next,
                          *counters);
    hier_slot_counters_free(a, &counters_before);
    for (std::size_t i = 0; i < p.n_blocks; ++i) {
        const HierBand& band = st->bands.band[p.blocks[i].band];
        st->nodes[{p.blocks[i].band, p.blocks[i].block}].push_back(
            encode_block(p.records, p.blocks[i], band.zoom_lo, band.zoom_hi));
    }
    for (std::size_t i = 0; i < p.n_member_blocks; ++i)
        st->members[{p.member_blocks[i].band, p.member_blocks[i].block}].push_back(
            encode_block(p.members, p.member_blocks[i], st->max_zoom, st->max_zoom));
    std::map<std::int64_t, std::size_t> pos;  // build id -> node
    for (std::size_t i = 0; i < b.n_nodes; ++i) pos[b.nodes[i].cluster_id] = i;
    const std::size_t base = st->expected.size();
    for (std::size_t i = 0; i < b.n_nodes; ++i) {
        HierNode n = b.nodes[i];
        n.cluster_id = p.id_of_node[i];
        if (n.parent_id >= 0) n.parent_id = p.id_of_node[pos.at(n.parent_id)];
        st->expected.push_back(n);
    }
    // Members: a marker is in its leaf and every ancestor of it.
    st->members_of.resize(st->expected.size());
    for (std::size_t i = 0; i < b.n_markers; ++i) {
        for (std::int64_t c = b.leaf_of_marker[i]; c >= 0; c = b.nodes[pos.at(c)].parent_id)
            st->members_of[base + pos.at(c)].push_back(m[i].id);
    }
    hier_packed_free(a, &p);
    hierarchy_free(a, &b);
}

bool same_node(const HierNode& a, const HierNode& b) {
    return a.cluster_id == b.cluster_id && a.parent_id == b.parent_id && a.zoom == b.zoom &&
           a.expansion_zoom == b.expansion_zoom && a.count == b.count && a.id == b.id &&
           std::memcmp(&a.lat, &b.lat, 6 * sizeof(double)) == 0 &&
           std::memcmp(&a.sums, &b.sums, sizeof a.sums) == 0;
}

std::string show(const HierNode& n) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "id %lld parent %lld zoom %d exp %d count %llu id %lld at %.17g %.17g box %.17g "
                  "%.17g %.17g %.17g",
                  static_cast<long long>(n.cluster_id), static_cast<long long>(n.parent_id), n.zoom,
                  n.expansion_zoom, static_cast<unsigned long long>(n.count),
                  static_cast<long long>(n.id), n.lat, n.lon, n.min_lat, n.min_lon, n.max_lat,
                  n.max_lon);
    return buf;
}

// What a viewport reads: the nodes at zoom whose centre is in box, through the blocks.
std::vector<HierNode> viewport(const Store& st, const HierBlockBox& box) {
    const int bi = hier_band_of(st.bands, box.zoom);
    const HierBand& band = st.bands.band[bi];
    std::vector<HierBlockRange> ranges(hier_block_ranges_cap(band));
    ranges.resize(hier_block_ranges(band, box, kHierViewportRingBlocks, ranges.data()));
    std::vector<HierNode> out;
    for (const HierBlockRange& r : ranges) {
        for (auto it = st.nodes.lower_bound({bi, r.lo});
             it != st.nodes.end() && it->first.first == bi && it->first.second <= r.hi; ++it) {
            for (const Bytes& bytes : it->second) {
                HierNodeBlockReader rd;
                Status s = hier_node_block_open(bytes.data(), bytes.size(), &rd);
                EXPECT_EQ(Status::Ok, s);
                HierBlockNode rec;
                while (hier_node_block_next_in(&rd, box, &rec, &s))
                    out.push_back(hier_node_at(rec, band, it->first.second, box.zoom));
                EXPECT_EQ(Status::Ok, s);
            }
        }
    }
    std::sort(out.begin(), out.end(), hier_node_before);
    return out;
}

// The record of an id, as cluster_children and cluster_expansion_zoom find it.
bool find(const Store& st, std::int64_t id, HierIdParts* parts, HierBlockNode* rec) {
    if (!hier_id_parts(st.bands, id, parts)) return false;
    auto it = st.nodes.find({parts->band, parts->block});
    if (it == st.nodes.end()) return false;
    for (const Bytes& bytes : it->second) {
        bool found = false;
        EXPECT_EQ(Status::Ok, hier_block_find(bytes.data(), bytes.size(), nullptr, 0, parts->slot,
                                              rec, &found));
        if (found) return rec->zoom_min <= parts->zoom && parts->zoom <= rec->zoom_max;
    }
    return false;
}

// Calls f(block, record) for every record of the rows (every partition) of table's blocks of
// band bi covering box plus the ring, as the readers fetch them.
template <typename F>
void each_record_in(const std::map<BlockKey, std::vector<Bytes>>& table, const HierBands& bands,
                    int bi, const HierBlockBox& box, F f) {
    const HierBand& band = bands.band[bi];
    std::vector<HierBlockRange> ranges(hier_block_ranges_cap(band));
    ranges.resize(hier_block_ranges(band, box, kHierRingBlocks, ranges.data()));
    for (const HierBlockRange& rg : ranges)
        for (auto it = table.lower_bound({bi, rg.lo});
             it != table.end() && it->first.first == bi && it->first.second <= rg.hi; ++it)
            for (const Bytes& bytes : it->second) {
                HierNodeBlockReader rd;
                Status s = hier_node_block_open(bytes.data(), bytes.size(), &rd);
                HierBlockNode c;
                while (hier_node_block_next(&rd, &c, &s)) f(it->first.second, c);
                EXPECT_EQ(Status::Ok, s);
            }
}

std::vector<std::int64_t> children(const Store& st, std::int64_t id) {
    HierIdParts p;
    HierBlockNode r;
    if (!find(st, id, &p, &r)) return {};
    if (p.zoom < r.zoom_max) return {hier_id_at_zoom(id, p.zoom + 1)};
    if (p.zoom == st.max_zoom) return {};
    HierBlockBox box = hier_bounds_box(r.min_lat, r.min_lon, r.max_lat, r.max_lon);
    box.zoom = p.zoom + 1;
    std::vector<std::int64_t> out;
    const int bi = hier_band_of(st.bands, p.zoom + 1);
    each_record_in(st.nodes, st.bands, bi, box, [&](std::uint64_t block, const HierBlockNode& c) {
        if (c.zoom_min == p.zoom + 1 && c.parent_id == id)
            out.push_back(hier_cluster_id(p.zoom + 1, st.bands.band[bi], block, c.slot));
    });
    std::sort(out.begin(), out.end());
    return out;
}

// The member ids of a node, through the descent and the member blocks.
std::vector<std::int64_t> leaves(const Store& st, std::int64_t id, std::size_t count) {
    const Allocator a = malloc_allocator();
    HierIdParts p;
    HierBlockNode r;
    if (!find(st, id, &p, &r)) return {};
    std::vector<std::int64_t> ids(count);
    std::size_t n = 0;
    HierDescent d{};
    EXPECT_EQ(Status::Ok, hier_descent_start(&d, r, st.bands.band[p.band], p.block, st.max_zoom,
                                             ids.data(), &n, a));
    HierBlockBox box = hier_bounds_box(r.min_lat, r.min_lon, r.max_lat, r.max_lon);
    for (int bi = p.band; bi < st.bands.n; ++bi) {
        std::vector<HierBandRecord> recs;
        each_record_in(st.nodes, st.bands, bi, box,
                       [&](std::uint64_t block, const HierBlockNode& c) {
                           recs.push_back(HierBandRecord{c, block});
                       });
        EXPECT_EQ(Status::Ok, hier_descent_band(&d, st.bands.band[bi], recs.data(), recs.size(),
                                                ids.data(), &n, count, a));
    }
    each_record_in(st.members, st.bands, st.bands.n - 1, box,
                   [&](std::uint64_t, const HierBlockNode& c) {
                       if (hier_id_set_has(d.leaves, c.parent_id) && n < count) ids[n++] = c.id;
                   });
    hier_descent_free(&d, a);
    ids.resize(n);
    std::sort(ids.begin(), ids.end());
    return ids;
}

void check_store(const Store& st, std::mt19937_64& rng) {
    std::set<std::int64_t> seen;
    std::map<std::int64_t, std::vector<std::int64_t>> kids;
    for (const HierNode& n : st.expected) {
        ASSERT_GE(n.cluster_id, 0);
        ASSERT_LT(n.cluster_id, std::int64_t{1} << 52);
        ASSERT_TRUE(seen.insert(n.cluster_id).second) << "duplicate id " << n.cluster_id;
        kids[n.parent_id].push_back(n.cluster_id);
    }
    for (int z = 0; z <= st.max_zoom; ++z) {  // every zoom read back whole
        std::vector<HierNode> want;
        for (const HierNode& n : st.expected)
            if (n.zoom == z) want.push_back(n);
        std::sort(want.begin(), want.end(), hier_node_before);
        const std::vector<HierNode> got = viewport(st, HierBlockBox{z, -90, 90, -180, 180, 1, 0});
        ASSERT_EQ(want.size(), got.size()) << "zoom " << z;
        for (std::size_t i = 0; i < want.size(); ++i)
            ASSERT_TRUE(same_node(want[i], got[i]))
                << "zoom " << z << " node " << i << ": " << show(want[i]) << " vs " << show(got[i]);
    }
    std::uniform_real_distribution<double> u(0, 1);
    for (int t = 0; t < 30; ++t) {  // small boxes, some across the antimeridian
        const int z = static_cast<int>(u(rng) * (st.max_zoom + 1));
        const double size = 360.0 / std::pow(2.0, z) * (0.2 + 3 * u(rng));
        const double s = -85 + 170 * u(rng), w = -180 + 360 * u(rng), e = w + size;
        const HierBlockBox box =
            e <= 180 ? HierBlockBox{z, s, std::min(90.0, s + size), w, e, 1, 0}
                     : HierBlockBox{z, s, std::min(90.0, s + size), w, 180, -180, e - 360};
        std::vector<HierNode> want;
        for (const HierNode& n : st.expected)
            if (n.zoom == z && n.lat >= box.south && n.lat <= box.north &&
                ((n.lon >= box.west1 && n.lon <= box.east1) ||
                 (n.lon >= box.west2 && n.lon <= box.east2)))
                want.push_back(n);
        std::sort(want.begin(), want.end(), hier_node_before);
        const std::vector<HierNode> got = viewport(st, box);
        ASSERT_EQ(want.size(), got.size()) << "box at zoom " << z;
        for (std::size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(same_node(want[i], got[i]));
    }
    for (std::size_t i = 0; i < st.expected.size(); ++i) {
        const HierNode& n = st.expected[i];
        if (st.expected.size() > 400 && u(rng) > 400.0 / st.expected.size()) continue;
        std::vector<std::int64_t> want = kids[n.cluster_id];
        std::sort(want.begin(), want.end());
        EXPECT_EQ(want, children(st, n.cluster_id)) << "children of " << n.cluster_id;
        std::vector<std::int64_t> members = st.members_of[i];
        std::sort(members.begin(), members.end());
        EXPECT_EQ(members, leaves(st, n.cluster_id, n.count)) << "leaves of " << n.cluster_id;
    }
    EXPECT_TRUE(children(st, -5).empty());
    EXPECT_TRUE(children(st, (std::int64_t{1} << 52) - 1).empty());
}

TEST(HierarchyPack, BandsCoverEveryMaxZoom) {
    for (int mz = 0; mz <= kHierMaxZoom; ++mz) {
        const HierBands b = hier_bands(mz);
        ASSERT_GE(b.n, 1);
        EXPECT_EQ(0, b.band[0].zoom_lo);
        EXPECT_EQ(mz, b.band[b.n - 1].zoom_hi);
        for (int i = 0; i < b.n; ++i) {
            if (i > 0) {
                EXPECT_EQ(b.band[i - 1].zoom_hi + 1, b.band[i].zoom_lo);
            }
            EXPECT_GE(hier_slot_bits(b.band[i]), 21);
            const std::uint64_t last_block = (std::uint64_t{1} << (2 * b.band[i].block_zoom)) - 1;
            const std::int64_t top = hier_cluster_id(
                b.band[i].zoom_hi, b.band[i], last_block,
                static_cast<std::uint32_t>((std::uint64_t{1} << hier_slot_bits(b.band[i])) - 1));
            EXPECT_LT(top, std::int64_t{1} << 52);
            HierIdParts p;
            ASSERT_TRUE(hier_id_parts(b, top, &p));
            EXPECT_EQ(p.zoom, b.band[i].zoom_hi);
            EXPECT_EQ(p.block, last_block);
        }
        for (int z = 0; z <= mz; ++z) EXPECT_GE(hier_band_of(b, z), 0);
        EXPECT_EQ(-1, hier_band_of(b, mz + 1));
    }
}

TEST(HierarchyPack, BlockRangesAreTheTilesNearTheBox) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(0, 1);
    for (int bz : {0, 1, 3, 5}) {
        const HierBand band{0, 0, bz};
        const std::int64_t n = std::int64_t{1} << bz;
        for (int t = 0; t < 300; ++t) {
            const double s = -90 + 180 * u(rng), nn = std::min(90.0, s + 60 * u(rng) * u(rng));
            const double w = -180 + 360 * u(rng), e = w + 120 * u(rng) * u(rng);
            const HierBlockBox box = e <= 180 ? HierBlockBox{0, s, nn, w, e, 1, 0}
                                              : HierBlockBox{0, s, nn, w, 180, -180, e - 360};
            const int ring = t % 2;
            std::vector<HierBlockRange> r(hier_block_ranges_cap(band));
            r.resize(hier_block_ranges(band, box, ring, r.data()));
            std::set<std::uint64_t> got;
            for (std::size_t i = 0; i < r.size(); ++i) {
                if (i > 0) {
                    EXPECT_GT(r[i].lo, r[i - 1].hi + 1);
                }
                for (std::uint64_t b = r[i].lo; b <= r[i].hi; ++b) got.insert(b);
            }
            // Brute force: a tile is read when a tile the box touches is within ring of it.
            std::set<std::uint64_t> touched, want;
            for (const auto& [w1, e1] : {std::pair{box.west1, box.east1}, {box.west2, box.east2}}) {
                if (w1 > e1) continue;
                const std::uint64_t a = hier_block_of(bz, nn, w1), c = hier_block_of(bz, s, e1);
                for (std::uint64_t y = a >> bz; y <= c >> bz; ++y)
                    for (std::uint64_t x = a & (n - 1); x <= (c & (n - 1)); ++x)
                        touched.insert(y << bz | x);
            }
            for (std::uint64_t b : touched)
                for (std::int64_t dy = -ring; dy <= ring; ++dy)
                    for (std::int64_t dx = -ring; dx <= ring; ++dx) {
                        const std::int64_t y = static_cast<std::int64_t>(b >> bz) + dy;
                        const std::int64_t x =
                            ((static_cast<std::int64_t>(b & (n - 1)) + dx) % n + n) % n;
                        if (y >= 0 && y < n) want.insert(static_cast<std::uint64_t>(y << bz | x));
                    }
            EXPECT_EQ(want, got) << "bz " << bz << " box " << s << " " << nn << " " << w << " "
                                 << e;
        }
    }
}

TEST(HierarchyPack, ReadsBackEveryZoom) {
    std::mt19937_64 rng(11);
    for (std::uint64_t seed = 1; seed <= 12; ++seed) {
        Store st;
        st.max_zoom = seed <= 2 ? static_cast<int>(seed - 1) * 24 : static_cast<int>(seed * 7 % 25);
        st.bands = hier_bands(st.max_zoom);
        const double radius = seed % 3 == 0 ? 5 : (seed % 3 == 1 ? 60 : 400);
        std::vector<std::uint64_t> next(static_cast<std::size_t>(st.max_zoom) + 1, 0);
        HierSlotCounters counters{nullptr, 0};
        const int parts = seed % 4 == 0 ? 3 : 1;  // partitions share ids and slots
        for (int p = 0; p < parts; ++p)
            add_partition(&st, dataset(seed * 10 + static_cast<std::uint64_t>(p), 300 + seed * 40),
                          radius, &next, &counters);
        hier_slot_counters_free(malloc_allocator(), &counters);
        SCOPED_TRACE("seed " + std::to_string(seed) + " max_zoom " + std::to_string(st.max_zoom));
        check_store(st, rng);
    }
}

TEST(HierarchyPack, DeterministicUnderShuffles) {
    std::vector<HierMarker> m = dataset(5, 800);
    std::vector<std::map<BlockKey, std::vector<Bytes>>> got;
    for (int r = 0; r < 3; ++r) {
        std::shuffle(m.begin(), m.end(), std::mt19937_64(static_cast<std::uint64_t>(r)));
        Store st;
        st.max_zoom = 16;
        st.bands = hier_bands(16);
        std::vector<std::uint64_t> next(17, 0);
        HierSlotCounters counters{nullptr, 0};
        add_partition(&st, m, 60, &next, &counters);
        hier_slot_counters_free(malloc_allocator(), &counters);
        got.push_back(st.nodes);
        got.push_back(st.members);
    }
    EXPECT_EQ(got[0], got[2]);
    EXPECT_EQ(got[1], got[3]);
    EXPECT_EQ(got[0], got[4]);
}

// Single markers at signed zeros, the poles, the antimeridian and the Mercator edge: the
// stream makes a single's record from its marker and a centre it keeps per leaf, not from its
// node; each record must still be hier_pack's, bit for bit (-0.0 stored as +0.0).
TEST(HierarchyPack, StreamSinglesAtEdgesAreThePacksRecords) {
    // Far apart, so that each is a single leaf at every max_zoom; then two duplicates.
    const std::vector<HierMarker> m = {{-0.0, 100.0, 1},
                                       {40.0, -0.0, 2},
                                       {-0.0, -0.0, 3},
                                       {90.0, 60.0, 4},
                                       {-90.0, 45.0, 5},
                                       {85.0511287798066, 180.0, 6},
                                       {-85.0511287798066, -180.0, 7},
                                       {10.0, 179.9999999, 8},
                                       {-10.0, -179.9999999, 9},
                                       {-45.0, -1e-300, 10},
                                       {20.0, 20.0, 11},
                                       {20.0, 20.0, 12}};
    for (int max_zoom : {0, 7, 16, 24}) {
        Store st;
        st.max_zoom = max_zoom;
        st.bands = hier_bands(max_zoom);
        std::vector<std::uint64_t> next(static_cast<std::size_t>(max_zoom) + 1, 0);
        HierSlotCounters counters{nullptr, 0};
        add_partition(&st, m, 60, &next, &counters);
        hier_slot_counters_free(malloc_allocator(), &counters);
    }
}

// Canceled at its k-th poll, for every k until it finishes: Canceled, counters unchanged, and
// hier_stream_free releases everything.
TEST(HierarchyPack, StreamCanceledAtAnyPollReleasesAll) {
    const std::vector<HierMarker> m = dataset(7, 400);
    struct Countdown {
        long left;
        static bool fire(void* ctx) { return --static_cast<Countdown*>(ctx)->left < 0; }
    };
    bool finished = false;
    for (long k = 0; !finished && k < 100000; k += 1 + k / 8) {
        CountingAlloc ca;
        const Allocator a = ca.allocator();
        Countdown down{k};
        std::vector<std::uint64_t> next(17, 0);
        HierSlotCounters c{nullptr, 0};
        HierStream* s = nullptr;
        std::vector<HierMarker> work(m);
        Status st = hier_stream_start(work.data(), work.size(), 5, 16, next.data(), &c, a, a,
                                      CancelCheck{&Countdown::fire, &down}, &s);
        HierStreamBlock blk;
        while (st == Status::Ok && hier_stream_next(s, &blk, &st)) {
        }
        if (st == Status::Ok) {
            finished = true;
        } else {
            EXPECT_EQ(Status::Canceled, st) << "at poll " << k;
            EXPECT_EQ(0u, c.n);
        }
        hier_stream_free(s);
        hier_slot_counters_free(a, &c);
        EXPECT_EQ(0u, ca.live) << "at poll " << k;
    }
    EXPECT_TRUE(finished);
}

// Out of memory at its k-th allocation, for every k until it finishes: OutOfMemory, counters
// unchanged, and hier_stream_free releases everything.
TEST(HierarchyPack, StreamOutOfMemoryAtEachAllocationReleasesAll) {
    const std::vector<HierMarker> m = dataset(8, 300);
    struct Failing {
        CountingAlloc counted;
        long left;
        static void* alloc(void* ctx, std::size_t n) {
            auto* self = static_cast<Failing*>(ctx);
            return --self->left < 0 ? nullptr : CountingAlloc::alloc(&self->counted, n);
        }
        static void release(void* ctx, void* p) {
            CountingAlloc::release(&static_cast<Failing*>(ctx)->counted, p);
        }
    };
    bool finished = false;
    for (long k = 0; !finished && k < 100000; ++k) {
        Failing f{CountingAlloc{}, k};
        const Allocator a{&Failing::alloc, &Failing::release, &f, 0};
        std::vector<std::uint64_t> next(17, 0);
        HierSlotCounters c{nullptr, 0};
        HierStream* s = nullptr;
        std::vector<HierMarker> work(m);
        Status st = hier_stream_start(work.data(), work.size(), 60, 16, next.data(), &c, a, a,
                                      kNoCancel, &s);
        HierStreamBlock blk;
        while (st == Status::Ok && hier_stream_next(s, &blk, &st)) {
        }
        if (st == Status::Ok) {
            finished = true;
        } else {
            EXPECT_EQ(Status::OutOfMemory, st) << "at allocation " << k;
            EXPECT_EQ(0u, c.n);
        }
        hier_stream_free(s);
        hier_slot_counters_free(a, &c);
        EXPECT_EQ(0u, f.counted.live) << "at allocation " << k;
    }
    EXPECT_TRUE(finished);
}

TEST(HierarchyPack, FullBlockIsRefused) {
    const Allocator a = malloc_allocator();
    const std::vector<HierMarker> m{{10, 20, 1}, {10, 20, 2}};
    HierBuild b{};
    std::vector<std::uint64_t> next(17, 0);
    ASSERT_EQ(Status::Ok,
              hierarchy_build(m.data(), m.size(), 60, 16, next.data(), a, kNoCancel, &b));
    const HierBands bands = hier_bands(16);
    // Band 2's block of the pair has handed out all its slots already.
    HierSlotCounter full{std::uint64_t{2} << 56 | hier_block_of(bands.band[2].block_zoom, 10, 20),
                         std::uint64_t{1} << hier_slot_bits(bands.band[2])};
    HierSlotCounter* v = static_cast<HierSlotCounter*>(a.alloc(a.ctx, sizeof full));
    *v = full;
    HierSlotCounters counters{v, 1};
    HierPacked p{};
    const std::size_t n_nodes = b.n_nodes;
    ASSERT_GT(n_nodes, 0u);
    EXPECT_EQ(Status::HierarchyBlockFull,
              hier_pack(b, m.data(), 16, &counters, a, a, kNoCancel, &p));
    EXPECT_EQ(1u, counters.n);  // unchanged
    EXPECT_EQ(nullptr, p.records);
    HierStream* s = nullptr;  // streamed: refused too, counters unchanged
    std::vector<std::uint64_t> next2(17, 0);
    std::vector<HierMarker> work(m);
    Status st = hier_stream_start(work.data(), work.size(), 60, 16, next2.data(), &counters, a, a,
                                  kNoCancel, &s);
    HierStreamBlock blk;
    while (st == Status::Ok && hier_stream_next(s, &blk, &st)) {
    }
    EXPECT_EQ(Status::HierarchyBlockFull, st);
    EXPECT_EQ(1u, counters.n);
    EXPECT_EQ(full.next, counters.v[0].next);
    hier_stream_free(s);
    counters.v[0].next -= 1;  // room for exactly the one record it needs
    EXPECT_EQ(Status::Ok, hier_pack(b, m.data(), 16, &counters, a, a, kNoCancel, &p));
    hier_packed_free(a, &p);
    hier_slot_counters_free(a, &counters);
    hierarchy_free(a, &b);
}

}  // namespace
}  // namespace geocluster::testing
