// cluster_agg's serialised state (SERIALFUNC / DESERIALFUNC of the aggregate).
//
// Layout, all integers and doubles little-endian, doubles as IEEE 754 binary64:
//
//   header, 24 bytes
//     0   4  magic "GCLS"
//     4   1  version, 1
//     5   1  zoom, 0..29
//     6   1  flags: bit 0 = the aggregate has an id column; other bits 0
//     7   1  reserved, 0
//     8   8  radius_px, finite and > 0
//    16   8  number of bins n; the rest of the value is exactly n records
//   record, 97 bytes, in strictly increasing (kx, ky) order
//     0   8  kx      column << 1 | west (lon < 0); column <= 2^48 / S
//     8   8  ky      row <= 2^48 / S
//    16   8  count   >= 1 (all counts add up to at most 2^46)
//    24  16  sum_x   sum of fixed-point X, low 8 bytes first
//    40  16  sum_y
//    56   8  min_lat  -90 <= min_lat <= max_lat <= 90
//    64   8  max_lat
//    72   8  min_lon  west: -180 <= min_lon <= max_lon < 0; east: 0 <= min_lon <= max_lon <= 180
//    80   8  max_lon
//    88   8  min_id   0 unless flags bit 0
//    96   1  flags: bit 0 = some member has an id (needs the header's id flag); other bits 0
//
// S, the bin side, follows from zoom and radius_px (cluster_internal::init_params).
//
// The form is canonical: the records are sorted, -0.0 never appears (the state never holds it),
// unused bits and fields are zero. So equal bin sets serialise to equal bytes, whatever the
// history of the state, and deserialize accepts a value only if serialize would have produced
// it: the fuzz target checks serialize(deserialize(b)) == b for every accepted b. Beyond the
// format, deserialize checks that a record's fields agree with each other as those of real
// points do (a state crosses process and storage boundaries, so it is input like any other): the
// positions of the bounds lie in the bin, each sum lies between count times the smallest and the
// largest position that is both in the bin and in the bounds' box (so the centre lies in both),
// and a bin of one point has min == max (read_record). It never allocates more than a small
// multiple of len, nor past the allocator's budget (StateTooLarge).
#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "mercator.hpp"
#include "polled_sort.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace geocluster {

using namespace cluster_internal;

