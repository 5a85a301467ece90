// A stored hierarchy held in memory as the SQL tables hold it (each partition's node and member
// blocks, the slot counters they share), written through HierStoreUpdate
// (src/core/hierarchy_store.hpp) and checked whole by the build's brute-force oracle
// (hierarchy_update_reference.hpp): shared by the unit test and the fuzz target. No GoogleTest
// here; each check answers with its failure as text ("" = holds).
#pragma once

#include "hierarchy_block.hpp"
#include "hierarchy_delta.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_read.hpp"
#include "hierarchy_store.hpp"
#include "hierarchy_update_reference.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace geocluster::testing {

using Bytes = std::vector<unsigned char>;
using Key = std::tuple<bool, int, std::uint64_t>;  // members, band, block

inline void* m_alloc(void*, std::size_t n) { return std::malloc(n); }
inline void m_release(void*, void* p) { std::free(p); }
inline const Allocator kStoreAlloc{&m_alloc, &m_release, nullptr, 0};
inline const CancelCheck kStoreNoCancel{nullptr, nullptr};

// The tables of a hierarchy: each partition's blocks, and the slot counters they share.
struct Marker {
    double lat, lon;
    std::int64_t part;
};
struct Store {
    double radius;
    int max_zoom;
    HierBands bands;
    std::map<std::int64_t, std::map<Key, Bytes>> parts;
    std::map<std::int64_t, std::map<Key, Bytes>> deltas;  // a block's delta, when it has one
    std::size_t delta_min_block_bytes = kHierDeltaMinBlockBytes;  // HierStoreUpdate::init's
    std::uint64_t deltas_written = 0;                             // by the updates so far
    struct Reads {  // what the updates' Stats say their repeated reads saved; member deltas
        std::uint64_t parses_skipped = 0, blocks_decoded_whole = 0, indexed_scans = 0;
        std::uint64_t member_deltas_written = 0;  // member blocks given a delta, not new bytes
    } reads;
    std::map<std::pair<int, std::uint64_t>, std::uint64_t> slots;
    std::map<std::int64_t, Marker> live;  // marker id -> position and partition
};
// What one update sees: one partition's rows. With partial, a block comes in part (its
// first 64 bytes, the rest garbage until filled), as the SQL side gives large blocks.
struct View {
    Store* s;
    std::int64_t part;
    bool partial = false;
    std::map<Key, Bytes> given;  // the buffers handed out in part
};

inline bool fetch(void* ctx, bool members, int band, std::uint64_t block,
                  const unsigned char** data, std::size_t* len, std::size_t* have,
                  const unsigned char** delta, std::size_t* delta_len) {
    auto* v = static_cast<View*>(ctx);
    const auto& blocks = v->s->parts[v->part];
    const auto it = blocks.find(Key{members, band, block});
    *data = it == blocks.end() ? nullptr : it->second.data();
    *len = it == blocks.end() ? 0 : it->second.size();
    *have = *len;
    if (v->partial && *len > 64) {
        Bytes& b = v->given[Key{members, band, block}];
        b.assign(*len, 0xa5);
        std::copy(it->second.begin(), it->second.begin() + 64, b.begin());
        *data = b.data();
        *have = 64;
    }
    const auto& deltas = v->s->deltas[v->part];
    const auto d = deltas.find(Key{members, band, block});
    *delta = d == deltas.end() ? nullptr : d->second.data();
    *delta_len = d == deltas.end() ? 0 : d->second.size();
    return true;
}

// The bytes of a block given in part, copied into its buffer.
inline bool fill(void* ctx, bool members, int band, std::uint64_t block, std::size_t offset,
                 std::size_t length) {
    auto* v = static_cast<View*>(ctx);
    const Key k{members, band, block};
    const auto b = v->given.find(k);
    const Bytes& from = v->s->parts[v->part].at(k);
    if (b == v->given.end() || offset + length > from.size()) return false;
    std::copy(from.begin() + static_cast<std::ptrdiff_t>(offset),
              from.begin() + static_cast<std::ptrdiff_t>(offset + length),
              b->second.begin() + static_cast<std::ptrdiff_t>(offset));
    return true;
}

