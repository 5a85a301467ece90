// Web Mercator y of a latitude for the clustering engine's per-row path: the same function as
// mercator_y (mercator.hpp), computed from a table of Taylor polynomials instead of sin and log.
//
// Why a second implementation: cluster_agg converts every row's latitude, and on a world-zoom
// query over millions of rows sin, log and the two divisions around them were most of the
// engine's per-row time (perf). The series costs a fraction of that and is more accurate:
// within 6e-16 of the exact value over the whole range (test/unit, against long double), where
// the sin/log formula is within 1.5e-15; both are far below the engine's fixed point step of
// 2^-48 = 3.6e-15. The cell types keep mercator_y: their tile edges are compared with PostGIS
// and Bing bit for bit, and changing their arithmetic would move points that lie exactly on an
// edge.
//
// How: g(phi) = atanh(sin phi) is odd, and y = 0.5 - g / (2 pi). [0, phi_max] (phi_max the clamp
// latitude in radians) is cut into 512 equal intervals; on each, g is its degree-7 Taylor
// polynomial about the interval's centre (evaluated by Estrin's scheme). Its coefficients come from
// g^(k) = sec(phi) * P_k(tan phi), with P_1 = 1 and P_{k+1}(t) = t P_k(t) + (1 + t^2) P_k'(t),
// evaluated in long double once per process. The remainder is largest at phi_max, 0.086 rad from
// the pole (where g has its singularity): about (1/8) (h / (2 * 0.086))^8 with h = phi_max / 512,
// i.e. 8e-16.
#pragma once

#include "core.hpp"

#include "mercator.hpp"

#include <cmath>

// Horner's and Estrin's rules must round the same way wherever this is compiled (GCC for the
// library, clang for the JIT's bitcode): no fused multiply-add. GCC does not contract in ISO mode.
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

namespace geocluster {
namespace mercator_series_internal {

constexpr int kDegree = 7;
constexpr int kIntervals = 512;

struct Table {
    double step;      // interval width, radians
    double inv_step;  // 1 / step
    // Row kIntervals serves phi == phi_max exactly (and rounding just below it).
    alignas(64) double coef[kIntervals + 1][kDegree + 1];
};

extern const Table kTable;  // mercator_series.cpp, built when the library is loaded

}  // namespace mercator_series_internal

// Unit y in [0, 1] (north at 0), latitude (degrees, finite) clamped to +-kMercatorMaxLat first.
// Deterministic: the same bits in give the same bits out. Inline, so that the engine's batch
// loop (cluster.cpp) overlaps the evaluations of many points.
inline double mercator_y_series(double lat_deg) noexcept {
    using namespace mercator_series_internal;
    const double phi = clamp_mercator_lat(lat_deg) * (kPi / 180.0);
    const double a = std::fabs(phi);
    int j = static_cast<int>(a * kTable.inv_step);
    if (j > kIntervals) j = kIntervals;
    const double d = a - (j + 0.5) * kTable.step;
    const double* c = kTable.coef[j];
    // Estrin's scheme: the same polynomial in a shallower dependency chain than Horner's.
    const double d2 = d * d;
    const double d4 = d2 * d2;
    const double p01 = c[0] + c[1] * d, p23 = c[2] + c[3] * d;
    const double p45 = c[4] + c[5] * d, p67 = c[6] + c[7] * d;
    const double g = (p01 + p23 * d2) + (p45 + p67 * d2) * d4;
    return 0.5 - std::copysign(g, phi) * (1.0 / (2.0 * kPi));
}

}  // namespace geocluster
