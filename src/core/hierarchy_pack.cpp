// The packing of a cluster hierarchy's build into blocks (hierarchy_pack.hpp).
#include "core.hpp"

#include "hierarchy_pack.hpp"

#include "cluster_internal.hpp"
#include "polled_sort.hpp"

#include <algorithm>
#include <cstring>

namespace geocluster {

namespace {

constexpr HierBand kBandTable[kHierMaxBands] = {{0, 6, 1}, {7, 10, 5}, {11, 16, 9}, {17, 24, 13}};

// An array from the allocator, released by the caller (nullptr when n is 0 or memory ran out).
template <typename T>
T* alloc_array(const Allocator& a, std::size_t n) noexcept {
    if (n == 0) return nullptr;
    if (n > SIZE_MAX / sizeof(T)) return nullptr;
    return static_cast<T*>(a.alloc(a.ctx, n * sizeof(T)));
}
template <typename T>
void release(const Allocator& a, T** p) noexcept {
    if (*p != nullptr) a.release(a.ctx, *p);
    *p = nullptr;
}

}  // namespace

HierBands hier_bands(int max_zoom) noexcept {
    HierBands b{};
    for (const HierBand& t : kBandTable) {
        if (t.zoom_lo > max_zoom) break;
        b.band[b.n++] = HierBand{t.zoom_lo, std::min(t.zoom_hi, max_zoom), t.block_zoom};
    }
    return b;
}

int hier_band_of(const HierBands& bands, int zoom) noexcept {
    for (int i = 0; i < bands.n; ++i)
        if (zoom >= bands.band[i].zoom_lo && zoom <= bands.band[i].zoom_hi) return i;
    return -1;
}

bool hier_id_parts(const HierBands& bands, std::int64_t id, HierIdParts* out) noexcept {
    if (id < 0) return false;
    const int zoom = static_cast<int>(id >> kHierIdZoomShift);
    const int band = hier_band_of(bands, zoom);
    if (band < 0) return false;
    const HierBand& b = bands.band[band];
    const std::uint64_t low =
        static_cast<std::uint64_t>(id) & ((std::uint64_t{1} << kHierIdZoomShift) - 1);
    const int bits = hier_slot_bits(b);
    *out = HierIdParts{zoom, band, low >> bits,
                       static_cast<std::uint32_t>(low & ((std::uint64_t{1} << bits) - 1))};
    // The slot is a uint32 in a block (hier_node_block_encode), whatever the slot bits allow.
    return (low & ((std::uint64_t{1} << bits) - 1)) <= UINT32_MAX;
}

std::uint64_t hier_block_of(int block_zoom, double lat, double lon) noexcept {
    using namespace cluster_internal;
    return hier_block_of_fixed(block_zoom, fixed_x_of_lon(lon), fixed_y_of_lat(lat));
}

std::uint64_t hier_block_of_fixed(int block_zoom, std::uint64_t x, std::uint64_t y) noexcept {
    const int shift = cluster_internal::kFixedBits - block_zoom;
    const std::uint64_t n = std::uint64_t{1} << block_zoom;
    return std::min(n - 1, y >> shift) << block_zoom | std::min(n - 1, x >> shift);
}

void hier_slot_counters_free(const Allocator& alloc, HierSlotCounters* c) noexcept {
    release(alloc, &c->v);
    c->n = 0;
}

void hier_packed_free(const Allocator& alloc, HierPacked* p) noexcept {
    release(alloc, &p->records);
    release(alloc, &p->blocks);
    release(alloc, &p->members);
    release(alloc, &p->member_blocks);
    release(alloc, &p->id_of_node);
    *p = HierPacked{nullptr, 0, nullptr, 0, nullptr, 0, nullptr, 0, nullptr};
}

Status hier_packed_block_encode(const HierBlockNode* records, const HierPackedBlock& block,
                                int zoom_lo, int zoom_hi, unsigned char* out,
                                std::size_t* len) noexcept {
    return hier_node_block_encode(records + block.first, block.n, zoom_lo, zoom_hi, out, len);
}

namespace {

// The work of one hier_pack: the build, where its nodes are, and the scratch arrays.
struct Packer {
    const HierBuild* b;
    int max_zoom;
    HierBands bands;
    const Allocator* alloc;
    cluster_internal::Poller* poll;
    std::size_t first[kHierMaxZoom + 2];  // nodes of zoom z: first[z] .. first[z + 1]
    std::int64_t ordinal0[kHierMaxZoom + 1];
    std::size_t* top;  // the coarsest node that is the same cluster (same members) as node i
    int* bottom;       // of a top node: the finest zoom of its run
    std::int64_t* id_of_node;
};

std::int64_t ordinal_of(std::int64_t cid) noexcept {
    return cid & ((std::int64_t{1} << kHierZoomShift) - 1);
}

// Where build node cid is; SIZE_MAX when no node has that id.
std::size_t pos_of(const Packer& k, std::int64_t cid) noexcept {
    const int z = static_cast<int>(cid >> kHierZoomShift);
    if (cid < 0 || z > k.max_zoom) return SIZE_MAX;
    const std::int64_t d = ordinal_of(cid) - k.ordinal0[z];
    if (d < 0 || static_cast<std::size_t>(d) >= k.first[z + 1] - k.first[z]) return SIZE_MAX;
    return k.first[z] + static_cast<std::size_t>(d);
}

// Indexes the build: nodes by (zoom, ordinal), ordinals consecutive from each zoom's first; the
// runs of the same cluster over zooms (a node whose parent has its count is its parent's only
// child, the same members).
Status index_build(Packer* k) noexcept {
    const HierBuild& b = *k->b;
    for (int z = 0; z <= k->max_zoom + 1; ++z) k->first[z] = 0;
    for (std::size_t i = 0; i < b.n_nodes; ++i) {
        const HierNode& n = b.nodes[i];
        if (n.zoom < 0 || n.zoom > k->max_zoom || (i > 0 && b.nodes[i - 1].zoom > n.zoom))
            return Status::Internal;
        k->first[n.zoom + 1] = i + 1;
    }
    for (int z = 1; z <= k->max_zoom + 1; ++z) k->first[z] = std::max(k->first[z], k->first[z - 1]);
    for (int z = 0; z <= k->max_zoom; ++z) {
        k->ordinal0[z] =
            k->first[z] < k->first[z + 1] ? ordinal_of(b.nodes[k->first[z]].cluster_id) : 0;
        for (std::size_t i = k->first[z]; i < k->first[z + 1]; ++i)
            if (ordinal_of(b.nodes[i].cluster_id) !=
                k->ordinal0[z] + static_cast<std::int64_t>(i - k->first[z]))
                return Status::Internal;
    }
    for (std::size_t i = 0; i < b.n_nodes; ++i) {
        const HierNode& n = b.nodes[i];
        k->top[i] = i;
        k->bottom[i] = -1;
        if (n.parent_id < 0) continue;
        const std::size_t p = pos_of(*k, n.parent_id);
        if (p == SIZE_MAX || b.nodes[p].zoom != n.zoom - 1) return Status::Internal;
        if (b.nodes[p].count == n.count) k->top[i] = k->top[p];
    }
    for (std::size_t i = 0; i < b.n_nodes; ++i)
        k->bottom[k->top[i]] = std::max(k->bottom[k->top[i]], b.nodes[i].zoom);
    return k->poll->canceled(b.n_nodes) ? Status::Canceled : Status::Ok;
}

// A record of band: build node i, where its run meets the band first.
HierBlockNode record_of(const Packer& k, std::size_t i, const HierBand& band) noexcept {
    const HierNode& h = k.b->nodes[i];
    return hier_record_of(h, 0, h.zoom, std::min(k.bottom[k.top[i]], band.zoom_hi),
                          h.parent_id < 0 ? -1 : k.id_of_node[pos_of(k, h.parent_id)]);
}

// A node starts a record of band when its run starts there or the band does.
bool starts_record(const Packer& k, std::size_t i, const HierBand& band) noexcept {
    return k.b->nodes[i].zoom == band.zoom_lo || k.top[i] == i;
}
std::size_t band_records(const Packer& k, const HierBand& band) noexcept {
    std::size_t c = 0;
    for (std::size_t i = k.first[band.zoom_lo]; i < k.first[band.zoom_hi + 1]; ++i)
        c += starts_record(k, i, band) ? 1 : 0;
    return c;
}

struct Rep {  // a record to be: its block, its parent's packed id once known, its build node,
              // and its centre's place along a Z-order curve
    std::uint64_t block;
    std::int64_t parent;
    std::size_t node;
    std::uint64_t z_order;
};

// A block of the band being packed: its slots from base, used so far.
struct BlockFill {
    std::uint64_t block, base, used;
};

// The distinct blocks of reps[0..n), sorted, each with its slot base (fills: n entries).
std::size_t block_fills(const Rep* reps, std::size_t n, int bi, const HierSlotCounters& counters,
                        BlockFill* fills) noexcept {
    for (std::size_t i = 0; i < n; ++i) fills[i] = BlockFill{reps[i].block, 0, 0};
    std::sort(fills, fills + n,
              [](const BlockFill& x, const BlockFill& y) { return x.block < y.block; });
    std::size_t m = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (m == 0 || fills[m - 1].block != fills[i].block) fills[m++] = fills[i];
    for (std::size_t i = 0; i < m; ++i)
        fills[i].base =
            hier_slot_counter_next(counters, static_cast<std::uint64_t>(bi) << 56 | fills[i].block);
    return m;
}

// The records of one zoom of a band, reps[0..n): sorted within their blocks along a Z-order
// curve (so that the chunks of the block's index cover small boxes), then by their parents' ids
// and north to south; each takes the next slot of its block. Their parents' ids are known: the
// zoom before is done.
Status assign_zoom(Packer* k, const HierBand& band, Rep* reps, Rep* tmp, std::size_t n,
                   BlockFill* fills, std::size_t n_fills, std::uint64_t slot_limit) noexcept {
    const HierNode* nodes = k->b->nodes;
    for (std::size_t r = 0; r < n; ++r) {
        const std::int64_t p = nodes[reps[r].node].parent_id;
        reps[r].parent = p < 0 ? -1 : k->id_of_node[pos_of(*k, p)];
        reps[r].z_order = hier_z_order(nodes[reps[r].node].lat, nodes[reps[r].node].lon);
    }
    const Rep* sorted = cluster_internal::polled_sort(
        reps, tmp, n,
        [nodes](const Rep& x, const Rep& y) noexcept {
            if (x.block != y.block) return x.block < y.block;
            if (x.z_order != y.z_order) return x.z_order < y.z_order;
            if (x.parent != y.parent) return x.parent < y.parent;
            const HierNode &a = nodes[x.node], &c = nodes[y.node];
            if (a.lat != c.lat) return a.lat > c.lat;
            if (a.lon != c.lon) return a.lon < c.lon;
            return a.cluster_id < c.cluster_id;
        },
        *k->poll);
    if (sorted == nullptr) return Status::Canceled;
    for (std::size_t r = 0; r < n; ++r) {
        BlockFill* f =
            std::lower_bound(fills, fills + n_fills, sorted[r].block,
                             [](const BlockFill& x, std::uint64_t b) { return x.block < b; });
        const std::uint64_t slot = f->base + f->used++;
        if (slot >= slot_limit) return Status::HierarchyBlockFull;
        k->id_of_node[sorted[r].node] = hier_cluster_id(
            nodes[sorted[r].node].zoom, band, sorted[r].block, static_cast<std::uint32_t>(slot));
    }
    return Status::Ok;
}

// Hands out the slots of one band zoom by zoom (a node's id is known before its children are
// ordered by it), then writes its records in (block, slot) order and its blocks' counters
// (updates, in block order).
Status pack_band(Packer* k, int bi, const HierSlotCounters& counters, Rep* reps, Rep* tmp,
                 BlockFill* fills, HierPacked* out, HierSlotCounter* updates,
                 std::size_t* n_updates) noexcept {
    const HierBuild& b = *k->b;
    const HierBand& band = k->bands.band[bi];
    std::size_t n = 0;
    for (std::size_t i = k->first[band.zoom_lo]; i < k->first[band.zoom_hi + 1]; ++i)
        if (starts_record(*k, i, band))
            reps[n++] =
                Rep{hier_block_of(band.block_zoom, b.nodes[i].lat, b.nodes[i].lon), -1, i, 0};
    const std::size_t n_fills = block_fills(reps, n, bi, counters, fills);
    const std::uint64_t slot_limit = std::min<std::uint64_t>(
        std::uint64_t{1} << hier_slot_bits(band), std::uint64_t{UINT32_MAX} + 1);
    std::size_t seg = 0;  // reps are in zoom order, as the nodes are
    for (int z = band.zoom_lo; z <= band.zoom_hi; ++z) {
        std::size_t end = seg;
        while (end < n && b.nodes[reps[end].node].zoom == z) ++end;
        const Status s =
            assign_zoom(k, band, reps + seg, tmp + seg, end - seg, fills, n_fills, slot_limit);
        if (s != Status::Ok) return s;
        seg = end;
        // The other nodes of the zoom are their parent at the zoom before: the same slot.
        for (std::size_t i = k->first[z]; i < k->first[z + 1]; ++i)
            if (!starts_record(*k, i, band))
                k->id_of_node[i] =
                    hier_id_at_zoom(k->id_of_node[pos_of(*k, b.nodes[i].parent_id)], z);
    }
    const std::int64_t* ids = k->id_of_node;
    const Rep* sorted = cluster_internal::polled_sort(
        reps, tmp, n,
        [ids](const Rep& x, const Rep& y) noexcept {
            return x.block != y.block
                       ? x.block < y.block
                       : hier_id_at_zoom(ids[x.node], 0) < hier_id_at_zoom(ids[y.node], 0);
        },
        *k->poll);
    if (sorted == nullptr) return Status::Canceled;
    for (std::size_t r = 0; r < n; ++r) {
        if (r == 0 || sorted[r].block != sorted[r - 1].block)
            out->blocks[out->n_blocks++] = HierPackedBlock{bi, sorted[r].block, out->n_records, 0};
        ++out->blocks[out->n_blocks - 1].n;
        HierBlockNode rec = record_of(*k, sorted[r].node, band);
        rec.slot = static_cast<std::uint32_t>(ids[sorted[r].node] &
                                              ((std::int64_t{1} << hier_slot_bits(band)) - 1));
        out->records[out->n_records++] = rec;
    }
    for (std::size_t f = 0; f < n_fills; ++f)
        updates[(*n_updates)++] = HierSlotCounter{
            static_cast<std::uint64_t>(bi) << 56 | fills[f].block, fills[f].base + fills[f].used};
    return k->poll->canceled(n) ? Status::Canceled : Status::Ok;
}

struct Member {  // a marker of a multi-marker leaf: the block of its position, its leaf, itself
    std::uint64_t block;
    std::int64_t leaf;
    std::size_t marker;
};

// The member records: markers of multi-marker leaves, in the block of their own position (so that
// a viewport beyond max_zoom finds them by position, and a leaf's members lie in the blocks of its
// bounds), by leaf and marker id within a block.
Status pack_members(Packer* k, const HierMarker* markers, HierPacked* out) noexcept {
    const HierBuild& b = *k->b;
    const HierBand& band = k->bands.band[k->bands.n - 1];
    std::size_t n = 0;
    for (std::size_t i = 0; i < b.n_markers; ++i) {
        const std::size_t leaf = pos_of(*k, b.leaf_of_marker[i]);
        if (leaf == SIZE_MAX || b.nodes[leaf].zoom != k->max_zoom) return Status::Internal;
        if (b.nodes[leaf].count > 1) ++n;
    }
    Member* m = alloc_array<Member>(*k->alloc, n);
    Member* tmp = alloc_array<Member>(*k->alloc, n);
    out->members = alloc_array<HierBlockNode>(*k->alloc, n);
    out->member_blocks = alloc_array<HierPackedBlock>(*k->alloc, n);
    Status s = n > 0 && (m == nullptr || tmp == nullptr || out->members == nullptr ||
                         out->member_blocks == nullptr)
                   ? Status::OutOfMemory
                   : Status::Ok;
    std::size_t j = 0;
    for (std::size_t i = 0; s == Status::Ok && i < b.n_markers; ++i) {
        const HierNode& leaf = b.nodes[pos_of(*k, b.leaf_of_marker[i])];
        if (leaf.count > 1)
            m[j++] = Member{hier_block_of(band.block_zoom, markers[i].lat, markers[i].lon),
                            k->id_of_node[pos_of(*k, b.leaf_of_marker[i])], i};
    }
    const Member* sorted = s != Status::Ok
                               ? nullptr
                               : cluster_internal::polled_sort(
                                     m, tmp, n,
                                     [markers](const Member& x, const Member& y) noexcept {
                                         if (x.block != y.block) return x.block < y.block;
                                         if (x.leaf != y.leaf) return x.leaf < y.leaf;
                                         return markers[x.marker].id < markers[y.marker].id;
                                     },
                                     *k->poll);
    if (s == Status::Ok && sorted == nullptr && n > 0) s = Status::Canceled;
    for (std::size_t r = 0; s == Status::Ok && r < n; ++r) {
        const HierMarker& mk = markers[sorted[r].marker];
        HierBlockNode& d = out->members[r];
        const bool new_block = r == 0 || sorted[r].block != sorted[r - 1].block;
        if (new_block)
            out->member_blocks[out->n_member_blocks++] =
                HierPackedBlock{k->bands.n - 1, sorted[r].block, r, 0};
        HierPackedBlock& blk = out->member_blocks[out->n_member_blocks - 1];
        d = hier_member_record(mk, k->max_zoom, sorted[r].leaf,
                               static_cast<std::uint32_t>(blk.n++));
    }
    out->n_members = s == Status::Ok ? n : 0;
    release(*k->alloc, &m);
    release(*k->alloc, &tmp);
    return s;
}

}  // namespace

HierBlockNode hier_record_of(const HierNode& h, std::uint32_t slot, int zoom_min, int zoom_max,
                             std::int64_t parent_id) noexcept {
    return HierBlockNode{slot,
                         zoom_min,
                         zoom_max,
                         h.count,
                         h.id,
                         parent_id,
                         h.expansion_zoom,
                         h.lat,
                         h.lon,
                         h.min_lat,
                         h.min_lon,
                         h.max_lat,
                         h.max_lon,
                         h.count > 1 ? h.sums : HierSums{}};
}

std::uint64_t hier_z_order(double lat, double lon) noexcept {
    using namespace cluster_internal;
    return hier_z_order_fixed(fixed_x_of_lon(lon), fixed_y_of_lat(lat));
}

std::uint64_t hier_z_order_fixed(std::uint64_t x, std::uint64_t y) noexcept {
    using namespace cluster_internal;
    const auto spread = [](std::uint64_t v) {  // the 32 high bits of v to the even bits
        v = v >> (kFixedBits - 32) & 0xffffffffu;
        v = (v | v << 16) & 0x0000ffff0000ffffull;
        v = (v | v << 8) & 0x00ff00ff00ff00ffull;
        v = (v | v << 4) & 0x0f0f0f0f0f0f0f0full;
        v = (v | v << 2) & 0x3333333333333333ull;
        return (v | v << 1) & 0x5555555555555555ull;
    };
    return spread(y) << 1 | spread(x);
}

std::uint64_t hier_slot_counter_next(const HierSlotCounters& c, std::uint64_t key) noexcept {
    const HierSlotCounter* e = std::lower_bound(
        c.v, c.v + c.n, key, [](const HierSlotCounter& x, std::uint64_t k) { return x.key < k; });
    return e != c.v + c.n && e->key == key ? e->next : 0;
}

HierBlockNode hier_member_record(const HierMarker& m, int max_zoom, std::int64_t leaf,
                                 std::uint32_t slot) noexcept {
    HierBlockNode d{slot, max_zoom, max_zoom, 1,     m.id,  leaf,  -1,
                    0,    0,        m.lat,    m.lon, m.lat, m.lon, HierSums{}};
    hier_single_centre(m.lat, m.lon, &d.lat, &d.lon);
    return d;
}

Status hier_slot_counters_merge(HierSlotCounters* c, const HierSlotCounter* updates,
                                std::size_t n_updates, const Allocator& alloc) noexcept {
    HierSlotCounter* merged = alloc_array<HierSlotCounter>(alloc, c->n + n_updates);
    if (merged == nullptr && c->n + n_updates > 0) return Status::OutOfMemory;
    std::size_t i = 0, j = 0, n = 0;
    while (i < c->n || j < n_updates) {
        if (j == n_updates || (i < c->n && c->v[i].key < updates[j].key)) {
            merged[n++] = c->v[i++];
        } else {
            if (i < c->n && c->v[i].key == updates[j].key) ++i;
            merged[n++] = updates[j++];
        }
    }
    release(alloc, &c->v);
    c->v = merged;
    c->n = n;
    return Status::Ok;
}

Status hier_pack(const HierBuild& build, const HierMarker* markers, int max_zoom,
                 HierSlotCounters* counters, const Allocator& alloc,
                 const Allocator& counters_alloc, CancelCheck cancel, HierPacked* out) noexcept {
    *out = HierPacked{nullptr, 0, nullptr, 0, nullptr, 0, nullptr, 0, nullptr};
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::Internal;
    cluster_internal::Poller poll(cancel);
    const std::size_t n = build.n_nodes;
    Packer k{&build,  max_zoom, hier_bands(max_zoom), &alloc, &poll, {}, {}, nullptr,
             nullptr, nullptr};
    k.top = alloc_array<std::size_t>(alloc, n);
    k.bottom = alloc_array<int>(alloc, n);
    out->id_of_node = k.id_of_node = alloc_array<std::int64_t>(alloc, n);
    Status s = n > 0 && (k.top == nullptr || k.bottom == nullptr || k.id_of_node == nullptr)
                   ? Status::OutOfMemory
                   : Status::Ok;
    if (s == Status::Ok) s = index_build(&k);
    // The records: every node that starts a run or a band; arrays of exactly that size.
    std::size_t n_records = 0, band_max = 0;
    for (int bi = 0; s == Status::Ok && bi < k.bands.n; ++bi) {
        const std::size_t c = band_records(k, k.bands.band[bi]);
        n_records += c;
        band_max = std::max(band_max, c);
    }
    Rep* reps = s == Status::Ok ? alloc_array<Rep>(alloc, band_max) : nullptr;
    BlockFill* fills = s == Status::Ok ? alloc_array<BlockFill>(alloc, band_max) : nullptr;
    Rep* tmp = s == Status::Ok ? alloc_array<Rep>(alloc, band_max) : nullptr;
    out->records = s == Status::Ok ? alloc_array<HierBlockNode>(alloc, n_records) : nullptr;
    out->blocks = s == Status::Ok ? alloc_array<HierPackedBlock>(alloc, n_records) : nullptr;
    HierSlotCounter* updates =
        s == Status::Ok ? alloc_array<HierSlotCounter>(alloc, n_records) : nullptr;
    if (s == Status::Ok && n_records > 0 &&
        (reps == nullptr || tmp == nullptr || fills == nullptr || out->records == nullptr ||
         out->blocks == nullptr || updates == nullptr))
        s = Status::OutOfMemory;
    std::size_t n_updates = 0;
    for (int bi = 0; s == Status::Ok && bi < k.bands.n; ++bi)
        s = pack_band(&k, bi, *counters, reps, tmp, fills, out, updates, &n_updates);
    if (s == Status::Ok) s = pack_members(&k, markers, out);
    if (s == Status::Ok) s = hier_slot_counters_merge(counters, updates, n_updates, counters_alloc);
    release(alloc, &k.top);
    release(alloc, &k.bottom);
    release(alloc, &reps);
    release(alloc, &fills);
    release(alloc, &tmp);
    release(alloc, &updates);
    if (s != Status::Ok) hier_packed_free(alloc, out);
    return s;
}

}  // namespace geocluster
