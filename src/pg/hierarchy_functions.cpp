// cluster_viewport, cluster_children, cluster_expansion_zoom and cluster_hierarchy_leaves over
// the packed blocks of a hierarchy (src/core/hierarchy_read.hpp says which blocks each reads).
#include "hierarchy_read_glue.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

#include <algorithm>
#include <cmath>

namespace {

using namespace geocluster;
using namespace geocluster::pg;

[[noreturn]] void bad_viewport(const char* msg, const char* detail_fmt, double a, double b) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("%s", msg),
                    errdetail(detail_fmt, a, b)));
    pg_unreachable();
}

// lon into [-180, 180) (west) or (-180, 180] (east). In-range values are kept bit for bit, and
// the others moved by exact steps (fmod is exact, and by Sterbenz's lemma so is adding or
// subtracting 360 to a value within a factor of two of it), so that an edge on a centre stays on
// it.
double wrap_west(double lon) {
    if (lon >= -180.0 && lon < 180.0) return lon;
    double v = std::fmod(lon, 360.0);
    if (v >= 180.0) v -= 360.0;
    if (v < -180.0) v += 360.0;
    return v;
}
double wrap_east(double lon) {
    if (lon > -180.0 && lon <= 180.0) return lon;
    double v = std::fmod(lon, 360.0);
    if (v > 180.0) v -= 360.0;
    if (v <= -180.0) v += 360.0;
    return v;
}

// The viewport's box in the world: a box 360 degrees wide or more is the world; otherwise it
// runs east from west to east (so west > east crosses 180): each edge is wrapped into the world,
// and when the wrapped west edge lies east of the wrapped east edge, it is cut in two at 180.
HierBlockBox viewport_box(double south, double west, double north, double east, int zoom) {
    if (std::isnan(south) || std::isnan(west) || std::isnan(north) || std::isnan(east))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_viewport needs a box without NaN")));
    if (south > north)
        bad_viewport("cluster_viewport needs south <= north", "south = %g, north = %g", south,
                     north);
    HierBlockBox box{zoom, std::max(south, -90.0), std::min(north, 90.0), -180, 180, 1, 0};
    if (!std::isinf(west) && !std::isinf(east) && east - west < 360.0) {
        const double w = wrap_west(west), e = wrap_east(east);
        box.west1 = w;
        if (w <= e) {
            box.east1 = e;
        } else {
            box.west2 = -180;
            box.east2 = e;
        }
    }
    return box;
}

struct ViewportCtx {
    const HierBand* band;
    HierBlockBox box;
    int max_zoom;
    bool markers;  // beyond max_zoom: the markers at their positions
    NodeList out;
};

void viewport_visit(void* c, const BlockRow& row) {
    auto* v = static_cast<ViewportCtx*>(c);
    // Decoded with the box: a single marker's centre is computed only where it could be kept
    // (and beyond max_zoom never: there its position is what is shown).
    HierOverlayReader rd;
    check(hier_overlay_open(row.data, row.len, row.delta, row.delta_len, &rd));
    HierBlockNode r;
    Status s = Status::Ok;
    if (v->markers) {
        while (hier_overlay_next_marker_in(&rd, v->box, &r, &s))
            if (r.zoom_max == v->max_zoom)
                node_list_push(&v->out,
                               HierNode{-1, -1, v->box.zoom, -1, 1, r.min_lat, r.min_lon, r.min_lat,
                                        r.min_lon, r.min_lat, r.min_lon, r.id, HierSums{}});
    } else {
        while (hier_overlay_next_in(&rd, v->box, &r, &s))
            node_list_push(&v->out, hier_node_at(r, *v->band, row.block, v->box.zoom));
    }
    check(s);
}

}  // namespace

