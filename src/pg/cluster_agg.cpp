// cluster_agg: the aggregate glue over the clustering engine (src/core/cluster.hpp), with the
// SQL in src/sql/geocluster/50_cluster_agg.sql.
//
// The state is the engine's ClusterState, allocated in the aggregate memory context through a
// core Allocator bound to that context: when the query ends or is cancelled, PostgreSQL frees it
// wholesale, and nothing in it needs a destructor. Every function here holds only
// trivially-destructible data, so an ereport's longjmp skips nothing.
#include "celltype.hpp"
#include "cluster.hpp"
#include "cluster_array.hpp"
#include "geohash.hpp"
#include "postgis_calls.hpp"
#include "quadkey.hpp"

extern "C" {
#include "access/htup_details.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
}

namespace {

using namespace geocluster;
using geocluster::pg::raise_status;

// The budget is geocluster.max_state_memory as it is when the state is created (module.c).
std::size_t state_budget_bytes() {
    return static_cast<std::size_t>(geocluster_max_state_memory_kb) * 1024;
}

Allocator context_allocator(MemoryContext ctx) {
    return Allocator{geocluster::pg::context_alloc, geocluster::pg::context_free, ctx,
                     state_budget_bytes()};
}

// Raises s, a failure of an operation on state. StateTooLarge names the bytes: what the state
// holds, what the refused growth would have needed at once (none when it was finalize's
// scratch), the limit.
void check_state(Status s, const ClusterState* state) {
    if (s == Status::Ok) return;
    if (s != Status::StateTooLarge) raise_status(s);
    const std::size_t refused = cluster_refused_bytes(state);
    if (refused != 0)
        raise_status(s,
                     "The state holds %zu bytes, and growing it needs %zu at once; "
                     "geocluster.max_state_memory is %zu bytes.",
                     cluster_estimate_bytes(state), refused, cluster_allocator(state).budget_bytes);
    raise_status(
        s,
        "The state holds %zu bytes (%zu bins), and finalising it needs more than the rest of "
        "geocluster.max_state_memory, %zu bytes.",
        cluster_estimate_bytes(state), cluster_bin_count(state),
        cluster_allocator(state).budget_bytes);
}

constexpr CancelCheck kInterrupts{geocluster::pg::interrupt_requested, nullptr};

// The output array's loop runs CHECK_FOR_INTERRUPTS once per this many clusters (a few ms of
// heap_form_tuple).
constexpr std::size_t kClustersPerInterruptCheck = 4096;

MemoryContext aggregate_context(FunctionCallInfo fcinfo, const char* fn) {
    MemoryContext ctx = nullptr;
    if (!AggCheckCallContext(fcinfo, &ctx))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s can only be called as part of an aggregate", fn)));
    return ctx;
}

// The parameters every transition function reads the same way: zoom at `zoom_arg`, then an
// optional radius_px and an optional id.
struct RowParams {
    int zoom;
    double radius_px;
    bool has_id_column;
    bool id_present;
    std::int64_t id;
};

RowParams read_params(FunctionCallInfo fcinfo, int zoom_arg) {
    RowParams p{};
    const int nargs = PG_NARGS();
    if (PG_ARGISNULL(zoom_arg))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("cluster_agg: zoom must not be NULL")));
    p.zoom = PG_GETARG_INT32(zoom_arg);
    p.radius_px = kDefaultRadiusPx;
    if (nargs > zoom_arg + 1) {
        if (PG_ARGISNULL(zoom_arg + 1))
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("cluster_agg: radius_px must not be NULL")));
        p.radius_px = PG_GETARG_FLOAT8(zoom_arg + 1);
    }
    p.has_id_column = nargs > zoom_arg + 2;
    p.id_present = p.has_id_column && !PG_ARGISNULL(zoom_arg + 2);
    p.id = p.id_present ? PG_GETARG_INT64(zoom_arg + 2) : 0;
    return p;
}

// The group's state, created on its first row. Every later row must use the same zoom and
// radius: they are parameters of the clustering, not per-row data.
ClusterState* state_for_row(FunctionCallInfo fcinfo, const RowParams& p) {
    // A non-NULL state can only come from an earlier call of this aggregate (SQL cannot make an
    // `internal` value), so the aggregate context is checked once, on the group's first row.
    if (!PG_ARGISNULL(0)) {
        ClusterState* state = reinterpret_cast<ClusterState*>(PG_GETARG_POINTER(0));
        const Status s = cluster_check_params(state, p.zoom, p.radius_px, p.has_id_column);
        if (s != Status::Ok)
            raise_status(s,
                         "this group started with zoom %d and radius_px %g, a later row has zoom "
                         "%d and radius_px %g",
                         cluster_zoom(state), cluster_radius_px(state), p.zoom, p.radius_px);
        return state;
    }
    MemoryContext aggctx = aggregate_context(fcinfo, "cluster_agg");
    ClusterState* state = nullptr;
    const Status s =
        cluster_create(p.zoom, p.radius_px, p.has_id_column, context_allocator(aggctx), &state);
    if (s != Status::Ok) raise_status(s, "zoom = %d, radius_px = %g", p.zoom, p.radius_px);
    return state;
}

