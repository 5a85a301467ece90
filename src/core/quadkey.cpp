// Quadkey codec: tiles, points, bounds, neighbours. The layout is documented in quadkey.hpp.
#include "core.hpp"

#include "quadkey.hpp"

#include <cmath>

namespace geocluster {

namespace {

using quadkey_detail::compact_bits;
using quadkey_detail::digit_shift;
using quadkey_detail::spread_bits;

// Code from a tile whose coordinates are already known to be in range.
QuadkeyCode code_from_tile(int zoom, std::uint32_t x, std::uint32_t y) noexcept {
    if (zoom == 0) return 0;
    // Digit = x bit + 2 * y bit: y takes the odd (higher) bit of each pair.
    const std::uint64_t digits = (spread_bits(y) << 1) | spread_bits(x);
    return (digits << digit_shift(zoom)) | static_cast<std::uint64_t>(zoom);
}

}  // namespace

Status quadkey_children(QuadkeyCode code, QuadkeyCode out[4]) noexcept {
    const int level = quadkey_level(code);
    if (level >= kQuadkeyMaxLevel) return Status::ZoomOutOfRange;
    const QuadkeyCode base =
        (code & quadkey_detail::prefix_mask(level)) | static_cast<std::uint64_t>(level + 1);
    for (std::uint64_t d = 0; d < 4; ++d) out[d] = base | (d << digit_shift(level + 1));
    return Status::Ok;
}

Status quadkey_from_tile(int zoom, std::int64_t x, std::int64_t y, QuadkeyCode* out) noexcept {
    if (zoom < 0 || zoom > kQuadkeyMaxLevel) return Status::ZoomOutOfRange;
    const std::int64_t n = std::int64_t{1} << zoom;
    if (x < 0 || x >= n || y < 0 || y >= n) return Status::TileOutOfRange;
    *out = code_from_tile(zoom, static_cast<std::uint32_t>(x), static_cast<std::uint32_t>(y));
    return Status::Ok;
}

QuadkeyTile quadkey_to_tile(QuadkeyCode code) noexcept {
    const int zoom = quadkey_level(code);
    if (zoom == 0) return QuadkeyTile{0, 0, 0};
    const std::uint64_t digits = (code & quadkey_detail::kDigitMask) >> digit_shift(zoom);
    return QuadkeyTile{zoom, compact_bits(digits), compact_bits(digits >> 1)};
}

double quadkey_column_edge_lon(int zoom, std::uint32_t x) noexcept {
    // x * (360 / 2^zoom) needs at most 38 significant bits and the subtraction of 180 lands
    // on a multiple of 360 / 2^zoom no larger than 180, so every step is exact in double:
    // this is the boundary itself, not an approximation of it.
    return static_cast<double>(x) * std::ldexp(360.0, -zoom) - 180.0;
}

double quadkey_row_edge_lat(int zoom, std::uint32_t y) noexcept {
    // The boundary is transcendental, so it cannot be exact; long double and a single final
    // rounding make it the nearest double in practice. atan and sinh are odd, so rows
    // y and 2^zoom - y get edges of exactly opposite sign and the equator is exactly 0.
    return mercator_lat_precise(1.0L - std::ldexp(static_cast<long double>(y), 1 - zoom));
}

std::uint32_t quadkey_tile_x_of_lon(double lon, int zoom) noexcept {
    const std::int64_t n = std::int64_t{1} << zoom;
    std::int64_t x =
        static_cast<std::int64_t>(std::floor((lon + 180.0) / 360.0 * static_cast<double>(n)));
    x = x < 0 ? 0 : (x >= n ? n - 1 : x);
    // The sum lon + 180 can round, which can put floor() one column off right at an edge.
    // The edges are exact doubles (quadkey_column_edge_lon), so compare against them: the
    // result is exactly "the last column whose west edge is <= lon".
    if (x > 0 && lon < quadkey_column_edge_lon(zoom, static_cast<std::uint32_t>(x))) {
        --x;
    } else if (x + 1 < n &&
               lon >= quadkey_column_edge_lon(zoom, static_cast<std::uint32_t>(x + 1))) {
        ++x;
    }
    return static_cast<std::uint32_t>(x);
}

std::uint32_t quadkey_tile_y_of_lat(double lat, int zoom) noexcept {
    if (zoom == 0) return 0;
    const std::int64_t n = std::int64_t{1} << zoom;
    const double t = mercator_y(lat) * static_cast<double>(n);
    // mercator_y is good to a few 1e-15 (worst near the clamp latitude, where 1 - sin(lat)
    // loses digits), so t is within ~3e-6 of the true value at zoom 29. Only when t is
    // closer than kNear to an integer k can floor(t) disagree with the true side of the
    // edge k; then decide against the same edge that quadkey_bounds reports, so that
    // from_latlon and bounds agree even for a point taken from bounds().
    const double k = std::nearbyint(t);
    const double near = std::ldexp(1e-13, zoom);  // 5.4e-5 tiles at zoom 29
    std::int64_t y;
    if (std::fabs(t - k) <= near) {
        const std::int64_t ki = static_cast<std::int64_t>(k);
        if (ki <= 0) {
            y = 0;
        } else if (ki >= n) {
            y = n - 1;
        } else {
            // Edge ki is the north edge of row ki; rows own their north edge (south rule).
            y = lat <= quadkey_row_edge_lat(zoom, static_cast<std::uint32_t>(ki)) ? ki : ki - 1;
        }
    } else {
        y = static_cast<std::int64_t>(std::floor(t));
    }
    y = y < 0 ? 0 : (y >= n ? n - 1 : y);
    return static_cast<std::uint32_t>(y);
}

Status quadkey_from_latlon(double lat, double lon, int zoom, QuadkeyCode* out) noexcept {
    const Status s = check_latlon(lat, lon);
    if (s != Status::Ok) return s;
    if (zoom < 0 || zoom > kQuadkeyMaxLevel) return Status::ZoomOutOfRange;
    *out = code_from_tile(zoom, quadkey_tile_x_of_lon(lon, zoom), quadkey_tile_y_of_lat(lat, zoom));
    return Status::Ok;
}

LatLonBox quadkey_bounds(QuadkeyCode code) noexcept {
    const QuadkeyTile t = quadkey_to_tile(code);
    LatLonBox b;
    b.min_lon = quadkey_column_edge_lon(t.zoom, t.x);
    b.max_lon = quadkey_column_edge_lon(t.zoom, t.x + 1);
    b.max_lat = quadkey_row_edge_lat(t.zoom, t.y);
    b.min_lat = quadkey_row_edge_lat(t.zoom, t.y + 1);
    return b;
}

LatLon quadkey_center(QuadkeyCode code) noexcept {
    const QuadkeyTile t = quadkey_to_tile(code);
    const double ux = std::ldexp(static_cast<double>(t.x) + 0.5, -t.zoom);
    const double uy = std::ldexp(static_cast<double>(t.y) + 0.5, -t.zoom);
    return LatLon{mercator_lat(uy), mercator_lon(ux)};
}

int quadkey_neighbors(QuadkeyCode code, QuadkeyCode out[8]) noexcept {
    // N, NE, E, SE, S, SW, W, NW with y growing southwards.
    static constexpr int kDx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
    static constexpr int kDy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
    const QuadkeyTile t = quadkey_to_tile(code);
    const std::int64_t n = std::int64_t{1} << t.zoom;
    int count = 0;
    for (int i = 0; i < 8; ++i) {
        const std::int64_t ny = static_cast<std::int64_t>(t.y) + kDy[i];
        if (ny < 0 || ny >= n) continue;  // beyond a pole
        const std::int64_t nx = ((static_cast<std::int64_t>(t.x) + kDx[i]) % n + n) % n;
        const QuadkeyCode c =
            code_from_tile(t.zoom, static_cast<std::uint32_t>(nx), static_cast<std::uint32_t>(ny));
        if (c == code) continue;
        bool seen = false;
        for (int j = 0; j < count; ++j) seen = seen || out[j] == c;
        if (!seen) out[count++] = c;
    }
    return count;
}

Status quadkey_from_bigint(std::int64_t v, int zoom, QuadkeyCode* out) noexcept {
    if (zoom < 0 || zoom > kQuadkeyMaxLevel) return Status::ZoomOutOfRange;
    if (v < 0 || v >= (std::int64_t{1} << (2 * zoom))) return Status::BigintOutOfRange;
    *out = zoom == 0 ? 0
                     : (static_cast<std::uint64_t>(v) << digit_shift(zoom)) |
                           static_cast<std::uint64_t>(zoom);
    return Status::Ok;
}

}  // namespace geocluster
