// cluster_agg's state: creation, the per-row path, combine, and the bin hash table.
//
// The state is Bin records in chunks (cluster_internal.hpp, BinStore) plus an open-addressing
// index of 8-byte slots, both in allocator memory, never grown past the allocator's budget
// (reserve_bins). Nothing in it has a destructor, so a PostgreSQL context reset frees it
// without our help.
//
// Why the state is order- and split-independent: a bin's key depends on the point alone (its
// fixed-point position and the sign of its lon), and a bin's fields are an integer count, integer
// sums, minima and maxima, all commutative and associative exactly. (Latitudes and longitudes
// are normalised so that -0.0 becomes +0.0: min(-0.0, +0.0) would otherwise depend on which came
// first.) So the set of bins, with every field bit for bit, is a function of the multiset of
// points, however they were added, split or merged; cluster_finalize depends on that set only.
#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "mercator.hpp"
#include "mercator_series.hpp"
#include "polled_sort.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>

namespace geocluster {

using namespace cluster_internal;

namespace cluster_internal {

void init_params(ClusterState* st, int zoom, double radius_px, bool has_id) noexcept {
    st->zoom = zoom;
    st->radius_px = radius_px;
    st->has_id = has_id;
    // radius_px / (256 * 2^zoom) world widths = radius_px * 2^(40 - zoom) fixed units (exact:
    // a power-of-two scaling). Overflows to inf for absurd radii, which the clamps absorb.
    const double radius_fixed = std::ldexp(radius_px, kFixedBits - 8 - zoom);
    const double side = std::floor(radius_fixed / kBinsPerRadius);
    const double max_side = 562949953421312.0;  // 2^49: one bin for the whole world
    st->bin_side =
        side < 1.0 ? 1
                   : (side > max_side ? std::uint64_t{1} << 49 : static_cast<std::uint64_t>(side));
    st->max_key = kFixedOne / st->bin_side;
    st->inv_side = 1.0 / static_cast<double>(st->bin_side);
    const double reach = radius_fixed + kSlackFixed;
    st->reach = reach < kMaxReachFixed ? reach : kMaxReachFixed;
}

namespace {

// What growing the bins to a capacity of cap takes: the chunk table's new size, and the bytes of
// the old short last chunk that a regrowth copies (live with its new copy).
struct ChunkPlan {
    std::uint64_t cap;          // bins allocated afterwards
    std::uint32_t n_chunks;     // chunks afterwards
    std::uint32_t cap_chunks;   // chunk table entries afterwards
    std::size_t copied_bytes;   // old last chunk, reallocated (0: none)
    std::size_t old_table_bytes;  // old chunk table, replaced (0: none)
};

ChunkPlan plan_chunks(const ClusterState* st, std::uint64_t cap) noexcept {
    const BinStore& bs = st->bins;
    ChunkPlan p{st->cap_bins, bs.n_chunks, bs.cap_chunks, 0, 0};
    if (cap <= st->cap_bins) return p;
    if (bs.n_chunks > 0 && bs.last_bins < chunk_bins(bs.n_chunks - 1))
        p.copied_bytes = std::size_t{bs.last_bins} * sizeof(Bin);
    p.n_chunks = chunk_of(static_cast<std::uint32_t>(cap - 1)) + 1;
    p.cap = cap;
    if (p.n_chunks > bs.cap_chunks) {
        std::uint64_t t = std::max<std::uint64_t>(16, 2 * std::uint64_t{bs.cap_chunks});
        while (t < p.n_chunks) t *= 2;
        p.cap_chunks = static_cast<std::uint32_t>(t);
        p.old_table_bytes = std::size_t{bs.cap_chunks} * sizeof(Bin*);
    }
    return p;
}

// The capacity that whole chunks give for n bins.
std::uint64_t whole_chunks(std::uint64_t n) noexcept {
    const std::uint32_t last = chunk_of(static_cast<std::uint32_t>(n - 1));
    return std::uint64_t{chunk_base(last)} + chunk_bins(last);
}

}  // namespace

Status reserve_bins(ClusterState* st, std::uint64_t n, bool exact, Poller* poll) noexcept {
    if (n > kMaxBins) return Status::OutOfMemory;
    std::uint64_t new_cap = st->cap_bins;
    if (n > st->cap_bins) new_cap = exact ? n : std::min<std::uint64_t>(whole_chunks(n), kMaxBins);
    const std::uint64_t old_slots = slot_count(st);
    std::uint64_t n_slots = old_slots;
    if (2 * n > n_slots) {
        if (n_slots < 32) n_slots = 32;
        while (n_slots < 2 * n) n_slots *= 2;
    }
    // The budget, checked before allocating, counts all that is live while the tables grow: the
    // grown state, the old slots it replaces, a short last chunk's old copy and the old chunk
    // table. Growth by whole chunks that would pass it grows only as far as n.
    ChunkPlan plan = plan_chunks(st, new_cap);
    const std::size_t budget = st->alloc.budget_bytes;
    if (budget != 0) {
        const std::size_t old_slot_bytes = n_slots > old_slots ? old_slots * sizeof(Slot) : 0;
        const auto peak = [&](const ChunkPlan& c) noexcept {
            return state_bytes(c.cap, c.cap_chunks, n_slots, st->cap_pending) + old_slot_bytes +
                   c.copied_bytes + c.old_table_bytes;
        };
        if (new_cap > n && n > st->cap_bins && peak(plan) > budget) plan = plan_chunks(st, n);
        if (peak(plan) > budget) {
            st->refused_bytes = peak(plan);
            return Status::StateTooLarge;
        }
    }
    BinStore& bs = st->bins;
    // Allocate everything first (new chunk table, regrown last chunk, new chunks, slots); on any
    // failure release what was allocated, and the state is unchanged.
    Bin** table = bs.chunks;
    Bin* regrown = nullptr;
    Slot* new_slots = nullptr;
    std::uint32_t made = bs.n_chunks;  // table[bs.n_chunks .. made) are new chunks
    const auto release_new = [&]() noexcept {
        for (std::uint32_t j = bs.n_chunks; j < made; ++j) st->alloc.release(st->alloc.ctx, table[j]);
        if (table != bs.chunks) st->alloc.release(st->alloc.ctx, table);
        if (regrown != nullptr) st->alloc.release(st->alloc.ctx, regrown);
        if (new_slots != nullptr) st->alloc.release(st->alloc.ctx, new_slots);
    };
    const auto size_of_chunk = [&](std::uint32_t j) noexcept {
        return static_cast<std::uint32_t>(
            std::min<std::uint64_t>(chunk_bins(j), plan.cap - chunk_base(j)));
    };
    if (plan.cap_chunks > bs.cap_chunks) {
        table = static_cast<Bin**>(st->alloc.alloc(st->alloc.ctx, plan.cap_chunks * sizeof(Bin*)));
        if (table == nullptr) return Status::OutOfMemory;
        if (bs.n_chunks > 0) std::memcpy(table, bs.chunks, bs.n_chunks * sizeof(Bin*));
    }
    if (plan.copied_bytes > 0) {
        regrown = static_cast<Bin*>(
            st->alloc.alloc(st->alloc.ctx, size_of_chunk(bs.n_chunks - 1) * sizeof(Bin)));
        if (regrown == nullptr) {
            release_new();
            return Status::OutOfMemory;
        }
    }
    for (; made < plan.n_chunks; ++made) {
        table[made] = static_cast<Bin*>(st->alloc.alloc(st->alloc.ctx, size_of_chunk(made) * sizeof(Bin)));
        if (table[made] == nullptr) {
            release_new();
            return Status::OutOfMemory;
        }
    }
    if (n_slots > old_slots) {
        new_slots = static_cast<Slot*>(st->alloc.alloc(st->alloc.ctx, n_slots * sizeof(Slot)));
        if (new_slots == nullptr) {
            release_new();
            return Status::OutOfMemory;
        }
        // Filling polls (at millions of bins it writes tens of MB); a cancel releases the new
        // arrays and leaves the state as it was.
        constexpr std::uint32_t kStep = 65536;
        for (std::uint64_t at = 0; at < n_slots; at += kStep) {
            const std::uint64_t m = std::min<std::uint64_t>(kStep, n_slots - at);
            std::memset(new_slots + at, 0, m * sizeof(Slot));
            if (poll != nullptr && poll->canceled(Poller::kPollEvery)) {
                release_new();
                return Status::Canceled;
            }
        }
        const std::uint64_t mask = n_slots - 1;
        for (std::uint32_t i = 0; i < st->n_bins; ++i) {
            const std::uint64_t h = hash_key(st->bins[i].kx, st->bins[i].ky);
            std::uint64_t j = h & mask;
            while (new_slots[j].index1 != 0) j = (j + 1) & mask;
            new_slots[j] = Slot{i + 1, tag_of(h)};
            if (poll != nullptr && poll->canceled(1)) {
                release_new();
                return Status::Canceled;
            }
        }
    }
    // Commit.
    if (regrown != nullptr) {
        Bin*& last = table[bs.n_chunks - 1];
        const std::uint32_t used = st->n_bins - chunk_base(bs.n_chunks - 1);
        if (used > 0) std::memcpy(regrown, last, std::size_t{used} * sizeof(Bin));
        st->alloc.release(st->alloc.ctx, last);
        last = regrown;
    }
    if (table != bs.chunks) {
        if (bs.chunks != nullptr) st->alloc.release(st->alloc.ctx, bs.chunks);
        bs.chunks = table;
        bs.cap_chunks = plan.cap_chunks;
    }
    if (plan.cap > st->cap_bins) {
        bs.n_chunks = plan.n_chunks;
        bs.last_bins = size_of_chunk(plan.n_chunks - 1);
        st->cap_bins = static_cast<std::uint32_t>(plan.cap);
    }
    if (new_slots != nullptr) {
        if (st->slots != nullptr) st->alloc.release(st->alloc.ctx, st->slots);
        st->slots = new_slots;
        st->slot_mask = n_slots - 1;
    }
    return Status::Ok;
}

std::ptrdiff_t operator-(const Bin* b, const BinStore& bins) noexcept {
    static_assert(std::is_standard_layout<ClusterState>::value, "offsetof applies");
    const auto* st = reinterpret_cast<const ClusterState*>(reinterpret_cast<const char*>(&bins) -
                                                           offsetof(ClusterState, bins));
    const std::uint32_t i = find_index_hashed(st, b->kx, b->ky, hash_key(b->kx, b->ky));
    return i == kNoBin ? -1 : static_cast<std::ptrdiff_t>(i);
}

void release_slots(ClusterState* st) noexcept {
    if (st->slots != nullptr) st->alloc.release(st->alloc.ctx, st->slots);
    st->slots = nullptr;
    st->slot_mask = 0;
}

Status restore_slots(ClusterState* st, std::uint64_t n_slots, Poller* poll) noexcept {
    if (st->slots != nullptr || n_slots == 0) return Status::Ok;
    auto* slots = static_cast<Slot*>(st->alloc.alloc(st->alloc.ctx, n_slots * sizeof(Slot)));
    if (slots == nullptr) return Status::OutOfMemory;
    std::memset(slots, 0, n_slots * sizeof(Slot));
    const std::uint64_t mask = n_slots - 1;
    for (std::uint32_t i = 0; i < st->n_bins; ++i) {
        const std::uint64_t h = hash_key(st->bins[i].kx, st->bins[i].ky);
        std::uint64_t j = h & mask;
        while (slots[j].index1 != 0) j = (j + 1) & mask;
        slots[j] = Slot{i + 1, tag_of(h)};
        if (poll->canceled(1)) {
            st->alloc.release(st->alloc.ctx, slots);
            return Status::Canceled;
        }
    }
    st->slots = slots;
    st->slot_mask = mask;
    return Status::Ok;
}

Bin* find_bin(const ClusterState* st, std::uint64_t kx, std::uint64_t ky) noexcept {
    return find_bin_hashed(st, kx, ky, hash_key(kx, ky));
}

namespace {

Bin empty_bin(std::uint64_t kx, std::uint64_t ky) noexcept {
    constexpr double inf = std::numeric_limits<double>::infinity();
    return Bin{kx, ky, 0, 0, 0, 0, 0, 0, inf, -inf, inf, -inf, 0};
}

// The slot of key (kx, ky), whose hash is h: the one that holds it, or the empty slot where it
// belongs. Needs a slot table. Tags are compared first, so most probes never touch a bin.
std::uint64_t slot_of_key(const ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                          std::uint64_t h) noexcept {
    const auto tag = tag_of(h);
    for (std::uint64_t j = h & st->slot_mask;; j = (j + 1) & st->slot_mask) {
        const Slot s = st->slots[j];
        if (s.index1 == 0) return j;
        if (s.tag == tag) {
            const Bin& b = st->bins[s.index1 - 1];
            if (b.kx == kx && b.ky == ky) return j;
        }
    }
}

}  // namespace

std::uint32_t find_index_hashed(const ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                                std::uint64_t h) noexcept {
    if (st->slots == nullptr) return kNoBin;
    return st->slots[slot_of_key(st, kx, ky, h)].index1 - 1;  // 0 - 1: kNoBin
}

Bin* find_bin_hashed(const ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                     std::uint64_t h) noexcept {
    const std::uint32_t i = find_index_hashed(st, kx, ky, h);
    return i == kNoBin ? nullptr : &st->bins[i];
}

std::uint32_t find_or_insert_index(ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                                   std::uint64_t h) noexcept {
    Slot& s = st->slots[slot_of_key(st, kx, ky, h)];
    if (s.index1 == 0) {
        const std::uint32_t i = st->n_bins++;
        st->bins[i] = empty_bin(kx, ky);
        s = Slot{i + 1, tag_of(h)};
    }
    return s.index1 - 1;
}

Bin* find_or_insert_bin(ClusterState* st, std::uint64_t kx, std::uint64_t ky,
                        std::uint64_t h) noexcept {
    return &st->bins[find_or_insert_index(st, kx, ky, h)];
}

void absorb_bin(Bin* dst, const Bin& src) noexcept {
    dst->count += src.count;
    bin_add_sums(*dst, bin_sum_x(src), bin_sum_y(src));
    if (src.min_lat < dst->min_lat) dst->min_lat = src.min_lat;
    if (src.max_lat > dst->max_lat) dst->max_lat = src.max_lat;
    if (src.min_lon < dst->min_lon) dst->min_lon = src.min_lon;
    if (src.max_lon > dst->max_lon) dst->max_lon = src.max_lon;
    if (src.has_id != 0 && (dst->has_id == 0 || src.min_id < dst->min_id)) {
        dst->min_id = src.min_id;
        dst->has_id = 1;
    }
}

Status validate_lat_lon(double lat, double lon) noexcept {
    if (!std::isfinite(lat)) return Status::LatNotFinite;
    if (!std::isfinite(lon)) return Status::LonNotFinite;
    if (lat < -90.0 || lat > 90.0) return Status::LatOutOfRange;
    if (lon < -180.0 || lon > 180.0) return Status::LonOutOfRange;
    return Status::Ok;
}


namespace {

void fold_point(Bin* b, const Pending& p) noexcept {
    b->count += 1;
    bin_add_sums(*b, p.x, p.y);
    // Branch-free (minsd/maxsd, cmov): whether a point moves a bound is a coin toss early in a
    // bin's life. No NaN reaches here, and -0.0 was normalised, so min/max are exact.
    b->min_lat = std::min(b->min_lat, p.lat);
    b->max_lat = std::max(b->max_lat, p.lat);
    b->min_lon = std::min(b->min_lon, p.lon);
    b->max_lon = std::max(b->max_lon, p.lon);
    const bool take_id = p.has_id != 0 && (b->has_id == 0 || p.id < b->min_id);
    b->min_id = take_id ? p.id : b->min_id;
    b->has_id = b->has_id | p.has_id;
}

constexpr std::uint32_t kMissingBin = 0xFFFFFFFFu;

// How many distinct keys among the batch's points marked kMissingBin: reserving exactly that
// keeps a small group small (a batch of 256 points in one new bin reserves one bin, not 256).
// A local open-addressing set of the keys, twice the batch size.
std::uint32_t distinct_missing(const std::uint64_t* kx, const std::uint64_t* ky,
                               const std::uint64_t* hash, const std::uint32_t* bin,
                               std::uint32_t n) noexcept {
    constexpr std::uint32_t kSetSlots = 2 * kPendingCap;
    std::uint32_t set[kSetSlots];  // point index + 1, 0 = empty
    std::memset(set, 0, sizeof(set));
    std::uint32_t distinct = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (bin[i] != kMissingBin) continue;
        for (std::uint64_t j = hash[i] & (kSetSlots - 1);; j = (j + 1) & (kSetSlots - 1)) {
            if (set[j] == 0) {
                set[j] = i + 1;
                ++distinct;
                break;
            }
            const std::uint32_t k = set[j] - 1;
            if (kx[k] == kx[i] && ky[k] == ky[i]) break;
        }
    }
    return distinct;
}

}  // namespace

Status flush_pending(ClusterState* st) noexcept {
    const std::uint32_t n = st->n_pending;
    if (n == 0) return Status::Ok;
    std::uint64_t kx[kPendingCap], ky[kPendingCap], hash[kPendingCap];
    std::uint32_t bin[kPendingCap];
    // 1. Positions (of points given by lat/lon), keys and hashes; start fetching each key's
    //    first hash slot.
    for (std::uint32_t i = 0; i < n; ++i) {
        Pending& p = st->pending[i];
        if (p.x == kPositionPending) {
            p.x = fixed_x_of_lon(p.lon);
            p.y = fixed_y_of_lat(p.lat);
        } else if (std::isnan(p.lat)) {  // a cell centre: lat/lon from the exact position
            p.lat = mercator_lat(static_cast<double>(p.y) / kFixedOneD) + 0.0;
            p.lon = mercator_lon(static_cast<double>(p.x) / kFixedOneD) + 0.0;
        }
        kx[i] = div_side(st, p.x) << 1 | (p.lon < 0.0 ? 1u : 0u);
        ky[i] = div_side(st, p.y);
        hash[i] = hash_key(kx[i], ky[i]);
        if (st->slots != nullptr) __builtin_prefetch(&st->slots[hash[i] & st->slot_mask]);
    }
    // 2. Find each bin in two steps, so that the cache misses of a batch overlap instead of
    //    queueing one after another: (a) probe the hash slots (being fetched since step 1) by
    //    their 32-bit tags alone and start fetching the bin a tag names (a Bin spans two cache
    //    lines); (b) check each point's key against that bin, by then in cache, and search
    //    properly on the rare false tag match. A point with the previous point's key (rows that
    //    arrive sorted) takes its bin without a probe. Nothing changes in the state until every
    //    new key has room (below).
    if (st->slots != nullptr) {
        const Slot* const slots = st->slots;
        const std::uint64_t mask = st->slot_mask;
        // The previous batch's last point (none yet: no key matches kMissingBin's bin).
        std::uint32_t prev = st->n_bins > 0 ? st->last : kMissingBin;
        std::uint64_t prev_kx = prev != kMissingBin ? st->bins[prev].kx : ~std::uint64_t{0};
        std::uint64_t prev_ky = prev != kMissingBin ? st->bins[prev].ky : ~std::uint64_t{0};
        for (std::uint32_t i = 0; i < n; ++i) {
            if (kx[i] == prev_kx && ky[i] == prev_ky && prev != kMissingBin) {  // verified in (b)
                bin[i] = prev;
                continue;
            }
            const auto tag = tag_of(hash[i]);
            std::uint32_t found = kMissingBin;
            for (std::uint64_t j = hash[i] & mask;; j = (j + 1) & mask) {
                const Slot sl = slots[j];
                if (sl.index1 == 0) break;
                if (sl.tag == tag) {
                    found = sl.index1 - 1;
                    break;
                }
            }
            if (found != kMissingBin) {
                __builtin_prefetch(&st->bins[found]);
                __builtin_prefetch(reinterpret_cast<const char*>(&st->bins[found]) + 64);
            }
            bin[i] = prev = found;
            prev_kx = kx[i];
            prev_ky = ky[i];
        }
    } else {
        for (std::uint32_t i = 0; i < n; ++i) bin[i] = kMissingBin;
    }
    std::uint32_t missing = 0;
    for (std::uint32_t i = 0; i < n; ++i) {  // (b)
        if (bin[i] != kMissingBin) {
            const Bin& b = st->bins[bin[i]];
            if (b.kx == kx[i] && b.ky == ky[i]) continue;
            const std::uint32_t f = find_index_hashed(st, kx[i], ky[i], hash[i]);
            if (f != kNoBin) {
                bin[i] = f;
                continue;
            }
            bin[i] = kMissingBin;
        }
        ++missing;
    }
    if (missing > 0) {
        // Room first. While the arrays have room for every missing point (the usual case: they
        // grow by doubling), nothing needs counting; otherwise reserve exactly the distinct new
        // keys, so that a small group stays small (a batch of 256 points in one new bin reserves
        // one bin, not 256).
        std::uint64_t need = std::uint64_t{st->n_bins} + missing;
        const std::uint64_t slot_room = st->slots != nullptr ? (st->slot_mask + 1) / 2 : 0;
        if (need > st->cap_bins || need > slot_room)
            need = std::uint64_t{st->n_bins} + distinct_missing(kx, ky, hash, bin, n);
        const Status s = reserve_bins(st, need, false);
        if (s != Status::Ok) return s;
        // Then one probe per point: an earlier point of the batch may have added its key.
        for (std::uint32_t i = 0; i < n; ++i)
            if (bin[i] == kMissingBin) bin[i] = find_or_insert_index(st, kx[i], ky[i], hash[i]);
    }
    // 3. Fold the points in.
    for (std::uint32_t i = 0; i < n; ++i) fold_point(&st->bins[bin[i]], st->pending[i]);
    st->last = bin[n - 1];
    st->n_pending = 0;
    return Status::Ok;
}

}  // namespace cluster_internal

