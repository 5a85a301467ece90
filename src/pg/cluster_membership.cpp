// cluster_membership(state) and cluster_of(membership, position): each marker's cluster, so that
// GROUP BY gives any aggregate per cluster. Design and table format:
// src/core/cluster_membership.hpp; SQL: src/sql/geocluster/55_cluster_membership.sql.
//
// Everything held here is trivially destructible (core structs, palloc'd memory), so an ereport's
// longjmp skips nothing.
#include "celltype.hpp"
#include "cluster.hpp"
#include "cluster_membership.hpp"
#include "geohash.hpp"
#include "mercator.hpp"
#include "quadkey.hpp"

namespace {

using namespace geocluster;
using geocluster::pg::raise_status;

// The state is deserialised and finalised under the same geocluster.max_state_memory budget as
// cluster_state_clusters.
Allocator context_allocator(MemoryContext ctx) {
    return Allocator{geocluster::pg::context_alloc, geocluster::pg::context_free, ctx,
                     static_cast<std::size_t>(geocluster_max_state_memory_kb) * 1024};
}

MembershipView view_arg(FunctionCallInfo fcinfo) {
    bytea* bytes = PG_GETARG_BYTEA_PP(0);
    MembershipView view{};
    const Status s = membership_view(reinterpret_cast<const std::uint8_t*>(VARDATA_ANY(bytes)),
                                     VARSIZE_ANY_EXHDR(bytes), &view);
    if (s != Status::Ok)
        raise_status(
            s, "cluster_of needs the bytea that cluster_membership() returns, not a %zu-byte value",
            static_cast<std::size_t>(VARSIZE_ANY_EXHDR(bytes)));
    return view;
}

// Bin keys depend only on zoom and radius_px, so an empty state with the table's parameters
// computes them. It is made once per call site (fn_extra, in fn_mcxt) and again only when a
// later row's table has other parameters.
struct KeyMaker {
    int zoom;
    double radius_px;
    ClusterState* state;
};

const ClusterState* key_state(FunctionCallInfo fcinfo, const MembershipView& view) {
    auto* km = static_cast<KeyMaker*>(fcinfo->flinfo->fn_extra);
    if (km != nullptr && km->zoom == view.zoom && km->radius_px == view.radius_px) return km->state;
    if (km == nullptr) {
        km = static_cast<KeyMaker*>(
            MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(KeyMaker)));
        fcinfo->flinfo->fn_extra = km;
    }
    if (km->state != nullptr) {
        cluster_destroy(km->state);
        km->state = nullptr;
    }
    ClusterState* st = nullptr;
    const Status s = cluster_create(view.zoom, view.radius_px, false,
                                    context_allocator(fcinfo->flinfo->fn_mcxt), &st);
    if (s != Status::Ok) raise_status(s);
    km->zoom = view.zoom;
    km->radius_px = view.radius_px;
    km->state = st;
    return st;
}

Datum ordinal_result(FunctionCallInfo fcinfo, const MembershipView& view, ClusterBinKey key) {
    std::uint32_t ordinal = 0;
    const Status s = membership_find(view, key, &ordinal);
    if (s != Status::Ok) raise_status(s);
    if (ordinal == 0) PG_RETURN_NULL();  // no marker of the state is in this position's bin
    PG_RETURN_INT32(static_cast<int32>(ordinal));
}

}  // namespace

// cluster_membership(state bytea) -> bytea: the state (as cluster_state_agg returns it, validated
// like the deserialiser does: 22P03) finalised once, as its bin -> cluster table.
GEOCLUSTER_FUNCTION(cluster_membership) {
    bytea* bytes = PG_GETARG_BYTEA_PP(0);
    ClusterState* state = nullptr;
    Status s =
        cluster_deserialize(reinterpret_cast<const std::uint8_t*>(VARDATA_ANY(bytes)),
                            VARSIZE_ANY_EXHDR(bytes), context_allocator(CurrentMemoryContext),
                            &state, CancelCheck{geocluster::pg::interrupt_requested, nullptr});
    if (s != Status::Ok)
        raise_status(s, "state of %zu bytes", static_cast<std::size_t>(VARSIZE_ANY_EXHDR(bytes)));
    ClusterList list{nullptr, 0};
    ClusterBinAssignment* assign = nullptr;
    std::size_t n_assign = 0;
    s = cluster_finalize_assign(state, CancelCheck{geocluster::pg::interrupt_requested, nullptr},
                                &list, &assign, &n_assign, nullptr);
    if (s != Status::Ok) raise_status(s);
    const std::size_t size = membership_size(n_assign);
    if (size > MaxAllocSize - VARHDRSZ)
        raise_status(Status::OutOfMemory, "membership table of %zu bins", n_assign);
    bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + size));
    SET_VARSIZE(out, VARHDRSZ + size);
    s = membership_write(cluster_zoom(state), cluster_radius_px(state), assign, n_assign, list.size,
                         reinterpret_cast<std::uint8_t*>(VARDATA(out)), size);
    if (s != Status::Ok) raise_status(s);
    const Allocator& a = cluster_allocator(state);
    if (assign != nullptr) a.release(a.ctx, assign);
    cluster_free_list(a, &list);
    cluster_destroy(state);
    PG_RETURN_BYTEA_P(out);
}

// cluster_of(membership bytea, lat float8, lon float8) -> int
GEOCLUSTER_FUNCTION(cluster_of_latlon) {
    const MembershipView view = view_arg(fcinfo);
    const double lat = PG_GETARG_FLOAT8(1), lon = PG_GETARG_FLOAT8(2);
    ClusterBinKey key{};
    const Status s = cluster_bin_key(key_state(fcinfo, view), lat, lon, &key);
    if (s != Status::Ok) raise_status(s, "marker at lat = %g, lon = %g", lat, lon);
    return ordinal_result(fcinfo, view, key);
}

// cluster_of(membership bytea, position quadkey) -> int: the cell centre, in exact Mercator unit
// coordinates, with the lat/lon cluster_add_cell_centre derives from it (which decides the side
// of the antimeridian), as cluster_agg(quadkey, ...) places the marker.
GEOCLUSTER_FUNCTION(cluster_of_quadkey) {
    const MembershipView view = view_arg(fcinfo);
    const QuadkeyTile t = quadkey_to_tile(geocluster::pg::datum_code(PG_GETARG_DATUM(1)));
    const double scale = std::ldexp(1.0, -t.zoom);
    const double unit_x = (t.x + 0.5) * scale, unit_y = (t.y + 0.5) * scale;
    ClusterBinKey key{};
    const Status s =
        cluster_bin_key_mercator(key_state(fcinfo, view), unit_x, unit_y,
                                 mercator_lat(unit_y) + 0.0, mercator_lon(unit_x) + 0.0, &key);
    if (s != Status::Ok) raise_status(s);
    return ordinal_result(fcinfo, view, key);
}

// cluster_of(membership bytea, position geohash) -> int: the cell centre, as
// cluster_agg(geohash, ...) places the marker.
GEOCLUSTER_FUNCTION(cluster_of_geohash) {
    const MembershipView view = view_arg(fcinfo);
    const LatLon c = geohash_center(geocluster::pg::datum_code(PG_GETARG_DATUM(1)));
    ClusterBinKey key{};
    const Status s = cluster_bin_key(key_state(fcinfo, view), c.lat, c.lon, &key);
    if (s != Status::Ok) raise_status(s, "marker at lat = %g, lon = %g", c.lat, c.lon);
    return ordinal_result(fcinfo, view, key);
}
