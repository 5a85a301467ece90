// Large arrays as mappings of their own, kept for reuse (region_alloc.hpp).
#include "core.hpp"

#include "region_alloc.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <new>

namespace geocluster {

namespace {

// Each block has its kind in the 8 bytes before it, so that release tells a mapping from a small
// block. A mapping starts with its Region (64 bytes: the block stays 64-byte aligned).
constexpr std::uint64_t kSmallKind = 0x6763736d616c6c31ull;
constexpr std::uint64_t kRegionKind = 0x67637265672d3031ull;
constexpr std::size_t kSmallHeader = 16;
constexpr std::size_t kMaxKept = 64;  // a build releases its arrays a few at a time

struct Region {
    std::size_t mapped;     // bytes mapped, this header included
    std::size_t requested;  // what its request counts (pages)
    Region* prev;
    Region* next;
    std::uint64_t pad[3];
    std::uint64_t kind;
};
static_assert(sizeof(Region) == 64, "a mapping's header keeps its block 64-byte aligned");

struct List {
    Region* head = nullptr;
    Region* tail = nullptr;
    std::size_t n = 0;
    void push(Region* r) noexcept {
        r->prev = tail;
        r->next = nullptr;
        (tail != nullptr ? tail->next : head) = r;
        tail = r;
        ++n;
    }
    void unlink(Region* r) noexcept {
        (r->prev != nullptr ? r->prev->next : head) = r->next;
        (r->next != nullptr ? r->next->prev : tail) = r->prev;
        --n;
    }
};

}  // namespace

struct RegionAllocator {
    Allocator small;
    std::size_t min_bytes;
    std::size_t page;
    List in_use, kept;          // kept: oldest first
    std::size_t requested = 0;  // pages the requests in use count
    RegionStats stats{};
};

namespace {

void unmap(RegionAllocator* a, List* from, Region* r) noexcept {
    from->unlink(r);
    a->stats.mapped_bytes -= r->mapped;
    munmap(r, r->mapped);
}

// Kept mappings unmapped, oldest first, until growth more bytes stay within the requests' peak.
void make_room(RegionAllocator* a, std::size_t growth) noexcept {
    while (a->kept.head != nullptr && a->stats.mapped_bytes + growth > a->stats.request_peak_bytes)
        unmap(a, &a->kept, a->kept.head);
}

// The smallest kept mapping of total bytes to twice that, else the largest smaller one, to grow
// (nullptr: none). A mapping more than twice as large is left for a larger request: cut to this
// one, most of its pages, written already, would be unmapped.
Region* pick(const RegionAllocator* a, std::size_t total) noexcept {
    Region *fit = nullptr, *smaller = nullptr;
    for (Region* r = a->kept.head; r != nullptr; r = r->next) {
        if (r->mapped >= total) {
            if (r->mapped / 2 <= total && (fit == nullptr || r->mapped < fit->mapped)) fit = r;
        } else if (smaller == nullptr || r->mapped > smaller->mapped) {
            smaller = r;
        }
    }
    return fit != nullptr ? fit : smaller;
}

// r (unlinked from kept) made total bytes: its tail unmapped, or grown (nullptr if it cannot be:
// then it is unmapped).
Region* resize(RegionAllocator* a, Region* r, std::size_t total) noexcept {
    const std::size_t old = r->mapped;
    if (old >= total) {
        if (old > total) munmap(reinterpret_cast<unsigned char*>(r) + total, old - total);
        a->stats.mapped_bytes -= old - total;
        a->stats.reused_bytes += total;
        r->mapped = total;
        return r;
    }
#ifdef __linux__
    make_room(a, total - old);
    void* q = mremap(r, old, total, MREMAP_MAYMOVE);
    if (q != MAP_FAILED) {
        a->stats.mapped_bytes += total - old;
        a->stats.fresh_bytes += total - old;
        a->stats.reused_bytes += old;
        auto* g = static_cast<Region*>(q);
        g->mapped = total;
        return g;
    }
#endif
    a->stats.mapped_bytes -= old;
    munmap(r, old);
    return nullptr;
}

Region* map_fresh(RegionAllocator* a, std::size_t total) noexcept {
    make_room(a, total);
    void* q = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) {
        while (a->kept.head != nullptr) unmap(a, &a->kept, a->kept.head);
        q = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (q == MAP_FAILED) return nullptr;
    }
    a->stats.mapped_bytes += total;
    a->stats.fresh_bytes += total;
    auto* r = static_cast<Region*>(q);
    r->mapped = total;
    return r;
}

void* region_alloc(void* ctx, std::size_t bytes) noexcept {
    auto* a = static_cast<RegionAllocator*>(ctx);
    if (bytes < a->min_bytes) {
        if (bytes > SIZE_MAX - kSmallHeader) return nullptr;
        auto* p = static_cast<unsigned char*>(a->small.alloc(a->small.ctx, bytes + kSmallHeader));
        if (p == nullptr) return nullptr;
        *reinterpret_cast<std::uint64_t*>(p + kSmallHeader - 8) = kSmallKind;
        return p + kSmallHeader;
    }
    if (bytes > SIZE_MAX / 2) return nullptr;
    const std::size_t total = (bytes + sizeof(Region) + a->page - 1) / a->page * a->page;
    a->requested += total;
    a->stats.request_peak_bytes = std::max(a->stats.request_peak_bytes, a->requested);
    Region* r = pick(a, total);
    if (r != nullptr) {
        a->kept.unlink(r);
        r = resize(a, r, total);
    }
    if (r == nullptr) r = map_fresh(a, total);
    if (r == nullptr) {
        a->requested -= total;
        return nullptr;
    }
    r->requested = total;
    r->kind = kRegionKind;
    a->in_use.push(r);
    make_room(a, 0);
    a->stats.mapped_peak_bytes = std::max(a->stats.mapped_peak_bytes, a->stats.mapped_bytes);
    return r + 1;
}

void region_release(void* ctx, void* p) noexcept {
    auto* a = static_cast<RegionAllocator*>(ctx);
    auto* b = static_cast<unsigned char*>(p);
    if (*reinterpret_cast<const std::uint64_t*>(b - 8) == kSmallKind) {
        a->small.release(a->small.ctx, b - kSmallHeader);
        return;
    }
    Region* r = reinterpret_cast<Region*>(b) - 1;
    a->in_use.unlink(r);
    a->requested -= r->requested;
    a->kept.push(r);
    if (a->kept.n > kMaxKept) unmap(a, &a->kept, a->kept.head);
}

}  // namespace

