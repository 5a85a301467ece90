// libFuzzer target for the cluster hierarchy (src/core/hierarchy.cpp): random small marker sets
// (groups of near neighbours, the poles, the antimeridian, exact duplicates, -0.0), any radius
// and max_zoom, built and checked against every guarantee by the oracle the unit tests use
// (test/unit/hierarchy_reference.hpp): conservation, separation, nesting, centres, bounds, sums,
// ids, the sweep's order, expansion zooms and identity; plus the same nodes for the markers in
// reverse order.
//
// Input: byte 0 max_zoom, bytes 1-2 radius (log scale, 0.01 to 1e7 px), byte 3 the first
// ordinals, then 6 bytes per marker (kind, four bytes of position, id).
//
// Build and run from the repository root: test/fuzz/run 60 fuzz_hierarchy
#include "fuzz_alloc.hpp"
#include "cluster.hpp"
#include "hierarchy.hpp"

#include "../unit/hierarchy_reference.hpp"
#include "fuzz_markers.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace geocluster;

using fuzz_alloc::kAlloc;
using fuzz_alloc::kNoCancel;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_hierarchy: %s\n", what.c_str());
    std::abort();
}

constexpr std::size_t kMaxMarkers = 256;

struct Input {
    int max_zoom = 0;
    double radius = 60;
    std::vector<std::uint64_t> next;
    std::vector<HierMarker> markers;
};

Input decode(const std::uint8_t* data, std::size_t size) {
    Input in;
    in.max_zoom = fuzz_markers::max_zoom_of(data);
    in.radius = fuzz_markers::radius_of(data);
    in.next.assign(static_cast<std::size_t>(in.max_zoom) + 1, 0);
    for (std::size_t z = 0; z < in.next.size(); ++z)
        in.next[z] = data[3] & 1 ? z * 1000 : ((data[3] & 2) ? (std::uint64_t{1} << 40) - 200 : 0);
    double lat = 0, lon = 0;
    for (std::size_t at = 4; at + 6 <= size && in.markers.size() < kMaxMarkers; at += 6) {
        const std::uint8_t* b = data + at;
        fuzz_markers::next_position(b, b[0] % 4, (b[0] >> 2) % (in.max_zoom + 1), in.radius, &lat,
                                    &lon);
        in.markers.push_back(HierMarker{lat, lon, static_cast<std::int8_t>(b[5])});
    }
    return in;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    Input in = decode(data, size);
    const std::vector<std::uint64_t> before = in.next;
    HierBuild b{};
    const Status s = hierarchy_build(in.markers.data(), in.markers.size(), in.radius, in.max_zoom,
                                     in.next.data(), kAlloc, kNoCancel, &b);
    if (s == Status::HierarchyIdsExhausted && (data[3] & 3) == 2) {
        if (in.next != before) fail("a failed build advanced next_ordinal");
        return 0;
    }
    if (s != Status::Ok) fail(std::string("build failed: ") + status_name(s));
    const std::string err =
        testing::check_hierarchy(in.markers.data(), in.markers.size(), in.radius, in.max_zoom,
                                 before.data(), in.next.data(), b);
    if (!err.empty()) fail(err);

    // The same markers in reverse order: the same nodes, the same leaves.
    std::vector<HierMarker> rev(in.markers.rbegin(), in.markers.rend());
    std::vector<std::uint64_t> next2 = before;
    HierBuild r{};
    if (hierarchy_build(rev.data(), rev.size(), in.radius, in.max_zoom, next2.data(), kAlloc,
                        kNoCancel, &r) != Status::Ok)
        fail("second build failed");
    if (r.n_nodes != b.n_nodes || next2 != in.next) fail("reversed: other node counts");
    for (std::size_t j = 0; j < b.n_nodes; ++j)
        if (!testing::same_node(b.nodes[j], r.nodes[j])) fail("reversed: a node differs");
    for (std::size_t i = 0; i < rev.size(); ++i)
        if (r.leaf_of_marker[i] != b.leaf_of_marker[rev.size() - 1 - i])
            fail("reversed: a leaf differs");
    hierarchy_free(kAlloc, &r);
    hierarchy_free(kAlloc, &b);
    return 0;
}
