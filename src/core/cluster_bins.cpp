// The bin table of a state: bins in chunks that never move (BinStore), an open-addressing index
// of 8-byte hash slots over them, and their growth (reserve_bins), never past the allocator's
// budget (cluster_internal.hpp).
#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "polled_sort.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>

namespace geocluster {
namespace cluster_internal {

namespace {

// What growing the bins to a capacity of cap takes: the chunk table's new size, and the bytes of
// the old short last chunk that a regrowth copies (live with its new copy).
struct ChunkPlan {
    std::uint64_t cap;            // bins allocated afterwards
    std::uint32_t n_chunks;       // chunks afterwards
    std::uint32_t cap_chunks;     // chunk table entries afterwards
    std::size_t copied_bytes;     // old last chunk, reallocated (0: none)
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

namespace {

// The new arrays of a growth, allocated before anything changes: the chunk table (or the old
// one, if it has room), the last chunk regrown to its full size, new chunks in
// table[n_chunks .. made), the hash slots.
struct Growth {
    Bin** table;
    Bin* regrown;
    Slot* slots;
    std::uint32_t made;
};

void release_growth(ClusterState* st, const Growth& g) noexcept {
    const BinStore& bs = st->bins;
    for (std::uint32_t j = bs.n_chunks; j < g.made; ++j)
        st->alloc.release(st->alloc.ctx, g.table[j]);
    if (g.table != bs.chunks) st->alloc.release(st->alloc.ctx, g.table);
    if (g.regrown != nullptr) st->alloc.release(st->alloc.ctx, g.regrown);
    if (g.slots != nullptr) st->alloc.release(st->alloc.ctx, g.slots);
}

std::uint32_t planned_chunk_bins(const ChunkPlan& plan, std::uint32_t j) noexcept {
    return static_cast<std::uint32_t>(
        std::min<std::uint64_t>(chunk_bins(j), plan.cap - chunk_base(j)));
}

// Allocates what plan and n_slots (if more than the state has) need; on failure releases it.
Status allocate_growth(ClusterState* st, const ChunkPlan& plan, std::uint64_t n_slots,
                       Growth* g) noexcept {
    const BinStore& bs = st->bins;
    *g = Growth{bs.chunks, nullptr, nullptr, bs.n_chunks};
    bool ok = true;
    if (plan.cap_chunks > bs.cap_chunks) {
        g->table =
            static_cast<Bin**>(st->alloc.alloc(st->alloc.ctx, plan.cap_chunks * sizeof(Bin*)));
        if (g->table == nullptr) {
            g->table = bs.chunks;
            return Status::OutOfMemory;
        }
        if (bs.n_chunks > 0) std::memcpy(g->table, bs.chunks, bs.n_chunks * sizeof(Bin*));
    }
    if (plan.copied_bytes > 0) {
        g->regrown = static_cast<Bin*>(st->alloc.alloc(
            st->alloc.ctx, planned_chunk_bins(plan, bs.n_chunks - 1) * sizeof(Bin)));
        ok = g->regrown != nullptr;
    }
    for (; ok && g->made < plan.n_chunks; ++g->made) {
        g->table[g->made] = static_cast<Bin*>(
            st->alloc.alloc(st->alloc.ctx, planned_chunk_bins(plan, g->made) * sizeof(Bin)));
        if (g->table[g->made] == nullptr) ok = false;
        if (!ok) break;
    }
    if (ok && n_slots > slot_count(st)) {
        g->slots = static_cast<Slot*>(st->alloc.alloc(st->alloc.ctx, n_slots * sizeof(Slot)));
        ok = g->slots != nullptr;
    }
    if (!ok) release_growth(st, *g);
    return ok ? Status::Ok : Status::OutOfMemory;
}

// Clears n_slots slots and inserts every bin, in index order (so a rebuilt table is identical).
// Polls: at millions of bins this writes tens of MB. false when poll said cancel.
bool fill_slots(const ClusterState* st, Slot* slots, std::uint64_t n_slots, Poller* poll) noexcept {
    constexpr std::uint32_t kStep = 65536;
    for (std::uint64_t at = 0; at < n_slots; at += kStep) {
        std::memset(slots + at, 0, std::min<std::uint64_t>(kStep, n_slots - at) * sizeof(Slot));
        if (poll != nullptr && poll->canceled(Poller::kPollEvery)) return false;
    }
    const std::uint64_t mask = n_slots - 1;
    for (std::uint32_t i = 0; i < st->n_bins; ++i) {
        const std::uint64_t h = hash_key(st->bins[i].kx, st->bins[i].ky);
        std::uint64_t j = h & mask;
        while (slots[j].index1 != 0) j = (j + 1) & mask;
        slots[j] = Slot{i + 1, tag_of(h)};
        if (poll != nullptr && poll->canceled(1)) return false;
    }
    return true;
}

void commit_growth(ClusterState* st, const ChunkPlan& plan, std::uint64_t n_slots,
                   const Growth& g) noexcept {
    BinStore& bs = st->bins;
    if (g.regrown != nullptr) {
        Bin*& last = g.table[bs.n_chunks - 1];
        const std::uint32_t used = st->n_bins - chunk_base(bs.n_chunks - 1);
        if (used > 0) std::memcpy(g.regrown, last, std::size_t{used} * sizeof(Bin));
        st->alloc.release(st->alloc.ctx, last);
        last = g.regrown;
    }
    if (g.table != bs.chunks) {
        if (bs.chunks != nullptr) st->alloc.release(st->alloc.ctx, bs.chunks);
        bs.chunks = g.table;
        bs.cap_chunks = plan.cap_chunks;
    }
    if (plan.cap > st->cap_bins) {
        bs.n_chunks = plan.n_chunks;
        bs.last_bins = planned_chunk_bins(plan, plan.n_chunks - 1);
        st->cap_bins = static_cast<std::uint32_t>(plan.cap);
    }
    if (g.slots != nullptr) {
        if (st->slots != nullptr) st->alloc.release(st->alloc.ctx, st->slots);
        st->slots = g.slots;
        st->slot_mask = n_slots - 1;
    }
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
    Growth g;
    const Status s = allocate_growth(st, plan, n_slots, &g);
    if (s != Status::Ok) return s;
    // A cancel while the slots fill releases the new arrays and leaves the state as it was.
    if (g.slots != nullptr && !fill_slots(st, g.slots, n_slots, poll)) {
        release_growth(st, g);
        return Status::Canceled;
    }
    commit_growth(st, plan, n_slots, g);
    return Status::Ok;
}

void release_slots(ClusterState* st) noexcept {
    if (st->slots != nullptr) st->alloc.release(st->alloc.ctx, st->slots);
    st->slots = nullptr;
    st->slot_mask = 0;
}

Status restore_slots(ClusterState* st, std::uint64_t n_slots) noexcept {
    if (st->slots != nullptr || n_slots == 0) return Status::Ok;
    auto* slots = static_cast<Slot*>(st->alloc.alloc(st->alloc.ctx, n_slots * sizeof(Slot)));
    if (slots == nullptr) return Status::OutOfMemory;
    fill_slots(st, slots, n_slots, nullptr);
    st->slots = slots;
    st->slot_mask = n_slots - 1;
    return Status::Ok;
}

std::ptrdiff_t operator-(const Bin* b, const BinStore& bins) noexcept {
    static_assert(std::is_standard_layout<ClusterState>::value, "offsetof applies");
    const auto* st = reinterpret_cast<const ClusterState*>(reinterpret_cast<const char*>(&bins) -
                                                           offsetof(ClusterState, bins));
    const std::uint32_t i = find_index_hashed(st, b->kx, b->ky, hash_key(b->kx, b->ky));
    return i == kNoBin ? -1 : static_cast<std::ptrdiff_t>(i);
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

}  // namespace cluster_internal
}  // namespace geocluster
