// The create's build, streamed (hierarchy_stream.hpp): the clustering's levels kept as runs, then
// hier_pack's slots and records band by band, one block at a time.
//
// Why these give hier_pack's bytes exactly. A run is hier_pack's "same cluster" chain: a node is
// in its parent's run when it is the parent's only child (hier_pack: the same count), so the
// run's distinct cluster is made once, from the item of its finest node (the one hierarchy_build
// sums to the same bits and copies to the run's coarser nodes), by phase B's own steps
// (hier_node_of_item), its expansion zoom that node's. A record starts where a run or a band does;
// its slot comes from the same order as hier_pack's (block, parent's packed id, centre north to
// south then west to east, ordinal), zoom by zoom from the band's first, the slots of a block
// continuing from its counter; blocks go out in (band, block) order, their records by slot.
//
// Memory: everything from the caller's allocator, plain data released by hier_stream_free.
#include "core.hpp"

#include "hierarchy_stream.hpp"

#include "cluster_internal.hpp"
#include "hierarchy_items.hpp"
#include "hierarchy_levels.hpp"
#include "polled_sort.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <new>

namespace geocluster {

namespace {

using cluster_internal::alloc_array;
using cluster_internal::Item;
using cluster_internal::Poller;
using cluster_internal::release_array;
using cluster_internal::u128;

constexpr std::uint32_t kSingle = 0x80000000u;  // a run of one marker: kSingle | its number
constexpr std::uint32_t kNoRun = UINT32_MAX;
constexpr std::int64_t kLow47 = (std::int64_t{1} << kHierIdZoomShift) - 1;

// A record to be, while its zoom's slots are handed out. Its centre, which orders records of the
// same block, Z-order and parent (hardly ever), is looked up from its run then: 24 bytes to sort
// instead of 48 (its block in 32 bits: block zooms go up to 13, kBandTable).
struct Rep {
    std::uint64_t z_order;  // hier_z_order of its centre
    std::int64_t parent;    // its parent's packed id, -1 at zoom 0
    std::uint32_t block;
    std::uint32_t node;  // position in its zoom (its ordinal's order)
};
static_assert(sizeof(Rep) == 24, "a record to be is 24 bytes");

// A record of the band being written, in 16 bytes (10.5M of them at 10M markers, the packing's
// peak; 24, then 20 before): its id and its parent's without their zooms, 47 bits each (its zoom
// is its segment's, its parent's the zoom before, and at zoom 0 it has none), and its run.
struct RecRef {
    std::uint64_t lo;  // id | the parent's low 17 bits << 47
    std::uint64_t hi;  // the parent's high 30 bits | run << 32
    static RecRef of(std::int64_t id, std::int64_t parent, std::uint32_t run) noexcept {
        const auto p = parent < 0 ? 0 : static_cast<std::uint64_t>(parent & kLow47);
        return RecRef{(static_cast<std::uint64_t>(id & kLow47)) | p << 47,
                      p >> 17 | std::uint64_t{run} << 32};
    }
    std::uint64_t id47() const noexcept { return lo & static_cast<std::uint64_t>(kLow47); }
    std::int64_t parent(int zoom) const noexcept {  // its parent's id, the record at zoom
        if (zoom == 0) return -1;
        const std::uint64_t p = lo >> 47 | (hi & ((std::uint64_t{1} << 30) - 1)) << 17;
        return static_cast<std::int64_t>(p | static_cast<std::uint64_t>(zoom - 1)
                                                 << kHierIdZoomShift);
    }
    std::uint32_t run() const noexcept { return static_cast<std::uint32_t>(hi >> 32); }
};
static_assert(sizeof(RecRef) == 16, "a record of the band is 16 bytes");

// A marker of a multi-marker leaf: the block of its position, its leaf, and the marker itself
// (copied, not indexed: the members are sorted and read in block order, in which an index into
// the markers array, 240 MB at 10M, was a cache miss per member in the sort's ties and in each
// member's record).
struct Member {
    std::uint64_t block;
    std::int64_t leaf;
    HierMarker marker;
};

struct BlockFill {  // a block of the band: its slots from base, used so far
    std::uint64_t block, base, used;
};

struct Centre {  // a run's centre, as hier_node_of_item makes it
    double lat, lon;
};

// A single-marker leaf: its marker, all its records read, in one place (they were a marker
// index, a centre by leaf and the marker by index: three cache misses a record at 10M, the
// markers array's the worst). The markers reordered by the clustering start with the single
// leaves' in leaf order (hierarchy_build_levels_in_place): the singles are read there, not
// copied (a copy was 137 MB of the packing's peak at 10M). Its centre is hier_single_centre's of
// the position: the position itself but beyond Web Mercator's latitudes, so not kept.
using Single = HierMarker;

Centre single_centre(const Single& m) noexcept {
    Centre c;
    hier_single_centre(m.lat, m.lon, &c.lat, &c.lon);
    return c;
}

// A multi-marker run: what its records read, in 72 bytes where its HierNode took 176 (5.3M of
// them at 10M markers): its centre (made once, a long double Mercator round trip), latitude
// bounds, min id, sums and finest zoom. Its longitude bounds are made again from the sums
// (item_lon_bounds, as hier_node_of_item made them), its expansion zoom is its finest zoom + 1,
// and the ids the stream never set are gone. Nearly every run has markers on one side of the
// meridian only (kWest says which): the other side's count, sum and bounds are then 0 and
// +inf/-inf, not kept. Its 128-bit sums are kept as residuals against count times its centre's
// fixed-point position, as the block format stores them (a mean is within a unit or so of its
// centre: a residual is about count units), in 32 bits each. A run that is not so (markers on
// both sides, residuals beyond 32 bits) has its sums and longitude bounds whole in its zoom's
// Wide array, kWide in its zoom and the index in rx (112 bytes a run before, all of it kept).
struct Multi {
    double lat, lon;
    double min_lat, max_lat;
    double min_lon, max_lon;  // its side's longitude bounds
    std::int64_t id;
    std::uint32_t count;  // fewer than 2^31 markers (kSingle)
    std::uint32_t rx,
        ry;             // two's complement residuals of its side's x sum and of y, or rx an index
    std::uint8_t zoom;  // its finest zoom, kWide, kWest
};
static_assert(sizeof(Multi) == 72, "a multi-marker run is 72 bytes");

constexpr std::uint8_t kWide = 0x80;  // in Multi::zoom: its sums and bounds are a Wide
constexpr std::uint8_t kWest = 0x40;  // in Multi::zoom: its markers are all west (lon < 0)
constexpr std::uint8_t kZoomBits = 0x3f;

struct Wide {  // a multi-marker run's sums and longitude bounds, whole
    HierSums sums;
};

// Whether a wrapping residual is a 32-bit two's complement value.
bool fits_32(u128 r) noexcept { return r + (u128{1} << 31) < (u128{1} << 32); }

}  // namespace

struct HierStream {
    const HierMarker* markers;
    std::size_t n_markers;
    int max_zoom;
    HierBands bands;
    HierSlotCounters* counters;
    Allocator alloc, counters_alloc;
    Poller poll{CancelCheck{nullptr, nullptr}};

