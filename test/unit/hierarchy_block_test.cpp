// The packed blocks of a cluster hierarchy (src/core/hierarchy_block.hpp): every node and member
// list reads back bit for bit, the encoding is canonical (decoding and encoding again gives the
// same bytes), and damaged bytes give HierarchyBlockCorrupt without reading out of bounds (ASan).
#include "hierarchy.hpp"
#include "hierarchy_block.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace {

using namespace geocluster;

void* test_alloc(void*, std::size_t n) { return std::malloc(n); }
void test_release(void*, void* p) { std::free(p); }
const Allocator kAlloc{&test_alloc, &test_release, nullptr, 0};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void expect_same(const HierBlockNode& a, const HierBlockNode& b) {
    EXPECT_EQ(a.slot, b.slot);
    EXPECT_EQ(a.zoom_min, b.zoom_min);
    EXPECT_EQ(a.zoom_max, b.zoom_max);
    EXPECT_EQ(a.count, b.count);
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.parent_id, b.parent_id);
    EXPECT_EQ(a.expansion_zoom, b.expansion_zoom);
    for (auto [x, y] : {std::pair{a.lat, b.lat},
                        {a.lon, b.lon},
                        {a.min_lat, b.min_lat},
                        {a.min_lon, b.min_lon},
                        {a.max_lat, b.max_lat},
                        {a.max_lon, b.max_lon}})
        EXPECT_TRUE(same_bits(x, y)) << x << " vs " << y;
    if (a.count > 1) {
        EXPECT_EQ(0, std::memcmp(&a.sums, &b.sums, sizeof a.sums));
    }
}

std::vector<unsigned char> encode(const std::vector<HierBlockNode>& nodes, int zoom_lo = 0,
                                  int zoom_hi = kHierMaxZoom) {
    std::vector<unsigned char> out(hier_node_block_bound(nodes.size()));
    std::size_t len = 0;
    EXPECT_EQ(Status::Ok, hier_node_block_encode(nodes.data(), nodes.size(), zoom_lo, zoom_hi,
                                                 out.data(), &len));
    out.resize(len);
    return out;
}

// Decodes a whole block: Ok and the nodes, or the first failure.
Status decode(const std::vector<unsigned char>& bytes, std::vector<HierBlockNode>* nodes) {
    nodes->clear();
    HierNodeBlockReader r;
    Status s = hier_node_block_open(bytes.data(), bytes.size(), &r);
    if (s != Status::Ok) return s;
    HierBlockNode n;
    while (hier_node_block_next(&r, &n, &s)) nodes->push_back(n);
    return s;
}

HierBlockNode single(std::uint32_t slot, double lat, double lon, std::int64_t id,
                     std::int64_t parent, int zmin, int zmax) {
    HierBlockNode n{};
    n.slot = slot;
    n.zoom_min = zmin;
    n.zoom_max = zmax;
    n.count = 1;
    n.id = id;
    n.parent_id = parent;
    n.expansion_zoom = -1;
    n.min_lat = n.max_lat = lat;
    n.min_lon = n.max_lon = lon;
    hier_single_centre(lat, lon, &n.lat, &n.lon);
    return n;
}

// A multi-marker node with sums of any shape (the codec does not check that they add up).
HierBlockNode multi(std::mt19937_64& rng, std::uint32_t slot) {
    std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
    HierBlockNode n{};
    n.slot = slot;
    n.zoom_min = static_cast<int>(rng() % 25);
    n.zoom_max =
        rng() % 2 ? kHierMaxZoom : n.zoom_min + static_cast<int>(rng() % (25 - n.zoom_min));
    // (the tests' blocks end at kHierMaxZoom: a cluster that reaches it may split beyond it)
    n.expansion_zoom = n.zoom_max + 1;
    n.count = 2 + rng() % (rng() % 2 ? 5 : std::uint64_t{1} << 46);
    n.id = static_cast<std::int64_t>(rng());
    n.parent_id = rng() % 4 == 0 ? -1 : static_cast<std::int64_t>(rng() >> 1);
    n.lat = lat(rng);
    n.lon = lon(rng);
    n.min_lat = lat(rng);
    n.max_lat = lat(rng);
    n.min_lon = lon(rng);
    n.max_lon = lon(rng);
    const int side = static_cast<int>(rng() % 3);  // east only, west only, both
    n.sums.count_w = side == 0 ? 0 : side == 1 ? n.count : 1 + rng() % (n.count - 1);
    n.sums.sx_e_lo = rng();
    n.sums.sx_e_hi = rng() >> (rng() % 64);
    n.sums.sx_w_lo = rng();
    n.sums.sx_w_hi = rng() % 2 ? 0 : rng();
    n.sums.sy_lo = rng();
    n.sums.sy_hi = ~std::uint64_t{0};
    n.sums.min_lon_e = side == 1 ? INFINITY : lon(rng);
    n.sums.max_lon_e = side == 1 ? -INFINITY : lon(rng);
    n.sums.min_lon_w = side == 0 ? INFINITY : lon(rng);
    n.sums.max_lon_w = side == 0 ? -INFINITY : -0.0;
    return n;
}