void check_add(Status s, const ClusterState* state, double lat, double lon) {
    if (s == Status::StateTooLarge) check_state(s, state);
    if (s != Status::Ok) raise_status(s, "marker at lat = %g, lon = %g", lat, lon);
}

ClusterState* state_arg(FunctionCallInfo fcinfo, int n) {
    return PG_ARGISNULL(n) ? nullptr : reinterpret_cast<ClusterState*>(PG_GETARG_POINTER(n));
}

}  // namespace

// cluster_agg(lat float8, lon float8, zoom int [, radius_px float8 [, id bigint]])
GEOCLUSTER_FUNCTION(cluster_agg_latlon_transfn) {
    const RowParams p = read_params(fcinfo, 3);
    ClusterState* state = state_for_row(fcinfo, p);
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_POINTER(state);  // no position: ignored
    const double lat = PG_GETARG_FLOAT8(1), lon = PG_GETARG_FLOAT8(2);
    check_add(cluster_add_point(state, lat, lon, p.id_present, p.id), state, lat, lon);
    PG_RETURN_POINTER(state);
}

// cluster_agg(position quadkey, zoom int [, radius_px float8 [, id bigint]]): the marker stands
// at its cell's centre, taken exactly in Mercator unit coordinates from the tile numbers.
GEOCLUSTER_FUNCTION(cluster_agg_quadkey_transfn) {
    const RowParams p = read_params(fcinfo, 2);
    ClusterState* state = state_for_row(fcinfo, p);
    if (PG_ARGISNULL(1)) PG_RETURN_POINTER(state);
    const QuadkeyCode code = geocluster::pg::datum_code(PG_GETARG_DATUM(1));
    const QuadkeyTile t = quadkey_to_tile(code);
    const double scale = std::ldexp(1.0, -t.zoom);
    const Status s = cluster_add_cell_centre(state, (t.x + 0.5) * scale, (t.y + 0.5) * scale,
                                             p.id_present, p.id);
    if (s != Status::Ok) {
        const LatLon c = quadkey_center(code);
        check_add(s, state, c.lat, c.lon);
    }
    PG_RETURN_POINTER(state);
}

// cluster_agg(position geohash, zoom int [, radius_px float8 [, id bigint]]): the marker stands
// at its cell's centre (the ST_PointFromGeoHash point).
GEOCLUSTER_FUNCTION(cluster_agg_geohash_transfn) {
    const RowParams p = read_params(fcinfo, 2);
    ClusterState* state = state_for_row(fcinfo, p);
    if (PG_ARGISNULL(1)) PG_RETURN_POINTER(state);
    const LatLon c = geohash_center(geocluster::pg::datum_code(PG_GETARG_DATUM(1)));
    check_add(cluster_add_point(state, c.lat, c.lon, p.id_present, p.id), state, c.lat, c.lon);
    PG_RETURN_POINTER(state);
}

// cluster_agg(geom geometry, zoom int [, radius_px float8 [, id bigint]]), declared by the
// geocluster_postgis extension: a Point geometry, transformed to EPSG:4326 when needed.
GEOCLUSTER_FUNCTION(cluster_agg_geometry_transfn) {
    const RowParams p = read_params(fcinfo, 2);
    ClusterState* state = state_for_row(fcinfo, p);
    if (PG_ARGISNULL(1)) PG_RETURN_POINTER(state);
    double lat = 0, lon = 0;
    geocluster::pg::geometry_point_latlon(fcinfo, PG_GETARG_DATUM(1), &lat, &lon);
    check_add(cluster_add_point(state, lat, lon, p.id_present, p.id), state, lat, lon);
    PG_RETURN_POINTER(state);
}

// Not STRICT: either side may be NULL (a worker that saw no rows). The result lives in the
// aggregate context and is never the right-hand side's pointer.
GEOCLUSTER_FUNCTION(cluster_agg_combinefn) {
    MemoryContext aggctx = aggregate_context(fcinfo, "cluster_agg_combinefn");
    ClusterState* left = state_arg(fcinfo, 0);
    const ClusterState* right = state_arg(fcinfo, 1);
    if (right == nullptr) {
        if (left == nullptr) PG_RETURN_NULL();
        PG_RETURN_POINTER(left);
    }
    if (left == nullptr) {
        geocluster::pg::check(cluster_create(cluster_zoom(right), cluster_radius_px(right),
                                             cluster_has_id(right), context_allocator(aggctx),
                                             &left));
    }
    check_state(cluster_merge(left, right, kInterrupts), left);
    PG_RETURN_POINTER(left);
}

