// Quadkey codec: properties against slow references, plus PostGIS ST_TileEnvelope values.
#include "quadkey.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace geocluster {
namespace {

std::string text_of(QuadkeyCode c) {
    char buf[kQuadkeyTextBufSize];
    const std::size_t n = quadkey_format(c, buf);
    return std::string(buf, n);
}

QuadkeyCode parse_ok(const std::string& s) {
    QuadkeyCode c = ~QuadkeyCode{0};
    EXPECT_EQ(quadkey_parse(s.data(), s.size(), &c), Status::Ok) << s;
    return c;
}

int sign(int v) { return (v > 0) - (v < 0); }

// Random digit text of a random level; half the time derived from `base` (a prefix of it, an
// extension of it, or one digit changed) so that prefix relations are common.
std::string random_text(std::mt19937_64& rng, const std::string& base) {
    std::uniform_int_distribution<int> level_d(0, kQuadkeyMaxLevel), digit_d(0, 3), mode_d(0, 5);
    std::string s;
    const int mode = base.empty() ? 0 : mode_d(rng);
    if (mode <= 2) {
        const int level = level_d(rng);
        for (int i = 0; i < level; ++i) s.push_back(static_cast<char>('0' + digit_d(rng)));
    } else if (mode == 3) {
        s = base.substr(0, std::uniform_int_distribution<std::size_t>(0, base.size())(rng));
    } else if (mode == 4) {
        s = base;
        while (s.size() < kQuadkeyTextMax && digit_d(rng) != 0)
            s.push_back(static_cast<char>('0' + digit_d(rng)));
    } else {
        s = base;
        s[std::uniform_int_distribution<std::size_t>(0, s.size() - 1)(rng)] =
            static_cast<char>('0' + digit_d(rng));
    }
    return s;
}

// Slow reference tile for a point: long double Mercator, floor, clamp.
void reference_tile(double lat, double lon, int zoom, long double* tx, long double* ty) {
    const long double pi = 3.141592653589793238462643383279502884L;
    long double la = lat;
    if (la > kMercatorMaxLat) la = kMercatorMaxLat;
    if (la < -kMercatorMaxLat) la = -kMercatorMaxLat;
    const long double s = std::sin(la * pi / 180.0L);
    const long double uy = 0.5L - std::log((1.0L + s) / (1.0L - s)) / (4.0L * pi);
    const long double ux = (static_cast<long double>(lon) + 180.0L) / 360.0L;
    *tx = ux * std::ldexp(1.0L, zoom);
    *ty = uy * std::ldexp(1.0L, zoom);
}

std::uint32_t clamp_tile(long double t, int zoom) {
    const long double n = std::ldexp(1.0L, zoom);
    long double f = std::floor(t);
    if (f < 0) f = 0;
    if (f > n - 1) f = n - 1;
    return static_cast<std::uint32_t>(f);
}

TEST(Quadkey, TorontoBigintExample) {
    // The bigint quadkey schema's worked example: Toronto at zoom 23.
    QuadkeyCode c;
    ASSERT_EQ(quadkey_from_latlon(43.653785705566406, -79.3778076171875, 23, &c), Status::Ok);
    EXPECT_EQ(text_of(c), "03022313122033033011213");
    EXPECT_EQ(quadkey_to_bigint(c), 13940830302567);
    QuadkeyCode back;
    ASSERT_EQ(quadkey_from_bigint(13940830302567, 23, &back), Status::Ok);
    EXPECT_EQ(back, c);
    // Bing Maps Tile System: tile (3, 5) at level 3 is "213"; the layout example in the header.
    ASSERT_EQ(quadkey_from_tile(3, 3, 5, &c), Status::Ok);
    EXPECT_EQ(text_of(c), "213");
    EXPECT_EQ(c, 0x4E00000000000003ULL);
    const QuadkeyTile t = quadkey_to_tile(c);
    EXPECT_EQ(t.zoom, 3);
    EXPECT_EQ(t.x, 3u);
    EXPECT_EQ(t.y, 5u);
    // World cell and the extremes of the encoding.
    EXPECT_EQ(parse_ok(""), 0u);
    EXPECT_EQ(parse_ok(std::string(29, '3')), 0x7FFFFFFFFFFFFFFDULL);
    EXPECT_EQ(quadkey_range_max(0), 0x7FFFFFFFFFFFFFFDULL);
}

TEST(Quadkey, BadInputTable) {
    QuadkeyCode c = 0;
    struct TextCase {
        const char* text;
        std::size_t len;
        Status want;
    };
    const TextCase texts[] = {
        {"4", 1, Status::QuadkeyBadDigit},
        {"0124", 4, Status::QuadkeyBadDigit},
        {"a", 1, Status::QuadkeyBadDigit},
        {" 0", 2, Status::QuadkeyBadDigit},
        {"0 ", 2, Status::QuadkeyBadDigit},
        {"-1", 2, Status::QuadkeyBadDigit},
        {"0\0"
         "1",
         3, Status::QuadkeyBadDigit},
        {"/", 1, Status::QuadkeyBadDigit},  // '0' - 1
        {"\xff", 1, Status::QuadkeyBadDigit},
        {"012301230123012301230123012301", 30, Status::QuadkeyTooLong},
        {"01230123012301230123012301230", 29, Status::Ok},
        {"", 0, Status::Ok},
    };
    for (const TextCase& t : texts) EXPECT_EQ(quadkey_parse(t.text, t.len, &c), t.want) << t.text;

    const double nan = std::nan(""), inf = HUGE_VAL;
    struct PointCase {
        double lat, lon;
        int zoom;
        Status want;
    };
    const PointCase points[] = {
        {nan, 0, 5, Status::LatNotFinite},
        {inf, 0, 5, Status::LatNotFinite},
        {-inf, 0, 5, Status::LatNotFinite},
        {0, nan, 5, Status::LonNotFinite},
        {0, -inf, 5, Status::LonNotFinite},
        {nan, nan, 5, Status::LatNotFinite},
        {90.0000001, 0, 5, Status::LatOutOfRange},
        {-91, 0, 5, Status::LatOutOfRange},
        {0, 180.0000001, 5, Status::LonOutOfRange},
        {0, -181, 5, Status::LonOutOfRange},
        {0, 0, -1, Status::ZoomOutOfRange},
        {0, 0, 30, Status::ZoomOutOfRange},
        {90, 180, 29, Status::Ok},
        {-90, -180, 0, Status::Ok},
    };
    for (const PointCase& p : points) {
        EXPECT_EQ(quadkey_from_latlon(p.lat, p.lon, p.zoom, &c), p.want)
            << p.lat << " " << p.lon << " " << p.zoom;
    }

    EXPECT_EQ(quadkey_from_tile(-1, 0, 0, &c), Status::ZoomOutOfRange);
    EXPECT_EQ(quadkey_from_tile(30, 0, 0, &c), Status::ZoomOutOfRange);
    EXPECT_EQ(quadkey_from_tile(3, 8, 0, &c), Status::TileOutOfRange);
    EXPECT_EQ(quadkey_from_tile(3, 0, 8, &c), Status::TileOutOfRange);
    EXPECT_EQ(quadkey_from_tile(3, -1, 0, &c), Status::TileOutOfRange);
    EXPECT_EQ(quadkey_from_tile(0, 0, 1, &c), Status::TileOutOfRange);
    EXPECT_EQ(quadkey_from_tile(29, (1 << 29) - 1, (1 << 29) - 1, &c), Status::Ok);
    EXPECT_EQ(text_of(c), std::string(29, '3'));

    const QuadkeyCode k = parse_ok("0123");
    EXPECT_EQ(quadkey_parent(k, -1, &c), Status::ZoomOutOfRange);
    EXPECT_EQ(quadkey_parent(k, 5, &c), Status::ParentTooDeep);
    EXPECT_EQ(quadkey_parent(k, 30, &c), Status::ParentTooDeep);
    ASSERT_EQ(quadkey_parent(k, 4, &c), Status::Ok);
    EXPECT_EQ(c, k);
    ASSERT_EQ(quadkey_parent(k, 2, &c), Status::Ok);
    EXPECT_EQ(text_of(c), "01");
    ASSERT_EQ(quadkey_parent(k, 0, &c), Status::Ok);
    EXPECT_EQ(c, 0u);

    QuadkeyCode kids[4];
    EXPECT_EQ(quadkey_children(parse_ok(std::string(29, '1')), kids), Status::ZoomOutOfRange);

    EXPECT_EQ(quadkey_from_bigint(0, -1, &c), Status::ZoomOutOfRange);
    EXPECT_EQ(quadkey_from_bigint(0, 30, &c), Status::ZoomOutOfRange);
    EXPECT_EQ(quadkey_from_bigint(-1, 3, &c), Status::BigintOutOfRange);
    EXPECT_EQ(quadkey_from_bigint(64, 3, &c), Status::BigintOutOfRange);
    EXPECT_EQ(quadkey_from_bigint(1, 0, &c), Status::BigintOutOfRange);
    EXPECT_EQ(quadkey_from_bigint(INT64_MAX, 29, &c), Status::BigintOutOfRange);
    ASSERT_EQ(quadkey_from_bigint(63, 3, &c), Status::Ok);
    EXPECT_EQ(text_of(c), "333");
    ASSERT_EQ(quadkey_from_bigint(0, 0, &c), Status::Ok);
    EXPECT_EQ(c, 0u);
    ASSERT_EQ(quadkey_from_bigint((std::int64_t{1} << 58) - 1, 29, &c), Status::Ok);
    EXPECT_EQ(text_of(c), std::string(29, '3'));
}

TEST(Quadkey, ValidityCheck) {
    EXPECT_TRUE(quadkey_is_valid(0));
    EXPECT_TRUE(quadkey_is_valid(0x4E00000000000003ULL));
    EXPECT_FALSE(quadkey_is_valid(0x4E00000000000002ULL));  // digit 3 below level 2
    EXPECT_FALSE(quadkey_is_valid(30));                     // level 30
    EXPECT_FALSE(quadkey_is_valid(0x8000000000000001ULL));  // bit 63
    EXPECT_FALSE(quadkey_is_valid(0x20));                   // digit below level 0
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100000; ++i) {
        const std::string s = random_text(rng, "");
        EXPECT_TRUE(quadkey_is_valid(parse_ok(s)));
    }
}

