// Quadkey: a Bing Maps / Web Mercator tile at level (= zoom) 0..29, packed into one uint64.
//
// Bit layout (bit 63 is the most significant bit):
//
//    63   62 61   60 59   58 57  ...   6 5   4 3 2 1 0
//   [ 0 ][  d1 ][  d2 ][  d3 ]  ...  [ d29 ][  level  ]
//
//   * d1..d29 are the base-4 digits of the quadkey text, most significant (level 1) first,
//     two bits each: digit i sits at bits (64 - 2i)..(63 - 2i), i.e. `>> (63 - 2*i)`.
//   * Digits below the level are 0. Bits 4..0 hold the level, 0..29. Bit 63 is always 0, so
//     the value is also a non-negative int64 and signed and unsigned order agree.
//   * A digit is (x bit) + 2 * (y bit) of the tile at that level, y counted from the north
//     (Bing's convention), so the digit string is the Morton (Z-order) interleave of y and x.
//
// Worked example: Bing's tile x = 3, y = 5 at level 3.
//   x = 011b, y = 101b  ->  digits (0+2*1, 1+2*0, 1+2*1) = "213"
//   d1 = 2 -> bits 62..61 = 10, d2 = 1 -> bits 60..59 = 01, d3 = 3 -> bits 58..57 = 11,
//   level 3 -> bits 4..0 = 00011:
//   0 10 01 11 000...000 00011 = 0x4E00000000000003.
//
// Why this layout:
//   * Integer order == C-collation order of the digit text. Two codes first differ in the
//     bits of the first differing digit, exactly where strcmp decides ('0' < '1' < '2' < '3').
//     When one text is a proper prefix of the other, the shorter one is padded with 0 digits
//     (the smallest) so its digit bits are <= the longer one's, and if they are equal the
//     level (smaller for the prefix) breaks the tie: "1" < "10" < "100" < "101" < "11".
//   * The descendants of a cell p at level L (p included) are exactly the integers
//     [p, quadkey_range_max(p)]: they share the top 2L bits; p itself has all lower digits 0
//     and the smallest level among them; range_max has all lower digit bits 1 (digits '3')
//     and level 29. A valid code between them with a level < L would need zero digits below
//     its level and so would equal p's digits with a smaller level, i.e. sort before p.
//     So "q is in cell p" is one btree range scan, and contains() is two bit operations.
//
// Failures are returned as Status (see status.hpp); nothing here allocates or throws.
// Functions that take a QuadkeyCode expect a valid code (quadkey_is_valid); the glue checks
// values that arrive from outside (binary recv, casts) with quadkey_is_valid first.
#pragma once

#include "core.hpp"

#include "mercator.hpp"

#include <cmath>

