// libFuzzer target for cluster_agg's serialised state (src/core/cluster_serial.cpp): a
// DESERIALFUNC meets bytes from another process, so any input must come back as a clean Status,
// and any input it accepts must behave like a real state.
//
// For every input:
//   - cluster_deserialize returns Ok, StateCorrupt, StateBadVersion (or OutOfMemory), nothing else;
// and when it accepts the input:
//   - the format is canonical: serialize(deserialize(b)) == b, byte for byte;
//   - merging it into an empty state with the same parameters gives the same state;
//   - finalize succeeds, its counts add up to the state's point count, no two centres are closer
//     than radius_px (wrap-aware, for up to 3000 clusters), and bounds are ordered as documented;
//   - every cluster's centre lies in its own bounds (latitudes clamped to the Web Mercator edge
//     as positions are; 1e-9 degrees of slack), which holds only if the deserialiser refused
//     every state whose bounds, sums and bins contradict each other;
//   - finalize after a serialise/deserialise round-trip gives the same clusters, bit for bit.
//
// Build and run from the repository root (the seed corpus is written by the unit test
// ClusterSerial.DISABLED_WriteFuzzCorpus):
//   mkdir -p test/fuzz/build
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc/core
//       src/core/cluster*.cpp test/fuzz/fuzz_cluster_state.cpp -o
//       test/fuzz/build/fuzz_cluster_state (one command)
//   test/fuzz/build/fuzz_cluster_state -max_total_time=30 test/fuzz/corpus/fuzz_cluster_state
#include "fuzz_alloc.hpp"
#include "cluster.hpp"
#include "mercator.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace geocluster;

using fuzz_alloc::kAlloc;
using fuzz_alloc::kNoCancel;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_cluster_state: %s\n", what);
    std::abort();
}

std::vector<std::uint8_t> serialize(const ClusterState* st) {
    std::vector<std::uint8_t> b(cluster_serialized_size(st));
    if (cluster_serialize(st, b.data(), b.size(), kNoCancel) != Status::Ok)
        fail("serialize failed");
    return b;
}

std::vector<Cluster> finalize(const ClusterState* st) {
    ClusterList l{};
    if (cluster_finalize(st, kNoCancel, &l) != Status::Ok) fail("finalize failed");
    std::vector<Cluster> v(l.items, l.items + l.size);
    cluster_free_list(kAlloc, &l);
    return v;
}

bool same_bits(const std::vector<Cluster>& a, const std::vector<Cluster>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const Cluster &x = a[i], &y = b[i];
        if (x.count != y.count || x.has_id != y.has_id || x.id != y.id) return false;
        const double fx[] = {x.lat, x.lon, x.min_lat, x.min_lon, x.max_lat, x.max_lon};
        const double fy[] = {y.lat, y.lon, y.min_lat, y.min_lon, y.max_lat, y.max_lon};
        if (std::memcmp(fx, fy, sizeof fx) != 0) return false;
    }
    return true;
}

long double unit_y(long double lat) {
    const long double s = std::sin(lat * 3.141592653589793238462643383279502884L / 180.0L);
    const long double y =
        0.5L - std::log((1.0L + s) / (1.0L - s)) / (4.0L * 3.141592653589793238462643383279502884L);
    return std::min(std::max(y, 0.0L), 1.0L);
}

// Whether lon lies in the longitude range [lo, hi] (crossing the antimeridian when lo > hi),
// give or take eps degrees, -180 and 180 being the same meridian.
bool lon_within(double lon, double lo, double hi, double eps) {
    const double span = lo <= hi ? hi - lo : hi - lo + 360.0;
    double off = std::fmod(lon - lo, 360.0);
    if (off < 0) off += 360.0;
    return off <= span + eps || off >= 360.0 - eps;
}

void check_output(const ClusterState* st, const std::vector<Cluster>& out) {
    long double total = 0;
    for (const Cluster& c : out) {
        if (c.count <= 0) fail("empty cluster");
        total += c.count;
        if (!(c.min_lat <= c.max_lat)) fail("min_lat > max_lat");
        if (!(c.lon >= -180.0 && c.lon <= 180.0 && std::fabs(c.lat) <= kMercatorMaxLat))
            fail("centre out of range");
        if (c.count == 1 && c.min_lon > c.max_lon) fail("a single point crossing the antimeridian");
        constexpr double kEps = 1e-9;
        const double lat_lo = clamp_mercator_lat(c.min_lat);
        const double lat_hi = clamp_mercator_lat(c.max_lat);
        if (!(c.lat >= lat_lo - kEps && c.lat <= lat_hi + kEps))
            fail("centre lat outside its bounds");
        if (!lon_within(c.lon, c.min_lon, c.max_lon, kEps)) fail("centre lon outside its bounds");
    }
    if (total != static_cast<long double>(cluster_point_count(st))) fail("counts do not add up");
    if (out.size() > 3000) return;
    const long double world = std::ldexp(256.0L, cluster_zoom(st));
    const long double radius = cluster_radius_px(st);
    for (std::size_t i = 0; i < out.size(); ++i)
        for (std::size_t j = i + 1; j < out.size(); ++j) {
            long double dx =
                std::fabs(static_cast<long double>(out[i].lon) - out[j].lon) / 360.0L * world;
            dx = std::min(dx, world - dx);
            const long double dy = (unit_y(out[i].lat) - unit_y(out[j].lat)) * world;
            if (std::sqrt(dx * dx + dy * dy) < radius) fail("two centres closer than the radius");
        }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ClusterState* st = nullptr;
    const Status s = cluster_deserialize(data, size, kAlloc, &st, kNoCancel);
    if (s != Status::Ok) {
        if (s != Status::StateCorrupt && s != Status::StateBadVersion && s != Status::OutOfMemory)
            fail("unexpected status from deserialize");
        if (st != nullptr) fail("failed deserialize returned a state");
        return 0;
    }
    const std::vector<std::uint8_t> bytes = serialize(st);
    if (bytes.size() != size || std::memcmp(bytes.data(), data, size) != 0)
        fail("accepted a value that does not serialise back to itself");

    ClusterState* merged = nullptr;
    if (cluster_create(cluster_zoom(st), cluster_radius_px(st), cluster_has_id(st), kAlloc,
                       &merged) != Status::Ok ||
        cluster_merge(merged, st, kNoCancel) != Status::Ok)
        fail("merge into an empty state failed");
    if (serialize(merged) != bytes) fail("merge into an empty state changed the state");
    cluster_destroy(merged);

    const std::vector<Cluster> out = finalize(st);
    check_output(st, out);

    ClusterState* again = nullptr;
    if (cluster_deserialize(bytes.data(), bytes.size(), kAlloc, &again, kNoCancel) != Status::Ok)
        fail("round trip rejected");
    if (!same_bits(out, finalize(again))) fail("finalize differs after a round trip");
    cluster_destroy(again);
    cluster_destroy(st);
    return 0;
}