TEST(Quadkey, RoundTripExhaustiveSmallLevelsAndRandom) {
    // Every text of levels 0..6 (5461 of them), then random ones.
    std::vector<std::string> all{""};
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].size() < 6) {
            for (char d = '0'; d <= '3'; ++d) all.push_back(all[i] + d);
        }
    }
    ASSERT_EQ(all.size(), 5461u);
    for (const std::string& s : all) {
        const QuadkeyCode c = parse_ok(s);
        EXPECT_EQ(text_of(c), s);
        EXPECT_EQ(quadkey_level(c), static_cast<int>(s.size()));
        const QuadkeyTile t = quadkey_to_tile(c);
        QuadkeyCode back;
        ASSERT_EQ(quadkey_from_tile(t.zoom, t.x, t.y, &back), Status::Ok);
        EXPECT_EQ(back, c);
        ASSERT_EQ(quadkey_from_bigint(quadkey_to_bigint(c), t.zoom, &back), Status::Ok);
        EXPECT_EQ(back, c);
    }
    std::mt19937_64 rng(2);
    for (int i = 0; i < 200000; ++i) {
        const std::string s = random_text(rng, "");
        const QuadkeyCode c = parse_ok(s);
        ASSERT_EQ(text_of(c), s);
        const QuadkeyTile t = quadkey_to_tile(c);
        QuadkeyCode back;
        ASSERT_EQ(quadkey_from_tile(t.zoom, t.x, t.y, &back), Status::Ok);
        ASSERT_EQ(back, c);
        // Bing: digit i = x bit + 2 * y bit, most significant first.
        for (int d = 0; d < t.zoom; ++d) {
            const int bit = t.zoom - 1 - d;
            ASSERT_EQ(s[static_cast<std::size_t>(d)] - '0',
                      static_cast<int>(((t.x >> bit) & 1) + 2 * ((t.y >> bit) & 1)));
        }
        ASSERT_EQ(quadkey_from_bigint(quadkey_to_bigint(c), t.zoom, &back), Status::Ok);
        ASSERT_EQ(back, c);
        // The bigint is the base-4 reading of the digits.
        std::int64_t v = 0;
        for (char ch : s) v = v * 4 + (ch - '0');
        ASSERT_EQ(quadkey_to_bigint(c), v);
    }
}

TEST(Quadkey, IntegerOrderEqualsTextOrder) {
    std::mt19937_64 rng(3);
    std::string prev = "0";
    for (int i = 0; i < 1000000; ++i) {
        const std::string a = random_text(rng, prev);
        const std::string b = random_text(rng, a);
        const QuadkeyCode ca = parse_ok(a), cb = parse_ok(b);
        const int want = sign(std::strcmp(a.c_str(), b.c_str()));
        ASSERT_EQ(quadkey_compare(ca, cb), want) << a << " " << b;
        ASSERT_EQ(sign((ca > cb) - (ca < cb)), want);
        // Signed order too: bit 63 is never set.
        const std::int64_t sa = static_cast<std::int64_t>(ca), sb = static_cast<std::int64_t>(cb);
        ASSERT_EQ((sa > sb) - (sa < sb), want) << a << " " << b;
        prev = b.empty() ? "1" : b;
    }
}

TEST(Quadkey, ContainsIffTextPrefix) {
    std::mt19937_64 rng(4);
    std::string prev = "2";
    int contained = 0;
    for (int i = 0; i < 1000000; ++i) {
        const std::string a = random_text(rng, prev);
        const std::string b = random_text(rng, a);
        const QuadkeyCode ca = parse_ok(a), cb = parse_ok(b);
        const bool prefix = b.compare(0, a.size(), a) == 0 && a.size() <= b.size();
        ASSERT_EQ(quadkey_contains(ca, cb), prefix) << a << " " << b;
        // Contiguity: containment is exactly the integer range [a, range_max(a)].
        ASSERT_EQ(ca <= cb && cb <= quadkey_range_max(ca), prefix) << a << " " << b;
        contained += prefix;
        prev = b.empty() ? "3" : b;
    }
    EXPECT_GT(contained, 100000);  // the generator really exercises both sides
}

TEST(Quadkey, ParentChildren) {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 30000; ++i) {
        const QuadkeyCode c = parse_ok(random_text(rng, ""));
        const int level = quadkey_level(c);
        for (int l = 0; l <= level; ++l) {
            QuadkeyCode p;
            ASSERT_EQ(quadkey_parent(c, l, &p), Status::Ok);
            ASSERT_EQ(text_of(p), text_of(c).substr(0, static_cast<std::size_t>(l)));
            ASSERT_TRUE(quadkey_contains(p, c));
            ASSERT_EQ(quadkey_contains(c, p), l == level);
        }
        if (level < kQuadkeyMaxLevel) {
            QuadkeyCode kids[4];
            ASSERT_EQ(quadkey_children(c, kids), Status::Ok);
            for (int d = 0; d < 4; ++d) {
                ASSERT_EQ(text_of(kids[d]), text_of(c) + static_cast<char>('0' + d));
                if (d > 0) {
                    ASSERT_LT(kids[d - 1], kids[d]);
                }
                ASSERT_TRUE(quadkey_contains(c, kids[d]));
            }
            ASSERT_EQ(quadkey_range_max(kids[3]), quadkey_range_max(c));
        }
    }
}

TEST(Quadkey, RangeContiguityExhaustiveAndSampled) {
    // Exhaustive over levels 0..5: among all those codes, the ones inside [p, range_max(p)]
    // are exactly p's descendants.
    std::vector<std::string> all{""};
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].size() < 5) {
            for (char d = '0'; d <= '3'; ++d) all.push_back(all[i] + d);
        }
    }
    for (const std::string& a : all) {
        const QuadkeyCode ca = parse_ok(a);
        for (const std::string& b : all) {
            const QuadkeyCode cb = parse_ok(b);
            const bool in_range = ca <= cb && cb <= quadkey_range_max(ca);
            ASSERT_EQ(in_range, b.compare(0, a.size(), a) == 0) << a << " " << b;
        }
    }
    // Sampled: arbitrary integers in [p, range_max(p)], made valid by clearing what lies below
    // their level, are descendants whenever they stay in the range.
    std::mt19937_64 rng(6);
    int checked = 0;
    for (int i = 0; i < 200000; ++i) {
        const QuadkeyCode p = parse_ok(random_text(rng, ""));
        const QuadkeyCode hi = quadkey_range_max(p);
        const QuadkeyCode v = p + std::uniform_int_distribution<std::uint64_t>(0, hi - p)(rng);
        int level = quadkey_level(v);
        if (level > kQuadkeyMaxLevel) level = kQuadkeyMaxLevel;
        const QuadkeyCode q =
            (v & quadkey_detail::prefix_mask(level)) | static_cast<std::uint64_t>(level);
        ASSERT_TRUE(quadkey_is_valid(q));
        if (p <= q && q <= hi) {
            ASSERT_TRUE(quadkey_contains(p, q)) << text_of(p) << " " << text_of(q);
            ++checked;
        } else {
            ASSERT_FALSE(quadkey_contains(p, q));
        }
    }
    EXPECT_GT(checked, 100000);
}

