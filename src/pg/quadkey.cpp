// SQL functions of the quadkey type (src/sql/geocluster/10_quadkey.sql). Encoding, tile math
// and the bit layout live in src/core/quadkey.hpp; this file only moves values in and out.
#include "celltype.hpp"

#include "cell_tree.hpp"
#include "quadkey.hpp"

namespace {

using namespace geocluster;
using geocluster::pg::check;
using geocluster::pg::code_datum;
using geocluster::pg::datum_code;
using geocluster::pg::raise_status;

}  // namespace

// I/O, comparison, hashing, containment, centre, bounds, neighbours and range end: celltype.hpp.
GEOCLUSTER_CELLTYPE_FUNCTIONS(quadkey, geocluster::QuadkeyKind)

// quadkey(lat float8, lon float8, zoom int)
GEOCLUSTER_FUNCTION(quadkey_from_latlon) {
    const double lat = PG_GETARG_FLOAT8(0);
    const double lon = PG_GETARG_FLOAT8(1);
    const int32 zoom = PG_GETARG_INT32(2);
    QuadkeyCode code = 0;
    const Status s = geocluster::quadkey_from_latlon(lat, lon, zoom, &code);
    if (s != Status::Ok) geocluster::pg::raise_point_status(s, lat, lon, "zoom", zoom);
    return code_datum(code);
}

// Like quadkey_from_latlon: read the arguments, call the codec, report its Status.
// quadkey_from_tile(zoom int, x int, y int)
GEOCLUSTER_FUNCTION(quadkey_from_tile) {
    const int32 zoom = PG_GETARG_INT32(0);
    const int32 x = PG_GETARG_INT32(1);
    const int32 y = PG_GETARG_INT32(2);
    QuadkeyCode code = 0;
    const Status s = geocluster::quadkey_from_tile(zoom, x, y, &code);
    if (s != Status::Ok) raise_status(s, "zoom = %d, x = %d, y = %d", zoom, x, y);
    return code_datum(code);
}

// quadkey_tile(quadkey, OUT zoom int, OUT x int, OUT y int)
GEOCLUSTER_FUNCTION(quadkey_tile) {
    const QuadkeyTile t = geocluster::quadkey_to_tile(datum_code(PG_GETARG_DATUM(0)));
    const std::int32_t values[3] = {t.zoom, static_cast<std::int32_t>(t.x),
                                    static_cast<std::int32_t>(t.y)};
    return geocluster::pg::int4_record(fcinfo, values, 3);
}

GEOCLUSTER_FUNCTION(quadkey_zoom) {
    PG_RETURN_INT32(quadkey_level(datum_code(PG_GETARG_DATUM(0))));
}

// quadkey_parent(quadkey, zoom int): the ancestor at that level (the cell itself at its own).
GEOCLUSTER_FUNCTION(quadkey_parent) {
    const QuadkeyCode code = datum_code(PG_GETARG_DATUM(0));
    const int32 zoom = PG_GETARG_INT32(1);
    QuadkeyCode parent = 0;
    const Status s = geocluster::quadkey_parent(code, zoom, &parent);
    if (s != Status::Ok)
        raise_status(s, "cell level = %d, requested zoom = %d", quadkey_level(code), zoom);
    return code_datum(parent);
}

GEOCLUSTER_FUNCTION(quadkey_children) {
    QuadkeyCode children[4] = {0, 0, 0, 0};
    if (SRF_IS_FIRSTCALL()) {
        const QuadkeyCode code = datum_code(PG_GETARG_DATUM(0));
        const Status s = geocluster::quadkey_children(code, children);
        if (s != Status::Ok) raise_status(s, "a level-29 cell has no children");
    }
    return geocluster::pg::codes_to_set(fcinfo, children, 4);
}

GEOCLUSTER_FUNCTION(quadkey_to_bigint) {
    PG_RETURN_INT64(geocluster::quadkey_to_bigint(datum_code(PG_GETARG_DATUM(0))));
}

GEOCLUSTER_FUNCTION(quadkey_from_bigint) {
    const int64 v = PG_GETARG_INT64(0);
    const int32 zoom = PG_GETARG_INT32(1);
    QuadkeyCode code = 0;
    const Status s = geocluster::quadkey_from_bigint(v, zoom, &code);
    if (s != Status::Ok) raise_status(s, "value = " INT64_FORMAT ", zoom = %d", v, zoom);
    return code_datum(code);
}