std::vector<HierBlockNode> random_block(std::mt19937_64& rng, std::size_t n) {
    std::vector<HierBlockNode> v;
    std::uint32_t slot = static_cast<std::uint32_t>(rng() % 3);
    std::uniform_real_distribution<double> lat(-90, 90), lon(-180, 180);
    for (std::size_t i = 0; i < n; ++i) {
        if (rng() % 2) {
            const int zmin = static_cast<int>(rng() % 25);
            v.push_back(single(slot, lat(rng), lon(rng), static_cast<std::int64_t>(rng()),
                               rng() % 5 ? 7 : -1, zmin,
                               rng() % 2
                                   ? kHierMaxZoom
                                   : zmin + static_cast<int>(rng() % (kHierMaxZoom + 1 - zmin))));
        } else {
            v.push_back(multi(rng, slot));
        }
        slot += 1 + static_cast<std::uint32_t>(rng() % (rng() % 8 == 0 ? 1000000 : 2));
    }
    return v;
}

TEST(HierarchyBlock, RandomNodesReadBackBitForBit) {
    std::mt19937_64 rng(7);
    for (int round = 0; round < 200; ++round) {
        const auto nodes = random_block(rng, rng() % 60);
        const auto bytes = encode(nodes);
        std::vector<HierBlockNode> back;
        ASSERT_EQ(Status::Ok, decode(bytes, &back));
        ASSERT_EQ(nodes.size(), back.size());
        for (std::size_t i = 0; i < nodes.size(); ++i) expect_same(nodes[i], back[i]);
        EXPECT_EQ(bytes, encode(back));  // canonical
    }
}

TEST(HierarchyBlock, EdgeValues) {
    std::vector<HierBlockNode> nodes{
        single(0, -90, -180, std::numeric_limits<std::int64_t>::min(), -1, 0, 0),
        single(1, 90, 180, std::numeric_limits<std::int64_t>::max(),
               std::numeric_limits<std::int64_t>::max(), 24, 24),
        single(0xffffffffu, -0.0, 0.0, 0, 0, 3, 17),
    };
    const auto bytes = encode(nodes);
    std::vector<HierBlockNode> back;
    ASSERT_EQ(Status::Ok, decode(bytes, &back));
    ASSERT_EQ(3u, back.size());
    for (int i = 0; i < 3; ++i) expect_same(nodes[i], back[i]);
    // An empty block.
    ASSERT_EQ(Status::Ok, decode(encode({}), &back));
    EXPECT_TRUE(back.empty());
}

// The nodes of a real build, one record per node, read back with their exact sums.
TEST(HierarchyBlock, BuildNodesReadBack) {
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> lat(-85, 85), lon(-180, 180);
    std::vector<HierMarker> markers;
    for (int i = 0; i < 3000; ++i)
        markers.push_back(HierMarker{lat(rng), i % 10 == 0 ? 179.99 : lon(rng), i * 7 - 5000});
    std::uint64_t next[kHierMaxZoom + 1] = {};
    HierBuild b{};
    ASSERT_EQ(Status::Ok, hierarchy_build(markers.data(), markers.size(), 60, 10, next, kAlloc,
                                          CancelCheck{nullptr, nullptr}, &b));
    // One block per zoom (each node's expansion zoom kept: it is the block's last zoom).
    for (int z = 0; z <= 10; ++z) {
        std::vector<HierBlockNode> nodes;
        for (std::size_t i = 0; i < b.n_nodes; ++i) {
            const HierNode& h = b.nodes[i];
            if (h.zoom != z) continue;
            nodes.push_back(HierBlockNode{static_cast<std::uint32_t>(i), h.zoom, h.zoom, h.count,
                                          h.id, h.parent_id, h.expansion_zoom, h.lat, h.lon,
                                          h.min_lat, h.min_lon, h.max_lat, h.max_lon,
                                          h.count > 1 ? h.sums : HierSums{}});
        }
        const auto bytes = encode(nodes, z, z);
        std::vector<HierBlockNode> back;
        ASSERT_EQ(Status::Ok, decode(bytes, &back));
        ASSERT_EQ(nodes.size(), back.size());
        for (std::size_t i = 0; i < nodes.size(); ++i) expect_same(nodes[i], back[i]);
    }
    hierarchy_free(kAlloc, &b);
}