// A point's cell is decided against the edges that quadkey_bounds reports: columns own
// [west, east), rows own (south, north], the last column / row also own the far edge.
void expect_point_in_own_cell(double lat, double lon, int zoom) {
    QuadkeyCode c;
    ASSERT_EQ(quadkey_from_latlon(lat, lon, zoom, &c), Status::Ok);
    const QuadkeyTile t = quadkey_to_tile(c);
    const std::uint32_t last = (std::uint32_t{1} << zoom) - 1;
    const LatLonBox b = quadkey_bounds(c);
    ASSERT_LE(b.min_lon, lon);
    ASSERT_TRUE(lon < b.max_lon || t.x == last) << lon << " z" << zoom;
    const double clat = clamp_mercator_lat(lat);
    ASSERT_TRUE(clat <= b.max_lat || t.y == 0) << lat << " z" << zoom;
    ASSERT_TRUE(b.min_lat < clat || t.y == last) << lat << " z" << zoom;
}

TEST(Quadkey, FromLatLonMatchesLongDoubleReference) {
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> lat_d(-90, 90), lon_d(-180, 180);
    std::uniform_int_distribution<int> zoom_d(0, kQuadkeyMaxLevel);
    int near_edge = 0;
    for (int i = 0; i < 300000; ++i) {
        const double lat = lat_d(rng), lon = lon_d(rng);
        const int zoom = i < 100000 ? kQuadkeyMaxLevel : zoom_d(rng);
        QuadkeyCode c;
        ASSERT_EQ(quadkey_from_latlon(lat, lon, zoom, &c), Status::Ok);
        const QuadkeyTile t = quadkey_to_tile(c);
        long double tx, ty;
        reference_tile(lat, lon, zoom, &tx, &ty);
        // x is exact in both (dyadic edges); y may only differ within rounding of an edge.
        ASSERT_EQ(t.x, clamp_tile(tx, zoom)) << lat << " " << lon << " z" << zoom;
        if (t.y != clamp_tile(ty, zoom)) {
            ASSERT_LT(std::fabs(ty - std::nearbyint(ty)), 1e-6L)
                << lat << " " << lon << " z" << zoom;
            ++near_edge;
        }
        expect_point_in_own_cell(lat, lon, zoom);
    }
    EXPECT_LT(near_edge, 5);
}

TEST(Quadkey, PointsOnEdgesGoEastAndSouth) {
    std::mt19937_64 rng(8);
    int naive_x_wrong = 0, naive_y_wrong = 0;
    for (int i = 0; i < 200000; ++i) {
        const int zoom =
            i % 2 == 0 ? kQuadkeyMaxLevel : 1 + static_cast<int>(rng() % kQuadkeyMaxLevel);
        const std::uint32_t n = std::uint32_t{1} << zoom;
        const std::uint32_t k = static_cast<std::uint32_t>(rng() % (n + 1));  // an edge, 0..n
        // Column edge k and its neighbouring doubles.
        const double e = quadkey_column_edge_lon(zoom, k);
        ASSERT_EQ(e, static_cast<double>(k) / n * 360 - 180);  // the brief's formula, exactly
        QuadkeyCode c;
        const double w = std::nextafter(e, -HUGE_VAL), east = std::nextafter(e, HUGE_VAL);
        ASSERT_EQ(quadkey_from_latlon(0, e, zoom, &c), Status::Ok);
        ASSERT_EQ(quadkey_to_tile(c).x, std::min(k, n - 1));  // on the edge: the east column
        if (w >= -180) {
            ASSERT_EQ(quadkey_from_latlon(0, w, zoom, &c), Status::Ok);
            ASSERT_EQ(quadkey_to_tile(c).x, k == 0 ? 0 : k - 1);
            naive_x_wrong += static_cast<std::uint32_t>(std::floor((w + 180.0) / 360.0 * n)) !=
                             (k == 0 ? 0 : k - 1);
        }
        if (east <= 180) {
            ASSERT_EQ(quadkey_from_latlon(0, east, zoom, &c), Status::Ok);
            ASSERT_EQ(quadkey_to_tile(c).x, std::min(k, n - 1));
        }
        // Row edge k (north edge of row k) and its neighbouring doubles.
        const double r = quadkey_row_edge_lat(zoom, k);
        const double north = std::nextafter(r, HUGE_VAL), south = std::nextafter(r, -HUGE_VAL);
        ASSERT_EQ(quadkey_from_latlon(r, 0, zoom, &c), Status::Ok);
        ASSERT_EQ(quadkey_to_tile(c).y, std::min(k, n - 1));  // on the edge: the south row
        const std::uint32_t naive_y = clamp_tile(static_cast<long double>(mercator_y(r) * n), zoom);
        naive_y_wrong += naive_y != std::min(k, n - 1);
        ASSERT_EQ(quadkey_from_latlon(north, 0, zoom, &c), Status::Ok);
        ASSERT_EQ(quadkey_to_tile(c).y, k == 0 ? 0 : k - 1);
        ASSERT_EQ(quadkey_from_latlon(south, 0, zoom, &c), Status::Ok);
        ASSERT_EQ(quadkey_to_tile(c).y, std::min(k, n - 1));
    }
    // The plain double floor() really is off by one at some edges, which is why the exact
    // correction exists; the assertions above show the correction fixes every one.
    EXPECT_GT(naive_x_wrong, 0);
    EXPECT_GT(naive_y_wrong, 0);
    std::printf("[          ] naive floor wrong at %d column and %d row edges of 200000\n",
                naive_x_wrong, naive_y_wrong);
}

TEST(Quadkey, EdgesOfTheWorld) {
    QuadkeyCode c;
    for (int zoom = 0; zoom <= kQuadkeyMaxLevel; ++zoom) {
        const std::uint32_t last = (std::uint32_t{1} << zoom) - 1;
        ASSERT_EQ(quadkey_from_latlon(90, 180, zoom, &c), Status::Ok);
        EXPECT_EQ(quadkey_to_tile(c).x, last);
        EXPECT_EQ(quadkey_to_tile(c).y, 0u);
        ASSERT_EQ(quadkey_from_latlon(-90, -180, zoom, &c), Status::Ok);
        EXPECT_EQ(quadkey_to_tile(c).x, 0u);
        EXPECT_EQ(quadkey_to_tile(c).y, last);
        ASSERT_EQ(quadkey_from_latlon(-kMercatorMaxLat, 0, zoom, &c), Status::Ok);
        EXPECT_EQ(quadkey_to_tile(c).y, last);
        ASSERT_EQ(quadkey_from_latlon(kMercatorMaxLat, 0, zoom, &c), Status::Ok);
        EXPECT_EQ(quadkey_to_tile(c).y, 0u);
        // The equator is the north edge of row 2^(zoom-1): it goes south.
        ASSERT_EQ(quadkey_from_latlon(0.0, 0.0, zoom, &c), Status::Ok);
        EXPECT_EQ(quadkey_to_tile(c).y, zoom == 0 ? 0u : (last + 1) / 2);
        EXPECT_EQ(quadkey_to_tile(c).x, zoom == 0 ? 0u : (last + 1) / 2);
        QuadkeyCode neg;
        ASSERT_EQ(quadkey_from_latlon(-0.0, -0.0, zoom, &neg), Status::Ok);
        EXPECT_EQ(neg, c);
    }
}

struct TileEnvelopeCase {
    int z;
    std::uint32_t x, y;
    double min_lat, min_lon, max_lat, max_lon;
};

