// The packed blocks of a cluster hierarchy (hierarchy_block.hpp has the format).
#include "core.hpp"

#include "hierarchy_block.hpp"

#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy_block_internal.hpp"

#include <cmath>
#include <cstring>

namespace geocluster {

using namespace hier_block_internal;

namespace {

using cluster_internal::u128;

constexpr unsigned kFlagSingle = 1;  // count = 1: its position only
constexpr unsigned kFlagEast = 2;    // an east range (min_lon_e, max_lon_e) follows
constexpr unsigned kFlagWest = 4;    // a west range follows
constexpr unsigned kFlagToEnd = 8;   // zoom_max is the block's last zoom
constexpr unsigned kFlagGap = 16;    // slot - previous slot - 2 follows (else slot = previous + 1)
constexpr unsigned kFlagBits = 5;

}  // namespace

namespace {

// The item the build makes of one marker.
cluster_internal::Item single_item(double lat, double lon) noexcept {
    using namespace cluster_internal;
    Item it{};
    const bool west = lon < 0.0;
    it.count = 1;
    it.count_w = west ? 1 : 0;
    const u128 x = fixed_x_of_lon(lon);
    it.sx_e = wide_make(west ? 0 : x);
    it.sx_w = wide_make(west ? x : 0);
    it.sy = wide_make(fixed_y_of_lat(lat));
    it.min_lat = it.max_lat = lat;
    it.min_lon_e = west ? INFINITY : lon;
    it.max_lon_e = west ? -INFINITY : lon;
    it.min_lon_w = west ? lon : INFINITY;
    it.max_lon_w = west ? lon : -INFINITY;
    return it;
}

}  // namespace

void hier_single_centre(double lat, double lon, double* c_lat, double* c_lon) noexcept {
    const cluster_internal::Item it = single_item(lat, lon);
    Cluster c;
    cluster_internal::cluster_of_item(it, &c);
    *c_lat = c.lat;
    *c_lon = c.lon;
}

HierSums hier_single_sums(double lat, double lon) noexcept {
    const cluster_internal::Item it = single_item(lat, lon);
    return HierSums{it.count_w, it.sx_e.lo,   it.sx_e.hi,   it.sx_w.lo,   it.sx_w.hi,  it.sy.lo,
                    it.sy.hi,   it.min_lon_e, it.max_lon_e, it.min_lon_w, it.max_lon_w};
}

namespace {

// A multi-marker node's sums less count times its centre's fixed-point position: a few bytes
// where the sums themselves take seven or more. Wrapping arithmetic: exact for any sums.
struct Residuals {
    u128 sx_e, sx_w, sy;
};
Residuals residuals_of(const HierBlockNode& d) noexcept {
    using namespace cluster_internal;
    const u128 x = fixed_x_of_lon(d.lon), y = fixed_y_of_lat(d.lat);
    const u128 count_e = d.count - d.sums.count_w, count_w = d.sums.count_w;
    return Residuals{wide_of(d.sums.sx_e_lo, d.sums.sx_e_hi) - count_e * x,
                     wide_of(d.sums.sx_w_lo, d.sums.sx_w_hi) - count_w * x,
                     wide_of(d.sums.sy_lo, d.sums.sy_hi) - static_cast<u128>(d.count) * y};
}
void sums_from(const Residuals& r, HierBlockNode* d) noexcept {
    using namespace cluster_internal;
    const u128 x = fixed_x_of_lon(d->lon), y = fixed_y_of_lat(d->lat);
    const u128 count_e = d->count - d->sums.count_w, count_w = d->sums.count_w;
    const u128 sx_e = r.sx_e + count_e * x, sx_w = r.sx_w + count_w * x,
               sy = r.sy + static_cast<u128>(d->count) * y;
    d->sums.sx_e_lo = static_cast<std::uint64_t>(sx_e);
    d->sums.sx_e_hi = static_cast<std::uint64_t>(sx_e >> 64);
    d->sums.sx_w_lo = static_cast<std::uint64_t>(sx_w);
    d->sums.sx_w_hi = static_cast<std::uint64_t>(sx_w >> 64);
    d->sums.sy_lo = static_cast<std::uint64_t>(sy);
    d->sums.sy_hi = static_cast<std::uint64_t>(sy >> 64);
}
bool lat_ok(double v) noexcept { return v >= -90.0 && v <= 90.0; }
bool lon_ok(double v) noexcept { return v >= -180.0 && v <= 180.0; }

// What a decoder accepts, checked by the encoder too (so that what is written reads back). A
// decoder computes a single marker's centre itself: it skips that check (check_centre false).
bool node_ok(const HierBlockNode& n, int zoom_lo, int zoom_hi, bool check_centre = true) noexcept {
    if (n.zoom_min < zoom_lo || n.zoom_max < n.zoom_min || n.zoom_max > zoom_hi) return false;
    if (n.count == 0 || n.parent_id < -1) return false;
    if (!lat_ok(n.lat) || !lon_ok(n.lon) || !lat_ok(n.min_lat) || !lon_ok(n.min_lon)) return false;
    if (n.count == 1 ? n.expansion_zoom != -1
                     : n.expansion_zoom <= n.zoom_max || n.expansion_zoom > kHierMaxZoom + 1 ||
                           (n.zoom_max != zoom_hi && n.expansion_zoom != n.zoom_max + 1))
        return false;
    if (n.count == 1) {
        if (!check_centre) return n.max_lat == n.min_lat && n.max_lon == n.min_lon;
        double c_lat, c_lon;
        hier_single_centre(n.min_lat, n.min_lon, &c_lat, &c_lon);
        return n.max_lat == n.min_lat && n.max_lon == n.min_lon &&
               bits_of(n.lat) == bits_of(c_lat) && bits_of(n.lon) == bits_of(c_lon);
    }
    if (!lat_ok(n.max_lat) || !lon_ok(n.max_lon) || n.sums.count_w > n.count) return false;
    const bool east = n.sums.count_w<n.count, west = n.sums.count_w> 0;
    if (east ? !(lon_ok(n.sums.min_lon_e) && lon_ok(n.sums.max_lon_e))
             : !(n.sums.min_lon_e == INFINITY && n.sums.max_lon_e == -INFINITY))
        return false;
    if (west ? !(lon_ok(n.sums.min_lon_w) && lon_ok(n.sums.max_lon_w))
             : !(n.sums.min_lon_w == INFINITY && n.sums.max_lon_w == -INFINITY))
        return false;
    return true;
}

// A record's anchor, which the next record's position is a delta from: a single marker's
// position, a cluster's centre.
void anchor_of(const HierBlockNode& d, std::uint64_t* lat_bits, std::uint64_t* lon_bits) noexcept {
    *lat_bits = bits_of(d.count == 1 ? d.min_lat : d.lat);
    *lon_bits = bits_of(d.count == 1 ? d.min_lon : d.lon);
}

}  // namespace

std::size_t hier_node_block_bound(std::size_t n_nodes) noexcept {
    return 3 + 10 + n_nodes * kHierBlockMaxRecordBytes;
}

Status hier_node_block_encode(const HierBlockNode* nodes, std::size_t n, int zoom_lo, int zoom_hi,
                              unsigned char* out, std::size_t* len) noexcept {
    *len = 0;
    if (zoom_lo < 0 || zoom_hi < zoom_lo || zoom_hi > kHierMaxZoom) return Status::Internal;
    Out o{out};
    bool ordered = n >= 2;
    for (std::size_t i = 1; i < n && ordered; ++i)
        ordered = nodes[i].zoom_min >= nodes[i - 1].zoom_min;
    *o.p++ = kHierBlockVersion;
    *o.p++ = static_cast<unsigned char>(zoom_lo);
    *o.p++ = static_cast<unsigned char>(zoom_hi | (ordered ? kZoomOrdered : 0));
    o.u64(n);
    std::int64_t prev_slot = -1, prev_parent = -1;
    std::uint64_t prev_lat = 0, prev_lon = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const HierBlockNode& d = nodes[i];
        if (static_cast<std::int64_t>(d.slot) <= prev_slot || !node_ok(d, zoom_lo, zoom_hi))
            return Status::Internal;
        const bool single = d.count == 1;
        unsigned flags = single ? kFlagSingle : 0;
        if (!single && d.sums.count_w < d.count) flags |= kFlagEast;
        if (!single && d.sums.count_w > 0) flags |= kFlagWest;
        if (d.zoom_max == zoom_hi) flags |= kFlagToEnd;
        const std::uint64_t slot_step =
            static_cast<std::uint64_t>(static_cast<std::int64_t>(d.slot) - prev_slot - 1);
        if (slot_step > 0) flags |= kFlagGap;
        std::uint64_t zooms = flags | static_cast<std::uint64_t>(d.zoom_min - zoom_lo) << kFlagBits;
        if (!(flags & kFlagToEnd))
            zooms |= static_cast<std::uint64_t>(d.zoom_max - d.zoom_min + 1) << (kFlagBits + 5);
        o.u64(zooms);
        if (slot_step > 0) o.u64(slot_step - 1);
        if (!single) o.u64(d.count - 2);
        if (!single && (flags & kFlagToEnd))
            o.u64(static_cast<std::uint64_t>(d.expansion_zoom - d.zoom_max - 1));
        o.s64(d.id);
        o.u64(zigzag(static_cast<std::uint64_t>(d.parent_id) -
                     static_cast<std::uint64_t>(prev_parent)));
        std::uint64_t lat_bits, lon_bits;
        anchor_of(d, &lat_bits, &lon_bits);
        o.u64(zigzag(lat_bits - prev_lat));
        o.u64(zigzag(lon_bits - prev_lon));
        if (!single) {
            o.bits_delta(d.min_lat, lat_bits);
            o.bits_delta(d.max_lat, lat_bits);
            o.bits_delta(d.min_lon, lon_bits);
            o.bits_delta(d.max_lon, lon_bits);
            o.u64(d.sums.count_w);
            const Residuals r = residuals_of(d);
            o.s128(r.sx_e);
            o.s128(r.sx_w);
            o.s128(r.sy);
            if (flags & kFlagEast) {
                o.bits_delta(d.sums.min_lon_e, bits_of(d.min_lon));
                o.bits_delta(d.sums.max_lon_e, bits_of(d.max_lon));
            }
            if (flags & kFlagWest) {
                o.bits_delta(d.sums.min_lon_w, bits_of(d.min_lon));
                o.bits_delta(d.sums.max_lon_w, bits_of(d.max_lon));
            }
        }
        prev_slot = d.slot;
        prev_parent = d.parent_id;
        prev_lat = lat_bits;
        prev_lon = lon_bits;
    }
    *len = static_cast<std::size_t>(o.p - out);
    return Status::Ok;
}

