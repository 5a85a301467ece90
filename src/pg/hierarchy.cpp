// The stored cluster hierarchy (src/core/hierarchy.hpp), SQL in
// src/sql/geocluster/60_hierarchy.sql:
//
//  - cluster_hierarchy_build_into: reads the markers through SPI (the rows query's slots handed
//    to a receiver of its own, one partition value after another), builds each partition's
//    hierarchy and packs it into blocks
//    with hier_stream_* (src/core/hierarchy_stream.hpp: hierarchy_build and hier_pack's blocks,
//    made one at a time) and writes one row per block into the hierarchy's tables as COPY does
//    (Sink, below), each block before the next is made.
// The readers (cluster_viewport, cluster_children...) are in hierarchy_read.cpp.
//
// Memory: the marker array and the stream's state come from a memory context of the call
// through the core Allocator (MemoryContextAllocExtended HUGE | NO_OOM), so an error or a cancel
// frees them wholesale; nothing here has a destructor.
#include "hierarchy.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_stream.hpp"
#include "quadkey.hpp"
#include "region_alloc.hpp"

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
#include "tcop/dest.h"
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

// A sink's batch: table_multi_insert gets up to kBatchRows rows, or fewer once their blocks add up
// to kBatchBytes. Blocks average 13 KB (nodes) and 6.5 KB (members) at 10M markers: batches of
// 8192 rows held about 100 + 50 MB of encoded blocks and as much again in the slots' heap tuples,
// on top of the packing's own peak. A batch saves work by filling heap pages together, and a page
// holds one block kept in line or about a hundred TOAST pointers: 1 MB batches measured no slower.
constexpr int kBatchRows = 1000;
constexpr std::size_t kBatchBytes = 1 << 20;

