// The slow oracle for cluster_viewport_merge's core (src/core/viewport_merge.hpp), for the unit
// tests and the fuzz target (no GoogleTest here). Everything is recomputed from the parts and
// the printed result, in long double, by brute force:
//  - check_merge: what holds for any input without knowing which parts went where: counts add
//    up, no two centres closer than the radius (across the antimeridian), cluster_agg's order,
//    every id a part's and the smallest one kept, the latitude bounds and the count-weighted
//    Mercator y of all parts kept, every centre inside its latitude bounds (when every part's
//    is inside its own);
//  - check_groups: for inputs whose clusters are known in advance (groups of parts far apart,
//    each much smaller than the radius): one cluster per group, with the group's count, smallest
//    id, exact latitude bounds, the shortest longitude arc holding its parts' boxes, and the
//    count-weighted mean of its parts' centres (parts west of 0 at x + 1 when that arc crosses
//    180).
#pragma once

#include "viewport_merge.hpp"

#include "mercator_reference.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace geocluster::testing {

inline long double merge_world_px(double zoom) {
    return std::ldexp(256.0L, static_cast<int>(std::floor(zoom)));
}
inline long double merge_x(double lon) { return (lon + 180.0L) / 360.0L; }

// Distance in world pixels between two printed centres, x across the antimeridian too.
inline long double merge_distance_px(const Cluster& a, const Cluster& b, long double world) {
    long double dx = std::fabs(merge_x(a.lon) - merge_x(b.lon));
    dx = std::min(dx, 1.0L - dx);
    const long double dy = ref_mercator_y(a.lat) - ref_mercator_y(b.lat);
    return std::sqrt(dx * dx + dy * dy) * world;
}

inline std::string check_merge(const std::vector<MergePart>& parts, double zoom, double radius,
                               const std::vector<Cluster>& out) {
    std::int64_t count = 0, count_out = 0;
    long double sy = 0, sy_out = 0;
    double min_lat = 1e300, max_lat = -1e300;
    bool any_id = false, centres_inside = true;
    std::int64_t min_id = 0;
    std::vector<std::int64_t> ids;
    for (const MergePart& p : parts) {
        if (p.count <= 0) continue;
        const long double y = ref_mercator_y(p.lat);
        centres_inside = centres_inside && y >= ref_mercator_y(p.max_lat) - 1e-12L &&
                         y <= ref_mercator_y(p.min_lat) + 1e-12L;
        count += p.count;
        sy += p.count * ref_mercator_y(p.lat);
        min_lat = std::min(min_lat, p.min_lat);
        max_lat = std::max(max_lat, p.max_lat);
        if (p.has_id) {
            ids.push_back(p.id);
            min_id = any_id ? std::min(min_id, p.id) : p.id;
            any_id = true;
        }
    }
    std::sort(ids.begin(), ids.end());
    double min_lat_out = 1e300, max_lat_out = -1e300;
    bool any_id_out = false;
    std::int64_t min_id_out = 0;
    const long double world = merge_world_px(zoom);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const Cluster& c = out[i];
        if (c.count <= 0) return "a cluster of count " + std::to_string(c.count);
        count_out += c.count;
        sy_out += c.count * ref_mercator_y(c.lat);
        min_lat_out = std::min(min_lat_out, c.min_lat);
        max_lat_out = std::max(max_lat_out, c.max_lat);
        const long double y = ref_mercator_y(c.lat);
        if (centres_inside &&  // (parts centred outside their boxes are no viewport's clusters)
            (y < ref_mercator_y(c.max_lat) - 1e-12L || y > ref_mercator_y(c.min_lat) + 1e-12L))
            return "cluster " + std::to_string(i) + ": centre outside its latitude bounds";
        if (c.has_id) {
            if (!std::binary_search(ids.begin(), ids.end(), c.id))
                return "cluster " + std::to_string(i) + ": id " + std::to_string(c.id) +
                       " is no part's";
            min_id_out = any_id_out ? std::min(min_id_out, c.id) : c.id;
            any_id_out = true;
        }
        if (i > 0) {
            const Cluster& b = out[i - 1];
            const bool ordered =
                b.count > c.count ||
                (b.count == c.count && (b.lat > c.lat || (b.lat == c.lat && b.lon <= c.lon)));
            if (!ordered) return "clusters " + std::to_string(i - 1) + " and next out of order";
        }
        if (radius > 0)
            for (std::size_t j = 0; j < i; ++j)
                if (merge_distance_px(out[j], c, world) < radius * (1 - 1e-9))
                    return "clusters " + std::to_string(j) + " and " + std::to_string(i) +
                           " closer than the radius";
    }
    if (count != count_out)
        return "counts " + std::to_string(count_out) + ", parts " + std::to_string(count);
    if (count == 0) return out.empty() ? "" : "clusters from no part";
    if (min_lat != min_lat_out || max_lat != max_lat_out) return "latitude bounds not kept";
    if (any_id != any_id_out || min_id != min_id_out) return "smallest id not kept";
    if (std::fabs(sy - sy_out) > 1e-9L * count) return "count-weighted y not kept";
    return "";
}