Status hier_node_block_open(const unsigned char* data, std::size_t len,
                            HierNodeBlockReader* r) noexcept {
    *r = HierNodeBlockReader{data, data, 0, 0, 0, 0, false, false, 0, -1, -1, 0, 0};
    In in{data, data + len};
    if (len < 3 || *in.p++ != kHierBlockVersion) return Status::HierarchyBlockCorrupt;
    const int lo = *in.p++;
    const bool ordered = (*in.p & kZoomOrdered) != 0;
    const int hi = *in.p++ & ~kZoomOrdered;
    if (hi < lo || hi > kHierMaxZoom) return Status::HierarchyBlockCorrupt;
    const std::uint64_t n = in.u64();
    // Every record takes at least 5 bytes (zooms, id, parent, two deltas).
    if (!in.ok || n > static_cast<std::uint64_t>(in.end - in.p) / 5 || (ordered && n < 2))
        return Status::HierarchyBlockCorrupt;
    *r = HierNodeBlockReader{in.p, in.end, n, n, lo, hi, ordered, false, lo, -1, -1, 0, 0};
    return Status::Ok;
}

namespace {

bool in_box(const HierBlockBox& b, double lat, double lon, double margin) noexcept {
    return lat >= b.south - margin && lat <= b.north + margin &&
           ((lon >= b.west1 - margin && lon <= b.east1 + margin) ||
            (lon >= b.west2 - margin && lon <= b.east2 + margin));
}

// A single marker's position; with a box, its centre only when the marker could be kept.
void decode_single_position(std::uint64_t lat_bits, std::uint64_t lon_bits, const HierBlockBox* box,
                            HierBlockNode* d) noexcept {
    d->min_lat = d->max_lat = double_of(lat_bits);
    d->min_lon = d->max_lon = double_of(lon_bits);
    // The centre is within 1e-12 degrees of the position (1e-8 allowed), but beyond Web Mercator's
    // clamp (85.0511 degrees) it is on the clamp: only there, or near the box, is it needed.
    const bool maybe =
        box == nullptr ||
        (box->zoom >= d->zoom_min && box->zoom <= d->zoom_max &&
         (!(std::fabs(d->min_lat) < 85.05) || in_box(*box, d->min_lat, d->min_lon, 1e-8)));
    if (!maybe) {
        d->lat = d->min_lat;  // (not the centre: the record is not handed out)
        d->lon = d->min_lon;
    } else if (lat_ok(d->min_lat) && lon_ok(d->min_lon)) {
        hier_single_centre(d->min_lat, d->min_lon, &d->lat, &d->lon);
    }
}

// A cluster's centre, bounds, sums and per-side longitude ranges; returns good, cleared when the
// flags disagree with count_w.
bool decode_cluster_position(In* in, unsigned flags, std::uint64_t lat_bits, std::uint64_t lon_bits,
                             bool good, HierBlockNode* d) noexcept {
    d->lat = double_of(lat_bits);
    d->lon = double_of(lon_bits);
    d->min_lat = in->bits_delta(lat_bits);
    d->max_lat = in->bits_delta(lat_bits);
    d->min_lon = in->bits_delta(lon_bits);
    d->max_lon = in->bits_delta(lon_bits);
    d->sums.count_w = in->u64();
    Residuals res;
    res.sx_e = in->s128();
    res.sx_w = in->s128();
    res.sy = in->s128();
    // The flags must say what count_w implies (node_ok checks the ranges themselves).
    good = good && ((flags & kFlagEast) != 0) == (d->sums.count_w < d->count) &&
           ((flags & kFlagWest) != 0) == (d->sums.count_w > 0);
    if (good && lat_ok(d->lat) && lon_ok(d->lon)) sums_from(res, d);
    if (flags & kFlagEast) {
        d->sums.min_lon_e = in->bits_delta(bits_of(d->min_lon));
        d->sums.max_lon_e = in->bits_delta(bits_of(d->max_lon));
    }
    if (flags & kFlagWest) {
        d->sums.min_lon_w = in->bits_delta(bits_of(d->min_lon));
        d->sums.max_lon_w = in->bits_delta(bits_of(d->max_lon));
    }
    return good;
}

// A record's count and expansion zoom (after its zooms are known); returns good, cleared when
// they are out of range.
bool decode_count(In* in, unsigned flags, bool good, HierBlockNode* d) noexcept {
    if (flags & kFlagSingle) {
        d->count = 1;
        d->expansion_zoom = -1;
        return good;
    }
    const std::uint64_t c = in->u64();
    good = good && c <= ~std::uint64_t{0} - 2;
    d->count = c + 2;
    d->expansion_zoom = d->zoom_max + 1;
    if (flags & kFlagToEnd) {
        const std::uint64_t beyond = in->u64();
        good = good && beyond <= static_cast<std::uint64_t>(kHierMaxZoom);
        d->expansion_zoom +=
            static_cast<int>(beyond <= static_cast<std::uint64_t>(kHierMaxZoom) ? beyond : 0);
    }
    return good;
}

// One record: decoded and checked whole, except that with a box a single marker's centre is
// computed only when the marker could be kept (*kept: alive at the box's zoom, centre in it).
bool next_record(HierNodeBlockReader* r, const HierBlockBox* box, HierBlockNode* out, bool* kept,
                 Status* status) noexcept {
    *status = Status::Ok;
    if (r->left == 0) {
        // trailing bytes, or records in zoom order that the flag does not say are (the encoder
        // would have set it: not canonical)
        if (r->p != r->end || (!r->zoom_ordered && !r->order_broken && r->total >= 2))
            *status = Status::HierarchyBlockCorrupt;
        return false;
    }
    In in{r->p, r->end};
    HierBlockNode d{};
    const std::uint64_t zooms = in.u64();
    const unsigned flags = static_cast<unsigned>(zooms & ((1u << kFlagBits) - 1));
    std::uint64_t slot_step = 0;
    if (flags & kFlagGap) {
        slot_step = in.u64();
        slot_step = slot_step < kMaxSlot ? slot_step + 1 : kMaxSlot + 1;  // (beyond: refused below)
    }
    const bool single = (flags & kFlagSingle) != 0;
    const std::uint64_t span1 =
        zooms >> (kFlagBits + 5);  // zoom_max - zoom_min + 1, 0 when to the end
    bool good = in.ok && slot_step <= kMaxSlot &&
                static_cast<std::uint64_t>(r->prev_slot + 1) + slot_step <= kMaxSlot &&
                span1 <= 32 && ((flags & kFlagToEnd) != 0) == (span1 == 0) &&
                (!single || (flags & (kFlagEast | kFlagWest)) == 0);
    std::uint64_t lat_bits = 0, lon_bits = 0;
    if (good) {
        d.slot =
            static_cast<std::uint32_t>(static_cast<std::uint64_t>(r->prev_slot + 1) + slot_step);
        d.zoom_min = r->zoom_lo + static_cast<int>(zooms >> kFlagBits & 31);
        d.zoom_max = flags & kFlagToEnd ? r->zoom_hi : d.zoom_min + static_cast<int>(span1) - 1;
        // (to the end but zoom_min beyond it, or an explicit zoom_max equal to the end: node_ok
        // and the to-end check below refuse them)
        good = (flags & kFlagToEnd) != 0 || d.zoom_max != r->zoom_hi;
        if (d.zoom_min < r->prev_zoom_min) {
            r->order_broken = true;
            good = good && !r->zoom_ordered;  // (the flag said it never happens: corrupt)
        }
        good = decode_count(&in, flags, good, &d);
        d.id = in.s64();
        d.parent_id = static_cast<std::int64_t>(static_cast<std::uint64_t>(r->prev_parent) +
                                                unzigzag(in.u64()));
        lat_bits = r->prev_lat_bits + unzigzag(in.u64());
        lon_bits = r->prev_lon_bits + unzigzag(in.u64());
        d.sums.min_lon_e = d.sums.min_lon_w = INFINITY;
        d.sums.max_lon_e = d.sums.max_lon_w = -INFINITY;
        if (single) {
            decode_single_position(lat_bits, lon_bits, box, &d);
        } else {
            good = decode_cluster_position(&in, flags, lat_bits, lon_bits, good, &d);
        }
        good = good && in.ok && node_ok(d, r->zoom_lo, r->zoom_hi, false);
    }
    if (!good) {
        *status = Status::HierarchyBlockCorrupt;
        r->left = 0;
        r->p = r->end;
        return false;
    }
    r->p = in.p;
    --r->left;
    r->prev_slot = d.slot;
    r->prev_zoom_min = d.zoom_min;
    r->prev_parent = d.parent_id;
    r->prev_lat_bits = lat_bits;
    r->prev_lon_bits = lon_bits;
    *kept = box == nullptr ||
            (box->zoom >= d.zoom_min && box->zoom <= d.zoom_max && in_box(*box, d.lat, d.lon, 0.0));
    *out = d;
    return true;
}

}  // namespace

