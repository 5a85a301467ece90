// The allocator and the cancel check the fuzz targets hand the core: plain malloc and free with no
// budget (so that AddressSanitizer sees every block), and never a cancel.
#pragma once

#include "cluster.hpp"

#include <cstdlib>

namespace fuzz_alloc {

inline void* alloc(void*, std::size_t n) { return std::malloc(n); }
inline void release(void*, void* p) { std::free(p); }
inline const geocluster::Allocator kAlloc{&alloc, &release, nullptr, 0};
inline constexpr geocluster::CancelCheck kNoCancel{nullptr, nullptr};

}  // namespace fuzz_alloc