// The shortest arc [west, west + length] holding every arc of a group (arcs as (west, east),
// west > east across 180), by brute force over the arcs' west ends.
inline void shortest_arc(const std::vector<MergePart>& group, double* west, double* east) {
    long double best = 1e300L;
    for (const MergePart& s : group) {
        long double reach = 0;
        bool holds_all = true;
        for (const MergePart& p : group) {
            long double start = std::fmod(p.min_lon - s.min_lon + 720.0L, 360.0L);
            long double len =
                p.max_lon >= p.min_lon ? p.max_lon - p.min_lon : p.max_lon - p.min_lon + 360.0L;
            if (start + len > 360.0L) holds_all = false;
            reach = std::max(reach, start + len);
        }
        if (holds_all && reach < best) {
            best = reach;
            *west = s.min_lon;
            // the east end is some part's east end: the one the reach ends at
            for (const MergePart& p : group) {
                long double start = std::fmod(p.min_lon - s.min_lon + 720.0L, 360.0L);
                long double len =
                    p.max_lon >= p.min_lon ? p.max_lon - p.min_lon : p.max_lon - p.min_lon + 360.0L;
                if (start + len == reach) *east = p.max_lon;
            }
        }
    }
}

// groups: the parts of each expected cluster (count > 0, boxes narrower than 180 degrees in
// all, none holding longitude 0 together with a box across 180).
inline std::string check_groups(const std::vector<std::vector<MergePart>>& groups,
                                const std::vector<Cluster>& out) {
    if (out.size() != groups.size())
        return std::to_string(out.size()) + " clusters for " + std::to_string(groups.size()) +
               " groups";
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const std::vector<MergePart>& group = groups[g];
        std::int64_t count = 0, id = group[0].id;
        double min_lat = 1e300, max_lat = -1e300;
        for (const MergePart& p : group) {
            count += p.count;
            id = std::min(id, p.id);
            min_lat = std::min(min_lat, p.min_lat);
            max_lat = std::max(max_lat, p.max_lat);
        }
        const Cluster* c = nullptr;
        for (const Cluster& o : out)
            if (o.id == id) c = &o;
        const std::string name = "group " + std::to_string(g) + " (id " + std::to_string(id) + ")";
        if (c == nullptr) return name + ": no cluster has its smallest id";
        if (c->count != count) return name + ": count " + std::to_string(c->count);
        if (c->min_lat != min_lat || c->max_lat != max_lat) return name + ": latitude bounds";
        double west = 0, east = 0;
        shortest_arc(group, &west, &east);
        if (c->min_lon != west || c->max_lon != east)
            return name + ": longitude bounds " + std::to_string(c->min_lon) + ", " +
                   std::to_string(c->max_lon) + " instead of " + std::to_string(west) + ", " +
                   std::to_string(east);
        const bool crosses = west > east;
        long double sx = 0, sy = 0;
        for (const MergePart& p : group) {
            sx += p.count * (merge_x(p.lon) + (crosses && p.lon < 0 ? 1.0L : 0.0L));
            sy += p.count * ref_mercator_y(p.lat);
        }
        long double x = sx / count;
        if (x > 1.0L) x -= 1.0L;
        long double dx = std::fabs(x - merge_x(c->lon));
        dx = std::min(dx, 1.0L - dx);
        if (dx * 360.0L > 1e-9L) return name + ": centre longitude";
        if (std::fabs(ref_lat_of_y(sy / count) - c->lat) > 1e-9L) return name + ": centre latitude";
    }
    return "";
}

}  // namespace geocluster::testing
