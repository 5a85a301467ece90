// Checks for the incremental hierarchy (hierarchy_update.hpp), shared by the unit tests and the
// fuzz target. No GoogleTest here; each check answers with its failures as text ("" = holds).
//
//  - check_updated: every guarantee of hierarchy.hpp, by the build's brute-force oracle
//    (hierarchy_reference.hpp: counts, members, centres, bounds, sums, ids, expansion zooms,
//    nesting and pairwise separation, all recomputed from the raw markers), on the updater's
//    export renumbered per zoom (count descending, north to south, west to east), its order of
//    ordinals not checked (the oracle checks a build's ordinals and order, which writes do not
//    keep: the renumbering and the flag take only those out).
//  - check_identity: the id rules of a write, from two snapshots of member sets.
//  - make_scenario: a seeded random write sequence (positions at hot spots, on the
//    antimeridian, at the poles), for the in-memory and the stored writers alike.
#pragma once

#include "hierarchy_reference.hpp"
#include "hierarchy_update.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace geocluster::testing {

struct UpdaterExport {
    std::vector<HierNode> nodes;
    std::vector<HierMarker> markers;
    std::vector<std::int64_t> leaf;
};

inline UpdaterExport export_of(const HierarchyUpdater& u, std::int64_t partition) {
    UpdaterExport e;
    if (u.export_partition(partition, &e.nodes, &e.markers, &e.leaf) != Status::Ok) e.nodes.clear();
    return e;
}

inline std::string check_updated(const UpdaterExport& e, double radius_px, int max_zoom) {
    std::vector<HierNode> nodes = e.nodes;
    std::stable_sort(nodes.begin(), nodes.end(), [](const HierNode& a, const HierNode& b) {
        if (a.zoom != b.zoom) return a.zoom < b.zoom;
        if (a.count != b.count) return a.count > b.count;
        if (a.lat != b.lat) return a.lat > b.lat;
        if (a.lon != b.lon) return a.lon < b.lon;
        return a.cluster_id < b.cluster_id;
    });
    std::unordered_map<std::int64_t, std::int64_t> renamed;
    std::vector<std::uint64_t> before(static_cast<std::size_t>(max_zoom) + 1, 0), after = before;
    for (const HierNode& n : nodes) {
        if (n.zoom < 0 || n.zoom > max_zoom) return "node with zoom out of range";
        if (renamed.count(n.cluster_id) != 0) return "duplicate cluster_id";
        const auto z = static_cast<std::uint64_t>(n.zoom);
        renamed[n.cluster_id] = static_cast<std::int64_t>(z << kHierZoomShift | after[z]++);
    }
    const auto rename = [&](std::int64_t id) {
        const auto it = renamed.find(id);
        return it == renamed.end() ? std::int64_t{-2} : it->second;  // -2: dangling link
    };
    for (HierNode& n : nodes) {
        n.cluster_id = rename(n.cluster_id);
        if (n.parent_id != -1) n.parent_id = rename(n.parent_id);
    }
    std::vector<std::int64_t> leaf = e.leaf;
    for (std::int64_t& l : leaf) l = rename(l);
    HierBuild b{nodes.data(), nodes.size(), leaf.data(), leaf.size()};
    return check_hierarchy(e.markers.data(), e.markers.size(), radius_px, max_zoom, before.data(),
                           after.data(), b, false);
}

// cluster_id -> its member marker ids (sorted), every zoom.
inline std::map<std::int64_t, std::vector<std::int64_t>> members_of(const UpdaterExport& e) {
    std::unordered_map<std::int64_t, std::int64_t> parent;
    for (const HierNode& n : e.nodes) parent[n.cluster_id] = n.parent_id;
    std::map<std::int64_t, std::vector<std::int64_t>> out;
    for (std::size_t i = 0; i < e.markers.size(); ++i)
        for (std::int64_t c = e.leaf[i]; c != -1; c = parent.count(c) ? parent[c] : -1)
            out[c].push_back(e.markers[i].id);
    for (auto& [c, m] : out) std::sort(m.begin(), m.end());
    return out;
}

// The id rules of one apply, from the member sets before and after it (all partitions merged),
// the marker ids it wrote, the ids it reports retired and next_ordinal before it:
//  - a cluster that disappeared had its id retired; its members the write did not touch, if
//    any, are now all in one cluster (a merge keeps one of the two ids), and for a single
//    write that cluster existed before (the survivor of a merge is the one with more markers or
//    the lower id, so an old cluster never loses its id to a new one);
//  - a cluster that appeared has a fresh ordinal (at least next_ordinal before the write);
//  - a retired id is gone.
inline std::string check_identity(const std::map<std::int64_t, std::vector<std::int64_t>>& before,
                                  const std::map<std::int64_t, std::vector<std::int64_t>>& after,
                                  const std::set<std::int64_t>& written,
                                  const std::vector<std::int64_t>& retired,
                                  const std::vector<std::uint64_t>& next_before,
                                  bool single_write) {
    HierFailures f;
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> where;  // marker -> its clusters
    for (const auto& [c, ms] : after)
        for (const std::int64_t m : ms) where[m].push_back(c);
    const std::set<std::int64_t> retired_set(retired.begin(), retired.end());
    for (const auto& [c, ms] : before) {
        if (after.count(c) != 0) continue;
        if (retired_set.count(c) == 0) f.add() << "cluster " << c << " vanished unreported";
        const int z = static_cast<int>(static_cast<std::uint64_t>(c) >> kHierZoomShift);
        std::set<std::int64_t> now;
        for (const std::int64_t m : ms) {
            if (written.count(m) != 0) continue;
            for (const std::int64_t a : where[m])
                if ((static_cast<std::uint64_t>(a) >> kHierZoomShift) ==
                    static_cast<std::uint64_t>(z))
                    now.insert(a);
        }
        if (now.size() > 1)
            f.add() << "the members of retired cluster " << c << " are in " << now.size()
                    << " clusters";
        if (single_write && now.size() == 1 && before.count(*now.begin()) == 0)
            f.add() << "retired cluster " << c << " was merged into the new cluster "
                    << *now.begin();
    }
    for (const auto& [c, ms] : after) {
        const auto z = static_cast<std::size_t>(static_cast<std::uint64_t>(c) >> kHierZoomShift);
        if (before.count(c) == 0 &&
            (static_cast<std::uint64_t>(c) & kHierOrdinalMask) < next_before[z])
            f.add() << "new cluster " << c << " does not have a fresh ordinal";
    }
    for (const std::int64_t c : retired)
        if (after.count(c) != 0) f.add() << "retired cluster " << c << " still exists";
    return f.text();
}