// Does not modify the state. Format and versioning: src/core/cluster_serial.cpp.
GEOCLUSTER_FUNCTION(cluster_agg_serialfn) {
    const ClusterState* state = reinterpret_cast<const ClusterState*>(PG_GETARG_POINTER(0));
    const std::size_t size = cluster_serialized_size(state);
    // SIZE_MAX: folding the last points in failed; serialize says why (OutOfMemory, StateTooLarge).
    if (size == SIZE_MAX) check_state(cluster_serialize(state, nullptr, 0, kInterrupts), state);
    if (size > MaxAllocSize - VARHDRSZ)
        raise_status(Status::OutOfMemory, "state of %zu bytes", size);
    bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + size));
    SET_VARSIZE(out, VARHDRSZ + size);
    check_state(
        cluster_serialize(state, reinterpret_cast<std::uint8_t*>(VARDATA(out)), size, kInterrupts),
        state);
    PG_RETURN_BYTEA_P(out);
}

namespace {

ClusterState* deserialize_into(bytea* bytes, MemoryContext ctx) {
    ClusterState* state = nullptr;
    const Status s =
        cluster_deserialize(reinterpret_cast<const std::uint8_t*>(VARDATA_ANY(bytes)),
                            VARSIZE_ANY_EXHDR(bytes), context_allocator(ctx), &state, kInterrupts);
    if (s == Status::StateTooLarge)
        raise_status(
            s,
            "A stored state of %zu bytes does not fit in geocluster.max_state_memory, %zu bytes.",
            static_cast<std::size_t>(VARSIZE_ANY_EXHDR(bytes)), state_budget_bytes());
    if (s != Status::Ok)
        raise_status(s, "state of %zu bytes", static_cast<std::size_t>(VARSIZE_ANY_EXHDR(bytes)));
    return state;
}

// construct_array(elems, n, elem_type, ...) for a one-dimensional array of n composite datums
// (varlena, no NULLs), the same bytes, built in steps that check for interrupts: construct_array's
// own loops over the elements do not, and at millions of clusters they copy hundreds of MB.
// Only plain palloc'd data is alive here, so CHECK_FOR_INTERRUPTS may leave by longjmp.
ArrayType* polled_array(const Datum* elems, std::size_t n, Oid elem_type) {
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(elem_type, &typlen, &typbyval, &typalign);
    if (typlen != -1 || typbyval || n > MaxArraySize)
        elog(ERROR, "cluster_agg: unexpected result element type or size");
    if (n == 0) return construct_empty_array(elem_type);  // ndim 0, as construct_array makes it
    Size nbytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % kClustersPerInterruptCheck == 0) CHECK_FOR_INTERRUPTS();
        nbytes = att_addlength_datum(nbytes, typlen, elems[i]);
        nbytes = att_align_nominal(nbytes, typalign);
        if (!AllocSizeIsValid(nbytes))
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                     errmsg("array size exceeds the maximum allowed (%d)", (int)MaxAllocSize)));
    }
    const Size total = ARR_OVERHEAD_NONULLS(1) + nbytes;
    if (!AllocSizeIsValid(total))
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("array size exceeds the maximum allowed (%d)", (int)MaxAllocSize)));
    ArrayType* result = static_cast<ArrayType*>(palloc(total));
    std::memset(result, 0, ARR_OVERHEAD_NONULLS(1));
    SET_VARSIZE(result, total);
    result->ndim = 1;
    result->dataoffset = 0;
    result->elemtype = elem_type;
    ARR_DIMS(result)[0] = static_cast<int>(n);
    ARR_LBOUND(result)[0] = 1;
    char* p = ARR_DATA_PTR(result);
    for (std::size_t i = 0; i < n; ++i) {
        if (i % kClustersPerInterruptCheck == 0) CHECK_FOR_INTERRUPTS();
        const Size len = att_addlength_datum(0, typlen, elems[i]);
        const Size padded = att_align_nominal(len, typalign);
        std::memcpy(p, DatumGetPointer(elems[i]), len);
        std::memset(p + len, 0, padded - len);  // as construct_array's palloc0 leaves it
        p += padded;
    }
    return result;
}

Oid result_element_type(FunctionCallInfo fcinfo) {
    const Oid array_type = get_fn_expr_rettype(fcinfo->flinfo);
    const Oid elem_type = OidIsValid(array_type) ? get_element_type(array_type) : InvalidOid;
    if (!OidIsValid(elem_type))
        elog(ERROR, "cluster_agg: could not determine the result element type");
    return elem_type;
}

