// SQL functions of the geohash type (src/sql/geocluster/20_geohash.sql). Encoding and the bit
// layout live in src/core/geohash.hpp; this file only moves values in and out.
#include "celltype.hpp"

#include "cell_tree.hpp"
#include "geohash.hpp"

namespace {

using namespace geocluster;
using geocluster::pg::code_datum;
using geocluster::pg::datum_code;
using geocluster::pg::raise_status;

}  // namespace

// I/O, comparison, hashing, containment, centre, bounds, neighbours and range end: celltype.hpp.
GEOCLUSTER_CELLTYPE_FUNCTIONS(geohash, geocluster::GeohashKind)

// The wrappers from here on have the shape of quadkey.cpp's (geohash_from_latlon of
// quadkey_from_latlon, and so on): each calls its own codec and names its own parameters in its
// errors.
// geohash(lat float8, lon float8, precision int)
GEOCLUSTER_FUNCTION(geohash_from_latlon) {
    const double lat = PG_GETARG_FLOAT8(0);
    const double lon = PG_GETARG_FLOAT8(1);
    const int32 precision = PG_GETARG_INT32(2);
    GeohashCode code = 0;
    const Status s = geocluster::geohash_from_latlon(lat, lon, precision, &code);
    if (s != Status::Ok) geocluster::pg::raise_point_status(s, lat, lon, "precision", precision);
    return code_datum(code);
}

GEOCLUSTER_FUNCTION(geohash_precision) {
    PG_RETURN_INT32(geohash_precision(datum_code(PG_GETARG_DATUM(0))));
}

GEOCLUSTER_FUNCTION(geohash_parent) {
    const GeohashCode code = datum_code(PG_GETARG_DATUM(0));
    const int32 precision = PG_GETARG_INT32(1);
    GeohashCode parent = 0;
    const Status s = geocluster::geohash_parent(code, precision, &parent);
    if (s != Status::Ok)
        raise_status(s, "cell precision = %d, requested precision = %d", geohash_precision(code),
                     precision);
    return code_datum(parent);
}

// The shape of quadkey_children: its own fanout and its own deepest level in the error.
GEOCLUSTER_FUNCTION(geohash_children) {
    GeohashCode children[32] = {};
    if (SRF_IS_FIRSTCALL()) {
        const Status s = geocluster::geohash_children(datum_code(PG_GETARG_DATUM(0)), children);
        if (s != Status::Ok) raise_status(s, "a precision-12 cell has no children");
    }
    return geocluster::pg::codes_to_set(fcinfo, children, 32);
}

GEOCLUSTER_FUNCTION(geohash_precision_for_zoom) {
    const int32 zoom = PG_GETARG_INT32(0);
    int precision = 0;
    const Status s = geocluster::geohash_precision_for_zoom(zoom, &precision);
    if (s != Status::Ok) raise_status(s, "zoom = %d", zoom);
    PG_RETURN_INT32(precision);
}