// cluster_viewport(hierarchy regclass, south, west, north, east float8, zoom float8 [, partition
// text]) -> SETOF cluster_node
GEOCLUSTER_FUNCTION(cluster_viewport) {
    const Oid handle = PG_GETARG_OID(0);
    const double zoom_in = PG_GETARG_FLOAT8(5);
    const bool with_part = PG_NARGS() > 6;
    if (!(zoom_in >= 0) || std::isinf(zoom_in))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_viewport needs a finite zoom >= 0"),
                        errdetail("zoom = %g", zoom_in)));
    const int zoom = zoom_in > 1e6 ? 1000000 : static_cast<int>(std::floor(zoom_in));
    const HierBlockBox box = viewport_box(PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2),
                                          PG_GETARG_FLOAT8(3), PG_GETARG_FLOAT8(4), zoom);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster_viewport: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    if (h->partitioned != with_part)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg(h->partitioned
                            ? "cluster hierarchy %s is partitioned: pass the partition value"
                            : "cluster hierarchy %s is not partitioned: call without a partition "
                              "value",
                        quote_qualified_identifier(get_namespace_name(get_rel_namespace(handle)),
                                                   get_rel_name(handle)))));
    const Datum part = with_part ? PG_GETARG_DATUM(6) : (Datum)0;
    const bool markers = zoom > h->max_zoom;
    const int band = markers ? h->bands.n - 1 : hier_band_of(h->bands, zoom);
    ViewportCtx v{&h->bands.band[band], box, h->max_zoom, markers, NodeList{nullptr, 0, 0}};
    const Datum* one = with_part ? &part : nullptr;
    // Beyond max_zoom, a single-marker leaf is in the block of its centre, within rounding of its
    // position (the ring); the members of the other leaves in the blocks of their positions.
    const BoxSlices slices{box, markers};
    fetch_box(h, false, band, box, markers ? kHierRingBlocks : kHierViewportRingBlocks, one,
              viewport_visit, &v, &slices);
    if (markers) fetch_box(h, true, band, box, 0, one, viewport_visit, &v, &slices);
    sort_nodes(&v.out);
    for (std::size_t i = 0; i < v.out.n; ++i) put_node(rsinfo, v.out.v[i]);
    SPI_finish();
    return (Datum)0;
}

namespace {

struct ChildCtx {
    const HierBand* band;
    std::int64_t parent;
    int zoom;
    NodeList out;
};

void child_visit(void* c, const BlockRow& row) {
    auto* k = static_cast<ChildCtx*>(c);
    const std::uint64_t block = row.block;
    each_record(row, [k, block](const HierBlockNode& r) {
        if (r.zoom_min == k->zoom && r.parent_id == k->parent)
            node_list_push(&k->out, hier_node_at(r, *k->band, block, k->zoom));
    });
}

}  // namespace

// cluster_children(hierarchy regclass, cluster_id bigint) -> SETOF cluster_node
GEOCLUSTER_FUNCTION(cluster_children) {
    const Oid handle = PG_GETARG_OID(0);
    const std::int64_t id = PG_GETARG_INT64(1);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster_children: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    HierIdParts p;
    HierBlockNode r;
    if (find_record(h, id, &p, &r) && p.zoom < h->max_zoom) {
        if (p.zoom < r.zoom_max) {  // the same cluster, one zoom on
            put_node(rsinfo, hier_node_at(r, h->bands.band[p.band], p.block, p.zoom + 1));
        } else {
            const int band = hier_band_of(h->bands, p.zoom + 1);
            ChildCtx k{&h->bands.band[band], id, p.zoom + 1, NodeList{nullptr, 0, 0}};
            const HierBlockBox box = hier_bounds_box(r.min_lat, r.min_lon, r.max_lat, r.max_lon);
            fetch_box(h, false, band, box, kHierRingBlocks, nullptr, child_visit, &k);
            sort_nodes(&k.out);
            for (std::size_t i = 0; i < k.out.n; ++i) put_node(rsinfo, k.out.v[i]);
        }
    }
    SPI_finish();
    return (Datum)0;
}

// cluster_expansion_zoom(hierarchy regclass, cluster_id bigint) -> int (NULL for a single marker
// or an unknown id)
GEOCLUSTER_FUNCTION(cluster_expansion_zoom) {
    const Oid handle = PG_GETARG_OID(0);
    const std::int64_t id = PG_GETARG_INT64(1);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster_expansion_zoom: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    HierIdParts p;
    HierBlockNode r;
    const bool found = find_record(h, id, &p, &r);
    SPI_finish();
    if (!found || r.expansion_zoom < 0) PG_RETURN_NULL();
    PG_RETURN_INT32(r.expansion_zoom);
}

