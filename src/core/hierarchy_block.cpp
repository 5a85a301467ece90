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
// Above the zoom fields (bit 15 of the same varint): a cluster that ends inside its band with
// one child (writes leave such records; a build never does), its expansion zoom stored.
constexpr std::uint64_t kExpansionStored = std::uint64_t{1} << (kFlagBits + 10);

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
    if (std::fabs(lat) < kMercatorMaxLat) {  // + 0.0: no -0
        *c_lat = lat + 0.0;
        *c_lon = lon + 0.0;
        return;
    }
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

// What a record's head says (zooms, count, expansion zoom, parent, centre) as a decoder accepts
// it: all that is checked of a cluster a box reader skips over (skip_cluster_tail).
bool head_ok(const HierBlockNode& n, int zoom_lo, int zoom_hi) noexcept {
    if (n.zoom_min < zoom_lo || n.zoom_max < n.zoom_min || n.zoom_max > zoom_hi) return false;
    if (n.count == 0 || n.parent_id < -1) return false;
    if (!lat_ok(n.lat) || !lon_ok(n.lon)) return false;
    return n.count == 1 ? n.expansion_zoom == -1
                        : n.expansion_zoom > n.zoom_max && n.expansion_zoom <= kHierMaxZoom + 1;
}

// What a decoder accepts, checked by the encoder too (so that what is written reads back). A
// decoder computes a single marker's centre itself: it skips that check (check_centre false).
bool node_ok(const HierBlockNode& n, int zoom_lo, int zoom_hi, bool check_centre = true) noexcept {
    if (!head_ok(n, zoom_lo, zoom_hi) || !lat_ok(n.min_lat) || !lon_ok(n.min_lon)) return false;
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

std::int64_t hier_chunk_grid(double degrees) noexcept {
    // std::floor, without its call (a libm call where SSE4.1 is not assumed: every record's
    // anchor is gridded when encoded): truncation, one less below a negative fraction.
    const double v = (degrees + 180.0) * 65536.0;
    const auto t = static_cast<std::int64_t>(v);
    return t - (static_cast<double>(t) > v ? 1 : 0);
}

namespace {

constexpr std::size_t kMaxEntryBytes = 7 * 10;  // seven varints
// The header at most: version, zooms, record count, the top index's byte count and the zoom table
// (a varint per zoom but the last).
constexpr std::size_t kHeaderRoom = 3 + 10 + 10 + 10 * kHierMaxZoom;

std::uint64_t chunks_of(std::uint64_t n) noexcept {
    return n > kHierChunkRecords ? (n + kHierChunkRecords - 1) / kHierChunkRecords : 0;
}
// Records per group of chunks (the top index's entries).
constexpr std::uint64_t kGroupRecords = kHierChunkRecords * kHierGroupChunks;
std::uint64_t groups_of(std::uint64_t n) noexcept {
    return n > kHierChunkRecords ? (n + kGroupRecords - 1) / kGroupRecords : 0;
}

// The anchor a chunk's first record is a delta from: its lower grid corner (any value would do;
// a near one keeps the delta small).
std::uint64_t grid_base_bits(std::int64_t cell) noexcept {
    return bits_of(static_cast<double>(cell) / 65536.0 - 180.0);
}

// The delta state of the records: reset at the start of each chunk.
struct Deltas {
    std::int64_t prev_slot, prev_parent;
    std::uint64_t prev_lat, prev_lon;
};
Deltas chunk_start(const HierChunk& c) noexcept {
    return Deltas{c.first_slot - 1, -1, grid_base_bits(c.lat_lo), grid_base_bits(c.lon_lo)};
}

// What a chunk's records span, grown by one more record.
void span_add(HierChunk* c, bool first, const HierBlockNode& d, std::uint64_t lat_bits,
              std::uint64_t lon_bits) noexcept {
    const std::int64_t la = hier_chunk_grid(double_of(lat_bits));
    const std::int64_t lo = hier_chunk_grid(double_of(lon_bits));
    if (first) {
        *c = HierChunk{0, d.zoom_min, d.zoom_max, d.slot, la, la, lo, lo};
        return;
    }
    c->zoom_min = std::min(c->zoom_min, d.zoom_min);
    c->zoom_max = std::max(c->zoom_max, d.zoom_max);
    c->lat_lo = std::min(c->lat_lo, la);
    c->lat_hi = std::max(c->lat_hi, la);
    c->lon_lo = std::min(c->lon_lo, lo);
    c->lon_hi = std::max(c->lon_hi, lo);
}

// An entry of either index (a group's or a chunk's span), its first slot a step from
// expected_slot and its grid corner a delta from base's.
void put_entry(Out* o, const HierChunk& c, const HierChunk& base, std::int64_t expected_slot,
               int zoom_lo) noexcept {
    o->u64(c.bytes);
    o->u64(static_cast<std::uint64_t>(c.zoom_min - zoom_lo) |
           static_cast<std::uint64_t>(c.zoom_max - zoom_lo) << 5);
    o->u64(static_cast<std::uint64_t>(c.first_slot - expected_slot));
    o->s64(c.lat_lo - base.lat_lo);
    o->u64(static_cast<std::uint64_t>(c.lat_hi - c.lat_lo));
    o->s64(c.lon_lo - base.lon_lo);
    o->u64(static_cast<std::uint64_t>(c.lon_hi - c.lon_lo));
}

// a grown by b's span (zooms and grid box; bytes and first slot left).
void span_union(HierChunk* a, const HierChunk& b) noexcept {
    a->zoom_min = std::min(a->zoom_min, b.zoom_min);
    a->zoom_max = std::max(a->zoom_max, b.zoom_max);
    a->lat_lo = std::min(a->lat_lo, b.lat_lo);
    a->lat_hi = std::max(a->lat_hi, b.lat_hi);
    a->lon_lo = std::min(a->lon_lo, b.lon_lo);
    a->lon_hi = std::max(a->lon_hi, b.lon_hi);
}

// A record's varints, as Out writes them but each in one 8-byte store (and two bytes more for
// one beyond 56 bits), where Out's loop took a mispredicted branch a byte: the lat and lon
// deltas take six or seven. Up to 7 bytes beyond the varint are written (zeros, overwritten
// by what follows): a record takes at most kRecordMaxBytes, 29 fewer than the
// kHierBlockMaxRecordBytes a bound gives it, so they stay within the caller's buffer.
constexpr std::size_t kRecordMaxBytes = 8 * 10 + 4 * 10 + 10 + 3 * 19 + 4 * 10;
static_assert(kRecordMaxBytes + 8 <= kHierBlockMaxRecordBytes, "a record's stores fit its room");

struct RecordOut {
    unsigned char* p;
    void u64(std::uint64_t v) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (v < 0x80) {
            *p++ = static_cast<unsigned char>(v);
            return;
        }
        // Byte i: bits 7i .. 7i + 6 of v, the continuation bit on all but the last.
        std::uint64_t w = (v & 0x7f) | (v << 1 & 0x7f00) | (v << 2 & 0x7f0000) |
                          (v << 3 & 0x7f000000) | (v << 4 & 0x7f00000000) |
                          (v << 5 & 0x7f0000000000) | (v << 6 & 0x7f000000000000) |
                          (v << 7 & 0x7f00000000000000);
        const int n = (70 - __builtin_clzll(v)) / 7;  // its bytes: 2 .. 10
        w |= n <= 8 ? 0x8080808080808080ull >> (8 * (9 - n)) : 0x8080808080808080ull;
        std::memcpy(p, &w, sizeof w);
        if (n == 9) p[8] = static_cast<unsigned char>(v >> 56);
        if (n == 10) {
            p[8] = static_cast<unsigned char>(v >> 56 | 0x80);
            p[9] = static_cast<unsigned char>(v >> 63);
        }
        p += n;
#else
        Out o{p};
        o.u64(v);
        p = o.p;
#endif
    }
    void s64(std::int64_t v) noexcept { u64(zigzag(static_cast<std::uint64_t>(v))); }
    void s128(u128 v) noexcept {  // (a residual: nearly always within 64 bits)
        const u128 z = zigzag128(v);
        if (z >> 64 == 0) return u64(static_cast<std::uint64_t>(z));
        Out o{p};
        o.s128(v);
        p = o.p;
    }
    void bits_delta(double v, std::uint64_t base) noexcept { u64(zigzag(bits_of(v) - base)); }
};

// One record (checked as a decoder would accept it; false if not), its deltas from *st.
bool put_record(RecordOut* o, const HierBlockNode& d, int zoom_lo, int zoom_hi, Deltas* st,
                bool check_centre) noexcept {
    if (static_cast<std::int64_t>(d.slot) <= st->prev_slot ||
        !node_ok(d, zoom_lo, zoom_hi, check_centre))
        return false;
    const bool single = d.count == 1;
    unsigned flags = single ? kFlagSingle : 0;
    if (!single && d.sums.count_w < d.count) flags |= kFlagEast;
    if (!single && d.sums.count_w > 0) flags |= kFlagWest;
    if (d.zoom_max == zoom_hi) flags |= kFlagToEnd;
    const std::uint64_t slot_step =
        static_cast<std::uint64_t>(static_cast<std::int64_t>(d.slot) - st->prev_slot - 1);
    if (slot_step > 0) flags |= kFlagGap;
    std::uint64_t zooms = flags | static_cast<std::uint64_t>(d.zoom_min - zoom_lo) << kFlagBits;
    if (!(flags & kFlagToEnd))
        zooms |= static_cast<std::uint64_t>(d.zoom_max - d.zoom_min + 1) << (kFlagBits + 5);
    const bool expansion_stored =
        !single && !(flags & kFlagToEnd) && d.expansion_zoom != d.zoom_max + 1;
    if (expansion_stored) zooms |= kExpansionStored;
    o->u64(zooms);
    if (slot_step > 0) o->u64(slot_step - 1);
    if (!single) o->u64(d.count - 2);
    if (!single && (flags & kFlagToEnd))
        o->u64(static_cast<std::uint64_t>(d.expansion_zoom - d.zoom_max - 1));
    if (expansion_stored) o->u64(static_cast<std::uint64_t>(d.expansion_zoom - d.zoom_max - 2));
    o->s64(d.id);
    o->u64(zigzag(static_cast<std::uint64_t>(d.parent_id) -
                  static_cast<std::uint64_t>(st->prev_parent)));
    std::uint64_t lat_bits, lon_bits;
    anchor_of(d, &lat_bits, &lon_bits);
    o->u64(zigzag(lat_bits - st->prev_lat));
    o->u64(zigzag(lon_bits - st->prev_lon));
    if (!single) {
        o->bits_delta(d.min_lat, lat_bits);
        o->bits_delta(d.max_lat, lat_bits);
        o->bits_delta(d.min_lon, lon_bits);
        o->bits_delta(d.max_lon, lon_bits);
        o->u64(d.sums.count_w);
        const Residuals r = residuals_of(d);
        o->s128(r.sx_e);
        o->s128(r.sx_w);
        o->s128(r.sy);
        if (flags & kFlagEast) {
            o->bits_delta(d.sums.min_lon_e, bits_of(d.min_lon));
            o->bits_delta(d.sums.max_lon_e, bits_of(d.max_lon));
        }
        if (flags & kFlagWest) {
            o->bits_delta(d.sums.min_lon_w, bits_of(d.min_lon));
            o->bits_delta(d.sums.max_lon_w, bits_of(d.max_lon));
        }
    }
    *st = Deltas{d.slot, d.parent_id, lat_bits, lon_bits};
    return true;
}

}  // namespace

