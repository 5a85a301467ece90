// What the two hierarchy fuzz targets (fuzz_hierarchy.cpp, fuzz_hierarchy_update.cpp) decode
// alike: max_zoom and the radius from an input's first bytes, and marker positions.
#pragma once

#include <cmath>
#include <cstdint>

namespace fuzz_markers {

// Byte 0: max_zoom (0 to 18, or 19 to 24 from the top 16 values).
inline int max_zoom_of(const std::uint8_t* data) {
    return data[0] >= 240 ? 19 + data[0] % 6 : data[0] % 19;
}

// Bytes 1-2: the radius, on a log scale from 0.01 to 1e7 px.
inline double radius_of(const std::uint8_t* data) {
    const double u = ((data[1] << 8) | data[2]) / 65535.0;
    return std::exp(std::log(0.01) + u * std::log(1e9));
}

// The next position from the bytes b[1..4], after the previous one (*lat, *lon), by kind
// (0 to 3): anywhere, near the previous one (up to a few radii at zoom `zoom`), one of the
// special places (the poles, the Mercator limit, the antimeridian, -0.0), or the previous one
// again.
inline void next_position(const std::uint8_t* b, int kind, int zoom, double radius, double* lat,
                          double* lon) {
    static const double kLat[] = {90.0, -90.0, 85.05112878, -85.05112878, 0.0, -0.0, 89.999, 45.0};
    static const double kLon[] = {180.0, -180.0, 0.0, -0.0, 179.9999, -179.9999, 90.0, -1e-9};
    const int a16 = (b[1] << 8) | b[2], c16 = (b[3] << 8) | b[4];
    switch (kind) {
        case 0:  // anywhere
            *lat = -90.0 + 180.0 * a16 / 65535.0;
            *lon = -180.0 + 360.0 * c16 / 65535.0;
            break;
        case 1: {  // near the previous one
            const double deg = 360.0 * radius / std::ldexp(256.0, zoom) / 32.0;
            *lat = std::fmin(90.0, std::fmax(-90.0, *lat + static_cast<std::int8_t>(b[1]) * deg));
            *lon += static_cast<std::int8_t>(b[3]) * deg;
            *lon = std::fmod(*lon, 360.0);
            if (*lon > 180.0) *lon -= 360.0;
            if (*lon < -180.0) *lon += 360.0;
            break;
        }
        case 2:  // special places
            *lat = kLat[b[1] % 8];
            *lon = kLon[b[3] % 8];
            break;
        default:  // the previous one again
            break;
    }
}

}  // namespace fuzz_markers
