// The working copy of incremental hierarchy maintenance (hierarchy_update.hpp) and its three
// steps (membership, separation, expansion zooms), shared by the in-memory updater
// (hierarchy_update.cpp) and the writes to a stored hierarchy (hierarchy_store.cpp). Not part of
// the API.
//
// Working copy. Every cluster is a Node keyed by its cluster_id (the zoom is in the id): its
// exact sums as an Item (the build's and the engine's own sum type), its parent, its children
// (zoom + 1 cluster ids; marker handles at max_zoom) and its position in its parent's children,
// so that a child leaves its parent in O(1) by a swap with the last. Per partition and zoom, a
// grid of cells one reach wide holds the clusters by centre: the clusters within the reach of a
// point are in the 3 x 3 cells around it (columns wrap around the antimeridian).
//
// A partial copy. The stored hierarchy's writer loads only the blocks a write needs, through a
// HierUpdateLoader: the clusters around a point before a neighbour search, a cluster by id, and
// all children of a cluster before they are counted, walked or one is removed (a node whose
// children are not all loaded is not `complete`; it only gains children until it is). In the
// in-memory updater every node is complete and there is no loader.
//
// Why the result keeps every guarantee (numbers as in hierarchy.hpp):
//  1. Conservation: each write adds or subtracts one marker along one chain of ancestors; a
//     merge adds two disjoint clusters.
//  2. Separation: a pair can only become too close when one of its centres moved, and every
//     cluster whose centre moved is a candidate at its zoom until it has no neighbour within
//     the reach. Merges at zoom z move centres at z and at coarser zooms only, and the zooms are
//     repaired finest first, so when zoom z is done nothing changes it again.
//  3. Nesting: a child always has one parent, and a merge of two children with different
//     parents merges the parents first (then the grandparents, ...), so the merged child's
//     parent contains it whole.
//  4. Centre and bounds: from the exact sums, by cluster_of_item, as the build writes them;
//     bounds and ids only shrink on erase, recomputed from the children then.
#pragma once

#include "core.hpp"

#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy.hpp"
#include "hierarchy_items.hpp"
#include "hierarchy_update.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

namespace geocluster {
namespace hier_update {

using namespace cluster_internal;

// What a partial working copy asks for; each call may add nodes and markers to the copy, and
// throws a Status on failure.
struct HierUpdateLoader {
    // Every cluster of zoom z whose centre lies within q fixed units of (x, y) (each axis; x
    // wraps around the antimeridian).
    virtual void area(int z, double x, double y, double q) = 0;
    // The cluster id (its block).
    virtual void node(std::int64_t id) = 0;
    // Every child of the cluster id (clusters at zoom + 1, or its markers at max_zoom).
    virtual void children(std::int64_t id) = 0;
    // Called every kRepairPollSteps steps of the repair, which may run long on what is loaded:
    // where a loader checks for a cancel (throwing its Status).
    virtual void poll() {}