std::size_t hier_node_block_bound(std::size_t n_nodes) noexcept {
    return kHeaderRoom + n_nodes * kHierBlockMaxRecordBytes + chunks_of(n_nodes) * kMaxEntryBytes +
           groups_of(n_nodes) * (kMaxEntryBytes + 10);
}

namespace {

// The chunks of records nodes[first..stop) (a group), with their index in front, written at
// o: the index's byte count, the entries, then the records; *group gets what they span and
// their bytes. The records are written first, after room for the index, then moved down.
bool put_group(Out* o, const HierBlockNode* nodes, std::size_t first, std::size_t stop, int zoom_lo,
               int zoom_hi, HierChunk* group, bool check_centre) noexcept {
    HierChunk chunks[kHierGroupChunks] = {};
    std::size_t n_chunks = 0;
    for (std::size_t i = first; i < stop; ++i) {
        std::uint64_t la, lo;
        anchor_of(nodes[i], &la, &lo);
        if (!lat_ok(double_of(la)) || !lon_ok(double_of(lo))) return false;
        const std::size_t c = (i - first) / kHierChunkRecords;
        span_add(&chunks[c], i == first + c * kHierChunkRecords, nodes[i], la, lo);
        n_chunks = c + 1;
    }
    unsigned char* const start = o->p;
    RecordOut rec{start + 10 + n_chunks * kMaxEntryBytes};
    unsigned char* const records = rec.p;
    for (std::size_t c = 0; c < n_chunks; ++c) {
        const std::size_t from = first + c * kHierChunkRecords;
        const std::size_t to = std::min<std::size_t>(stop, from + kHierChunkRecords);
        if (from > 0 && nodes[from].slot <= nodes[from - 1].slot)
            return false;  // (slots ascend across chunks too)
        Deltas st = chunk_start(chunks[c]);
        unsigned char* const chunk_p = rec.p;
        for (std::size_t i = from; i < to; ++i)
            if (!put_record(&rec, nodes[i], zoom_lo, zoom_hi, &st, check_centre)) return false;
        chunks[c].bytes = static_cast<std::uint64_t>(rec.p - chunk_p);
    }
    *group = chunks[0];
    for (std::size_t c = 1; c < n_chunks; ++c) span_union(group, chunks[c]);
    unsigned char entries[kHierGroupChunks * kMaxEntryBytes];
    Out idx{entries};
    for (std::size_t c = 0; c < n_chunks; ++c)
        put_entry(&idx, chunks[c], c == 0 ? *group : chunks[c - 1],
                  c == 0 ? group->first_slot : chunks[c - 1].first_slot + kHierChunkRecords,
                  zoom_lo);
    const std::size_t index_bytes = static_cast<std::size_t>(idx.p - entries);
    o->u64(index_bytes);
    std::memcpy(o->p, entries, index_bytes);
    o->p += index_bytes;
    const std::size_t record_bytes = static_cast<std::size_t>(rec.p - records);
    std::memmove(o->p, records, record_bytes);
    o->p += record_bytes;
    group->bytes = static_cast<std::uint64_t>(o->p - start);
    return true;
}

Status encode(const HierBlockNode* nodes, std::size_t n, int zoom_lo, int zoom_hi,
              unsigned char* out, std::size_t* len, bool check_centre) noexcept {
    *len = 0;
    if (zoom_lo < 0 || zoom_hi < zoom_lo || zoom_hi > kHierMaxZoom) return Status::Internal;
    bool ordered = n >= 2;
    for (std::size_t i = 1; i < n && ordered; ++i)
        ordered = nodes[i].zoom_min >= nodes[i - 1].zoom_min;
    Out head{out};
    *head.p++ = kHierBlockVersion;
    *head.p++ = static_cast<unsigned char>(zoom_lo);
    *head.p++ = static_cast<unsigned char>(zoom_hi | (ordered ? kZoomOrdered : 0));
    head.u64(n);
    const std::uint64_t n_groups = groups_of(n);
    if (n_groups == 0) {  // no index: the records, their deltas from nothing
        Deltas st{-1, -1, 0, 0};
        RecordOut rec{head.p};
        for (std::size_t i = 0; i < n; ++i)
            if (!put_record(&rec, nodes[i], zoom_lo, zoom_hi, &st, check_centre))
                return Status::Internal;
        *len = static_cast<std::size_t>(rec.p - out);
        return Status::Ok;
    }
    // The groups first, after room for the header and the top index; then those, and the
    // groups moved down to follow them.
    unsigned char* const entries = out + kHeaderRoom;
    unsigned char* const groups = entries + n_groups * kMaxEntryBytes;
    Out idx{entries}, body{groups};
    HierChunk prev{};
    // (per zoom: the top index's bytes through the last group born at that zoom or before)
    std::uint64_t zoom_bytes[kHierMaxZoom + 1] = {};
    for (std::uint64_t g = 0; g < n_groups; ++g) {
        const std::size_t first = static_cast<std::size_t>(g * kGroupRecords);
        const std::size_t stop = std::min<std::size_t>(n, first + kGroupRecords);
        HierChunk group{};
        if (!put_group(&body, nodes, first, stop, zoom_lo, zoom_hi, &group, check_centre))
            return Status::Internal;
        put_entry(&idx, group, g == 0 ? HierChunk{} : prev,
                  g == 0 ? 0 : prev.first_slot + static_cast<std::int64_t>(kGroupRecords), zoom_lo);
        for (int z = group.zoom_min; z < zoom_hi; ++z)
            zoom_bytes[z] = static_cast<std::uint64_t>(idx.p - entries);
        prev = group;
    }
    const std::size_t index_bytes = static_cast<std::size_t>(idx.p - entries);
    head.u64(index_bytes);
    for (int z = zoom_lo; ordered && z < zoom_hi; ++z)  // the zoom table
        head.u64(zoom_bytes[z] - (z > zoom_lo ? zoom_bytes[z - 1] : 0));
    std::memmove(head.p, entries, index_bytes);
    head.p += index_bytes;
    const std::size_t body_bytes = static_cast<std::size_t>(body.p - groups);
    std::memmove(head.p, groups, body_bytes);
    *len = static_cast<std::size_t>(head.p - out) + body_bytes;
    return Status::Ok;
}

}  // namespace

