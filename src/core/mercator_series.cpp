// The coefficient table of mercator_y_series (the why and the error bound are in the header).
#include "core.hpp"

#include "mercator.hpp"
#include "mercator_series.hpp"

#include <cmath>

namespace geocluster {
namespace mercator_series_internal {
namespace {

Table build_table() noexcept {
    const long double phi_max = static_cast<long double>(kMercatorMaxLat) * (kPiL / 180.0L);
    Table t{};
    t.step = static_cast<double>(phi_max / kIntervals);
    t.inv_step = 1.0 / t.step;
    // p[k][i]: coefficient of t^i in P_k.
    long double p[kDegree + 1][kDegree + 2] = {};
    p[1][0] = 1;
    for (int k = 1; k < kDegree; ++k)
        for (int i = 0; i <= kDegree; ++i) {
            p[k + 1][i + 1] += p[k][i];  // t * P_k
            if (i >= 1) {                // (1 + t^2) * P_k'
                p[k + 1][i - 1] += i * p[k][i];
                p[k + 1][i + 1] += i * p[k][i];
            }
        }
    for (int j = 0; j <= kIntervals; ++j) {
        // The centre the evaluation uses, (j + 0.5) * step in double, so that d is exact there.
        const long double c = static_cast<long double>((j + 0.5) * t.step);
        const long double tan_c = std::tan(c), sec_c = 1.0L / std::cos(c);
        t.coef[j][0] = static_cast<double>(std::atanh(std::sin(c)));
        long double factorial = 1;
        for (int k = 1; k <= kDegree; ++k) {
            factorial *= k;
            long double poly = 0, power = 1;
            for (int i = 0; i <= kDegree; ++i) {
                poly += p[k][i] * power;
                power *= tan_c;
            }
            t.coef[j][k] = static_cast<double>(sec_c * poly / factorial);
        }
    }
    return t;
}

}  // namespace

// Built when the library is loaded (about 4,000 long double tan/cos, once).
const Table kTable = build_table();

}  // namespace mercator_series_internal
}  // namespace geocluster