TEST(HierarchyBlock, EncoderRefusesWhatCouldNotReadBack) {
    std::vector<unsigned char> out(hier_node_block_bound(2));
    std::size_t len = 99;
    const auto refused = [&](const HierBlockNode* nodes, std::size_t n, int lo, int hi) {
        len = 99;
        return hier_node_block_encode(nodes, n, lo, hi, out.data(), &len) == Status::Internal &&
               len == 0;
    };
    HierBlockNode two[2] = {single(5, 1, 1, 1, -1, 0, 0), single(5, 2, 2, 2, -1, 0, 0)};
    EXPECT_TRUE(refused(two, 2, 0, 24));  // slots not ascending
    HierBlockNode bad = single(0, 1, 1, 1, -1, 0, 0);
    bad.min_lat = bad.max_lat = NAN;
    EXPECT_TRUE(refused(&bad, 1, 0, 24));
    bad = single(0, 1, 1, 1, -1, 5, 4);  // zooms reversed
    EXPECT_TRUE(refused(&bad, 1, 0, 24));
    bad = single(0, 1, 1, 1, -1, 3, 6);  // zooms beyond the block's
    EXPECT_TRUE(refused(&bad, 1, 4, 8));
    EXPECT_TRUE(refused(&bad, 1, 0, 5));
    EXPECT_TRUE(refused(&bad, 1, 0, kHierMaxZoom + 1));
    bad = single(0, 1, 1, 1, -2, 0, 0);
    EXPECT_TRUE(refused(&bad, 1, 0, 24));
    bad = single(0, 10, 20, 1, -1, 0, 0);
    bad.lon = std::nextafter(bad.lon, 180.0);  // not the centre the build gives a marker there
    EXPECT_TRUE(refused(&bad, 1, 0, 24));
    std::mt19937_64 rng(1);
    bad = multi(rng, 0);
    bad.sums.count_w = bad.count + 1;
    EXPECT_TRUE(refused(&bad, 1, 0, 24));
    bad = multi(rng, 0);
    bad.sums.count_w = 0;
    bad.sums.min_lon_w = 3;  // a west range without west members
    EXPECT_TRUE(refused(&bad, 1, 0, 24));
    bad = multi(rng, 0);
    bad.zoom_min = bad.zoom_max = 3;
    bad.expansion_zoom = 3;
    EXPECT_TRUE(refused(&bad, 1, 0, 3));
    bad.expansion_zoom = 4;
    HierBlockNode ok = bad;
    encode({ok}, 0, 3);     // (encode expects Ok)
    ok.expansion_zoom = 9;  // it goes on unchanged beyond the block
    std::vector<HierBlockNode> back;
    ASSERT_EQ(Status::Ok, decode(encode({ok}, 0, 3), &back));
    EXPECT_EQ(9, back.at(0).expansion_zoom);
    ok.count = 1;
    EXPECT_TRUE(refused(&ok, 1, 0, 3));  // a single marker has none
    // A cluster that ends before the block's last zoom with one child (a write left it so): its
    // expansion zoom is stored, and read back; one that splits right after stores none (the
    // build's records: their bytes do not change).
    HierBlockNode one = multi(rng, 0);
    one.zoom_min = one.zoom_max = 3;
    one.expansion_zoom = 7;
    back.clear();
    const std::vector<unsigned char> with = encode({one}, 0, 24);
    ASSERT_EQ(Status::Ok, decode(with, &back));
    EXPECT_EQ(7, back.at(0).expansion_zoom);
    one.expansion_zoom = 4;
    EXPECT_GT(with.size(), encode({one}, 0, 24).size());
}

