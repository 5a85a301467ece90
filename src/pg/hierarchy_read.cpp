// The readers of a stored cluster hierarchy (src/core/hierarchy_read.hpp says what each reads):
// cluster_viewport, cluster_children, cluster_expansion_zoom, cluster_hierarchy_leaves (behind
// cluster_leaves), and the whole-hierarchy listings cluster_hierarchy_nodes and _members
// (hierarchy_list.cpp). Block rows are fetched by an index scan of the primary key of their own
// (what a query through SPI would plan, without its executor start-up and tuple copies: most of a
// small viewport's time). The session keeps each hierarchy's tables and indexes, and forgets them
// when the relcache says one of them changed (drop, truncate, ALTER, an index dropped or made).
#include "hierarchy_read_glue.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
}

#include <algorithm>
#include <cmath>

namespace geocluster::pg {

namespace {

HTAB* hier_cache = nullptr;

bool names(const HierBlockTable& t, Oid relid) { return t.rel == relid || t.index == relid; }

// Any change to a hierarchy's tables or their indexes (drop, truncate, ALTER, REINDEX) forgets
// what the session knew of it; it is looked up again at the next call.
void hier_cache_invalidate(Datum, Oid relid) {
    if (hier_cache == nullptr) return;
    HASH_SEQ_STATUS it;
    hash_seq_init(&it, hier_cache);
    while (auto* e = static_cast<HierCacheEntry*>(hash_seq_search(&it)))
        if (relid == InvalidOid || e->handle == relid || names(e->nodes_table, relid) ||
            names(e->members_table, relid))
            e->valid = false;
}

// A block table's primary key and columns: (band, block[, part]) for nodes, (block[, part]) for
// members, data and delta; anything else (a table altered by hand) is an error, not a wrong read.
HierBlockTable describe_table(Oid rel, bool members, bool partitioned) {
    const char* key_names[3] = {"band", "block", "part"};
    const char** key = members ? key_names + 1 : key_names;
    const int n_keys = (members ? 1 : 2) + (partitioned ? 1 : 0);
    Relation heap = table_open(rel, AccessShareLock);
    const Oid index = RelationGetPrimaryKeyIndex(heap);
    bool ok = index != InvalidOid;
    if (ok) {
        Relation idx = index_open(index, AccessShareLock);
        ok = idx->rd_index->indnkeyatts == n_keys;
        for (int i = 0; ok && i < n_keys; ++i)
            ok = idx->rd_index->indkey.values[i] == get_attnum(rel, key[i]);
        index_close(idx, AccessShareLock);
    }
    const AttrNumber block = get_attnum(rel, "block"), data = get_attnum(rel, "data");
    const AttrNumber delta = get_attnum(rel, "delta");
    table_close(heap, AccessShareLock);
    if (!ok || block == InvalidAttrNumber || data == InvalidAttrNumber ||
        delta == InvalidAttrNumber)
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
                        errmsg("cluster hierarchy table %s is damaged: not the primary key and "
                               "columns it was made with",
                               get_rel_name(rel))));
    return HierBlockTable{rel, index, block, data, delta, partitioned ? n_keys : 0};
}

}  // namespace

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
    if (!found) e->valid = false;
    if (e->valid) return e;
    // The metadata, through the SQL function that validates the handle (22023 if it is none).
    const char* schema = quote_identifier(get_namespace_name(get_func_namespace(fn_oid)));
    char* sql = psprintf(
        "SELECT members::pg_catalog.oid, max_zoom, partition_column IS NOT NULL "
        "FROM %s.cluster_hierarchy_info(%u::pg_catalog.oid::pg_catalog.regclass)",
        schema, handle);
    if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "cluster hierarchy: cluster_hierarchy_info returned no row");
    bool isnull = false;
    HeapTuple row = SPI_tuptable->vals[0];
    const Oid members = DatumGetObjectId(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    const int max_zoom = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    const bool partitioned = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
    if (members == InvalidOid || max_zoom < 0 || max_zoom > kHierMaxZoom)
        elog(ERROR, "cluster hierarchy: the metadata of %u is damaged", handle);
    // Valid only once everything is known: an error half-way leaves the entry to be looked up
    // again. (An invalidation while describing arrives before valid is set, and is harmless.)
    e->nodes_table = describe_table(handle, false, partitioned);
    e->members_table = describe_table(members, true, partitioned);
    e->members = members;
    e->max_zoom = max_zoom;
    e->bands = hier_bands(max_zoom);
    e->partitioned = partitioned;
    e->valid = true;
    return e;
}