// Where a build's rows go: the hierarchy's nodes or members table, written like COPY writes
// (table_multi_insert in batches, WAL-logged, through a bulk-insert buffer strategy), which
// measured several times faster on a million markers than INSERT ... SELECT FROM unnest(arrays)
// through SPI. The tables are created without indexes and indexed after the fill (rebuild drops
// and recreates them), so there is no index to maintain; a table that has one, a trigger or row
// security is refused rather than written behind their back.
struct Sink {
    Relation rel;
    TupleTableSlot** slots;
    int n;              // slots filled
    std::size_t bytes;  // the filled slots' block bytes
    int natts;          // columns, then the partition value when partitioned, then the delta
    bool partitioned;   // (the delta column, last, is NULL in a build)
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
    k.natts = ncols + (partitioned ? 1 : 0) + 1;
    bool shape = k.rel->rd_rel->relkind == RELKIND_RELATION && desc->natts == k.natts;
    for (int i = 0; shape && i < k.natts; ++i) {
        const Form_pg_attribute att = TupleDescAttr(desc, i);
        const Oid want = i < ncols ? types[i] : i == k.natts - 1 ? BYTEAOID : TEXTOID;
        shape = !att->attisdropped && att->atttypid == want;
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
    // (in the batch's context: heap_multi_insert leaves the TOAST-ed copies of the tuples it
    // writes, and its array of them, in the current one)
    MemoryContext old = MemoryContextSwitchTo(k->batch);
    table_multi_insert(k->rel, k->slots, k->n, k->cid, 0, k->bistate);
    MemoryContextSwitchTo(old);
    for (int i = 0; i < k->n; ++i) ExecClearTuple(k->slots[i]);
    k->n = 0;
    k->bytes = 0;
    MemoryContextReset(k->batch);
    CHECK_FOR_INTERRUPTS();
}

// The next row's slot, cleared; its values are filled by the caller, then stored.
TupleTableSlot* next_slot(Sink* k) {
    if (k->n == kBatchRows || k->bytes >= kBatchBytes) flush_sink(k);
    TupleTableSlot* slot = k->slots[k->n++];
    ExecClearTuple(slot);
    memset(slot->tts_isnull, 0, sizeof(bool) * k->natts);
    slot->tts_isnull[k->natts - 1] = true;
    return slot;
}

void store_slot(Sink* k, TupleTableSlot* slot, Datum part) {
    if (k->partitioned) slot->tts_values[k->natts - 2] = part;
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

// The block tables: (band int, block bigint, data bytea) and (block bigint, data bytea), the
// partition value last when partitioned.
constexpr int kNodeCols = 3;
const Oid kNodeTypes[kNodeCols] = {INT4OID, INT8OID, BYTEAOID};
constexpr int kMemberCols = 2;
const Oid kMemberTypes[kMemberCols] = {INT8OID, BYTEAOID};

// One block's records (hier_stream_next's: their single centres are hier_single_centre's, not
// checked again) encoded as a bytea, in the sink's batch context.
Datum block_datum(Sink* k, const HierBlockNode* recs, std::size_t n, int zoom_lo, int zoom_hi) {
    MemoryContext old = MemoryContextSwitchTo(k->batch);
    const std::size_t bound = hier_node_block_bound(n);
    if (bound > MaxAllocSize - VARHDRSZ)
        raise_status(Status::HierarchyBlockFull, "%zu nodes in one block", n);
    bytea* v = static_cast<bytea*>(palloc(VARHDRSZ + bound));
    std::size_t len = 0;
    geocluster::pg::check(hier_node_block_encode_made(
        recs, n, zoom_lo, zoom_hi, reinterpret_cast<unsigned char*>(VARDATA(v)), &len));
    SET_VARSIZE(v, VARHDRSZ + len);
    MemoryContextSwitchTo(old);
    k->bytes += VARHDRSZ + len;
    return PointerGetDatum(v);
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
    HierSlotCounters slots;   // the next slot of each block, across partitions (in the caller's
    MemoryContext caller;     // context)
    MemoryContext build_ctx;  // markers and the build's result; reset after each partition
};

// The build's large arrays as mappings of their own (src/core/region_alloc.hpp), its small
// ones in ctx: through palloc, glibc's heap kept 190 MiB of a 10M create's released arrays in
// the backend. ctx's reset or deletion (the next partition, the end, an error) unmaps them: the
// callback is registered before the first one is mapped. They are not in ctx's accounting
// (pg_backend_memory_contexts shows the small ones only).
Allocator build_regions(MemoryContext ctx, const Allocator& small) {
    RegionAllocator* regions = nullptr;
    if (region_allocator_create(small, kRegionMinBytes, &regions) != Status::Ok)
        raise_status(Status::OutOfMemory, "the build's memory");
    auto* cb =
        static_cast<MemoryContextCallback*>(MemoryContextAlloc(ctx, sizeof(MemoryContextCallback)));
    cb->func = [](void* arg) { region_allocator_unmap_all(static_cast<RegionAllocator*>(arg)); };
    cb->arg = regions;
    MemoryContextRegisterResetCallback(ctx, cb);
    return region_allocator(regions);
}

// Builds one partition's markers and writes its blocks as they are made (hier_stream_*: the
// nodes of the whole build are never held at once).
void build_and_write(BuildParams* p, Writer* w, HierMarker* markers, std::size_t n, Datum part,
                     const char* part_text) {
    if (n == 0) return;
    // No geocluster.max_state_memory budget (0): that setting bounds what any query can make a
    // cluster_agg state grow to; a build is its table owner's maintenance step over the whole
    // table.
    const Allocator alloc{geocluster::pg::context_alloc, geocluster::pg::context_free, p->build_ctx,
                          0};
    const Allocator caller_alloc{geocluster::pg::context_alloc, geocluster::pg::context_free,
                                 p->caller, 0};
    HierStream* stream = nullptr;
    Status s =
        hier_stream_start(markers, n, p->radius_px, p->max_zoom, p->next_ordinal, &p->slots,
                          build_regions(p->build_ctx, alloc), caller_alloc,
                          CancelCheck{geocluster::pg::interrupt_requested, nullptr}, &stream);
    HierStreamBlock blk;
    while (s == Status::Ok && hier_stream_next(stream, &blk, &s)) {
        Sink* sink = blk.member ? &w->members : &w->nodes;
        TupleTableSlot* slot = next_slot(sink);
        int col = 0;
        if (!blk.member) slot->tts_values[col++] = Int32GetDatum(blk.band);
        slot->tts_values[col++] = Int64GetDatum(static_cast<std::int64_t>(blk.block));
        slot->tts_values[col] = block_datum(sink, blk.records, blk.n, blk.zoom_lo, blk.zoom_hi);
        store_slot(sink, slot, part);
    }
    if (s != Status::Ok) {
        if (part_text != nullptr) raise_status(s, "partition value %s", part_text);
        raise_status(s);
    }
    hier_stream_free(stream);
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

// One row's marker (its values and nulls from column off on), checked; false for a row without
// a position (it is not clustered).
bool read_marker(const Datum* values, const bool* isnull, int off, HierMarker* out) {
    if (isnull[off] || isnull[off + 1]) return false;
    const Datum lat = values[off], lon = values[off + 1], id = values[off + 2];
    if (isnull[off + 2])
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

// The array doubles by repalloc_huge (which raises its own out-of-memory error): a chunk that
// large is a block of its own, grown by realloc, which glibc does by remapping an mmap'd one's
// pages (mremap). A copy into a new array at each doubling cost about 0.2 s of the reading's CPU
// at 10M markers (the markers copied into fresh pages) and held both arrays at once.
void append_marker(const BuildParams& p, Partition* cur, const HierMarker& m) {
    if (cur->n == cur->cap) {
        const std::size_t grown = cur->cap == 0 ? 65536 : cur->cap * 2;
        void* bigger = cur->markers == nullptr
                           ? geocluster::pg::context_alloc(p.build_ctx, grown * sizeof(HierMarker))
                           : repalloc_huge(cur->markers, grown * sizeof(HierMarker));
        if (bigger == nullptr) raise_status(Status::OutOfMemory, "%zu markers", grown);
        cur->markers = static_cast<HierMarker*>(bigger);
        cur->cap = grown;
    }
    cur->markers[cur->n++] = m;
}

// The rows query's receiver: each row as the executor makes it (its slot's values, not a copy
// in an SPI tuple table, nor the partition value through its output function) into the
// partitions; a new partition value builds the one before. The query still runs through SPI's
// executor as the caller: privileges, row security and the source's partitions or child tables
// apply as to any query.
struct RowsReceiver {
    DestReceiver pub;  // first: the executor sees a DestReceiver
    BuildParams* p;
    Writer* w;
    Partition* cur;
    MemoryContext caller;
    MemoryContext row;  // a partition value's detoasted copy, if any; reset per row
    bool partitioned;
    std::int64_t read;  // markers read
};

// Whether text value v is the current partition's value (part_text, NUL-terminated).
bool same_partition(const Partition& cur, const text* v) {
    const std::size_t len = VARSIZE_ANY_EXHDR(v);
    return cur.part_text != nullptr && strlen(cur.part_text) == len &&
           memcmp(cur.part_text, VARDATA_ANY(v), len) == 0;
}

bool rows_receive(TupleTableSlot* slot, DestReceiver* self) {
    RowsReceiver* r = reinterpret_cast<RowsReceiver*>(self);
    slot_getallattrs(slot);
    const Datum* values = slot->tts_values;
    const bool* isnull = slot->tts_isnull;
    if (r->partitioned) {
        if (isnull[0]) return true;  // rows without a partition value are not clustered
        MemoryContext old = MemoryContextSwitchTo(r->row);
        const text* v = DatumGetTextPP(values[0]);
        const char* value = same_partition(*r->cur, v) ? nullptr : text_to_cstring(v);
        MemoryContextSwitchTo(old);
        if (value != nullptr) start_partition(r->p, r->w, r->cur, r->caller, value);
        MemoryContextReset(r->row);
    }
    HierMarker m;
    if (!read_marker(values, isnull, r->partitioned ? 1 : 0, &m)) return true;
    append_marker(*r->p, r->cur, m);
    ++r->read;
    return true;
}

void rows_startup(DestReceiver* self, int, TupleDesc desc) {
    check_rows_shape(desc, reinterpret_cast<RowsReceiver*>(self)->partitioned);
}

void rows_shutdown(DestReceiver*) {}
void rows_destroy(DestReceiver*) {}

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
    p.caller = caller;
    p.build_ctx = AllocSetContextCreate(caller, "cluster hierarchy build", ALLOCSET_DEFAULT_SIZES);
    Writer w{open_sink(nodes_rel, kNodeTypes, kNodeCols, partitioned, "nodes"),
             open_sink(members_rel, kMemberTypes, kMemberCols, partitioned, "members")};

    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster hierarchy: SPI_connect failed");
    // Prepared without CURSOR_OPT_PARALLEL_OK, as the cursor that read it before was: one
    // backend reads the rows.
    SPIPlanPtr rows = SPI_prepare(query, 0, nullptr);
    if (rows == nullptr)
        elog(ERROR, "cluster hierarchy: SPI_prepare of the rows query failed: %s",
             SPI_result_code_string(SPI_result));
    if (!SPI_is_cursor_plan(rows))  // (as SPI_cursor_open refused it before)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("the rows query must be one SELECT")));

    Partition cur{nullptr, 0, 0, nullptr, (Datum)0};
    RowsReceiver receiver{};
    receiver.pub.receiveSlot = rows_receive;
    receiver.pub.rStartup = rows_startup;
    receiver.pub.rShutdown = rows_shutdown;
    receiver.pub.rDestroy = rows_destroy;
    receiver.pub.mydest = DestNone;
    receiver.p = &p;
    receiver.w = &w;
    receiver.cur = &cur;
    receiver.caller = caller;
    // (in SPI's procedure context: gone at SPI_finish or an error)
    receiver.row =
        AllocSetContextCreate(CurrentMemoryContext, "cluster hierarchy row", ALLOCSET_SMALL_SIZES);
    receiver.partitioned = partitioned;
    SPIExecuteOptions options{};
    options.read_only = true;
    options.dest = &receiver.pub;
    // (SPI answers SPI_OK_UTILITY for a SELECT whose rows go to a DestNone receiver)
    const int ret = SPI_execute_plan_extended(rows, &options);
    if (ret != SPI_OK_UTILITY)
        elog(ERROR, "cluster hierarchy: the rows query failed: %s", SPI_result_code_string(ret));
    const std::int64_t total = receiver.read;
    build_and_write(&p, &w, cur.markers, cur.n, cur.part, cur.part_text);
    SPI_finish();
    close_sink(&w.nodes);
    close_sink(&w.members);
    MemoryContextDelete(p.build_ctx);
    PG_RETURN_INT64(total);
}