namespace {

constexpr std::uint8_t kMagic[4] = {'G', 'C', 'L', 'S'};
constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 24;
constexpr std::size_t kRecordBytes = 97;
constexpr std::uint8_t kHeaderHasId = 1;
constexpr std::uint8_t kRecordHasId = 1;

void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint64_t get_u64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= std::uint64_t{p[i]} << (8 * i);
    return v;
}
void put_f64(std::uint8_t* p, double d) noexcept {
    std::uint64_t v;
    std::memcpy(&v, &d, sizeof v);
    put_u64(p, v);
}
double get_f64(const std::uint8_t* p) noexcept {
    const std::uint64_t v = get_u64(p);
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

bool is_negative_zero(double d) noexcept { return d == 0.0 && std::signbit(d); }

void write_record(std::uint8_t* p, const Bin& b) noexcept {
    put_u64(p + 0, b.kx);
    put_u64(p + 8, b.ky);
    put_u64(p + 16, b.count);
    put_u64(p + 24, b.sum_x_lo);
    put_u64(p + 32, b.sum_x_hi);
    put_u64(p + 40, b.sum_y_lo);
    put_u64(p + 48, b.sum_y_hi);
    put_f64(p + 56, b.min_lat);
    put_f64(p + 64, b.max_lat);
    put_f64(p + 72, b.min_lon);
    put_f64(p + 80, b.max_lon);
    put_u64(p + 88, static_cast<std::uint64_t>(b.min_id));
    p[96] = b.has_id != 0 ? kRecordHasId : 0;
}

// Reads and checks one record against the state's parameters. `total` accumulates counts.
Status read_record(const std::uint8_t* p, const ClusterState* st, std::uint64_t* total,
                   Bin* b) noexcept {
    b->kx = get_u64(p + 0);
    b->ky = get_u64(p + 8);
    b->count = get_u64(p + 16);
    const Wide sum_x{get_u64(p + 24), get_u64(p + 32)};
    const Wide sum_y{get_u64(p + 40), get_u64(p + 48)};
    b->min_lat = get_f64(p + 56);
    b->max_lat = get_f64(p + 64);
    b->min_lon = get_f64(p + 72);
    b->max_lon = get_f64(p + 80);
    b->min_id = static_cast<std::int64_t>(get_u64(p + 88));
    const std::uint8_t flags = p[96];

    const std::uint64_t column = b->kx >> 1;
    const bool west = (b->kx & 1) != 0;
    if (column > st->max_key || b->ky > st->max_key) return Status::StateCorrupt;
    if (b->count == 0 || b->count > kMaxTotalCount - *total) return Status::StateCorrupt;
    *total += b->count;

    // NaN fails every comparison below.
    if (!(b->min_lat >= -90.0 && b->min_lat <= b->max_lat && b->max_lat <= 90.0))
        return Status::StateCorrupt;
    if (west ? !(b->min_lon >= -180.0 && b->min_lon <= b->max_lon && b->max_lon < 0.0)
             : !(b->min_lon >= 0.0 && b->min_lon <= b->max_lon && b->max_lon <= 180.0))
        return Status::StateCorrupt;
    if (is_negative_zero(b->min_lat) || is_negative_zero(b->max_lat) ||
        is_negative_zero(b->min_lon) || is_negative_zero(b->max_lon))
        return Status::StateCorrupt;
    if (b->count == 1 && (b->min_lat != b->max_lat || b->min_lon != b->max_lon))
        return Status::StateCorrupt;

    // The records must agree with each other, as those of real points do. Every member's position
    // lies in the bin, and within kLatLonSlackFixed of its own lat/lon's position; positions grow
    // with lon and fall with lat (the same functions, clamped alike), and each bound is some
    // member's coordinate. So the bounds' positions lie in the bin (give or take the slack), and
    // every member's position, hence the sums' mean, in the bin and in the bounds' box (slack
    // included): lo <= X <= hi below, in x and in y. Sums against count times those ends
    // (products below 2^46 * 2^49: no overflow).
    const auto members_in = [&](std::uint64_t key, std::uint64_t low_bound,
                                std::uint64_t high_bound, const Wide& sum) {
        const std::uint64_t bin_lo = key * st->bin_side;  // key <= max_key, so bin_lo <= 2^48
        const std::uint64_t room = kFixedOne - bin_lo;
        const std::uint64_t bin_hi = bin_lo + (st->bin_side - 1 < room ? st->bin_side - 1 : room);
        const std::uint64_t slack = kLatLonSlackFixed;
        // The bounds' own positions (low_bound <= high_bound: monotone) lie in the bin.
        if (low_bound + slack < bin_lo || high_bound > bin_hi + slack) return false;
        const std::uint64_t lo = std::max(bin_lo, low_bound > slack ? low_bound - slack : 0);
        const std::uint64_t hi = std::min(bin_hi, high_bound + slack);
        if (lo > hi) return false;
        const u128 s = wide_load(sum);
        return s >= static_cast<u128>(lo) * b->count && s <= static_cast<u128>(hi) * b->count;
    };
    if (!members_in(column, fixed_x_of_lon(b->min_lon), fixed_x_of_lon(b->max_lon), sum_x) ||
        !members_in(b->ky, fixed_y_of_lat(b->max_lat), fixed_y_of_lat(b->min_lat), sum_y))
        return Status::StateCorrupt;
    bin_set_sums(*b, wide_load(sum_x), wide_load(sum_y));  // below 2^46 * 2^48

    if ((flags & ~kRecordHasId) != 0) return Status::StateCorrupt;
    b->has_id = (flags & kRecordHasId) != 0 ? 1 : 0;
    if (b->has_id != 0 ? !st->has_id : b->min_id != 0) return Status::StateCorrupt;
    return Status::Ok;
}

}  // namespace

std::size_t cluster_serialized_size(const ClusterState* st) noexcept {
    if (settle(st) != Status::Ok) return SIZE_MAX;  // the caller cannot allocate that either
    return kHeaderBytes + std::size_t{st->n_bins} * kRecordBytes;
}

