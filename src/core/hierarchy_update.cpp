// Incremental hierarchy maintenance (hierarchy_update.hpp): the working copy and the three steps
// of a write (membership, separation, expansion zooms).
//
// Working copy. Every cluster is a Node keyed by its cluster_id (the zoom is in the id): its
// exact sums as an Item (the build's and the engine's own sum type), its parent, its children
// (zoom + 1 cluster ids; marker ids at max_zoom) and its position in its parent's children, so
// that a child leaves its parent in O(1) by a swap with the last. Per partition and zoom, a grid
// of cells one reach wide holds the clusters by centre: the clusters within the reach of a point
// are in the 3 x 3 cells around it (columns wrap around the antimeridian).
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
#include "core.hpp"

#include "hierarchy_update.hpp"

#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy_items.hpp"
#include "hierarchy_levels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <new>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace geocluster {

using namespace cluster_internal;

namespace {

constexpr std::uint64_t kOrdinalLimit = std::uint64_t{1} << kHierZoomShift;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kWorldFixed = kFixedOneD;

int zoom_of(std::int64_t cluster_id) noexcept {
    return static_cast<int>(static_cast<std::uint64_t>(cluster_id) >> kHierZoomShift);
}

struct Node {
    Item item;
    std::int64_t parent;                 // -1 at zoom 0
    std::uint32_t slot;                  // position in the parent's children
    std::vector<std::int64_t> children;  // zoom + 1 cluster ids, or marker ids at max_zoom
    double x, y;                         // exact centre, fixed units (as the engine measures)
    std::uint64_t cell_col, cell_row;    // grid cell of the centre
    std::uint32_t cell_slot;             // position in that cell's list
    int expansion;
    std::int64_t partition;
};

struct Marker {
    double lat, lon;
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

Item marker_item(double lat, double lon, std::int64_t id) noexcept {
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
void reset_extremes(Item& it) noexcept {
    it.min_lat = kInf;
    it.max_lat = -kInf;
    it.min_lon_e = it.min_lon_w = kInf;
    it.max_lon_e = it.max_lon_w = -kInf;
    it.min_id = std::numeric_limits<std::int64_t>::max();
}

// item_add's extremes (cluster_items.cpp) without its sums: a refold must not add them twice.
void fold_extremes(Item& d, const Item& s) noexcept {
    item_add_bounds(d, s);
    d.min_id = std::min(d.min_id, s.min_id);
}

// Subtracts one marker's sums; true when the marker held one of the item's extremes (then the
// caller refolds them from the children).
bool item_subtract(Item& d, const Item& m) noexcept {
    d.count -= m.count;
    d.count_w -= m.count_w;
    d.sx_e = wide_make(wide_load(d.sx_e) - wide_load(m.sx_e));
    d.sx_w = wide_make(wide_load(d.sx_w) - wide_load(m.sx_w));
    d.sy = wide_make(wide_load(d.sy) - wide_load(m.sy));
    return m.min_lat == d.min_lat || m.max_lat == d.max_lat || m.min_lon_e == d.min_lon_e ||
           m.max_lon_e == d.max_lon_e || m.min_lon_w == d.min_lon_w || m.max_lon_w == d.max_lon_w ||
           m.min_id == d.min_id;
}

}  // namespace

struct HierarchyUpdater::Impl {
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
        const Grid& g = grid_of(partition)[static_cast<std::size_t>(z)];
        const double q = query[z];
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
        const int z = zoom_of(id);
        dirty[z].insert(id);
        touched[z].insert(id);
        ++stats.nodes_touched;
    }

    void link(std::int64_t child, Node& c, std::int64_t parent_id) {
        Node& p = nodes.at(parent_id);
        c.parent = parent_id;
        c.slot = static_cast<std::uint32_t>(p.children.size());
        p.children.push_back(child);
        touched[zoom_of(parent_id)].insert(parent_id);
    }

    // Removes children[slot] from node p (a cluster or, at max_zoom, a marker), the last child
    // taking its place.
    void unlink_slot(std::int64_t parent_id, std::uint32_t slot) {
        Node& p = nodes.at(parent_id);
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
            Node& n = nodes.at(id);
            item_add(n.item, it);
            centre(n, id);
            mark(id);
            id = n.parent;
        }
    }