    // The levels: per zoom its node count, each node's run and (z < max_zoom) each zoom z + 1
    // node's parent position; the multi-marker runs made at each zoom, numbered from
    // multi_base[z + 1]; the single-marker leaves, numbered in leaf order.
    std::uint32_t n_at[kHierMaxZoom + 1];
    std::uint32_t* run_of[kHierMaxZoom + 1];
    std::uint32_t* parent_of[kHierMaxZoom + 1];
    Multi* multi[kHierMaxZoom + 1];
    Wide* wide[kHierMaxZoom + 1];  // each zoom's runs whose sums are whole (kWide)
    std::uint32_t n_wide[kHierMaxZoom + 1], wide_cap[kHierMaxZoom + 1];
    std::uint32_t multi_base[kHierMaxZoom + 2];
    std::uint32_t n_singles;
    // Each single leaf (Single, the reordered markers' first n_singles): a run's node was made
    // again in every band the run spans, twice in each, and its centre (then a long double
    // Mercator round trip) was about a third of the packing's CPU. The markers of multi-marker
    // leaves follow them (n_member_refs of them), leaf by leaf in leaf order, leaf_count[j] of
    // the j-th (4 bytes a multi-marker leaf: a leaf for each of its markers was 17 MB at 10M).
    const Single* singles;
    std::uint32_t* leaf_count;
    std::size_t n_member_refs;

