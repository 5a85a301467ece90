// markers_gen: the benchmark dataset, deterministic given a seed.
//
//   markers_gen --seed S --first A --last B    COPY text rows for ids A..B (inclusive) on stdout
//   markers_gen --selftest                     checks the quadkey test vector and the math below
//
// Each row is a pure function of (seed, id): row i draws from its own PRNG stream, seeded by
// hashing (seed, i). So any id range can be generated alone (parallel loads, a 1M dataset is the
// first 1M rows of the 10M one) and two generations with the same seed are byte-identical.
//
// Columns (tab separated, PostgreSQL COPY text format):
//   id       bigint, 1..N
//   lat, lon float8 degrees, on a 1e-7 degree grid (printed exactly as 7 decimals)
//   geohash  varchar(12), PostGIS' ST_GeoHash(geom, 12) (ties go north/east, as in PostGIS 3)
//   quadkey  bigint, the bigint quadkey schema's quadkey at zoom 23 (Bing tile math, base-4 digits
//   read as an
//            integer: digit = x bit + 2 * y bit, most significant digit first)
//   geom     geometry(Point, 4326) as hex EWKB, so the server only parses, never recomputes
//
// Why no libm and no <random>: std:: distributions differ between standard libraries, and libm's
// sin/log may differ in the last bit between versions, which would move a point on a tile border to
// the next quadkey. Everything here uses +, -, *, / and floor, which IEEE 754 rounds exactly, and
// the series below, evaluated in a fixed order. Build with -ffp-contract=off (no fused
// multiply-add) so every machine rounds the same way.
//
// The world model (numbers in the tables below are coarse, hand-made, and part of the dataset):
//   ~84%  cities: 3000 centres in land boxes, Zipf sizes (rank k gets weight 1/k), each a mix of a
//         dense downtown, a core and a wide metro ring (sum-of-uniforms gaussians, sigma 2-30 km)
//   12%   sparse rural background, uniform inside the land boxes
//   1.5%  oceans: thin shipping lanes (one crosses the antimeridian) and islands; the rest is empty
//   0.6%  clusters on the antimeridian (Fiji, Chukotka, Tonga, one straddling lon 180 exactly)
//   0.6%  high latitudes: 64-83 deg north, Antarctic stations, drift camps beyond 85.05 deg and a
//         cluster at the South Pole (Web Mercator cannot show these; tile math clamps them)
//   0.3%  geocoder artefacts: many rows on exactly the same point (country centroids, 0/0)
//   1%    exact duplicates of an earlier row
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