// A block's delta (empty when none).
inline const Bytes& delta_of(const Store& s, std::int64_t part, const Key& k) {
    static const Bytes none;
    const auto p = s.deltas.find(part);
    if (p == s.deltas.end()) return none;
    const auto d = p->second.find(k);
    return d == p->second.end() ? none : d->second;
}

inline bool list(void* ctx, bool members, int band, std::uint64_t lo, std::uint64_t hi,
                 void (*found)(void*, std::uint64_t), void* found_ctx) {
    auto* v = static_cast<View*>(ctx);
    const auto& blocks = v->s->parts[v->part];
    for (auto it = blocks.lower_bound(Key{members, band, lo});
         it != blocks.end() && it->first <= Key{members, band, hi}; ++it)
        found(found_ctx, std::get<2>(it->first));
    return true;
}

// The stored counter, else the largest slot end of the block in any partition (as the SQL side).
inline bool slot_floor(void* ctx, int band, std::uint64_t block, std::uint64_t* next) {
    Store* s = static_cast<View*>(ctx)->s;
    const auto c = s->slots.find({band, block});
    if (c != s->slots.end()) {
        *next = c->second;
        return true;
    }
    *next = 0;
    for (const auto& [part, blocks] : s->parts) {
        const auto it = blocks.find(Key{false, band, block});
        std::uint64_t end = 0;
        const Bytes& d = delta_of(*s, part, Key{false, band, block});
        if (it != blocks.end() && hier_block_slot_end(it->second.data(), it->second.size(),
                                                      d.data(), d.size(), &end) != Status::Ok)
            return false;
        *next = std::max(*next, end);
    }
    return true;
}

// Packs a build of each partition's markers, slots continuing across partitions (as the create);
// "" or what failed.
inline std::string build_store(Store* s, const std::vector<HierMarker>& m,
                               const std::vector<std::int64_t>& part) {
    std::map<std::int64_t, std::vector<HierMarker>> by_part;
    for (std::size_t i = 0; i < m.size(); ++i) {
        by_part[part[i]].push_back(m[i]);
        s->live[m[i].id] = Marker{m[i].lat + 0.0, m[i].lon + 0.0, part[i]};
    }
    std::vector<std::uint64_t> next(static_cast<std::size_t>(s->max_zoom) + 1, 0);
    HierSlotCounters counters{nullptr, 0};
    std::string failed;
    for (const auto& [pv, ms] : by_part) {
        std::map<Key, Bytes>& blocks = s->parts[pv];  // (a lambda may not take a binding)
        HierBuild b{nullptr, 0, nullptr, 0};
        HierPacked p{};
        if (hierarchy_build(ms.data(), ms.size(), s->radius, s->max_zoom, next.data(), kStoreAlloc,
                            kStoreNoCancel, &b) != Status::Ok ||
            hier_pack(b, ms.data(), s->max_zoom, &counters, kStoreAlloc, kStoreAlloc,
                      kStoreNoCancel, &p) != Status::Ok)
            failed = "build or pack failed";
        const auto put = [&](bool members, const HierBlockNode* recs, const HierPackedBlock& blk) {
            const HierBand& band = s->bands.band[blk.band];
            Bytes out(hier_node_block_bound(blk.n));
            std::size_t len = 0;
            const int lo = members ? s->max_zoom : band.zoom_lo;
            const int hi = members ? s->max_zoom : band.zoom_hi;
            if (hier_packed_block_encode(recs, blk, lo, hi, out.data(), &len) != Status::Ok)
                failed = "encode failed";
            out.resize(len);
            blocks[Key{members, blk.band, blk.block}] = out;
        };
        for (std::size_t i = 0; failed.empty() && i < p.n_blocks; ++i)
            put(false, p.records, p.blocks[i]);
        for (std::size_t i = 0; failed.empty() && i < p.n_member_blocks; ++i)
            put(true, p.members, p.member_blocks[i]);
        hier_packed_free(kStoreAlloc, &p);
        hierarchy_free(kStoreAlloc, &b);
        if (!failed.empty()) break;
    }
    hier_slot_counters_free(kStoreAlloc, &counters);
    return failed;
}