namespace {

// The scan keys of one range of blocks: band (nodes), block >= lo, block <= hi, part (one
// partition); returns how many.
int range_keys(const HierBlockTable& t, Relation index, bool members, int band,
               const HierBlockRange& range, const Datum* part, ScanKeyData* keys) {
    int k = 0;
    const AttrNumber block_key = members ? 1 : 2;
    if (!members) ScanKeyInit(&keys[k++], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(band));
    ScanKeyInit(&keys[k++], block_key, BTGreaterEqualStrategyNumber, F_INT8GE,
                Int64GetDatum(static_cast<std::int64_t>(range.lo)));
    ScanKeyInit(&keys[k++], block_key, BTLessEqualStrategyNumber, F_INT8LE,
                Int64GetDatum(static_cast<std::int64_t>(range.hi)));
    if (part != nullptr && t.part_key > 0)
        ScanKeyEntryInitialize(&keys[k++], 0, static_cast<AttrNumber>(t.part_key),
                               BTEqualStrategyNumber, InvalidOid,
                               index->rd_indcollation[t.part_key - 1], F_TEXTEQ, *part);
    return k;
}

}  // namespace

// Bytes [offset, offset + length) of an out-of-line value, straight into dst + offset (no copy
// of its own): the table AM writes a slice at VARDATA of the varlena it is given, so it gets the
// one whose data starts there. The VARHDRSZ bytes before (dst has that many before its start) are
// put back in case it writes a header.
void fetch_toast_slice(Relation toast, const varatt_external& ext, std::size_t offset,
                       std::size_t length, unsigned char* dst) {
    unsigned char before[VARHDRSZ];
    unsigned char* at = dst + offset - VARHDRSZ;
    memcpy(before, at, VARHDRSZ);
    table_relation_fetch_toast_slice(toast, ext.va_valueid, VARATT_EXTERNAL_GET_EXTSIZE(ext),
                                     static_cast<int32>(offset), static_cast<int32>(length),
                                     reinterpret_cast<struct varlena*>(at));
    memcpy(at, before, VARHDRSZ);
}

