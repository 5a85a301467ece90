// Delta rows (hierarchy_delta.hpp).
#include "core.hpp"

#include "hierarchy_delta.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

namespace geocluster {

namespace {

constexpr std::size_t kHeaderBytes = 5;

std::uint32_t slot_at(const unsigned char* p) noexcept {
    return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 |
           std::uint32_t{p[3]} << 24;
}

void put_u32(std::vector<unsigned char>* out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out->push_back(static_cast<unsigned char>(v >> (8 * i)));
}

// The next record of the delta's node block, checked to be shadowed (else the overlay would give
// its slot twice).
bool next_added(HierOverlayReader* r, HierBlockNode* out, Status* status,
                bool (*next)(HierNodeBlockReader*, HierBlockNode*, Status*, const HierBlockBox*),
                const HierBlockBox* box) noexcept {
    if (r->delta.nodes == nullptr) return false;
    if (!next(&r->added, out, status, box)) return false;
    if (!hier_delta_shadows(r->delta, out->slot)) {
        *status = Status::HierarchyBlockCorrupt;
        return false;
    }
    return true;
}

bool plain_next(HierNodeBlockReader* r, HierBlockNode* out, Status* s, const HierBlockBox*) {
    return hier_node_block_next(r, out, s);
}
bool box_next(HierNodeBlockReader* r, HierBlockNode* out, Status* s, const HierBlockBox* box) {
    return hier_node_block_next_in(r, *box, out, s);
}
bool marker_next(HierNodeBlockReader* r, HierBlockNode* out, Status* s, const HierBlockBox* box) {
    return hier_node_block_next_marker_in(r, *box, out, s);
}

bool overlay_next(HierOverlayReader* r, HierBlockNode* out, Status* status,
                  bool (*next)(HierNodeBlockReader*, HierBlockNode*, Status*, const HierBlockBox*),
                  const HierBlockBox* box) noexcept {
    *status = Status::Ok;
    if (!r->in_added && r->has_block) {
        while (next(&r->block, out, status, box))
            if (!hier_delta_shadows(r->delta, out->slot)) return true;
        if (*status != Status::Ok) return false;
    }
    r->in_added = true;
    return next_added(r, out, status, next, box);
}

Status open_delta(HierOverlayReader* r, const unsigned char* delta, std::size_t len) noexcept {
    const Status s = hier_delta_open(delta, len, &r->delta);
    if (s != Status::Ok || r->delta.nodes == nullptr) return s;
    return hier_node_block_open(r->delta.nodes, r->delta.nodes_len, &r->added);
}

}  // namespace

Status hier_delta_open(const unsigned char* data, std::size_t len, HierDelta* d) noexcept {
    *d = HierDelta{nullptr, 0, nullptr, 0};
    if (len == 0) return Status::Ok;
    if (len < kHeaderBytes || data[0] != kHierDeltaVersion) return Status::HierarchyBlockCorrupt;
    const std::uint32_t n = slot_at(data + 1);
    if ((len - kHeaderBytes) / 4 < n) return Status::HierarchyBlockCorrupt;
    d->shadow = data + kHeaderBytes;
    d->n_shadow = n;
    for (std::uint32_t i = 1; i < n; ++i)
        if (slot_at(d->shadow + 4 * (i - 1)) >= slot_at(d->shadow + 4 * i))
            return Status::HierarchyBlockCorrupt;
    const std::size_t used = kHeaderBytes + std::size_t{4} * n;
    if (used < len) {
        d->nodes = data + used;
        d->nodes_len = len - used;
    }
    return Status::Ok;
}

std::uint32_t hier_delta_shadow_at(const HierDelta& d, std::uint32_t i) noexcept {
    return slot_at(d.shadow + 4 * std::size_t{i});
}

bool hier_delta_shadows(const HierDelta& d, std::uint32_t slot) noexcept {
    std::uint32_t lo = 0, hi = d.n_shadow;
    while (lo < hi) {
        const std::uint32_t mid = lo + (hi - lo) / 2;
        const std::uint32_t s = slot_at(d.shadow + 4 * std::size_t{mid});
        if (s == slot) return true;
        if (s < slot)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

std::uint64_t hier_delta_slot_end(const HierDelta& d) noexcept {
    return d.n_shadow == 0 ? 0
                           : std::uint64_t{slot_at(d.shadow + 4 * std::size_t{d.n_shadow - 1})} + 1;
}

Status hier_delta_encode(const std::vector<std::uint32_t>& shadow,
                         const std::vector<HierBlockNode>& records, int zoom_lo, int zoom_hi,
                         std::vector<unsigned char>* out) noexcept {
    try {
        out->clear();
        out->push_back(kHierDeltaVersion);
        put_u32(out, static_cast<std::uint32_t>(shadow.size()));
        for (std::size_t i = 0; i < shadow.size(); ++i) {
            if (i > 0 && shadow[i - 1] >= shadow[i]) return Status::Internal;
            put_u32(out, shadow[i]);
        }
        if (records.empty()) return Status::Ok;
        const std::size_t head = out->size();
        out->resize(head + hier_node_block_bound(records.size()));
        std::size_t len = 0;
        const Status s = hier_node_block_encode(records.data(), records.size(), zoom_lo, zoom_hi,
                                                out->data() + head, &len);
        out->resize(head + len);
        if (s != Status::Ok) return s;
        HierDelta d;
        if (hier_delta_open(out->data(), out->size(), &d) != Status::Ok) return Status::Internal;
        for (const HierBlockNode& r : records)
            if (!hier_delta_shadows(d, r.slot)) return Status::Internal;
        return Status::Ok;
    } catch (const std::bad_alloc&) {
        return Status::OutOfMemory;
    }
}

bool hier_delta_fold_due(std::size_t block_bytes, std::size_t delta_bytes,
                         std::size_t min_block_bytes) noexcept {
    if (block_bytes < min_block_bytes) return true;
    const double cap = std::sqrt(2.0 * kHierDeltaBytesPerWrite * static_cast<double>(block_bytes));
    return static_cast<double>(delta_bytes) > cap;
}

Status hier_overlay_open(const unsigned char* block, std::size_t block_len,
                         const unsigned char* delta, std::size_t delta_len,
                         HierOverlayReader* r) noexcept {
    *r = HierOverlayReader{};
    r->has_block = block_len > 0;
    if (r->has_block) {
        const Status s = hier_node_block_open(block, block_len, &r->block);
        if (s != Status::Ok) return s;
    }
    return open_delta(r, delta, delta_len);
}

Status hier_overlay_attach(const HierNodeBlockReader& block, const unsigned char* delta,
                           std::size_t delta_len, HierOverlayReader* r) noexcept {
    *r = HierOverlayReader{};
    r->block = block;
    r->has_block = true;
    return open_delta(r, delta, delta_len);
}

bool hier_overlay_next(HierOverlayReader* r, HierBlockNode* out, Status* status) noexcept {
    return overlay_next(r, out, status, plain_next, nullptr);
}
bool hier_overlay_next_in(HierOverlayReader* r, const HierBlockBox& box, HierBlockNode* out,
                          Status* status) noexcept {
    return overlay_next(r, out, status, box_next, &box);
}
bool hier_overlay_next_marker_in(HierOverlayReader* r, const HierBlockBox& box, HierBlockNode* out,
                                 Status* status) noexcept {
    return overlay_next(r, out, status, marker_next, &box);
}

Status hier_delta_fold(const unsigned char* block, std::size_t block_len,
                       const unsigned char* delta, std::size_t delta_len, const Allocator& alloc,
                       unsigned char** out, std::size_t* out_len) noexcept {
    *out = nullptr;
    *out_len = 0;
    try {
        HierOverlayReader r;
        Status s = hier_overlay_open(block, block_len, delta, delta_len, &r);
        if (s != Status::Ok) return s;
        if (!r.has_block && r.delta.nodes == nullptr) return Status::Ok;
        const HierNodeBlockReader& z = r.has_block ? r.block : r.added;
        const int zoom_lo = z.zoom_lo, zoom_hi = z.zoom_hi;
        std::vector<HierBlockNode> own, added;
        HierBlockNode rec;
        while (hier_overlay_next(&r, &rec, &s)) (r.in_added ? added : own).push_back(rec);
        if (s != Status::Ok) return s;
        std::vector<HierBlockNode> all(own.size() + added.size());
        std::merge(own.begin(), own.end(), added.begin(), added.end(), all.begin(),
                   [](const HierBlockNode& a, const HierBlockNode& b) { return a.slot < b.slot; });
        if (all.empty()) return Status::Ok;
        std::vector<unsigned char> bytes(hier_node_block_bound(all.size()));
        std::size_t len = 0;
        s = hier_node_block_encode(all.data(), all.size(), zoom_lo, zoom_hi, bytes.data(), &len);
        if (s != Status::Ok) return s;
        *out = static_cast<unsigned char*>(alloc.alloc(alloc.ctx, len));
        if (*out == nullptr) return Status::OutOfMemory;
        std::memcpy(*out, bytes.data(), len);
        *out_len = len;
        return Status::Ok;
    } catch (const std::bad_alloc&) {
        return Status::OutOfMemory;
    }
}

}  // namespace geocluster