  protected:
    ~HierUpdateLoader() = default;
};

constexpr std::uint64_t kOrdinalLimit = std::uint64_t{1} << kHierZoomShift;
// Steps of the repair between two loader polls.
constexpr std::size_t kRepairPollSteps = 64;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kWorldFixed = kFixedOneD;

struct Node {
    Item item;
    std::int64_t parent;                 // -1 at zoom 0
    std::uint32_t slot;                  // position in the parent's children
    std::vector<std::int64_t> children;  // zoom + 1 cluster ids, or marker handles at max_zoom
    double x, y;                         // exact centre, fixed units (as the engine measures)
    std::uint64_t cell_col, cell_row;    // grid cell of the centre
    std::uint32_t cell_slot;             // position in that cell's list
    int expansion;
    std::int64_t partition;
    // A partial copy's (above): every child loaded; changed since loaded (or made here), its
    // members too; and, for a node read from a block, that block's tile, its slot and its
    // record's zooms.
    bool complete = true;
    bool changed = true;
    bool members_changed = true;  // (mark: its members, and so its sums, changed)
    bool stored = false;
    std::uint64_t home_block = 0;
    std::uint32_t home_slot = 0;
    int record_lo = 0, record_hi = -1;  // the zooms of that record
};

// A marker, keyed by a handle: its id in the in-memory updater; in a stored hierarchy's
// writer, a number of its own (ids need not be unique there).
struct Marker {
    double lat, lon;
    std::int64_t id;
    std::int64_t partition;
    std::int64_t leaf;
    std::uint32_t slot;  // position in the leaf's children
};

struct CellKey {
    std::uint64_t col, row;
    bool operator==(const CellKey& o) const noexcept { return col == o.col && row == o.row; }
};
struct CellHash {
    std::size_t operator()(const CellKey& k) const noexcept {
        return static_cast<std::size_t>(hash_key(k.col, k.row));
    }
};
// A cell's clusters with their centres: the neighbour search reads the cells alone, not the
// nodes (a node lookup per candidate was most of a write's time at a million markers).
struct GridEntry {
    std::int64_t id;
    double x, y;
};
using Grid = std::unordered_map<CellKey, std::vector<GridEntry>, CellHash>;

inline Item marker_item(double lat, double lon, std::int64_t id) noexcept {
    Item it;
    const bool west = lon < 0;
    const u128 x = fixed_x_of_lon(lon), y = fixed_y_of_lat(lat);
    it.count = 1;
    it.count_w = west ? 1 : 0;
    it.sx_e = wide_make(west ? 0 : x);
    it.sx_w = wide_make(west ? x : 0);
    it.sy = wide_make(y);
    it.min_lat = it.max_lat = lat;
    it.min_lon_e = west ? kInf : lon;
    it.max_lon_e = west ? -kInf : lon;
    it.min_lon_w = west ? lon : kInf;
    it.max_lon_w = west ? lon : -kInf;
    it.min_id = id;
    it.rank = 0;
    it.has_id = 1;
    return it;
}

// The extremes of an item reset, for refolding from its children.
inline void reset_extremes(Item& it) noexcept {
    it.min_lat = kInf;
    it.max_lat = -kInf;
    it.min_lon_e = it.min_lon_w = kInf;
    it.max_lon_e = it.max_lon_w = -kInf;
    it.min_id = std::numeric_limits<std::int64_t>::max();
}

// item_add's extremes (cluster_items.cpp) without its sums: a refold must not add them twice.
inline void fold_extremes(Item& d, const Item& s) noexcept {
    item_add_bounds(d, s);
    d.min_id = std::min(d.min_id, s.min_id);
}

// Subtracts one marker's sums; true when the marker held one of the item's extremes (then the
// caller refolds them from the children).
inline bool item_subtract(Item& d, const Item& m) noexcept {
    d.count -= m.count;
    d.count_w -= m.count_w;
    d.sx_e = wide_make(wide_load(d.sx_e) - wide_load(m.sx_e));
    d.sx_w = wide_make(wide_load(d.sx_w) - wide_load(m.sx_w));
    d.sy = wide_make(wide_load(d.sy) - wide_load(m.sy));
    return m.min_lat == d.min_lat || m.max_lat == d.max_lat || m.min_lon_e == d.min_lon_e ||
           m.max_lon_e == d.max_lon_e || m.min_lon_w == d.min_lon_w || m.max_lon_w == d.max_lon_w ||
           m.min_id == d.min_id;
}

struct Impl {
    double radius_px = 0;
    int max_zoom = -1;
    bool broken = false;             // a failed allocation left the state half-changed
    bool skip_parent_merge = false;  // the tests' deliberate break
    double reach[kHierMaxZoom + 1] = {};
    double query[kHierMaxZoom + 1] = {};  // a little more than the reach (rounding, as the engine)
    double side[kHierMaxZoom + 1] = {};   // grid cell side, >= the query
    std::uint64_t last_col[kHierMaxZoom + 1] = {};
    std::uint64_t next_ordinal[kHierMaxZoom + 1] = {};
    std::unordered_map<std::int64_t, Node> nodes;
    std::unordered_map<std::int64_t, Marker> markers;
    std::map<std::int64_t, std::vector<Grid>> grids;   // partition -> grid per zoom
    std::set<std::int64_t> dirty[kHierMaxZoom + 1];    // centre moved: separation candidates
    std::set<std::int64_t> touched[kHierMaxZoom + 1];  // expansion zoom to recompute
    std::vector<std::int64_t> retired;
    HierUpdateStats stats{0, 0, 0, 0, 0};
    // A stored hierarchy's writer: its loader, its ids' zoom shift (kHierIdZoomShift) and the
    // ids of the clusters it makes until they are given blocks and slots (kTempId | zoom |
    // ordinal).
    HierUpdateLoader* loader = nullptr;
    int zoom_shift = kHierZoomShift;
    std::uint64_t next_temp = 0;
    static constexpr std::int64_t kTempId = std::int64_t{1} << 62;

