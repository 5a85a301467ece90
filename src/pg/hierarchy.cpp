// The stored cluster hierarchy (src/core/hierarchy.hpp), SQL in
// src/sql/geocluster/60_hierarchy.sql:
//
//  - cluster_hierarchy_build_into: reads the markers through SPI (a cursor, in batches, one
//    partition value after another), builds each partition's hierarchy with hierarchy_build and
//    writes nodes and members into the hierarchy's tables as COPY does (Sink, below).
//  - cluster_viewport: the clusters of one zoom whose centre lies in a box, through SPI plans
//    prepared once per hierarchy and kept for the session (SPI_keepplan), forgotten when the
//    relcache says one of the hierarchy's tables changed (drop, truncate, ALTER).
//
// Memory: the marker array and the build's result come from a memory context of the call
// through the core Allocator (MemoryContextAllocExtended HUGE | NO_OOM), so an error or a cancel
// frees them wholesale; nothing here has a destructor.
#include "hierarchy.hpp"
#include "polled_sort.hpp"
#include "quadkey.hpp"

#include "glue.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/hsearch.h"
}

#include <algorithm>
#include <cmath>

namespace {

using namespace geocluster;
using geocluster::pg::raise_status;

constexpr int kBatchRows = 8192;   // rows per INSERT statement
constexpr int kFetchRows = 10000;  // rows per cursor fetch

const char* qualified_name(Oid rel) {
    const char* nsp = get_namespace_name(get_rel_namespace(rel));
    const char* name = get_rel_name(rel);
    if (nsp == nullptr || name == nullptr)
        elog(ERROR, "cluster hierarchy: relation %u has gone", rel);
    return quote_qualified_identifier(nsp, name);
}

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

// Where a build's rows go: the hierarchy's nodes or members table, written like COPY writes
// (table_multi_insert in batches, WAL-logged, through a bulk-insert buffer strategy), which
// measured several times faster on a million markers than INSERT ... SELECT FROM unnest(arrays)
// through SPI. The tables are created without indexes and indexed after the fill (rebuild drops
// and recreates them), so there is no index to maintain; a table that has one, a trigger or row
// security is refused rather than written behind their back.
struct Sink {
    Relation rel;
    TupleTableSlot** slots;
    int n;      // slots filled
    int natts;  // columns, the partition value last when partitioned
    bool partitioned;
    CommandId cid;
    BulkInsertState bistate;
    MemoryContext batch;  // the batch's values (numerics, the partition text); reset per batch
};

Sink open_sink(Oid relid, const Oid* types, int ncols, bool partitioned, const char* what) {
    Sink k{};
    k.rel = table_open(relid, RowExclusiveLock);
    const AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_INSERT);
    if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(k.rel));
    TupleDesc desc = RelationGetDescr(k.rel);
    k.natts = ncols + (partitioned ? 1 : 0);
    bool shape = k.rel->rd_rel->relkind == RELKIND_RELATION && desc->natts == k.natts;
    for (int i = 0; shape && i < k.natts; ++i) {
        const Form_pg_attribute att = TupleDescAttr(desc, i);
        shape = !att->attisdropped && att->atttypid == (i < ncols ? types[i] : TEXTOID);
    }
    if (!shape)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s is not the %s table of a cluster hierarchy",
                               RelationGetRelationName(k.rel), what)));
    if (RelationGetIndexList(k.rel) != NIL || k.rel->trigdesc != nullptr ||
        k.rel->rd_rel->relrowsecurity)
        ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                        errmsg("cluster hierarchy table %s must have no index, trigger or row "
                               "security while it is filled",
                               RelationGetRelationName(k.rel))));
    k.partitioned = partitioned;
    k.slots = static_cast<TupleTableSlot**>(palloc(sizeof(TupleTableSlot*) * kBatchRows));
    for (int i = 0; i < kBatchRows; ++i) k.slots[i] = table_slot_create(k.rel, nullptr);
    k.cid = GetCurrentCommandId(true);
    k.bistate = GetBulkInsertState();
    k.batch = AllocSetContextCreate(CurrentMemoryContext, "cluster hierarchy batch",
                                    ALLOCSET_DEFAULT_SIZES);
    return k;
}

