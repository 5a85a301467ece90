// The whole of a stored cluster hierarchy, decoded: cluster_hierarchy_nodes (one row per node and
// zoom, as a table of nodes would hold them) and cluster_hierarchy_members (one row per marker:
// its leaf and its position), for DBAs and the test suites that check the whole hierarchy.
#include "hierarchy_read_glue.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
}

namespace {

using namespace geocluster;
using namespace geocluster::pg;

constexpr int kFetchRows = 64;  // block rows per cursor fetch
constexpr int kNodeCols = 21;

// A 128-bit sum as a numeric.
Datum numeric_of(std::uint64_t lo, std::uint64_t hi) {
    __extension__ typedef unsigned __int128 u128;
    u128 v = (static_cast<u128>(hi) << 64) | lo;
    char buf[48];
    char* p = buf + sizeof(buf) - 1;
    *p = '\0';
    do {
        *--p = static_cast<char>('0' + static_cast<int>(v % 10));
        v /= 10;
    } while (v != 0);
    return DirectFunctionCall3(numeric_in, CStringGetDatum(p), ObjectIdGetDatum(InvalidOid),
                               Int32GetDatum(-1));
}

// The rows of rel: (band or NULL, block, data, part or NULL, delta or NULL), a few at a time.
using RowVisit = void (*)(void* ctx, int band, const BlockRow& row, Datum part, bool part_null);
void scan_rows(Oid rel, bool members, bool partitioned, RowVisit visit, void* ctx) {
    const char* name =
        quote_qualified_identifier(get_namespace_name(get_rel_namespace(rel)), get_rel_name(rel));
    const char* sql = psprintf("SELECT %s, block, data, %s, delta FROM %s",
                               members ? "NULL::pg_catalog.int4" : "band",
                               partitioned ? "part" : "NULL::pg_catalog.text", name);
    SPIPlanPtr plan = SPI_prepare(sql, 0, nullptr);
    if (plan == nullptr)
        elog(ERROR, "cluster hierarchy: SPI_prepare failed: %s",
             SPI_result_code_string(SPI_result));
    Portal cursor = SPI_cursor_open(nullptr, plan, nullptr, nullptr, true);
    for (;;) {
        SPI_cursor_fetch(cursor, true, kFetchRows);
        SPITupleTable* got = SPI_tuptable;
        if (SPI_processed == 0) break;
        for (uint64 i = 0; i < SPI_processed; ++i) {
            bool nulls[5];
            Datum v[5];
            for (int c = 0; c < 5; ++c)
                v[c] = SPI_getbinval(got->vals[i], got->tupdesc, c + 1, &nulls[c]);
            if (nulls[1] || nulls[2]) raise_status(Status::HierarchyBlockCorrupt, "a NULL block");
            const int band = nulls[0] ? -1 : DatumGetInt32(v[0]);
            bytea* data = DatumGetByteaPP(v[2]);
            bytea* delta = nulls[4] ? nullptr : DatumGetByteaPP(v[4]);
            const BlockRow row{
                static_cast<std::uint64_t>(DatumGetInt64(v[1])),
                reinterpret_cast<const unsigned char*>(VARDATA_ANY(data)), VARSIZE_ANY_EXHDR(data),
                delta == nullptr ? nullptr
                                 : reinterpret_cast<const unsigned char*>(VARDATA_ANY(delta)),
                delta == nullptr ? 0 : VARSIZE_ANY_EXHDR(delta)};
            visit(ctx, band, row, v[3], nulls[3]);
            if (reinterpret_cast<Pointer>(data) != DatumGetPointer(v[2])) pfree(data);
            if (delta != nullptr && reinterpret_cast<Pointer>(delta) != DatumGetPointer(v[4]))
                pfree(delta);
        }
        SPI_freetuptable(got);
        CHECK_FOR_INTERRUPTS();
    }
    SPI_cursor_close(cursor);
}

struct ListCtx {
    const HierCacheEntry* h;
    ReturnSetInfo* rsinfo;
};

void nodes_visit(void* c, int band, const BlockRow& row, Datum part, bool part_null) {
    auto* l = static_cast<ListCtx*>(c);
    if (band < 0 || band >= l->h->bands.n)
        raise_status(Status::HierarchyBlockCorrupt, "a block of band %d", band);
    const HierBand& b = l->h->bands.band[band];
    HierOverlayReader rd;
    check(hier_overlay_open(row.data, row.len, row.delta, row.delta_len, &rd));
    if (rd.block.zoom_lo != b.zoom_lo || rd.block.zoom_hi != b.zoom_hi)
        raise_status(Status::HierarchyBlockCorrupt, "a block of band %d with zooms %d-%d", band,
                     rd.block.zoom_lo, rd.block.zoom_hi);
    HierBlockNode r;
    Status s = Status::Ok;
    while (hier_overlay_next(&rd, &r, &s)) {
        for (int z = r.zoom_min; z <= r.zoom_max; ++z) {
            const HierNode n = hier_node_at(r, b, row.block, z);
            Datum v[kNodeCols];
            bool null[kNodeCols] = {};
            v[0] = part;
            null[0] = part_null;
            v[1] = Int32GetDatum(z);
            v[2] = Int64GetDatum(n.parent_id);
            null[2] = n.parent_id < 0;
            v[3] = Int64GetDatum(n.cluster_id);
            v[4] = Int64GetDatum(static_cast<std::int64_t>(n.count));
            const double f[6] = {n.lat, n.lon, n.min_lat, n.min_lon, n.max_lat, n.max_lon};
            for (int k = 0; k < 6; ++k) v[5 + k] = Float8GetDatum(f[k]);
            v[11] = Int64GetDatum(n.id);
            v[12] = Int32GetDatum(n.expansion_zoom);
            null[12] = n.expansion_zoom < 0;
            v[13] = Int64GetDatum(static_cast<std::int64_t>(n.sums.count_w));
            v[14] = numeric_of(n.sums.sx_e_lo, n.sums.sx_e_hi);
            v[15] = numeric_of(n.sums.sx_w_lo, n.sums.sx_w_hi);
            v[16] = numeric_of(n.sums.sy_lo, n.sums.sy_hi);
            const double r[4] = {n.sums.min_lon_e, n.sums.max_lon_e, n.sums.min_lon_w,
                                 n.sums.max_lon_w};
            for (int k = 0; k < 4; ++k) v[17 + k] = Float8GetDatum(r[k]);
            tuplestore_putvalues(l->rsinfo->setResult, l->rsinfo->setDesc, v, null);
        }
    }
    check(s);
}

void put_member(const ListCtx& l, Datum part, bool part_null, const HierBlockNode& r,
                std::int64_t leaf) {
    Datum v[5] = {part, Int64GetDatum(r.id), Int64GetDatum(leaf), Float8GetDatum(r.min_lat),
                  Float8GetDatum(r.min_lon)};
    bool null[5] = {part_null, false, false, false, false};
    tuplestore_putvalues(l.rsinfo->setResult, l.rsinfo->setDesc, v, null);
}

// Single-marker leaves from the last band's blocks; the others' markers from the member blocks.
void members_visit(void* c, int band, const BlockRow& row, Datum part, bool part_null) {
    auto* l = static_cast<ListCtx*>(c);
    const int last = l->h->bands.n - 1;
    if (band >= 0 && band != last) return;
    const std::uint64_t block = row.block;
    each_record(row, [&](const HierBlockNode& r) {
        if (band < 0)
            put_member(*l, part, part_null, r, r.parent_id);
        else if (r.count == 1 && r.zoom_max == l->h->max_zoom)
            put_member(*l, part, part_null, r,
                       hier_cluster_id(r.zoom_max, l->h->bands.band[last], block, r.slot));
    });
}

}  // namespace