// ---- Random write sequences (the unit tests of both writers, and the fuzz target's shape) ----

class WriteGen {
  public:
    explicit WriteGen(std::uint64_t seed) : rng_(seed) {}
    double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng_); }
    int integer(int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng_); }
    bool coin(double p = 0.5) { return uni(0, 1) < p; }

    // A position: anywhere, near a few hot spots (so clusters grow and collide), on the
    // antimeridian, near or at the poles.
    void position(double* lat, double* lon) {
        switch (integer(0, 5)) {
            case 0:
                *lat = uni(-90, 90);
                *lon = uni(-180, 180);
                break;
            case 1:
            case 2: {
                const double spot = integer(0, 3);
                *lat = spot * 20 - 30 + uni(-1, 1) * std::pow(10.0, uni(-5, 0.5));
                *lon = spot * 40 - 60 + uni(-1, 1) * std::pow(10.0, uni(-5, 0.5));
                break;
            }
            case 3:
                *lat = uni(-60, 60);
                *lon = (coin() ? 180.0 : -180.0) - (coin() ? 1 : -1) * std::pow(10.0, uni(-7, 0));
                *lon = std::max(-180.0, std::min(180.0, *lon));
                break;
            case 4:
                *lat = (coin() ? 1 : -1) * (coin(0.2) ? 90.0 : 85.0511 + uni(-0.01, 4.9));
                *lon = uni(-180, 180);
                break;
            default:
                *lat = coin() ? 0.0 : -0.0;
                *lon = coin() ? 180.0 : (coin() ? -180.0 : -0.0);
                break;
        }
    }
    std::mt19937_64& rng() { return rng_; }

  private:
    std::mt19937_64 rng_;
};

struct Scenario {
    double radius;
    int max_zoom;
    int n_parts;
    std::vector<HierMarker> initial;
    std::vector<std::int64_t> initial_parts;
    std::vector<std::vector<HierWrite>> steps;  // each step one apply (a batch when > 1)
};

// n markers at g's positions, ids from *next_id on, in random partitions: the scenario's
// initial build, and the live ids.
inline void add_initial_markers(WriteGen& g, int n, Scenario* s, std::vector<std::int64_t>* live,
                                std::int64_t* next_id) {
    for (int i = 0; i < n; ++i) {
        HierMarker m;
        g.position(&m.lat, &m.lon);
        m.id = (*next_id)++;
        s->initial.push_back(m);
        s->initial_parts.push_back(g.integer(0, s->n_parts - 1));
        live->push_back(m.id);
    }
}

inline Scenario make_scenario(std::uint64_t seed, int max_markers, int n_steps) {
    WriteGen g(seed);
    Scenario s;
    const double k = g.uni(0, 1);
    s.radius = k < 0.1 ? g.uni(0.5, 5) : (k < 0.85 ? g.uni(20, 120) : g.uni(300, 5e6));
    s.max_zoom = g.coin(0.1) ? g.integer(19, kHierMaxZoom) : g.integer(0, 16);
    s.n_parts = g.coin(0.3) ? 3 : 1;
    std::int64_t next_id = 1;
    std::vector<std::int64_t> live;
    add_initial_markers(g, g.integer(0, max_markers), &s, &live, &next_id);
    for (int t = 0; t < n_steps; ++t) {
        const int batch = g.coin(0.15) ? g.integer(2, 12) : 1;
        std::vector<HierWrite> step;
        for (int b = 0; b < batch; ++b) {
            HierWrite w{HierWriteKind::Insert, 0, 0, 0, g.integer(0, s.n_parts - 1)};
            const double k2 = g.uni(0, 1);
            if (live.empty() || k2 < 0.4) {
                w.id = next_id++;
                live.push_back(w.id);
                g.position(&w.lat, &w.lon);
            } else if (k2 < 0.75) {
                w.kind = HierWriteKind::Move;
                w.id =
                    live[static_cast<std::size_t>(g.integer(0, static_cast<int>(live.size()) - 1))];
                g.position(&w.lat, &w.lon);
            } else {
                w.kind = HierWriteKind::Erase;
                const auto i =
                    static_cast<std::size_t>(g.integer(0, static_cast<int>(live.size()) - 1));
                w.id = live[i];
                live[i] = live.back();
                live.pop_back();
            }
            step.push_back(w);
        }
        s.steps.push_back(step);
    }
    return s;
}

}  // namespace geocluster::testing