// SELECT z, x, y, ST_YMin(e), ST_XMin(e), ST_YMax(e), ST_XMax(e)
//   FROM (SELECT ST_Transform(ST_TileEnvelope(z, x, y), 4326) e ...)
// PostGIS 3.3.2, PROJ 9.1.1.
const TileEnvelopeCase kTileEnvelope[] = {
    {0, 0, 0, -85.0511287798066, -180.0, 85.0511287798066, 180.0},
    {1, 0, 0, 0.0, -180.0, 85.0511287798066, 0.0},
    {1, 0, 1, -85.0511287798066, -180.0, 0.0, 0.0},
    {1, 1, 0, 0.0, 0.0, 85.0511287798066, 180.0},
    {1, 1, 1, -85.0511287798066, 0.0, 0.0, 180.0},
    {2, 0, 0, 66.51326044311186, -180.0, 85.0511287798066, -90.0},
    {2, 0, 1, 0.0, -180.0, 66.51326044311186, -90.0},
    {2, 0, 3, -85.0511287798066, -180.0, -66.51326044311185, -90.0},
    {2, 1, 0, 66.51326044311186, -90.0, 85.0511287798066, 0.0},
    {2, 1, 1, 0.0, -90.0, 66.51326044311186, 0.0},
    {2, 2, 0, 66.51326044311186, 0.0, 85.0511287798066, 89.99999999999999},
    {2, 2, 1, 0.0, 0.0, 66.51326044311186, 89.99999999999999},
    {2, 2, 2, -66.51326044311185, 0.0, 0.0, 89.99999999999999},
    {2, 2, 3, -85.0511287798066, 0.0, -66.51326044311185, 89.99999999999999},
    {2, 3, 0, 66.51326044311186, 89.99999999999999, 85.0511287798066, 180.0},
    {2, 3, 3, -85.0511287798066, 89.99999999999999, -66.51326044311185, 180.0},
    {3, 0, 0, 79.17133464081945, -180.0, 85.0511287798066, -135.0},
    {3, 0, 7, -85.0511287798066, -180.0, -79.17133464081945, -135.0},
    {3, 1, 0, 79.17133464081945, -135.0, 85.0511287798066, -90.0},
    {3, 3, 2, 40.97989806962014, -45.00000000000001, 66.51326044311186, 0.0},
    {3, 3, 3, 0.0, -45.00000000000001, 40.97989806962014, 0.0},
    {3, 3, 7, -85.0511287798066, -45.00000000000001, -79.17133464081945, 0.0},
    {3, 4, 4, -40.97989806962014, 0.0, 0.0, 45.00000000000001},
    {3, 5, 4, -40.97989806962014, 45.00000000000001, 0.0, 89.99999999999999},
    {3, 6, 5, -66.51326044311185, 89.99999999999999, -40.97989806962014, 135.00000000000003},
    {3, 7, 0, 79.17133464081945, 135.00000000000003, 85.0511287798066, 180.0},
    {3, 7, 7, -85.0511287798066, 135.00000000000003, -79.17133464081945, 180.0},
    {4, 0, 0, 82.67628497834903, -180.0, 85.0511287798066, -157.50000000000003},
    {4, 0, 15, -85.0511287798066, -180.0, -82.67628497834903, -157.50000000000003},
    {4, 3, 13, -79.17133464081945, -112.5, -74.01954331150226, -90.0},
    {4, 5, 10, -55.77657301866769, -67.5, -40.97989806962014, -45.00000000000001},
    {4, 7, 2, 74.01954331150226, -22.499999999999986, 79.17133464081945, 0.0},
    {4, 7, 7, 0.0, -22.499999999999986, 21.943045533438163, 0.0},
    {4, 8, 8, -21.943045533438163, 0.0, 0.0, 22.499999999999986},
    {4, 9, 2, 74.01954331150226, 22.499999999999986, 79.17133464081945, 45.00000000000001},
    {4, 9, 15, -85.0511287798066, 22.499999999999986, -82.67628497834903, 45.00000000000001},
    {4, 10, 14, -82.67628497834903, 45.00000000000001, -79.17133464081945, 67.5},
    {4, 15, 0, 82.67628497834903, 157.50000000000003, 85.0511287798066, 180.0},
    {4, 15, 15, -85.0511287798066, 157.50000000000003, -82.67628497834903, 180.0},
    {5, 0, 0, 83.97925949886205, -180.0, 85.0511287798066, -168.75},
    {5, 0, 31, -85.0511287798066, -180.0, -83.97925949886205, -168.75},
    {5, 4, 5, 74.01954331150226, -135.0, 76.84081641443098, -123.74999999999999},
    {5, 4, 20, -48.92249926375824, -135.0, -40.97989806962014, -123.74999999999999},
    {5, 9, 31, -85.0511287798066, -78.75000000000001, -83.97925949886205, -67.5},
    {5, 15, 15, 0.0, -11.249999999999993, 11.178401873711778, 0.0},
    {5, 16, 16, -11.178401873711778, 0.0, 0.0, 11.249999999999993},
    {5, 21, 22, -61.60639637138627, 56.25, -55.77657301866769, 67.5},
    {5, 26, 2, 81.09321385260839, 112.5, 82.67628497834903, 123.74999999999999},
    {5, 31, 0, 83.97925949886205, 168.74999999999997, 85.0511287798066, 180.0},
    {5, 31, 29, -82.67628497834903, 168.74999999999997, -81.09321385260837, 180.0},
    {5, 31, 31, -85.0511287798066, 168.74999999999997, -83.97925949886205, 180.0},
    {6, 0, 0, 84.54136107313408, -180.0, 85.0511287798066, -174.375},
    {6, 0, 63, -85.0511287798066, -180.0, -84.54136107313408, -174.375},
    {6, 8, 7, 79.17133464081945, -135.0, 80.17871349622823, -129.37500000000003},
    {6, 31, 31, 0.0, -5.625000000000013, 5.615985819155347, 0.0},
    {6, 32, 32, -5.615985819155347, 0.0, 0.0, 5.625000000000013},
    {6, 34, 60, -83.35951133035451, 11.249999999999993, -82.67628497834903, 16.875000000000007},
    {6, 36, 49, -70.61261423801925, 22.499999999999986, -68.65655498475736, 28.125},
    {6, 39, 57, -81.09321385260837, 39.37499999999999, -80.17871349622823, 45.00000000000001},
    {6, 44, 2, 83.35951133035451, 67.5, 83.97925949886205, 73.125},
    {6, 59, 45, -61.60639637138627, 151.87500000000006, -58.81374171570782, 157.50000000000003},
    {6, 63, 0, 84.54136107313408, 174.37500000000003, 85.0511287798066, 180.0},
    {6, 63, 63, -85.0511287798066, 174.37500000000003, -84.54136107313408, 180.0},
    {7, 0, 0, 84.80247372433452, -180.0, 85.0511287798066, -177.1875},
    {7, 0, 127, -85.0511287798066, -180.0, -84.80247372433452, -177.1875},
    {7, 33, 63, 0.0, -87.1875, 2.8113711933311194, -84.375},
    {7, 43, 29, 68.65655498475736, -59.06249999999999, 69.65708627301174, -56.25},
    {7, 55, 73, -27.059125784374054, -25.312500000000014, -24.527134822597816, -22.499999999999986},
    {7, 63, 63, 0.0, -2.8124999999999902, 2.8113711933311194, 0.0},
    {7, 64, 64, -2.8113711933311194, 0.0, 0.0, 2.8124999999999902},
    {7, 101, 100, -71.52490903732816, 104.0625, -70.61261423801925, 106.875},
    {7, 126, 15, 79.17133464081945, 174.37500000000003, 79.68718415450823, 177.1875},
    {7, 127, 0, 84.80247372433452, 177.1875, 85.0511287798066, 180.0},
    {7, 127, 20, 76.18499546094715, 177.1875, 76.84081641443098, 180.0},
    {7, 127, 127, -85.0511287798066, 177.1875, -84.80247372433452, 180.0},
    {8, 0, 0, 84.92832092949963, -180.0, 85.0511287798066, -178.59375},
    {8, 0, 255, -85.0511287798066, -180.0, -84.92832092949963, -178.59375},
    {8, 70, 220, -78.34941069014629, -81.5625, -78.06198918665974, -80.15625000000001},
    {8, 85, 229, -80.64703474739618, -60.46875, -80.41570744462179, -59.06249999999999},
    {8, 118, 77, 57.32652122521708, -14.062499999999984, 58.07787626787517, -12.65624999999999},
    {8, 127, 127, 0.0, -1.4062499999999951, 1.4061088354351516, 0.0},
    {8, 128, 128, -1.4061088354351516, 0.0, 0.0, 1.4062499999999951},
    {8, 142, 212, -75.84516854027044, 19.687499999999996, -75.49715731893083, 21.093749999999993},
    {8, 183, 194, -68.13885164925573, 77.34374999999999, -67.60922060496382, 78.74999999999999},
    {8, 205, 142, -20.632784250388013, 108.28124999999999, -19.311143355064637, 109.68750000000001},
    {8, 255, 0, 84.92832092949963, 178.59374999999997, 85.0511287798066, 180.0},
    {8, 255, 255, -85.0511287798066, 178.59374999999997, -84.92832092949963, 180.0},
    {9, 0, 0, 84.9901001802348, -180.0, 85.0511287798066, -179.29687499999997},
    {9, 0, 511, -85.0511287798066, -180.0, -84.9901001802348, -179.29687499999997},
    {9, 4, 149, 59.5343180010956, -177.1875, 59.888936896765834, -176.48437499999997},
    {9, 84, 180, 46.55886030311718, -120.9375, 47.04018214480666, -120.234375},
    {9, 154, 237, 12.554563528593647, -71.71875, 13.239945499286309, -71.015625},
    {9, 238, 12, 84.19650681922975, -12.65624999999999, 84.26717240431665, -11.953125000000009},
    {9, 255, 255, 0.0, -0.7031250000000142, 0.703107352436501, 0.0},
    {9, 256, 256, -0.703107352436501, 0.0, 0.0, 0.7031250000000142},
    {9, 269, 288, -22.59372606392931, 9.140624999999984, -21.943045533438163, 9.843749999999998},
    {9, 496, 186, 43.580390855607845, 168.74999999999997, 44.087585028245165, 169.453125},
    {9, 511, 0, 84.9901001802348, 179.29687500000003, 85.0511287798066, 180.0},
    {9, 511, 511, -85.0511287798066, 179.29687500000003, -84.9901001802348, 180.0},
    {10, 0, 0, 85.02070774312594, -180.0, 85.0511287798066, -179.6484375},
    {10, 0, 1023, -85.0511287798066, -180.0, -85.02070774312594, -179.6484375},
    {10, 110, 935, -81.5182718765338, -141.328125, -81.46626086056541, -140.9765625},
    {10, 212, 986, -83.79204408779539, -105.46875, -83.7539108491127, -105.11718750000001},
    {10, 511, 511, 0.0, -0.3515624999999904, 0.3515602939922627, 0.0},
    {10, 512, 512, -0.3515602939922627, 0.0, 0.0, 0.3515624999999904},
    {10, 652, 257, 66.23145747862573, 49.21874999999999, 66.37275500247456, 49.570312499999986},
    {10, 803, 815, -72.3957057065326, 102.30468750000003, -72.28906720017675, 102.65625000000001},
    {10, 817, 807, -71.52490903732816, 107.22656250000001, -71.41317683396566, 107.578125},
    {10, 858, 756, -64.92354174306496, 121.640625, -64.77412531292872, 121.99218749999999},
    {10, 1023, 0, 85.02070774312594, 179.6484375, 85.0511287798066, 180.0},
    {10, 1023, 1023, -85.0511287798066, 179.6484375, -85.02070774312594, 180.0},
    {11, 0, 0, 85.035941506574, -180.0, 85.0511287798066, -179.82421875},
    {11, 0, 2047, -85.0511287798066, -180.0, -85.035941506574, -179.82421875},
    {11, 419, 0, 85.035941506574, -106.34765625, 85.0511287798066, -106.17187500000001},
    {11, 664, 450, 70.4367988185464, -63.281249999999986, 70.49557354093136, -63.10546874999999},
    {11, 780, 275, 78.49055166160312, -42.890625, 78.52557254138316, -42.71484375},
    {11, 855, 1804, -79.59234918793308, -29.707031250000007, -79.56054626376365,
     -29.531249999999996},
    {11, 1023, 1023, 0.0, -0.1757812499999952, 0.17578097424708264, 0.0},
    {11, 1024, 1024, -0.17578097424708264, 0.0, 0.0, 0.1757812499999952},
    {11, 1392, 215, 80.4157074446218, 64.68750000000001, 80.44493052181338, 64.86328125},
    {11, 1640, 254, 79.20430943611333, 108.28124999999999, 79.23718500609334, 108.45703125000001},
    {11, 2047, 0, 85.035941506574, 179.82421875, 85.0511287798066, 180.0},
    {11, 2047, 2047, -85.0511287798066, 179.82421875, -85.035941506574, 180.0},
    {12, 0, 0, 85.04354094565655, -180.0, 85.0511287798066, -179.91210937500003},
    {12, 0, 4095, -85.0511287798066, -180.0, -85.04354094565655, -179.91210937500003},
    {12, 576, 1703, 28.921631282421284, -129.37500000000003, 28.99853181405181, -129.287109375},
    {12, 1239, 831, 72.3957057065326, -71.103515625, 72.4222680395226, -71.015625},
    {12, 2047, 2047, 0.0, -0.0878906249999976, 0.0878905905308227, 0.0},
    {12, 2048, 2048, -0.0878905905308227, 0.0, 0.0, 0.0878906249999976},
    {12, 2066, 2845, -57.23150299147891, 1.5820312499999902, -57.18390185831186,
     1.6699218749999878},
    {12, 2978, 208, 83.18447332754319, 81.73828125000001, 83.19489563661588, 81.826171875},
    {12, 2983, 3884, -83.16358102531102, 82.17773437499999, -83.15311098437887, 82.265625},
    {12, 3082, 1216, 58.76820015923959, 90.87890624999999, 58.813741715707806, 90.96679687499999},
    {12, 4095, 0, 85.04354094565655, 179.91210937500003, 85.0511287798066, 180.0},
    {12, 4095, 4095, -85.0511287798066, 179.91210937500003, -85.04354094565655, 180.0},
    {13, 0, 0, 85.04733631224822, -180.0, 85.0511287798066, -179.9560546875},
    {13, 0, 8191, -85.0511287798066, -180.0, -85.04733631224822, -179.9560546875},
    {13, 2012, 1889, 69.13127122963648, -91.58203125000001, 69.14692017504962, -91.53808593750001},
    {13, 2361, 1674, 72.24891676830893, -76.2451171875, 72.26231002404461, -76.201171875},
    {13, 4095, 4095, 0.0, -0.0439453124999988, 0.04394530819135004, 0.0},
    {13, 4096, 4096, -0.04394530819135004, 0.0, 0.0, 0.0439453124999988},
    {13, 5109, 1407, 75.49715731893083, 44.516601562499986, 75.50815837230884, 44.560546874999986},
    {13, 5613, 4337, -10.574222078332816, 66.66503906249999, -10.531020008464994,
     66.70898437499999},
    {13, 7870, 7927, -83.94227191521858, 165.849609375, -83.93763257824233, 165.89355468750003},
    {13, 7996, 7634, -82.4198342344112, 171.38671874999997, -82.41403506116006, 171.4306640625},
    {13, 8191, 0, 85.04733631224822, 179.95605468749997, 85.0511287798066, 180.0},
    {13, 8191, 8191, -85.0511287798066, 179.95605468749997, -85.04733631224822, 180.0},
    {14, 0, 0, 85.04923290826918, -180.0, 85.0511287798066, -179.97802734374997},
    {14, 0, 16383, -85.0511287798066, -180.0, -85.04923290826918, -179.97802734374997},
    {14, 756, 6724, 30.656815564292877, -163.38867187499997, 30.675715404167736, -163.36669921875},
    {14, 886, 9767, -32.694865977875054, -160.5322265625, -32.676372772089834, -160.51025390625003},
    {14, 2982, 8556, -7.993957436359011, -114.4775390625, -7.972197714386887, -114.45556640625},
    {14, 8191, 8191, 0.0, -0.021972656250016133, 0.021972655711434978, 0.0},
    {14, 8192, 8192, -0.021972655711434978, 0.0, 0.0, 0.021972656250016133},
    {14, 11853, 4803, 59.489726035537075, 80.44189453125, 59.50087955346417, 80.46386718750001},
    {14, 12016, 5473, 51.15178610143037, 84.02343750000001, 51.16556659836183, 84.04541015625},
    {14, 15683, 5290, 53.60554409923799, 164.59716796874997, 53.61857936489517, 164.619140625},
    {14, 16383, 0, 85.04923290826918, 179.97802734375, 85.0511287798066, 180.0},
    {14, 16383, 16383, -85.0511287798066, 179.97802734375, -85.04923290826918, 180.0},
    {15, 0, 0, 85.05018093458116, -180.0, 85.0511287798066, -179.98901367187503},
    {15, 0, 32767, -85.0511287798066, -180.0, -85.05018093458116, -179.98901367187503},
    {15, 12789, 15688, 7.612997502224097, -39.495849609375, 7.623886853120034, -39.48486328124999},
    {15, 13101, 32294, -84.5819685674508, -36.06811523437499, -84.5809311215369, -36.05712890625},
    {15, 16383, 16383, 0.0, -0.010986328124991333, 0.01098632805766869, 0.0},
    {15, 16384, 16384, -0.01098632805766869, 0.0, 0.0, 0.010986328124991333},
    {15, 21604, 14617, 19.041348796589002, 57.3486328125, 19.05173366503918, 57.35961914062499},
    {15, 23302, 1899, 82.88066627226856, 76.00341796875001, 82.88202774781253, 76.01440429687501},
    {15, 23310, 14600, 19.21780295966795, 76.09130859375001, 19.22817673776625, 76.10229492187501},
    {15, 26259, 14859, 16.509832826905857, 108.48999023437499, 16.520365912442113,
     108.50097656250001},
    {15, 32767, 0, 85.05018093458116, 179.98901367187503, 85.0511287798066, 180.0},
    {15, 32767, 32767, -85.0511287798066, 179.98901367187503, -85.05018093458116, 180.0},
    {16, 0, 0, 85.05065487982755, -180.0, 85.0511287798066, -179.9945068359375},
    {16, 0, 65535, -85.0511287798066, -180.0, -85.05065487982755, -179.9945068359375},
    {16, 3661, 36623, -20.71501514551208, -159.8895263671875, -20.709877019887898,
     -159.884033203125},
    {16, 25381, 45125, -55.9922367329393, -40.5780029296875, -55.98916425546795,
     -40.57250976562501},
    {16, 28896, 13389, 72.26565680951174, -21.26953124999999, 72.2673299730442, -21.26403808593749},
    {16, 32767, 32767, 0.0, -0.005493164062495667, 0.0054931640540803375, 0.0},
    {16, 32768, 32768, -0.0054931640540803375, 0.0, 0.0, 0.005493164062495667},
    {16, 47793, 10556, 76.43846839143269, 82.53479003906251, 76.43975642062355, 82.54028320312501},
    {16, 58619, 45812, -58.04591137650698, 142.0037841796875, -58.04300405858761, 142.00927734375},
    {16, 61897, 33970, -6.5936738759984825, 160.01037597656247, -6.588217016715778,
     160.01586914062497},
    {16, 65535, 0, 85.05065487982755, 179.9945068359375, 85.0511287798066, 180.0},
    {16, 65535, 65535, -85.0511287798066, 179.9945068359375, -85.05065487982755, 180.0},
    {17, 0, 0, 85.05089183547521, -180.0, 85.0511287798066, -179.99725341796875},
    {17, 0, 131071, -85.0511287798066, -180.0, -85.05089183547521, -179.99725341796875},
    {17, 500, 125691, -83.59780577269282, -178.626708984375, -83.59749950230288,
     -178.62396240234375},
    {17, 31432, 101852, -70.10768136827487, -93.66943359375, -70.10674681309753,
     -93.66668701171876},
    {17, 51565, 88535, -53.265212931246545, -38.37249755859375, -53.26357013647525,
     -38.3697509765625},
    {17, 53575, 126524, -83.84792659272586, -32.85186767578125, -83.8476322407395,
     -32.84912109375001},
    {17, 59466, 123228, -82.79746888609851, -16.6717529296875, -82.7971245195259,
     -16.669006347656254},
    {17, 65535, 65535, 0.0, -0.0027465820312478333, 0.002746582030195917, 0.0},
    {17, 65536, 65536, -0.002746582030195917, 0.0, 0.0, 0.0027465820312478333},
    {17, 90179, 22224, 75.7041081852761, 67.68402099609374, 75.70478638174053, 67.68676757812501},
    {17, 131071, 0, 85.05089183547521, 179.99725341796875, 85.0511287798066, 180.0},
    {17, 131071, 131071, -85.0511287798066, 179.99725341796875, -85.05089183547521, 180.0},
    {18, 0, 0, 85.05101030905541, -180.0, 85.0511287798066, -179.99862670898438},
    {18, 0, 262143, -85.0511287798066, -180.0, -85.05101030905541, -179.99862670898438},
    {18, 83286, 89130, 49.799882107880364, -65.62408447265626, 49.80076850316847,
     -65.62271118164064},
    {18, 93596, 227501, -78.67701745558927, -51.46545410156249, -78.67674782118561,
     -51.464080810546875},
    {18, 104500, 250626, -83.48083388257726, -36.49108886718749, -83.48067796334392,
     -36.48971557617187},
    {18, 131071, 131071, 0.0, -0.0013732910156239167, 0.0013732910154924272, 0.0},
    {18, 131072, 131072, -0.0013732910154924272, 0.0, 0.0, 0.0013732910156239167},
    {18, 174334, 45481, 75.34992506383455, 59.41131591796873, 75.35027238572265,
     59.412689208984354},
    {18, 207533, 242829, -82.14507929676829, 105.00320434570312, -82.14489161346476,
     105.00457763671874},
    {18, 210442, 44522, 75.67933244226096, 108.99810791015624, 75.67967211984029,
     108.99948120117186},
    {18, 262143, 0, 85.05101030905541, 179.99862670898438, 85.0511287798066, 180.0},
    {18, 262143, 262143, -85.0511287798066, 179.99862670898438, -85.05101030905541, 180.0},
    {19, 0, 0, 85.05106954478462, -180.0, 85.0511287798066, -179.9993133544922},
    {19, 0, 524287, -85.0511287798066, -180.0, -85.05106954478462, -179.9993133544922},
    {19, 14934, 107764, 72.13025412634596, -169.74563598632812, 72.13046482513411,
     -169.7449493408203},
    {19, 133209, 28887, 83.00818796089655, -88.53263854980469, 83.00827154404084,
     -88.53195190429688},
    {19, 137346, 22436, 83.52721019037601, -85.69198608398438, 83.52728759638772,
     -85.69129943847658},
    {19, 153274, 497399, -83.17338221645898, -74.75509643554686, -83.17330059767967,
     -74.75440979003906},
    {19, 158492, 487958, -82.35790069143884, -71.17218017578125, -82.35780937756927,
     -71.17149353027344},
    {19, 262143, 262143, 0.0, -0.0006866455078119583, 0.0006866455077955222, 0.0},
    {19, 262144, 262144, -0.0006866455077955222, 0.0, 0.0, 0.0006866455078119583},
    {19, 367428, 163486, 55.912657766599715, 72.29278564453125, 55.91304259931629,
     72.29347229003906},
    {19, 524287, 0, 85.05106954478462, 179.99931335449216, 85.0511287798066, 180.0},
    {19, 524287, 524287, -85.0511287798066, 179.99931335449216, -85.05106954478462, 180.0},
    {20, 0, 0, 85.05109916238402, -180.0, 85.0511287798066, -179.9996566772461},
    {20, 0, 1048575, -85.0511287798066, -180.0, -85.05109916238402, -179.9996566772461},
    {20, 58707, 528135, -1.320988910453886, -159.84455108642575, -1.3206456789207366,
     -159.8442077636719},
    {20, 292029, 909764, -78.66062565942983, -79.73979949951172, -78.6605581551158,
     -79.73945617675781},
    {20, 408536, 442587, 26.991842429628925, -39.74029541015626, 26.99214835421502,
     -39.73995208740235},
    {20, 446231, 614395, -29.5340347202595, -26.79874420166015, -29.53373600738146,
     -26.79840087890626},
    {20, 504447, 683649, -47.90207387045251, -6.811866760253904, -47.9018437064483,
     -6.811523437500015},
    {20, 524287, 524287, 0.0, -0.0003433227539227116, 0.0003433227539206571, 0.0},
    {20, 524288, 524288, -0.0003433227539206571, 0.0, 0.0, 0.0003433227539227116},
    {20, 543927, 878733, -76.36339506379272, 6.742515563964829, -76.3633141207449,
     6.742858886718753},
    {20, 1048575, 0, 85.05109916238402, 179.9996566772461, 85.0511287798066, 180.0},
    {20, 1048575, 1048575, -85.0511287798066, 179.9996566772461, -85.05109916238402, 180.0},
    {21, 0, 0, 85.0511139711174, -180.0, 85.0511287798066, -179.99982833862302},
    {21, 0, 2097151, -85.0511287798066, -180.0, -85.0511139711174, -179.99982833862302},
    {21, 16494, 628317, 58.301010999118034, -177.16861724853516, 58.30110119961313,
     -177.1684455871582},
    {21, 549762, 255452, 79.38501166571662, -85.6270980834961, 79.38504328715071,
     -85.62692642211913},
    {21, 636847, 78453, 83.74213355194277, -70.67796707153322, 83.7421522635806,
     -70.67779541015625},
    {21, 1048575, 1048575, 0.0, -0.0001716613769613558, 0.00017166137696109898, 0.0},
    {21, 1048576, 1048576, -0.00017166137696109898, 0.0, 0.0, 0.0001716613769613558},
    {21, 1483877, 1921666, -81.63742008352928, 74.72436904907227, -81.63739511759375,
     74.72454071044922},
    {21, 1764242, 548460, 64.80359269399688, 122.85221099853514, 64.80366577401766,
     122.85238265991212},
    {21, 1846017, 768010, 43.32380399845616, 136.88982009887695, 43.32392887987944,
     136.88999176025393},
    {21, 2097151, 0, 85.0511139711174, 179.99982833862302, 85.0511287798066, 180.0},
    {21, 2097151, 2097151, -85.0511287798066, 179.99982833862302, -85.0511139711174, 180.0},
    {22, 0, 0, 85.05112137546753, -180.0, 85.0511287798066, -179.99991416931152},
    {22, 0, 4194303, -85.0511287798066, -180.0, -85.05112137546753, -179.99991416931152},
    {22, 476662, 2084521, 1.0839769255185245, -139.08777236938477, 1.0840627408456747,
     -139.0876865386963},
    {22, 518040, 2734536, -47.898448668518355, -135.5362701416016, -47.89839112358385,
     -135.5361843109131},
    {22, 1445749, 1187482, 61.28495809350201, -55.91036796569824, 61.28499933115182,
     -55.91028213500976},
    {22, 1604792, 2322948, -19.020982832818643, -42.259597778320305, -19.020901688527502,
     -42.25951194763184},
    {22, 2097151, 2097151, 0.0, -8.58306884806779e-05, 8.58306884806458e-05, 0.0},
    {22, 2097152, 2097152, -8.58306884806458e-05, 0.0, 0.0, 8.58306884806779e-05},
    {22, 3971946, 1009456, 67.81595396780281, 160.9148597717285, 67.8159863759861,
     160.91494560241696},
    {22, 4047394, 890110, 71.37815443363662, 167.39061355590817, 71.37818184112828,
     167.39069938659665},
    {22, 4194303, 0, 85.05112137546753, 179.99991416931152, 85.0511287798066, 180.0},
    {22, 4194303, 4194303, -85.0511287798066, 179.99991416931152, -85.05112137546753, 180.0},
    {23, 0, 0, 85.05112507763845, -180.0, 85.0511287798066, -179.99995708465576},
    {23, 0, 8388607, -85.0511287798066, -180.0, -85.05112507763845, -179.99995708465576},
    {23, 707979, 1639893, 73.20818695702036, -149.61683750152588, 73.20819935504441,
     -149.61679458618164},
    {23, 1063152, 7436474, -79.9219522150039, -134.3744659423828, -79.92194470526597,
     -134.37442302703857},
    {23, 4194303, 4194303, 0.0, -4.291534424033895e-05, 4.291534424033494e-05, 0.0},
    {23, 4194304, 4194304, -4.291534424033494e-05, 0.0, 0.0, 4.291534424033895e-05},
    {23, 4650401, 7589103, -81.00593591791694, 19.573559761047353, -81.00592920886693,
     19.573602676391594},
    {23, 5462890, 3345430, 34.19735670234113, 54.441804885864265, 34.19739219789403,
     54.44184780120851},
    {23, 7586253, 467509, 82.98043577278567, 145.56665897369385, 82.9804410173929,
     145.5667018890381},
    {23, 8020118, 4154974, 1.687573519623558, 164.18612480163574, 1.6876164163536838,
     164.18616771698},
    {23, 8388607, 0, 85.05112507763845, 179.99995708465576, 85.0511287798066, 180.0},
    {23, 8388607, 8388607, -85.0511287798066, 179.99995708465576, -85.05112507763845, 180.0},
    {24, 0, 0, 85.05112692872287, -180.0, 85.0511287798066, -179.99997854232788},
    {24, 0, 16777215, -85.0511287798066, -180.0, -85.05112692872287, -179.99997854232788},
    {24, 8074496, 14372661, -77.85943304972635, -6.740112304687504, -77.85942853694517,
     -6.7400908470153835},
    {24, 8388607, 8388607, 0.0, -2.1457672120169475e-05, 2.1457672120168974e-05, 0.0},
    {24, 8388608, 8388608, -2.1457672120168974e-05, 0.0, 0.0, 2.1457672120169475e-05},
    {24, 8710471, 6797742, 32.2793139875551, 6.906430721282973, 32.27933212904303,
     6.906452178955093},
    {24, 10602522, 2434243, 77.72471784496082, 47.5054407119751, 77.72472240705123,
     47.50546216964722},
    {24, 13165563, 14835021, -79.77853724435658, 102.50233411788939, -79.77853343661894,
     102.50235557556152},
    {24, 13980019, 4080955, 67.46390480138665, 119.9786639213562, 67.46391302536811,
     119.97868537902833},
    {24, 15016555, 4601468, 62.778636052992724, 142.22031354904178, 62.77864586836403,
     142.22033500671387},
    {24, 16777215, 0, 85.05112692872287, 179.9999785423279, 85.0511287798066, 180.0},
    {24, 16777215, 16777215, -85.0511287798066, 179.9999785423279, -85.05112692872287, 180.0},
    {25, 0, 0, 85.05112785426482, -180.0, 85.0511287798066, -179.99998927116394},
    {25, 0, 33554431, -85.0511287798066, -180.0, -85.05112785426482, -179.99998927116394},
    {25, 4907051, 14273370, 25.92999908767836, -127.35305428504944, 25.930008736430885,
     -127.35304355621338},
    {25, 9211000, 31389220, -82.58261267362535, -81.17669105529785, -82.58261128856972,
     -81.17668032646179},
    {25, 9595158, 16985779, -2.237080354841776, -77.05512285232543, -2.2370696341824976,
     -77.05511212348938},
    {25, 10364737, 24574144, -63.851266398806196, -68.79843592643736, -63.85126167057731,
     -68.79842519760132},
    {25, 14736289, 6316651, 73.94495161102093, -21.896771192550656, 73.94495457819599,
     -21.89676046371461},
    {25, 16777215, 16777215, 0.0, -1.0728836043352312e-05, 1.0728836043352249e-05, 0.0},
    {25, 16777216, 16777216, -1.0728836043352249e-05, 0.0, 0.0, 1.0728836043352312e-05},
    {25, 20319226, 8210761, 67.2621834786627, 38.00164461135865, 67.26218762551687,
     38.001655340194695},
    {25, 33554431, 0, 85.05112785426482, 179.9999892711639, 85.0511287798066, 180.0},
    {25, 33554431, 33554431, -85.0511287798066, 179.9999892711639, -85.05112785426482, 180.0},
    {26, 0, 0, 85.05112831703573, -180.0, 85.0511287798066, -179.99999463558197},
    {26, 0, 67108863, -85.0511287798066, -180.0, -85.05112831703573, -179.99999463558197},
    {26, 21671607, 57917877, -78.33212366731627, -63.744440674781806, -78.33212258242573,
     -63.74443531036376},
    {26, 21849997, 30026139, 18.592094071280773, -62.787482142448425, 18.5920991557427,
     -62.78747677803038},
    {26, 33554431, 33554431, 0.0, -5.364418038408582e-06, 5.364418038408573e-06, 0.0},
    {26, 33554432, 33554432, -5.364418038408573e-06, 0.0, 0.0, 5.364418038408582e-06},
    {26, 47864027, 42751778, -44.173474537489795, 76.76264941692352, -44.17347068995048,
     76.76265478134155},
    {26, 53453132, 65399034, -84.19330938053173, 106.7449450492859, -84.19330883780027,
     106.7449504137039},
    {26, 54198427, 45515398, -53.854573843299754, 110.7430189847946, -53.854570679168596,
     110.74302434921265},
    {26, 56542771, 26272404, 36.34767108013892, 123.31906020641328, 36.34767540083119,
     123.31906557083128},
    {26, 67108863, 0, 85.05112831703573, 179.999994635582, 85.0511287798066, 180.0},
    {26, 67108863, 67108863, -85.0511287798066, 179.999994635582, -85.05112831703573, 180.0},
    {27, 0, 0, 85.05112854842118, -180.0, 85.0511287798066, -179.99999731779099},
    {27, 0, 134217727, -85.0511287798066, -180.0, -85.05112854842118, -179.99999731779099},
    {27, 4853844, 103171707, -69.05444980489168, -166.98097586631775, -69.05444884605403,
     -166.98097318410876},
    {27, 5229909, 90725730, -53.369149947288065, -165.97229093313217, -53.36914834692912,
     -165.97228825092313},
    {27, 17257929, 30292928, 69.7647653668219, -133.71062725782394, 69.76476629453165,
     -133.71062457561493},
    {27, 24748145, 98234630, -63.77794376536151, -113.6203023791313, -63.77794258022414,
     -113.6202996969223},
    {27, 67108863, 67108863, 0.0, -2.682209002471865e-06, 2.682209002471864e-06, 0.0},
    {27, 67108864, 67108864, -2.682209002471864e-06, 0.0, 0.0, 2.682209002471865e-06},
    {27, 88985786, 79310358, -31.080042155221165, 58.67847740650177, -31.0800398580514,
     58.67848008871079},
    {27, 123123496, 118234570, -79.56425238526099, 150.24295091629028, -79.56425189942503,
     150.24295359849933},
    {27, 134217727, 0, 85.05112854842118, 179.99999731779096, 85.0511287798066, 180.0},
    {27, 134217727, 134217727, -85.0511287798066, 179.99999731779096, -85.05112854842118, 180.0},
    {28, 0, 0, 85.05112866411389, -180.0, 85.0511287798066, -179.9999986588955},
    {28, 0, 268435455, -85.0511287798066, -180.0, -85.05112866411389, -179.9999986588955},
    {28, 45130048, 142573732, -11.135504193337175, -119.47588920593262, -11.135502877481423,
     -119.47588786482811},
    {28, 69554611, 226695984, -76.90282453258204, -86.71999767422678, -76.90282422868336,
     -86.71999633312227},
    {28, 97469661, 145194642, -14.561843923675516, -49.28299829363822, -14.561842625651536,
     -49.28299695253372},
    {28, 122703915, 56253118, 71.68150319955924, -15.441226512193696, 71.68150362106697,
     -15.44122517108918},
    {28, 134217727, 134217727, 0.0, -1.3411045179683585e-06, 1.3411045179683583e-06, 0.0},
    {28, 134217728, 134217728, -1.3411045179683583e-06, 0.0, 0.0, 1.3411045179683585e-06},
    {28, 138839658, 217941581, -73.95953698271502, 6.198491156101234, -73.95953661214621,
     6.198492497205718},
    {28, 145986187, 21253744, 81.86983353205241, 15.782733410596837, 81.86983372171471,
     15.782734751701355},
    {28, 268435455, 0, 85.05112866411389, 179.9999986588955, 85.0511287798066, 180.0},
    {28, 268435455, 268435455, -85.0511287798066, 179.9999986588955, -85.05112866411389, 180.0},
    {29, 0, 0, 85.05112872196024, -180.0, 85.0511287798066, -179.99999932944775},
    {29, 0, 536870911, -85.0511287798066, -180.0, -85.05112872196024, -179.99999932944775},
    {29, 18072925, 95096932, 75.01557838058747, -167.88115940988064, 75.01557855396305,
     -167.88115873932838},
    {29, 77754046, 288754324, -13.498239120622124, -127.86184921860695, -13.498238468592449,
     -127.8618485480547},
    {29, 160382615, 531085639, -84.70492874385117, -72.4550760537386, -84.70492868196929,
     -72.45507538318634},
    {29, 196864158, 456680688, -77.39328647450057, -47.99229517579079, -77.39328632814744,
     -47.99229450523854},
    {29, 268435455, 268435455, 0.0, -6.705522422517532e-07, 6.705522422517532e-07, 0.0},
    {29, 268435456, 268435456, -6.705522422517532e-07, 0.0, 0.0, 6.705522422517532e-07},
    {29, 299640865, 61768618, 79.82384356044626, 20.924857333302512, 79.82384367891618,
     20.924858003854755},
    {29, 351165661, 96059312, 74.84781443950399, 55.474925413727746, 74.84781461477546,
     55.47492608428002},
    {29, 536870911, 0, 85.05112872196024, 179.99999932944775, 85.0511287798066, 180.0},
    {29, 536870911, 536870911, -85.0511287798066, 179.99999932944775, -85.05112872196024, 180.0},
};