void flush_sink(Sink* k) {
    if (k->n == 0) return;
    table_multi_insert(k->rel, k->slots, k->n, k->cid, 0, k->bistate);
    for (int i = 0; i < k->n; ++i) ExecClearTuple(k->slots[i]);
    k->n = 0;
    MemoryContextReset(k->batch);
    CHECK_FOR_INTERRUPTS();
}

// The next row's slot, cleared; its values are filled by the caller, then stored.
TupleTableSlot* next_slot(Sink* k) {
    if (k->n == kBatchRows) flush_sink(k);
    TupleTableSlot* slot = k->slots[k->n++];
    ExecClearTuple(slot);
    memset(slot->tts_isnull, 0, sizeof(bool) * k->natts);
    return slot;
}

void store_slot(Sink* k, TupleTableSlot* slot, Datum part) {
    if (k->partitioned) slot->tts_values[k->natts - 1] = part;
    ExecStoreVirtualTuple(slot);
}

void close_sink(Sink* k) {
    flush_sink(k);
    FreeBulkInsertState(k->bistate);
    table_finish_bulk_insert(k->rel, 0);
    for (int i = 0; i < kBatchRows; ++i) ExecDropSingleTupleTableSlot(k->slots[i]);
    MemoryContextDelete(k->batch);
    table_close(k->rel, NoLock);
}

constexpr int kNodeCols = 20;
const Oid kNodeTypes[kNodeCols] = {INT8OID,    INT8OID,   INT4OID,   INT8OID,    FLOAT8OID,
                                   FLOAT8OID,  FLOAT8OID, FLOAT8OID, FLOAT8OID,  FLOAT8OID,
                                   INT8OID,    INT4OID,   INT8OID,   NUMERICOID, NUMERICOID,
                                   NUMERICOID, FLOAT8OID, FLOAT8OID, FLOAT8OID,  FLOAT8OID};
constexpr int kMemberCols = 4;
const Oid kMemberTypes[kMemberCols] = {INT8OID, INT8OID, FLOAT8OID, FLOAT8OID};

// Nodes are written zoom by zoom, north to south: a viewport reads one latitude band of one
// zoom through the (zoom, lat, lon) index, and with the heap in that order its rows share pages
// (in the build's order, by count, every row of a viewport was a page of its own).
void write_nodes(Sink* k, const HierBuild& b, Datum part, MemoryContext scratch) {
    if (b.n_nodes > UINT32_MAX)
        raise_status(Status::ClusterTooManyPoints, "%zu clusters", b.n_nodes);
    const std::size_t order_bytes = sizeof(std::uint32_t) * (b.n_nodes > 0 ? b.n_nodes : 1);
    std::uint32_t* order =
        static_cast<std::uint32_t*>(MemoryContextAllocHuge(scratch, order_bytes));
    std::uint32_t* order_tmp =
        static_cast<std::uint32_t*>(MemoryContextAllocHuge(scratch, order_bytes));
    for (std::size_t i = 0; i < b.n_nodes; ++i) order[i] = static_cast<std::uint32_t>(i);
    const HierNode* nodes = b.nodes;
    // Tens of millions of nodes at 10M markers: the core's polled sort, so a cancel lands.
    cluster_internal::Poller poll(CancelCheck{geocluster::pg::interrupt_requested, nullptr});
    const std::uint32_t* sorted = cluster_internal::polled_sort(
        order, order_tmp, b.n_nodes,
        [nodes](std::uint32_t x, std::uint32_t y) noexcept {
            const HierNode& a = nodes[x];
            const HierNode& c = nodes[y];
            if (a.zoom != c.zoom) return a.zoom < c.zoom;
            if (a.lat != c.lat) return a.lat > c.lat;
            if (a.lon != c.lon) return a.lon < c.lon;
            return a.cluster_id < c.cluster_id;
        },
        poll);
    if (sorted == nullptr) {
        CHECK_FOR_INTERRUPTS();
        elog(ERROR,
             "cluster hierarchy: the sort of its clusters stopped without a pending interrupt");
    }
    for (std::size_t j = 0; j < b.n_nodes; ++j) {
        const HierNode& d = b.nodes[sorted[j]];
        TupleTableSlot* slot = next_slot(k);
        Datum* v = slot->tts_values;
        bool* null = slot->tts_isnull;
        MemoryContext old = MemoryContextSwitchTo(k->batch);
        v[0] = Int64GetDatum(d.cluster_id);
        v[1] = Int64GetDatum(d.parent_id);
        null[1] = d.parent_id < 0;
        v[2] = Int32GetDatum(d.zoom);
        v[3] = Int64GetDatum(static_cast<std::int64_t>(d.count));
        v[4] = Float8GetDatum(d.lat);
        v[5] = Float8GetDatum(d.lon);
        v[6] = Float8GetDatum(d.min_lat);
        v[7] = Float8GetDatum(d.min_lon);
        v[8] = Float8GetDatum(d.max_lat);
        v[9] = Float8GetDatum(d.max_lon);
        v[10] = Int64GetDatum(d.id);
        v[11] = Int32GetDatum(d.expansion_zoom);
        null[11] = d.expansion_zoom < 0;
        v[12] = Int64GetDatum(static_cast<std::int64_t>(d.sums.count_w));
        v[13] = numeric_of(d.sums.sx_e_lo, d.sums.sx_e_hi);
        v[14] = numeric_of(d.sums.sx_w_lo, d.sums.sx_w_hi);
        v[15] = numeric_of(d.sums.sy_lo, d.sums.sy_hi);
        v[16] = Float8GetDatum(d.sums.min_lon_e);
        v[17] = Float8GetDatum(d.sums.max_lon_e);
        v[18] = Float8GetDatum(d.sums.min_lon_w);
        v[19] = Float8GetDatum(d.sums.max_lon_w);
        MemoryContextSwitchTo(old);
        store_slot(k, slot, part);
    }
}

