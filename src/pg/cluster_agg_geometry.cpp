// The geometry form of cluster_agg, declared by the geocluster_postgis extension
// (src/sql/geocluster_postgis/): cluster_agg(geom geometry, zoom int [, radius_px [, id]]).
//
// geocluster does not link against PostGIS and installs without it, so this transition
// function reads a geometry through PostGIS's own SQL functions, looked up in the schema of the
// geometry type the call receives (wherever PostGIS is installed) and cached for the query in
// fn_extra. A marker must be a non-empty Point; SRID 4326 is used as is, any other known SRID is
// transformed to 4326 with ST_Transform, and SRID 0 (unknown) is refused.
#include "postgis_calls.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace {

constexpr int32 kWgs84Srid = 4326;

// FmgrInfo of the PostGIS functions this needs, resolved once per query.
struct PostgisCalls {
    FmgrInfo geometry_type;  // geometrytype(geometry) -> text, 'POINT' for points
    FmgrInfo is_empty;       // st_isempty(geometry) -> boolean
    FmgrInfo srid;           // st_srid(geometry) -> int
    FmgrInfo transform;      // st_transform(geometry, int) -> geometry
    FmgrInfo x;              // st_x(geometry) -> float8
    FmgrInfo y;              // st_y(geometry) -> float8
};

void lookup(FmgrInfo* out, const char* schema, const char* name, Oid geometry_type, bool with_int,
            MemoryContext ctx) {
    Oid argtypes[2] = {geometry_type, INT4OID};
    List* qualified = list_make2(makeString(pstrdup(schema)), makeString(pstrdup(name)));
    const Oid fn = LookupFuncName(qualified, with_int ? 2 : 1, argtypes, true);
    if (!OidIsValid(fn))
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_FUNCTION),
                 errmsg("cluster_agg(geometry, ...) needs PostGIS function %s.%s", schema, name),
                 errhint("Install PostGIS and geocluster_postgis in the same database.")));
    fmgr_info_cxt(fn, out, ctx);
}

const PostgisCalls* postgis_calls(FunctionCallInfo fcinfo) {
    if (fcinfo->flinfo->fn_extra != nullptr)
        return static_cast<const PostgisCalls*>(fcinfo->flinfo->fn_extra);
    const Oid geometry_type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    HeapTuple tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(geometry_type));
    if (!HeapTupleIsValid(tup))
        elog(ERROR, "cluster_agg: cache lookup failed for type %u", geometry_type);
    const Oid nsp = reinterpret_cast<Form_pg_type>(GETSTRUCT(tup))->typnamespace;
    ReleaseSysCache(tup);
    const char* schema = get_namespace_name(nsp);
    MemoryContext ctx = fcinfo->flinfo->fn_mcxt;
    PostgisCalls* calls =
        static_cast<PostgisCalls*>(MemoryContextAllocZero(ctx, sizeof(PostgisCalls)));
    lookup(&calls->geometry_type, schema, "geometrytype", geometry_type, false, ctx);
    lookup(&calls->is_empty, schema, "st_isempty", geometry_type, false, ctx);
    lookup(&calls->srid, schema, "st_srid", geometry_type, false, ctx);
    lookup(&calls->transform, schema, "st_transform", geometry_type, true, ctx);
    lookup(&calls->x, schema, "st_x", geometry_type, false, ctx);
    lookup(&calls->y, schema, "st_y", geometry_type, false, ctx);
    fcinfo->flinfo->fn_extra = calls;
    return calls;
}

}  // namespace

namespace geocluster::pg {

void geometry_point_latlon(FunctionCallInfo fcinfo, Datum geom, double* lat, double* lon) {
    const PostgisCalls* calls = postgis_calls(fcinfo);
    const char* type =
        TextDatumGetCString(FunctionCall1(const_cast<FmgrInfo*>(&calls->geometry_type), geom));
    // GeometryType says POINT for XY and XYZ points and POINTM for XYM and XYZM ones; Z and M
    // are ignored.
    if (strcmp(type, "POINT") != 0 && strcmp(type, "POINTM") != 0)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_agg needs Point geometries"), errdetail("got a %s", type)));
    if (DatumGetBool(FunctionCall1(const_cast<FmgrInfo*>(&calls->is_empty), geom)))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_agg needs non-empty Point geometries"),
                        errdetail("got POINT EMPTY")));
    const int32 srid = DatumGetInt32(FunctionCall1(const_cast<FmgrInfo*>(&calls->srid), geom));
    if (srid == 0)
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("cluster_agg needs geometries with a known SRID"),
             errdetail("the geometry has SRID 0 (unknown)"),
             errhint(
                 "Set it with ST_SetSRID(geom, 4326) if the coordinates are longitude/latitude.")));
    if (srid != kWgs84Srid)
        geom = FunctionCall2(const_cast<FmgrInfo*>(&calls->transform), geom,
                             Int32GetDatum(kWgs84Srid));
    *lon = DatumGetFloat8(FunctionCall1(const_cast<FmgrInfo*>(&calls->x), geom));
    *lat = DatumGetFloat8(FunctionCall1(const_cast<FmgrInfo*>(&calls->y), geom));
}

}  // namespace geocluster::pg