bool hier_node_block_next(HierNodeBlockReader* r, HierBlockNode* out, Status* status) noexcept {
    bool kept;
    return next_record(r, nullptr, out, &kept, status);
}

bool hier_node_block_next_in(HierNodeBlockReader* r, const HierBlockBox& box, HierBlockNode* out,
                             Status* status) noexcept {
    bool kept = false;
    HierBlockNode d;
    while (next_record(r, &box, &d, &kept, status)) {
        if (r->zoom_ordered && d.zoom_min > box.zoom) {  // no later record is alive at box.zoom
            r->left = 0;
            r->p = r->end;
            return false;
        }
        if (kept) {
            *out = d;
            return true;
        }
    }
    return false;
}

bool hier_node_block_next_marker_in(HierNodeBlockReader* r, const HierBlockBox& box,
                                    HierBlockNode* out, Status* status) noexcept {
    // At zoom -1 no record is alive: no single marker's centre is computed.
    HierBlockBox none = box;
    none.zoom = -1;
    bool kept = false;
    HierBlockNode d;
    while (next_record(r, &none, &d, &kept, status))
        if (d.count == 1 && in_box(box, d.min_lat, d.min_lon, 0.0)) {
            *out = d;
            return true;
        }
    return false;
}

}  // namespace geocluster