void write_members(Sink* k, const HierMarker* markers, const HierBuild& b, Datum part) {
    for (std::size_t i = 0; i < b.n_markers; ++i) {
        TupleTableSlot* slot = next_slot(k);
        Datum* v = slot->tts_values;
        v[0] = Int64GetDatum(markers[i].id);
        v[1] = Int64GetDatum(b.leaf_of_marker[i]);
        v[2] = Float8GetDatum(markers[i].lat);
        v[3] = Float8GetDatum(markers[i].lon);
        store_slot(k, slot, part);
    }
}

// The two sinks of a build.
struct Writer {
    Sink nodes;
    Sink members;
};

struct BuildParams {
    double radius_px;
    int max_zoom;
    std::uint64_t next_ordinal[kHierMaxZoom + 1];
    MemoryContext build_ctx;  // markers and the build's result; reset after each partition
};

// Builds one partition's markers and writes them; returns the markers written.
void build_and_write(BuildParams* p, Writer* w, const HierMarker* markers, std::size_t n,
                     Datum part, const char* part_text) {
    if (n == 0) return;
    HierBuild build{nullptr, 0, nullptr, 0};
    // No geocluster.max_state_memory budget (0): that setting bounds what any query can make a
    // cluster_agg state grow to; a build is its table owner's maintenance step over the whole
    // table.
    const Allocator alloc{geocluster::pg::context_alloc, geocluster::pg::context_free, p->build_ctx,
                          0};
    const Status s =
        hierarchy_build(markers, n, p->radius_px, p->max_zoom, p->next_ordinal, alloc,
                        CancelCheck{geocluster::pg::interrupt_requested, nullptr}, &build);
    if (s != Status::Ok) {
        if (part_text != nullptr) raise_status(s, "partition value %s", part_text);
        raise_status(s);
    }
    write_nodes(&w->nodes, build, part, p->build_ctx);
    write_members(&w->members, markers, build, part);
    hierarchy_free(alloc, &build);
}

void check_marker(double lat, double lon, std::int64_t id) {
    const Status s = check_latlon(lat, lon);
    if (s != Status::Ok)
        raise_status(s, "the marker with id %lld is at lat = %g, lon = %g",
                     static_cast<long long>(id), lat, lon);
}

