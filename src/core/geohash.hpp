// Geohash: a geohash.org cell of precision 0..12 characters, packed into one uint64.
//
// Bit layout (bit 63 is the most significant bit):
//
//    63 .. 59   58 .. 54   ...   8 .. 4    3 2 1 0
//   [   c1   ][   c2   ]  ...  [  c12  ][ precision ]
//
//   * c1..c12 are the characters of the text as 5-bit base-32 symbols (alphabet
//     "0123456789bcdefghjkmnpqrstuvwxyz"), first character at bits 63..59, i.e. symbol i
//     (1-based) is `>> (64 - 5*i)`. Symbols below the precision are 0; bits 3..0 hold the
//     precision 0..12 (13..15 are invalid).
//   * The 60 symbol bits are the geohash bisection bits, longitude first: bit 63 says east
//     (1) or west (0) of lon 0, bit 62 north or south of lat 0, and so on alternately. A
//     cell of precision p has ceil(5p/2) longitude bits and floor(5p/2) latitude bits.
//
// Worked example: "u4" (precision 2) is symbols 26 = 11010b and 4 = 00100b:
//   11010 00100 0...0 0010 = 0xD100000000000002.
//   Read alternately, the bits are lon 1,0,0,0,0 and lat 1,1,0,1,0:
//   lon [-180,180] -> [0,180) -> [0,90) -> [0,45) -> [0,22.5) -> [0,11.25)
//   lat [-90,90]   -> [0,90) -> [45,90) -> [45,67.5) -> [56.25,67.5) -> [56.25,61.875)
//   so "u4" is lon 0..11.25, lat 56.25..61.875 (ST_Box2dFromGeoHash('u4') =
//   BOX(0 56.25,11.25 61.875)).
//
// Why this layout:
//   * Unsigned integer order == C-collation order of the lower-case text, because the
//     alphabet is in ASCII order, so symbol order is character order; a proper prefix is
//     padded with symbol 0 (the smallest) and the precision breaks ties, exactly as for
//     quadkey (see quadkey.hpp). Compare as UNSIGNED: bit 63 is used, so the int64 view of
//     the same bits sorts cells east of lon 0 before cells west of it.
//   * The descendants of a cell p (p included) are exactly [p, geohash_range_max(p)].
//
// Encoding a point equals PostGIS ST_GeoHash bit for bit (PostGIS 3.3 geohash_point in
// liblwgeom/lwalgorithm.c): it bisects with mid = (lo + hi) / 2 and goes to the upper half
// when `value >= mid`, so a point on a boundary belongs to the east / north cell, lon 180
// and lat 90 to the last cell. Those mids are dyadic fractions of 360 and 180, all exact in
// double, so the 30 bisection bits of each axis equal "the last cell whose west (south)
// edge is <= value", which we compute directly: floor of the scaled value, then one exact
// comparison against the edge to undo any rounding of the scaling.
#pragma once

#include "core.hpp"

#include "quadkey.hpp"  // LatLon, LatLonBox

namespace geocluster {

using GeohashCode = std::uint64_t;

constexpr int kGeohashMaxPrecision = 12;
constexpr std::size_t kGeohashTextMax = 12;
constexpr std::size_t kGeohashTextBufSize = kGeohashTextMax + 1;
// Bisection bits per axis at precision 12.
constexpr int kGeohashAxisBits = 30;

namespace geohash_detail {

constexpr std::uint64_t kPrecisionMask = 0xF;
constexpr std::uint64_t kSymbolMask = ~kPrecisionMask;  // bits 63..4

constexpr int symbol_shift(int i) noexcept { return 64 - 5 * i; }

constexpr std::uint64_t prefix_mask(int precision) noexcept {
    return precision == 0 ? 0 : kSymbolMask & ~((std::uint64_t{1} << symbol_shift(precision)) - 1);
}

constexpr const char kAlphabet[33] = "0123456789bcdefghjkmnpqrstuvwxyz";

// Character -> symbol value, 0xFF for characters outside the alphabet (either case).
struct DecodeTable {
    std::uint8_t v[256];
};

constexpr DecodeTable make_decode_table() noexcept {
    DecodeTable t{};
    for (int c = 0; c < 256; ++c) t.v[c] = 0xFF;
    for (int i = 0; i < 32; ++i) {
        const char c = kAlphabet[i];
        t.v[static_cast<unsigned char>(c)] = static_cast<std::uint8_t>(i);
        if (c >= 'a' && c <= 'z')
            t.v[static_cast<unsigned char>(c - 'a' + 'A')] = static_cast<std::uint8_t>(i);
    }
    return t;
}

inline constexpr DecodeTable kDecode = make_decode_table();

}  // namespace geohash_detail

inline int geohash_precision(GeohashCode code) noexcept {
    return static_cast<int>(code & geohash_detail::kPrecisionMask);
}

// True when code is a value this encoding can produce (precision <= 12, symbols below the
// precision zero). Use it on any uint64 that did not come from this header.
inline bool geohash_is_valid(GeohashCode code) noexcept {
    const int p = geohash_precision(code);
    if (p > kGeohashMaxPrecision) return false;
    return (code & geohash_detail::kSymbolMask) == (code & geohash_detail::prefix_mask(p));
}

// Unsigned three-way compare (-1, 0, 1); equals the sign of strcmp on the texts.
inline int geohash_compare(GeohashCode a, GeohashCode b) noexcept { return (a > b) - (a < b); }

// Text -> code, case-insensitive; "" is precision 0 (the whole world).
// Errors: GeohashTooLong (more than 12 characters, checked first), GeohashBadChar (outside
// the alphabet, e.g. a, i, l, o).
inline Status geohash_parse(const char* text, std::size_t len, GeohashCode* out) noexcept {
    if (len > kGeohashTextMax) return Status::GeohashTooLong;
    std::uint64_t code = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const std::uint8_t s = geohash_detail::kDecode.v[static_cast<unsigned char>(text[i])];
        if (s == 0xFF) return Status::GeohashBadChar;
        code |= std::uint64_t{s} << geohash_detail::symbol_shift(static_cast<int>(i) + 1);
    }
    *out = code | len;
    return Status::Ok;
}

