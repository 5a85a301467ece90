// The micro benchmarks' allocator: a core Allocator over malloc that counts the bytes live and
// their peak, so a benchmark can report memory per bin or per marker. No budget.
#pragma once

#include "cluster.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

// The size lives in a 16-byte header before each block.
struct CountingAlloc {
    std::size_t live = 0, peak = 0;
    static void* alloc(void* ctx, std::size_t n) {
        auto* self = static_cast<CountingAlloc*>(ctx);
        auto* p = static_cast<unsigned char*>(std::malloc(n + 16));
        if (p == nullptr) return nullptr;
        std::memcpy(p, &n, sizeof n);
        self->live += n;
        self->peak = std::max(self->peak, self->live);
        return p + 16;
    }
    static void release(void* ctx, void* q) {
        auto* self = static_cast<CountingAlloc*>(ctx);
        auto* p = static_cast<unsigned char*>(q) - 16;
        std::size_t n;
        std::memcpy(&n, p, sizeof n);
        self->live -= n;
        std::free(p);
    }
    geocluster::Allocator allocator() { return geocluster::Allocator{&alloc, &release, this, 0}; }
};