// hier_node_block_encode_made (the streamed create's) skips only the recomputation of a single
// marker's centre: the same bytes as the checked encoder for the same records (the centre is not
// stored, so a wrong one changes no byte and reads back as the right one), and every other check
// still made. That the create's centres are the right ones is the streamed-vs-packed equality of
// test/unit/hierarchy_pack_test.cpp (records compared field by field, centres included).
TEST(HierarchyBlock, EncodeMadeSkipsOnlyTheSingleCentreCheck) {
    std::mt19937_64 rng(7);
    std::vector<HierBlockNode> nodes;
    for (std::uint32_t i = 0; i < 40; ++i)
        nodes.push_back(i % 3 == 0 ? multi(rng, i)
                                   : single(i, -60.0 + 3.0 * i, 170.0 - 8.5 * i, i, 5, 0, 24));
    const auto made = [](const std::vector<HierBlockNode>& n, std::vector<unsigned char>* out) {
        out->assign(hier_node_block_bound(n.size()), 0);
        std::size_t len = 0;
        const Status s = hier_node_block_encode_made(n.data(), n.size(), 0, 24, out->data(), &len);
        out->resize(len);
        return s;
    };
    std::vector<unsigned char> bytes;
    ASSERT_EQ(Status::Ok, made(nodes, &bytes));
    EXPECT_EQ(encode(nodes, 0, 24), bytes);
    std::vector<HierBlockNode> wrong = nodes;
    wrong[1].lat = std::nextafter(wrong[1].lat, 90.0);  // not hier_single_centre's
    std::vector<unsigned char> out(hier_node_block_bound(wrong.size()));
    std::size_t len = 99;
    EXPECT_EQ(Status::Internal,
              hier_node_block_encode(wrong.data(), wrong.size(), 0, 24, out.data(), &len));
    std::vector<unsigned char> wrong_bytes;
    ASSERT_EQ(Status::Ok, made(wrong, &wrong_bytes));
    EXPECT_EQ(bytes, wrong_bytes);
    std::vector<HierBlockNode> back;
    ASSERT_EQ(Status::Ok, decode(wrong_bytes, &back));
    ASSERT_EQ(nodes.size(), back.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) expect_same(nodes[i], back[i]);
    for (const auto& breaks : std::vector<void (*)(HierBlockNode*)>{
             [](HierBlockNode* n) { n->max_lat = n->min_lat + 1e-9; },  // a single's box
             [](HierBlockNode* n) { n->lat = 91.0; },                   // a centre out of range
             [](HierBlockNode* n) { n->expansion_zoom = 3; },           // a single's expansion
             [](HierBlockNode* n) { n->parent_id = -2; }}) {
        wrong = nodes;
        breaks(&wrong[1]);
        EXPECT_NE(Status::Ok, made(wrong, &wrong_bytes));
    }
}

// Every prefix, a trailing byte, every bit flipped: corrupt or (for flips) some valid block,
// never a read out of bounds; and what decodes re-encodes to the same bytes.
TEST(HierarchyBlock, DamagedBytes) {
    std::mt19937_64 rng(11);
    const auto bytes = encode(random_block(rng, 12));
    std::vector<HierBlockNode> back;
    for (std::size_t len = 0; len < bytes.size(); ++len) {
        std::vector<unsigned char> cut(bytes.begin(),
                                       bytes.begin() + static_cast<std::ptrdiff_t>(len));
        EXPECT_EQ(Status::HierarchyBlockCorrupt, decode(cut, &back))
            << "prefix of " << len << " bytes";
    }
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode(longer, &back));
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            auto flipped = bytes;
            flipped[i] ^= static_cast<unsigned char>(1 << bit);
            const Status s = decode(flipped, &back);
            ASSERT_TRUE(s == Status::Ok || s == Status::HierarchyBlockCorrupt);
            if (s == Status::Ok) {
                // (bytes 1, 2: the block's zooms, the second with the zoom-ordered flag)
                EXPECT_EQ(flipped, encode(back, flipped[1], flipped[2] & ~kZoomOrdered));
            }
        }
    }
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode({1, 0, 0, 0}, &back));  // unknown version
    EXPECT_EQ(Status::HierarchyBlockCorrupt,
              decode({2, 0, 24, 0}, &back));  // the one-level index's
    EXPECT_EQ(Status::HierarchyBlockCorrupt,
              decode({3, 0, 24, 0}, &back));  // the two levels' without a zoom table
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode({4, 0, 0, 0x80, 0}, &back));  // overlong count
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode({4, 5, 4, 0}, &back));        // zooms reversed
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode({4, 0, 25, 0}, &back));  // beyond kHierMaxZoom
    EXPECT_EQ(Status::Ok, decode({4, 0, 24, 0}, &back));
}

