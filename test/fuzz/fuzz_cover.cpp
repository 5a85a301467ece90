// libFuzzer target: covers of arbitrary boxes (NaN, infinities, out-of-range values,
// antimeridian, degenerate boxes), both encodings.
//
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -I../../src/core \
//       fuzz_cover.cpp ../../src/core/cover.cpp ../../src/core/quadkey.cpp
//       ../../src/core/geohash.cpp \ -o fuzz_cover
//   ./fuzz_cover -max_total_time=20 corpus/fuzz_cover
//
// Input: 4 doubles (min_lat, min_lon, max_lat, max_lon) and one byte (bit 7: geohash;
// low bits: level). Checks: count and fill agree; output ascending and unique; the cover
// holds the cells of the box corners and centre; ranges contain every cell.
#include "cover.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace geocluster;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

// Large covers are legal but slow to verify; the fuzzer learns nothing more from them.
constexpr std::uint64_t kFuzzMaxCells = 1 << 12;

bool holds(const std::vector<std::uint64_t>& cells, std::uint64_t c) {
    std::size_t lo = 0, hi = cells.size();
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        if (cells[mid] < c) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < cells.size() && cells[lo] == c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 33) return 0;
    LatLonBox box;
    std::memcpy(&box.min_lat, data, 8);
    std::memcpy(&box.min_lon, data + 8, 8);
    std::memcpy(&box.max_lat, data + 16, 8);
    std::memcpy(&box.max_lon, data + 24, 8);
    const bool geo = (data[32] & 0x80) != 0;
    // Mostly valid levels, sometimes one just outside the range.
    const int level = static_cast<int>(data[32] & 0x1F) - (geo ? 1 : 0);

    std::uint64_t n = 0;
    const Status s =
        geo ? geohash_cover_count(box, level, &n) : quadkey_cover_count(box, level, &n);
    if (s != Status::Ok) {
        check(s == Status::BoxInvalid || s == Status::LatOutOfRange || s == Status::LonOutOfRange ||
              s == Status::ZoomOutOfRange || s == Status::PrecisionOutOfRange ||
              s == Status::CoverTooLarge);
        if (s == Status::CoverTooLarge) check(n > kMaxCoverCells);
        return 0;
    }
    check(n >= 1 && n <= kMaxCoverCells);
    if (n > kFuzzMaxCells) return 0;
    std::vector<std::uint64_t> cells(static_cast<std::size_t>(n));
    std::size_t written = 0;
    // One short of the count must be refused without writing past the end.
    if (n > 1) {
        check((geo ? geohash_cover_fill(box, level, cells.data(), cells.size() - 1, &written)
                   : quadkey_cover_fill(box, level, cells.data(), cells.size() - 1, &written)) ==
              Status::CoverTooLarge);
    }
    check((geo ? geohash_cover_fill(box, level, cells.data(), cells.size(), &written)
               : quadkey_cover_fill(box, level, cells.data(), cells.size(), &written)) ==
          Status::Ok);
    check(written == n);
    for (std::size_t i = 1; i < cells.size(); ++i) check(cells[i - 1] < cells[i]);
    for (std::uint64_t c : cells) check(geo ? geohash_is_valid(c) : quadkey_is_valid(c));

    const double lats[3] = {box.min_lat, box.max_lat,
                            box.min_lat + (box.max_lat - box.min_lat) / 2};
    const double lons[2] = {box.min_lon, box.max_lon};
    for (double lat : lats) {
        for (double lon : lons) {
            std::uint64_t c = 0;
            check((geo ? geohash_from_latlon(lat, lon, level, &c)
                       : quadkey_from_latlon(lat, lon, level, &c)) == Status::Ok);
            check(holds(cells, c));
        }
    }

    std::vector<CodeRange> ranges(cells.size());
    const std::size_t nr = geo ? geohash_cover_ranges(cells.data(), cells.size(), ranges.data())
                               : quadkey_cover_ranges(cells.data(), cells.size(), ranges.data());
    check(nr >= 1 && nr <= cells.size());
    std::size_t r = 0;
    for (std::uint64_t c : cells) {
        while (r < nr && ranges[r].hi < c) ++r;
        check(r < nr && ranges[r].lo <= c && c <= ranges[r].hi);
    }
    return 0;
}