namespace {

ClusterBinKey key_of(const ClusterState* st, std::uint64_t x, std::uint64_t y,
                     double lon) noexcept {
    return ClusterBinKey{div_side(st, x) << 1 | (lon < 0.0 ? 1u : 0u), div_side(st, y)};
}

// Makes room in the point buffer. It starts at 16 points and doubles (folding first) up to
// kPendingCap, so that a GROUP BY with many small groups does not pay 12 KB per group.
Status grow_or_flush_pending(ClusterState* st) noexcept {
    if (st->n_pending > 0) {
        const Status s = flush_pending(st);
        if (s != Status::Ok) return s;
    }
    if (st->cap_pending < kPendingCap) {
        const std::uint32_t cap = st->cap_pending == 0 ? 16 : 2 * st->cap_pending;
        const std::size_t peak =  // as in reserve_bins: the old buffer is live while it grows
            state_bytes(st->cap_bins, st->bins.cap_chunks, slot_count(st), cap) +
            std::size_t{st->cap_pending} * sizeof(Pending);
        if (st->alloc.budget_bytes != 0 && peak > st->alloc.budget_bytes) {
            if (st->pending != nullptr) return Status::Ok;  // go on with the buffer it has
            st->refused_bytes = peak;
            return Status::StateTooLarge;
        }
        auto* p = static_cast<Pending*>(st->alloc.alloc(st->alloc.ctx, std::size_t{cap} * sizeof(Pending)));
        if (p != nullptr) {
            if (st->pending != nullptr) st->alloc.release(st->alloc.ctx, st->pending);
            st->pending = p;
            st->cap_pending = cap;
        } else if (st->pending == nullptr) {
            return Status::OutOfMemory;  // (with a buffer already, going on with it is fine)
        }
    }
    return Status::Ok;
}

// The per-row path: lat/lon are validated and free of -0.0; x/y are fixed-point positions. The
// point waits in the pending buffer (cluster_internal.hpp) and is counted at once.
Status add_fixed(ClusterState* st, std::uint64_t x, std::uint64_t y, double lat, double lon,
                 bool has_id, std::int64_t id) noexcept {
    if (st->total >= kMaxTotalCount) return Status::ClusterTooManyPoints;
    if (st->n_pending == st->cap_pending) {
        const Status s = grow_or_flush_pending(st);
        if (s != Status::Ok) return s;
    }
    st->pending[st->n_pending++] = Pending{x, y, lat, lon, id, has_id ? 1u : 0u};
    st->total += 1;
    return Status::Ok;
}

// Whether a position lies within kLatLonSlackFixed of lat/lon's own, as the deserialiser expects
// of every member (cluster_internal.hpp).
bool near_own_lat_lon(std::uint64_t x, std::uint64_t y, double lat, double lon) noexcept {
    const std::uint64_t ox = fixed_x_of_lon(lon), oy = fixed_y_of_lat(lat);
    return (x > ox ? x - ox : ox - x) <= kLatLonSlackFixed &&
           (y > oy ? y - oy : oy - y) <= kLatLonSlackFixed;
}

Status unit_position(double unit_x, double unit_y, std::uint64_t* x, std::uint64_t* y) noexcept {
    if (!(unit_x >= 0.0 && unit_x <= 1.0 && unit_y >= 0.0 && unit_y <= 1.0))
        return Status::UnitPositionOutOfRange;  // also NaN
    *x = fixed_from_unit(unit_x);
    *y = fixed_from_unit(unit_y);
    return Status::Ok;
}

}  // namespace