Status hier_node_block_encode(const HierBlockNode* nodes, std::size_t n, int zoom_lo, int zoom_hi,
                              unsigned char* out, std::size_t* len) noexcept {
    return encode(nodes, n, zoom_lo, zoom_hi, out, len, true);
}

Status hier_node_block_encode_made(const HierBlockNode* nodes, std::size_t n, int zoom_lo,
                                   int zoom_hi, unsigned char* out, std::size_t* len) noexcept {
    return encode(nodes, n, zoom_lo, zoom_hi, out, len, false);
}

namespace {

// The zoom table (present: a zoom-ordered block with an index) into bytes[z], the top index's
// bytes a reader at zoom z needs: 0 below the block's first zoom, all of them from its last zoom
// on, or at every zoom without a table. False when it is malformed (a prefix beyond the index,
// an index beyond 32 bits); that it is exact is checked group by group (read_group).
bool read_zoom_table(In* in, int zoom_lo, int zoom_hi, bool present, std::uint64_t index_bytes,
                     std::uint32_t bytes[kHierMaxZoom + 1]) noexcept {
    if (index_bytes > 0xffffffffu) return false;
    std::uint64_t sum = 0;
    for (int z = 0; z <= kHierMaxZoom; ++z) {
        if (present && z >= zoom_lo && z < zoom_hi) {
            const std::uint64_t step = in->u64();
            if (!in->ok || step > index_bytes - sum) return false;
            sum += step;
        }
        bytes[z] = static_cast<std::uint32_t>(!present || z >= zoom_hi ? index_bytes
                                                                       : (z < zoom_lo ? 0 : sum));
    }
    return true;
}

// The bytes of a top index of index_bytes that a box reader reads (the zoom table's prefix
// for its zoom; all of them at any zoom).
std::uint64_t index_part(const std::uint32_t bytes[kHierMaxZoom + 1], std::uint64_t index_bytes,
                         const HierBlockBox& box, bool any_zoom) noexcept {
    if (any_zoom || box.zoom > kHierMaxZoom) return index_bytes;
    return box.zoom < 0 ? 0 : bytes[box.zoom];
}

}  // namespace

