// An Allocator for one build's large arrays (the streamed create's, hierarchy_stream.hpp): each a
// private anonymous mapping of its own, kept for reuse when it is released.
//
// Why. A create at 10M markers allocates and releases about 5.4 GB of arrays of 1 MB and more
// (every zoom's sweep arrays, each band's records) while at most 0.93 GB is live at once.
//  - Through malloc, every array over glibc's mmap threshold was a fresh mapping: a page fault for
//    each of its pages, about 2 s of system time.
//  - The arrays under it came from glibc's heap, whose holes kept 190 MiB of the backend's
//    resident memory after they were released.
// Here a released mapping is kept, and a later request takes the smallest kept one that is large
// enough, its tail beyond the request unmapped; if none is, it takes the largest kept one, grown
// in place or moved by the kernel (mremap: no copy, no new fault for its pages).
//
// Bound. What it maps (arrays in use plus kept ones, whole pages) never exceeds the most the
// requests ever had in use at once (whole pages, plus one page per array):
//  - kept mappings are unmapped, oldest first, whenever holding them would pass that;
//  - a reused mapping is cut to its request.
// So its resident memory is the requests' peak, not more.
//
// Requests under min_bytes (kRegionMinBytes: the 1 MiB chunks of the sweep's pool and larger) go
// to the small allocator given. Everything still mapped (in use
// or kept) is unmapped by region_allocator_unmap_all, which a caller whose errors unwind past the
// build (PostgreSQL's) calls from a memory context callback. POSIX mmap; the growth by mremap on
// Linux only (elsewhere a fresh mapping).
#pragma once

#include "core.hpp"

#include "cluster.hpp"

namespace geocluster {

constexpr std::size_t kRegionMinBytes = std::size_t{1} << 20;

struct RegionAllocator;

struct RegionStats {
    std::size_t mapped_bytes;        // mapped now: in use and kept
    std::size_t mapped_peak_bytes;   // the most mapped at once
    std::size_t request_peak_bytes;  // the most the requests had in use at once (pages, headers)
    std::size_t fresh_bytes;         // mapped afresh (each page of it a fault when first written)
    std::size_t reused_bytes;        // requests served from kept mappings
};

// The allocator's state comes from small (released by region_allocator_free).
Status region_allocator_create(const Allocator& small, std::size_t min_bytes,
                               RegionAllocator** out) noexcept;
// The allocator to hand to the build (small's budget: none is applied to the mappings).
Allocator region_allocator(RegionAllocator* r) noexcept;
RegionStats region_allocator_stats(const RegionAllocator* r) noexcept;
// Unmaps every mapping, in use or kept; the allocator must not be used for mappings after it.
// Safe to call again.
void region_allocator_unmap_all(RegionAllocator* r) noexcept;
// region_allocator_unmap_all, then the state itself released through small.
void region_allocator_free(RegionAllocator* r) noexcept;

}  // namespace geocluster