// next_in keeps exactly the records a full decode would keep for the box, whatever the box
// (edges on positions, across the antimeridian, beyond the Web Mercator clamp), and a damaged
// block is as corrupt through it.
TEST(HierarchyBlock, BoxFilterKeepsWhatAFullDecodeKeeps) {
    std::mt19937_64 rng(13);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int round = 0; round < 300; ++round) {
        std::vector<HierBlockNode> nodes;
        std::uint32_t slot = 0;
        const double lat0 = unit(rng) * 178 - 89, lon0 = unit(rng) * 356 - 178;
        for (int i = 0; i < 40; ++i) {
            const double lat = std::max(-90.0, std::min(90.0, lat0 + (unit(rng) - 0.5) * 2));
            const double lon = std::max(-180.0, std::min(180.0, lon0 + (unit(rng) - 0.5) * 4));
            if (rng() % 4 == 0) {
                HierBlockNode m = multi(rng, slot);
                m.lat = lat;
                m.lon = lon;
                nodes.push_back(m);
            } else {
                nodes.push_back(
                    single(slot, lat, lon, i, -1, static_cast<int>(rng() % 25), kHierMaxZoom));
            }
            slot += 1 + static_cast<std::uint32_t>(rng() % 2);
        }
        const auto bytes = encode(nodes);
        HierBlockBox box{static_cast<int>(rng() % 25),
                         lat0 - unit(rng),
                         lat0 + unit(rng),
                         lon0 - 2 * unit(rng),
                         lon0 + 2 * unit(rng),
                         1,
                         0};
        if (rng() % 3 == 0) {  // edges exactly on a record's position or centre
            const HierBlockNode& e = nodes[rng() % nodes.size()];
            box.south = rng() % 2 ? e.lat : e.min_lat;
            box.west1 = rng() % 2 ? e.lon : e.min_lon;
        }
        if (rng() % 4 == 0) {  // two parts
            box.west2 = box.west1 - 3;
            box.east2 = box.west1 - 1;
        }
        std::vector<HierBlockNode> all, want, got;
        ASSERT_EQ(Status::Ok, decode(bytes, &all));
        for (const auto& n : all)
            if (box.zoom >= n.zoom_min && box.zoom <= n.zoom_max && n.lat >= box.south &&
                n.lat <= box.north &&
                ((n.lon >= box.west1 && n.lon <= box.east1) ||
                 (n.lon >= box.west2 && n.lon <= box.east2)))
                want.push_back(n);
        HierNodeBlockReader r;
        ASSERT_EQ(Status::Ok, hier_node_block_open(bytes.data(), bytes.size(), &r));
        HierBlockNode n;
        Status s;
        while (hier_node_block_next_in(&r, box, &n, &s)) got.push_back(n);
        ASSERT_EQ(Status::Ok, s);
        ASSERT_EQ(want.size(), got.size());
        for (std::size_t i = 0; i < want.size(); ++i) expect_same(want[i], got[i]);
        // A cut block: corrupt through next_in too.
        std::vector<unsigned char> cut(bytes.begin(), bytes.end() - 1);
        ASSERT_EQ(Status::Ok, hier_node_block_open(cut.data(), cut.size(), &r));
        while (hier_node_block_next_in(&r, box, &n, &s)) {
        }
        EXPECT_EQ(Status::HierarchyBlockCorrupt, s);
    }
}