Status cluster_create(int zoom, double radius_px, bool has_id, const Allocator& alloc,
                      ClusterState** out) noexcept {
    *out = nullptr;
    if (zoom < 0 || zoom > kMaxZoom) return Status::ZoomOutOfRange;
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    auto* st = static_cast<ClusterState*>(alloc.alloc(alloc.ctx, sizeof(ClusterState)));
    if (st == nullptr) return Status::OutOfMemory;
    std::memset(static_cast<void*>(st), 0, sizeof(ClusterState));
    st->alloc = alloc;
    init_params(st, zoom, radius_px, has_id);
    *out = st;
    return Status::Ok;
}

void cluster_destroy(ClusterState* st) noexcept {
    if (st == nullptr) return;
    const Allocator a = st->alloc;
    for (std::uint32_t j = 0; j < st->bins.n_chunks; ++j) a.release(a.ctx, st->bins.chunks[j]);
    if (st->bins.chunks != nullptr) a.release(a.ctx, st->bins.chunks);
    if (st->slots != nullptr) a.release(a.ctx, st->slots);
    if (st->pending != nullptr) a.release(a.ctx, st->pending);
    a.release(a.ctx, st);
}

Status cluster_check_params(const ClusterState* st, int zoom, double radius_px,
                            bool has_id) noexcept {
    return st->zoom == zoom && st->radius_px == radius_px && st->has_id == has_id
               ? Status::Ok
               : Status::ClusterParamsDiffer;
}

