// Internals shared by cluster.cpp (state, bins, hash table), cluster_serial.cpp (wire format)
// and cluster_finalize.cpp (the clustering passes). Not part of the API: include cluster.hpp.
//
// Positions are fixed-point integers: X = round(x * 2^48), Y = round(y * 2^48), x and y the Web
// Mercator unit coordinates, so X, Y are in [0, 2^48]. Why fixed point: the centre of a cluster
// is a mean, and a floating-point running sum depends on the order of the additions, so two
// plans (serial, or two workers merged either way round) would print different centres. Integer
// sums are exact and commutative. 2^48 steps per world width is 2^11 steps per pixel even at
// zoom 29 (W = 2^37 px), and 360 / 2^48 = 1.3e-12 degrees of longitude. A group counts at most
// 2^46 points (kMaxTotalCount), so a sum of positions stays below 2^95: a bin keeps its sums in
// 95 bits each, finalisation adds them in 128.
//
// Bins. A point goes to the bin (X / S, Y / S), S the bin side in fixed units (radius_px / 4 at
// the state's zoom, at least 1), split in two by the sign of lon, so that a bin's members all
// have lon < 0 or all have lon >= 0: the centre of a cluster that straddles +-180 (west members
// counted at x + 1, contract 4 in cluster.hpp) is then computed from per-bin sums alone.
// Y is clamped to [0, 2^48]: mercator_y of the clamp latitude 85.05112878 is -6e-12, as that
// rounded constant lies 2e-10 degrees beyond the true edge of the square world.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "mercator.hpp"
#include "mercator_series.hpp"

#include <cmath>

