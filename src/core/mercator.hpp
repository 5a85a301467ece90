// Web Mercator (EPSG:3857) on the unit square, the way tiled web maps use it.
//
// Unit world coordinates: x grows east from 0 at lon -180 to 1 at lon +180; y grows south
// from 0 at the top edge (lat +85.05112878) to 1 at the bottom edge (lat -85.05112878).
// Screen pixels at zoom z with 256 px tiles are x * 256 * 2^z (the Google/Bing/Leaflet
// convention); names ending in _px are in those pixels.
#pragma once

#include "core.hpp"

#include <cmath>

namespace geocluster {

constexpr double kPi = 3.14159265358979323846;
constexpr long double kPiL = 3.141592653589793238462643383279502884L;

// Web Mercator cannot show the poles (y runs to infinity). Tiled maps cut the world into a
// square, which puts the edge at lat = atan(sinh(pi)) = 85.0511287798...: Bing documents the
// rounded value 85.05112878 and clamps every latitude beyond it. We clamp the same way, so a
// point at lat 89 lands in the top row of tiles rather than being rejected or lost.
constexpr double kMercatorMaxLat = 85.05112878;

constexpr int kMaxZoom = 29;  // deepest quadkey level
constexpr int kTilePx = 256;  // tile size of the pixel convention

inline double clamp_mercator_lat(double lat_deg) noexcept {
    return lat_deg > kMercatorMaxLat ? kMercatorMaxLat
                                     : (lat_deg < -kMercatorMaxLat ? -kMercatorMaxLat : lat_deg);
}

// Unit x in [0, 1] for lon in [-180, 180].
inline double mercator_x(double lon_deg) noexcept { return (lon_deg + 180.0) / 360.0; }

// Unit y in [0, 1] (north at 0), latitude clamped to +-kMercatorMaxLat first.
inline double mercator_y(double lat_deg) noexcept {
    const double s = std::sin(clamp_mercator_lat(lat_deg) * (kPi / 180.0));
    return 0.5 - std::log((1.0 + s) / (1.0 - s)) / (4.0 * kPi);
}

inline double mercator_lon(double unit_x) noexcept { return unit_x * 360.0 - 180.0; }

inline double mercator_lat(double unit_y) noexcept {
    return std::atan(std::sinh(kPi * (1.0 - 2.0 * unit_y))) * (180.0 / kPi);
}

// The same in long double, given t = 1 - 2 * unit_y (exact in long double for the callers'
// dyadic or fixed-point y), with one final rounding: where a latitude must be the nearest
// double (tile edges, cluster centres), not merely close.
inline double mercator_lat_precise(long double t) noexcept {
    return static_cast<double>(std::atan(std::sinh(kPiL * t)) * (180.0L / kPiL));
}

// World size in pixels at a zoom, 256 px tiles.
inline double world_px(int zoom) noexcept { return std::ldexp(static_cast<double>(kTilePx), zoom); }

}  // namespace geocluster