Status cluster_add_point(ClusterState* st, double lat, double lon, bool has_id,
                         std::int64_t id) noexcept {
    const Status s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    lat += 0.0;  // -0.0 -> +0.0 (see the top of this file)
    lon += 0.0;
    return add_fixed(st, kPositionPending, kPositionPending, lat,
                     lon, has_id && st->has_id, id);
}

Status cluster_add_mercator(ClusterState* st, double unit_x, double unit_y, double lat, double lon,
                            bool has_id, std::int64_t id) noexcept {
    std::uint64_t x = 0, y = 0;
    Status s = unit_position(unit_x, unit_y, &x, &y);
    if (s != Status::Ok) return s;
    s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    if (!near_own_lat_lon(x, y, lat, lon)) return Status::UnitPositionOutOfRange;
    return add_fixed(st, x, y, lat + 0.0, lon + 0.0, has_id && st->has_id, id);
}

Status cluster_add_cell_centre(ClusterState* st, double unit_x, double unit_y, bool has_id,
                               std::int64_t id) noexcept {
    std::uint64_t x = 0, y = 0;
    const Status s = unit_position(unit_x, unit_y, &x, &y);
    if (s != Status::Ok) return s;
    // Cell centres are multiples of 2^-30 at most (zoom 29 and geohash precision 12 alike), so
    // x / 2^48 and y / 2^48 give back unit_x and unit_y exactly.
    if (static_cast<double>(x) != unit_x * kFixedOneD || static_cast<double>(y) != unit_y * kFixedOneD)
        return Status::UnitPositionOutOfRange;
    return add_fixed(st, x, y, std::numeric_limits<double>::quiet_NaN(), 0.0, has_id && st->has_id, id);
}