    // Writing: the next band (bands.n: the members), the ids of the last zoom given ids.
    int band;
    std::int64_t* ids_prev;
    // The band's records, zoom by zoom from its first, each zoom's sorted by (block, slot): its
    // zoom's records start at seg[z - zoom_lo] (seg[zooms] = n_recs), and cursor[z - zoom_lo]
    // is where its next block's are. A block's records in slot order are its records of each
    // zoom in turn (the slots of a block are handed out zoom by zoom), so the band's blocks are
    // made by merging the zooms' runs in block order: every array read in order, where a
    // permutation by (block, slot) read the records and through them the runs at random.
    RecRef* recs;
    std::size_t n_recs;
    std::size_t seg[kHierMaxZoom + 2], cursor[kHierMaxZoom + 1];
    std::size_t starts[kHierMaxZoom + 1];  // records starting at each zoom of the band
    Rep* reps;                             // a zoom's records to be, in recs' memory (start_band)
    BlockFill* fills;
    std::size_t n_fills, next_fill, fills_cap;
    HierBlockNode* scratch;    // one block's records
    HierSlotCounter* updates;  // the counters of every band written, in key order
    std::size_t n_updates, updates_cap;
    Member* members;  // the markers of multi-marker leaves, in block order
    std::size_t n_members, next_member;
    bool done;
};

namespace {

// Node h (hier_node_of_item's) of a run made at zoom as a Multi (Internal if it has no Multi).
Status multi_of(HierStream* s, const HierNode& h, int zoom, Multi* out) noexcept {
    const HierSums& u = h.sums;
    if (h.count < 2 || h.count >= kSingle || u.count_w > h.count || zoom < 0 || zoom > kHierMaxZoom)
        return Status::Internal;
    const bool west = u.count_w == h.count;
    const u128 x = cluster_internal::fixed_x_of_lon(h.lon),
               y = cluster_internal::fixed_y_of_lat(h.lat);
    const u128 sx = west ? static_cast<u128>(u.sx_w_hi) << 64 | u.sx_w_lo
                         : static_cast<u128>(u.sx_e_hi) << 64 | u.sx_e_lo,
               sy = static_cast<u128>(u.sy_hi) << 64 | u.sy_lo;
    const u128 rx = sx - h.count * x, ry = sy - h.count * y;
    // The other side empty, exactly as its sums say it (else all of them are kept).
    const bool one_side = west ? u.sx_e_lo == 0 && u.sx_e_hi == 0 && u.min_lon_e == INFINITY &&
                                     u.max_lon_e == -INFINITY
                               : u.count_w == 0 && u.sx_w_lo == 0 && u.sx_w_hi == 0 &&
                                     u.min_lon_w == INFINITY && u.max_lon_w == -INFINITY;
    *out = Multi{h.lat,
                 h.lon,
                 h.min_lat,
                 h.max_lat,
                 west ? u.min_lon_w : u.min_lon_e,
                 west ? u.max_lon_w : u.max_lon_e,
                 h.id,
                 static_cast<std::uint32_t>(h.count),
                 static_cast<std::uint32_t>(rx),
                 static_cast<std::uint32_t>(ry),
                 static_cast<std::uint8_t>(zoom | (west ? kWest : 0))};
    if (one_side && fits_32(rx) && fits_32(ry)) return Status::Ok;
    if (s->n_wide[zoom] == s->wide_cap[zoom]) {  // grown by doubling: few runs need it
        const std::uint32_t cap = std::max<std::uint32_t>(64, 2 * s->wide_cap[zoom]);
        Wide* grown = alloc_array<Wide>(s->alloc, cap);
        if (grown == nullptr) return Status::OutOfMemory;
        if (s->n_wide[zoom] > 0) std::memcpy(grown, s->wide[zoom], sizeof(Wide) * s->n_wide[zoom]);
        release_array(s->alloc, &s->wide[zoom]);
        s->wide[zoom] = grown;
        s->wide_cap[zoom] = cap;
    }
    s->wide[zoom][s->n_wide[zoom]] = Wide{u};
    out->rx = s->n_wide[zoom]++;
    out->zoom = static_cast<std::uint8_t>(zoom | kWide);
    return Status::Ok;
}

// A Multi's sums, whole (multi_of's residuals added back: wrapping, exact).
HierSums multi_sums(const HierStream& s, const Multi& m) noexcept {
    if ((m.zoom & kWide) != 0) return s.wide[m.zoom & kZoomBits][m.rx].sums;
    const u128 x = cluster_internal::fixed_x_of_lon(m.lon),
               y = cluster_internal::fixed_y_of_lat(m.lat);
    const auto widen = [](std::uint32_t r) {  // a 32-bit two's complement value, widened
        return static_cast<u128>(static_cast<std::int64_t>(static_cast<std::int32_t>(r)));
    };
    const u128 sx = widen(m.rx) + static_cast<u128>(m.count) * x,
               sy = widen(m.ry) + static_cast<u128>(m.count) * y;
    const std::uint64_t sx_lo = static_cast<std::uint64_t>(sx),
                        sx_hi = static_cast<std::uint64_t>(sx >> 64);
    if ((m.zoom & kWest) != 0)
        return HierSums{m.count,
                        0,
                        0,
                        sx_lo,
                        sx_hi,
                        static_cast<std::uint64_t>(sy),
                        static_cast<std::uint64_t>(sy >> 64),
                        INFINITY,
                        -INFINITY,
                        m.min_lon,
                        m.max_lon};
    return HierSums{0,
                    sx_lo,
                    sx_hi,
                    0,
                    0,
                    static_cast<std::uint64_t>(sy),
                    static_cast<std::uint64_t>(sy >> 64),
                    m.min_lon,
                    m.max_lon,
                    INFINITY,
                    -INFINITY};
}

const Multi& multi_run(const HierStream& s, std::uint32_t run) noexcept {
    // Zoom z's multi-marker runs are multi_base[z + 1] .. multi_base[z] - 1 (descending, 0 from
    // max_zoom + 1 on): run's zoom is the count of bases above it, counted without a branch.
    int z = 0;
    for (int i = 1; i < kHierMaxZoom + 2; ++i) z += s.multi_base[i] > run;
    return s.multi[z][run - s.multi_base[z + 1]];
}

// The record of a run (hier_record_of's of the run's node, with slot, zoom_min and parent_id as
// given; zoom_max its finest zoom, at most zoom_hi).
HierBlockNode run_record(const HierStream& s, std::uint32_t run, std::uint32_t slot, int zoom_min,
                         int zoom_hi, std::int64_t parent_id) noexcept {
    if ((run & kSingle) == 0) {  // hier_node_of_item's node, but for the ids the stream sets
        const Multi& m = multi_run(s, run);
        const int zoom = m.zoom & kZoomBits;
        // Made here, not through a zeroed HierNode and hier_record_of: a run of one side has
        // its side's longitude bounds (item_lon_bounds: it crosses nothing).
        HierBlockNode d{slot,
                        zoom_min,
                        std::min(zoom, zoom_hi),
                        m.count,
                        m.id,
                        parent_id,
                        zoom + 1,
                        m.lat,
                        m.lon,
                        m.min_lat,
                        m.min_lon,
                        m.max_lat,
                        m.max_lon,
                        multi_sums(s, m)};
        if ((m.zoom & kWide) != 0) {
            HierNode n{};
            n.count = m.count;
            n.id = m.id;
            n.min_lat = m.min_lat;
            n.max_lat = m.max_lat;
            n.sums = d.sums;
            cluster_internal::item_lon_bounds(hier_item_of_node(n), &d.min_lon, &d.max_lon);
        }
        return d;
    }
    // A single marker's record as hier_record_of makes it of the node hier_node_of_item makes:
    // its count, id, centre and bounds (the marker's position, -0.0 made +0.0), no sums. Made
    // here, not through a zeroed 176-byte HierNode copied into it: half the band's records.
    const Single& m = s.singles[run & ~kSingle];
    const Centre c = single_centre(m);
    return HierBlockNode{slot,        zoom_min,    std::min(s.max_zoom, zoom_hi),
                         1,           m.id,        parent_id,
                         -1,          c.lat,       c.lon,
                         m.lat + 0.0, m.lon + 0.0, m.lat + 0.0,
                         m.lon + 0.0, HierSums{}};
}

// The centre of a run's node (its record's lat and lon, without reading a single's marker).
Centre run_centre(const HierStream& s, std::uint32_t run) noexcept {
    if ((run & kSingle) != 0) return single_centre(s.singles[run & ~kSingle]);
    const Multi& m = multi_run(s, run);
    return Centre{m.lat, m.lon};
}

// Fetches ahead what run_record will read of a run: a multi-marker run's node, a single's Single.
// The band's records are read in order but their runs are not. Always inlined: a call to a
// function with no effect but prefetches is dropped as dead code by GCC's IPA.
[[gnu::always_inline]] inline void prefetch_run(const HierStream& s, std::uint32_t run) noexcept {
    if ((run & kSingle) != 0) {
        const char* p = reinterpret_cast<const char*>(&s.singles[run & ~kSingle]);
        __builtin_prefetch(p);
        __builtin_prefetch(p + sizeof(Single) - 1);
    } else {
        const char* p = reinterpret_cast<const char*>(&multi_run(s, run));
        __builtin_prefetch(p);
        __builtin_prefetch(p + 64);
        __builtin_prefetch(p + sizeof(Multi) - 1);
    }
}

// Fetches ahead what run_centre will read (always inlined, as prefetch_run).
[[gnu::always_inline]] inline void prefetch_centre(const HierStream& s,
                                                   std::uint32_t run) noexcept {
    if ((run & kSingle) != 0)
        __builtin_prefetch(&s.singles[run & ~kSingle]);
    else
        __builtin_prefetch(&multi_run(s, run).lat);
}

// Records (or nodes, markers) ahead whose scattered reads are fetched: each loop over them reads
// its arrays in order and through them others at random, with no dependence between iterations,
// but a miss to DRAM takes longer than the core's window of iterations.
constexpr std::size_t kAhead = 16;

// Blocks up to this zoom are sorted into by counting (one counter a tile: 1 MiB at zoom 9); a
// band of a finer block zoom (17 and beyond) sorts its entries whole.
constexpr int kMaxBucketZoom = 10;

// Sorts a[0..n) (entries with a .block of block zoom bz, less ordering by block first) into
// *sorted: by counting into their blocks, then each block's entries by less, where one
// polled_sort of millions of entries went through memory a dozen times (its runs and merge
// passes) with a comparison mispredicted at every step. The same order: less orders by block
// first. With tmp (room for n) the entries are copied into their blocks there in the order they
// come (*sorted = tmp), so that entries less does not order keep an order that depends on a's
// alone; without it (less must then be a total order) each is swapped into its block's next
// place in a (a cycle through the entries it displaces; *sorted = a): the records' sort, whose
// second array was 68 MB of the packing's peak at 10M markers. A band of a finer block zoom
// (17 and beyond) is sorted whole by polled_sort, through tmp or an array of its own.
// Canceled, OutOfMemory or Internal (a block beyond the tiles): *sorted then unset.
template <typename T, typename Less, typename SortBlock>
Status sort_by_block(HierStream* s, int bz, T* a, T* tmp, std::size_t n, Less less,
                     SortBlock sort_block, const T** sorted) noexcept {
    *sorted = nullptr;
    if (bz > kMaxBucketZoom || n > UINT32_MAX) {
        T* own = tmp == nullptr ? alloc_array<T>(s->alloc, n) : nullptr;
        if (tmp == nullptr && own == nullptr) return Status::OutOfMemory;
        const T* out =
            cluster_internal::polled_sort(a, tmp != nullptr ? tmp : own, n, less, s->poll);
        if (out != nullptr && own != nullptr && out == own && n > 0) {
            std::memcpy(a, own, sizeof(T) * n);
            out = a;
        }
        release_array(s->alloc, &own);
        *sorted = out;
        return out == nullptr ? Status::Canceled : Status::Ok;
    }
    const std::size_t tiles = std::size_t{1} << (2 * bz);
    // end[b]: where block b's entries end; next[b]: where its next entry goes.
    std::uint32_t* end = alloc_array<std::uint32_t>(s->alloc, tiles);
    std::uint32_t* next = alloc_array<std::uint32_t>(s->alloc, tiles);
    Status st = end == nullptr || next == nullptr ? Status::OutOfMemory : Status::Ok;
    if (st == Status::Ok) std::memset(end, 0, sizeof(std::uint32_t) * tiles);
    for (std::size_t r = 0; st == Status::Ok && r < n; ++r) {
        if (a[r].block >= tiles) st = Status::Internal;
        if (st == Status::Ok) ++end[a[r].block];
    }
    for (std::size_t b = 0, at = 0; st == Status::Ok && b < tiles; ++b) {
        next[b] = static_cast<std::uint32_t>(at);
        at += end[b];
        end[b] = static_cast<std::uint32_t>(at);
    }
    T* out = tmp != nullptr ? tmp : a;
    if (st == Status::Ok && tmp != nullptr) {
        for (std::size_t r = 0; r < n; ++r) tmp[next[a[r].block]++] = a[r];
    } else if (st == Status::Ok) {
        for (std::size_t b = 0; b < tiles; ++b) {
            while (next[b] < end[b]) {  // the entry in b's next place, on to its own block's
                T v = a[next[b]];
                while (v.block != b) std::swap(v, a[next[v.block]++]);
                a[next[b]++] = v;
            }
        }
    }
    if (st == Status::Ok && s->poll.canceled(2 * n)) st = Status::Canceled;
    for (std::size_t b = 0, from = 0; st == Status::Ok && b < tiles; ++b) {  // end[b]: b's end
        if (end[b] - from > 1) sort_block(out + from, out + end[b]);
        if (s->poll.canceled(end[b] - from + 1)) st = Status::Canceled;
        from = end[b];
    }
    release_array(s->alloc, &end);
    release_array(s->alloc, &next);
    if (st == Status::Ok) *sorted = out;
    return st;
}

// sort_by_block, each block's entries sorted by std::sort.
template <typename T, typename Less>
Status sort_by_block(HierStream* s, int bz, T* a, T* tmp, std::size_t n, Less less,
                     const T** sorted) noexcept {
    return sort_by_block(
        s, bz, a, tmp, n, less, [less](T* first, T* last) { std::sort(first, last, less); },
        sorted);
}

// Zoom's runs: max_zoom's leaves each its own; a coarser node its only child's, or a new one
// made from its item when it has several children.
Status level_runs(HierStream* s, int zoom, const hier_sweep::Sweep& clusters,
                  const std::uint32_t* parent, std::uint32_t n_finer) noexcept {
    const std::uint32_t n = clusters.n_clusters();
    std::uint32_t* run = s->run_of[zoom] = alloc_array<std::uint32_t>(s->alloc, n);
    unsigned char* many = alloc_array<unsigned char>(s->alloc, n);
    Status st = run == nullptr || many == nullptr ? Status::OutOfMemory : Status::Ok;
    std::uint32_t n_multi = 0;
    for (std::uint32_t k = 0; st == Status::Ok && k < n; ++k) {
        run[k] = zoom == s->max_zoom && clusters.single(k) ? kSingle | s->n_singles++ : kNoRun;
        many[k] = zoom == s->max_zoom && !clusters.single(k);
    }
    for (std::uint32_t c = 0; st == Status::Ok && c < n_finer; ++c) {
        if (parent[c] >= n) {
            st = Status::Internal;
            break;
        }
        if (run[parent[c]] == kNoRun) {
            run[parent[c]] = s->run_of[zoom + 1][c];
        } else {
            many[parent[c]] = 1;
        }
        if (s->poll.canceled(1)) st = Status::Canceled;
    }
    for (std::uint32_t k = 0; st == Status::Ok && k < n; ++k) n_multi += many[k];
    s->multi_base[zoom] = s->multi_base[zoom + 1] + n_multi;
    if (st == Status::Ok && s->multi_base[zoom] >= kSingle) st = Status::OutOfMemory;
    // max_zoom's multi-marker leaves are numbered here but made from their markers once the
    // clustering is done (leaf_multis): not held beside the clustering's arrays at its peak.
    const bool later = zoom == s->max_zoom;
    Multi* multi = st == Status::Ok && !later ? alloc_array<Multi>(s->alloc, n_multi) : nullptr;
    s->multi[zoom] = multi;
    if (st == Status::Ok && !later && multi == nullptr) st = Status::OutOfMemory;
    if (st == Status::Ok && later) s->leaf_count = alloc_array<std::uint32_t>(s->alloc, n_multi);
    if (st == Status::Ok && later && s->leaf_count == nullptr) st = Status::OutOfMemory;
    for (std::uint32_t k = 0, j = 0; st == Status::Ok && k < n; ++k) {
        if (many[k] != 0) {
            HierNode h;
            if (!later) hier_node_of_item(clusters.cluster(k), &h);
            if (!later) st = multi_of(s, h, zoom, &multi[j]);
            if (later) s->leaf_count[j] = static_cast<std::uint32_t>(clusters.count(k));
            run[k] = s->multi_base[zoom + 1] + j++;
        } else if (run[k] == kNoRun) {
            st = Status::Internal;  // a childless cluster
        }
        if (s->poll.canceled(1)) st = Status::Canceled;
    }
    release_array(s->alloc, &many);
    return st;
}

Status on_level(void* ctx, int zoom, const hier_sweep::Sweep& clusters,
                const std::uint32_t* parent_of_finer, std::uint32_t n_finer) noexcept {
    HierStream* s = static_cast<HierStream*>(ctx);
    s->n_at[zoom] = clusters.n_clusters();
    if (zoom < s->max_zoom)  // adopted (the hook's adopts_parents), released with the stream
        s->parent_of[zoom] = const_cast<std::uint32_t*>(parent_of_finer);
    return level_runs(s, zoom, clusters, parent_of_finer, n_finer);
}

// max_zoom's multi-marker leaves (level_runs numbered them) from their markers: each leaf's item
// summed again from its markers' items, as hierarchy_build's phase B sums its leaves (integer
// sums, minima and maxima: the clustering's item, bit for bit, whatever the order). Made after
// the clustering, whose peak at 10M (the copy after zoom 15) they were 151 MB of. A leaf's
// markers lie together, leaves in order (the reordered markers after the singles), so each is
// summed and made at once: an item for every leaf, held until all were summed, was 173 MB at
// 10M, the clustering's peak once the singles were read in place.
Status leaf_multis(HierStream* s) noexcept {
    const int z = s->max_zoom;
    const std::uint32_t n_multi = s->multi_base[z] - s->multi_base[z + 1];
    s->multi[z] = alloc_array<Multi>(s->alloc, n_multi);
    Status st = s->multi[z] == nullptr ? Status::OutOfMemory : Status::Ok;
    const HierMarker* member = s->markers + s->n_singles;
    std::size_t i = 0;
    for (std::uint32_t j = 0; st == Status::Ok && j < n_multi; ++j) {
        const std::size_t end = i + s->leaf_count[j];
        if (s->leaf_count[j] < 2 || end > s->n_member_refs) {
            st = Status::Internal;
            break;
        }
        cluster_internal::Item sum = hier_item_of_marker(member[i]);
        for (++i; i < end; ++i) cluster_internal::item_add(sum, hier_item_of_marker(member[i]));
        HierNode h;
        hier_node_of_item(sum, &h);
        st = multi_of(s, h, z, &s->multi[z][j]);
        if (s->poll.canceled(end - i + 1)) st = Status::Canceled;
    }
    if (st == Status::Ok && i != s->n_member_refs) st = Status::Internal;
    return st;
}

// The single leaves: the reordered markers' first ones (as many as level_runs numbered).
Status single_markers(HierStream* s, std::uint32_t n_single) noexcept {
    if (n_single != s->n_singles || n_single > s->n_markers) return Status::Internal;
    s->singles = s->markers;
    s->n_member_refs = s->n_markers - n_single;
    return Status::Ok;
}

// The blocks of reps[0..n) (sorted by block) added to the band's fills, kept sorted, each new
// one with its counter's slot base.
Status add_fills(HierStream* s, int bi, const Rep* reps, std::size_t n) noexcept {
    std::size_t fresh = 0;
    for (std::size_t r = 0; r < n; ++r) fresh += r == 0 || reps[r].block != reps[r - 1].block;
    if (s->n_fills + fresh > s->fills_cap) {
        const std::size_t cap = std::max(2 * s->fills_cap, s->n_fills + fresh);
        BlockFill* grown = alloc_array<BlockFill>(s->alloc, cap);
        if (grown == nullptr) return Status::OutOfMemory;
        if (s->n_fills > 0) std::memcpy(grown, s->fills, sizeof(BlockFill) * s->n_fills);
        release_array(s->alloc, &s->fills);
        s->fills = grown;
        s->fills_cap = cap;
    }
    // Merged from the back: the old fills and the new blocks, both ascending.
    std::size_t i = s->n_fills, out = s->n_fills + fresh, r = n;
    while (r > 0) {
        const std::uint64_t b = reps[r - 1].block;
        while (r > 0 && reps[r - 1].block == b) --r;
        while (i > 0 && s->fills[i - 1].block > b) s->fills[--out] = s->fills[--i];
        if (i > 0 && s->fills[i - 1].block == b) {
            s->fills[--out] = s->fills[--i];
        } else {
            const std::uint64_t key = static_cast<std::uint64_t>(bi) << 56 | b;
            s->fills[--out] = BlockFill{b, hier_slot_counter_next(*s->counters, key), 0};
        }
    }
    s->n_fills = s->n_fills + fresh - (out - i);
    if (out != i) std::memmove(s->fills + i, s->fills + out, sizeof(BlockFill) * (s->n_fills - i));
    return Status::Ok;
}

BlockFill* fill_of(HierStream* s, std::uint64_t block) noexcept {
    return std::lower_bound(s->fills, s->fills + s->n_fills, block,
                            [](const BlockFill& f, std::uint64_t b) { return f.block < b; });
}

// One block's records to be: sorted by counting on the bits of their Z-order just below the
// block's (all but a clamped edge's share those: its tile's), then by insertion, each out of
// place only among the few of its digit. std::sort of the blocks' entries, its comparison of
// Z-orders mispredicted at every step, was a tenth of the packing's CPU at 10M markers.
constexpr int kDigitBits = 14;
constexpr std::size_t kDigitRoom = std::size_t{1} << 17;  // entries beyond: std::sort

struct RepSort {
    Rep* tmp;              // room for the largest block sorted so (kDigitRoom at most)
    std::uint32_t* count;  // 2^kDigitBits counters
    int lead;              // the Z-order's bits fixed by the block: 2 * block zoom
};

template <typename Less>
void sort_block_reps(const RepSort& w, Rep* first, Rep* last, Less less) noexcept {
    const std::size_t m = static_cast<std::size_t>(last - first);
    if (m > kDigitRoom) {
        std::sort(first, last, less);
        return;
    }
    if (m > 16) {
        int bits = 1;
        while (bits < kDigitBits && (std::size_t{1} << bits) < m) ++bits;
        const auto digit = [&w, bits](const Rep& r) {
            return static_cast<std::uint32_t>(r.z_order << w.lead >> (64 - bits));
        };
        std::memset(w.count, 0, sizeof(std::uint32_t) << bits);
        for (const Rep* r = first; r != last; ++r) ++w.count[digit(*r)];
        for (std::uint32_t d = 0, at = 0; d < (std::uint32_t{1} << bits); ++d) {
            const std::uint32_t c = w.count[d];
            w.count[d] = at;
            at += c;
        }
        for (const Rep* r = first; r != last; ++r) w.tmp[w.count[digit(*r)]++] = *r;
        std::memcpy(first, w.tmp, sizeof(Rep) * m);
    }
    for (Rep* i = first + 1; i != last; ++i) {
        if (!less(*i, i[-1])) continue;
        const Rep v = *i;
        Rep* j = i;
        do {
            *j = j[-1];
            --j;
        } while (j != first && less(v, j[-1]));
        *j = v;
    }
}

// The records of zoom z starting in band bi: sorted as hier_pack sorts them, given the next
// slots of their blocks, appended to the band's records.
Status assign_slots(HierStream* s, int bi, int z, Rep* reps, std::size_t n,
                    std::int64_t* ids) noexcept {
    const Rep* sorted = nullptr;
    const std::uint32_t* run = s->run_of[z];
    const int bz = s->bands.band[bi].block_zoom;
    const auto less = [s, run](const Rep& x, const Rep& y) noexcept {
        if (x.block != y.block) return x.block < y.block;
        if (x.z_order != y.z_order) return x.z_order < y.z_order;
        if (x.parent != y.parent) return x.parent < y.parent;
        const Centre a = run_centre(*s, run[x.node]), b = run_centre(*s, run[y.node]);
        if (a.lat != b.lat) return a.lat > b.lat;
        if (a.lon != b.lon) return a.lon < b.lon;
        return x.node < y.node;
    };
    RepSort w{alloc_array<Rep>(s->alloc, std::min(n, kDigitRoom)),
              alloc_array<std::uint32_t>(s->alloc, std::size_t{1} << kDigitBits), 2 * bz};
    Status st = w.tmp == nullptr || w.count == nullptr ? Status::OutOfMemory : Status::Ok;
    if (st == Status::Ok)  // in place: the comparison is total (ends with the node)
        st = sort_by_block(
            s, bz, reps, static_cast<Rep*>(nullptr), n, less,
            [&w, less](Rep* first, Rep* last) { sort_block_reps(w, first, last, less); }, &sorted);
    release_array(s->alloc, &w.tmp);
    release_array(s->alloc, &w.count);
    if (st != Status::Ok) return st;
    st = add_fills(s, bi, sorted, n);
    const HierBand& band = s->bands.band[bi];
    const std::uint64_t slot_limit = std::min<std::uint64_t>(
        std::uint64_t{1} << hier_slot_bits(band), std::uint64_t{UINT32_MAX} + 1);
    BlockFill* f = s->fills;  // the fills and the sorted records both ascend by block
    // The records are written over the entries already read (start_band): none is read again.
    for (std::size_t r = 0; st == Status::Ok && r < n; ++r) {
        if (r + kAhead < n) {
            __builtin_prefetch(&ids[sorted[r + kAhead].node], 1);
            __builtin_prefetch(&s->run_of[z][sorted[r + kAhead].node]);
        }
        if (r == 0 || sorted[r].block != f->block) f = fill_of(s, sorted[r].block);
        const std::uint64_t slot = f->base + f->used++;
        if (slot >= slot_limit) return Status::HierarchyBlockFull;
        const std::uint32_t k = sorted[r].node;
        ids[k] = hier_cluster_id(z, band, sorted[r].block, static_cast<std::uint32_t>(slot));
        s->recs[s->n_recs++] = RecRef::of(ids[k], sorted[r].parent, s->run_of[z][k]);
    }
    return st;
}

// Whether node k of zoom z starts a record of band: its run or the band starts there.
bool starts_record(const HierStream& s, const HierBand& band, int z, std::uint32_t k) noexcept {
    return z == band.zoom_lo || s.run_of[z][k] != s.run_of[z - 1][s.parent_of[z - 1][k]];
}

// Zoom z of band bi: its ids (a new slot where a record starts, else its parent's), its records.
Status band_zoom(HierStream* s, int bi, int z, std::int64_t* ids) noexcept {
    const HierBand& band = s->bands.band[bi];
    const std::uint32_t n = s->n_at[z];
    const std::uint32_t* run = s->run_of[z];
    const std::uint32_t* parent = z > 0 ? s->parent_of[z - 1] : nullptr;
    const std::uint32_t* parent_run = z > 0 ? s->run_of[z - 1] : nullptr;
    const std::size_t n_starts = s->starts[z - band.zoom_lo];
    Rep* reps = s->reps;
    Status st = Status::Ok;
    std::size_t j = 0;
    for (std::uint32_t k = 0; st == Status::Ok && k < n; ++k) {
        if (k + kAhead < n) {
            prefetch_centre(*s, run[k + kAhead]);
            if (z > 0) {
                __builtin_prefetch(&s->ids_prev[parent[k + kAhead]]);
                __builtin_prefetch(&parent_run[parent[k + kAhead]]);
            }
        }
        const std::int64_t parent_id = z > 0 ? s->ids_prev[parent[k]] : -1;
        if (z == band.zoom_lo || run[k] != parent_run[parent[k]]) {  // starts_record
            if (j == n_starts) return Status::Internal;
            const Centre c = run_centre(*s, run[k]);
            const std::uint64_t x = cluster_internal::fixed_x_of_lon(c.lon),
                                y = cluster_internal::fixed_y_of_lat(c.lat);
            const std::uint64_t block = hier_block_of_fixed(band.block_zoom, x, y);
            if (block > UINT32_MAX) return Status::Internal;
            reps[j++] =
                Rep{hier_z_order_fixed(x, y), parent_id, static_cast<std::uint32_t>(block), k};
        } else {
            ids[k] = hier_id_at_zoom(parent_id, z);
        }
        if (s->poll.canceled(1)) st = Status::Canceled;
    }
    if (st == Status::Ok && j != n_starts) st = Status::Internal;
    if (st == Status::Ok) st = assign_slots(s, bi, z, reps, n_starts, ids);
    return st;
}

// Where in the band's records' array (bytes from its start) a zoom's records to be are put
// when made records records come before them: a record beyond its end, aligned for a Rep.
std::size_t reps_at(std::size_t made) noexcept {
    const std::size_t at = sizeof(RecRef) * (made + 1);
    return (at + alignof(Rep) - 1) / alignof(Rep) * alignof(Rep);
}

// Band bi's ids and records, and their order by (block, slot).
Status start_band(HierStream* s, int bi) noexcept {
    const HierBand& band = s->bands.band[bi];
    // A run made at a zoom before the band's first (its finest zoom there) has no record in this
    // band or a later one: its node is released.
    for (int z = 0; z < band.zoom_lo; ++z) {
        release_array(s->alloc, &s->multi[z]);
        release_array(s->alloc, &s->wide[z]);
    }
    std::size_t n_recs = 0;  // counted first: fewer than half the finest band's nodes start one
    for (int z = band.zoom_lo; z <= band.zoom_hi; ++z) {
        std::size_t c = 0;
        for (std::uint32_t k = 0; k < s->n_at[z]; ++k) c += starts_record(*s, band, z, k);
        s->starts[z - band.zoom_lo] = c;
        n_recs += c;
        if (s->poll.canceled(s->n_at[z])) return Status::Canceled;
    }
    // A zoom's records to be live in the band's records' array beyond the records made so far
    // (reps_at): assign_slots reads the sorted entries in order and writes the zoom's records
    // in order from there, never onto an entry still to read (a record is 16 bytes, an entry
    // 24, and they start a record apart). An array of their own was 68 MB of the packing's
    // peak at 10M markers; this one grows by 4 bytes an entry of the widest zoom.
    std::size_t bytes = sizeof(RecRef) * n_recs, before = 0;
    for (int z = band.zoom_lo; z <= band.zoom_hi; ++z) {
        bytes = std::max(bytes, reps_at(before) + sizeof(Rep) * s->starts[z - band.zoom_lo]);
        before += s->starts[z - band.zoom_lo];
    }
    s->recs = static_cast<RecRef*>(static_cast<void*>(alloc_array<unsigned char>(s->alloc, bytes)));
    if (s->recs == nullptr) return Status::OutOfMemory;
    s->n_recs = s->n_fills = s->next_fill = 0;
    for (int z = band.zoom_lo; z <= band.zoom_hi; ++z) {
        std::int64_t* ids = alloc_array<std::int64_t>(s->alloc, s->n_at[z]);
        if (ids == nullptr) return Status::OutOfMemory;
        s->seg[z - band.zoom_lo] = s->cursor[z - band.zoom_lo] = s->n_recs;
        s->reps = static_cast<Rep*>(
            static_cast<void*>(reinterpret_cast<unsigned char*>(s->recs) + reps_at(s->n_recs)));
        const Status st = band_zoom(s, bi, z, ids);
        release_array(s->alloc, &s->ids_prev);
        s->ids_prev = ids;
        if (z > 0) {  // the zoom before is no longer needed
            release_array(s->alloc, &s->run_of[z - 1]);
            release_array(s->alloc, &s->parent_of[z - 1]);
        }
        if (st != Status::Ok) return st;
    }
    s->seg[band.zoom_hi - band.zoom_lo + 1] = s->n_recs;
    s->reps = nullptr;
    std::uint64_t largest = 0;
    for (std::size_t f = 0; f < s->n_fills; ++f) largest = std::max(largest, s->fills[f].used);
    s->scratch = alloc_array<HierBlockNode>(s->alloc, largest);
    if (s->scratch == nullptr) return Status::OutOfMemory;
    return Status::Ok;
}

// The band's counters kept for the end; its arrays released.
Status end_band(HierStream* s, int bi) noexcept {
    if (s->n_updates + s->n_fills > s->updates_cap) {
        const std::size_t cap = std::max(2 * s->updates_cap, s->n_updates + s->n_fills);
        HierSlotCounter* grown = alloc_array<HierSlotCounter>(s->alloc, cap);
        if (grown == nullptr) return Status::OutOfMemory;
        if (s->n_updates > 0)
            std::memcpy(grown, s->updates, sizeof(HierSlotCounter) * s->n_updates);
        release_array(s->alloc, &s->updates);
        s->updates = grown;
        s->updates_cap = cap;
    }
    for (std::size_t f = 0; f < s->n_fills; ++f)
        s->updates[s->n_updates++] =
            HierSlotCounter{static_cast<std::uint64_t>(bi) << 56 | s->fills[f].block,
                            s->fills[f].base + s->fills[f].used};
    // The last band's records stay for the members to reuse (start_members).
    if (bi + 1 < s->bands.n) release_array(s->alloc, &s->recs);
    release_array(s->alloc, &s->scratch);
    release_array(s->alloc, &s->fills);
    s->n_fills = s->fills_cap = s->next_fill = 0;
    if (bi + 1 < s->bands.n) s->n_recs = 0;
    return Status::Ok;
}

// An array of n Ts in *old's memory (bytes long) when it has room, taken from *old; else *old
// released and a new one. The members' arrays in the last band's records and the singles
// (hundreds of MB at 10M markers): memory already faulted in, not fresh pages.
template <typename T, typename U>
T* reuse_array(HierStream* s, U** old, std::size_t bytes, std::size_t n) noexcept {
    if (*old != nullptr && n <= bytes / sizeof(T) && alignof(T) <= alignof(std::max_align_t)) {
        T* t = static_cast<T*>(static_cast<void*>(*old));
        *old = nullptr;
        return t;
    }
    release_array(s->alloc, old);
    return alloc_array<T>(s->alloc, n);
}

// The next block of the band being written, its records made from their runs.
Status band_block(HierStream* s, HierStreamBlock* out) noexcept {
    const int bi = s->band;
    const HierBand& band = s->bands.band[bi];
    const BlockFill& f = s->fills[s->next_fill++];
    const int bits = hier_slot_bits(band);
    const std::int64_t slot_mask = (std::int64_t{1} << bits) - 1;
    std::uint64_t r = 0;
    for (int zi = 0; zi <= band.zoom_hi - band.zoom_lo; ++zi) {
        std::size_t& at = s->cursor[zi];
        const std::size_t end = s->seg[zi + 1];
        const int zoom = band.zoom_lo + zi;
        for (std::size_t a = at; a < std::min(end, at + kAhead); ++a)
            prefetch_run(*s, s->recs[a].run());
        for (; at < end && (s->recs[at].id47() >> bits) == f.block; ++at, ++r) {
            const RecRef& ref = s->recs[at];
            if (at + kAhead < end) prefetch_run(*s, s->recs[at + kAhead].run());
            s->scratch[r] =
                run_record(*s, ref.run(), static_cast<std::uint32_t>(ref.id47() & slot_mask), zoom,
                           band.zoom_hi, ref.parent(zoom));
        }
    }
    *out = HierStreamBlock{
        false,        bi,          f.block, s->scratch, static_cast<std::size_t>(f.used),
        band.zoom_lo, band.zoom_hi};
    return r == f.used ? Status::Ok : Status::Internal;
}

// The members: the markers of multi-marker leaves by (block of their position in the last band,
// leaf, id), as hier_pack orders them.
Status start_members(HierStream* s) noexcept {
    for (int z = 0; z <= s->max_zoom; ++z) {  // the runs are written
        release_array(s->alloc, &s->multi[z]);
        release_array(s->alloc, &s->wide[z]);
    }
    const int bz = s->bands.band[s->bands.n - 1].block_zoom;
    const HierMarker* m = s->markers + s->n_singles;  // leaf by leaf, in leaf order
    const std::size_t n = s->n_member_refs;
    const std::uint32_t* run = s->run_of[s->max_zoom];
    s->members = reuse_array<Member>(s, &s->recs, sizeof(RecRef) * s->n_recs, n);
    Member* tmp = alloc_array<Member>(s->alloc, n);
    s->n_recs = 0;
    Status st = s->members == nullptr || tmp == nullptr ? Status::OutOfMemory : Status::Ok;
    for (std::uint32_t k = 0, j = 0; st == Status::Ok && k < s->n_at[s->max_zoom]; ++k) {
        if ((run[k] & kSingle) != 0) continue;  // the multi-marker leaves, j-th in leaf order
        const std::size_t end = s->n_members + s->leaf_count[j++];
        if (end > n) st = Status::Internal;
        for (; st == Status::Ok && s->n_members < end; ++s->n_members) {
            const HierMarker& mk = m[s->n_members];
            s->members[s->n_members] =
                Member{hier_block_of(bz, mk.lat, mk.lon), s->ids_prev[k], mk};
        }
        if (s->poll.canceled(s->leaf_count[j - 1])) st = Status::Canceled;
    }
    if (st == Status::Ok && s->n_members != n) st = Status::Internal;
    release_array(s->alloc, &s->leaf_count);
    const Member* sorted = nullptr;
    if (st == Status::Ok)  // through tmp: markers of one leaf may share an id
        st = sort_by_block(
            s, bz, s->members, tmp, n,
            [](const Member& x, const Member& y) noexcept {
                if (x.block != y.block) return x.block < y.block;
                if (x.leaf != y.leaf) return x.leaf < y.leaf;
                return x.marker.id < y.marker.id;
            },
            &sorted);
    if (st == Status::Ok && sorted != s->members && n > 0)
        std::memcpy(s->members, sorted, sizeof(Member) * n);
    release_array(s->alloc, &tmp);
    std::size_t largest = 0;
    for (std::size_t r = 0, run = 0; st == Status::Ok && r < n; ++r) {
        run = r > 0 && s->members[r].block == s->members[r - 1].block ? run + 1 : 1;
        largest = std::max(largest, run);
    }
    if (st == Status::Ok) s->scratch = alloc_array<HierBlockNode>(s->alloc, largest);
    if (st == Status::Ok && s->scratch == nullptr) st = Status::OutOfMemory;
    return st;
}

void member_block(HierStream* s, HierStreamBlock* out) noexcept {
    const int bi = s->bands.n - 1;
    const std::size_t first = s->next_member;
    const std::uint64_t block = s->members[first].block;
    std::size_t r = first;
    for (; r < s->n_members && s->members[r].block == block; ++r) {
        // hier_member_record's record but for its centre, left at the marker's position: a
        // single's centre is not stored, and hier_node_block_encode_made does not remake it to
        // check it (HierStreamBlock). Making it was a long double Mercator round trip a member,
        // a sixth of the packing's CPU at 10M markers.
        const HierMarker& m = s->members[r].marker;
        s->scratch[r - first] = HierBlockNode{static_cast<std::uint32_t>(r - first),
                                              s->max_zoom,
                                              s->max_zoom,
                                              1,
                                              m.id,
                                              s->members[r].leaf,
                                              -1,
                                              m.lat,
                                              m.lon,
                                              m.lat,
                                              m.lon,
                                              m.lat,
                                              m.lon,
                                              HierSums{}};
    }
    s->next_member = r;
    *out = HierStreamBlock{true, bi, block, s->scratch, r - first, s->max_zoom, s->max_zoom};
}

// Moves on to the next band (or the members) when the current one is written out.
Status advance(HierStream* s) noexcept {
    while (s->band < s->bands.n && s->next_fill == s->n_fills) {
        if (s->recs != nullptr) {
            const Status st = end_band(s, s->band++);
            if (st != Status::Ok) return st;
            continue;
        }
        const Status st = start_band(s, s->band);
        if (st != Status::Ok) return st;
    }
    if (s->band == s->bands.n && s->members == nullptr) return start_members(s);
    return Status::Ok;
}

}  // namespace

Status hier_stream_start(HierMarker* markers, std::size_t n_markers, double radius_px, int max_zoom,
                         std::uint64_t* next_ordinal, HierSlotCounters* counters,
                         const Allocator& alloc, const Allocator& counters_alloc,
                         CancelCheck cancel, HierStream** out) noexcept {
    *out = nullptr;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    void* mem = alloc.alloc(alloc.ctx, sizeof(HierStream));
    if (mem == nullptr) return Status::OutOfMemory;
    HierStream* s = new (mem) HierStream{};
    *out = s;
    s->markers = markers;
    s->n_markers = n_markers;
    s->max_zoom = max_zoom;
    s->bands = hier_bands(max_zoom);
    s->counters = counters;
    s->alloc = alloc;
    s->counters_alloc = counters_alloc;
    s->poll = Poller(cancel);
    const HierLevelHook hook{&on_level, s, true};
    std::uint32_t n_single = 0;
    Status st = hierarchy_build_levels_in_place(markers, n_markers, radius_px, max_zoom,
                                                next_ordinal, alloc, cancel, hook, &n_single);
    if (st == Status::Ok) st = single_markers(s, n_single);
    if (st == Status::Ok) st = leaf_multis(s);
    return st;
}

bool hier_stream_next(HierStream* s, HierStreamBlock* out, Status* status) noexcept {
    *status = Status::Ok;
    if (s->done) return false;
    Status st = advance(s);
    if (st == Status::Ok && s->band < s->bands.n) st = band_block(s, out);
    if (st == Status::Ok && s->band < s->bands.n) return true;
    if (st == Status::Ok && s->next_member < s->n_members) {
        member_block(s, out);
        return true;
    }
    if (st == Status::Ok)
        st = hier_slot_counters_merge(s->counters, s->updates, s->n_updates, s->counters_alloc);
    s->done = true;
    *status = st;
    return false;
}

void hier_stream_free(HierStream* s) noexcept {
    if (s == nullptr) return;
    const Allocator a = s->alloc;
    for (int z = 0; z <= kHierMaxZoom; ++z) {
        release_array(a, &s->run_of[z]);
        release_array(a, &s->parent_of[z]);
        release_array(a, &s->multi[z]);
        release_array(a, &s->wide[z]);
    }
    release_array(a, &s->leaf_count);
    release_array(a, &s->ids_prev);
    release_array(a, &s->recs);
    release_array(a, &s->fills);
    release_array(a, &s->scratch);
    release_array(a, &s->updates);
    release_array(a, &s->members);
    a.release(a.ctx, s);
}

}  // namespace geocluster