Status hier_node_block_open(const unsigned char* data, std::size_t len,
                            HierNodeBlockReader* r) noexcept {
    *r = HierNodeBlockReader{};
    r->p = r->end = data;
    In in{data, data + len};
    if (len < 3 || *in.p++ != kHierBlockVersion) return Status::HierarchyBlockCorrupt;
    const int lo = *in.p++;
    const bool ordered = (*in.p & kZoomOrdered) != 0;
    const int hi = *in.p++ & ~kZoomOrdered;
    if (hi < lo || hi > kHierMaxZoom) return Status::HierarchyBlockCorrupt;
    const std::uint64_t n = in.u64();
    // Every record takes at least 5 bytes (zooms, id, parent, two deltas), every entry 7.
    if (!in.ok || n > static_cast<std::uint64_t>(in.end - in.p) / 5 || (ordered && n < 2))
        return Status::HierarchyBlockCorrupt;
    const std::uint64_t n_groups = groups_of(n);
    const std::uint64_t index_bytes = n_groups > 0 ? in.u64() : 0;
    if (!in.ok ||
        !read_zoom_table(&in, lo, hi, ordered && n_groups > 0, index_bytes, r->zoom_index_bytes))
        return Status::HierarchyBlockCorrupt;
    // (seven varints of at least a byte per entry; the groups follow the index)
    if (index_bytes > static_cast<std::uint64_t>(in.end - in.p) || index_bytes / 7 < n_groups)
        return Status::HierarchyBlockCorrupt;
    const unsigned char* index = in.p;
    // (the rest stays as value-initialised above: no group or chunk entered, nothing read)
    r->p = index + index_bytes;
    r->end = in.end;
    r->left = r->total = n;
    r->zoom_lo = r->prev_zoom_min = lo;
    r->zoom_hi = hi;
    r->zoom_ordered = ordered;
    r->prev_slot = r->prev_parent = -1;
    r->index = n_groups > 0 ? index : nullptr;
    r->index_end = r->p;
    r->index_start = index;
    r->groups_left = n_groups;
    return Status::Ok;
}