namespace {

// ---------------------------------------------------------------------------------------------
// PRNG: splitmix64 to hash (seed, id) into a state, xoshiro256** for the draws.

std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

class Rng {
  public:
    // stream 0 is the world model; stream id (>= 1) is row id.
    Rng(std::uint64_t seed, std::uint64_t stream) {
        std::uint64_t x = seed;
        std::uint64_t h = splitmix64(x) ^ (stream * 0xD1B54A32D192ED03ULL);
        for (auto& w : s_) w = splitmix64(h);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    std::uint64_t below(std::uint64_t n) { return next() % n; }  // bias < n / 2^64: irrelevant here
    // Standard normal approximated by the sum of four uniforms (Irwin-Hall, variance 1/3, tails
    // cut at 3.46 sigma): no log/cos, so bit-identical everywhere.
    double gauss() {
        return (uniform() + uniform() + uniform() + uniform() - 2.0) * 1.7320508075688772;
    }

  private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::uint64_t s_[4];
};

// ---------------------------------------------------------------------------------------------
// Deterministic math (see the header comment). Accurate to a few ulp, checked by --selftest.

constexpr double kPi = 3.14159265358979323846;
constexpr double kDegToRad = kPi / 180.0;
constexpr double kKmPerDegree = 111.19492664455873;  // 2 * pi * 6371 km / 360
constexpr double kMercatorMaxLat = 85.05112878;      // Bing's clamp, see src/core/mercator.hpp

// sin(x) for |x| <= pi/2 by its Taylor series (terms to x^27: error < 1e-22 at pi/2).
double det_sin(double x) {
    const double x2 = x * x;
    double term = x, sum = x;
    for (int k = 1; k <= 13; ++k) {
        term = -term * x2 / static_cast<double>((2 * k) * (2 * k + 1));
        sum += term;
    }
    return sum;
}

double det_cos(double x) {
    const double x2 = x * x;
    double term = 1.0, sum = 1.0;
    for (int k = 1; k <= 13; ++k) {
        term = -term * x2 / static_cast<double>((2 * k - 1) * (2 * k));
        sum += term;
    }
    return sum;
}

// log(x) for finite x > 0: x = m * 2^e with m in [sqrt(1/2), sqrt(2)) (frexp and the scaling are
// exact), then log(m) = 2 atanh(u), u = (m - 1) / (m + 1), |u| < 0.172.
double det_log(double x) {
    int e = 0;
    double m = std::frexp(x, &e);
    if (m < 0.70710678118654752) {
        m *= 2.0;
        e -= 1;
    }
    const double u = (m - 1.0) / (m + 1.0), u2 = u * u;
    double power = u, sum = u;
    for (int k = 1; k <= 15; ++k) {
        power *= u2;
        sum += power / static_cast<double>(2 * k + 1);
    }
    return 2.0 * sum + static_cast<double>(e) * 0.69314718055994530942;
}

// ---------------------------------------------------------------------------------------------
// Baseline columns.

// the bigint quadkey schema (TileSystem.php, after Bing Maps): pixel = (int) clip(v * mapSize +
// 0.5, 0, mapSize-1) with mapSize = 256 << 23, tile = pixel / 256, digits interleaved x (bit 0) and
// y (bit 1). The seed clips latitude at +-90; clamping at the Mercator limit first gives the same
// pixel (row 0 or the last row) and keeps the log finite.
std::int64_t quadkey23(double lat, double lon) {
    const double map_size = 2147483648.0;  // 256 << 23
    lat =
        lat > kMercatorMaxLat ? kMercatorMaxLat : (lat < -kMercatorMaxLat ? -kMercatorMaxLat : lat);
    const double s = det_sin(lat * kDegToRad);
    const double y = 0.5 - det_log((1.0 + s) / (1.0 - s)) / (4.0 * kPi);
    const double x = (lon + 180.0) / 360.0;
    auto pixel = [map_size](double v) {
        double p = v * map_size + 0.5;
        p = p < 0.0 ? 0.0 : (p > map_size - 1.0 ? map_size - 1.0 : p);
        return static_cast<std::uint64_t>(p);
    };
    const std::uint64_t tx = pixel(x) >> 8, ty = pixel(y) >> 8;
    std::uint64_t q = 0;
    for (int i = 22; i >= 0; --i) q = (q << 2) | (((tx >> i) & 1) | (((ty >> i) & 1) << 1));
    return static_cast<std::int64_t>(q);
}

// Geohash as PostGIS 3 computes it (lwalgorithm.c geohash_point): bits alternate lon, lat,
// starting with lon; a value on a midpoint goes to the upper half.
void geohash12(double lat, double lon, char out[12]) {
    static const char kBase32[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double lat_lo = -90.0, lat_hi = 90.0, lon_lo = -180.0, lon_hi = 180.0;
    bool even = true;
    for (int i = 0; i < 12; ++i) {
        int ch = 0;
        for (int bit = 4; bit >= 0; --bit) {
            if (even) {
                const double mid = (lon_lo + lon_hi) / 2;
                if (lon >= mid) {
                    ch |= 1 << bit;
                    lon_lo = mid;
                } else {
                    lon_hi = mid;
                }
            } else {
                const double mid = (lat_lo + lat_hi) / 2;
                if (lat >= mid) {
                    ch |= 1 << bit;
                    lat_lo = mid;
                } else {
                    lat_hi = mid;
                }
            }
            even = !even;
        }
        out[i] = kBase32[ch];
    }
}

// ---------------------------------------------------------------------------------------------
// The world model.

struct Box {
    double lat0, lat1, lon0, lon1, weight;
};

// Populated land, coarse. Weights are relative shares of city centres (and of rural background).
const Box kLand[] = {
    {25, 47, -98, -70, 9},       {32, 48, -124, -104, 4},   {14, 32, -117, -86, 4},
    {43, 54, -128, -60, 2},      {-35, -3, -60, -35, 5},    {-40, 11, -81, -66, 3},
    {36, 58, -10, 16, 10},       {44, 62, 16, 50, 6},       {24, 42, 26, 60, 4},
    {27, 37, -10, 32, 2},        {4, 15, -17, 10, 4},       {-12, 15, 29, 45, 3},
    {-35, -15, 15, 35, 2},       {-10, 5, 10, 30, 2},       {8, 32, 68, 90, 12},
    {21, 42, 100, 123, 13},      {7, 23, 95, 110, 4},       {-9, 18, 95, 126, 5},
    {31, 44, 125, 146, 5},       {-38, -17, 140, 154, 1.5}, {-35, -30, 114, 118, 0.3},
    {-47, -35, 166, 178.5, 0.5}, {37, 55, 55, 87, 1.5},     {50, 58, 60, 135, 1},
    {25, 37, 50, 75, 4},
};

// A named cluster: centre, gaussian sigma in km, relative weight within its group.
struct Place {
    double lat, lon, sigma_km, weight;
};

const Place kAntimeridian[] = {
    {-18.14, 178.44, 8, 3},     // Suva, Fiji
    {-16.83, 180.0, 6, 3},      // Taveuni, on the line itself: half its rows have lon < -179.9
    {64.73, 177.51, 5, 2},      // Anadyr
    {64.42, -173.23, 3, 1},     // Provideniya
    {66.32, -179.12, 3, 1},     // Egvekinot
    {71.0, -179.6, 4, 0.5},     // Wrangel Island
    {-8.52, 179.2, 2, 1},       // Funafuti, Tuvalu
    {-21.14, -175.2, 4, 1},     // Nuku'alofa, Tonga
    {-13.83, -171.76, 4, 1},    // Apia, Samoa
    {-13.28, -176.17, 2, 0.5},  // Wallis
};

const Place kHighLatitude[] = {
    {78.22, 15.65, 3, 2},      // Longyearbyen
    {78.92, 11.93, 1, 0.5},    // Ny-Alesund
    {68.97, 33.08, 8, 3},      // Murmansk
    {69.35, 88.2, 6, 2},       // Norilsk
    {69.65, 18.96, 4, 2},      // Tromso
    {64.18, -51.69, 3, 1},     // Nuuk
    {77.47, -69.23, 1, 0.3},   // Qaanaaq
    {82.5, -62.35, 1, 0.3},    // Alert
    {79.99, -85.93, 1, 0.2},   // Eureka
    {71.29, -156.79, 3, 1},    // Utqiagvik
    {71.64, 128.87, 2, 0.5},   // Tiksi
    {80.8, 47.65, 1, 0.2},     // Nagurskoye
    {-77.85, 166.67, 3, 0.5},  // McMurdo
    {-78.46, 106.84, 1, 0.1},  // Vostok
    {-67.57, -68.13, 1, 0.1},  // Rothera
    {89.5, 0.0, 60, 0.3},      // North Pole drift camps: beyond the Mercator limit
    {86.5, -40.0, 50, 0.2},    // ice stations north of Greenland: beyond the Mercator limit
    {-89.99, 0.0, 5, 0.3},     // South Pole station: beyond the Mercator limit
};

const Place kIslands[] = {
    {21.31, -157.86, 10, 3}, {37.74, -25.67, 5, 1},   {28.29, -16.63, 8, 2},
    {-20.16, 57.5, 6, 1},    {-21.11, 55.53, 6, 1},   {-17.53, -149.57, 4, 1},
    {13.44, 144.79, 4, 1},   {64.15, -21.94, 5, 2},   {-51.7, -57.85, 2, 0.3},
    {4.18, 73.51, 2, 0.5},   {-0.74, -90.31, 2, 0.3}, {32.3, -64.78, 2, 0.5},
    {14.93, -23.51, 3, 0.5}, {-4.62, 55.45, 2, 0.5},  {-27.11, -109.35, 1, 0.1},
};

// Geocoder artefacts: rows that land on exactly the same coordinates.
const Place kCentroids[] = {
    {39.8283, -98.5795, 0, 3}, {61.524, 105.3188, 0, 1}, {-14.235, -51.9253, 0, 1},
    {35.8617, 104.1954, 0, 2}, {20.5937, 78.9629, 0, 2}, {51.1657, 10.4515, 0, 1},
    {46.2276, 2.2137, 0, 1},   {0.0, 0.0, 0, 2},  // "Null Island": failed geocodes
};

// Shipping lanes: straight in lat/lon from (lat0, lon0) to (lat1, lon1); lon1 may pass 180 and is
// wrapped afterwards (the transpacific lane crosses the antimeridian).
struct Lane {
    double lat0, lon0, lat1, lon1, weight;
};
const Lane kLanes[] = {
    {40.5, -69, 49.5, -6, 3},       // North Atlantic
    {37.5, -123, 35.0, -220, 3},    // California - Japan, across the antimeridian
    {12.5, 44, 5.5, 95, 3},         // Gulf of Aden - Malacca
    {5, -5, -34.5, 18, 1},          // West Africa - Cape Town
    {-35.5, 153, -36.8, 174.5, 1},  // Tasman Sea
};

constexpr int kCities = 3000;
constexpr double kLaneJitterDeg = 0.25;

// Mixture shares, cumulative thresholds on one uniform draw per row.
constexpr double kPDuplicate = 0.010, kPCentroid = 0.003, kPAntimeridian = 0.006, kPHighLat = 0.006,
                 kPLane = 0.010, kPIsland = 0.005, kPBackground = 0.120;  // the rest: cities

enum Kind {
    kCity,
    kBackground,
    kLane,
    kIsland,
    kAntimeridianKind,
    kHighLatKind,
    kCentroid,
    kDuplicate,
    kKinds
};
const char* const kKindNames[kKinds] = {"city",         "background",    "lane",     "island",
                                        "antimeridian", "high_latitude", "centroid", "duplicate"};

struct City {
    double lat, lon, sigma_km, cos_lat;
};

// Cumulative weights for picking one of n items with a single uniform.
template <class T>
std::vector<double> cumulative(const T* items, std::size_t n) {
    std::vector<double> c(n);
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) c[i] = (s += items[i].weight);
    return c;
}

std::size_t pick(const std::vector<double>& cum, double u) {
    const double target = u * cum.back();
    std::size_t lo = 0, hi = cum.size() - 1;
    while (lo < hi) {
        const std::size_t mid = (lo + hi) / 2;
        if (cum[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

class World {
  public:
    explicit World(std::uint64_t seed) : seed_(seed) {
        land_cum_ = cumulative(kLand, std::size(kLand));
        anti_cum_ = cumulative(kAntimeridian, std::size(kAntimeridian));
        high_cum_ = cumulative(kHighLatitude, std::size(kHighLatitude));
        island_cum_ = cumulative(kIslands, std::size(kIslands));
        centroid_cum_ = cumulative(kCentroids, std::size(kCentroids));
        lane_cum_ = cumulative(kLanes, std::size(kLanes));
        // Rural background: land weight scaled by the square root of the box area.
        std::vector<Box> bg(std::begin(kLand), std::end(kLand));
        for (auto& b : bg) {
            double area = (b.lat1 - b.lat0) * (b.lon1 - b.lon0);
            double r = area;  // sqrt by Newton: deterministic, converges in a few steps
            for (int i = 0; i < 40; ++i) r = 0.5 * (r + area / r);
            b.weight *= r;
        }
        background_cum_ = cumulative(bg.data(), bg.size());

        Rng rng(seed, 0);
        cities_.reserve(kCities);
        zipf_cum_.reserve(kCities);
        double zsum = 0;
        for (int k = 1; k <= kCities; ++k) {
            const Box& b = kLand[pick(land_cum_, rng.uniform())];
            City c;
            c.lat = rng.uniform(b.lat0, b.lat1);
            c.lon = rng.uniform(b.lon0, b.lon1);
            // Big cities spread wider: 24 km for rank 1, ~5 km for rank 100, ~3 km for the tail.
            double inv_sqrt_k = 1.0 / static_cast<double>(k);
            double r = 1.0;
            for (int i = 0; i < 40; ++i) r = 0.5 * (r + inv_sqrt_k / r);
            c.sigma_km = 2.5 + 22.0 * r * rng.uniform(0.7, 1.3);
            c.cos_lat = det_cos(c.lat * kDegToRad);
            cities_.push_back(c);
            zipf_cum_.push_back(zsum += 1.0 / static_cast<double>(k));
        }
    }

    // One row. Returns its kind; lat/lon on the 1e-7 grid as integers.
    Kind row(std::uint64_t id, std::int64_t& lat_e7, std::int64_t& lon_e7) const {
        Kind kind = kCity;
        bool first = true;
        for (;;) {
            Rng rng(seed_, id);
            const double u = rng.uniform();
            double t = kPDuplicate;
            if (u < t && id > 1) {
                // A copy of an earlier row: generate that one instead (chains end at id 1).
                if (first) kind = kDuplicate;
                first = false;
                id = 1 + rng.below(id - 1);
                continue;
            }
            double lat, lon;
            Kind k;
            if (u < (t += kPCentroid)) {
                const Place& p = kCentroids[pick(centroid_cum_, rng.uniform())];
                lat = p.lat;
                lon = p.lon;
                k = kCentroid;
            } else if (u < (t += kPAntimeridian)) {
                place(rng, kAntimeridian[pick(anti_cum_, rng.uniform())], lat, lon);
                k = kAntimeridianKind;
            } else if (u < (t += kPHighLat)) {
                place(rng, kHighLatitude[pick(high_cum_, rng.uniform())], lat, lon);
                k = kHighLatKind;
            } else if (u < (t += kPIsland)) {
                place(rng, kIslands[pick(island_cum_, rng.uniform())], lat, lon);
                k = kIsland;
            } else if (u < (t += kPLane)) {
                const Lane& l = kLanes[pick(lane_cum_, rng.uniform())];
                const double f = rng.uniform();
                lat = l.lat0 + f * (l.lat1 - l.lat0) + kLaneJitterDeg * rng.gauss();
                lon = l.lon0 + f * (l.lon1 - l.lon0) + kLaneJitterDeg * rng.gauss();
                k = kLane;
            } else if (u < (t += kPBackground)) {
                const Box& b = kLand[pick(background_cum_, rng.uniform())];
                lat = rng.uniform(b.lat0, b.lat1);
                lon = rng.uniform(b.lon0, b.lon1);
                k = kBackground;
            } else {
                const City& c = cities_[pick(zipf_cum_, rng.uniform())];
                // Downtown (10%), core (55%), metro ring (35%).
                const double m = rng.uniform();
                const double sigma = c.sigma_km * (m < 0.10 ? 0.25 : (m < 0.65 ? 1.0 : 3.0));
                offset(rng, c.lat, c.lon, c.cos_lat, sigma, lat, lon);
                k = kCity;
            }
            if (first) kind = k;
            quantize(lat, lon, lat_e7, lon_e7);
            return kind;
        }
    }

  private:
    static void offset(Rng& rng, double lat_c, double lon_c, double cos_lat, double sigma_km,
                       double& lat, double& lon) {
        if (cos_lat < 0.01) cos_lat = 0.01;
        lat = lat_c + sigma_km * rng.gauss() / kKmPerDegree;
        lon = lon_c + sigma_km * rng.gauss() / (kKmPerDegree * cos_lat);
    }
    static void place(Rng& rng, const Place& p, double& lat, double& lon) {
        offset(rng, p.lat, p.lon, det_cos(p.lat * kDegToRad), p.sigma_km, lat, lon);
    }
    // Over a pole: come back down on the other side. Then wrap lon into [-180, 180) and round to
    // the 1e-7 grid.
    static void quantize(double lat, double lon, std::int64_t& lat_e7, std::int64_t& lon_e7) {
        if (lat > 90.0) {
            lat = 180.0 - lat;
            lon += 180.0;
        }
        if (lat < -90.0) {
            lat = -180.0 - lat;
            lon += 180.0;
        }
        lat_e7 = static_cast<std::int64_t>(std::floor(lat * 1e7 + 0.5));
        lon_e7 = static_cast<std::int64_t>(std::floor(lon * 1e7 + 0.5));
        const std::int64_t full = 3600000000LL, half = 1800000000LL;
        lon_e7 = ((lon_e7 + half) % full + full) % full - half;
        if (lat_e7 > 900000000LL) lat_e7 = 900000000LL;
        if (lat_e7 < -900000000LL) lat_e7 = -900000000LL;
    }

    std::uint64_t seed_;
    std::vector<double> land_cum_, background_cum_, anti_cum_, high_cum_, island_cum_,
        centroid_cum_, lane_cum_, zipf_cum_;
    std::vector<City> cities_;
};

// ---------------------------------------------------------------------------------------------
// Output.

char* put_uint(char* p, std::uint64_t v) {
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = static_cast<char>('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

// An e7 integer as an exact decimal with 7 places: the double the server parses is the correctly
// rounded value of the decimal, which equals e7 / 1e7 computed here (one IEEE division).
char* put_e7(char* p, std::int64_t v) {
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    p = put_uint(p, static_cast<std::uint64_t>(v / 10000000));
    *p++ = '.';
    std::int64_t frac = v % 10000000;
    for (std::int64_t d = 1000000; d; d /= 10) {
        *p++ = static_cast<char>('0' + frac / d);
        frac %= d;
    }
    return p;
}

char* put_hex_le(char* p, double d) {
    static const char kHex[] = "0123456789ABCDEF";
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; ++i) {
        const unsigned byte = static_cast<unsigned>((bits >> (8 * i)) & 0xFF);
        *p++ = kHex[byte >> 4];
        *p++ = kHex[byte & 15];
    }
    return p;
}

int generate(std::uint64_t seed, std::uint64_t first, std::uint64_t last) {
    const World world(seed);
    std::vector<char> buf(1 << 20);
    char* p = buf.data();
    char* const flush_at = buf.data() + buf.size() - 256;
    std::uint64_t kinds[kKinds] = {};
    for (std::uint64_t id = first; id <= last; ++id) {
        std::int64_t lat_e7, lon_e7;
        kinds[world.row(id, lat_e7, lon_e7)]++;
        const double lat = static_cast<double>(lat_e7) / 1e7,
                     lon = static_cast<double>(lon_e7) / 1e7;
        p = put_uint(p, id);
        *p++ = '\t';
        p = put_e7(p, lat_e7);
        *p++ = '\t';
        p = put_e7(p, lon_e7);
        *p++ = '\t';
        geohash12(lat, lon, p);
        p += 12;
        *p++ = '\t';
        p = put_uint(p, static_cast<std::uint64_t>(quadkey23(lat, lon)));
        *p++ = '\t';
        std::memcpy(p, "0101000020E6100000", 18);  // little endian, Point | SRID flag, SRID 4326
        p += 18;
        p = put_hex_le(p, lon);
        p = put_hex_le(p, lat);
        *p++ = '\n';
        if (p >= flush_at) {
            if (std::fwrite(buf.data(), 1, static_cast<std::size_t>(p - buf.data()), stdout) !=
                static_cast<std::size_t>(p - buf.data()))
                return 1;
            p = buf.data();
        }
    }
    if (std::fwrite(buf.data(), 1, static_cast<std::size_t>(p - buf.data()), stdout) !=
            static_cast<std::size_t>(p - buf.data()) ||
        std::fflush(stdout) != 0)
        return 1;
    // One JSON line of row counts per kind, for the dataset description.
    std::fprintf(stderr, "{");
    for (int k = 0; k < kKinds; ++k)
        std::fprintf(stderr, "%s\"%s\": %llu", k ? ", " : "", kKindNames[k],
                     static_cast<unsigned long long>(kinds[k]));
    std::fprintf(stderr, "}\n");
    return 0;
}

int selftest() {
    int failures = 0;
    auto check = [&failures](bool ok, const char* what) {
        if (!ok) {
            std::fprintf(stderr, "selftest: FAILED: %s\n", what);
            ++failures;
        }
    };
    // the bigint quadkey schema's worked example.
    check(quadkey23(43.653785705566406, -79.3778076171875) == 13940830302567LL,
          "quadkey of Toronto");
    check(quadkey23(85.0511287798, -180.0) == 0, "quadkey of the top-left corner");
    check(quadkey23(-89.0, 179.9999999) == (1LL << 46) - 1, "quadkey of the bottom-right corner");
    char gh[13] = {};
    geohash12(50.450101, 30.523401, gh);
    check(std::strcmp(gh, "u8vxn84mnu3q") == 0,
          "geohash of Kyiv (the geohash-prefix GROUP BY's example)");
    // The series against libm: a few ulp everywhere we use them.
    double worst_sin = 0, worst_log = 0;
    for (int i = -9000; i <= 9000; ++i) {
        const double x = i * (kPi / 2) / 9000.0;
        worst_sin = std::fmax(worst_sin, std::fabs(det_sin(x) - std::sin(x)));
        worst_sin = std::fmax(worst_sin, std::fabs(det_cos(x) - std::cos(x)));
    }
    for (int i = 1; i <= 20000; ++i) {
        const double x = i * 0.37 / 7.0 + 1e-9 * i;
        worst_log = std::fmax(worst_log, std::fabs(det_log(x) - std::log(x)) /
                                             std::fmax(1.0, std::fabs(std::log(x))));
    }
    check(worst_sin < 1e-15, "det_sin/det_cos within 1e-15 of libm");
    check(worst_log < 1e-15, "det_log within 1e-15 of libm (relative)");
    std::fprintf(stderr, "selftest: %s (sin/cos max err %.2g, log max rel err %.2g)\n",
                 failures ? "FAILED" : "ok", worst_sin, worst_log);
    return failures ? 1 : 0;
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: markers_gen --seed S --first A --last B | --selftest\n");
    std::exit(2);
}

std::uint64_t parse_u64(const char* s) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s, &end, 10);
    if (!*s || *end) usage();
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::uint64_t seed = 1, first = 1, last = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--selftest") return selftest();
        if (i + 1 >= argc) usage();
        if (a == "--seed")
            seed = parse_u64(argv[++i]);
        else if (a == "--first")
            first = parse_u64(argv[++i]);
        else if (a == "--last")
            last = parse_u64(argv[++i]);
        else
            usage();
    }
    if (first < 1 || last < first) usage();
    return generate(seed, first, last);
}
