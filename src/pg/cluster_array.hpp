// marker_cluster[] results: one builder for every function that returns clusters (cluster_agg's
// final functions, cluster_viewport_merge).
#pragma once

#include "glue.hpp"

#include "cluster.hpp"

namespace geocluster::pg {

// The marker_cluster[] of list, for a function declared to return marker_cluster[] (the element
// type is read from fcinfo). Checks for interrupts; list stays the caller's to free.
Datum marker_cluster_array(FunctionCallInfo fcinfo, const ClusterList& list);

}  // namespace geocluster::pg