namespace {

bool in_box(const HierBlockBox& b, double lat, double lon, double margin) noexcept {
    return lat >= b.south - margin && lat <= b.north + margin &&
           ((lon >= b.west1 - margin && lon <= b.east1 + margin) ||
            (lon >= b.west2 - margin && lon <= b.east2 + margin));
}

// The grid cell of a box edge (any value, clamped: only compared).
std::int64_t box_grid(double v) noexcept {
    return hier_chunk_grid(v > -400.0 ? (v < 400.0 ? v : 400.0) : -400.0);
}

// Whether a chunk may hold a record the box keeps: alive at its zoom (unless any_zoom) with its
// anchor within the box widened as decode_single_position widens it (1e-8 degrees, and to the
// pole beyond Web Mercator's clamp, where a single marker's centre is on the clamp).
bool chunk_keeps(const HierChunk& c, const HierBlockBox& b, bool any_zoom) noexcept {
    if (!any_zoom && (b.zoom < c.zoom_min || b.zoom > c.zoom_max)) return false;
    constexpr double m = 1e-8;
    const double south = b.south - m > -85.05 ? b.south - m : -90.0;
    const double north = b.north + m < 85.05 ? b.north + m : 90.0;
    if (box_grid(north) < c.lat_lo || box_grid(south) > c.lat_hi) return false;
    const auto part = [&c](double w, double e) {
        return box_grid(e + m) >= c.lon_lo && box_grid(w - m) <= c.lon_hi;
    };
    return part(b.west1, b.east1) || (b.west2 <= b.east2 && part(b.west2, b.east2));
}

// Where a box reader stops reading the top index: the zoom table's prefix for its zoom.
const unsigned char* index_limit(const HierNodeBlockReader& r, const HierBlockBox& box,
                                 bool any_zoom) noexcept {
    return r.index_start + index_part(r.zoom_index_bytes,
                                      static_cast<std::uint64_t>(r.index_end - r.index_start), box,
                                      any_zoom);
}

// Parses an entry of either index at *p (below end) into *c: its first slot a step from
// expected_slot, its grid corner a delta from base's; false when it is malformed or its bytes
// exceed room.
bool parse_entry(const unsigned char** p, const unsigned char* end, const HierChunk& base,
                 std::uint64_t expected_slot, int zoom_lo, int zoom_hi, std::uint64_t room,
                 HierChunk* c) noexcept {
    In in{*p, end};
    c->bytes = in.u64();
    const std::uint64_t zooms = in.u64();
    const std::uint64_t skip = in.u64();
    const auto plus = [](std::int64_t a, std::uint64_t b) {
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + b);
    };
    c->lat_lo = plus(base.lat_lo, static_cast<std::uint64_t>(in.s64()));
    c->lat_hi = plus(c->lat_lo, in.u64());
    c->lon_lo = plus(base.lon_lo, static_cast<std::uint64_t>(in.s64()));
    c->lon_hi = plus(c->lon_lo, in.u64());
    const std::uint64_t zmin = zooms & 31, zmax = zooms >> 5;
    c->zoom_min = zoom_lo + static_cast<int>(zmin);
    c->zoom_max = zoom_lo + static_cast<int>(zmax & 31);
    c->first_slot = static_cast<std::int64_t>((expected_slot <= kMaxSlot ? expected_slot : 0) +
                                              (skip <= kMaxSlot ? skip : 0));
    *p = in.p;
    return in.ok && zmax < 32 && zmin <= zmax && c->zoom_max <= zoom_hi && skip <= kMaxSlot &&
           expected_slot <= kMaxSlot && static_cast<std::uint64_t>(c->first_slot) <= kMaxSlot &&
           c->bytes <= room;
}

// Reads the next entry of the top index into r->group; false when it is malformed.
bool read_group(HierNodeBlockReader* r) noexcept {
    const bool first = r->groups_left == groups_of(r->total);
    const std::uint64_t expected =
        first ? 0 : static_cast<std::uint64_t>(r->group.first_slot) + kGroupRecords;
    HierChunk g{};
    const std::uint64_t from = static_cast<std::uint64_t>(r->index - r->index_start);
    if (!parse_entry(&r->index, r->index_end, first ? HierChunk{} : r->group, expected, r->zoom_lo,
                     r->zoom_hi, static_cast<std::uint64_t>(r->end - r->p), &g))
        return false;
    // The zoom table is exact: the group within the prefix of every zoom from its zoom_min on,
    // beyond the prefix of every zoom before.
    const std::uint64_t to = static_cast<std::uint64_t>(r->index - r->index_start);
    for (int z = r->zoom_lo; r->zoom_ordered && z < r->zoom_hi; ++z)
        if (g.zoom_min <= z ? r->zoom_index_bytes[z] < to : r->zoom_index_bytes[z] > from)
            return false;
    --r->groups_left;
    ++r->entries_read;
    r->group = g;
    return r->groups_left > 0 || r->index == r->index_end;
}

// Enters the group at r->p, of n records: its chunk index, then its records.
bool open_group(HierNodeBlockReader* r, std::uint64_t n) noexcept {
    In in{r->p, r->p + r->group.bytes};
    const std::uint64_t index_bytes = in.u64();
    const std::uint64_t n_chunks = (n + kHierChunkRecords - 1) / kHierChunkRecords;
    if (!in.ok || index_bytes > static_cast<std::uint64_t>(in.end - in.p) ||
        index_bytes / 7 < n_chunks)
        return false;
    r->group_end = in.end;
    r->sub = in.p;
    r->sub_end = in.p + index_bytes;
    r->p = r->sub_end;
    r->chunks_left = r->group_chunks = n_chunks;
    return true;
}

// Reads the group's next chunk entry into r->chunk; false when it is malformed. At the group's
// last one, the group's entry must be exactly what its chunks' entries span, and its bytes
// exactly its index's and theirs (so that the encoding is canonical).
bool read_entry(HierNodeBlockReader* r) noexcept {
    const bool first = r->chunks_left == r->group_chunks;
    const std::uint64_t expected = static_cast<std::uint64_t>(
        first ? r->group.first_slot
              : r->chunk.first_slot + static_cast<std::int64_t>(kHierChunkRecords));
    HierChunk c{};
    if (!parse_entry(&r->sub, r->sub_end, first ? r->group : r->chunk, expected, r->zoom_lo,
                     r->zoom_hi, static_cast<std::uint64_t>(r->group_end - r->p), &c))
        return false;
    --r->chunks_left;
    ++r->entries_read;
    r->chunk = c;
    HierChunk& s = r->group_seen;
    if (first)
        s = c;
    else {
        span_union(&s, c);
        s.bytes += c.bytes;
    }
    if (r->chunks_left > 0) return true;
    const HierChunk& g = r->group;
    return r->sub == r->sub_end &&
           s.bytes == static_cast<std::uint64_t>(r->group_end - r->sub_end) &&
           s.first_slot == g.first_slot && s.zoom_min == g.zoom_min && s.zoom_max == g.zoom_max &&
           s.lat_lo == g.lat_lo && s.lat_hi == g.lat_hi && s.lon_lo == g.lon_lo &&
           s.lon_hi == g.lon_hi;
}