TEST(Quadkey, BoundsMatchPostgisTileEnvelope) {
    for (const TileEnvelopeCase& t : kTileEnvelope) {
        QuadkeyCode c;
        ASSERT_EQ(quadkey_from_tile(t.z, t.x, t.y, &c), Status::Ok);
        const LatLonBox b = quadkey_bounds(c);
        EXPECT_NEAR(b.min_lat, t.min_lat, 1e-9) << t.z << "/" << t.x << "/" << t.y;
        EXPECT_NEAR(b.min_lon, t.min_lon, 1e-9) << t.z << "/" << t.x << "/" << t.y;
        EXPECT_NEAR(b.max_lat, t.max_lat, 1e-9) << t.z << "/" << t.x << "/" << t.y;
        EXPECT_NEAR(b.max_lon, t.max_lon, 1e-9) << t.z << "/" << t.x << "/" << t.y;
    }
}

TEST(Quadkey, BoundsMatchFormulaAndCenterInside) {
    std::mt19937_64 rng(9);
    for (int i = 0; i < 100000; ++i) {
        const int z = static_cast<int>(rng() % (kQuadkeyMaxLevel + 1));
        const std::uint32_t n = std::uint32_t{1} << z;
        const std::uint32_t x = static_cast<std::uint32_t>(rng() % n),
                            y = static_cast<std::uint32_t>(rng() % n);
        QuadkeyCode c;
        ASSERT_EQ(quadkey_from_tile(z, x, y, &c), Status::Ok);
        const LatLonBox b = quadkey_bounds(c);
        const double pi = 3.14159265358979323846;
        auto lat_of = [&](double yy) {
            return std::atan(std::sinh(pi * (1 - 2 * yy / n))) * 180 / pi;
        };
        ASSERT_NEAR(b.min_lon, static_cast<double>(x) / n * 360 - 180, 1e-12);
        ASSERT_NEAR(b.max_lon, static_cast<double>(x + 1) / n * 360 - 180, 1e-12);
        ASSERT_NEAR(b.max_lat, lat_of(y), 1e-12);
        ASSERT_NEAR(b.min_lat, lat_of(y + 1.0), 1e-12);
        ASSERT_LT(b.min_lat, b.max_lat);
        ASSERT_LT(b.min_lon, b.max_lon);
        const LatLon ctr = quadkey_center(c);
        ASSERT_LT(b.min_lat, ctr.lat);
        ASSERT_LT(ctr.lat, b.max_lat);
        ASSERT_LT(b.min_lon, ctr.lon);
        ASSERT_LT(ctr.lon, b.max_lon);
        QuadkeyCode back;
        ASSERT_EQ(quadkey_from_latlon(ctr.lat, ctr.lon, z, &back), Status::Ok);
        ASSERT_EQ(back, c);
        // The centre is the Mercator midpoint: y halfway between the edges in unit space.
        ASSERT_NEAR(mercator_y(ctr.lat) * n, y + 0.5, 1e-4);
        // Corners built from bounds() land where the half-open rule says.
        ASSERT_EQ(quadkey_from_latlon(b.max_lat, b.min_lon, z, &back), Status::Ok);
        ASSERT_EQ(back, c);
    }
    QuadkeyCode world = 0;
    const LatLonBox w = quadkey_bounds(world);
    EXPECT_EQ(w.min_lon, -180);
    EXPECT_EQ(w.max_lon, 180);
    EXPECT_NEAR(w.max_lat, 85.0511287798066, 1e-12);
    EXPECT_EQ(w.min_lat, -w.max_lat);
    EXPECT_EQ(quadkey_center(world).lat, 0);
    EXPECT_EQ(quadkey_center(world).lon, 0);
}

