// Writes to a stored hierarchy (src/core/hierarchy_store.hpp), on blocks held in memory as the
// SQL tables hold them: a packed build (hier_pack), then random write sequences. After every
// step the whole store is decoded and checked by the build's brute-force oracle (every guarantee
// recomputed from the markers), the blocks by the layout's rule (each record in the tile of its
// centre), and
// the ids by the stability rules (a cluster that holds no written marker and whose members did not
// change keeps its id; a retired id never comes back).
#include "hierarchy_store.hpp"

#include "hierarchy_block.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_read.hpp"
#include "hierarchy_update_reference.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace geocluster {
namespace {

using testing::check_updated;
using testing::make_scenario;
using testing::members_of;
using testing::Scenario;
using testing::UpdaterExport;

using Bytes = std::vector<unsigned char>;
using Key = std::tuple<bool, int, std::uint64_t>;  // members, band, block

void* m_alloc(void*, std::size_t n) { return std::malloc(n); }
void m_release(void*, void* p) { std::free(p); }
const Allocator kAlloc{&m_alloc, &m_release, nullptr, 0};
const CancelCheck kNoCancel{nullptr, nullptr};

// The tables of one partition's hierarchy, and the slot counters.
struct Store {
    double radius;
    int max_zoom;
    HierBands bands;
    std::map<Key, Bytes> blocks;
    std::map<std::pair<int, std::uint64_t>, std::uint64_t> slots;
    std::map<std::int64_t, std::pair<double, double>> live;  // marker id -> position
    std::uint64_t fetches = 0;
};

bool fetch(void* ctx, bool members, int band, std::uint64_t block, const unsigned char** data,
           std::size_t* len) {
    auto* s = static_cast<Store*>(ctx);
    ++s->fetches;
    const auto it = s->blocks.find(Key{members, band, block});
    *data = it == s->blocks.end() ? nullptr : it->second.data();
    *len = it == s->blocks.end() ? 0 : it->second.size();
    return true;
}

bool list(void* ctx, bool members, int band, std::uint64_t lo, std::uint64_t hi,
          void (*found)(void*, std::uint64_t), void* found_ctx) {
    auto* s = static_cast<Store*>(ctx);
    for (auto it = s->blocks.lower_bound(Key{members, band, lo});
         it != s->blocks.end() && it->first <= Key{members, band, hi}; ++it)
        found(found_ctx, std::get<2>(it->first));
    return true;
}

bool slot_floor(void* ctx, int band, std::uint64_t block, std::uint64_t* next) {
    auto* s = static_cast<Store*>(ctx);
    const auto c = s->slots.find({band, block});
    if (c != s->slots.end()) {
        *next = c->second;
        return true;
    }
    const auto it = s->blocks.find(Key{false, band, block});
    *next = 0;
    return it == s->blocks.end() ||
           hier_block_slot_end(it->second.data(), it->second.size(), next) == Status::Ok;
}

void build_store(Store* s, const std::vector<HierMarker>& m) {
    s->bands = hier_bands(s->max_zoom);
    if (m.empty()) return;  // (an empty table: no blocks)
    std::vector<std::uint64_t> next(static_cast<std::size_t>(s->max_zoom) + 1, 0);
    HierBuild b{nullptr, 0, nullptr, 0};
    ASSERT_EQ(Status::Ok, hierarchy_build(m.data(), m.size(), s->radius, s->max_zoom, next.data(),
                                          kAlloc, kNoCancel, &b));
    HierSlotCounters counters{nullptr, 0};
    HierPacked p{};
    ASSERT_EQ(Status::Ok,
              hier_pack(b, m.data(), s->max_zoom, &counters, kAlloc, kAlloc, kNoCancel, &p));
    const auto put = [&](bool members, const HierBlockNode* recs, const HierPackedBlock& blk) {
        const HierBand& band = s->bands.band[blk.band];
        Bytes out(hier_node_block_bound(blk.n));
        std::size_t len = 0;
        const int lo = members ? s->max_zoom : band.zoom_lo, hi = members ? s->max_zoom : band.zoom_hi;
        ASSERT_EQ(Status::Ok, hier_packed_block_encode(recs, blk, lo, hi, out.data(), &len));
        out.resize(len);
        s->blocks[Key{members, blk.band, blk.block}] = out;
    };
    for (std::size_t i = 0; i < p.n_blocks; ++i) put(false, p.records, p.blocks[i]);
    for (std::size_t i = 0; i < p.n_member_blocks; ++i) put(true, p.members, p.member_blocks[i]);
    for (const HierMarker& mk : m) s->live[mk.id] = {mk.lat + 0.0, mk.lon + 0.0};
    hier_packed_free(kAlloc, &p);
    hier_slot_counters_free(kAlloc, &counters);
    hierarchy_free(kAlloc, &b);
}

// The whole store decoded: every node at every zoom, the markers and their leaves. Also checks
// the layout rules; returns "" or the first failure.
std::string decode(const Store& s, UpdaterExport* e) {
    std::map<std::int64_t, std::int64_t> leaf_of;  // marker id -> leaf
    for (const auto& [k, bytes] : s.blocks) {
        const auto [members, band_i, block] = k;
        const HierBand& band = s.bands.band[band_i];
        HierNodeBlockReader rd;
        Status st = hier_node_block_open(bytes.data(), bytes.size(), &rd);
        if (st != Status::Ok) return "a block does not open";
        HierBlockNode r;
        while (hier_node_block_next(&rd, &r, &st)) {
            if (members) {
                leaf_of[r.id] = r.parent_id;
                continue;
            }
            if (hier_block_of(band.block_zoom, r.lat, r.lon) != block)
                return "a record is not in the tile of its centre";
            for (int z = r.zoom_min; z <= r.zoom_max; ++z)
                e->nodes.push_back(hier_node_at(r, band, block, z));
            if (r.zoom_max == s.max_zoom && r.count == 1)
                leaf_of[r.id] = hier_cluster_id(s.max_zoom, band, block, r.slot);
        }
        if (st != Status::Ok) return "a block does not decode";
    }
    for (const auto& [id, pos] : s.live) {
        const auto l = leaf_of.find(id);
        if (l == leaf_of.end()) return "marker " + std::to_string(id) + " has no leaf";
        e->markers.push_back(HierMarker{pos.first, pos.second, id});
        e->leaf.push_back(l->second);
    }
    if (leaf_of.size() != s.live.size()) return "the store holds markers that are not live";
    return "";
}

std::string apply_step(Store* s, const std::vector<HierWrite>& step) {
    std::vector<HierStoreWrite> erases;  // in the step's order (a marker may move twice)
    for (const HierWrite& w : step) {
        const auto it = s->live.find(w.id);
        if (it != s->live.end()) {
            erases.push_back(HierStoreWrite{false, w.id, it->second.first, it->second.second});
            s->live.erase(it);
        }
        if (w.kind != HierWriteKind::Erase) {
            erases.push_back(HierStoreWrite{true, w.id, w.lat, w.lon});
            s->live[w.id] = {w.lat + 0.0, w.lon + 0.0};
        }
    }
    HierStoreUpdate u;
    const HierStoreOps ops{s, &fetch, &list, &slot_floor};
    if (u.init(s->radius, s->max_zoom, ops, std::size_t{1} << 32) != Status::Ok)
        return "init failed";
    const Status st = u.apply(erases.data(), erases.size(), kNoCancel);
    if (st != Status::Ok) return std::string("apply: ") + status_message(st);
    std::size_t n = 0;
    const HierStoreBlock* out = u.blocks(&n);
    for (std::size_t i = 0; i < n; ++i) {
        const Key k{out[i].members, out[i].band, out[i].block};
        if (out[i].len == 0) {
            s->blocks.erase(k);
        } else {
            s->blocks[k] = Bytes(out[i].data, out[i].data + out[i].len);
        }
    }
    const HierStoreSlots* sl = u.slots(&n);
    for (std::size_t i = 0; i < n; ++i) s->slots[{sl[i].band, sl[i].block}] = sl[i].next;
    return "";
}

// Runs a scenario's first partition's writes on a store; "" or the first failure.
std::string run_store_scenario(const Scenario& sc) {
    Store s;
    s.radius = sc.radius;
    s.max_zoom = sc.max_zoom;
    build_store(&s, sc.initial);
    std::map<std::int64_t, std::vector<std::int64_t>> before;
    std::set<std::int64_t> gone;
    for (std::size_t t = 0; t <= sc.steps.size(); ++t) {
        if (t > 0) {
            const std::string f = apply_step(&s, sc.steps[t - 1]);
            if (!f.empty()) return "step " + std::to_string(t) + ": " + f;
        }
        UpdaterExport e;
        const std::string where = "step " + std::to_string(t) + " (radius " +
                                  std::to_string(sc.radius) + ", max_zoom " +
                                  std::to_string(sc.max_zoom) + "): ";
        std::string f = decode(s, &e);
        if (f.empty()) f = check_updated(e, sc.radius, sc.max_zoom);
        if (!f.empty()) return where + f;
        const auto after = members_of(e);
        for (const auto& [id, ms] : before) {
            if (after.count(id) == 0) gone.insert(id);
        }
        std::map<std::pair<int, std::vector<std::int64_t>>, std::int64_t> id_of;
        for (const auto& [id, ms] : after) {
            if (gone.count(id) != 0) return where + "retired id " + std::to_string(id) + " is back";
            id_of[{static_cast<int>(id >> kHierIdZoomShift), ms}] = id;
        }
        std::set<std::int64_t> written;
        if (t > 0)
            for (const HierWrite& w : sc.steps[t - 1]) written.insert(w.id);
        for (const auto& [id, ms] : before) {
            if (std::any_of(ms.begin(), ms.end(), [&](std::int64_t m) { return written.count(m); }))
                continue;  // a cluster the step wrote to may move (a moved marker is the same id)
            const auto same = id_of.find({static_cast<int>(id >> kHierIdZoomShift), ms});
            if (same != id_of.end() && same->second != id)
                return where + "cluster " + std::to_string(id) + " kept its members but became " +
                       std::to_string(same->second);
        }
        before = after;
    }
    return "";
}

Scenario one_partition(Scenario sc) {
    std::vector<HierMarker> initial;
    for (std::size_t i = 0; i < sc.initial.size(); ++i)
        if (sc.initial_parts[i] == 0) initial.push_back(sc.initial[i]);
    sc.initial = initial;
    sc.initial_parts.assign(initial.size(), 0);
    sc.n_parts = 1;
    return sc;
}

TEST(HierarchyStore, RandomWriteSequencesKeepEveryGuarantee) {
    for (std::uint64_t seed = 1; seed <= 60; ++seed) {
        const Scenario s = one_partition(make_scenario(seed, 60, 30));
        ASSERT_EQ(run_store_scenario(s), "") << "scenario " << seed;
    }
}

TEST(HierarchyStore, LargerBatches) {
    for (std::uint64_t seed = 500; seed < 506; ++seed) {
        const Scenario s = one_partition(make_scenario(seed, 400, 15));
        ASSERT_EQ(run_store_scenario(s), "") << "scenario " << seed;
    }
}

}  // namespace
}  // namespace geocluster
