// libFuzzer target: geohash text and raw 8-byte values.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I../../src/core \
//       fuzz_geohash_parse.cpp ../../src/core/geohash.cpp ../../src/core/quadkey.cpp -o
//       fuzz_geohash_parse
//   ./fuzz_geohash_parse -max_total_time=20 corpus/fuzz_geohash_parse
//
// Parsed text must format back to its lower-case self; a raw uint64 that geohash_is_valid
// accepts must survive a round trip; operations keep their invariants.
#include "geohash.hpp"

#include <cctype>
#include <cstdlib>
#include <cstring>

using namespace geocluster;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void exercise(GeohashCode c) {
    check(geohash_is_valid(c));
    char buf[kGeohashTextBufSize];
    const std::size_t n = geohash_format(c, buf);
    check(n == static_cast<std::size_t>(geohash_precision(c)) && buf[n] == '\0');
    GeohashCode back = 0;
    check(geohash_parse(buf, n, &back) == Status::Ok && back == c);
    check(geohash_contains(c, c) && geohash_contains(0, c));
    check(c <= geohash_range_max(c) && geohash_contains(c, geohash_range_max(c)));
    const int p = geohash_precision(c);
    for (int l = 0; l <= p; ++l) {
        GeohashCode par = 0;
        check(geohash_parent(c, l, &par) == Status::Ok && geohash_contains(par, c) && par <= c);
    }
    GeohashCode kids[32];
    if (geohash_children(c, kids) == Status::Ok) {
        for (GeohashCode k : kids) check(geohash_contains(c, k) && !geohash_contains(k, c));
    }
    const LatLonBox b = geohash_bounds(c);
    check(b.min_lat < b.max_lat && b.min_lon < b.max_lon);
    // The south-west corner and the centre belong to the cell.
    check(geohash_from_latlon(b.min_lat, b.min_lon, p, &back) == Status::Ok && back == c);
    const LatLon ctr = geohash_center(c);
    check(geohash_from_latlon(ctr.lat, ctr.lon, p, &back) == Status::Ok && back == c);
    GeohashCode nb[8];
    const int cnt = geohash_neighbors(c, nb);
    check(cnt >= 0 && cnt <= 8);
    for (int i = 0; i < cnt; ++i) check(nb[i] != c && geohash_precision(nb[i]) == p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    GeohashCode c = 0;
    const Status s = geohash_parse(reinterpret_cast<const char*>(data), size, &c);
    if (s == Status::Ok) {
        exercise(c);
        char buf[kGeohashTextBufSize];
        check(geohash_format(c, buf) == size);
        for (std::size_t i = 0; i < size; ++i) check(buf[i] == std::tolower(data[i]));
    } else {
        check(s == Status::GeohashBadChar || s == Status::GeohashTooLong);
        check((s == Status::GeohashTooLong) == (size > kGeohashTextMax));
    }
    if (size >= 8) {
        GeohashCode raw;
        std::memcpy(&raw, data, 8);
        if (geohash_is_valid(raw)) exercise(raw);
    }
    return 0;
}