Status region_allocator_create(const Allocator& small, std::size_t min_bytes,
                               RegionAllocator** out) noexcept {
    *out = nullptr;
    void* mem = small.alloc(small.ctx, sizeof(RegionAllocator));
    if (mem == nullptr) return Status::OutOfMemory;
    auto* a = new (mem) RegionAllocator{};
    a->small = small;
    a->min_bytes = min_bytes;
    const long page = sysconf(_SC_PAGESIZE);
    a->page = page > 0 ? static_cast<std::size_t>(page) : 4096;
    *out = a;
    return Status::Ok;
}

Allocator region_allocator(RegionAllocator* r) noexcept {
    return Allocator{&region_alloc, &region_release, r, r->small.budget_bytes};
}

RegionStats region_allocator_stats(const RegionAllocator* r) noexcept { return r->stats; }

void region_allocator_unmap_all(RegionAllocator* r) noexcept {
    while (r->in_use.head != nullptr) unmap(r, &r->in_use, r->in_use.head);
    while (r->kept.head != nullptr) unmap(r, &r->kept, r->kept.head);
    r->requested = 0;
}

void region_allocator_free(RegionAllocator* r) noexcept {
    if (r == nullptr) return;
    region_allocator_unmap_all(r);
    const Allocator small = r->small;
    small.release(small.ctx, r);
}

}  // namespace geocluster
