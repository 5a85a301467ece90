// cluster_viewport_merge(nodes cluster_node[], zoom float8, radius_px float8) -> marker_cluster[]:
// the glue over src/core/viewport_merge.hpp (SQL and guarantees: src/sql/geocluster/
// 70_scale_out.sql). Everything held here is palloc'd or a core struct, all trivially
// destructible, so an ereport's longjmp skips nothing.
#include "cluster_array.hpp"
#include "viewport_merge.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type_d.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
}

#include <cstring>

namespace {

using namespace geocluster;
using geocluster::pg::raise_status;

constexpr CancelCheck kInterrupts{geocluster::pg::interrupt_requested, nullptr};
constexpr std::size_t kNodesPerInterruptCheck = 4096;

// The cluster_node attributes the merge reads, found by name (and type) in the element type.
enum Field { kCount, kLat, kLon, kMinLat, kMinLon, kMaxLat, kMaxLon, kId, kFields };
constexpr const char* kFieldNames[kFields] = {"count",   "lat",     "lon",     "min_lat",
                                              "min_lon", "max_lat", "max_lon", "id"};

void find_fields(TupleDesc desc, int* attno) {
    for (int f = 0; f < kFields; ++f) {
        attno[f] = -1;
        for (int a = 0; a < desc->natts; ++a) {
            const Form_pg_attribute att = TupleDescAttr(desc, a);
            if (!att->attisdropped && std::strcmp(NameStr(att->attname), kFieldNames[f]) == 0)
                attno[f] = a;
        }
        const Oid want = f == kCount || f == kId ? INT8OID : FLOAT8OID;
        if (attno[f] < 0 || TupleDescAttr(desc, attno[f])->atttypid != want)
            elog(ERROR,
                 "cluster_viewport_merge: cluster_node has no %s attribute of the type it needs",
                 kFieldNames[f]);
    }
}

// The parts of the nodes array: NULL elements, and nodes without a count > 0 or a centre, left
// out; a node with both needs its four bounds.
MergePart* read_parts(ArrayType* nodes, std::size_t* n_parts) {
    const Oid elem_type = ARR_ELEMTYPE(nodes);
    int16 typlen;
    bool typbyval;
    char typalign;
    get_typlenbyvalalign(elem_type, &typlen, &typbyval, &typalign);
    Datum* elems;
    bool* elem_nulls;
    int n;
    deconstruct_array(nodes, elem_type, typlen, typbyval, typalign, &elems, &elem_nulls, &n);
    TupleDesc desc = lookup_rowtype_tupdesc_copy(elem_type, -1);
    int attno[kFields];
    find_fields(desc, attno);
    auto* parts = static_cast<MergePart*>(
        palloc_extended(sizeof(MergePart) * (static_cast<std::size_t>(n) + 1), MCXT_ALLOC_HUGE));
    Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * desc->natts));
    bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * desc->natts));
    std::size_t k = 0;
    for (int i = 0; i < n; ++i) {
        if (i % kNodesPerInterruptCheck == 0) CHECK_FOR_INTERRUPTS();
        if (elem_nulls[i]) continue;
        HeapTupleHeader header = DatumGetHeapTupleHeader(elems[i]);
        HeapTupleData tuple;
        tuple.t_len = HeapTupleHeaderGetDatumLength(header);
        ItemPointerSetInvalid(&tuple.t_self);
        tuple.t_tableOid = InvalidOid;
        tuple.t_data = header;
        heap_deform_tuple(&tuple, desc, values, nulls);
        if (nulls[attno[kCount]] || nulls[attno[kLat]] || nulls[attno[kLon]]) continue;
        const std::int64_t count = DatumGetInt64(values[attno[kCount]]);
        if (count <= 0) continue;
        if (nulls[attno[kMinLat]] || nulls[attno[kMinLon]] || nulls[attno[kMaxLat]] ||
            nulls[attno[kMaxLon]])
            ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                            errmsg("cluster_viewport_merge: a node with a count and a centre "
                                   "needs its four bounds"),
                            errdetail("Node %d of the array has a NULL bound.", i + 1)));
        MergePart& p = parts[k++];
        p.count = count;
        p.lat = DatumGetFloat8(values[attno[kLat]]);
        p.lon = DatumGetFloat8(values[attno[kLon]]);
        p.min_lat = DatumGetFloat8(values[attno[kMinLat]]);
        p.min_lon = DatumGetFloat8(values[attno[kMinLon]]);
        p.max_lat = DatumGetFloat8(values[attno[kMaxLat]]);
        p.max_lon = DatumGetFloat8(values[attno[kMaxLon]]);
        p.has_id = !nulls[attno[kId]];
        p.id = p.has_id ? DatumGetInt64(values[attno[kId]]) : 0;
    }
    *n_parts = k;
    return parts;
}

}  // namespace

// IMMUTABLE STRICT: a NULL array, zoom or radius never gets here.
GEOCLUSTER_FUNCTION(cluster_viewport_merge) {
    ArrayType* nodes = PG_GETARG_ARRAYTYPE_P(0);
    const double zoom = PG_GETARG_FLOAT8(1);
    const double radius_px = PG_GETARG_FLOAT8(2);
    std::size_t n = 0;
    const MergePart* parts = read_parts(nodes, &n);
    const std::size_t budget = static_cast<std::size_t>(geocluster_max_state_memory_kb) * 1024;
    const Allocator alloc{geocluster::pg::context_alloc, geocluster::pg::context_free,
                          CurrentMemoryContext, budget};
    ClusterList list{nullptr, 0};
    std::size_t bad = 0;
    const Status s = viewport_merge(parts, n, zoom, radius_px, alloc, kInterrupts, &list, &bad);
    if (s == Status::MergeZoomInvalid) raise_status(s, "zoom is %g.", zoom);
    if (s == Status::MergeRadiusInvalid) raise_status(s, "radius_px is %g.", radius_px);
    if (s == Status::StateTooLarge)
        raise_status(s, "Merging %zu nodes needs more than geocluster.max_state_memory, %zu bytes.",
                     n, budget);
    if (s == Status::ClusterTooManyPoints)
        raise_status(s, "The counts of the %zu nodes add up to more than 2^46.", n);
    if (s != Status::Ok && bad < n)
        raise_status(s,
                     "A node has count %lld, centre (%g, %g), box (%g, %g, %g, %g) (min_lat, "
                     "min_lon, max_lat, max_lon).",
                     static_cast<long long>(parts[bad].count), parts[bad].lat, parts[bad].lon,
                     parts[bad].min_lat, parts[bad].min_lon, parts[bad].max_lat,
                     parts[bad].max_lon);
    geocluster::pg::check(s);
    return geocluster::pg::marker_cluster_array(fcinfo, list);
}