// Seeking: whether the entry after the one just read (of the top index at *index, or of the
// group's chunk index at *sub) starts at or before the slot sought, so that the slot is not in
// the one just read. A malformed entry says no (the reader finds it when it gets there).
bool seek_past(const HierNodeBlockReader& r, bool group) noexcept {
    const HierChunk& base = group ? r.group : r.chunk;
    if (group ? r.groups_left == 0 : r.chunks_left == 0) return false;
    const unsigned char* p = group ? r.index : r.sub;
    HierChunk next{};
    const std::uint64_t step = group ? kGroupRecords : kHierChunkRecords;
    if (!parse_entry(&p, group ? r.index_end : r.sub_end, base,
                     static_cast<std::uint64_t>(base.first_slot) + step, r.zoom_lo, r.zoom_hi,
                     static_cast<std::uint64_t>(r.end - r.p), &next))
        return false;
    return next.first_slot <= static_cast<std::int64_t>(r.seek_slot);
}

// Moves to the next chunk the filter keeps (every chunk without one), skipping the others (and
// whole groups of them), and resets the deltas there; false at the end of the records or when
// the index is malformed (*status). A reader seeking a slot skips the groups and chunks before
// the one that holds it.
bool begin_chunk(HierNodeBlockReader* r, const HierBlockBox* filter, bool any_zoom,
                 Status* status) noexcept {
    while (r->left > 0) {
        if (r->chunks_left == 0) {
            if (filter != nullptr && r->index >= index_limit(*r, *filter, any_zoom)) {
                // (the later groups' records are born after the box's zoom: none is read)
                r->left = 0;
                r->p = r->end;
                r->skipped = true;
                return false;
            }
            const std::uint64_t n = std::min(kGroupRecords, r->left);
            if (r->groups_left == 0 || !read_group(r)) {
                *status = Status::HierarchyBlockCorrupt;
                return false;
            }
            if ((filter != nullptr && !chunk_keeps(r->group, *filter, any_zoom)) ||
                (r->seeking && seek_past(*r, true))) {
                r->p += r->group.bytes;
                r->left -= n;
                r->skipped = true;
                continue;
            }
            if (!open_group(r, n)) {
                *status = Status::HierarchyBlockCorrupt;
                return false;
            }
        }
        if (!read_entry(r)) {
            *status = Status::HierarchyBlockCorrupt;
            return false;
        }
        const std::uint64_t n = std::min(kHierChunkRecords, r->left);
        if ((filter != nullptr && !chunk_keeps(r->chunk, *filter, any_zoom)) ||
            (r->seeking && seek_past(*r, false))) {
            r->p += r->chunk.bytes;
            r->left -= n;
            r->skipped = true;
            continue;
        }
        r->chunk_n = r->chunk_left = n;
        r->chunk_end = r->p + r->chunk.bytes;
        const Deltas st = chunk_start(r->chunk);
        if (st.prev_slot < r->prev_slot) {  // slots ascend across chunks
            *status = Status::HierarchyBlockCorrupt;
            return false;
        }
        r->prev_slot = st.prev_slot;
        r->prev_parent = st.prev_parent;
        r->prev_lat_bits = st.prev_lat;
        r->prev_lon_bits = st.prev_lon;
        return true;
    }
    return false;
}

// After a record of a chunk: its span grown; at the chunk's end, the entry must be exactly what
// its records span and its byte count exactly theirs (so that the encoding is canonical).
bool chunk_record(HierNodeBlockReader* r, const HierBlockNode& d, std::uint64_t lat_bits,
                  std::uint64_t lon_bits) noexcept {
    const bool first = r->chunk_left == r->chunk_n;
    if (first && static_cast<std::int64_t>(d.slot) != r->chunk.first_slot) return false;
    span_add(&r->seen, first, d, lat_bits, lon_bits);
    if (--r->chunk_left > 0) return true;
    const HierChunk& c = r->chunk;
    const HierChunk& s = r->seen;
    return r->p == r->chunk_end && s.zoom_min == c.zoom_min && s.zoom_max == c.zoom_max &&
           s.lat_lo == c.lat_lo && s.lat_hi == c.lat_hi && s.lon_lo == c.lon_lo &&
           s.lon_hi == c.lon_hi;
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
    d->lat = d->min_lat;  // (not the centre, unless computed below: then not handed out)
    d->lon = d->min_lon;
    if (maybe && lat_ok(d->min_lat) && lon_ok(d->min_lon))
        hier_single_centre(d->min_lat, d->min_lon, &d->lat, &d->lon);
}

// A cluster's centre, bounds, sums and per-side longitude ranges; returns good, cleared when the
// flags disagree with count_w. (A box reader decodes only the clusters it may keep: the others'
// sums, a Web Mercator projection of the centre, are never computed: skip_cluster_tail.)
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

