// Delta rows (src/core/hierarchy_delta.hpp): a block read with its delta is the block with the
// delta's records in place of the shadowed ones, whichever reader reads it; folding gives the
// same records; malformed deltas are refused.
#include "hierarchy_delta.hpp"

#include "hierarchy_block.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace geocluster {
namespace {

// A block of single markers, one per slot in slots, along a diagonal.
HierBlockNode marker(std::uint32_t slot, double lat, double lon) {
    HierBlockNode r{};
    r.slot = slot;
    r.zoom_min = 5;
    r.zoom_max = 6;
    r.count = 1;
    r.id = 1000 + slot;
    r.parent_id = -1;
    r.expansion_zoom = -1;
    hier_single_centre(lat, lon, &r.lat, &r.lon);
    r.min_lat = r.max_lat = lat;
    r.min_lon = r.max_lon = lon;
    return r;
}

std::vector<unsigned char> encode(const std::vector<HierBlockNode>& recs) {
    std::vector<unsigned char> out(hier_node_block_bound(recs.size()));
    std::size_t len = 0;
    EXPECT_EQ(hier_node_block_encode(recs.data(), recs.size(), 0, 6, out.data(), &len), Status::Ok);
    out.resize(len);
    return out;
}

std::vector<std::uint32_t> slots_read(const std::vector<unsigned char>& block,
                                      const std::vector<unsigned char>& delta) {
    HierOverlayReader rd;
    EXPECT_EQ(hier_overlay_open(block.data(), block.size(), delta.data(), delta.size(), &rd),
              Status::Ok);
    std::vector<std::uint32_t> got;
    HierBlockNode r;
    Status s = Status::Ok;
    while (hier_overlay_next(&rd, &r, &s)) got.push_back(r.slot);
    EXPECT_EQ(s, Status::Ok);
    return got;
}

TEST(HierarchyDelta, OverlayReplacesRemovesAndAdds) {
    std::vector<HierBlockNode> base;
    for (std::uint32_t i = 0; i < 40; ++i) base.push_back(marker(i, i * 0.5, i * 0.5));
    const auto block = encode(base);
    // Slot 3 moves, slot 7 is gone, slot 40 is new.
    std::vector<HierBlockNode> changed{marker(3, -10, -10), marker(40, 20, -20)};
    std::vector<unsigned char> delta;
    ASSERT_EQ(hier_delta_encode({3, 7, 40}, changed, 0, 6, &delta), Status::Ok);
    std::vector<std::uint32_t> want;
    for (std::uint32_t i = 0; i < 40; ++i)
        if (i != 3 && i != 7) want.push_back(i);
    want.push_back(3);
    want.push_back(40);
    EXPECT_EQ(slots_read(block, delta), want);
    HierBlockNode r;
    bool found = false;
    // A box reader keeps the moved record at its new place only.
    HierOverlayReader rd;
    ASSERT_EQ(hier_overlay_open(block.data(), block.size(), delta.data(), delta.size(), &rd),
              Status::Ok);
    const HierBlockBox box{5, -11, -9, -11, -9, 1, 0};
    Status s = Status::Ok;
    std::vector<std::uint32_t> in_box;
    while (hier_overlay_next_in(&rd, box, &r, &s)) in_box.push_back(r.slot);
    EXPECT_EQ(s, Status::Ok);
    EXPECT_EQ(in_box, std::vector<std::uint32_t>{3});
    // Folding gives the same records, in slot order, with no delta.
    unsigned char* out = nullptr;
    std::size_t out_len = 0;
    const Allocator heap{[](void*, std::size_t n) { return std::malloc(n); },
                         [](void*, void* p) { std::free(p); }, nullptr, 0};
    ASSERT_EQ(hier_delta_fold(block.data(), block.size(), delta.data(), delta.size(), heap, &out,
                              &out_len),
              Status::Ok);
    const std::vector<unsigned char> folded(out, out + out_len);
    std::free(out);
    std::vector<std::uint32_t> want_sorted;
    for (std::uint32_t i = 0; i <= 40; ++i)
        if (i != 7) want_sorted.push_back(i);
    EXPECT_EQ(slots_read(folded, {}), want_sorted);
    (void)found;
}

TEST(HierarchyDelta, AnUnshadowedRecordOrAMalformedHeaderIsRefused) {
    std::vector<unsigned char> delta;
    // The encoder refuses a record whose slot is not shadowed, and unsorted slots.
    EXPECT_EQ(hier_delta_encode({1}, {marker(2, 0, 0)}, 0, 6, &delta), Status::Internal);
    EXPECT_EQ(hier_delta_encode({4, 2}, {}, 0, 6, &delta), Status::Internal);
    HierDelta d;
    const unsigned char wrong_version[] = {9, 0, 0, 0, 0};
    EXPECT_EQ(hier_delta_open(wrong_version, sizeof wrong_version, &d),
              Status::HierarchyBlockCorrupt);
    const unsigned char too_short[] = {kHierDeltaVersion, 2, 0, 0, 0, 1, 0, 0, 0};
    EXPECT_EQ(hier_delta_open(too_short, sizeof too_short, &d), Status::HierarchyBlockCorrupt);
    const unsigned char unsorted[] = {kHierDeltaVersion, 2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0};
    EXPECT_EQ(hier_delta_open(unsorted, sizeof unsorted, &d), Status::HierarchyBlockCorrupt);
    // A delta whose node block holds a slot it does not shadow is found by the reader.
    const auto block = encode({marker(0, 1, 1)});
    std::vector<unsigned char> bad{kHierDeltaVersion, 1, 0, 0, 0, 0, 0, 0, 0};
    const auto nodes = encode({marker(0, 2, 2), marker(1, 3, 3)});
    bad.insert(bad.end(), nodes.begin(), nodes.end());
    HierOverlayReader rd;
    ASSERT_EQ(hier_overlay_open(block.data(), block.size(), bad.data(), bad.size(), &rd),
              Status::Ok);
    HierBlockNode r;
    Status s = Status::Ok;
    while (hier_overlay_next(&rd, &r, &s)) {
    }
    EXPECT_EQ(s, Status::HierarchyBlockCorrupt);
}

TEST(HierarchyDelta, FindSlotAndSlotEndAgreeWithAFullDecode) {
    // A block with an index (groups and chunks) and gaps between slots.
    std::vector<HierBlockNode> recs;
    std::uint32_t slot = 0;
    for (int i = 0; i < 700; ++i) {
        slot += 1 + static_cast<std::uint32_t>(i * 7 % 5);
        recs.push_back(marker(slot, -60 + (i * 13 % 120), -170 + (i * 31 % 340)));
    }
    const auto block = encode(recs);
    std::uint64_t end = 0;
    ASSERT_EQ(hier_node_block_slot_end(block.data(), block.size(), &end), Status::Ok);
    EXPECT_EQ(end, std::uint64_t{slot} + 1);
    std::size_t at = 0;
    for (std::uint32_t s = 0; s <= slot + 2; ++s) {
        while (at < recs.size() && recs[at].slot < s) ++at;
        const bool want = at < recs.size() && recs[at].slot == s;
        HierBlockNode got{};
        bool found = false;
        ASSERT_EQ(hier_node_block_find_slot(block.data(), block.size(), s, &got, &found),
                  Status::Ok);
        ASSERT_EQ(found, want) << "slot " << s;
        if (found) {
            EXPECT_EQ(got.id, recs[at].id);
            EXPECT_EQ(got.min_lat, recs[at].min_lat);
        }
    }
}

TEST(HierarchyDelta, FoldIsDueAtTheSquareRootOfTheBlock) {
    EXPECT_TRUE(hier_delta_fold_due(kHierDeltaMinBlockBytes - 1, 0));
    EXPECT_FALSE(hier_delta_fold_due(std::size_t{2} << 20, 30000));
    EXPECT_TRUE(hier_delta_fold_due(std::size_t{2} << 20, 40000));
    EXPECT_FALSE(hier_delta_fold_due(100, 50, 0));
}

}  // namespace
}  // namespace geocluster