Status cluster_merge(ClusterState* dst, const ClusterState* src, CancelCheck cancel) noexcept {
    if (dst == nullptr || src == nullptr || dst == src) return Status::Internal;
    if (cluster_check_params(dst, src->zoom, src->radius_px, src->has_id) != Status::Ok)
        return Status::ClusterParamsDiffer;
    if (src->total > kMaxTotalCount - dst->total) return Status::ClusterTooManyPoints;
    Status settled = settle(src);
    if (settled == Status::Ok) settled = settle(dst);
    if (settled != Status::Ok) return settled;
    // Count the new keys first and reserve once, so that a failure leaves dst untouched.
    Poller poll(cancel);
    std::uint64_t fresh = 0;
    for (std::uint32_t i = 0; i < src->n_bins; ++i) {
        if (find_bin(dst, src->bins[i].kx, src->bins[i].ky) == nullptr) ++fresh;
        if (poll.canceled(1)) return Status::Canceled;
    }
    if (fresh > 0) {
        const Status s = reserve_bins(dst, dst->n_bins + fresh, true, &poll);
        if (s != Status::Ok) return s;
    }
    // src's bins hold all its points (settled above), so counting them bin by bin keeps dst
    // consistent when a cancel stops this halfway.
    for (std::uint32_t i = 0; i < src->n_bins; ++i) {
        const Bin& sb = src->bins[i];
        absorb_bin(find_or_insert_bin(dst, sb.kx, sb.ky, hash_key(sb.kx, sb.ky)), sb);
        dst->total += sb.count;
        if (poll.canceled(1)) return Status::Canceled;
    }
    return Status::Ok;
}