// Steps over n varints: each ends at its first byte without the continuation bit (0x80). Eight
// bytes at a time where eight are left (a varint's length is data-dependent: a byte loop
// mispredicts on most of them); ok cleared when they run past the end.
void skip_varints(In* in, int n) noexcept {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    constexpr std::uint64_t kStopBits = 0x8080808080808080ull;
    while (n > 0 && in->end - in->p >= 8) {
        std::uint64_t word;
        std::memcpy(&word, in->p, sizeof word);
        for (std::uint64_t stops = ~word & kStopBits; stops != 0; stops &= stops - 1)
            if (--n == 0) {
                in->p += (__builtin_ctzll(stops) >> 3) + 1;  // (byte i is bits 8i..8i+7)
                return;
            }
        in->p += 8;
    }
#endif
    for (; n > 0; --n) {
        while (in->p != in->end && (*in->p & 0x80) != 0) ++in->p;
        if (in->p == in->end) {
            in->ok = false;
            return;
        }
        ++in->p;
    }
}

// A cluster a box reader cannot keep (not alive at its zoom, or its centre outside it): the rest
// of its record (bounds, count_w, the sums' residuals and the per-side ranges: most of its bytes
// and of its decoding) is stepped over, its varints bounded by the block's end but not decoded.
// Its bounds are left at its centre and its sums empty; it is never handed out. A full decode
// (hier_node_block_next) checks those fields; a box reader does not need them.
void skip_cluster_tail(In* in, unsigned flags, std::uint64_t lat_bits, std::uint64_t lon_bits,
                       HierBlockNode* d) noexcept {
    d->lat = d->min_lat = d->max_lat = double_of(lat_bits);
    d->lon = d->min_lon = d->max_lon = double_of(lon_bits);
    // min_lat, max_lat, min_lon, max_lon, count_w, three residuals, and two per side range
    skip_varints(in, 8 + ((flags & kFlagEast) != 0 ? 2 : 0) + ((flags & kFlagWest) != 0 ? 2 : 0));
}

// A record's count and expansion zoom (after its zooms are known); returns good, cleared when
// they are out of range.
bool decode_count(In* in, unsigned flags, bool expansion_stored, bool good,
                  HierBlockNode* d) noexcept {
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
    if (expansion_stored) {  // (never with to-end: refused by the caller)
        const std::uint64_t beyond = in->u64();
        good = good && beyond < static_cast<std::uint64_t>(kHierMaxZoom);
        d->expansion_zoom +=
            1 + static_cast<int>(beyond < static_cast<std::uint64_t>(kHierMaxZoom) ? beyond : 0);
    }
    return good;
}

// One record: decoded and checked whole, except that with a box a single marker's centre is
// computed only when the marker could be kept (*kept: alive at the box's zoom, centre in it).
// Whether a record follows (moving to the next chunk the filter keeps first); at the end, the
// checks of the whole block.
bool record_follows(HierNodeBlockReader* r, const HierBlockBox* filter, bool any_zoom,
                    Status* status) noexcept {
    *status = Status::Ok;
    if (r->left > 0 && r->index != nullptr && r->chunk_left == 0 &&
        !begin_chunk(r, filter, any_zoom, status) && *status != Status::Ok) {
        r->left = 0;
        r->p = r->end;
        return false;
    }
    if (r->left > 0) return true;
    // trailing bytes, or records in zoom order that the flag does not say are (the encoder would
    // have set it: not canonical; unknown when chunks were skipped)
    if (r->p != r->end || (!r->skipped && !r->zoom_ordered && !r->order_broken && r->total >= 2))
        *status = Status::HierarchyBlockCorrupt;
    return false;
}