// cluster_hierarchy_nodes(hierarchy regclass) -> TABLE(part text, zoom int, parent_id bigint,
//   cluster_id bigint, count bigint, lat, lon, min_lat, min_lon, max_lat, max_lon float8,
//   id bigint, expansion_zoom int, then the sums of HierSums: count_w bigint, sx_e, sx_w, sy
//   numeric, min_lon_e, max_lon_e, min_lon_w, max_lon_w float8), in storage order.
GEOCLUSTER_FUNCTION(cluster_hierarchy_nodes) {
    const Oid handle = PG_GETARG_OID(0);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster_hierarchy_nodes: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    ListCtx l{h, rsinfo};
    scan_rows(handle, false, h->partitioned, nodes_visit, &l);
    SPI_finish();
    return (Datum)0;
}

// cluster_hierarchy_members(hierarchy regclass) -> TABLE(part text, id bigint, leaf_id bigint,
//   lat float8, lon float8): every marker, its max_zoom cluster and its position.
GEOCLUSTER_FUNCTION(cluster_hierarchy_members) {
    const Oid handle = PG_GETARG_OID(0);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "cluster_hierarchy_members: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    ListCtx l{h, rsinfo};
    scan_rows(handle, false, h->partitioned, members_visit, &l);
    scan_rows(h->members, true, h->partitioned, members_visit, &l);
    SPI_finish();
    return (Datum)0;
}