void check_build_params(const BuildParams& p) {
    if (!(p.radius_px > 0) || !std::isfinite(p.radius_px))
        raise_status(Status::RadiusInvalid, "radius_px = %g", p.radius_px);
    if (p.max_zoom < 0 || p.max_zoom > kHierMaxZoom)
        ereport(ERROR, (errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
                        errmsg("max_zoom must be between 0 and %d", kHierMaxZoom),
                        errdetail("max_zoom = %d", p.max_zoom)));
}

// The Datums read_marker reads are read as these types: anything else is refused, not misread.
void check_rows_shape(TupleDesc desc, bool partitioned) {
    const int off = partitioned ? 1 : 0;
    bool shape =
        desc->natts == 3 + off && (!partitioned || TupleDescAttr(desc, 0)->atttypid == TEXTOID);
    for (int c = 0; shape && c < 3; ++c)
        shape = TupleDescAttr(desc, off + c)->atttypid == (c < 2 ? FLOAT8OID : INT8OID);
    if (!shape)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("the rows query must return %s(lat float8, lon float8, id bigint)",
                               partitioned ? "(part text, then) " : "")));
}

// The partition being read: its markers, in build_ctx, and its value, in build_ctx's parent
// (the caller's context), so that resetting build_ctx between partitions keeps the value.
struct Partition {
    HierMarker* markers;
    std::size_t cap;
    std::size_t n;
    char* part_text;
    Datum part;
};

// Builds and writes the partition read so far, then starts the one whose value is value.
void start_partition(BuildParams* p, Writer* w, Partition* cur, MemoryContext caller,
                     const char* value) {
    build_and_write(p, w, cur->markers, cur->n, cur->part, cur->part_text);
    MemoryContextReset(p->build_ctx);
    cur->markers = nullptr;
    cur->cap = cur->n = 0;
    MemoryContext old = MemoryContextSwitchTo(caller);
    if (cur->part_text != nullptr) pfree(cur->part_text);
    cur->part_text = pstrdup(value);
    cur->part = CStringGetTextDatum(cur->part_text);
    MemoryContextSwitchTo(old);
}

// One row's marker, checked; false for a row without a position (it is not clustered).
bool read_marker(HeapTuple t, TupleDesc desc, int off, HierMarker* out) {
    bool isnull = false;
    const Datum lat = SPI_getbinval(t, desc, 1 + off, &isnull);
    if (isnull) return false;
    const Datum lon = SPI_getbinval(t, desc, 2 + off, &isnull);
    if (isnull) return false;
    const Datum id = SPI_getbinval(t, desc, 3 + off, &isnull);
    if (isnull)
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("a cluster hierarchy needs an id for every marker"),
             errdetail("a row at lat = %g, lon = %g has a NULL id", DatumGetFloat8(lat),
                       DatumGetFloat8(lon)),
             errhint("Give the rows ids, or filter them into a table or partition of their own.")));
    *out = HierMarker{DatumGetFloat8(lat), DatumGetFloat8(lon), DatumGetInt64(id)};
    check_marker(out->lat, out->lon, out->id);
    return true;
}

void append_marker(const BuildParams& p, Partition* cur, const HierMarker& m) {
    if (cur->n == cur->cap) {
        const std::size_t grown = cur->cap == 0 ? 65536 : cur->cap * 2;
        auto* bigger = static_cast<HierMarker*>(
            geocluster::pg::context_alloc(p.build_ctx, grown * sizeof(HierMarker)));
        if (bigger == nullptr) raise_status(Status::OutOfMemory, "%zu markers", grown);
        if (cur->n > 0) memcpy(bigger, cur->markers, cur->n * sizeof(HierMarker));
        if (cur->markers != nullptr) pfree(cur->markers);
        cur->markers = bigger;
        cur->cap = grown;
    }
    cur->markers[cur->n++] = m;
}

