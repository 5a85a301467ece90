// Web Mercator in long double, straight from the textbook formulas: the oracle's positions, for
// the unit tests and the fuzz targets (no GoogleTest here, so that a fuzz target can include it).
#pragma once

#include <algorithm>
#include <cmath>

namespace geocluster::testing {

constexpr long double kPiL = 3.141592653589793238462643383279502884L;

// y of a latitude (degrees), the latitude clamped to the square world, y clamped to [0, 1].
inline long double ref_mercator_y(long double lat) {
    const long double m = 85.05112878L;
    lat = std::min(std::max(lat, -m), m);
    const long double s = std::sin(lat * kPiL / 180.0L);
    const long double y = 0.5L - std::log((1.0L + s) / (1.0L - s)) / (4.0L * kPiL);
    return std::min(std::max(y, 0.0L), 1.0L);
}
inline long double ref_lat_of_y(long double y) {
    return std::atan(std::sinh(kPiL * (1.0L - 2.0L * y))) * 180.0L / kPiL;
}

}  // namespace geocluster::testing
