// The slow oracle for the cluster hierarchy (hierarchy.hpp): every guarantee recomputed from the
// raw markers in long double, by brute force, using the build only for what the contract leaves
// to it (which markers go together: leaf_of_marker and the parent links). No GoogleTest here: the
// unit tests and the fuzz target share it, and it answers with the failures it found, as text.
#pragma once

#include "hierarchy.hpp"
#include "mercator_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

namespace geocluster::testing {

constexpr std::uint64_t kHierOrdinalMask = (std::uint64_t{1} << kHierZoomShift) - 1;

inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

inline bool same_node(const HierNode& a, const HierNode& b) {
    return a.cluster_id == b.cluster_id && a.parent_id == b.parent_id && a.zoom == b.zoom &&
           a.expansion_zoom == b.expansion_zoom && a.count == b.count && same_bits(a.lat, b.lat) &&
           same_bits(a.lon, b.lon) && same_bits(a.min_lat, b.min_lat) &&
           same_bits(a.min_lon, b.min_lon) && same_bits(a.max_lat, b.max_lat) &&
           same_bits(a.max_lon, b.max_lon) && a.id == b.id &&
           std::memcmp(&a.sums, &b.sums, sizeof a.sums) == 0;
}

// Collects failures; keeps the first few messages.
class HierFailures {
  public:
    std::ostringstream& add() {
        ++count_;
        if (count_ > 8) {
            sink_.str("");
            return sink_;
        }
        if (count_ > 1) text_ << "\n";
        return text_;
    }
    std::string text() const {
        return count_ == 0 ? std::string()
                           : text_.str() +
                                 (count_ > 8 ? "\n(" + std::to_string(count_) + " failures in all)"
                                             : std::string());
    }
    std::size_t count() const { return count_; }