// One fetched batch of rows into the partitions (a new partition value builds the one before);
// returns the markers read.
std::int64_t read_rows(BuildParams* p, Writer* w, Partition* cur, MemoryContext caller,
                       SPITupleTable* fetched, uint64 got, bool partitioned) {
    TupleDesc desc = fetched->tupdesc;
    check_rows_shape(desc, partitioned);
    std::int64_t read = 0;
    for (uint64 r = 0; r < got; ++r) {
        HeapTuple t = fetched->vals[r];
        if (partitioned) {
            const char* value = SPI_getvalue(t, desc, 1);
            if (value == nullptr) continue;  // rows without a partition value are not clustered
            if (cur->part_text == nullptr || strcmp(value, cur->part_text) != 0)
                start_partition(p, w, cur, caller, value);
        }
        HierMarker m;
        if (!read_marker(t, desc, partitioned ? 1 : 0, &m)) continue;
        append_marker(*p, cur, m);
        ++read;
    }
    return read;
}

}  // namespace

// cluster_hierarchy_build_into(rows_query text, partitioned boolean, radius_px float8,
//                              max_zoom int, nodes regclass, members regclass) -> bigint
// rows_query returns (lat float8, lon float8, id int8), or (part text, lat, lon, id) sorted by
// part when partitioned, positions non-NULL. Internal: cluster_hierarchy_create and _rebuild
// compose the query from quoted identifiers. Returns the number of markers.
GEOCLUSTER_FUNCTION(cluster_hierarchy_build_into) {
    text* query_text = PG_GETARG_TEXT_PP(0);
    const bool partitioned = PG_GETARG_BOOL(1);
    BuildParams p{};
    p.radius_px = PG_GETARG_FLOAT8(2);
    p.max_zoom = PG_GETARG_INT32(3);
    const Oid nodes_rel = PG_GETARG_OID(4);
    const Oid members_rel = PG_GETARG_OID(5);
    check_build_params(p);
    const char* query = text_to_cstring(query_text);

    MemoryContext caller = CurrentMemoryContext;
    p.build_ctx = AllocSetContextCreate(caller, "cluster hierarchy build", ALLOCSET_DEFAULT_SIZES);
    Writer w{open_sink(nodes_rel, kNodeTypes, kNodeCols, partitioned, "nodes"),
             open_sink(members_rel, kMemberTypes, kMemberCols, partitioned, "members")};

    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster hierarchy: SPI_connect failed");
    SPIPlanPtr rows = SPI_prepare(query, 0, nullptr);
    if (rows == nullptr)
        elog(ERROR, "cluster hierarchy: SPI_prepare of the rows query failed: %s",
             SPI_result_code_string(SPI_result));
    Portal cursor = SPI_cursor_open(nullptr, rows, nullptr, nullptr, true);

    Partition cur{nullptr, 0, 0, nullptr, (Datum)0};
    std::int64_t total = 0;
    for (;;) {
        SPI_cursor_fetch(cursor, true, kFetchRows);
        SPITupleTable* fetched = SPI_tuptable;
        const uint64 got = SPI_processed;
        if (got == 0) break;
        total += read_rows(&p, &w, &cur, caller, fetched, got, partitioned);
        SPI_freetuptable(fetched);
        CHECK_FOR_INTERRUPTS();
    }
    build_and_write(&p, &w, cur.markers, cur.n, cur.part, cur.part_text);
    SPI_cursor_close(cursor);
    SPI_finish();
    close_sink(&w.nodes);
    close_sink(&w.members);
    MemoryContextDelete(p.build_ctx);
    PG_RETURN_INT64(total);
}

// ---- cluster_viewport ---------------------------------------------------------------------

