// The varints of a cluster hierarchy's packed blocks (hierarchy_block.hpp has the format), for
// the node block codec (hierarchy_block.cpp). Internal to the core.
#pragma once

#include "core.hpp"

#include "cluster_internal.hpp"

#include <cstdint>
#include <cstring>

namespace geocluster {
namespace hier_block_internal {

using cluster_internal::u128;

constexpr std::uint64_t kMaxSlot = 0xffffffffu;  // slots are 32-bit

inline u128 wide_of(std::uint64_t lo, std::uint64_t hi) noexcept {
    return static_cast<u128>(hi) << 64 | lo;
}

inline u128 zigzag128(u128 v) noexcept { return (v << 1) ^ (0 - (v >> 127)); }
inline u128 unzigzag128(u128 v) noexcept { return (v >> 1) ^ (0 - (v & 1)); }

inline std::uint64_t bits_of(double v) noexcept {
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}
inline double double_of(std::uint64_t b) noexcept {
    double v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}
inline std::uint64_t zigzag(std::uint64_t v) noexcept {  // v as a two's complement int64
    return (v << 1) ^ (0 - (v >> 63));
}
inline std::uint64_t unzigzag(std::uint64_t v) noexcept { return (v >> 1) ^ (0 - (v & 1)); }

// ---- writing ----

struct Out {
    unsigned char* p;
    void u64(std::uint64_t v) noexcept {
        while (v >= 0x80) {
            *p++ = static_cast<unsigned char>(v | 0x80);
            v >>= 7;
        }
        *p++ = static_cast<unsigned char>(v);
    }
    void v128(std::uint64_t lo, std::uint64_t hi) noexcept {
        while (hi != 0 || lo >= 0x80) {
            *p++ = static_cast<unsigned char>(lo | 0x80);
            lo = lo >> 7 | hi << 57;
            hi >>= 7;
        }
        *p++ = static_cast<unsigned char>(lo);
    }
    void s64(std::int64_t v) noexcept { u64(zigzag(static_cast<std::uint64_t>(v))); }
    void s128(u128 v) noexcept {
        const u128 z = zigzag128(v);
        v128(static_cast<std::uint64_t>(z), static_cast<std::uint64_t>(z >> 64));
    }
    // b's bits minus base's, zigzagged (wrapping: exact for any two doubles).
    void bits_delta(double v, std::uint64_t base) noexcept { u64(zigzag(bits_of(v) - base)); }
};

// ---- reading ----

struct In {
    const unsigned char* p;
    const unsigned char* end;
    bool ok = true;
    std::uint64_t u64() noexcept {
        // Most values of a block take one or two bytes: those without the loop's checks (a
        // second byte of 0 would be overlong, left to the loop to refuse).
        if (end - p >= 2) {
            const unsigned c0 = p[0], c1 = p[1];
            if (c0 < 0x80) {
                ++p;
                return c0;
            }
            if (c1 - 1u < 0x7fu) {  // 1..127
                p += 2;
                return (c0 & 0x7fu) | static_cast<std::uint64_t>(c1) << 7;
            }
        }
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p == end) break;
            const unsigned c = *p++;
            if (shift == 63 && c > 1) break;  // beyond 64 bits
            v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
            if ((c & 0x80) == 0) {
                if (c == 0 && shift > 0) break;  // overlong: one encoding per value
                return v;
            }
        }
        ok = false;
        return 0;
    }
    void v128(std::uint64_t* lo, std::uint64_t* hi) noexcept {
        *lo = *hi = 0;
        for (int shift = 0; shift < 128; shift += 7) {
            if (p == end) break;
            const unsigned c = *p++;
            if (shift == 126 && c > 3) break;  // beyond 128 bits
            const std::uint64_t part = c & 0x7f;
            if (shift < 64) {
                *lo |= part << shift;
                if (shift > 57) *hi |= part >> (64 - shift);
            } else {
                *hi |= part << (shift - 64);
            }
            if ((c & 0x80) == 0) {
                if (c == 0 && shift > 0) break;
                return;
            }
        }
        ok = false;
        *lo = *hi = 0;
    }
    std::int64_t s64() noexcept { return static_cast<std::int64_t>(unzigzag(u64())); }
    u128 s128() noexcept {
        std::uint64_t lo, hi;
        v128(&lo, &hi);
        return unzigzag128(wide_of(lo, hi));
    }
    double bits_delta(std::uint64_t base) noexcept { return double_of(base + unzigzag(u64())); }
};

}  // namespace hier_block_internal
}  // namespace geocluster