  private:
    std::ostringstream text_, sink_;
    std::size_t count_ = 0;
};

// Checks the build b of markers m[0..n) (radius_px, max_zoom) against every guarantee of
// hierarchy.hpp and the identity rules: ordinals per zoom from before[z] to after[z] (the
// caller's next_ordinal before and after the build), and with check_order the sweep's order of
// the ordinals. Returns "" when all hold.
inline std::string check_hierarchy(const HierMarker* m, std::size_t n, double radius_px,
                                   int max_zoom, const std::uint64_t* before,
                                   const std::uint64_t* after, const HierBuild& b,
                                   bool check_order = true) {
    HierFailures f;
    const int zooms = max_zoom + 1;
    if (b.n_markers != n) {
        f.add() << "n_markers " << b.n_markers << ", expected " << n;
        return f.text();
    }
    // Identity and order of the array: (zoom, ordinal), ordinals consecutive from before[zoom].
    std::vector<std::vector<std::size_t>> at(static_cast<std::size_t>(zooms));
    std::unordered_map<std::int64_t, std::size_t> index;
    for (std::size_t j = 0; j < b.n_nodes; ++j) {
        const HierNode& o = b.nodes[j];
        if (o.zoom < 0 || o.zoom > max_zoom || (j > 0 && o.zoom < b.nodes[j - 1].zoom)) {
            f.add() << "node " << j << ": zoom " << o.zoom << " out of order or range";
            return f.text();
        }
        const auto z = static_cast<std::size_t>(o.zoom);
        const auto id = static_cast<std::uint64_t>(o.cluster_id);
        if (o.cluster_id < 0 || (id >> kHierZoomShift) != z ||
            (id & kHierOrdinalMask) != before[z] + at[z].size()) {
            f.add() << "node " << j << " (zoom " << o.zoom << "): cluster_id " << o.cluster_id
                    << " is not zoom << 40 | ordinal " << before[z] + at[z].size();
            return f.text();
        }
        at[z].push_back(j);
        index[o.cluster_id] = j;
    }
    for (int z = 0; z < zooms; ++z)
        if (after[z] != before[z] + at[static_cast<std::size_t>(z)].size())
            f.add() << "zoom " << z << ": next_ordinal " << after[z] << ", expected "
                    << before[z] + at[static_cast<std::size_t>(z)].size();
    // Parents, and every marker's cluster at every zoom (anc[z][i]: index of its node).
    for (std::size_t j = 0; j < b.n_nodes; ++j) {
        const HierNode& o = b.nodes[j];
        if (o.zoom == 0) {
            if (o.parent_id != -1) f.add() << "node " << j << " at zoom 0 has a parent";
            continue;
        }
        const auto p = index.find(o.parent_id);
        if (p == index.end() || b.nodes[p->second].zoom != o.zoom - 1) {
            f.add() << "node " << j << " (zoom " << o.zoom << "): parent " << o.parent_id
                    << " is not a node of zoom " << o.zoom - 1;
            return f.text();
        }
    }
    std::vector<std::vector<std::size_t>> anc(static_cast<std::size_t>(zooms),
                                              std::vector<std::size_t>(n));
    for (std::size_t i = 0; i < n; ++i) {
        const auto leaf = index.find(b.leaf_of_marker[i]);
        if (leaf == index.end() || b.nodes[leaf->second].zoom != max_zoom) {
            f.add() << "marker " << i << ": leaf " << b.leaf_of_marker[i]
                    << " is not a node of max_zoom";
            return f.text();
        }
        std::size_t j = leaf->second;
        for (int z = max_zoom; z >= 0; --z) {
            anc[static_cast<std::size_t>(z)][i] = j;
            if (z > 0) j = index[b.nodes[j].parent_id];
        }
    }
    // Per zoom: members, conservation, nesting, bounds, id, centre, sums, order, separation,
    // expansion zoom.
    for (int z = 0; z < zooms; ++z) {
        const auto zu = static_cast<std::size_t>(z);
        const std::vector<std::size_t>& nodes = at[zu];
        const long double world = std::ldexp(256.0L, z);
        std::unordered_map<std::size_t, std::size_t> slot;  // node index -> position in nodes
        for (std::size_t k = 0; k < nodes.size(); ++k) slot[nodes[k]] = k;
        std::vector<std::vector<std::size_t>> members(nodes.size());
        // The sweep's cells at zoom z (hierarchy_sweep.hpp): 2^shift fixed units, the smallest
        // such power of two at least 2^17 and the engine's query width (its reach and a little).
        const long double reach = std::min(
            std::ldexp(static_cast<long double>(radius_px), 40 - z) + 64.0L, std::ldexp(1.0L, 50));
        const long double query = reach + reach / 1048576.0L + 1.0L;
        int shift = 17;
        while (shift < 48 && std::ldexp(1.0L, shift) < query) ++shift;
        const long double cell = std::ldexp(1.0L, shift), last = std::ldexp(1.0L, 48 - shift) - 1;
        struct Cell {
            long double row_lo, row_hi, col_lo, col_hi;  // the cells within 2 units of the centre
            std::int64_t id;
            bool known;
        };
        std::vector<Cell> cells(nodes.size(), Cell{0, 0, 0, 0, 0, false});
        for (std::size_t i = 0; i < n; ++i) members[slot[anc[zu][i]]].push_back(i);
        std::uint64_t total = 0;
        for (std::size_t k = 0; k < nodes.size(); ++k) {
            const HierNode& o = b.nodes[nodes[k]];
            const std::vector<std::size_t>& mem = members[k];
            total += o.count;
            std::ostringstream where;
            where << "zoom " << z << " node " << k << " (count " << o.count << "): ";
            if (o.count != mem.size() || mem.empty()) {
                f.add() << where.str() << mem.size() << " markers are in it";
                continue;
            }
            // Bounds and id.
            double min_lat = 1e300, max_lat = -1e300, min_e = 1e300, max_e = -1e300, min_w = 1e300,
                   max_w = -1e300;
            std::int64_t min_id = std::numeric_limits<std::int64_t>::max();
            std::uint64_t count_w = 0;
            for (const std::size_t i : mem) {
                const double lat = m[i].lat + 0.0, lon = m[i].lon + 0.0;
                min_lat = std::min(min_lat, lat);
                max_lat = std::max(max_lat, lat);
                if (lon < 0) {
                    ++count_w;
                    min_w = std::min(min_w, lon);
                    max_w = std::max(max_w, lon);
                } else {
                    min_e = std::min(min_e, lon);
                    max_e = std::max(max_e, lon);
                }
                min_id = std::min(min_id, m[i].id);
            }
            const bool any_w = count_w > 0, any_e = count_w < mem.size();
            const bool crossing = any_w && any_e && 360.0 - (min_e - max_w) < max_e - min_w;
            const double min_lon = crossing ? min_e : (any_w ? min_w : min_e);
            const double max_lon = crossing ? max_w : (any_e ? max_e : max_w);
            if (!same_bits(o.min_lat, min_lat) || !same_bits(o.max_lat, max_lat) ||
                !same_bits(o.min_lon, min_lon) || !same_bits(o.max_lon, max_lon))
                f.add() << where.str() << "bounds " << o.min_lat << "," << o.min_lon << " .. "
                        << o.max_lat << "," << o.max_lon << ", expected " << min_lat << ","
                        << min_lon << " .. " << max_lat << "," << max_lon;
            if (o.id != min_id) f.add() << where.str() << "id " << o.id << ", expected " << min_id;
            // Centre: the mean of the members' positions, west members at x + 1 when the box
            // crosses the antimeridian, wrapped back.
            long double sx = 0, sy = 0, sx_e = 0, sx_w = 0;
            for (const std::size_t i : mem) {
                const long double x = (m[i].lon + 180.0L) / 360.0L;
                sx += x + (crossing && m[i].lon < 0 ? 1.0L : 0.0L);
                (m[i].lon < 0 ? sx_w : sx_e) += x;
                sy += ref_mercator_y(m[i].lat);
            }
            const auto cnt = static_cast<long double>(mem.size());
            long double mx = sx / cnt;
            const long double my = sy / cnt;
            if (mx > 1.0L) mx -= 1.0L;
            const long double exp_lon = mx * 360.0L - 180.0L, exp_lat = ref_lat_of_y(my);
            const auto cell_of = [&](long double u) {
                return std::min(last, std::floor(u * std::ldexp(1.0L, 48) / cell));
            };
            const bool at_seam = mx < 0x1p-47L || mx > 1.0L - 0x1p-47L;  // x wraps: either edge
            cells[k] = Cell{cell_of(my - 0x1p-47L),
                            cell_of(my + 0x1p-47L),
                            at_seam ? 0.0L : cell_of(mx - 0x1p-47L),
                            at_seam ? last : cell_of(mx + 0x1p-47L),
                            min_id,
                            true};
            long double dlon = std::fabs(exp_lon - o.lon);
            dlon = std::min(dlon, 360.0L - dlon);
            if (!(dlon <= 1e-9L) || !(std::fabs(exp_lat - o.lat) <= 1e-9L) || !(o.lon >= -180.0) ||
                !(o.lon <= 180.0))
                f.add() << where.str() << "centre " << o.lat << "," << o.lon << ", expected "
                        << static_cast<double>(exp_lat) << "," << static_cast<double>(exp_lon);
            // Sums: the members' fixed-point positions (2^48 per world width), each rounded.
            const auto wide = [](std::uint64_t lo, std::uint64_t hi) {
                return std::ldexp(static_cast<long double>(hi), 64) + static_cast<long double>(lo);
            };
            const long double unit = std::ldexp(1.0L, 48), slack = cnt + 1.0L;
            const std::uint64_t count_e = mem.size() - count_w;
            const HierSums& s = o.sums;
            if (s.count_w != count_w ||
                !(std::fabs(wide(s.sx_e_lo, s.sx_e_hi) - sx_e * unit) <= slack) ||
                !(std::fabs(wide(s.sx_w_lo, s.sx_w_hi) - sx_w * unit) <= slack) ||
                !(std::fabs(wide(s.sy_lo, s.sy_hi) - sy * unit) <= slack))
                f.add() << where.str() << "sums do not add up to the members' positions";
            const double inf = std::numeric_limits<double>::infinity();
            if (!same_bits(s.min_lon_e, count_e ? min_e : inf) ||
                !same_bits(s.max_lon_e, count_e ? max_e : -inf) ||
                !same_bits(s.min_lon_w, count_w ? min_w : inf) ||
                !same_bits(s.max_lon_w, count_w ? max_w : -inf))
                f.add() << where.str() << "east/west longitude ranges wrong";
            // Expansion zoom: the lowest finer zoom where the members are in several nodes.
            int expansion = mem.size() == 1 ? -1 : max_zoom + 1;
            for (int zz = z + 1; zz <= max_zoom && mem.size() > 1; ++zz) {
                const std::vector<std::size_t>& a = anc[static_cast<std::size_t>(zz)];
                bool split = false;
                for (const std::size_t i : mem) split = split || a[i] != a[mem[0]];
                if (split) {
                    expansion = zz;
                    break;
                }
            }
            if (o.expansion_zoom != expansion)
                f.add() << where.str() << "expansion_zoom " << o.expansion_zoom << ", expected "
                        << expansion;
            // Order: the sweep's, by cell (rows north to south, columns west to east), then the
            // smallest id; a centre within 2 units of a cell's edge may be in either cell.
            if (check_order && k > 0 && cells[k - 1].known) {
                const Cell &p = cells[k - 1], &c = cells[k];
                const bool same_row =
                    p.row_lo == p.row_hi && c.row_lo == c.row_hi && p.row_lo == c.row_lo;
                const bool same_cell = same_row && p.col_lo == p.col_hi && c.col_lo == c.col_hi &&
                                       p.col_lo == c.col_lo;
                if (p.row_lo > c.row_hi || (same_row && p.col_lo > c.col_hi) ||
                    (same_cell && p.id > c.id))
                    f.add() << where.str() << "out of the sweep's order";
            }
        }
        if (total != n) f.add() << "zoom " << z << ": counts add up to " << total << ", not " << n;
        // Nesting: the children's counts add up to the parent's (members say it already; this
        // reads the links alone).
        if (z < max_zoom) {
            std::unordered_map<std::int64_t, std::uint64_t> sum;
            for (const std::size_t j : at[zu + 1]) sum[b.nodes[j].parent_id] += b.nodes[j].count;
            for (const std::size_t j : nodes)
                if (sum[b.nodes[j].cluster_id] != b.nodes[j].count)
                    f.add() << "zoom " << z << ": the children of " << b.nodes[j].cluster_id
                            << " count " << sum[b.nodes[j].cluster_id] << " markers, it "
                            << b.nodes[j].count;
        }
        // Separation, from the printed lat/lon: sorted by y, pairs within radius in y only.
        struct P {
            long double x, y;
            std::size_t k;
        };
        std::vector<P> ps;
        for (std::size_t k = 0; k < nodes.size(); ++k) {
            const HierNode& o = b.nodes[nodes[k]];
            ps.push_back(P{(o.lon + 180.0L) / 360.0L * world, ref_mercator_y(o.lat) * world, k});
        }
        std::sort(ps.begin(), ps.end(), [](const P& a, const P& c) { return a.y < c.y; });
        const long double radius = radius_px;
        for (std::size_t i = 0; i < ps.size(); ++i)
            for (std::size_t j = i + 1; j < ps.size() && ps[j].y - ps[i].y < radius; ++j) {
                long double dx = std::fabs(ps[i].x - ps[j].x);
                dx = std::min(dx, world - dx);
                const long double dy = ps[j].y - ps[i].y;
                const long double d = std::sqrt(dx * dx + dy * dy);
                if (d < radius)
                    f.add() << "zoom " << z << ": centres of nodes " << ps[i].k << " and "
                            << ps[j].k << " are " << static_cast<double>(d) << " px apart, radius "
                            << radius_px;
            }
    }
    return f.text();
}

}  // namespace geocluster::testing
