// Reading a packed cluster hierarchy (hierarchy_read.hpp).
#include "core.hpp"

#include "hierarchy_read.hpp"

#include "hierarchy_delta.hpp"

#include "cluster_internal.hpp"

#include <algorithm>
#include <cmath>

namespace geocluster {

std::size_t hier_block_ranges_cap(const HierBand& band) noexcept {
    // Per row of tiles at most three x runs (two box parts, one of them cut by the wrap).
    return 3 * (std::size_t{1} << band.block_zoom) + 1;
}

namespace {

struct XRun {
    std::int64_t lo, hi;
};

// The x runs of tiles covering lon part west..east widened by ring, wrapped into 0..n-1.
int x_runs(double west, double east, int bz, int ring, XRun* out) noexcept {
    using namespace cluster_internal;
    const std::int64_t n = std::int64_t{1} << bz;
    const int shift = kFixedBits - bz;
    const std::int64_t lo = std::min<std::int64_t>(n - 1, fixed_x_of_lon(west) >> shift) - ring;
    const std::int64_t hi = std::min<std::int64_t>(n - 1, fixed_x_of_lon(east) >> shift) + ring;
    if (hi - lo + 1 >= n) {
        out[0] = XRun{0, n - 1};
        return 1;
    }
    if (lo < 0) {
        out[0] = XRun{0, hi};
        out[1] = XRun{lo + n, n - 1};
        return 2;
    }
    if (hi >= n) {
        out[0] = XRun{0, hi - n};
        out[1] = XRun{lo, n - 1};
        return 2;
    }
    out[0] = XRun{lo, hi};
    return 1;
}

}  // namespace

std::size_t hier_block_ranges(const HierBand& band, const HierBlockBox& box, int ring,
                              HierBlockRange* out) noexcept {
    using namespace cluster_internal;
    const int bz = band.block_zoom;
    const std::int64_t n = std::int64_t{1} << bz;
    const int shift = kFixedBits - bz;
    // Mercator y grows southwards: the north edge is the first row.
    const std::int64_t y0 = std::max<std::int64_t>(
        0, std::min<std::int64_t>(n - 1, fixed_y_of_lat(box.north) >> shift) - ring);
    const std::int64_t y1 = std::min<std::int64_t>(
        n - 1, std::min<std::int64_t>(n - 1, fixed_y_of_lat(box.south) >> shift) + ring);
    XRun runs[4];
    int k = x_runs(box.west1, box.east1, bz, ring, runs);
    if (box.west2 <= box.east2) k += x_runs(box.west2, box.east2, bz, ring, runs + k);
    for (int i = 1; i < k; ++i)  // (at most four: an insertion sort)
        for (int j = i; j > 0 && runs[j].lo < runs[j - 1].lo; --j) std::swap(runs[j], runs[j - 1]);
    int m = 0;  // merged: disjoint and not adjacent
    for (int i = 0; i < k; ++i) {
        if (m > 0 && runs[i].lo <= runs[m - 1].hi + 1)
            runs[m - 1].hi = std::max(runs[m - 1].hi, runs[i].hi);
        else
            runs[m++] = runs[i];
    }
    std::size_t count = 0;
    for (std::int64_t y = y0; y <= y1; ++y) {
        for (int i = 0; i < m; ++i) {
            const std::uint64_t lo = static_cast<std::uint64_t>(y << bz | runs[i].lo);
            const std::uint64_t hi = static_cast<std::uint64_t>(y << bz | runs[i].hi);
            if (count > 0 && lo == out[count - 1].hi + 1)
                out[count - 1].hi = hi;  // whole rows run on into the next
            else
                out[count++] = HierBlockRange{lo, hi};
        }
    }
    return count;
}

HierBlockBox hier_bounds_box(double min_lat, double min_lon, double max_lat,
                             double max_lon) noexcept {
    if (min_lon <= max_lon) return HierBlockBox{0, min_lat, max_lat, min_lon, max_lon, 1, 0};
    return HierBlockBox{0, min_lat, max_lat, min_lon, 180.0, -180.0, max_lon};
}

HierNode hier_node_at(const HierBlockNode& r, const HierBand& band, std::uint64_t block,
                      int zoom) noexcept {
    const std::int64_t id = hier_cluster_id(zoom, band, block, r.slot);
    const std::int64_t parent = zoom == r.zoom_min ? r.parent_id : hier_id_at_zoom(id, zoom - 1);
    return HierNode{id,
                    parent,
                    zoom,
                    r.expansion_zoom,
                    r.count,
                    r.lat,
                    r.lon,
                    r.min_lat,
                    r.min_lon,
                    r.max_lat,
                    r.max_lon,
                    r.id,
                    r.count == 1 ? hier_single_sums(r.min_lat, r.min_lon) : r.sums};
}

Status hier_block_find(const unsigned char* data, std::size_t len, const unsigned char* delta,
                       std::size_t delta_len, std::uint32_t slot, HierBlockNode* out,
                       bool* found) noexcept {
    *found = false;
    HierDelta d;
    Status s = hier_delta_open(delta, delta_len, &d);
    if (s != Status::Ok) return s;
    // A shadowed slot is the delta's (or gone); the others are the block's.
    if (!hier_delta_shadows(d, slot)) return hier_node_block_find_slot(data, len, slot, out, found);
    if (d.nodes == nullptr) return Status::Ok;
    HierNodeBlockReader rd;
    s = hier_node_block_open(d.nodes, d.nodes_len, &rd);
    if (s != Status::Ok) return s;
    while (hier_node_block_next(&rd, out, &s))
        if (out->slot == slot) {
            *found = true;
            return Status::Ok;
        }
    return s;
}

Status hier_block_slot_end(const unsigned char* data, std::size_t len, const unsigned char* delta,
                           std::size_t delta_len, std::uint64_t* end) noexcept {
    *end = 0;
    HierDelta d;
    Status s = hier_delta_open(delta, delta_len, &d);
    if (s == Status::Ok) s = hier_node_block_slot_end(data, len, end);
    *end = std::max(*end, hier_delta_slot_end(d));
    return s;
}

bool hier_node_before(const HierNode& a, const HierNode& c) noexcept {
    if (a.count != c.count) return a.count > c.count;
    if (a.lat != c.lat) return a.lat > c.lat;
    if (a.lon != c.lon) return a.lon < c.lon;
    if (a.id != c.id) return a.id < c.id;
    return a.cluster_id < c.cluster_id;
}

// ---- id sets ----

namespace {

std::size_t slot_of(std::int64_t id, std::size_t cap) noexcept {
    std::uint64_t h = static_cast<std::uint64_t>(id) * 0x9E3779B97F4A7C15ull;
    return static_cast<std::size_t>(h >> 20) & (cap - 1);
}

}  // namespace

Status hier_id_set_init(HierIdSet* s, std::size_t expected, const Allocator& alloc) noexcept {
    std::size_t cap = 16;
    while (cap < 2 * expected) cap *= 2;
    auto* slots = static_cast<std::int64_t*>(alloc.alloc(alloc.ctx, cap * sizeof(std::int64_t)));
    *s = HierIdSet{slots, cap, 0};
    if (slots == nullptr) return Status::OutOfMemory;
    for (std::size_t i = 0; i < cap; ++i) slots[i] = -1;
    return Status::Ok;
}

bool hier_id_set_has(const HierIdSet& s, std::int64_t id) noexcept {
    if (id < 0 || s.slots == nullptr) return false;
    for (std::size_t i = slot_of(id, s.cap);; i = (i + 1) & (s.cap - 1)) {
        if (s.slots[i] == id) return true;
        if (s.slots[i] < 0) return false;
    }
}

Status hier_id_set_add(HierIdSet* s, std::int64_t id, const Allocator& alloc) noexcept {
    if (id < 0) return Status::Internal;
    if (2 * (s->n + 1) > s->cap) {
        HierIdSet bigger;
        if (hier_id_set_init(&bigger, s->cap, alloc) != Status::Ok) return Status::OutOfMemory;
        for (std::size_t i = 0; i < s->cap; ++i)
            if (s->slots[i] >= 0) (void)hier_id_set_add(&bigger, s->slots[i], alloc);
        hier_id_set_free(s, alloc);
        *s = bigger;
    }
    for (std::size_t i = slot_of(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == id) return Status::Ok;
        if (s->slots[i] < 0) {
            s->slots[i] = id;
            ++s->n;
            return Status::Ok;
        }
    }
}

void hier_id_set_free(HierIdSet* s, const Allocator& alloc) noexcept {
    if (s->slots != nullptr) alloc.release(alloc.ctx, s->slots);
    *s = HierIdSet{nullptr, 0, 0};
}

// ---- descent ----

namespace {

// A descendant record: a single marker is a member (its later records are the same marker);
// a cluster's end id is a parent to look for, and a leaf when it reaches max_zoom.
Status add_descendant(HierDescent* d, const HierBlockNode& r, const HierBand& band,
                      std::uint64_t block, std::int64_t* ids, std::size_t* n_ids,
                      std::size_t ids_cap, const Allocator& alloc) noexcept {
    if (r.count == 1) {
        if (*n_ids == ids_cap) return Status::HierarchyBlockCorrupt;  // more than its count
        ids[(*n_ids)++] = r.id;
        return Status::Ok;
    }
    const std::int64_t end = hier_cluster_id(r.zoom_max, band, block, r.slot);
    Status s = hier_id_set_add(&d->ends, end, alloc);
    if (s == Status::Ok && r.zoom_max == d->max_zoom) s = hier_id_set_add(&d->leaves, end, alloc);
    return s;
}

}  // namespace

Status hier_descent_start(HierDescent* d, const HierBlockNode& r, const HierBand& band,
                          std::uint64_t block, int max_zoom, std::int64_t* ids, std::size_t* n_ids,
                          const Allocator& alloc) noexcept {
    d->max_zoom = max_zoom;
    Status s = hier_id_set_init(&d->ends, 64, alloc);
    if (s == Status::Ok) s = hier_id_set_init(&d->leaves, 64, alloc);
    if (s == Status::Ok) s = add_descendant(d, r, band, block, ids, n_ids, r.count, alloc);
    return s;
}

Status hier_descent_band(HierDescent* d, const HierBand& band, HierBandRecord* recs, std::size_t n,
                         std::int64_t* ids, std::size_t* n_ids, std::size_t ids_cap,
                         const Allocator& alloc) noexcept {
    // A parent ends at the zoom before its children begin: coarse records first.
    std::sort(recs, recs + n, [](const HierBandRecord& a, const HierBandRecord& b) {
        return a.node.zoom_min < b.node.zoom_min;
    });
    for (std::size_t i = 0; i < n; ++i) {
        const HierBandRecord& r = recs[i];
        if (!hier_id_set_has(d->ends, r.node.parent_id)) continue;
        const Status s = add_descendant(d, r.node, band, r.block, ids, n_ids, ids_cap, alloc);
        if (s != Status::Ok) return s;
    }
    return Status::Ok;
}

void hier_descent_free(HierDescent* d, const Allocator& alloc) noexcept {
    hier_id_set_free(&d->ends, alloc);
    hier_id_set_free(&d->leaves, alloc);
}

}  // namespace geocluster
