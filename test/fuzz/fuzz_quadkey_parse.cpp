// libFuzzer target: quadkey text and raw 8-byte values.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I../../src/core \
//       fuzz_quadkey_parse.cpp ../../src/core/quadkey.cpp -o fuzz_quadkey_parse
//   ./fuzz_quadkey_parse -max_total_time=20 corpus/fuzz_quadkey_parse
//
// Any input is parsed as text; on success the code must be valid and format back to the
// same text, and every operation on it must keep the invariants. The first 8 bytes are also
// read as a raw uint64 (what a binary recv or a bigint cast would hand us): if
// quadkey_is_valid accepts it, it must survive a text round trip.
#include "quadkey.hpp"

#include <cstdlib>
#include <cstring>

using namespace geocluster;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void exercise(QuadkeyCode c) {
    check(quadkey_is_valid(c));
    char buf[kQuadkeyTextBufSize];
    const std::size_t n = quadkey_format(c, buf);
    check(n == static_cast<std::size_t>(quadkey_level(c)) && buf[n] == '\0');
    QuadkeyCode back = 0;
    check(quadkey_parse(buf, n, &back) == Status::Ok && back == c);
    check(quadkey_contains(c, c) && quadkey_contains(0, c));
    check(c <= quadkey_range_max(c) && quadkey_contains(c, quadkey_range_max(c)));
    const int level = quadkey_level(c);
    for (int l = 0; l <= level; ++l) {
        QuadkeyCode p = 0;
        check(quadkey_parent(c, l, &p) == Status::Ok && quadkey_contains(p, c) && p <= c);
    }
    QuadkeyCode kids[4];
    if (quadkey_children(c, kids) == Status::Ok) {
        for (QuadkeyCode k : kids) check(quadkey_contains(c, k) && !quadkey_contains(k, c));
    }
    const QuadkeyTile t = quadkey_to_tile(c);
    check(quadkey_from_tile(t.zoom, t.x, t.y, &back) == Status::Ok && back == c);
    check(quadkey_from_bigint(quadkey_to_bigint(c), level, &back) == Status::Ok && back == c);
    const LatLonBox b = quadkey_bounds(c);
    check(b.min_lat < b.max_lat && b.min_lon < b.max_lon);
    const LatLon ctr = quadkey_center(c);
    check(quadkey_from_latlon(ctr.lat, ctr.lon, level, &back) == Status::Ok && back == c);
    QuadkeyCode nb[8];
    const int cnt = quadkey_neighbors(c, nb);
    check(cnt >= 0 && cnt <= 8);
    for (int i = 0; i < cnt; ++i) check(nb[i] != c && quadkey_level(nb[i]) == level);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    QuadkeyCode c = 0;
    const Status s = quadkey_parse(reinterpret_cast<const char*>(data), size, &c);
    if (s == Status::Ok) {
        exercise(c);
        char buf[kQuadkeyTextBufSize];
        check(quadkey_format(c, buf) == size && std::memcmp(buf, data, size) == 0);
    } else {
        check(s == Status::QuadkeyBadDigit || s == Status::QuadkeyTooLong);
        check((s == Status::QuadkeyTooLong) == (size > kQuadkeyTextMax));
    }
    if (size >= 8) {
        QuadkeyCode raw;
        std::memcpy(&raw, data, 8);
        if (quadkey_is_valid(raw)) exercise(raw);
    }
    return 0;
}