namespace {

// The records of one band's blocks around a cluster, for its descent.
struct BandRecords {
    HierBandRecord* v;
    std::size_t n, cap;
};
void band_visit(void* c, const BlockRow& row) {
    auto* b = static_cast<BandRecords*>(c);
    const std::uint64_t block = row.block;
    each_record(row, [b, block](const HierBlockNode& r) {
        if (b->n == b->cap) {
            b->cap = b->cap == 0 ? 1024 : 2 * b->cap;
            b->v = static_cast<HierBandRecord*>(
                b->v == nullptr
                    ? MemoryContextAllocHuge(CurrentMemoryContext, b->cap * sizeof *b->v)
                    : repalloc_huge(b->v, b->cap * sizeof *b->v));
        }
        b->v[b->n++] = HierBandRecord{r, block};
    });
}

struct MemberCtx {
    const HierIdSet* leaves;
    std::int64_t* ids;
    std::size_t* n_ids;
    std::size_t cap;
};
void member_visit(void* c, const BlockRow& row) {
    auto* m = static_cast<MemberCtx*>(c);
    each_record(row, [m](const HierBlockNode& r) {
        if (!hier_id_set_has(*m->leaves, r.parent_id)) return;
        if (*m->n_ids == m->cap) raise_status(Status::HierarchyBlockCorrupt, "too many members");
        m->ids[(*m->n_ids)++] = r.id;
    });
}

}  // namespace

// cluster_hierarchy_leaves(hierarchy regclass, cluster_id bigint, lim int, off bigint)
//   -> SETOF bigint: the member ids of a cluster in id order (cluster_leaves checks lim and off).
GEOCLUSTER_FUNCTION(cluster_hierarchy_leaves) {
    const Oid handle = PG_GETARG_OID(0);
    const std::int64_t id = PG_GETARG_INT64(1);
    const std::int64_t lim = PG_GETARG_INT32(2), off = PG_GETARG_INT64(3);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);  // (a scalar result)
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster_leaves: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    HierIdParts p;
    HierBlockNode r;
    if (find_record(h, id, &p, &r)) {
        // A block only a damaged table could hold: no id array that size.
        if (r.count > MaxAllocHugeSize / sizeof(std::int64_t))
            raise_status(Status::HierarchyBlockCorrupt, "a cluster of %llu markers",
                         static_cast<unsigned long long>(r.count));
        const Allocator alloc{context_alloc, context_free, CurrentMemoryContext, 0};
        auto* ids = static_cast<std::int64_t*>(
            MemoryContextAllocHuge(CurrentMemoryContext, r.count * sizeof(std::int64_t)));
        std::size_t n = 0;
        HierDescent d{};
        check(
            hier_descent_start(&d, r, h->bands.band[p.band], p.block, h->max_zoom, ids, &n, alloc));
        const HierBlockBox box = hier_bounds_box(r.min_lat, r.min_lon, r.max_lat, r.max_lon);
        for (int band = p.band; band < h->bands.n && d.ends.n > 0; ++band) {
            BandRecords recs{nullptr, 0, 0};
            fetch_box(h, false, band, box, kHierRingBlocks, nullptr, band_visit, &recs);
            check(hier_descent_band(&d, h->bands.band[band], recs.v, recs.n, ids, &n, r.count,
                                    alloc));
            if (recs.v != nullptr) pfree(recs.v);
        }
        MemberCtx m{&d.leaves, ids, &n, r.count};
        if (d.leaves.n > 0)
            fetch_box(h, true, h->bands.n - 1, box, kHierRingBlocks, nullptr, member_visit, &m);
        std::sort(ids, ids + n);
        for (std::size_t i = static_cast<std::size_t>(std::min<std::int64_t>(off, n));
             i < n && static_cast<std::int64_t>(i) - off < lim; ++i) {
            Datum v = Int64GetDatum(ids[i]);
            bool null = false;
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &null);
        }
    }
    SPI_finish();
    return (Datum)0;
}
