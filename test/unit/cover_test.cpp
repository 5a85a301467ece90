// Covers: the cover of a box is exactly the set of cells its points are assigned to.
#include "cover.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace geocluster {
namespace {

struct Kind {
    bool quadkey;
    int level;
};

Status cover_count(const Kind& k, const LatLonBox& b, std::uint64_t* n) {
    return k.quadkey ? quadkey_cover_count(b, k.level, n) : geohash_cover_count(b, k.level, n);
}

Status cover(const Kind& k, const LatLonBox& b, std::vector<std::uint64_t>* out) {
    std::uint64_t n = 0;
    const Status s = cover_count(k, b, &n);
    if (s != Status::Ok) return s;
    out->assign(static_cast<std::size_t>(n), 0);
    std::size_t written = 0;
    const Status f = k.quadkey ? quadkey_cover_fill(b, k.level, out->data(), out->size(), &written)
                               : geohash_cover_fill(b, k.level, out->data(), out->size(), &written);
    EXPECT_EQ(written, out->size());
    return f;
}

std::uint64_t cell_of(const Kind& k, double lat, double lon) {
    std::uint64_t c = 0;
    const Status s = k.quadkey ? quadkey_from_latlon(lat, lon, k.level, &c)
                               : geohash_from_latlon(lat, lon, k.level, &c);
    EXPECT_EQ(s, Status::Ok);
    return c;
}

// Does cell c own at least one point of the box? Decided from the cell's bounds and the
// ownership rules, independently of the cover code: quadkey columns own [west, east) and
// rows (south, north] (the outermost ones extended to the poles and to lon 180); geohash
// cells own [south, north) x [west, east) (the last ones also 90 and 180).
bool cell_meets_box(const Kind& k, std::uint64_t c, const LatLonBox& box) {
    LatLonBox b;
    bool last_col, first_row, last_row;
    if (k.quadkey) {
        b = quadkey_bounds(c);
        const QuadkeyTile t = quadkey_to_tile(c);
        const std::uint32_t last = (std::uint32_t{1} << t.zoom) - 1;
        last_col = t.x == last;
        first_row = t.y == 0;
        last_row = t.y == last;
    } else {
        b = geohash_bounds(c);
        last_col = b.max_lon == 180;
        first_row = false;
        last_row = false;
    }
    auto lon_meets = [&](double lo, double hi) {  // box lon interval [lo, hi]
        return b.min_lon <= hi && (lo < b.max_lon || (last_col && lo <= b.max_lon));
    };
    const bool lon_ok = box.min_lon <= box.max_lon
                            ? lon_meets(box.min_lon, box.max_lon)
                            : lon_meets(box.min_lon, 180) || lon_meets(-180, box.max_lon);
    bool lat_ok;
    if (k.quadkey) {
        const double north = first_row ? 90 : b.max_lat;
        const double south = last_row ? -90 : b.min_lat;
        lat_ok =
            box.min_lat <= north && (box.max_lat > south || (last_row && box.max_lat >= south));
    } else {
        lat_ok = b.min_lat <= box.max_lat &&
                 (box.min_lat < b.max_lat || (b.max_lat == 90 && box.min_lat <= 90));
    }
    return lon_ok && lat_ok;
}

// Random boxes that like to sit on cell edges, poles and the antimeridian.
LatLonBox random_box(std::mt19937_64& rng, const Kind& k) {
    std::uniform_real_distribution<double> u(0, 1);
    const int level = k.level;
    auto snap = [&](double v, double lo, double span, int bits) {
        const double step = span / std::ldexp(1.0, bits);
        return lo + std::floor((v - lo) / step) * step;
    };
    // A width of a few cells keeps covers small.
    const int lon_bits = k.quadkey ? level : geohash_lon_bits(level);
    const int lat_bits = k.quadkey ? level : geohash_lat_bits(level);
    const double cw = 360.0 / std::ldexp(1.0, lon_bits), ch = 180.0 / std::ldexp(1.0, lat_bits);
    double lon0 = -180 + 360 * u(rng), lon1 = lon0 + std::min(360.0, cw * 6) * u(rng);
    double lat0 = -90 + 180 * u(rng), lat1 = lat0 + ch * 6 * u(rng) * (k.quadkey ? 0.2 : 1);
    const int mode = static_cast<int>(rng() % 8);
    if (mode == 1 && !k.quadkey) {  // edges on geohash cell boundaries
        lon0 = snap(lon0, -180, 360, lon_bits);
        lon1 = snap(lon1, -180, 360, lon_bits);
        lat0 = snap(lat0, -90, 180, lat_bits);
        lat1 = snap(lat1, -90, 180, lat_bits);
    } else if (mode == 1 && k.quadkey) {  // edges on quadkey tile boundaries
        const std::uint32_t n = std::uint32_t{1} << level;
        const std::uint32_t x0 = static_cast<std::uint32_t>(rng() % (n + 1));
        const std::uint32_t y0 = static_cast<std::uint32_t>(rng() % (n + 1));
        lon0 = quadkey_column_edge_lon(level, x0);
        lon1 =
            quadkey_column_edge_lon(level, std::min(n, x0 + static_cast<std::uint32_t>(rng() % 4)));
        lat1 = quadkey_row_edge_lat(level, y0);
        lat0 = quadkey_row_edge_lat(level, std::min(n, y0 + static_cast<std::uint32_t>(rng() % 4)));
    } else if (mode == 2) {  // polar
        lat1 = 90;
        lat0 = 90 - 3 * ch * u(rng);
    } else if (mode == 3) {
        lat0 = -90;
        lat1 = -90 + 3 * ch * u(rng);
    } else if (mode == 4) {  // degenerate: a line or a point
        lon1 = lon0;
        if (rng() % 2) lat1 = lat0;
    }
    if (lon1 > 180) lon1 -= 360;           // crosses the antimeridian: min_lon > max_lon
    if (mode == 5) std::swap(lon0, lon1);  // sometimes an antimeridian box the long way round
    lat0 = std::max(-90.0, std::min(90.0, lat0));
    lat1 = std::max(-90.0, std::min(90.0, lat1));
    if (lat0 > lat1) std::swap(lat0, lat1);
    return LatLonBox{lat0, lon0, lat1, lon1};
}

double box_lon(std::mt19937_64& rng, const LatLonBox& b) {
    std::uniform_real_distribution<double> u(0, 1);
    const int pick = static_cast<int>(rng() % 6);
    if (pick == 0) return b.min_lon;
    if (pick == 1) return b.max_lon;
    if (b.min_lon <= b.max_lon)
        return std::min(b.max_lon, b.min_lon + (b.max_lon - b.min_lon) * u(rng));
    const double span = (180 - b.min_lon) + (b.max_lon + 180);
    const double v = b.min_lon + span * u(rng);
    if (pick == 2) return 180;
    if (pick == 3) return -180;
    return v > 180 ? std::min(b.max_lon, v - 360) : v;
}

double box_lat(std::mt19937_64& rng, const LatLonBox& b) {
    std::uniform_real_distribution<double> u(0, 1);
    const int pick = static_cast<int>(rng() % 5);
    if (pick == 0) return b.min_lat;
    if (pick == 1) return b.max_lat;
    return std::min(b.max_lat, b.min_lat + (b.max_lat - b.min_lat) * u(rng));
}

// Returns false when the box was skipped for being too large to check quickly.
void check_cover_cells(const Kind& k, const LatLonBox& box, std::mt19937_64& rng);

bool check_cover_properties(const Kind& k, const LatLonBox& box, std::mt19937_64& rng) {
    std::uint64_t count = 0;
    if (cover_count(k, box, &count) == Status::CoverTooLarge || count > 20000) return false;
    check_cover_cells(k, box, rng);
    return true;
}

void check_cover_cells(const Kind& k, const LatLonBox& box, std::mt19937_64& rng) {
    std::vector<std::uint64_t> cells;
    const Status s = cover(k, box, &cells);
    ASSERT_EQ(s, Status::Ok) << box.min_lat << " " << box.min_lon << " " << box.max_lat << " "
                             << box.max_lon;
    ASSERT_FALSE(cells.empty());
    for (std::size_t i = 1; i < cells.size(); ++i)
        ASSERT_LT(cells[i - 1], cells[i]);  // ascending, unique
    // Every point of the box (edges and corners included) has its cell in the cover.
    for (int i = 0; i < 200; ++i) {
        const double lat = box_lat(rng, box), lon = box_lon(rng, box);
        const std::uint64_t c = cell_of(k, lat, lon);
        ASSERT_TRUE(std::binary_search(cells.begin(), cells.end(), c))
            << "point " << lat << " " << lon << " level " << k.level << " box " << box.min_lat
            << " " << box.min_lon << " " << box.max_lat << " " << box.max_lon;
    }
    // Every cover cell owns a point of the box (minimality).
    for (std::uint64_t c : cells) {
        ASSERT_TRUE(cell_meets_box(k, c, box))
            << "level " << k.level << " box " << box.min_lat << " " << box.min_lon << " "
            << box.max_lat << " " << box.max_lon;
    }
    // Ranges: ascending, disjoint, each cell inside one; a range holds only descendants and
    // ancestors of cover cells; consecutive ranges could not have been merged.
    std::vector<CodeRange> ranges(cells.size());
    const std::size_t nr = k.quadkey
                               ? quadkey_cover_ranges(cells.data(), cells.size(), ranges.data())
                               : geohash_cover_ranges(cells.data(), cells.size(), ranges.data());
    ASSERT_GE(nr, 1u);
    ranges.resize(nr);
    std::size_t ci = 0;
    for (std::size_t r = 0; r < nr; ++r) {
        ASSERT_LE(ranges[r].lo, ranges[r].hi);
        if (r > 0) {
            ASSERT_LT(ranges[r - 1].hi, ranges[r].lo);
        }
        ASSERT_EQ(ranges[r].lo, cells[ci]);
        while (ci < cells.size() && cells[ci] <= ranges[r].hi) ++ci;
        const std::uint64_t last = cells[ci - 1];
        ASSERT_EQ(ranges[r].hi, k.quadkey ? quadkey_range_max(last) : geohash_range_max(last));
        if (ci < cells.size()) {
            const int level = k.level;
            const std::uint64_t unit = k.quadkey ? std::uint64_t{1} << (63 - 2 * level)
                                                 : std::uint64_t{1} << (64 - 5 * level);
            ASSERT_NE(cells[ci], last + unit);  // otherwise it belonged to this range
        }
    }
    ASSERT_EQ(ci, cells.size());
}

TEST(Cover, SmallExamples) {
    std::vector<std::uint64_t> cells;
    const LatLonBox world{-90, -180, 90, 180};
    ASSERT_EQ(cover(Kind{true, 0}, world, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_EQ(cells[0], 0u);
    ASSERT_EQ(cover(Kind{true, 2}, world, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 16u);
    for (std::size_t i = 0; i < 16; ++i) {
        char buf[kQuadkeyTextBufSize];
        quadkey_format(cells[i], buf);
        EXPECT_EQ(buf[0] - '0', static_cast<int>(i / 4));
        EXPECT_EQ(buf[1] - '0', static_cast<int>(i % 4));
    }
    std::vector<CodeRange> r(16);
    ASSERT_EQ(quadkey_cover_ranges(cells.data(), cells.size(), r.data()), 1u);
    EXPECT_EQ(r[0].lo, cells[0]);
    EXPECT_EQ(r[0].hi, 0x7FFFFFFFFFFFFFFDULL);
    ASSERT_EQ(cover(Kind{false, 1}, world, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 32u);
    ASSERT_EQ(cover(Kind{false, 0}, world, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 1u);
    EXPECT_EQ(cells[0], 0u);

    // A box whose west edge lies on the lon-0 tile edge at zoom 1 holds no point of the
    // western tiles: only the eastern ones ("1" and "3").
    ASSERT_EQ(cover(Kind{true, 1}, LatLonBox{-10, 0, 10, 20}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 2u);
    // Its east edge on lon 0 does include the eastern tiles (lon 0 belongs to them).
    ASSERT_EQ(cover(Kind{true, 1}, LatLonBox{-10, -20, 10, 0}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 4u);
    // Geohash: lat 0 belongs to the north; a box with max_lat 0 touches the northern row.
    ASSERT_EQ(cover(Kind{false, 1}, LatLonBox{-10, 1, 0, 2}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 2u);
    ASSERT_EQ(cover(Kind{false, 1}, LatLonBox{0, 1, 10, 2}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 1u);
    // Antimeridian: lon 170 .. -170 at zoom 2 is the last and the first column.
    ASSERT_EQ(cover(Kind{true, 2}, LatLonBox{1, 170, 2, -170}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 2u);
    // The long way round (min_lon > max_lon, nearly the whole world).
    ASSERT_EQ(cover(Kind{true, 2}, LatLonBox{1, -80, 2, -100}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 4u);
    // Quadkey latitudes beyond the Mercator limit fall into the polar rows.
    ASSERT_EQ(cover(Kind{true, 3}, LatLonBox{86, 0, 90, 1}, &cells), Status::Ok);
    ASSERT_EQ(cells.size(), 1u);
    QuadkeyTile t = quadkey_to_tile(cells[0]);
    EXPECT_EQ(t.y, 0u);
}

TEST(Cover, BadInputTable) {
    const double nan = std::nan(""), inf = HUGE_VAL;
    struct Case {
        LatLonBox box;
        int level;
        Status q, g;
    };
    const Case cases[] = {
        {{nan, 0, 1, 1}, 5, Status::BoxInvalid, Status::BoxInvalid},
        {{0, 0, 1, inf}, 5, Status::BoxInvalid, Status::BoxInvalid},
        {{0, -inf, 1, 1}, 5, Status::BoxInvalid, Status::BoxInvalid},
        {{-91, 0, 1, 1}, 5, Status::LatOutOfRange, Status::LatOutOfRange},
        {{0, 0, 90.5, 1}, 5, Status::LatOutOfRange, Status::LatOutOfRange},
        {{0, -181, 1, 1}, 5, Status::LonOutOfRange, Status::LonOutOfRange},
        {{0, 0, 1, 180.5}, 5, Status::LonOutOfRange, Status::LonOutOfRange},
        {{2, 0, 1, 1}, 5, Status::BoxInvalid, Status::BoxInvalid},
        {{0, 0, 1, 1}, -1, Status::ZoomOutOfRange, Status::PrecisionOutOfRange},
        {{0, 0, 1, 1}, 13, Status::Ok, Status::PrecisionOutOfRange},
        {{0, 0, 1, 1}, 30, Status::ZoomOutOfRange, Status::PrecisionOutOfRange},
        {{-90, -180, 90, 180},
         10,
         Status::CoverTooLarge,
         Status::CoverTooLarge},  // 4^10 > 1e6; 32^10
        {{-90, -180, 90, 180}, 9, Status::Ok, Status::CoverTooLarge},
    };
    for (const Case& c : cases) {
        std::uint64_t n = 0;
        EXPECT_EQ(quadkey_cover_count(c.box, c.level, &n), c.q) << c.level;
        EXPECT_EQ(geohash_cover_count(c.box, c.level, &n), c.g) << c.level;
        std::uint64_t one = 0;
        std::size_t written = 7;
        EXPECT_EQ(quadkey_cover_fill(c.box, c.level, &one, 0, &written),
                  c.q == Status::Ok ? Status::CoverTooLarge : c.q);
        EXPECT_EQ(written, 0u);
    }
    // The count is still reported with CoverTooLarge, and it is exact.
    std::uint64_t n = 0;
    EXPECT_EQ(quadkey_cover_count(LatLonBox{-90, -180, 90, 180}, 29, &n), Status::CoverTooLarge);
    EXPECT_EQ(n, std::uint64_t{1} << 58);
    EXPECT_EQ(geohash_cover_count(LatLonBox{-90, -180, 90, 180}, 12, &n), Status::CoverTooLarge);
    EXPECT_EQ(n, std::uint64_t{1} << 60);
    // Below the limit: 512 x 512 cells.
    EXPECT_EQ(quadkey_cover_count(LatLonBox{-90, -180, 90, 180}, 9, &n), Status::Ok);
    EXPECT_EQ(n, 262144u);
}

TEST(Cover, RandomBoxesQuadkey) {
    std::mt19937_64 rng(21);
    int checked = 0;
    for (int i = 0; i < 6000; ++i) {
        const Kind k{true, static_cast<int>(rng() % (kQuadkeyMaxLevel + 1))};
        checked += check_cover_properties(k, random_box(rng, k), rng);
        if (HasFatalFailure()) return;
    }
    EXPECT_GT(checked, 4500);
}

TEST(Cover, RandomBoxesGeohash) {
    std::mt19937_64 rng(22);
    int checked = 0;
    for (int i = 0; i < 6000; ++i) {
        const Kind k{false, static_cast<int>(rng() % (kGeohashMaxPrecision + 1))};
        checked += check_cover_properties(k, random_box(rng, k), rng);
        if (HasFatalFailure()) return;
    }
    EXPECT_GT(checked, 4500);
}

// Against brute force: at coarse levels, test every cell of the level for "owns a box
// point" and compare with the cover as a set.
TEST(Cover, EqualsBruteForceAtCoarseLevels) {
    std::mt19937_64 rng(23);
    for (int i = 0; i < 400; ++i) {
        const bool quad = i % 2 == 0;
        const Kind k{quad, quad ? static_cast<int>(rng() % 6) : static_cast<int>(rng() % 3)};
        const LatLonBox box = random_box(rng, k);
        std::vector<std::uint64_t> cells;
        ASSERT_EQ(cover(k, box, &cells), Status::Ok);
        std::vector<std::uint64_t> brute;
        if (quad) {
            const std::uint32_t n = std::uint32_t{1} << k.level;
            for (std::uint32_t x = 0; x < n; ++x) {
                for (std::uint32_t y = 0; y < n; ++y) {
                    QuadkeyCode c;
                    ASSERT_EQ(quadkey_from_tile(k.level, x, y, &c), Status::Ok);
                    if (cell_meets_box(k, c, box)) brute.push_back(c);
                }
            }
        } else {
            const std::uint64_t n = std::uint64_t{1} << (5 * k.level);
            for (std::uint64_t m = 0; m < n; ++m) {
                const GeohashCode c =
                    k.level == 0 ? 0
                                 : (m << (64 - 5 * k.level)) | static_cast<std::uint64_t>(k.level);
                if (cell_meets_box(k, c, box)) brute.push_back(c);
            }
        }
        std::sort(brute.begin(), brute.end());
        ASSERT_EQ(cells, brute) << "level " << k.level << " quad " << quad << " box " << box.min_lat
                                << " " << box.min_lon << " " << box.max_lat << " " << box.max_lon;
    }
}

TEST(Cover, RangesHoldOnlyDescendantsAndAncestors) {
    std::mt19937_64 rng(24);
    for (int i = 0; i < 300; ++i) {
        const Kind k{true, 2 + static_cast<int>(rng() % 4)};
        const LatLonBox box = random_box(rng, k);
        std::vector<std::uint64_t> cells;
        if (cover(k, box, &cells) != Status::Ok) continue;
        std::vector<CodeRange> ranges(cells.size());
        ranges.resize(quadkey_cover_ranges(cells.data(), cells.size(), ranges.data()));
        // All codes of levels 0..level+1 (at most 4^8 + ...): in a range <=> related to a cell
        // (descendant, or an ancestor that sorts inside the range).
        std::vector<QuadkeyCode> all{0};
        for (std::size_t j = 0; j < all.size(); ++j) {
            if (quadkey_level(all[j]) <= k.level) {
                QuadkeyCode kids[4];
                ASSERT_EQ(quadkey_children(all[j], kids), Status::Ok);
                all.insert(all.end(), kids, kids + 4);
            }
        }
        for (QuadkeyCode q : all) {
            bool in_range = false;
            for (const CodeRange& r : ranges) in_range = in_range || (r.lo <= q && q <= r.hi);
            bool descendant = false, ancestor = false;
            for (QuadkeyCode c : cells) {
                descendant = descendant || quadkey_contains(c, q);
                ancestor = ancestor || quadkey_contains(q, c);
            }
            if (descendant) {
                ASSERT_TRUE(in_range);
            }
            if (in_range) {
                ASSERT_TRUE(descendant || ancestor);
            }
        }
    }
}

TEST(Cover, FullRowsMergeIntoFewRanges) {
    // A box of whole level-1 quadrants: the four children of "0" form one range [00, 0333...].
    std::vector<std::uint64_t> cells;
    const LatLonBox nw{0.0001, -180, 85, -0.0001};
    ASSERT_EQ(cover(Kind{true, 8}, nw, &cells), Status::Ok);
    EXPECT_EQ(cells.size(), 128u * 128u);
    std::vector<CodeRange> r(cells.size());
    ASSERT_EQ(quadkey_cover_ranges(cells.data(), cells.size(), r.data()), 1u);
    QuadkeyCode zero;
    ASSERT_EQ(quadkey_parse("0", 1, &zero), Status::Ok);
    EXPECT_EQ(r[0].hi, quadkey_range_max(zero));
    // Mixed levels are not merged, overlapping ones are.
    QuadkeyCode a, b, c;
    ASSERT_EQ(quadkey_parse("0", 1, &a), Status::Ok);
    ASSERT_EQ(quadkey_parse("012", 3, &b), Status::Ok);
    ASSERT_EQ(quadkey_parse("1", 1, &c), Status::Ok);
    const QuadkeyCode mixed[3] = {a, b, c};
    CodeRange mr[3];
    ASSERT_EQ(quadkey_cover_ranges(mixed, 3, mr), 1u);  // "0", "1" are consecutive at level 1
    EXPECT_EQ(mr[0].hi, quadkey_range_max(c));
    EXPECT_EQ(quadkey_cover_ranges(mixed, 0, mr), 0u);
}

}  // namespace
}  // namespace geocluster