std::size_t cluster_estimate_bytes(const ClusterState* st) noexcept {
    return state_bytes(st->cap_bins, st->bins.cap_chunks, slot_count(st), st->cap_pending);
}

std::size_t cluster_refused_bytes(const ClusterState* st) noexcept { return st->refused_bytes; }

int cluster_zoom(const ClusterState* st) noexcept { return st->zoom; }
double cluster_radius_px(const ClusterState* st) noexcept { return st->radius_px; }
bool cluster_has_id(const ClusterState* st) noexcept { return st->has_id; }
std::uint64_t cluster_point_count(const ClusterState* st) noexcept { return st->total; }
std::size_t cluster_bin_count(const ClusterState* st) noexcept { return st->n_bins; }
const Allocator& cluster_allocator(const ClusterState* st) noexcept { return st->alloc; }

Status cluster_bin_key(const ClusterState* st, double lat, double lon,
                       ClusterBinKey* out) noexcept {
    const Status s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    lat += 0.0;
    lon += 0.0;
    *out = key_of(st, fixed_x_of_lon(lon), fixed_y_of_lat(lat), lon);
    return Status::Ok;
}

Status cluster_bin_key_mercator(const ClusterState* st, double unit_x, double unit_y, double lat,
                                double lon, ClusterBinKey* out) noexcept {
    std::uint64_t x = 0, y = 0;
    Status s = unit_position(unit_x, unit_y, &x, &y);
    if (s != Status::Ok) return s;
    s = validate_lat_lon(lat, lon);
    if (s != Status::Ok) return s;
    *out = key_of(st, x, y, lon + 0.0);
    return Status::Ok;
}

}  // namespace geocluster