namespace {

// The ranges to fetch, merged when they touch or nearly do (one TOAST read instead of two).
struct SliceRuns {
    std::size_t* lo;
    std::size_t* hi;
    std::size_t n, cap;
};
void add_run(void* c, std::size_t offset, std::size_t length) {
    constexpr std::size_t kMergeGapBytes = 8192;  // four TOAST chunks: cheaper than a new scan
    auto* r = static_cast<SliceRuns*>(c);
    if (r->n > 0 && offset <= r->hi[r->n - 1] + kMergeGapBytes) {
        r->hi[r->n - 1] = offset + length;
        return;
    }
    if (r->n == r->cap) {
        r->cap = r->cap == 0 ? 16 : 2 * r->cap;
        r->lo = static_cast<std::size_t*>(r->lo == nullptr
                                              ? palloc(r->cap * sizeof(std::size_t))
                                              : repalloc(r->lo, r->cap * sizeof(std::size_t)));
        r->hi = static_cast<std::size_t*>(r->hi == nullptr
                                              ? palloc(r->cap * sizeof(std::size_t))
                                              : repalloc(r->hi, r->cap * sizeof(std::size_t)));
    }
    r->lo[r->n] = offset;
    r->hi[r->n++] = offset + length;
}

// An out-of-line block read in slices (BoxSlices): its header and top index and the groups of
// chunks the box keeps, in a buffer of its size (the other bytes unset); false when it is not
// stored so (then it is read whole). The TOAST table is opened once for all the block's slices.
// *alloc is what to pfree: the block starts VARHDRSZ bytes into it (fetch_toast_slice).
bool sliced_block(Datum raw, const BoxSlices& s, unsigned char** alloc, unsigned char** block,
                  std::size_t* len) {
    auto* attr = reinterpret_cast<struct varlena*>(DatumGetPointer(raw));
    if (!VARATT_IS_EXTERNAL_ONDISK(attr)) return false;
    struct varatt_external ext;
    VARATT_EXTERNAL_GET_POINTER(ext, attr);
    // (a block of a few TOAST chunks is cheaper read whole, in one scan, than in slices)
    constexpr int32 kSliceFromBytes = 16384;
    if (VARATT_EXTERNAL_IS_COMPRESSED(ext) || VARATT_EXTERNAL_GET_EXTSIZE(ext) <= kSliceFromBytes)
        return false;
    *len = static_cast<std::size_t>(VARATT_EXTERNAL_GET_EXTSIZE(ext));
    *alloc = static_cast<unsigned char*>(palloc(*len + VARHDRSZ));
    unsigned char* buf = *alloc + VARHDRSZ;
    *block = buf;
    Relation toast = table_open(ext.va_toastrelid, AccessShareLock);
    std::size_t have = std::min<std::size_t>(*len, 8192), header = 0;
    fetch_toast_slice(toast, ext, 0, have, buf);
    check(hier_node_block_header_bytes(buf, have, s.box, s.any_zoom, &header));
    if (header > have && header <= *len) {  // a long index: the rest of it
        fetch_toast_slice(toast, ext, have, header - have, buf);
        have = header;
    }
    HierNodeBlockReader rd;
    check(hier_node_block_open(buf, *len, &rd));
    SliceRuns runs{nullptr, nullptr, 0, 0};
    check(hier_node_block_kept_chunks(rd, buf, s.box, s.any_zoom, add_run, &runs));
    for (std::size_t i = 0; i < runs.n; ++i) {
        const std::size_t lo = std::max(runs.lo[i], have);  // (the first slice has some)
        if (runs.hi[i] > lo) fetch_toast_slice(toast, ext, lo, runs.hi[i] - lo, buf);
    }
    table_close(toast, AccessShareLock);
    if (runs.lo != nullptr) {
        pfree(runs.lo);
        pfree(runs.hi);
    }
    return true;
}

}  // namespace

void fetch_blocks(const HierCacheEntry* h, bool members, int band, const HierBlockRange* ranges,
                  std::size_t n_ranges, const Datum* part, BlockVisit visit, void* ctx,
                  const BoxSlices* slices) {
    const HierBlockTable& t = members ? h->members_table : h->nodes_table;
    Relation heap = table_open(t.rel, AccessShareLock);
    Relation index = index_open(t.index, AccessShareLock);
    TupleTableSlot* slot = table_slot_create(heap, nullptr);
    for (std::size_t r = 0; r < n_ranges; ++r) {
        ScanKeyData keys[4];
        const int n_keys = range_keys(t, index, members, band, ranges[r], part, keys);
        IndexScanDesc scan = index_beginscan(heap, index, GetActiveSnapshot(), n_keys, 0);
        index_rescan(scan, keys, n_keys, nullptr, 0);
        while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
            bool null_block = false, null_data = false;
            const Datum block = slot_getattr(slot, t.block_att, &null_block);
            const Datum raw = slot_getattr(slot, t.data_att, &null_data);
            if (null_block || null_data)
                raise_status(Status::HierarchyBlockCorrupt, "a NULL block");
            BlockRow row{static_cast<std::uint64_t>(DatumGetInt64(block)), nullptr, 0, nullptr, 0};
            bool null_delta = true;
            const Datum raw_delta = t.delta_att == InvalidAttrNumber
                                        ? (Datum)0
                                        : slot_getattr(slot, t.delta_att, &null_delta);
            bytea* delta = null_delta ? nullptr : DatumGetByteaPP(raw_delta);
            if (delta != nullptr) {
                row.delta = reinterpret_cast<const unsigned char*>(VARDATA_ANY(delta));
                row.delta_len = VARSIZE_ANY_EXHDR(delta);
            }
            unsigned char* alloc = nullptr;
            bytea* data = nullptr;
            if (slices == nullptr ||
                !sliced_block(raw, *slices, &alloc, const_cast<unsigned char**>(&row.data),
                              &row.len)) {
                data = DatumGetByteaPP(raw);
                row.data = reinterpret_cast<const unsigned char*>(VARDATA_ANY(data));
                row.len = VARSIZE_ANY_EXHDR(data);
            }
            visit(ctx, row);
            if (alloc != nullptr) pfree(alloc);
            if (data != nullptr && reinterpret_cast<Pointer>(data) != DatumGetPointer(raw))
                pfree(data);
            if (delta != nullptr && reinterpret_cast<Pointer>(delta) != DatumGetPointer(raw_delta))
                pfree(delta);
        }
        index_endscan(scan);
        CHECK_FOR_INTERRUPTS();
    }
    ExecDropSingleTupleTableSlot(slot);
    index_close(index, AccessShareLock);
    table_close(heap, AccessShareLock);
}

