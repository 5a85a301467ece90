// mercator_y_series (src/core/mercator_series.hpp) against a long double evaluation of the
// definition, y = 0.5 - atanh(sin phi) / (2 pi), and against mercator_y.
#include "mercator.hpp"
#include "mercator_series.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace {

using namespace geocluster;

constexpr long double kPiL = 3.141592653589793238462643383279502884L;

long double reference_y(double lat_deg) {
    const long double phi = static_cast<long double>(clamp_mercator_lat(lat_deg)) * (kPiL / 180.0L);
    return 0.5L - std::atanh(std::sin(phi)) / (2.0L * kPiL);
}

double error_of(double lat) {
    return static_cast<double>(
        std::fabs(static_cast<long double>(mercator_y_series(lat)) - reference_y(lat)));
}

TEST(MercatorSeries, Within6e16OfTheDefinitionEverywhere) {
    std::mt19937_64 rng(20261121);
    std::uniform_real_distribution<double> lat(-90.0, 90.0);
    double worst = 0;
    for (int i = 0; i < 2000000; ++i) worst = std::max(worst, error_of(lat(rng)));
    // Near the clamp, where the Taylor remainder is largest, and on both sides of every
    // interval edge (512 intervals over [0, 85.05112878] degrees).
    for (int i = 0; i < 20000; ++i) {
        worst = std::max(worst, error_of(kMercatorMaxLat - i * 1e-7));
        worst = std::max(worst, error_of(-kMercatorMaxLat + i * 1e-7));
    }
    for (int j = 0; j <= 512; ++j) {
        const double edge = kMercatorMaxLat * j / 512.0;
        for (double e : {std::nextafter(edge, -1.0), edge, std::nextafter(edge, 100.0)}) {
            worst = std::max(worst, error_of(e));
            worst = std::max(worst, error_of(-e));
        }
    }
    EXPECT_LT(worst, 6e-16);  // the engine's fixed-point step is 2^-48 = 3.6e-15
}

TEST(MercatorSeries, AgreesWithMercatorY) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> lat(-90.0, 90.0);
    for (int i = 0; i < 200000; ++i) {
        const double l = lat(rng);
        ASSERT_NEAR(mercator_y_series(l), mercator_y(l), 2e-15) << l;
    }
}

TEST(MercatorSeries, Landmarks) {
    EXPECT_EQ(mercator_y_series(0.0), 0.5);
    EXPECT_EQ(mercator_y_series(-0.0), 0.5);
    // The clamp: everything beyond the square world's edge is at its edge.
    EXPECT_EQ(mercator_y_series(90.0), mercator_y_series(kMercatorMaxLat));
    EXPECT_EQ(mercator_y_series(89.0), mercator_y_series(kMercatorMaxLat));
    EXPECT_EQ(mercator_y_series(-90.0), mercator_y_series(-kMercatorMaxLat));
    EXPECT_NEAR(mercator_y_series(kMercatorMaxLat), 0.0, 1e-11);
    EXPECT_NEAR(mercator_y_series(-kMercatorMaxLat), 1.0, 1e-11);
    // North and south mirror each other.
    for (double l = 0.0; l < 86.0; l += 0.37)
        EXPECT_NEAR(mercator_y_series(l) + mercator_y_series(-l), 1.0, 3e-16) << l;
}

TEST(MercatorSeries, NeverIncreasesNorthward) {
    // y falls as lat grows; at the 512 joins between polynomials too (up to rounding: a step
    // back of one ulp would not move a fixed-point position, 2^-48, but none is allowed here).
    double prev = mercator_y_series(-kMercatorMaxLat);
    for (int i = 1; i <= 2000000; ++i) {
        const double l = -kMercatorMaxLat + 2.0 * kMercatorMaxLat * i / 2000000.0;
        const double y = mercator_y_series(l);
        ASSERT_LE(y, prev) << l;
        prev = y;
    }
}

}  // namespace