Status cluster_serialize(const ClusterState* st, std::uint8_t* out, std::size_t out_len,
                         CancelCheck cancel) noexcept {
    const Status settled = settle(st);
    if (settled != Status::Ok) return settled;
    if (out_len < cluster_serialized_size(st)) return Status::Internal;
    std::memcpy(out, kMagic, 4);
    out[4] = kVersion;
    out[5] = static_cast<std::uint8_t>(st->zoom);
    out[6] = st->has_id ? kHeaderHasId : 0;
    out[7] = 0;
    put_f64(out + 8, st->radius_px);
    put_u64(out + 16, st->n_bins);
    const std::uint32_t n = st->n_bins;
    if (n == 0) return Status::Ok;

    // The bins sit in insertion order, which depends on row order: sort an index by key (polled:
    // polled_sort.hpp; its second buffer is the second half of `order`).
    auto* order = static_cast<std::uint32_t*>(
        st->alloc.alloc(st->alloc.ctx, 2 * std::size_t{n} * sizeof(std::uint32_t)));
    if (order == nullptr) return Status::OutOfMemory;
    Poller poll(cancel);
    for (std::uint32_t i = 0; i < n; ++i) order[i] = i;
    const BinStore& bins = st->bins;
    const std::uint32_t* sorted = polled_sort(
        order, order + n, n,
        [bins](std::uint32_t a, std::uint32_t b) noexcept {
            return bins[a].kx != bins[b].kx ? bins[a].kx < bins[b].kx : bins[a].ky < bins[b].ky;
        },
        poll);
    Status s = sorted != nullptr ? Status::Ok : Status::Canceled;
    std::uint8_t* p = out + kHeaderBytes;
    for (std::uint32_t i = 0; i < n && s == Status::Ok; ++i, p += kRecordBytes) {
        write_record(p, bins[sorted[i]]);
        if (poll.canceled(1)) s = Status::Canceled;
    }
    st->alloc.release(st->alloc.ctx, order);
    return s;
}

Status cluster_deserialize(const std::uint8_t* bytes, std::size_t len, const Allocator& alloc,
                           ClusterState** out, CancelCheck cancel) noexcept {
    *out = nullptr;
    if (bytes == nullptr || len < kHeaderBytes) return Status::StateCorrupt;
    if (std::memcmp(bytes, kMagic, 4) != 0) return Status::StateCorrupt;
    if (bytes[4] != kVersion) return Status::StateBadVersion;
    const int zoom = bytes[5];
    const std::uint8_t flags = bytes[6];
    const double radius_px = get_f64(bytes + 8);
    const std::uint64_t n = get_u64(bytes + 16);
    if (zoom > kMaxZoom || (flags & ~kHeaderHasId) != 0 || bytes[7] != 0)
        return Status::StateCorrupt;
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::StateCorrupt;
    // n is only believed when the bytes are there: this caps every allocation by len.
    if ((len - kHeaderBytes) % kRecordBytes != 0 || (len - kHeaderBytes) / kRecordBytes != n)
        return Status::StateCorrupt;
    if (n > kMaxBins) return Status::StateCorrupt;

    ClusterState* st = nullptr;
    Status s = cluster_create(zoom, radius_px, (flags & kHeaderHasId) != 0, alloc, &st);
    if (s != Status::Ok) return s == Status::OutOfMemory ? s : Status::StateCorrupt;
    Poller poll(cancel);
    if (n > 0) s = reserve_bins(st, n, true, &poll);

    std::uint64_t total = 0;
    const std::uint8_t* p = bytes + kHeaderBytes;
    Bin b{}, prev{};
    for (std::uint64_t i = 0; i < n && s == Status::Ok; ++i, p += kRecordBytes) {
        if (poll.canceled(1)) {
            s = Status::Canceled;
            break;
        }
        s = read_record(p, st, &total, &b);
        if (s != Status::Ok) break;
        // Strictly increasing keys: canonical, and no bin can appear twice.
        if (i > 0 && !(prev.kx < b.kx || (prev.kx == b.kx && prev.ky < b.ky))) {
            s = Status::StateCorrupt;
            break;
        }
        *find_or_insert_bin(st, b.kx, b.ky, hash_key(b.kx, b.ky)) = b;  // absent: keys ascend
        prev = b;
    }
    if (s != Status::Ok) {
        cluster_destroy(st);
        return s;
    }
    st->total = total;
    *out = st;
    return Status::Ok;
}

}  // namespace geocluster
