// libFuzzer target for incremental hierarchy maintenance, both writers: the in-memory updater
// (src/core/hierarchy_update.cpp) and the stored hierarchy's (src/core/hierarchy_store.cpp, on
// blocks held in memory: test/unit/hierarchy_store_reference.hpp). A small built hierarchy, then
// random writes (inserts, moves, erases, batches; near neighbours, the poles, the antimeridian,
// -0.0; up to three partitions) given to both, every guarantee checked in both after every step
// by the build's brute-force oracle, the in-memory updater's id rules
// (test/unit/hierarchy_update_reference.hpp) and the store's ids unique across partitions, and at
// the end no zoom empty in the updated hierarchy that a fresh build of the same markers fills,
// or the reverse.
//
// Input: byte 0 max_zoom, bytes 1-2 radius (log scale, 0.01 to 1e7 px), byte 3 partitions and
// the initial markers, then 6 bytes per write (kind and batching, four bytes of position, the
// marker it names).
//
// Build and run from the repository root: test/fuzz/run 60 fuzz_hierarchy_update
#include "hierarchy_update.hpp"

#include "../unit/hierarchy_store_reference.hpp"
#include "../unit/hierarchy_update_reference.hpp"
#include "fuzz_markers.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace geocluster;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "fuzz_hierarchy_update: %s\n", what.c_str());
    std::abort();
}

constexpr std::size_t kMaxWrites = 48;

std::map<std::int64_t, std::vector<std::int64_t>> all_members(const HierarchyUpdater& u,
                                                              int n_parts) {
    std::map<std::int64_t, std::vector<std::int64_t>> all;
    for (int p = 0; p < n_parts; ++p) {
        const auto m = testing::members_of(testing::export_of(u, p));
        all.insert(m.begin(), m.end());
    }
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const int max_zoom = fuzz_markers::max_zoom_of(data);
    const double radius = fuzz_markers::radius_of(data);
    const int n_parts = 1 + (data[3] & 3) % 3;
    const int n_initial = data[3] >> 3;  // 0 .. 31, placed like the first writes

    double lat = 0, lon = 0;
    std::int64_t next_id = 1;
    std::vector<std::int64_t> live;
    const auto position = [&](const std::uint8_t* b) {
        fuzz_markers::next_position(b, (b[0] >> 3) % 4, (b[0] >> 5) % (max_zoom + 1), radius, &lat,
                                    &lon);
    };

    // The initial markers from the first writes' bytes (so a short input still has some).
    std::vector<HierMarker> initial;
    std::vector<std::int64_t> initial_parts;
    for (int i = 0; i < n_initial && 4 + 6 * static_cast<std::size_t>(i) + 6 <= size; ++i) {
        const std::uint8_t* b = data + 4 + 6 * i;
        position(b);
        initial.push_back(HierMarker{lat, lon, next_id});
        initial_parts.push_back(b[5] % n_parts);
        live.push_back(next_id++);
    }
    HierarchyUpdater u;
    if (u.init(radius, max_zoom) != Status::Ok) fail("init");
    if (u.build(initial.data(), initial_parts.data(), initial.size()) != Status::Ok) fail("build");
    for (int p = 0; p < n_parts; ++p) {
        const std::string f = testing::check_updated(testing::export_of(u, p), radius, max_zoom);
        if (!f.empty()) fail("after the build: " + f);
    }
    testing::Store store;
    // Bit 2 of the fourth byte: every node block read in part and written as deltas, or the
    // default threshold (the small blocks here read and written whole).
    store.delta_min_block_bytes = (data[3] & 4) != 0 ? 0 : kHierDeltaMinBlockBytes;
    store.radius = radius;
    store.max_zoom = max_zoom;
    store.bands = hier_bands(max_zoom);
    if (!initial.empty()) {
        const std::string f = testing::build_store(&store, initial, initial_parts);
        if (!f.empty()) fail("store: " + f);
    }
    std::map<std::int64_t, std::vector<std::int64_t>> store_members;

    std::vector<HierWrite> batch;
    std::size_t n_writes = 0;
    for (std::size_t at = 4; at + 6 <= size && n_writes < kMaxWrites; at += 6, ++n_writes) {
        const std::uint8_t* b = data + at;
        HierWrite w{HierWriteKind::Insert, 0, 0.0, 0.0, b[5] % n_parts};
        const int kind = b[0] % 4;  // insert, insert, move, erase
        if (live.empty() || kind < 2) {
            position(b);
            w.id = next_id++;
            live.push_back(w.id);
        } else if (kind == 2) {
            position(b);
            w.kind = HierWriteKind::Move;
            w.id = live[b[5] % live.size()];
        } else {
            w.kind = HierWriteKind::Erase;
            const std::size_t i = b[5] % live.size();
            w.id = live[i];
            live[i] = live.back();
            live.pop_back();
        }
        w.lat = lat;
        w.lon = lon;
        batch.push_back(w);
        if ((b[0] & 4) != 0 && at + 12 <= size) continue;  // batch it with the next write

        const auto before = all_members(u, n_parts);
        const std::vector<std::uint64_t> next(u.next_ordinal(), u.next_ordinal() + max_zoom + 1);
        if (u.apply(batch.data(), batch.size()) != Status::Ok) fail("apply failed");
        for (int p = 0; p < n_parts; ++p) {
            const std::string f =
                testing::check_updated(testing::export_of(u, p), radius, max_zoom);
            if (!f.empty()) fail("write " + std::to_string(n_writes) + ": " + f);
        }
        std::set<std::int64_t> written;
        for (const HierWrite& x : batch) written.insert(x.id);
        const std::string f = testing::check_identity(before, all_members(u, n_parts), written,
                                                      u.last_retired(), next, batch.size() == 1);
        if (!f.empty()) fail("write " + std::to_string(n_writes) + ": " + f);
        std::string g = testing::apply_step(&store, batch);
        if (g.empty()) g = testing::check_store(store, n_parts, &store_members);
        if (!g.empty()) fail("store, write " + std::to_string(n_writes) + ": " + g);
        batch.clear();
    }

    // A fresh build of the final markers fills the same zooms.
    std::vector<HierMarker> markers;
    std::vector<std::int64_t> parts;
    for (int p = 0; p < n_parts; ++p) {
        const testing::UpdaterExport e = testing::export_of(u, p);
        for (const HierMarker& m : e.markers) {
            markers.push_back(m);
            parts.push_back(p);
        }
    }
    HierarchyUpdater fresh;
    if (fresh.init(radius, max_zoom) != Status::Ok ||
        fresh.build(markers.data(), parts.data(), markers.size()) != Status::Ok)
        fail("fresh build");
    for (int p = 0; p < n_parts; ++p) {
        const auto a = u.nodes_per_zoom(p), c = fresh.nodes_per_zoom(p);
        for (std::size_t z = 0; z < a.size(); ++z)
            if ((a[z] == 0) != (c[z] == 0)) fail("a zoom is empty in one hierarchy only");
    }
    return 0;
}