// Code -> lower-case text. buf needs kGeohashTextBufSize bytes; writes a NUL; returns the
// number of characters.
inline std::size_t geohash_format(GeohashCode code, char* buf) noexcept {
    const int p = geohash_precision(code);
    for (int i = 1; i <= p; ++i) {
        buf[i - 1] = geohash_detail::kAlphabet[(code >> geohash_detail::symbol_shift(i)) & 31];
    }
    buf[p] = '\0';
    return static_cast<std::size_t>(p);
}

// parse .. parent have the shape of quadkey.hpp's: the same contract over another bit layout.
// True when a is b or an ancestor of b (text of a is a prefix of text of b).
inline bool geohash_contains(GeohashCode a, GeohashCode b) noexcept {
    const int pa = geohash_precision(a);
    return pa <= geohash_precision(b) && ((a ^ b) & geohash_detail::prefix_mask(pa)) == 0;
}

// The largest descendant: the same symbols followed by 'z's, precision 12.
inline GeohashCode geohash_range_max(GeohashCode code) noexcept {
    const int p = geohash_precision(code);
    return (code & geohash_detail::prefix_mask(p)) |
           (geohash_detail::kSymbolMask & ~geohash_detail::prefix_mask(p)) |
           static_cast<std::uint64_t>(kGeohashMaxPrecision);
}

// Ancestor at precision p. Errors: PrecisionOutOfRange (p < 0), ParentTooDeep (p deeper
// than the code's own precision).
inline Status geohash_parent(GeohashCode code, int p, GeohashCode* out) noexcept {
    if (p < 0) return Status::PrecisionOutOfRange;
    if (p > geohash_precision(code)) return Status::ParentTooDeep;
    *out = (code & geohash_detail::prefix_mask(p)) | static_cast<std::uint64_t>(p);
    return Status::Ok;
}

// The 32 children in ascending order. Error: PrecisionOutOfRange at precision 12.
Status geohash_children(GeohashCode code, GeohashCode out[32]) noexcept;

// Point -> cell, equal to ST_GeoHash(ST_SetSRID(ST_MakePoint(lon, lat), 4326), p) for
// 1 <= p <= 12 (p = 0 is the whole world, the empty text). No latitude clamp: +-90 is valid.
// Errors: LatNotFinite, LonNotFinite, LatOutOfRange, LonOutOfRange, PrecisionOutOfRange.
Status geohash_from_latlon(double lat, double lon, int p, GeohashCode* out) noexcept;

// The 30 bisection bits of an already validated longitude (latitude), i.e. the index of
// its cell among 2^30 equal slices of [-180, 180] ([-90, 90]); the first n bits of it are
// the index at n bits. The covers use these so that covers and point cells agree exactly.
std::uint32_t geohash_lon_index(double lon) noexcept;
std::uint32_t geohash_lat_index(double lat) noexcept;

// Number of longitude / latitude bits of a cell of precision p.
constexpr int geohash_lon_bits(int p) noexcept { return (5 * p + 1) / 2; }
constexpr int geohash_lat_bits(int p) noexcept { return 5 * p / 2; }

// The cell's extent, exactly as ST_Box2dFromGeoHash (edges are exact dyadic values).
LatLonBox geohash_bounds(GeohashCode code) noexcept;

// The cell's centre, exactly as ST_PointFromGeoHash (midpoint of the bounds).
LatLon geohash_center(GeohashCode code) noexcept;

// Up to eight neighbouring cells of the same precision in the order N, NE, E, SE, S, SW,
// W, NW (north = larger latitude). Longitude wraps around the antimeridian; nothing beyond
// the poles; the cell itself and repeats are skipped. Returns the count (0 at precision 0).
int geohash_neighbors(GeohashCode code, GeohashCode out[8]) noexcept;

// Geohash precision for a web-map zoom level, as the geohash-prefix GROUP BY chooses it
// (E. Khyst, "Server-side geo clustering based on Geohash", 2015): an exponential fit
// y = a * e^(b * zoom) through (zmin, gmin) = (0, 1) and (zmax, gmax) = (17, 12), so a = 1
// and b = ln(12) / 17, clamped to [1, 12] and truncated to an integer, as the article's
// reference code does
// (github.com/eugene-khyst/geohash-example, ZoomGeohashLengthStrategy.java, Dec 2015)
// (`(int) Math.max(gmin, Math.min(a * Math.exp(b * zoom), gmax))`):
//
//   zoom        0    1    2    3    4    5    6    7    8    9   10   11   12   13   14
//   e^(b*zoom)  1.00 1.16 1.34 1.55 1.79 2.08 2.40 2.78 3.22 3.73 4.31 4.99 5.78 6.69 7.74
//   precision   1    1    1    1    1    2    2    2    3    3    4    4    5    6    7
//
//   zoom        15   16    17    18..29
//   e^(b*zoom)  8.96 10.37 12.00 13.9..69.3
//   precision   8    10    12    12
//
// (No value lies within 0.007 of an integer except at zoom 0 and 17, where the clamp
// decides, so floating-point rounding cannot change the table.) Zoom must be 0..29; the
// int form clamps a zoom outside that range, the Status form reports ZoomOutOfRange.
int geohash_precision_for_zoom(int zoom) noexcept;
Status geohash_precision_for_zoom(int zoom, int* precision) noexcept;

}  // namespace geocluster