    int zoom_of(std::int64_t cluster_id) const noexcept {
        return static_cast<int>(static_cast<std::uint64_t>(cluster_id) >> zoom_shift & 31);
    }

    // The node id, loaded first when the copy is partial.
    Node& node(std::int64_t id) {
        auto it = nodes.find(id);
        if (it == nodes.end() && loader != nullptr) {
            loader->node(id);
            it = nodes.find(id);
        }
        if (it == nodes.end()) throw Status::Internal;
        return it->second;
    }

    // The node id with all its children loaded.
    Node& full(std::int64_t id) {
        Node& n = node(id);
        if (!n.complete) {
            loader->children(id);
            n.complete = true;
        }
        return n;
    }

    void set_params(double r, int mz) {
        radius_px = r;
        max_zoom = mz;
        for (int z = 0; z <= mz; ++z) {
            const double rf = std::ldexp(r, kFixedBits - 8 - z) + kSlackFixed;
            reach[z] = rf < kMaxReachFixed ? rf : kMaxReachFixed;
            query[z] = reach[z] + reach[z] * (1.0 / 1048576.0) + 1.0;
            side[z] = std::ceil(query[z]);
            last_col[z] = static_cast<std::uint64_t>(kWorldFixed / side[z]);
        }
    }

    std::vector<Grid>& grid_of(std::int64_t partition) {
        auto& g = grids[partition];
        if (g.empty()) g.resize(static_cast<std::size_t>(max_zoom) + 1);
        return g;
    }

    std::int64_t fresh_id(int z) {
        if (loader != nullptr)
            return kTempId | static_cast<std::int64_t>(static_cast<std::uint64_t>(z) << zoom_shift |
                                                       next_temp++);
        if (next_ordinal[z] >= kOrdinalLimit) throw Status::HierarchyIdsExhausted;
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(z) << kHierZoomShift |
                                         next_ordinal[z]++);
    }

    // The centre as the engine measures it (cluster_finalize.cpp's centre from sums: the mean of
    // the fixed positions, west members at x + 1 when the bounds cross the antimeridian, wrapped
    // back), and the grid cell it falls in. Whether the bounds cross is read off cluster_of_item
    // (min_lon > max_lon exactly then), so that the choice is the engine's.
    void centre(Node& n, std::int64_t id) {
        Cluster c;
        cluster_of_item(n.item, &c);
        u128 nx = wide_load(n.item.sx_e) + wide_load(n.item.sx_w);
        if (c.min_lon > c.max_lon) nx += static_cast<u128>(n.item.count_w) << kFixedBits;
        const u128 ny = wide_load(n.item.sy);
        const u128 cnt = n.item.count;
        std::uint64_t qx = static_cast<std::uint64_t>(nx / cnt);
        const auto rx = static_cast<std::uint64_t>(nx % cnt);
        const auto qy = static_cast<std::uint64_t>(ny / cnt);
        const auto ry = static_cast<std::uint64_t>(ny % cnt);
        if (qx > kFixedOne || (qx == kFixedOne && rx > 0)) qx -= kFixedOne;
        const double dn = static_cast<double>(n.item.count);
        n.x = static_cast<double>(qx) + static_cast<double>(rx) / dn;
        n.y = static_cast<double>(qy) + static_cast<double>(ry) / dn;
        const int z = zoom_of(id);
        const auto col = std::min(static_cast<std::uint64_t>(n.x / side[z]), last_col[z]);
        const auto row = std::min(static_cast<std::uint64_t>(n.y / side[z]), last_col[z]);
        std::vector<Grid>& grids_here = grid_of(n.partition);
        if (n.cell_slot != UINT32_MAX && col == n.cell_col && row == n.cell_row) {
            GridEntry& e = grids_here[static_cast<std::size_t>(z)]
                               .find(CellKey{col, row})
                               ->second[n.cell_slot];
            e.x = n.x;
            e.y = n.y;
            return;
        }
        if (n.cell_slot != UINT32_MAX) grid_remove(n, id);
        n.cell_col = col;
        n.cell_row = row;
        auto& list = grids_here[static_cast<std::size_t>(z)][CellKey{col, row}];
        n.cell_slot = static_cast<std::uint32_t>(list.size());
        list.push_back(GridEntry{id, n.x, n.y});
    }

