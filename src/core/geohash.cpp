// Geohash codec: points, bounds, neighbours. The layout is documented in geohash.hpp.
#include "core.hpp"

#include "geohash.hpp"

#include <cmath>

namespace geocluster {

namespace {

using geohash_detail::symbol_shift;
using quadkey_detail::compact_bits;
using quadkey_detail::spread_bits;

constexpr std::uint32_t kAxisCells = std::uint32_t{1} << kGeohashAxisBits;

// Index of the last of 2^30 equal slices of [lo, lo + span] whose low edge is <= v, for
// v in [lo, lo + span]; v = lo + span goes to the last slice. This is exactly what 30
// bisection steps with `v >= mid` compute, because every mid is one of these edges and
// edges are exact in double (k * span / 2^30 has at most 38 significant bits for span 360
// or 180, and adding lo lands on a multiple of span / 2^30 no larger than span).
std::uint32_t axis_index(double v, double lo, double span) noexcept {
    const double step = std::ldexp(span, -kGeohashAxisBits);
    std::int64_t k =
        static_cast<std::int64_t>(std::floor((v - lo) / span * static_cast<double>(kAxisCells)));
    k = k < 0 ? 0 : (k >= kAxisCells ? kAxisCells - 1 : k);
    // v - lo may round up onto the next edge (or down below one); the edges are exact, so
    // one comparison each way settles it.
    if (k > 0 && v < static_cast<double>(k) * step + lo) {
        --k;
    } else if (k + 1 < kAxisCells && v >= static_cast<double>(k + 1) * step + lo) {
        ++k;
    }
    return static_cast<std::uint32_t>(k);
}

GeohashCode code_from_indices(std::uint32_t lon_idx, std::uint32_t lat_idx, int p) noexcept {
    if (p == 0) return 0;
    // 60 bits, longitude in the odd (higher) position of each pair: bit 59 = first lon bit.
    const std::uint64_t bits = (spread_bits(lon_idx) << 1) | spread_bits(lat_idx);
    return ((bits << 4) & geohash_detail::prefix_mask(p)) | static_cast<std::uint64_t>(p);
}

struct CellIndex {
    std::uint32_t lon;  // index among 2^lon_bits slices
    std::uint32_t lat;  // index among 2^lat_bits slices
    int lon_bits;
    int lat_bits;
};

CellIndex cell_index(GeohashCode code) noexcept {
    const int p = geohash_precision(code);
    CellIndex c;
    c.lon_bits = geohash_lon_bits(p);
    c.lat_bits = geohash_lat_bits(p);
    const std::uint64_t bits = (code & geohash_detail::kSymbolMask) >> 4;  // 60 bits
    c.lon = compact_bits(bits >> 1) >> (kGeohashAxisBits - c.lon_bits);
    c.lat = compact_bits(bits) >> (kGeohashAxisBits - c.lat_bits);
    return c;
}

GeohashCode code_from_cell(std::uint32_t lon, std::uint32_t lat, int lon_bits, int lat_bits,
                           int p) noexcept {
    return code_from_indices(lon << (kGeohashAxisBits - lon_bits),
                             lat << (kGeohashAxisBits - lat_bits), p);
}

// Edge k of 2^bits slices of [lo, lo + span]: exact.
double edge(std::uint32_t k, int bits, double lo, double span) noexcept {
    return static_cast<double>(k) * std::ldexp(span, -bits) + lo;
}

}  // namespace

std::uint32_t geohash_lon_index(double lon) noexcept { return axis_index(lon, -180.0, 360.0); }
std::uint32_t geohash_lat_index(double lat) noexcept { return axis_index(lat, -90.0, 180.0); }

Status geohash_children(GeohashCode code, GeohashCode out[32]) noexcept {
    const int p = geohash_precision(code);
    if (p >= kGeohashMaxPrecision) return Status::PrecisionOutOfRange;
    const GeohashCode base =
        (code & geohash_detail::prefix_mask(p)) | static_cast<std::uint64_t>(p + 1);
    for (std::uint64_t s = 0; s < 32; ++s) out[s] = base | (s << symbol_shift(p + 1));
    return Status::Ok;
}

// The shape of quadkey_from_latlon (the same checks, then this codec's own cell).
Status geohash_from_latlon(double lat, double lon, int p, GeohashCode* out) noexcept {
    const Status s = check_latlon(lat, lon);
    if (s != Status::Ok) return s;
    if (p < 0 || p > kGeohashMaxPrecision) return Status::PrecisionOutOfRange;
    *out = code_from_indices(geohash_lon_index(lon), geohash_lat_index(lat), p);
    return Status::Ok;
}

LatLonBox geohash_bounds(GeohashCode code) noexcept {
    const CellIndex c = cell_index(code);
    LatLonBox b;
    b.min_lon = edge(c.lon, c.lon_bits, -180.0, 360.0);
    b.max_lon = edge(c.lon + 1, c.lon_bits, -180.0, 360.0);
    b.min_lat = edge(c.lat, c.lat_bits, -90.0, 180.0);
    b.max_lat = edge(c.lat + 1, c.lat_bits, -90.0, 180.0);
    return b;
}

LatLon geohash_center(GeohashCode code) noexcept {
    // ST_PointFromGeoHash: min + (max - min) / 2, exact for these dyadic edges.
    const LatLonBox b = geohash_bounds(code);
    return LatLon{b.min_lat + (b.max_lat - b.min_lat) / 2, b.min_lon + (b.max_lon - b.min_lon) / 2};
}

int geohash_neighbors(GeohashCode code, GeohashCode out[8]) noexcept {
    // N, NE, E, SE, S, SW, W, NW with latitude index growing northwards.
    static constexpr int kDlon[8] = {0, 1, 1, 1, 0, -1, -1, -1};
    static constexpr int kDlat[8] = {1, 1, 0, -1, -1, -1, 0, 1};
    const int p = geohash_precision(code);
    const CellIndex c = cell_index(code);
    const std::int64_t nlon = std::int64_t{1} << c.lon_bits;
    const std::int64_t nlat = std::int64_t{1} << c.lat_bits;
    int count = 0;
    for (int i = 0; i < 8; ++i) {
        const std::int64_t la = static_cast<std::int64_t>(c.lat) + kDlat[i];
        if (la < 0 || la >= nlat) continue;  // beyond a pole
        const std::int64_t lo =
            ((static_cast<std::int64_t>(c.lon) + kDlon[i]) % nlon + nlon) % nlon;
        const GeohashCode g =
            code_from_cell(static_cast<std::uint32_t>(lo), static_cast<std::uint32_t>(la),
                           c.lon_bits, c.lat_bits, p);
        if (g == code) continue;
        bool seen = false;
        for (int j = 0; j < count; ++j) seen = seen || out[j] == g;
        if (!seen) out[count++] = g;
    }
    return count;
}

namespace {
// geohash_precision_for_zoom's table; see the header for the formula it comes from. The unit
// test recomputes every entry from the formula.
constexpr std::int8_t kPrecisionForZoom[kMaxZoom + 1] = {
    1,  1,  1,  1,  1,  2,  2,  2,  3,  3,  4,  4,  5, 6, 7, 8, 10, 12,  // zoom 0..17
    12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12,                      // zoom 18..29
};
}  // namespace

int geohash_precision_for_zoom(int zoom) noexcept {
    zoom = zoom < 0 ? 0 : (zoom > kMaxZoom ? kMaxZoom : zoom);
    return kPrecisionForZoom[zoom];
}

Status geohash_precision_for_zoom(int zoom, int* precision) noexcept {
    if (zoom < 0 || zoom > kMaxZoom) return Status::ZoomOutOfRange;
    *precision = kPrecisionForZoom[zoom];
    return Status::Ok;
}

}  // namespace geocluster