bool next_record(HierNodeBlockReader* r, const HierBlockBox* box, const HierBlockBox* filter,
                 bool any_zoom, HierBlockNode* out, bool* kept, Status* status) noexcept {
    if (!record_follows(r, filter, any_zoom, status)) return false;
    ++r->records_read;
    In in{r->p, r->end};
    HierBlockNode d;  // (every field is set below before it is read: no zeroing per record)
    const std::uint64_t zooms = in.u64();
    const unsigned flags = static_cast<unsigned>(zooms & ((1u << kFlagBits) - 1));
    std::uint64_t slot_step = 0;
    if (flags & kFlagGap) {
        slot_step = in.u64();
        slot_step = slot_step < kMaxSlot ? slot_step + 1 : kMaxSlot + 1;  // (beyond: refused below)
    }
    const bool single = (flags & kFlagSingle) != 0;
    const std::uint64_t span1 =
        zooms >> (kFlagBits + 5) & 31;  // zoom_max - zoom_min + 1, 0 when to the end
    const bool expansion_stored = (zooms & kExpansionStored) != 0;
    bool good = in.ok && slot_step <= kMaxSlot &&
                static_cast<std::uint64_t>(r->prev_slot + 1) + slot_step <= kMaxSlot &&
                zooms >> (kFlagBits + 11) == 0 && ((flags & kFlagToEnd) != 0) == (span1 == 0) &&
                (!single || (flags & (kFlagEast | kFlagWest)) == 0) &&
                (!expansion_stored || (!single && !(flags & kFlagToEnd)));
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
        good = decode_count(&in, flags, expansion_stored, good, &d);
        d.id = in.s64();
        d.parent_id = static_cast<std::int64_t>(static_cast<std::uint64_t>(r->prev_parent) +
                                                unzigzag(in.u64()));
        lat_bits = r->prev_lat_bits + unzigzag(in.u64());
        lon_bits = r->prev_lon_bits + unzigzag(in.u64());
        d.sums = HierSums{0, 0, 0, 0, 0, 0, 0, INFINITY, -INFINITY, INFINITY, -INFINITY};
        bool whole = true;
        if (single) {
            decode_single_position(lat_bits, lon_bits, box, &d);
        } else {
            whole = box == nullptr || (box->zoom >= d.zoom_min && box->zoom <= d.zoom_max &&
                                       in_box(*box, double_of(lat_bits), double_of(lon_bits), 0.0));
            if (whole)
                good = decode_cluster_position(&in, flags, lat_bits, lon_bits, good, &d);
            else
                skip_cluster_tail(&in, flags, lat_bits, lon_bits, &d);
        }
        good = good && in.ok &&
               (whole ? node_ok(d, r->zoom_lo, r->zoom_hi, false)
                      : head_ok(d, r->zoom_lo, r->zoom_hi));
    }
    if (good && r->index != nullptr) {
        r->p = in.p;
        good = chunk_record(r, d, lat_bits, lon_bits);
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

Status hier_node_block_header_bytes(const unsigned char* data, std::size_t avail,
                                    const HierBlockBox& box, bool any_zoom,
                                    std::size_t* bytes) noexcept {
    *bytes = 0;
    if (avail < 3) return Status::Ok;
    if (data[0] != kHierBlockVersion) return Status::HierarchyBlockCorrupt;
    const int lo = data[1], hi = data[2] & ~kZoomOrdered;
    const bool ordered = (data[2] & kZoomOrdered) != 0;
    In in{data + 3, data + avail};
    const std::uint64_t n = in.u64();
    const bool indexed = in.ok && groups_of(n) > 0;
    const std::uint64_t index_bytes = indexed ? in.u64() : 0;
    // (a varint cut by the end of avail reads as malformed: more is needed, or it is corrupt,
    // which the reader will say)
    std::uint32_t zoom_bytes[kHierMaxZoom + 1];
    if (!in.ok || hi < lo || hi > kHierMaxZoom ||
        !read_zoom_table(&in, lo, hi, ordered && indexed, index_bytes, zoom_bytes))
        return Status::Ok;
    *bytes = static_cast<std::size_t>(static_cast<std::uint64_t>(in.p - data) +
                                      index_part(zoom_bytes, index_bytes, box, any_zoom));
    return Status::Ok;
}

Status hier_node_block_kept_chunks(const HierNodeBlockReader& r, const unsigned char* data,
                                   const HierBlockBox& box, bool any_zoom,
                                   void (*f)(void* ctx, std::size_t offset, std::size_t length),
                                   void* ctx) noexcept {
    HierNodeBlockReader k = r;
    if (k.index == nullptr && k.p != k.end)  // no index: the records are read whole
        f(ctx, static_cast<std::size_t>(k.p - data), static_cast<std::size_t>(k.end - k.p));
    const unsigned char* const limit = k.index != nullptr ? index_limit(k, box, any_zoom) : nullptr;
    while (k.index != nullptr && k.groups_left > 0 && k.index < limit) {
        if (!read_group(&k)) return Status::HierarchyBlockCorrupt;
        if (chunk_keeps(k.group, box, any_zoom))
            f(ctx, static_cast<std::size_t>(k.p - data), static_cast<std::size_t>(k.group.bytes));
        k.p += k.group.bytes;
        k.left -= std::min(kGroupRecords, k.left);
    }
    return Status::Ok;
}

namespace {

// Reads a block's records from the chunk that may hold slot on, f(record) for each until it
// says stop.
template <typename F>
Status seek_records(const unsigned char* data, std::size_t len, std::uint32_t slot, F f) noexcept {
    HierNodeBlockReader r;
    Status s = hier_node_block_open(data, len, &r);
    if (s != Status::Ok) return s;
    r.seeking = true;
    r.seek_slot = slot;
    HierBlockNode d;
    bool kept = false;
    while (next_record(&r, nullptr, nullptr, false, &d, &kept, &s))
        if (!f(d)) return Status::Ok;
    return s;
}

}  // namespace

Status hier_node_block_find_slot(const unsigned char* data, std::size_t len, std::uint32_t slot,
                                 HierBlockNode* out, bool* found) noexcept {
    *found = false;
    return seek_records(data, len, slot, [&](const HierBlockNode& d) {
        if (d.slot < slot) return true;
        *found = d.slot == slot;
        if (*found) *out = d;
        return false;
    });
}

Status hier_node_block_slot_end(const unsigned char* data, std::size_t len,
                                std::uint64_t* end) noexcept {
    *end = 0;
    return seek_records(data, len, UINT32_MAX, [&](const HierBlockNode& d) {
        *end = std::uint64_t{d.slot} + 1;
        return true;
    });
}

Status hier_node_block_slot_group(const HierNodeBlockReader& r, const unsigned char* data,
                                  std::uint32_t slot, std::size_t* offset,
                                  std::size_t* length) noexcept {
    HierNodeBlockReader k = r;
    *offset = static_cast<std::size_t>(k.p - data);
    *length = static_cast<std::size_t>(k.end - k.p);
    if (k.index == nullptr) return Status::Ok;  // no index: the records are read whole
    k.seek_slot = slot;
    while (k.groups_left > 0) {
        if (!read_group(&k)) return Status::HierarchyBlockCorrupt;
        if (k.groups_left == 0 || !seek_past(k, true)) {
            *offset = static_cast<std::size_t>(k.p - data);
            *length = static_cast<std::size_t>(k.group.bytes);
            return Status::Ok;
        }
        k.p += k.group.bytes;
    }
    return Status::HierarchyBlockCorrupt;
}

bool hier_node_block_next(HierNodeBlockReader* r, HierBlockNode* out, Status* status) noexcept {
    bool kept;
    return next_record(r, nullptr, nullptr, false, out, &kept, status);
}

bool hier_node_block_next_in(HierNodeBlockReader* r, const HierBlockBox& box, HierBlockNode* out,
                             Status* status) noexcept {
    bool kept = false;
    HierBlockNode d;
    while (next_record(r, &box, &box, false, &d, &kept, status)) {
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
    while (next_record(r, &none, &box, true, &d, &kept, status))
        if (d.count == 1 && in_box(box, d.min_lat, d.min_lon, 0.0)) {
            *out = d;
            return true;
        }
    return false;
}

}  // namespace geocluster