namespace {

// What a session keeps per hierarchy: its shape and the two viewport plans.
struct HierCacheEntry {
    Oid handle;  // hash key
    bool valid;
    Oid members;
    int max_zoom;
    bool partitioned;
    // [0]: boxes in one part; [1]: in two (across 180). Parameters: $1 zoom, $2 south, $3 north,
    // $4 west1, $5 east1, $6 west2, $7 east2, $8 part (the unused ones are ignored).
    SPIPlanPtr nodes_plan[2];
    SPIPlanPtr members_plan[2];
};

HTAB* hier_cache = nullptr;

// Any change to a hierarchy's tables (drop, truncate, ALTER) forgets what the session knew of
// it; the plans themselves are released at the next lookup, outside the callback.
void hier_cache_invalidate(Datum, Oid relid) {
    if (hier_cache == nullptr) return;
    HASH_SEQ_STATUS it;
    hash_seq_init(&it, hier_cache);
    while (auto* e = static_cast<HierCacheEntry*>(hash_seq_search(&it)))
        if (relid == InvalidOid || e->handle == relid || e->members == relid) e->valid = false;
}

const char* kNodeSelect =
    "SELECT cluster_id, zoom, count, lat, lon, min_lat, min_lon, max_lat, max_lon, id, "
    "expansion_zoom FROM %s "
    "WHERE zoom OPERATOR(pg_catalog.=) $1 AND lat OPERATOR(pg_catalog.>=) $2 AND lat "
    "OPERATOR(pg_catalog.<=) $3 "
    "AND lon OPERATOR(pg_catalog.>=) $%d AND lon OPERATOR(pg_catalog.<=) $%d%s";
const char* kMemberSelect =
    "SELECT NULL::pg_catalog.int8, $1, 1::pg_catalog.int8, lat, lon, lat, lon, lat, lon, id, "
    "NULL::pg_catalog.int4 "
    "FROM %s WHERE lat OPERATOR(pg_catalog.>=) $2 AND lat OPERATOR(pg_catalog.<=) $3 "
    "AND lon OPERATOR(pg_catalog.>=) $%d AND lon OPERATOR(pg_catalog.<=) $%d%s";

SPIPlanPtr prepare_viewport(const char* select, const char* rel, bool partitioned, bool two_parts) {
    const char* part = partitioned ? " AND part OPERATOR(pg_catalog.=) $8" : "";
    char* one = psprintf(select, rel, 4, 5, part);
    char* sql = two_parts ? psprintf("%s UNION ALL %s ORDER BY 3 DESC, 4 DESC, 5, 10", one,
                                     psprintf(select, rel, 6, 7, part))
                          : psprintf("%s ORDER BY 3 DESC, 4 DESC, 5, 10", one);
    Oid types[8] = {INT4OID,   FLOAT8OID, FLOAT8OID, FLOAT8OID,
                    FLOAT8OID, FLOAT8OID, FLOAT8OID, TEXTOID};
    SPIPlanPtr plan = SPI_prepare(sql, partitioned ? 8 : 7, types);
    if (plan == nullptr)
        elog(ERROR, "cluster_viewport: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0) elog(ERROR, "cluster_viewport: SPI_keepplan failed");
    return plan;
}

// The session's entry for a hierarchy, (re)filled from its metadata when needed. Inside SPI.
const HierCacheEntry* hier_lookup(Oid handle, Oid fn_oid) {
    if (hier_cache == nullptr) {
        HASHCTL ctl{};
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = sizeof(HierCacheEntry);
        ctl.hcxt = CacheMemoryContext;
        hier_cache =
            hash_create("geocluster hierarchies", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
        CacheRegisterRelcacheCallback(hier_cache_invalidate, (Datum)0);
    }
    bool found = false;
    auto* e = static_cast<HierCacheEntry*>(hash_search(hier_cache, &handle, HASH_ENTER, &found));
    if (!found) {
        e->valid = false;
        e->nodes_plan[0] = e->nodes_plan[1] = e->members_plan[0] = e->members_plan[1] = nullptr;
        e->members = InvalidOid;
    }
    if (e->valid) return e;
    for (int i = 0; i < 2; ++i) {
        if (e->nodes_plan[i] != nullptr) SPI_freeplan(e->nodes_plan[i]);
        if (e->members_plan[i] != nullptr) SPI_freeplan(e->members_plan[i]);
        e->nodes_plan[i] = e->members_plan[i] = nullptr;
    }
    // The metadata, through the SQL function that validates the handle (22023 if it is none).
    const char* schema = quote_identifier(get_namespace_name(get_func_namespace(fn_oid)));
    char* sql = psprintf(
        "SELECT members::pg_catalog.oid, max_zoom, partition_column IS NOT NULL "
        "FROM %s.cluster_hierarchy_info(%u::pg_catalog.oid::pg_catalog.regclass)",
        schema, handle);
    if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "cluster_viewport: cluster_hierarchy_info returned no row");
    bool isnull = false;
    const Oid members =
        DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    const int max_zoom =
        DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
    const bool partitioned =
        DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
    // Kept as each is made: an error half-way leaves the entry invalid, and these are freed at
    // the next lookup.
    for (int i = 0; i < 2; ++i) {
        e->nodes_plan[i] =
            prepare_viewport(kNodeSelect, qualified_name(handle), partitioned, i == 1);
        e->members_plan[i] =
            prepare_viewport(kMemberSelect, qualified_name(members), partitioned, i == 1);
    }
    e->members = members;
    e->max_zoom = max_zoom;
    e->partitioned = partitioned;
    e->valid = true;
    return e;
}

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

}  // namespace

// cluster_viewport(hierarchy regclass, south, west, north, east float8, zoom float8 [, partition
// text])
//   -> SETOF cluster_node
GEOCLUSTER_FUNCTION(cluster_viewport) {
    const Oid handle = PG_GETARG_OID(0);
    const double south = PG_GETARG_FLOAT8(1), west = PG_GETARG_FLOAT8(2);
    const double north = PG_GETARG_FLOAT8(3), east = PG_GETARG_FLOAT8(4);
    const double zoom_in = PG_GETARG_FLOAT8(5);
    const bool with_part = PG_NARGS() > 6;
    if (std::isnan(south) || std::isnan(west) || std::isnan(north) || std::isnan(east))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_viewport needs a box without NaN")));
    if (south > north)
        bad_viewport("cluster_viewport needs south <= north", "south = %g, north = %g", south,
                     north);
    if (!(zoom_in >= 0) || std::isinf(zoom_in))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_viewport needs a finite zoom >= 0"),
                        errdetail("zoom = %g", zoom_in)));
    // Longitudes: a box 360 degrees wide or more is the world. Otherwise it runs east from west
    // to east (so west > east crosses 180): each edge is wrapped into the world, and when the
    // wrapped west edge lies east of the wrapped east edge, the box is cut in two at 180.
    double w1 = -180, e1 = 180, w2 = 1, e2 = 0;  // the second part empty unless it crosses
    if (!std::isinf(west) && !std::isinf(east) && east - west < 360.0) {
        const double w = wrap_west(west), e = wrap_east(east);
        w1 = w;
        if (w <= e) {
            e1 = e;
        } else {
            w2 = -180;
            e2 = e;
        }
    }
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    InitMaterializedSRF(fcinfo, 0);
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster_viewport: SPI_connect failed");
    const HierCacheEntry* h = hier_lookup(handle, fcinfo->flinfo->fn_oid);
    if (h->partitioned != with_part)
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg(h->partitioned
                        ? "cluster hierarchy %s is partitioned: pass the partition value"
                        : "cluster hierarchy %s is not partitioned: call without a partition value",
                    qualified_name(handle))));
    const int zoom = zoom_in > 1e6 ? 1000000 : static_cast<int>(std::floor(zoom_in));
    Datum args[8] = {Int32GetDatum(zoom),
                     Float8GetDatum(std::max(south, -90.0)),
                     Float8GetDatum(std::min(north, 90.0)),
                     Float8GetDatum(w1),
                     Float8GetDatum(e1),
                     Float8GetDatum(w2),
                     Float8GetDatum(e2),
                     with_part ? PG_GETARG_DATUM(6) : (Datum)0};
    const int parts = w2 <= e2 ? 1 : 0;
    SPIPlanPtr plan = zoom > h->max_zoom ? h->members_plan[parts] : h->nodes_plan[parts];
    const int rc = SPI_execute_plan(plan, args, nullptr, true, 0);
    if (rc != SPI_OK_SELECT)
        elog(ERROR, "cluster_viewport: SELECT failed: %s", SPI_result_code_string(rc));
    Datum values[11];
    bool nulls[11];
    for (uint64 r = 0; r < SPI_processed; ++r) {
        heap_deform_tuple(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, values, nulls);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    SPI_finish();
    return (Datum)0;
}