// marker_cluster[] from a state (NULL state: the group had no rows -> empty array).
Datum clusters_array(FunctionCallInfo fcinfo, const ClusterState* state) {
    if (state == nullptr) PG_RETURN_ARRAYTYPE_P(construct_empty_array(result_element_type(fcinfo)));
    ClusterList list{nullptr, 0};
    check_state(cluster_finalize(state, kInterrupts, &list), state);
    const Datum result = geocluster::pg::marker_cluster_array(fcinfo, list);
    cluster_free_list(cluster_allocator(state), &list);
    return result;
}

}  // namespace

// The function's marker_cluster[] result of list (the function returns marker_cluster[]).
Datum geocluster::pg::marker_cluster_array(FunctionCallInfo fcinfo, const ClusterList& list) {
    const Oid elem_type = result_element_type(fcinfo);
    TupleDesc desc = lookup_rowtype_tupdesc_copy(elem_type, -1);
    Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (list.size > 0 ? list.size : 1)));
    for (std::size_t i = 0; i < list.size; ++i) {
        // Safe to leave here by longjmp: only plain data is alive (list, desc and elems are
        // palloc'd, freed with the query's memory).
        if (i % kClustersPerInterruptCheck == 0) CHECK_FOR_INTERRUPTS();
        const Cluster& c = list.items[i];
        Datum values[8] = {Int64GetDatum(c.count),    Float8GetDatum(c.lat),
                           Float8GetDatum(c.lon),     Float8GetDatum(c.min_lat),
                           Float8GetDatum(c.min_lon), Float8GetDatum(c.max_lat),
                           Float8GetDatum(c.max_lon), Int64GetDatum(c.id)};
        bool nulls[8] = {false, false, false, false, false, false, false, !c.has_id};
        elems[i] = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    }
    PG_RETURN_ARRAYTYPE_P(polled_array(elems, list.size, elem_type));
}

GEOCLUSTER_FUNCTION(cluster_agg_deserialfn) {
    MemoryContext aggctx = aggregate_context(fcinfo, "cluster_agg_deserialfn");
    PG_RETURN_POINTER(deserialize_into(PG_GETARG_BYTEA_PP(0), aggctx));
}

// Not STRICT: a group without rows has a NULL state and yields an empty array, not NULL.
GEOCLUSTER_FUNCTION(cluster_agg_finalfn) { return clusters_array(fcinfo, state_arg(fcinfo, 0)); }

// cluster_state_agg(...) returns the serialised state instead of the clusters, so that states
// can be stored (per partition, per day...) and clustered later with cluster_state_clusters().
GEOCLUSTER_FUNCTION(cluster_state_finalfn) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    return cluster_agg_serialfn_body(fcinfo);
}

// cluster_agg(state bytea) and cluster_state_agg(state bytea): stored states (cluster_state_agg
// over rows, e.g. one per map tile) merged into one, exactly as the parallel combine step merges
// the workers' states, so clustering the union of the states equals clustering the union of their
// rows. Each state is validated as the deserialiser validates (malformed: 22P03), and all must
// share zoom, radius_px and whether they carry ids (else 22023). NULL states are skipped.
GEOCLUSTER_FUNCTION(cluster_agg_state_transfn) {
    ClusterState* state = state_arg(fcinfo, 0);
    if (PG_ARGISNULL(1)) {
        if (state == nullptr) PG_RETURN_NULL();
        PG_RETURN_POINTER(state);
    }
    bytea* bytes = PG_GETARG_BYTEA_PP(1);
    // As in state_for_row: a non-NULL state comes from this aggregate, so the context is checked
    // once, when the group's state is created.
    if (state == nullptr)
        PG_RETURN_POINTER(
            deserialize_into(bytes, aggregate_context(fcinfo, "cluster_agg(state bytea)")));
    // The row's state lives in the per-row memory, which the executor resets after each row.
    ClusterState* row = deserialize_into(bytes, CurrentMemoryContext);
    const Status s = cluster_merge(state, row, kInterrupts);
    if (s == Status::ClusterParamsDiffer)
        raise_status(s,
                     "this group's states have zoom %d, radius_px %g%s; a later state has zoom %d, "
                     "radius_px %g%s",
                     cluster_zoom(state), cluster_radius_px(state),
                     cluster_has_id(state) ? " and ids" : ", no ids", cluster_zoom(row),
                     cluster_radius_px(row), cluster_has_id(row) ? " and ids" : ", no ids");
    check_state(s, state);
    cluster_destroy(row);
    PG_RETURN_POINTER(state);
}

// cluster_state_clusters(state bytea) -> marker_cluster[]: validates the bytes as the
// deserialiser does (a malformed state is a clean 22P03 error) and clusters them.
GEOCLUSTER_FUNCTION(cluster_state_clusters) {
    ClusterState* state = deserialize_into(PG_GETARG_BYTEA_PP(0), CurrentMemoryContext);
    return clusters_array(fcinfo, state);
}