// One partition decoded: every node at every zoom, the markers and their leaves. Also checks
// the layout's rule; returns "" or the first failure.
inline std::string decode(const Store& s, std::int64_t part, UpdaterExport* e) {
    std::map<std::int64_t, std::int64_t> leaf_of;  // marker id -> leaf
    const auto blocks = s.parts.find(part);
    if (blocks != s.parts.end())
        for (const auto& [k, bytes] : blocks->second) {
            const auto [members, band_i, block] = k;
            const HierBand& band = s.bands.band[band_i];
            const Bytes& delta = delta_of(s, part, k);
            HierOverlayReader rd;
            Status st =
                hier_overlay_open(bytes.data(), bytes.size(), delta.data(), delta.size(), &rd);
            if (st != Status::Ok) return "a block does not open";
            HierBlockNode r;
            while (hier_overlay_next(&rd, &r, &st)) {
                if (members) {
                    if (!leaf_of.emplace(r.id, r.parent_id).second)
                        return "marker " + std::to_string(r.id) + " is stored twice";
                    continue;
                }
                if (hier_block_of(band.block_zoom, r.lat, r.lon) != block)
                    return "a record is not in the tile of its centre";
                for (int z = r.zoom_min; z <= r.zoom_max; ++z)
                    e->nodes.push_back(hier_node_at(r, band, block, z));
                if (r.zoom_max == s.max_zoom && r.count == 1 &&
                    !leaf_of.emplace(r.id, hier_cluster_id(s.max_zoom, band, block, r.slot)).second)
                    return "marker " + std::to_string(r.id) + " is stored twice";
            }
            if (st != Status::Ok) return "a block does not decode";
        }
    std::size_t live = 0;
    for (const auto& [id, m] : s.live) {
        if (m.part != part) continue;
        ++live;
        const auto l = leaf_of.find(id);
        if (l == leaf_of.end()) return "marker " + std::to_string(id) + " has no leaf";
        e->markers.push_back(HierMarker{m.lat, m.lon, id});
        e->leaf.push_back(l->second);
    }
    if (leaf_of.size() != live) return "the store holds markers that are not live";
    return "";
}

// One partition's writes of a step through one update, written back.
inline std::string apply_part(Store* s, std::int64_t part, const std::vector<HierStoreWrite>& w,
                              CancelCheck cancel = kStoreNoCancel) {
    HierStoreUpdate u;
    View view{s, part, s->delta_min_block_bytes == 0, {}};
    const HierStoreOps ops{&view, &fetch, &fill, &list, &slot_floor};
    if (u.init(s->radius, s->max_zoom, ops, std::size_t{1} << 32, s->delta_min_block_bytes) !=
        Status::Ok)
        return "init failed";
    const Status st = u.apply(w.data(), w.size(), cancel);
    if (st != Status::Ok) {
        std::size_t n = 0;
        if (u.blocks(&n) != nullptr && n > 0) return "a failed update hands out blocks";
        return std::string("apply: ") + status_message(st);
    }
    const HierStoreUpdate::Stats rs = u.stats();
    s->deltas_written += rs.deltas_written;
    s->reads.parses_skipped += rs.parses_skipped;
    s->reads.blocks_decoded_whole += rs.blocks_decoded_whole;
    s->reads.indexed_scans += rs.indexed_scans;
    std::size_t n = 0;
    const HierStoreBlock* out = u.blocks(&n);
    for (std::size_t i = 0; i < n; ++i) {
        const Key k{out[i].members, out[i].band, out[i].block};
        if (out[i].delta_only) {
            if (s->parts[part].count(k) == 0) return "a delta for a block that has no row";
            if (out[i].members) ++s->reads.member_deltas_written;
            if (out[i].len == 0)
                s->deltas[part].erase(k);
            else
                s->deltas[part][k] = Bytes(out[i].data, out[i].data + out[i].len);
            continue;
        }
        s->deltas[part].erase(k);
        if (out[i].len == 0) {
            s->parts[part].erase(k);
        } else {
            s->parts[part][k] = Bytes(out[i].data, out[i].data + out[i].len);
        }
    }
    const HierStoreSlots* sl = u.slots(&n);
    for (std::size_t i = 0; i < n; ++i) s->slots[{sl[i].band, sl[i].block}] = sl[i].next;
    return "";
}