TEST(Quadkey, Neighbors) {
    QuadkeyCode out[8];
    EXPECT_EQ(quadkey_neighbors(0, out), 0);
    // Level 1: 2 x 2 cells; east and west wrap to the same cell, one row has no north.
    QuadkeyCode c = parse_ok("0");
    ASSERT_EQ(quadkey_neighbors(c, out), 3);
    EXPECT_EQ(text_of(out[0]), "1");  // E (W is the same cell)
    EXPECT_EQ(text_of(out[1]), "3");  // SE
    EXPECT_EQ(text_of(out[2]), "2");  // S (SW is the same as SE)
    c = parse_ok("3");
    ASSERT_EQ(quadkey_neighbors(c, out), 3);
    EXPECT_EQ(text_of(out[0]), "1");  // N
    EXPECT_EQ(text_of(out[1]), "0");  // NE
    EXPECT_EQ(text_of(out[2]), "2");  // E
    // Level 2, Bing's picture: "12" is x 2, y 1; all eight around it in order.
    c = parse_ok("12");
    ASSERT_EQ(quadkey_neighbors(c, out), 8);
    const char* want[8] = {"10", "11", "13", "31", "30", "21", "03", "01"};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(text_of(out[i]), want[i]) << i;

    static constexpr int kDx[8] = {0, 1, 1, 1, 0, -1, -1, -1};
    static constexpr int kDy[8] = {-1, -1, 0, 1, 1, 1, 0, -1};
    std::mt19937_64 rng(10);
    for (int i = 0; i < 100000; ++i) {
        const int z = 2 + static_cast<int>(rng() % (kQuadkeyMaxLevel - 1));
        const std::int64_t n = std::int64_t{1} << z;
        std::int64_t x = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
        std::int64_t y = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
        if (i % 4 == 0) y = i % 8 == 0 ? 0 : n - 1;  // polar rows
        if (i % 3 == 0) x = i % 6 == 0 ? 0 : n - 1;  // antimeridian columns
        ASSERT_EQ(quadkey_from_tile(z, x, y, &c), Status::Ok);
        const int cnt = quadkey_neighbors(c, out);
        ASSERT_EQ(cnt, (y == 0 || y == n - 1) ? 5 : 8);
        int j = 0;
        for (int d = 0; d < 8; ++d) {
            const std::int64_t ny = y + kDy[d];
            if (ny < 0 || ny >= n) continue;
            const std::int64_t nx = (x + kDx[d] + n) % n;
            QuadkeyCode want_c;
            ASSERT_EQ(quadkey_from_tile(z, nx, ny, &want_c), Status::Ok);
            ASSERT_EQ(out[j++], want_c);
        }
        ASSERT_EQ(j, cnt);
    }
}

}  // namespace
}  // namespace geocluster