    void grid_remove(Node& n, std::int64_t id) {
        Grid& g = grid_of(n.partition)[static_cast<std::size_t>(zoom_of(id))];
        auto cell = g.find(CellKey{n.cell_col, n.cell_row});
        std::vector<GridEntry>& list = cell->second;
        const GridEntry last = list.back();
        list[n.cell_slot] = last;
        if (last.id != id) nodes.at(last.id).cell_slot = n.cell_slot;
        list.pop_back();
        if (list.empty()) g.erase(cell);
        n.cell_slot = UINT32_MAX;
    }

    bool within(double x1, double y1, double x2, double y2, int z) const noexcept {
        double dx = std::fabs(x1 - x2);
        if (dx > 0.5 * kWorldFixed) dx = kWorldFixed - dx;  // across the antimeridian
        const double dy = y1 - y2;
        return dx * dx + dy * dy < reach[z] * reach[z];
    }

    // The nearest cluster of the partition at zoom z whose centre is within the reach of (x, y),
    // other than self; ties by lower id. -1 when none.
    std::int64_t nearest(std::int64_t partition, int z, double x, double y, std::int64_t self) {
        const double q = query[z];
        if (loader != nullptr) loader->area(z, x, y, q);
        const Grid& g = grid_of(partition)[static_cast<std::size_t>(z)];
        // Column ranges of [x - q, x + q], wrapped into [0, world].
        double ranges[2][2];
        int n_ranges = 0;
        if (2.0 * q >= kWorldFixed) {
            ranges[n_ranges][0] = 0;
            ranges[n_ranges++][1] = kWorldFixed;
        } else if (x - q < 0) {
            ranges[n_ranges][0] = x - q + kWorldFixed;
            ranges[n_ranges++][1] = kWorldFixed;
            ranges[n_ranges][0] = 0;
            ranges[n_ranges++][1] = x + q;
        } else if (x + q > kWorldFixed) {
            ranges[n_ranges][0] = x - q;
            ranges[n_ranges++][1] = kWorldFixed;
            ranges[n_ranges][0] = 0;
            ranges[n_ranges++][1] = x + q - kWorldFixed;
        } else {
            ranges[n_ranges][0] = x - q;
            ranges[n_ranges++][1] = x + q;
        }
        std::vector<std::uint64_t> cols;
        for (int r = 0; r < n_ranges; ++r) {
            const auto a = std::min(
                static_cast<std::uint64_t>(std::max(ranges[r][0], 0.0) / side[z]), last_col[z]);
            const auto b =
                std::min(static_cast<std::uint64_t>(ranges[r][1] / side[z]), last_col[z]);
            for (std::uint64_t c = a; c <= b; ++c)
                if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
        }
        const auto row_a =
            std::min(static_cast<std::uint64_t>(std::max(y - q, 0.0) / side[z]), last_col[z]);
        const auto row_b =
            std::min(static_cast<std::uint64_t>(std::max(y + q, 0.0) / side[z]), last_col[z]);
        std::int64_t best = -1;
        double best_d2 = kInf;
        for (const std::uint64_t c : cols)
            for (std::uint64_t r = row_a; r <= row_b; ++r) {
                const auto cell = g.find(CellKey{c, r});
                if (cell == g.end()) continue;
                for (const GridEntry& o : cell->second) {
                    const std::int64_t id = o.id;
                    if (id == self) continue;
                    ++stats.nodes_touched;
                    if (!within(x, y, o.x, o.y, z)) continue;
                    double dx = std::fabs(x - o.x);
                    if (dx > 0.5 * kWorldFixed) dx = kWorldFixed - dx;
                    const double d2 = dx * dx + (y - o.y) * (y - o.y);
                    if (d2 < best_d2 || (d2 == best_d2 && id < best)) {
                        best_d2 = d2;
                        best = id;
                    }
                }
            }
        return best;
    }

    Node& make_node(std::int64_t id, std::int64_t partition, const Item& it) {
        Node& n = nodes[id];
        n.item = it;
        n.parent = -1;
        n.slot = 0;
        n.cell_slot = UINT32_MAX;
        n.expansion = -1;
        n.partition = partition;
        centre(n, id);
        ++stats.created;
        return n;
    }

    void mark(std::int64_t id) {
        Node& n = node(id);
        n.changed = n.members_changed = true;
        const int z = zoom_of(id);
        dirty[z].insert(id);
        touched[z].insert(id);
        ++stats.nodes_touched;
    }

    void link(std::int64_t child, Node& c, std::int64_t parent_id) {
        Node& p = node(parent_id);
        p.changed = c.changed = true;
        c.parent = parent_id;
        c.slot = static_cast<std::uint32_t>(p.children.size());
        p.children.push_back(child);
        touched[zoom_of(parent_id)].insert(parent_id);
    }