// A block of more than kHierChunkRecords records has a chunk index: runs of records with the
// zooms and the grid box they span. A box reader skips the chunks it cannot keep from and reads
// only the others (hier_node_block_kept_chunks names their bytes: a block fetched in slices
// holds nothing else), and keeps exactly what a full decode keeps. Every byte of the index is
// checked against the records: changed, the block is corrupt.
TEST(HierarchyBlock, ChunkIndexSkipsWhatTheBoxCannotKeep) {
    std::mt19937_64 rng(29);
    std::uniform_real_distribution<double> unit(0, 1);
    for (int round = 0; round < 40; ++round) {
        std::vector<HierBlockNode> nodes;
        const int n = 17 + static_cast<int>(rng() % 750);
        // (every position clipped to the world only in the last rounds: the bounds of a box
        // there are exact, the records on one line)
        const bool inner = round < 30;
        const double lat0 = inner ? unit(rng) * 160 - 80 : unit(rng) * 170 - 85;
        const double lon0 = inner ? unit(rng) * 340 - 175 : unit(rng) * 350 - 175;
        for (int i = 0; i < n; ++i) {  // zoom by zoom, each zoom west to east, as the build
            const int zoom = 3 + 4 * i / n;
            const double lat = lat0 + (unit(rng) - 0.5) * 4;
            const double lon = lon0 + 5 * static_cast<double>(i % (n / 4 + 1)) / n + unit(rng) / 64;
            HierBlockNode d =
                single(static_cast<std::uint32_t>(i + (i > n / 2 ? 7 : 0)),
                       std::max(-90.0, std::min(90.0, lat)), std::max(-180.0, std::min(180.0, lon)),
                       i, 1000 + i / 3, zoom, 6 + static_cast<int>(rng() % 3));
            if (rng() % 5 == 0) {
                HierBlockNode m = multi(rng, d.slot);
                m.zoom_min = d.zoom_min;
                m.zoom_max = d.zoom_max;
                m.expansion_zoom =
                    m.zoom_max == 8 ? 9 + static_cast<int>(rng() % 3) : m.zoom_max + 1;
                m.lat = d.lat;
                m.lon = d.lon;
                d = m;
            }
            nodes.push_back(d);
        }
        const auto bytes = encode(nodes, 3, 8);
        std::vector<HierBlockNode> all;
        ASSERT_EQ(Status::Ok, decode(bytes, &all));
        ASSERT_EQ(nodes.size(), all.size());
        for (std::size_t i = 0; i < all.size(); ++i) expect_same(nodes[i], all[i]);
        for (int b = 0; b < 20; ++b) {
            const double w = 0.05 + unit(rng) * 2;
            const double west = lon0 + unit(rng) * 1.5;
            const HierBlockBox box{
                3 + static_cast<int>(rng() % 6), lat0 - w, lat0 + w / 2, west, west + w, 1, 0};
            for (bool markers : {false, true}) {
                std::vector<HierBlockNode> want, got;
                for (const auto& d : all) {
                    const double lat = markers ? d.min_lat : d.lat,
                                 lon = markers ? d.min_lon : d.lon;
                    if ((markers ? d.count == 1
                                 : box.zoom >= d.zoom_min && box.zoom <= d.zoom_max) &&
                        lat >= box.south && lat <= box.north && lon >= box.west1 &&
                        lon <= box.east1)
                        want.push_back(d);
                }
                // Only the header, the index and the chunks it names: the rest is garbage.
                HierNodeBlockReader r;
                ASSERT_EQ(Status::Ok, hier_node_block_open(bytes.data(), bytes.size(), &r));
                std::size_t header = 0;
                ASSERT_EQ(Status::Ok, hier_node_block_header_bytes(bytes.data(), bytes.size(), box,
                                                                   markers, &header));
                std::vector<unsigned char> sparse(bytes.size(), 0xff);
                std::copy(bytes.begin(), bytes.begin() + static_cast<long>(header), sparse.begin());
                struct Copy {
                    const std::vector<unsigned char>* from;
                    std::vector<unsigned char>* to;
                    std::size_t bytes;
                } c{&bytes, &sparse, 0};
                ASSERT_EQ(Status::Ok, hier_node_block_kept_chunks(
                                          r, bytes.data(), box, markers,
                                          [](void* ctx, std::size_t off, std::size_t len) {
                                              auto* k = static_cast<Copy*>(ctx);
                                              std::copy(
                                                  k->from->begin() + static_cast<long>(off),
                                                  k->from->begin() + static_cast<long>(off + len),
                                                  k->to->begin() + static_cast<long>(off));
                                              k->bytes += len;
                                          },
                                          &c));
                ASSERT_EQ(Status::Ok, hier_node_block_open(sparse.data(), sparse.size(), &r));
                HierBlockNode d;
                Status s;
                while (markers ? hier_node_block_next_marker_in(&r, box, &d, &s)
                               : hier_node_block_next_in(&r, box, &d, &s))
                    got.push_back(d);
                ASSERT_EQ(Status::Ok, s);
                ASSERT_EQ(want.size(), got.size()) << "round " << round << " markers " << markers;
                for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(want[i].slot, got[i].slot);
                if (w < 0.2 && !markers && n > 400 && inner) {
                    EXPECT_LT(c.bytes, bytes.size() - header) << "a small box reads every chunk";
                }
            }
        }
        // Any index byte changed: corrupt, or (a chunk's first slot or grid corner, which its
        // records' slots and positions follow) other records that encode to exactly those
        // bytes: the index is canonical.
        std::size_t header = 0;
        ASSERT_EQ(Status::Ok, hier_node_block_header_bytes(bytes.data(), bytes.size(),
                                                           HierBlockBox{}, true, &header));
        for (std::size_t i = 4; i < header; ++i) {
            auto damaged = bytes;
            damaged[i] ^= 0x01;
            std::vector<HierBlockNode> other;
            if (decode(damaged, &other) == Status::Ok) {
                EXPECT_EQ(damaged, encode(other, 3, 8)) << "index byte " << i;
                bool same = other.size() == all.size();
                for (std::size_t k = 0; same && k < all.size(); ++k)
                    same = other[k].slot == all[k].slot && same_bits(other[k].lat, all[k].lat) &&
                           same_bits(other[k].lon, all[k].lon) &&
                           other[k].parent_id == all[k].parent_id;
                EXPECT_FALSE(same) << "index byte " << i;
            }
        }
    }
}