namespace geocluster {

using QuadkeyCode = std::uint64_t;

// Plain latitude/longitude pair and box, in degrees. They live here because quadkey.hpp is
// the first of the cell headers; geohash.hpp and cover.hpp include it for these two types.
struct LatLon {
    double lat;
    double lon;
};

struct LatLonBox {
    double min_lat;
    double min_lon;
    double max_lat;
    double max_lon;
};

// The checks every point constructor makes, in this order (the first failure is reported):
// LatNotFinite, LonNotFinite, LatOutOfRange (|lat| > 90), LonOutOfRange (|lon| > 180).
inline Status check_latlon(double lat, double lon) noexcept {
    if (!std::isfinite(lat)) return Status::LatNotFinite;
    if (!std::isfinite(lon)) return Status::LonNotFinite;
    if (lat < -90.0 || lat > 90.0) return Status::LatOutOfRange;
    if (lon < -180.0 || lon > 180.0) return Status::LonOutOfRange;
    return Status::Ok;
}

struct QuadkeyTile {
    int zoom;
    std::uint32_t x;  // 0 .. 2^zoom - 1, west to east
    std::uint32_t y;  // 0 .. 2^zoom - 1, north to south
};

constexpr int kQuadkeyMaxLevel = kMaxZoom;  // 29 digits fit in bits 62..5
// Text form: up to 29 digits; quadkey_format needs a buffer of kQuadkeyTextBufSize (NUL).
constexpr std::size_t kQuadkeyTextMax = 29;
constexpr std::size_t kQuadkeyTextBufSize = kQuadkeyTextMax + 1;

namespace quadkey_detail {

constexpr std::uint64_t kLevelMask = 0x1F;
// All 58 digit bits (62..5).
constexpr std::uint64_t kDigitMask = ~std::uint64_t{0} >> 1 & ~kLevelMask;

// Shift of digit i (1-based): digit i occupies bits (64 - 2i)..(63 - 2i).
constexpr int digit_shift(int i) noexcept { return 63 - 2 * i; }

// The digit bits of levels 1..level (the part a cell shares with all its descendants).
constexpr std::uint64_t prefix_mask(int level) noexcept {
    return level == 0 ? 0 : kDigitMask & ~((std::uint64_t{1} << digit_shift(level)) - 1);
}

// Spread the low 32 bits of v to the even bit positions of a uint64 (Morton interleave).
constexpr std::uint64_t spread_bits(std::uint32_t v) noexcept {
    std::uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

// Inverse of spread_bits: gather the even bit positions.
constexpr std::uint32_t compact_bits(std::uint64_t x) noexcept {
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return static_cast<std::uint32_t>(x);
}

}  // namespace quadkey_detail

inline int quadkey_level(QuadkeyCode code) noexcept {
    return static_cast<int>(code & quadkey_detail::kLevelMask);
}

// True when code is a value this encoding can produce: bit 63 clear, level <= 29 and every
// digit below the level zero. Use it on any uint64 that did not come from this header.
inline bool quadkey_is_valid(QuadkeyCode code) noexcept {
    const int level = quadkey_level(code);
    if (level > kQuadkeyMaxLevel) return false;
    return (code & ~quadkey_detail::kLevelMask) == (code & quadkey_detail::prefix_mask(level));
}

// Unsigned three-way compare (-1, 0, 1); equals the sign of strcmp on the texts.
inline int quadkey_compare(QuadkeyCode a, QuadkeyCode b) noexcept { return (a > b) - (a < b); }

// Text -> code. Digits '0'..'3' only; "" is the level-0 cell (the whole world).
// Errors: QuadkeyTooLong (more than 29 characters, checked first), QuadkeyBadDigit.
inline Status quadkey_parse(const char* text, std::size_t len, QuadkeyCode* out) noexcept {
    if (len > kQuadkeyTextMax) return Status::QuadkeyTooLong;
    std::uint64_t code = 0;
    for (std::size_t i = 0; i < len; ++i) {
        const unsigned d = static_cast<unsigned char>(text[i]) - static_cast<unsigned>('0');
        if (d > 3) return Status::QuadkeyBadDigit;
        code |= std::uint64_t{d} << quadkey_detail::digit_shift(static_cast<int>(i) + 1);
    }
    *out = code | len;
    return Status::Ok;
}

// Code -> text. buf needs kQuadkeyTextBufSize bytes; writes level digits and a NUL,
// returns the number of digits.
inline std::size_t quadkey_format(QuadkeyCode code, char* buf) noexcept {
    const int level = quadkey_level(code);
    for (int i = 1; i <= level; ++i) {
        buf[i - 1] = static_cast<char>('0' + ((code >> quadkey_detail::digit_shift(i)) & 3));
    }
    buf[level] = '\0';
    return static_cast<std::size_t>(level);
}

// True when a is b or an ancestor of b (b lies inside a). O(1): same top digits, and a is
// not deeper than b.
inline bool quadkey_contains(QuadkeyCode a, QuadkeyCode b) noexcept {
    const int la = quadkey_level(a);
    return la <= quadkey_level(b) && ((a ^ b) & quadkey_detail::prefix_mask(la)) == 0;
}

// The largest code among the descendants of code: its digits followed by '3's, level 29.
// [code, quadkey_range_max(code)] holds exactly the descendants (see the layout note).
inline QuadkeyCode quadkey_range_max(QuadkeyCode code) noexcept {
    const int level = quadkey_level(code);
    return (code & quadkey_detail::prefix_mask(level)) |
           (quadkey_detail::kDigitMask & ~quadkey_detail::prefix_mask(level)) |
           static_cast<std::uint64_t>(kQuadkeyMaxLevel);
}

// Ancestor at `level` (the code itself when level equals its own).
// Errors: ZoomOutOfRange (level < 0), ParentTooDeep (level deeper than the code's own).
inline Status quadkey_parent(QuadkeyCode code, int level, QuadkeyCode* out) noexcept {
    if (level < 0) return Status::ZoomOutOfRange;
    if (level > quadkey_level(code)) return Status::ParentTooDeep;
    *out = (code & quadkey_detail::prefix_mask(level)) | static_cast<std::uint64_t>(level);
    return Status::Ok;
}

// The four children, in ascending code order (digits 0, 1, 2, 3).
// Error: ZoomOutOfRange when the code is already at level 29.
Status quadkey_children(QuadkeyCode code, QuadkeyCode out[4]) noexcept;

// Tile (zoom, x, y) <-> code. Errors: ZoomOutOfRange, TileOutOfRange (x or y not in
// 0 .. 2^zoom - 1).
Status quadkey_from_tile(int zoom, std::int64_t x, std::int64_t y, QuadkeyCode* out) noexcept;
QuadkeyTile quadkey_to_tile(QuadkeyCode code) noexcept;

// Point -> cell at zoom, Web Mercator with Bing's digit convention.
// Latitude beyond +-85.05112878 is clamped (Mercator cannot show the poles; see
// mercator.hpp). Tiles are half-open so every point lands in exactly one tile:
//   column x holds lon in [west edge, east edge), row y holds lat in (south edge, north edge],
// i.e. a point exactly on a tile boundary goes to the east / south tile, and the east edge
// (lon 180) and the south edge fall into the last column / row. "Exactly" is measured
// against the edges quadkey_bounds returns, so a point built from bounds() lands in that
// cell (an exact correction runs when the fast floor(unit * 2^zoom) is near a boundary).
// Errors: LatNotFinite, LonNotFinite, LatOutOfRange (|lat| > 90), LonOutOfRange
// (|lon| > 180), ZoomOutOfRange.
Status quadkey_from_latlon(double lat, double lon, int zoom, QuadkeyCode* out) noexcept;

// The column / row that quadkey_from_latlon uses, for already validated input
// (lon in [-180, 180], lat finite, zoom 0..29). The covers use them so that a cover and
// the cells of the points it covers agree exactly.
std::uint32_t quadkey_tile_x_of_lon(double lon, int zoom) noexcept;
std::uint32_t quadkey_tile_y_of_lat(double lat, int zoom) noexcept;

// Latitude of the north edge of row y at zoom (y = 2^zoom gives the south edge of the last
// row): atan(sinh(pi * (1 - 2y / 2^zoom))), evaluated in long double and rounded once, so
// it matches PostGIS ST_TileEnvelope transformed to EPSG:4326 to ~1e-14 degrees.
double quadkey_row_edge_lat(int zoom, std::uint32_t y) noexcept;
// Longitude of the west edge of column x (x = 2^zoom gives 180): exact in double.
double quadkey_column_edge_lon(int zoom, std::uint32_t x) noexcept;

// The cell's extent in degrees, as PostGIS ST_Transform(ST_TileEnvelope(z, x, y), 4326).
LatLonBox quadkey_bounds(QuadkeyCode code) noexcept;

// The cell's centre: midpoint of the tile in Mercator unit coordinates, back to degrees
// (so it is not the midpoint of the latitude range).
LatLon quadkey_center(QuadkeyCode code) noexcept;

// Up to eight neighbouring cells at the same level, written in the order
// N, NE, E, SE, S, SW, W, NW (north = row y - 1). Columns wrap around the antimeridian
// (x modulo 2^level); rows beyond the poles do not exist and are skipped; the cell itself
// and repeats (possible at levels 0 and 1, where wrapping meets itself) are skipped.
// Returns how many were written (0 at level 0, 3 at level 1, 5 in the top and bottom rows,
// 8 otherwise).
int quadkey_neighbors(QuadkeyCode code, QuadkeyCode out[8]) noexcept;

// The bigint form of the bigint quadkey schemas: the digits read as a base-4 integer (level 0 ->
// 0). The level is not in the bigint; quadkey_from_bigint takes it back as `zoom`.
inline std::int64_t quadkey_to_bigint(QuadkeyCode code) noexcept {
    const int level = quadkey_level(code);
    if (level == 0) return 0;
    return static_cast<std::int64_t>((code & quadkey_detail::kDigitMask) >>
                                     quadkey_detail::digit_shift(level));
}

// Errors: ZoomOutOfRange, BigintOutOfRange (needs 0 <= v < 4^zoom).
Status quadkey_from_bigint(std::int64_t v, int zoom, QuadkeyCode* out) noexcept;

}  // namespace geocluster