    // Removes children[slot] from node p (a cluster or, at max_zoom, a marker), the last child
    // taking its place.
    // Removes cluster id from its parent's children. (The parent is completed first: that may
    // load it, and only then is id's slot in its list known.)
    void unlink_node(std::int64_t id) {
        const std::int64_t parent = node(id).parent;
        full(parent);
        unlink_slot(parent, node(id).slot);
    }

    void unlink_slot(std::int64_t parent_id, std::uint32_t slot) {
        Node& p = full(parent_id);  // a removal needs them all: see `complete`
        p.changed = true;
        const std::int64_t last = p.children.back();
        p.children[slot] = last;
        if (zoom_of(parent_id) == max_zoom) {
            markers.at(last).slot = slot;
        } else {
            nodes.at(last).slot = slot;
        }
        p.children.pop_back();
        touched[zoom_of(parent_id)].insert(parent_id);
    }

    void add_up(std::int64_t id, const Item& it) {
        while (id != -1) {
            Node& n = node(id);
            item_add(n.item, it);
            centre(n, id);
            mark(id);
            id = n.parent;
        }
    }

    // Adds marker id at (lat, lon) under handle (its id in the in-memory updater).
    void attach(std::int64_t handle, std::int64_t id, double lat, double lon,
                std::int64_t partition) {
        const Item it = marker_item(lat, lon, id);
        const double x = static_cast<double>(fixed_x_of_lon(lon));
        const double y = static_cast<double>(fixed_y_of_lat(lat));
        std::int64_t leaf = nearest(partition, max_zoom, x, y, -1);
        Marker& m = markers[handle];
        m.lat = lat;
        m.lon = lon;
        m.id = id;
        m.partition = partition;
        if (leaf != -1) {
            Node& l = node(leaf);
            m.leaf = leaf;
            m.slot = static_cast<std::uint32_t>(l.children.size());
            l.children.push_back(handle);
            add_up(leaf, it);
            return;
        }
        // A new cluster at max_zoom, then up: each new cluster joins the nearest coarser one
        // within the reach of its centre, or starts one.
        std::int64_t child = fresh_id(max_zoom);
        Node* c = &make_node(child, partition, it);
        c->children.push_back(handle);
        m.leaf = child;
        m.slot = 0;
        mark(child);
        for (int z = max_zoom - 1; z >= 0; --z) {
            const std::int64_t p = nearest(partition, z, c->x, c->y, -1);
            if (p != -1) {
                link(child, *c, p);
                add_up(p, it);
                return;
            }
            const std::int64_t np = fresh_id(z);
            Node& pn = make_node(np, partition, it);  // (references into nodes stay valid)
            link(child, *c, np);
            mark(np);
            child = np;
            c = &pn;
        }
    }

    void retire(std::int64_t id) {
        Node& n = node(id);
        if (n.cell_slot != UINT32_MAX) grid_remove(n, id);
        const int z = zoom_of(id);
        dirty[z].erase(id);
        touched[z].erase(id);
        nodes.erase(id);
        retired.push_back(id);
        ++stats.removed;
    }

    void refold(std::int64_t id, Node& n) {
        reset_extremes(n.item);
        if (zoom_of(id) == max_zoom) {
            for (const std::int64_t mh : n.children) {
                const Marker& m = markers.at(mh);
                fold_extremes(n.item, marker_item(m.lat, m.lon, m.id));
            }
        } else {
            for (const std::int64_t cid : n.children) fold_extremes(n.item, node(cid).item);
        }
        stats.nodes_touched += n.children.size();
    }

    // Removes the marker of handle (none: nothing).
    void detach(std::int64_t handle) {
        const auto mi = markers.find(handle);
        if (mi == markers.end()) return;
        full(mi->second.leaf);  // loaded, with all its markers: their slots are then final
        const Marker m = markers.at(handle);
        const Item it = marker_item(m.lat, m.lon, m.id);
        unlink_slot(m.leaf, m.slot);
        markers.erase(handle);
        std::int64_t nid = m.leaf;
        while (nid != -1) {
            Node& n = node(nid);
            const std::int64_t parent = n.parent;
            const bool extreme = item_subtract(n.item, it);
            if (n.item.count == 0) {
                if (parent != -1) unlink_node(nid);
                retire(nid);
            } else {
                if (extreme) refold(nid, full(nid));
                centre(n, nid);
                mark(nid);
            }
            nid = parent;
        }
    }