    void attach(std::int64_t id, double lat, double lon, std::int64_t partition) {
        const Item it = marker_item(lat, lon, id);
        const double x = static_cast<double>(fixed_x_of_lon(lon));
        const double y = static_cast<double>(fixed_y_of_lat(lat));
        std::int64_t leaf = nearest(partition, max_zoom, x, y, -1);
        Marker& m = markers[id];
        m.lat = lat;
        m.lon = lon;
        m.partition = partition;
        if (leaf != -1) {
            Node& l = nodes.at(leaf);
            m.leaf = leaf;
            m.slot = static_cast<std::uint32_t>(l.children.size());
            l.children.push_back(id);
            add_up(leaf, it);
            return;
        }
        // A new cluster at max_zoom, then up: each new cluster joins the nearest coarser one
        // within the reach of its centre, or starts one.
        std::int64_t child = fresh_id(max_zoom);
        Node* c = &make_node(child, partition, it);
        c->children.push_back(id);
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
        Node& n = nodes.at(id);
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
            for (const std::int64_t mid : n.children) {
                const Marker& m = markers.at(mid);
                fold_extremes(n.item, marker_item(m.lat, m.lon, mid));
            }
        } else {
            for (const std::int64_t cid : n.children) fold_extremes(n.item, nodes.at(cid).item);
        }
        stats.nodes_touched += n.children.size();
    }

    void detach(std::int64_t id) {
        const auto mi = markers.find(id);
        if (mi == markers.end()) return;
        const Marker m = mi->second;
        const Item it = marker_item(m.lat, m.lon, id);
        unlink_slot(m.leaf, m.slot);
        markers.erase(mi);
        std::int64_t nid = m.leaf;
        while (nid != -1) {
            Node& n = nodes.at(nid);
            const std::int64_t parent = n.parent;
            const bool extreme = item_subtract(n.item, it);
            if (n.item.count == 0) {
                if (parent != -1) unlink_slot(parent, n.slot);
                retire(nid);
            } else {
                if (extreme) refold(nid, n);
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
        const Node& na = nodes.at(a);
        const Node& nb = nodes.at(b);
        const bool a_keeps =
            na.item.count > nb.item.count || (na.item.count == nb.item.count && a < b);
        const std::int64_t keep = a_keeps ? a : b, gone = a_keeps ? b : a;
        const int z = zoom_of(keep);
        if (z > 0) {
            const std::int64_t pk = nodes.at(keep).parent, pg = nodes.at(gone).parent;
            if (pk != pg && !skip_parent_merge) merge(pk, pg);
            Node& g = nodes.at(gone);
            unlink_slot(g.parent, g.slot);  // the parent's members do not change
        }
        Node& k = nodes.at(keep);
        Node& g = nodes.at(gone);
        for (const std::int64_t c : g.children) {
            if (z == max_zoom) {
                Marker& m = markers.at(c);
                m.leaf = keep;
                m.slot = static_cast<std::uint32_t>(k.children.size());
            } else {
                Node& cn = nodes.at(c);
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
        for (int z = max_zoom; z >= 0; --z) {
            while (!dirty[z].empty()) {
                std::int64_t d = *dirty[z].begin();
                dirty[z].erase(dirty[z].begin());
                for (;;) {
                    const Node& n = nodes.at(d);
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
                const auto it = nodes.find(id);
                if (it == nodes.end()) continue;
                Node& n = it->second;
                int e;
                if (n.item.count == 1) {
                    e = -1;
                } else if (z == max_zoom) {
                    e = max_zoom + 1;
                } else if (n.children.size() > 1) {
                    e = z + 1;
                } else {
                    e = nodes.at(n.children[0]).expansion;
                }
                if (e != n.expansion) {
                    n.expansion = e;
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
            mk.lat = m[i].lat + 0.0;
            mk.lon = m[i].lon + 0.0;
            mk.partition = partition;
            mk.leaf = b.leaf_of_marker[i];
            mk.slot = static_cast<std::uint32_t>(l.children.size());
            l.children.push_back(m[i].id);
        }
    }
};

HierarchyUpdater::HierarchyUpdater() noexcept = default;
HierarchyUpdater::~HierarchyUpdater() = default;

namespace {
void* malloc_alloc(void*, std::size_t n) { return std::malloc(n); }
void malloc_release(void*, void* p) { std::free(p); }
const Allocator kMallocAlloc{&malloc_alloc, &malloc_release, nullptr, 0};
}  // namespace

Status HierarchyUpdater::init(double radius_px, int max_zoom) noexcept {
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    try {
        impl_.reset(new Impl);
        impl_->set_params(radius_px, max_zoom);
    } catch (const std::bad_alloc&) {
        impl_.reset();
        return Status::OutOfMemory;
    }
    return Status::Ok;
}

Status HierarchyUpdater::build(const HierMarker* markers, const std::int64_t* partitions,
                               std::size_t n) noexcept {
    if (!impl_ || impl_->broken) return Status::Internal;
    const double radius_px = impl_->radius_px;
    const int max_zoom = impl_->max_zoom;
    try {
        std::map<std::int64_t, std::vector<HierMarker>> by_part;
        for (std::size_t i = 0; i < n; ++i) {
            const Status v = validate_lat_lon(markers[i].lat, markers[i].lon);
            if (v != Status::Ok) return v;
            by_part[partitions != nullptr ? partitions[i] : 0].push_back(markers[i]);
        }
        {
            std::vector<std::int64_t> ids;
            for (std::size_t i = 0; i < n; ++i) ids.push_back(markers[i].id);
            std::sort(ids.begin(), ids.end());
            if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return Status::Internal;
        }
        impl_.reset(new Impl);
        impl_->set_params(radius_px, max_zoom);
        Impl& t = *impl_;
        for (auto& [part, ms] : by_part) {
            HierBuild b{nullptr, 0, nullptr, 0};
            const Status st =
                hierarchy_build(ms.data(), ms.size(), t.radius_px, t.max_zoom, t.next_ordinal,
                                kMallocAlloc, CancelCheck{nullptr, nullptr}, &b);
            if (st != Status::Ok) {
                t.broken = true;
                return st;
            }
            try {
                t.load(part, ms.data(), b);
            } catch (...) {
                hierarchy_free(kMallocAlloc, &b);
                throw;
            }
            hierarchy_free(kMallocAlloc, &b);
        }
    } catch (const std::bad_alloc&) {
        if (impl_) impl_->broken = true;
        return Status::OutOfMemory;
    }
    return Status::Ok;
}

Status HierarchyUpdater::apply(const HierWrite* writes, std::size_t n) noexcept {
    if (!impl_ || impl_->broken) return Status::Internal;
    Impl& s = *impl_;
    for (std::size_t i = 0; i < n; ++i)
        if (writes[i].kind != HierWriteKind::Erase) {
            const Status v = validate_lat_lon(writes[i].lat, writes[i].lon);
            if (v != Status::Ok) return v;
        }
    try {
        s.retired.clear();
        for (std::size_t i = 0; i < n; ++i) {
            const HierWrite& w = writes[i];
            s.detach(w.id);  // an insert of a present id is a move
            if (w.kind != HierWriteKind::Erase)
                s.attach(w.id, w.lat + 0.0, w.lon + 0.0, w.partition);
            ++s.stats.writes;
        }
        s.repair();
        std::sort(s.retired.begin(), s.retired.end());
    } catch (const std::bad_alloc&) {
        s.broken = true;
        return Status::OutOfMemory;
    } catch (Status st) {
        s.broken = true;
        return st;
    } catch (const std::exception&) {  // a broken invariant (std::out_of_range from at())
        s.broken = true;
        return Status::Internal;
    }
    return Status::Ok;
}

Status HierarchyUpdater::insert(std::int64_t id, double lat, double lon,
                                std::int64_t partition) noexcept {
    const HierWrite w{HierWriteKind::Insert, id, lat, lon, partition};
    return apply(&w, 1);
}

Status HierarchyUpdater::erase(std::int64_t id) noexcept {
    const HierWrite w{HierWriteKind::Erase, id, 0.0, 0.0, 0};
    return apply(&w, 1);
}

Status HierarchyUpdater::move(std::int64_t id, double lat, double lon,
                              std::int64_t partition) noexcept {
    const HierWrite w{HierWriteKind::Move, id, lat, lon, partition};
    return apply(&w, 1);
}

Status HierarchyUpdater::export_partition(std::int64_t partition, std::vector<HierNode>* out,
                                          std::vector<HierMarker>* markers,
                                          std::vector<std::int64_t>* leaf) const noexcept {
    if (!impl_ || impl_->broken) return Status::Internal;
    const Impl& s = *impl_;
    try {
        out->clear();
        markers->clear();
        leaf->clear();
        for (const auto& [id, n] : s.nodes) {
            if (n.partition != partition) continue;
            HierNode h;
            hier_node_of_item(n.item, &h);  // count, sums, centre and bounds as the build's
            h.cluster_id = id;
            h.parent_id = n.parent;
            h.zoom = zoom_of(id);
            h.expansion_zoom = n.expansion;
            out->push_back(h);
        }
        std::sort(out->begin(), out->end(), [](const HierNode& a, const HierNode& b) {
            return a.cluster_id < b.cluster_id;  // zoom first: it is the id's high bits
        });
        for (const auto& [id, m] : s.markers)
            if (m.partition == partition) markers->push_back(HierMarker{m.lat, m.lon, id});
        std::sort(markers->begin(), markers->end(),
                  [](const HierMarker& a, const HierMarker& b) { return a.id < b.id; });
        for (const HierMarker& m : *markers) leaf->push_back(s.markers.at(m.id).leaf);
    } catch (const std::bad_alloc&) {
        return Status::OutOfMemory;
    }
    return Status::Ok;
}

std::vector<std::int64_t> HierarchyUpdater::partitions() const {
    std::set<std::int64_t> p;
    for (const auto& [id, m] : impl_->markers) p.insert(m.partition);
    return std::vector<std::int64_t>(p.begin(), p.end());
}

std::size_t HierarchyUpdater::n_markers() const noexcept {
    return impl_ ? impl_->markers.size() : 0;
}

std::vector<std::size_t> HierarchyUpdater::nodes_per_zoom(std::int64_t partition) const {
    std::vector<std::size_t> per(static_cast<std::size_t>(impl_->max_zoom) + 1, 0);
    for (const auto& [id, n] : impl_->nodes)
        if (n.partition == partition) ++per[static_cast<std::size_t>(zoom_of(id))];
    return per;
}

const std::vector<std::int64_t>& HierarchyUpdater::last_retired() const noexcept {
    return impl_->retired;
}

const std::uint64_t* HierarchyUpdater::next_ordinal() const noexcept { return impl_->next_ordinal; }

HierUpdateStats HierarchyUpdater::stats() const noexcept { return impl_->stats; }

void HierarchyUpdater::test_skip_parent_merge(bool skip) noexcept {
    if (impl_) impl_->skip_parent_merge = skip;
}

}  // namespace geocluster
