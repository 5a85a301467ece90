// Reading PostGIS geometries without linking against PostGIS (see cluster_agg_geometry.cpp).
#pragma once

#include "glue.hpp"

namespace geocluster::pg {

// lat/lon (EPSG:4326) of the Point geometry argument `geom` of the current call, whose type is
// the declared type of argument 1. Raises 22023 for a non-Point, an empty Point or SRID 0;
// transforms other SRIDs to 4326 with PostGIS's ST_Transform.
void geometry_point_latlon(FunctionCallInfo fcinfo, Datum geom, double* lat, double* lon);

}  // namespace geocluster::pg