    // Merges clusters a and b of one zoom (and their ancestors where they differ); returns the
    // survivor's id.
    std::int64_t merge(std::int64_t a, std::int64_t b) {
        ++stats.merges;
        const Node& na = node(a);
        const Node& nb = node(b);
        const bool a_keeps =
            na.item.count > nb.item.count || (na.item.count == nb.item.count && a < b);
        const std::int64_t keep = a_keeps ? a : b, gone = a_keeps ? b : a;
        const int z = zoom_of(keep);
        if (z > 0) {
            const std::int64_t pk = node(keep).parent, pg = node(gone).parent;
            if (pk != pg && !skip_parent_merge) merge(pk, pg);
            unlink_node(gone);  // the parent's members do not change
        }
        Node& k = node(keep);
        Node& g = full(gone);
        k.changed = true;
        for (const std::int64_t c : g.children) {
            if (z == max_zoom) {
                Marker& m = markers.at(c);
                m.leaf = keep;
                m.slot = static_cast<std::uint32_t>(k.children.size());
            } else {
                Node& cn = node(c);
                cn.changed = true;
                cn.parent = keep;
                cn.slot = static_cast<std::uint32_t>(k.children.size());
            }
            k.children.push_back(c);
        }
        stats.nodes_touched += g.children.size();
        item_add(k.item, g.item);
        retire(gone);
        centre(k, keep);
        mark(keep);
        return keep;
    }

    void repair() {
        std::size_t step = 0;
        const auto poll = [&] {
            if (loader != nullptr && ++step % kRepairPollSteps == 0) loader->poll();
        };
        for (int z = max_zoom; z >= 0; --z) {
            while (!dirty[z].empty()) {
                poll();
                std::int64_t d = *dirty[z].begin();
                dirty[z].erase(dirty[z].begin());
                for (;;) {
                    const Node& n = node(d);
                    const std::int64_t o = nearest(n.partition, z, n.x, n.y, d);
                    if (o == -1) break;
                    d = merge(d, o);
                    dirty[z].erase(d);
                }
            }
        }
        // Expansion zooms, finest first: a change reaches the parent only through a single
        // child, so a parent is looked at when its child's expansion zoom changed.
        for (int z = max_zoom; z >= 0; --z) {
            for (const std::int64_t id : touched[z]) {
                poll();
                const auto it = nodes.find(id);
                if (it == nodes.end()) continue;
                Node& n = it->second;
                int e;
                if (n.item.count == 1) {
                    e = -1;
                } else if (z == max_zoom) {
                    e = max_zoom + 1;
                } else if (n.children.size() > 1 || (!n.complete && n.expansion == z + 1) ||
                           full(id).children.size() > 1) {
                    // (an incomplete node has at least the children loaded; and it has lost
                    // none, since a removal completes it first, so when it split at z + 1 as
                    // read, it still does: its children need not be read to know it)
                    e = z + 1;
                } else {
                    e = node(n.children[0]).expansion;
                }
                if (e != n.expansion) {
                    n.expansion = e;
                    n.changed = true;
                    if (n.parent != -1) touched[z - 1].insert(n.parent);
                }
            }
            touched[z].clear();
        }
    }

    void load(std::int64_t partition, const HierMarker* m, const HierBuild& b) {
        for (std::size_t j = 0; j < b.n_nodes; ++j) {
            const HierNode& h = b.nodes[j];
            Node& n = make_node(h.cluster_id, partition, hier_item_of_node(h));
            --stats.created;
            n.parent = h.parent_id;
            n.expansion = h.expansion_zoom;
        }
        for (std::size_t j = 0; j < b.n_nodes; ++j) {
            const HierNode& h = b.nodes[j];
            if (h.parent_id == -1) continue;
            Node& p = nodes.at(h.parent_id);
            Node& c = nodes.at(h.cluster_id);
            c.slot = static_cast<std::uint32_t>(p.children.size());
            p.children.push_back(h.cluster_id);
        }
        for (std::size_t i = 0; i < b.n_markers; ++i) {
            Node& l = nodes.at(b.leaf_of_marker[i]);
            Marker& mk = markers[m[i].id];
            mk.id = m[i].id;
            mk.lat = m[i].lat + 0.0;
            mk.lon = m[i].lon + 0.0;
            mk.partition = partition;
            mk.leaf = b.leaf_of_marker[i];
            mk.slot = static_cast<std::uint32_t>(l.children.size());
            l.children.push_back(m[i].id);
        }
    }
};

}  // namespace hier_update
}  // namespace geocluster
