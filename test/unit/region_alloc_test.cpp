// The build's mapped arrays (src/core/region_alloc.hpp): every block keeps what was written to it
// while others come and go (kept mappings reused, cut and grown); what is mapped never exceeds
// the requests' peak; released mappings are reused; unmap_all and free leave nothing behind.
#include "region_alloc.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

namespace geocluster::testing {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;

struct SmallCount {  // the small allocator: malloc, counted
    std::size_t live = 0;
    static void* alloc(void* ctx, std::size_t n) {
        static_cast<SmallCount*>(ctx)->live++;
        return std::malloc(n);
    }
    static void release(void* ctx, void* p) {
        static_cast<SmallCount*>(ctx)->live--;
        std::free(p);
    }
    Allocator allocator() { return Allocator{&alloc, &release, this, 0}; }
};

struct Block {
    unsigned char* p;
    std::size_t n;
    unsigned char tag;
};

void fill(const Block& b) { std::memset(b.p, b.tag, b.n); }
bool intact(const Block& b) {
    for (std::size_t i = 0; i < b.n; i += 509)
        if (b.p[i] != b.tag) return false;
    return b.p[b.n - 1] == b.tag && b.p[0] == b.tag;
}

TEST(RegionAlloc, BlocksKeepTheirBytesAndMappedStaysWithinTheRequestsPeak) {
    SmallCount sc;
    RegionAllocator* r = nullptr;
    ASSERT_EQ(Status::Ok, region_allocator_create(sc.allocator(), kMiB, &r));
    const Allocator a = region_allocator(r);
    std::mt19937_64 rng(7);
    std::vector<Block> live;
    for (int step = 0; step < 3000; ++step) {
        if (!live.empty() && (rng() % 100 < 45 || live.size() > 40)) {
            const std::size_t k = rng() % live.size();
            ASSERT_TRUE(intact(live[k])) << "step " << step;
            a.release(a.ctx, live[k].p);
            live.erase(live.begin() + static_cast<long>(k));
            continue;
        }
        // small blocks, mapped ones of 1-24 MiB, and sizes just around a kept one's
        const std::size_t n = rng() % 4 == 0 ? 1 + rng() % (kMiB - 1) : kMiB + rng() % (24 * kMiB);
        Block b{static_cast<unsigned char*>(a.alloc(a.ctx, n)), n,
                static_cast<unsigned char>(1 + step % 251)};
        ASSERT_NE(nullptr, b.p);
        EXPECT_EQ(0u, reinterpret_cast<std::uintptr_t>(b.p) % 16);
        fill(b);
        live.push_back(b);
        const RegionStats s = region_allocator_stats(r);
        ASSERT_LE(s.mapped_bytes, s.request_peak_bytes) << "step " << step;
    }
    const RegionStats s = region_allocator_stats(r);
    EXPECT_GT(s.reused_bytes, 0u);
    EXPECT_LE(s.mapped_peak_bytes, s.request_peak_bytes);
    for (const Block& b : live) {
        EXPECT_TRUE(intact(b));
        a.release(a.ctx, b.p);
    }
    region_allocator_free(r);
    EXPECT_EQ(0u, sc.live);
}

// Whether the page holding p is mapped (mincore fails with ENOMEM on an unmapped one).
bool mapped(const unsigned char* p) {
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    unsigned char v = 0;
    void* at = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) / page * page);
    return mincore(at, 1, &v) == 0 || errno != ENOMEM;
}

TEST(RegionAlloc, ReleasedMappingsAreReusedCutAndGrown) {
    SmallCount sc;
    RegionAllocator* r = nullptr;
    ASSERT_EQ(Status::Ok, region_allocator_create(sc.allocator(), kMiB, &r));
    const Allocator a = region_allocator(r);
    void* p = a.alloc(a.ctx, 8 * kMiB);
    ASSERT_NE(nullptr, p);
    const std::size_t fresh8 = region_allocator_stats(r).fresh_bytes;
    EXPECT_GE(fresh8, 8 * kMiB);
    a.release(a.ctx, p);
    // Within a half: the kept one, cut (its tail unmapped), nothing mapped afresh.
    p = a.alloc(a.ctx, 6 * kMiB);
    EXPECT_EQ(fresh8, region_allocator_stats(r).fresh_bytes);
    EXPECT_LT(region_allocator_stats(r).mapped_bytes, 7 * kMiB);
    EXPECT_FALSE(mapped(static_cast<unsigned char*>(p) + 7 * kMiB));  // the tail went back
    std::memset(p, 3, 6 * kMiB);
    a.release(a.ctx, p);
    // Larger: the kept one grown, only the growth mapped afresh, its bytes moved with it.
    unsigned char* q = static_cast<unsigned char*>(a.alloc(a.ctx, 9 * kMiB));
    ASSERT_NE(nullptr, q);
    const RegionStats s = region_allocator_stats(r);
#ifdef __linux__
    EXPECT_LT(s.fresh_bytes - fresh8, 4 * kMiB);
    EXPECT_EQ(3, q[5 * kMiB]);
#endif
    EXPECT_LE(s.mapped_bytes, s.request_peak_bytes);
    // Far smaller than a kept one: mapped afresh, not cut from it (which the bound then unmaps).
    a.release(a.ctx, q);
    const std::size_t fresh9 = region_allocator_stats(r).fresh_bytes;
    void* small = a.alloc(a.ctx, kMiB + 1);
    EXPECT_GT(region_allocator_stats(r).fresh_bytes, fresh9 + kMiB);
    EXPECT_LE(region_allocator_stats(r).mapped_bytes, region_allocator_stats(r).request_peak_bytes);
    // unmap_all takes what is in use too, and can be called again.
    region_allocator_unmap_all(r);
    EXPECT_EQ(0u, region_allocator_stats(r).mapped_bytes);
    region_allocator_unmap_all(r);
    (void)small;
    region_allocator_free(r);
    EXPECT_EQ(0u, sc.live);
}

TEST(RegionAlloc, SmallRequestsGoToTheSmallAllocator) {
    SmallCount sc;
    RegionAllocator* r = nullptr;
    ASSERT_EQ(Status::Ok, region_allocator_create(sc.allocator(), kMiB, &r));
    EXPECT_EQ(1u, sc.live);  // the state
    const Allocator a = region_allocator(r);
    void* p = a.alloc(a.ctx, kMiB - 1);
    EXPECT_EQ(2u, sc.live);
    EXPECT_EQ(0u, region_allocator_stats(r).mapped_bytes);
    a.release(a.ctx, p);
    EXPECT_EQ(1u, sc.live);
    region_allocator_free(r);
    EXPECT_EQ(0u, sc.live);
}

}  // namespace
}  // namespace geocluster::testing