void fetch_box(const HierCacheEntry* h, bool members, int band, const HierBlockBox& box, int ring,
               const Datum* part, BlockVisit visit, void* ctx, const BoxSlices* slices) {
    const HierBand& b = h->bands.band[band];
    auto* ranges =
        static_cast<HierBlockRange*>(palloc(sizeof(HierBlockRange) * hier_block_ranges_cap(b)));
    const std::size_t n = hier_block_ranges(b, box, ring, ranges);
    fetch_blocks(h, members, band, ranges, n, part, visit, ctx, slices);
    pfree(ranges);
}

void node_list_push(NodeList* l, const HierNode& n) {
    if (l->n == l->cap) {
        const std::size_t cap = l->cap == 0 ? 64 : 2 * l->cap;
        l->v = static_cast<HierNode*>(
            l->v == nullptr ? MemoryContextAllocHuge(CurrentMemoryContext, cap * sizeof(HierNode))
                            : repalloc_huge(l->v, cap * sizeof(HierNode)));
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

namespace {

struct FindCtx {
    std::uint32_t slot;
    HierBlockNode* rec;
    bool found;
};
void find_visit(void* c, const BlockRow& row) {
    auto* f = static_cast<FindCtx*>(c);
    if (f->found) return;
    check(hier_block_find(row.data, row.len, row.delta, row.delta_len, f->slot, f->rec, &f->found));
}

}  // namespace

bool find_record(const HierCacheEntry* h, std::int64_t id, HierIdParts* parts, HierBlockNode* rec) {
    if (!hier_id_parts(h->bands, id, parts)) return false;
    FindCtx f{parts->slot, rec, false};
    const HierBlockRange one{parts->block, parts->block};
    fetch_blocks(h, false, parts->band, &one, 1, nullptr, find_visit, &f);
    return f.found && rec->zoom_min <= parts->zoom && parts->zoom <= rec->zoom_max;
}

void sort_nodes(NodeList* l) {
    if (l->n < 2) return;
    auto* tmp = static_cast<HierNode*>(
        MemoryContextAllocHuge(CurrentMemoryContext, l->n * sizeof(HierNode)));
    cluster_internal::Poller poll(CancelCheck{interrupt_requested, nullptr});
    HierNode* sorted = cluster_internal::polled_sort(l->v, tmp, l->n, hier_node_before, poll);
    if (sorted == nullptr) {
        CHECK_FOR_INTERRUPTS();
        elog(ERROR, "cluster hierarchy: a sort stopped without a pending interrupt");
    }
    if (sorted != l->v) memcpy(l->v, sorted, l->n * sizeof(HierNode));
    pfree(tmp);
}

void put_node(ReturnSetInfo* rsinfo, const HierNode& n) {
    Datum v[11];
    bool null[11] = {};
    v[0] = Int64GetDatum(n.cluster_id);
    null[0] = n.cluster_id < 0;
    v[1] = Int32GetDatum(n.zoom);
    v[2] = Int64GetDatum(static_cast<std::int64_t>(n.count));
    v[3] = Float8GetDatum(n.lat);
    v[4] = Float8GetDatum(n.lon);
    v[5] = Float8GetDatum(n.min_lat);
    v[6] = Float8GetDatum(n.min_lon);
    v[7] = Float8GetDatum(n.max_lat);
    v[8] = Float8GetDatum(n.max_lon);
    v[9] = Int64GetDatum(n.id);
    v[10] = Int32GetDatum(n.expansion_zoom);
    null[10] = n.expansion_zoom < 0;
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, null);
}

}  // namespace geocluster::pg
