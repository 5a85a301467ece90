// libFuzzer target for cluster_viewport_merge's core (src/core/viewport_merge.cpp): arrays of
// parts as untrusted SQL gives them (any count, centre and box: NaN, infinities, out of range,
// boxes across 0 and 180, single markers with wide boxes, zero and negative counts, huge counts),
// any zoom and radius. Every call must return a status, never crash; a success is checked by
// the oracle the unit tests use (test/unit/viewport_merge_reference.hpp: counts, separation,
// order, ids, latitude bounds, weighted y) and must not change when the parts come in reverse.
//
// Input: byte 0 zoom, bytes 1-2 radius, then 12 bytes per part.
//
// Build and run from the repository root: test/fuzz/run 60 fuzz_viewport_merge
#include "fuzz_alloc.hpp"
#include "viewport_merge.hpp"

#include "../unit/viewport_merge_reference.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

namespace {

using namespace geocluster;

using fuzz_alloc::kAlloc;
using fuzz_alloc::kNoCancel;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_viewport_merge: %s\n", what.c_str());
    std::abort();
}

constexpr std::size_t kMaxParts = 96;

// A coordinate from two bytes: mostly in range, sometimes an edge or a value no part may have.
double coordinate(std::uint8_t a, std::uint8_t b, double limit) {
    static const double kSpecial[] = {0.0,         -0.0,  180.0, -180.0, 90.0, -90.0,
                                      85.05112878, 179.9, -1e-9, 1e-9,   91.0, 181.0};
    if (a >= 240) {
        if (b % 16 == 15) return std::numeric_limits<double>::quiet_NaN();
        if (b % 16 == 14) return std::numeric_limits<double>::infinity();
        return kSpecial[b % 12];
    }
    return ((a << 8 | b) / 61439.0 * 2.0 - 1.0) * limit;
}

std::vector<MergePart> decode(const std::uint8_t* data, std::size_t size) {
    std::vector<MergePart> parts;
    double lat = 0, lon = 0;
    for (std::size_t at = 3; at + 12 <= size && parts.size() < kMaxParts; at += 12) {
        const std::uint8_t* b = data + at;
        MergePart p{};
        switch (b[0] % 8) {
            case 0:
                p.count = 1;
                break;
            case 1:
                p.count = 0;
                break;
            case 2:
                p.count = -static_cast<std::int64_t>(b[1]);
                break;
            case 3:
                p.count = std::int64_t{1} << (30 + b[1] % 34);  // up to 2^63
                break;
            default:
                p.count = 1 + b[1];
        }
        if (b[0] & 8) {  // near the previous part: clusters to merge
            lat += (b[2] - 128) * 1e-3;
            lon += (b[3] - 128) * 1e-3;
            if (lon > 180) lon -= 360;
            if (lon < -180) lon += 360;
        } else {
            lat = coordinate(b[2], b[3], 90.0);
            lon = coordinate(b[4], b[5], 180.0);
        }
        p.lat = lat;
        p.lon = lon;
        const double d = b[6] * 1e-2, e = b[7] * (b[0] & 16 ? 1.0 : 1e-2);
        p.min_lat = b[0] & 32 ? coordinate(b[8], b[9], 90.0) : lat - d;
        p.max_lat = lat + d;
        p.min_lon = b[0] & 64 ? coordinate(b[10], b[11], 180.0) : lon - e;
        p.max_lon = lon + e;
        if (p.min_lon < -180) p.min_lon += 360;  // across 180
        if (p.max_lon > 180) p.max_lon -= 360;
        p.has_id = (b[0] & 128) == 0;
        p.id = static_cast<std::int64_t>(b[9]) - 128 + static_cast<std::int64_t>(parts.size()) * 7;
        parts.push_back(p);
    }
    return parts;
}

bool same(const ClusterList& a, const ClusterList& b) {
    if (a.size != b.size) return false;
    for (std::size_t i = 0; i < a.size; ++i) {
        const Cluster &x = a.items[i], &y = b.items[i];
        if (x.count != y.count || std::memcmp(&x.lat, &y.lat, 6 * sizeof(double)) != 0 ||
            x.has_id != y.has_id || (x.has_id && x.id != y.id))
            return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    const double zoom =
        data[0] >= 250 ? (data[0] == 255 ? std::nan("") : 30.0 + (data[0] - 250)) : data[0] / 8.0;
    const double radius = data[1] == 255   ? -1.0
                          : data[1] == 254 ? 0.0
                                           : std::ldexp((data[2] + 1) / 256.0, data[1] % 24);
    const std::vector<MergePart> parts = decode(data, size);
    ClusterList out{nullptr, 0};
    std::size_t bad = 0;
    const Status s =
        viewport_merge(parts.data(), parts.size(), zoom, radius, kAlloc, kNoCancel, &out, &bad);
    if (s != Status::Ok) {
        if (out.items != nullptr || out.size != 0) fail("a failure left a result");
        if (bad > parts.size()) fail("bad part index out of range");
        return 0;
    }
    const std::vector<Cluster> clusters(out.items, out.items + out.size);
    const std::string why = geocluster::testing::check_merge(parts, zoom, radius, clusters);
    if (!why.empty()) fail(why);
    const std::vector<MergePart> reversed(parts.rbegin(), parts.rend());
    ClusterList again{nullptr, 0};
    if (viewport_merge(reversed.data(), reversed.size(), zoom, radius, kAlloc, kNoCancel, &again,
                       &bad) != Status::Ok ||
        !same(out, again))
        fail("the parts in reverse order give another result");
    cluster_free_list(kAlloc, &out);
    cluster_free_list(kAlloc, &again);
    return 0;
}