// A block whose records are born zoom by zoom (as the build writes them) carries kZoomOrdered,
// and next_in stops at its first record born after the box's zoom: what it keeps is still what a
// full decode keeps, and the bytes after that record are not read (a damaged tail goes unseen).
// The flag is canonical: set on an unordered block, clear on an ordered one, or set on a block of
// fewer than two records, it is corrupt.
TEST(HierarchyBlock, ZoomOrderedBlocksStopAtTheFirstLaterZoom) {
    std::vector<HierBlockNode> nodes;
    for (std::uint32_t i = 0; i < 30; ++i)  // zoom_min 0, 0, 0, 1, 1, 1, ... 9: one degree apart
        nodes.push_back(single(i, 10.0 + 0.01 * i, 20.0, 100 + i, -1, static_cast<int>(i / 3), 9));
    auto bytes = encode(nodes, 0, 9);
    ASSERT_EQ(9 | kZoomOrdered, bytes[2]);
    std::vector<HierBlockNode> all;
    ASSERT_EQ(Status::Ok, decode(bytes, &all));
    for (int zoom = 0; zoom <= 9; ++zoom) {
        const HierBlockBox box{zoom, -90, 90, -180, 180, 1, 0};
        std::vector<std::uint32_t> want, got;
        for (const auto& n : all)
            if (n.zoom_min <= zoom) want.push_back(n.slot);
        auto damaged = bytes;  // everything after the records alive at zoom: garbage
        std::size_t alive_bytes = bytes.size();
        if (zoom < 9) {
            HierNodeBlockReader r;
            ASSERT_EQ(Status::Ok, hier_node_block_open(bytes.data(), bytes.size(), &r));
            HierBlockNode n;
            Status s;
            while (hier_node_block_next(&r, &n, &s) && n.zoom_min <= zoom) {
            }
            alive_bytes = static_cast<std::size_t>(r.p - bytes.data());
            for (std::size_t i = alive_bytes; i < damaged.size(); ++i) damaged[i] = 0xff;
        }
        HierNodeBlockReader r;
        ASSERT_EQ(Status::Ok, hier_node_block_open(damaged.data(), damaged.size(), &r));
        HierBlockNode n;
        Status s;
        while (hier_node_block_next_in(&r, box, &n, &s)) got.push_back(n.slot);
        EXPECT_EQ(Status::Ok, s) << "zoom " << zoom;
        EXPECT_EQ(want, got) << "zoom " << zoom;
        EXPECT_EQ(static_cast<std::size_t>(3 * (zoom + 1)), got.size());
    }
    // The flag wrong either way, or on a single record: corrupt.
    auto cleared = bytes;
    cleared[2] = 9;
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode(cleared, &all));
    std::swap(nodes[4].zoom_min, nodes[20].zoom_min);
    const auto unordered = encode(nodes, 0, 9);
    ASSERT_EQ(9, unordered[2]);
    EXPECT_EQ(Status::Ok, decode(unordered, &all));
    auto flagged = unordered;
    flagged[2] |= kZoomOrdered;
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode(flagged, &all));
    auto one = encode({nodes[0]}, 0, 9);
    ASSERT_EQ(9, one[2]);
    one[2] |= kZoomOrdered;
    EXPECT_EQ(Status::HierarchyBlockCorrupt, decode(one, &all));
}