// A step as a statement is written: per partition, in the step's order (a marker may move twice),
// one update after the other.
// With ordered, each partition's writes are first put in hier_store_order_writes's order, as the
// SQL layer puts a statement's (a step must then write each marker at most once, as a statement
// does: its erases are the rows before it).
inline std::string apply_step(Store* s, const std::vector<HierWrite>& step, bool ordered = false,
                              CancelCheck cancel = kStoreNoCancel) {
    std::map<std::int64_t, std::vector<HierStoreWrite>> by_part;
    for (const HierWrite& w : step) {
        const auto it = s->live.find(w.id);
        if (it != s->live.end()) {
            by_part[it->second.part].push_back(
                HierStoreWrite{false, w.id, it->second.lat, it->second.lon});
            s->live.erase(it);
        }
        if (w.kind != HierWriteKind::Erase) {
            by_part[w.partition].push_back(HierStoreWrite{true, w.id, w.lat, w.lon});
            s->live[w.id] = Marker{w.lat + 0.0, w.lon + 0.0, w.partition};
        }
    }
    for (auto& [part, w] : by_part) {
        if (ordered) hier_store_order_writes(w.data(), w.size());
        const std::string f = apply_part(s, part, w, cancel);
        if (!f.empty()) return "partition " + std::to_string(part) + ": " + f;
    }
    return "";
}

// The whole store: each partition checked, ids unique across partitions; "" or the failure.
inline std::string check_store(const Store& s, int n_parts,
                               std::map<std::int64_t, std::vector<std::int64_t>>* members) {
    members->clear();
    for (int part = 0; part < n_parts; ++part) {
        UpdaterExport e;
        std::string f = decode(s, part, &e);
        if (f.empty()) f = check_updated(e, s.radius, s.max_zoom);
        if (!f.empty()) return "partition " + std::to_string(part) + ": " + f;
        for (const auto& [id, ms] : members_of(e))
            if (!members->emplace(id, ms).second)
                return "cluster id " + std::to_string(id) + " in two partitions";
    }
    return "";
}

// Runs a scenario on a store, checking after every step; "" or the first failure. Blocks of
// delta_min_block_bytes or more get deltas (0: every block, so that small tests write them).
inline std::string run_store_scenario(const Scenario& sc, std::size_t delta_min_block_bytes = 0,
                                      std::uint64_t* deltas_written = nullptr, bool ordered = false,
                                      Store::Reads* reads = nullptr) {
    Store s;
    s.delta_min_block_bytes = delta_min_block_bytes;
    s.radius = sc.radius;
    s.max_zoom = sc.max_zoom;
    s.bands = hier_bands(s.max_zoom);
    if (!sc.initial.empty()) {
        const std::string f = build_store(&s, sc.initial, sc.initial_parts);
        if (!f.empty()) return f;
    }
    std::map<std::int64_t, std::vector<std::int64_t>> before, after;
    std::set<std::int64_t> gone;
    for (std::size_t t = 0; t <= sc.steps.size(); ++t) {
        const std::string where = "step " + std::to_string(t) + " (radius " +
                                  std::to_string(sc.radius) + ", max_zoom " +
                                  std::to_string(sc.max_zoom) + "): ";
        std::string f = t > 0 ? apply_step(&s, sc.steps[t - 1], ordered) : "";
        if (f.empty()) f = check_store(s, sc.n_parts, &after);
        if (!f.empty()) return where + f;
        for (const auto& [id, ms] : before)
            if (after.count(id) == 0) gone.insert(id);
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
    if (deltas_written != nullptr) *deltas_written += s.deltas_written;
    if (reads != nullptr) {
        reads->parses_skipped += s.reads.parses_skipped;
        reads->blocks_decoded_whole += s.reads.blocks_decoded_whole;
        reads->indexed_scans += s.reads.indexed_scans;
        reads->member_deltas_written += s.reads.member_deltas_written;
    }
    return "";
}

}  // namespace geocluster::testing