// No floating-point contraction (a * b + c fused into one FMA) in the engine. PostgreSQL's JIT
// may inline the clang-built bitcode of these files, compiled for the host's FMA unit, next to
// calls into the GCC-built library: if one contracted dx * dx + dy * dy and the other did not,
// a pair at exactly the radius could be merged by one plan and not by another. (GCC does not
// contract in ISO mode, -std=c++17, which the build uses; clang does unless told not to.)
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace geocluster {
namespace cluster_internal {

// unsigned __int128 (GCC and Clang) is used in registers and on the stack only: PostgreSQL's
// allocator aligns to 8 bytes, so 128-bit values stored in allocator memory are two uint64
// halves (Wide) instead.
__extension__ typedef unsigned __int128 u128;  // __extension__: quiet under -Wpedantic

constexpr int kFixedBits = 48;
constexpr std::uint64_t kFixedOne = std::uint64_t{1} << kFixedBits;  // unit coordinate 1.0
constexpr double kFixedOneD = 281474976710656.0;                     // 2^48

// Bins per radius: a bin's diagonal is radius * sqrt(2) / 4 = 0.35 radius, so treating a bin as
// one weighted point moves any clustering decision by at most ~0.18 radius, while a city that
// covers one radius occupies ~16-25 bins, not thousands of rows.
constexpr int kBinsPerRadius = 4;

// Distances are decided on double approximations of the exact centres, and the output centres
// go through lat/lon and back in the caller's checks. "Within radius" is therefore taken as
// within radius + 64 fixed units (2.3e-13 world widths: 0.03 px at zoom 29, far less below), so
// that any two centres the engine keeps apart are >= radius_px apart by any faithful
// recomputation. Merging a pair 0.03 px too far apart changes nothing visible.
constexpr double kSlackFixed = 64.0;

// No two positions are further apart than sqrt(0.5^2 + 1) world widths < 2^50 fixed units, so a
// larger reach means "everything": clamping keeps inf and overflow out of the arithmetic.
constexpr double kMaxReachFixed = 1125899906842624.0;  // 2^50

// How far (fixed units) a member's position may lie from the position of its own lat/lon, as
// cluster_add_point computes it (fixed_position): 0 for markers given by lat/lon; below 1 for
// cell centres, whose lat/lon are computed from the position and do not map back exactly; and
// what cluster_add_mercator accepts. The deserialiser holds every bin's bounds and sums to it:
// a bin's members lie in the bin and within their bounds (cluster_serial.cpp).
constexpr std::uint64_t kLatLonSlackFixed = 64;

// Points per group: 7e13, beyond any table, and small enough that a bin's sums fit 95 bits.
constexpr std::uint64_t kMaxTotalCount = std::uint64_t{1} << 46;
constexpr std::uint32_t kMaxBins = 0x7FFFFFF0u;

struct Wide {
    std::uint64_t lo, hi;
};
inline u128 wide_load(const Wide& w) noexcept { return (static_cast<u128>(w.hi) << 64) | w.lo; }
inline Wide wide_make(u128 v) noexcept {
    return Wide{static_cast<std::uint64_t>(v), static_cast<std::uint64_t>(v >> 64)};
}
inline void wide_add(Wide& w, u128 v) noexcept { w = wide_make(wide_load(w) + v); }

// One occupied bin: the state is mostly these (one per occupied bin, plus 2 to 4 hash slots of
// 8 bytes), so every byte counts against geocluster.max_state_memory. Trivially destructible, no
// padding (it is also hashed by key only and serialised field by field, so padding would not
// leak, but there is none). The sums are 96-bit integers, low 64 bits and high 32 (31 for
// sum_y, whose top bit holds has_id): read and add them with bin_sum_x/y and bin_add_sums.
struct Bin {
    std::uint64_t kx;                  // column << 1 | west (west: lon < 0)
    std::uint64_t ky;                  // row
    std::uint64_t count;               // points, 1 .. kMaxTotalCount
    std::uint64_t sum_x_lo, sum_y_lo;  // sums of X and Y (< 2^95), low 64 bits
    std::uint32_t sum_x_hi;            // ... and high bits
    std::uint32_t sum_y_hi : 31;
    std::uint32_t has_id : 1;                   // some member has an id
    double min_lat, max_lat, min_lon, max_lon;  // of the original lat/lon
    std::int64_t min_id;                        // 0 unless has_id
};
static_assert(sizeof(Bin) == 88, "Bin is 11 words, no padding");
static_assert(static_cast<u128>(kMaxTotalCount) * kFixedOne < static_cast<u128>(1) << 95,
              "sums fit 95 bits: sum_y_hi has 31");

inline u128 bin_sum_x(const Bin& b) noexcept {
    return static_cast<u128>(b.sum_x_hi) << 64 | b.sum_x_lo;
}
inline u128 bin_sum_y(const Bin& b) noexcept {
    return static_cast<u128>(b.sum_y_hi) << 64 | b.sum_y_lo;
}
// Sets the sums (each below 2^95, as any sums of at most kMaxTotalCount positions are).
inline void bin_set_sums(Bin& b, u128 sx, u128 sy) noexcept {
    b.sum_x_lo = static_cast<std::uint64_t>(sx);
    b.sum_x_hi = static_cast<std::uint32_t>(sx >> 64);
    b.sum_y_lo = static_cast<std::uint64_t>(sy);
    b.sum_y_hi = static_cast<std::uint32_t>(sy >> 64) & 0x7FFFFFFFu;
}
inline void bin_add_sums(Bin& b, u128 dx, u128 dy) noexcept {
    bin_set_sums(b, bin_sum_x(b) + dx, bin_sum_y(b) + dy);
}

// The bins of a state, in chunks that never move. Why chunks: a growth then allocates one more
// chunk instead of copying the whole array into one twice its size, which held the old array and
// the new (three times the bins) at once and left up to half of the new one unused; with chunks
// the bins cost their 88 bytes plus at most one partly filled chunk. Chunk 0 holds bins [0, 16),
// chunk j = 1 .. 6 holds [8 << j, 16 << j) (sizes doubling, so that a small group stays small),
// every later chunk 2^10 bins (90 kB). The last chunk may be allocated short of its full size
// (a reservation of an exact count: deserialize, merge); it is reallocated full when it must grow.
constexpr int kChunkBits = 10;
constexpr std::uint32_t kChunkMask = (std::uint32_t{1} << kChunkBits) - 1;
constexpr std::uint32_t kSmallChunks = kChunkBits - 3;  // chunks 0 .. 6, below 2^10 bins

inline std::uint32_t chunk_of(std::uint32_t i) noexcept {
    if (i > kChunkMask) return kSmallChunks - 1 + (i >> kChunkBits);
    return i < 16 ? 0 : static_cast<std::uint32_t>(28 - __builtin_clz(i));  // bit width - 4
}
inline std::uint32_t chunk_base(std::uint32_t j) noexcept {
    return j == 0 ? 0 : j < kSmallChunks ? 8u << j : (j - (kSmallChunks - 1)) << kChunkBits;
}
inline std::uint32_t chunk_bins(std::uint32_t j) noexcept {
    return j == 0 ? 16 : j < kSmallChunks ? 8u << j : std::uint32_t{1} << kChunkBits;
}

struct BinStore {
    Bin** chunks;  // n_chunks used of cap_chunks
    std::uint32_t n_chunks, cap_chunks;
    std::uint32_t last_bins;  // bins allocated in the last chunk (chunk_bins, or fewer)

    Bin& operator[](std::uint32_t i) const noexcept {
        if (i > kChunkMask) return chunks[kSmallChunks - 1 + (i >> kChunkBits)][i & kChunkMask];
        const std::uint32_t j = chunk_of(i);
        return chunks[j][i - chunk_base(j)];
    }
};

// Hash slot: index + 1 of a bin in the dense bin array (0 = empty) and 32 bits of its hash, so
// that most probes never touch the bin itself.
struct Slot {
    std::uint32_t index1;
    std::uint32_t tag;
};
static_assert(sizeof(Slot) == 8, "a slot is 8 bytes: 16 to 32 per bin at load 1/4 to 1/2");

inline std::uint64_t hash_key(std::uint64_t kx, std::uint64_t ky) noexcept {
    std::uint64_t h =
        kx * 0x9E3779B97F4A7C15ull ^ (ky + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return h;
}

inline std::uint32_t tag_of(std::uint64_t hash) noexcept {
    return static_cast<std::uint32_t>(hash >> 32);
}

// Fixed-point position of a unit coordinate, clamped to [0, 2^48]: floor(u * 2^48 + 0.5), which
// unlike nearbyint does not depend on the FPU rounding mode. For v >= 1 truncation is the floor,
// and a conversion through int64 is one instruction on x86-64, where floor is a libm call and a
// conversion to uint64 a branch (values here stay below 2^50).
inline std::uint64_t fixed_from_unit(double u) noexcept {
    const double v = u * kFixedOneD + 0.5;
    if (!(v >= 1.0)) return 0;
    if (v >= kFixedOneD) return kFixedOne;
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(v));
}

// The fixed-point position of a marker at lat/lon (validated): the one formula for the per-row
// path, the diagnostics and the deserialiser's checks.
inline std::uint64_t fixed_x_of_lon(double lon) noexcept {
    return fixed_from_unit(mercator_x(lon));
}
inline std::uint64_t fixed_y_of_lat(double lat) noexcept {
    return fixed_from_unit(mercator_y_series(lat));
}

// The per-row path does not touch the bins: it appends the point to a small buffer, and a full
// buffer is folded into the bins in one pass (flush_pending). Why: with the rows in random order
// every point's bin is a cache miss (two with its hash slot), and one at a time those misses
// are paid one after another; a batch computes all keys first, then prefetches every slot, then
// every bin, so the misses overlap. Measured on the SQL benchmark, that is most of the engine's
// per-row time at low zoom. The buffer is a cache of the bins: the state's value is bins plus
// pending, and every reader folds the buffer in first (settle).
constexpr std::uint32_t kPendingCap = 256;
// A point given by lat/lon has its position computed in the batch too (flush_pending, pass 1):
// there the Mercator arithmetic of many points overlaps, where one row at a time each waited
// for the last. Its x is kPositionPending until then.
constexpr std::uint64_t kPositionPending = ~std::uint64_t{0};
struct Pending {
    std::uint64_t x, y;  // fixed-point position (x = kPositionPending: from lat/lon, below)
    double lat, lon;     // validated, no -0.0 (lat NaN: a cell centre, lat/lon from x and y)
    std::int64_t id;
    std::uint64_t has_id;  // 0 or 1
};

}  // namespace cluster_internal

struct ClusterState {
    Allocator alloc;
    int zoom;
    bool has_id;
    double radius_px;
    std::uint64_t bin_side;  // S, fixed units, >= 1
    std::uint64_t max_key;   // largest column or row: 2^48 / S
    double reach;            // radius + slack in fixed units, clamped: the "within" distance
    cluster_internal::BinStore bins;  // n_bins used of cap_bins
    std::uint32_t n_bins, cap_bins;
    cluster_internal::Slot* slots;       // open addressing, linear probing, load <= 1/2
    std::uint64_t slot_mask;             // slot count - 1 (power of two), 0 when no slots yet
    std::uint64_t total;                 // points
    std::uint32_t last;                  // index of the bin the previous point went to (a hint)
    double inv_side;                     // 1 / bin_side, for div_side
    cluster_internal::Pending* pending;  // cap_pending entries, n_pending used
    std::uint32_t n_pending;             // counted in total already
    std::uint32_t cap_pending;           // 0, then 16, 32 ... kPendingCap
    std::size_t refused_bytes;           // the last growth the budget refused (for the message)
};

namespace cluster_internal {

// "bin - st->bins", as when the bins were one array: the index of a bin of the state (found by
// its key: the state is the one that holds the store). For code that holds a Bin pointer.
std::ptrdiff_t operator-(const Bin* b, const BinStore& bins) noexcept;

// Parameters derived from zoom and radius: identical for identical (zoom, radius_px), which is
// what merge and deserialize check.
void init_params(ClusterState* st, int zoom, double radius_px, bool has_id) noexcept;

// The bytes a state holds with these capacities (what cluster_estimate_bytes reports and the
// allocator's budget bounds).
inline std::size_t state_bytes(std::uint64_t cap_bins, std::uint64_t cap_chunks,
                               std::uint64_t n_slots, std::uint64_t cap_pending) noexcept {
    return sizeof(ClusterState) + cap_bins * sizeof(Bin) + cap_chunks * sizeof(Bin*) +
           n_slots * sizeof(Slot) + cap_pending * sizeof(Pending);
}
inline std::uint64_t slot_count(const ClusterState* st) noexcept {
    return st->slots != nullptr ? st->slot_mask + 1 : 0;
}

// The hash slots are an index of the bins, nothing else: finalisation releases them while its
// scratch is live, so that the two are not held at once, and builds them again afterwards
// (identical: the same bins inserted in the same order). restore_slots does not poll: a
// cancelled finalize leaves the state as it was. OutOfMemory from it leaves the state without
// slots, which the next reserve_bins rebuilds.
void release_slots(ClusterState* st) noexcept;
Status restore_slots(ClusterState* st, std::uint64_t n_slots) noexcept;

class Poller;  // polled_sort.hpp

// n elements of T from a (one byte more: an allocator is never asked for 0 bytes), nullptr when
// it fails or n * sizeof(T) would overflow; and an array from it given back, the pointer cleared.
template <typename T>
T* alloc_array(const Allocator& a, std::size_t n) noexcept {
    if (n > SIZE_MAX / sizeof(T) - 1) return nullptr;
    return static_cast<T*>(a.alloc(a.ctx, n * sizeof(T) + 1));
}
template <typename T>
void release_array(const Allocator& a, T** p) noexcept {
    if (*p != nullptr) a.release(a.ctx, *p);
    *p = nullptr;
}

// Ensures room for n bins (bin chunks and hash slots). Either both grow or nothing changes. With
// exact, the last chunk is allocated only as far as n needs (a size known up front); otherwise
// whole chunks (the per-row path), or as far as n needs when whole ones would pass the budget.
// StateTooLarge, before allocating, when the grown state would pass the allocator's budget. With
// a poll, Canceled when it says so (nothing changed then).
Status reserve_bins(ClusterState* st, std::uint64_t n, bool exact, Poller* poll = nullptr) noexcept;

Bin* find_bin(const ClusterState* st, std::uint64_t kx, std::uint64_t ky) noexcept;
Bin* find_bin_hashed(const ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                     std::uint64_t hash) noexcept;

// Folds the pending points into the bins. On failure (OutOfMemory) nothing has changed.
Status flush_pending(ClusterState* st) noexcept;

// Every reader of the bins calls this first. It takes a const state because folding the buffer
// changes the representation, not the value (the same points, bit for bit the same bins as if
// they had been added one at a time); states are only ever created by cluster_create and
// cluster_deserialize, in allocator memory, never as const objects, so the cast is sound.
inline Status settle(const ClusterState* st) noexcept;

// v / S, exact, without a 64-bit integer division (tens of cycles, twice per row): v and S are
// below 2^50, so both are exact doubles and the rounded quotient is within one of the truth;
// one correction step either way makes it exact.
inline std::uint64_t div_side(const ClusterState* st, std::uint64_t v) noexcept {
    const std::uint64_t s = st->bin_side;
    // Through int64 both ways: one instruction each, where uint64 <-> double costs branches.
    const double vd = static_cast<double>(static_cast<std::int64_t>(v));
    auto q = static_cast<std::uint64_t>(static_cast<std::int64_t>(vd * st->inv_side));
    if (q * s > v) {
        --q;
    } else if ((q + 1) * s <= v) {
        ++q;
    }
    return q;
}

// The bin of key (kx, ky), whose hash is h, appended empty (count 0) if absent; needs reserved
// room for one more bin.
Bin* find_or_insert_bin(ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                        std::uint64_t h) noexcept;
// The same, as the bin's index; and find_bin_hashed's index (kNoBin when absent).
constexpr std::uint32_t kNoBin = 0xFFFFFFFFu;
std::uint32_t find_or_insert_index(ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                                   std::uint64_t h) noexcept;
std::uint32_t find_index_hashed(const ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                                std::uint64_t h) noexcept;

void absorb_bin(Bin* dst, const Bin& src) noexcept;

Status validate_lat_lon(double lat, double lon) noexcept;

}  // namespace cluster_internal
namespace cluster_internal {
inline Status settle(const ClusterState* st) noexcept {
    return st->n_pending == 0 ? Status::Ok : flush_pending(const_cast<ClusterState*>(st));
}
}  // namespace cluster_internal
}  // namespace geocluster