// A zoom-ordered block with an index has a zoom table: per zoom, the bytes of the top index
// through the last group born at that zoom or before. A box reader at zoom z reads the top
// index only so far, and a reader fetching slices fetches the header only so far
// (hier_node_block_header_bytes): here every other byte, the rest of the top index included, is
// garbage, and the reader still keeps exactly what a full decode keeps. The table is exact:
// any of its bytes changed, the block is corrupt.
TEST(HierarchyBlock, ZoomTableBoundsTheTopIndex) {
    std::mt19937_64 rng(41);
    std::uniform_real_distribution<double> unit(0, 1);
    std::vector<HierBlockNode> nodes;
    // zooms 3-8, each zoom twice the records of the one before (as in a band of the build)
    std::uint32_t slot = 0;
    for (int zoom = 3; zoom <= 8; ++zoom)
        for (int i = 0; i < 10 << (zoom - 3); ++i, ++slot)
            nodes.push_back(
                single(slot, 40 + unit(rng), 10 + unit(rng), slot, 1000 + slot / 4, zoom,
                       zoom + static_cast<int>(rng() % static_cast<unsigned>(9 - zoom))));
    const auto bytes = encode(nodes, 3, 8);
    ASSERT_EQ(8 | kZoomOrdered, bytes[2]);
    std::vector<HierBlockNode> all;
    ASSERT_EQ(Status::Ok, decode(bytes, &all));
    std::size_t whole = 0, before = 0, first = 0;
    ASSERT_EQ(Status::Ok, hier_node_block_header_bytes(bytes.data(), bytes.size(), HierBlockBox{},
                                                       true, &whole));
    for (int zoom = 3; zoom <= 8; ++zoom) {
        const HierBlockBox box{zoom, -90, 90, -180, 180, 1, 0};
        std::size_t header = 0;
        ASSERT_EQ(Status::Ok,
                  hier_node_block_header_bytes(bytes.data(), bytes.size(), box, false, &header));
        EXPECT_GE(header, before) << "zoom " << zoom;
        if (zoom < 8) {
            EXPECT_LT(header, whole) << "zoom " << zoom;
        }
        before = header;
        if (zoom == 3) first = header;
        std::vector<unsigned char> sparse(bytes.size(), 0xff);
        std::copy(bytes.begin(), bytes.begin() + static_cast<long>(header), sparse.begin());
        HierNodeBlockReader r;
        ASSERT_EQ(Status::Ok, hier_node_block_open(bytes.data(), bytes.size(), &r));
        struct Copy {
            const std::vector<unsigned char>* from;
            std::vector<unsigned char>* to;
        } c{&bytes, &sparse};
        ASSERT_EQ(Status::Ok, hier_node_block_kept_chunks(
                                  r, bytes.data(), box, false,
                                  [](void* ctx, std::size_t off, std::size_t len) {
                                      auto* k = static_cast<Copy*>(ctx);
                                      std::copy(k->from->begin() + static_cast<long>(off),
                                                k->from->begin() + static_cast<long>(off + len),
                                                k->to->begin() + static_cast<long>(off));
                                  },
                                  &c));
        std::vector<std::uint32_t> want, got;
        for (const auto& n : all)
            if (n.zoom_min <= zoom && zoom <= n.zoom_max) want.push_back(n.slot);
        ASSERT_EQ(Status::Ok, hier_node_block_open(sparse.data(), sparse.size(), &r));
        HierBlockNode n;
        Status s;
        while (hier_node_block_next_in(&r, box, &n, &s)) got.push_back(n.slot);
        EXPECT_EQ(Status::Ok, s) << "zoom " << zoom;
        EXPECT_EQ(want, got) << "zoom " << zoom;
        // (the top entries read: the groups born at zoom or before, no later one)
        std::uint64_t born = 0;
        for (const auto& d : all) born += d.zoom_min <= zoom;
        EXPECT_LE(r.entries_read, (born + 63) / 64 * 5) << "zoom " << zoom;
    }
    EXPECT_LT(first, before) << "the first zoom's header is the whole top index";
    // The table: after the version, the zooms, the record count and the index's byte count.
    std::size_t at = 3;
    while (bytes[at] & 0x80) ++at;
    ++at;
    while (bytes[at] & 0x80) ++at;
    ++at;
    for (std::size_t i = at; i < at + 5; ++i)
        for (int step : {-1, 1}) {
            auto damaged = bytes;
            damaged[i] = static_cast<unsigned char>(damaged[i] + step);
            EXPECT_EQ(Status::HierarchyBlockCorrupt, decode(damaged, &all))
                << "table byte " << i - at << " step " << step;
        }
}

}  // namespace
