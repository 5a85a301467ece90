// The block tables of a cluster hierarchy as its write trigger reads and writes them
// (hierarchy_write_glue.hpp): the metadata row, lookups by primary key, the HierStoreOps
// callbacks and the write-back of changed blocks and slot counters, through the table and index
// AMs (as CatalogTupleInsert/Update/Delete do for the catalogs).
#include "hierarchy_write_glue.hpp"

#include "hierarchy_read_glue.hpp"

#include "hierarchy_read.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "storage/lmgr.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
}

#include <algorithm>

namespace geocluster::pg {

namespace {

// A name column of the metadata row (nullptr when NULL), copied.
const char* meta_name(TupleTableSlot* slot, Oid meta, const char* column) {
    bool isnull = true;
    const AttrNumber att = get_attnum(meta, column);
    const Datum d = att == InvalidAttrNumber ? (Datum)0 : slot_getattr(slot, att, &isnull);
    return isnull ? nullptr : pstrdup(NameStr(*DatumGetName(d)));
}

[[noreturn]] void not_a_hierarchy(Oid nodes) {
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s is not a cluster hierarchy", get_rel_name(nodes)),
                    errdetail("The argument of a cluster hierarchy write trigger names the "
                              "hierarchy's nodes table, with its _meta table beside it.")));
}

Oid sibling(Oid nsp, const char* name, const char* suffix) {
    return get_relname_relid(psprintf("%s%s", name, suffix), nsp);
}

// The metadata tables whose layout cluster_hierarchy_meta_ok accepted in this session (a query
// per statement otherwise: a few percent of a single-row insert), each forgotten on any relcache
// invalidation of it (its kind, row security and columns are in the relcache).
constexpr int kMetaOkCache = 16;
Oid meta_ok_cache[kMetaOkCache];
int meta_ok_n = 0;

void forget_meta_ok(Datum, Oid relid) {
    int kept = 0;
    for (int i = 0; i < meta_ok_n; ++i)
        if (relid != InvalidOid && meta_ok_cache[i] != relid)
            meta_ok_cache[kept++] = meta_ok_cache[i];
    meta_ok_n = kept;
}

bool meta_ok_known(Oid meta_rel) {
    static bool registered = false;
    if (!registered) {
        CacheRegisterRelcacheCallback(forget_meta_ok, (Datum)0);
        registered = true;
    }
    for (int i = 0; i < meta_ok_n; ++i)
        if (meta_ok_cache[i] == meta_rel) return true;
    return false;
}

void remember_meta_ok(Oid meta_rel) {
    if (meta_ok_n == kMetaOkCache) meta_ok_n = 0;  // (a session writing many hierarchies)
    meta_ok_cache[meta_ok_n++] = meta_rel;
}

}  // namespace

void write_meta(Oid nodes, Oid fn_oid, WriteMeta* meta) {
    const Oid nsp = get_rel_namespace(nodes);
    const char* rel = get_rel_name(nodes);
    const Oid meta_rel = OidIsValid(nsp) ? sibling(nsp, rel, "_meta") : InvalidOid;
    if (!OidIsValid(meta_rel)) not_a_hierarchy(nodes);
    // The layout check of cluster_hierarchy_info (it reads only the catalogs).
    const char* schema = quote_identifier(get_namespace_name(get_func_namespace(fn_oid)));
    char* sql =
        psprintf("SELECT %s.cluster_hierarchy_meta_ok(%u::pg_catalog.oid::pg_catalog.regclass)",
                 schema, meta_rel);
    bool isnull = true;
    // (locked first: its pending invalidations are taken in, and its layout cannot change until
    // the transaction ends)
    LockRelationOid(meta_rel, AccessShareLock);
    if (!meta_ok_known(meta_rel)) {
        if (SPI_execute(sql, true, 1) != SPI_OK_SELECT || SPI_processed != 1 ||
            !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
            not_a_hierarchy(nodes);
        remember_meta_ok(meta_rel);
    }
    Relation heap = table_open(meta_rel, AccessShareLock);
    TableScanDesc scan = table_beginscan(heap, GetActiveSnapshot(), 0, nullptr);
    TupleTableSlot* slot = table_slot_create(heap, nullptr);
    if (!table_scan_getnextslot(scan, ForwardScanDirection, slot)) not_a_hierarchy(nodes);
    const char* hierarchy_table = meta_name(slot, meta_rel, "hierarchy_table");
    const char* members_table = meta_name(slot, meta_rel, "members_table");
    meta->lat_column = meta_name(slot, meta_rel, "lat_column");
    meta->lon_column = meta_name(slot, meta_rel, "lon_column");
    meta->geometry_column = meta_name(slot, meta_rel, "geometry_column");
    meta->id_column = meta_name(slot, meta_rel, "id_column");
    meta->partition_column = meta_name(slot, meta_rel, "partition_column");
    const char* source_schema = meta_name(slot, meta_rel, "source_schema");
    const char* source_table = meta_name(slot, meta_rel, "source_table");
    const Oid source_nsp =
        source_schema == nullptr ? InvalidOid : get_namespace_oid(source_schema, true);
    meta->source = OidIsValid(source_nsp) && source_table != nullptr
                       ? get_relname_relid(source_table, source_nsp)
                       : InvalidOid;
    bool null_radius = true, null_zoom = true;
    meta->radius_px =
        DatumGetFloat8(slot_getattr(slot, get_attnum(meta_rel, "radius_px"), &null_radius));
    meta->max_zoom =
        DatumGetInt32(slot_getattr(slot, get_attnum(meta_rel, "max_zoom"), &null_zoom));
    ExecDropSingleTupleTableSlot(slot);
    table_endscan(scan);
    table_close(heap, AccessShareLock);
    if (hierarchy_table == nullptr || strcmp(hierarchy_table, rel) != 0 ||
        members_table == nullptr || meta->id_column == nullptr || null_radius || null_zoom)
        not_a_hierarchy(nodes);
    meta->nodes = nodes;
    meta->members = get_relname_relid(members_table, nsp);
    meta->slots = sibling(nsp, rel, "_slots");
    meta->nodes_name = quote_qualified_identifier(get_namespace_name(nsp), rel);
    if (!OidIsValid(meta->members) || !OidIsValid(meta->slots))
        ereport(ERROR,
                (errcode(ERRCODE_DATA_CORRUPTED),
                 errmsg("cluster hierarchy %s is damaged: its members or slots table is missing",
                        meta->nodes_name)));
}

namespace {

// Opens a block table; its only index must be the primary key the create made, on key (its
// columns in order), so that a write maintains every index there is; with delta, it must have
// its delta column.
WriteTable open_one(Oid rel, const char* const* key, int n_keys, const char* value_column,
                    bool delta) {
    WriteTable t{};
    t.heap = table_open(rel, RowExclusiveLock);
    List* indexes = RelationGetIndexList(t.heap);
    const Oid pk = RelationGetPrimaryKeyIndex(t.heap);
    bool ok = OidIsValid(pk) && list_length(indexes) == 1;
    if (ok) {
        t.index = index_open(pk, RowExclusiveLock);
        ok = t.index->rd_index->indnatts == n_keys;
        for (int i = 0; ok && i < n_keys; ++i)
            ok = t.index->rd_index->indkey.values[i] == get_attnum(rel, key[i]);
    }
    t.value_att = get_attnum(rel, value_column);
    t.delta_att = get_attnum(rel, "delta");
    if (!ok || t.value_att == InvalidAttrNumber || (delta && t.delta_att == InvalidAttrNumber))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("cluster hierarchy table %s has indexes or columns other than those the "
                        "create made",
                        RelationGetRelationName(t.heap)),
                 errdetail("Writes to the source maintain the hierarchy's tables directly, "
                           "their primary key only."),
                 errhint("Drop the other indexes, or rebuild the hierarchy.")));
    t.index_info = BuildIndexInfo(t.index);
    t.band_att = get_attnum(rel, "band");
    t.block_att = get_attnum(rel, "block");
    t.part_att = get_attnum(rel, "part");
    t.n_keys = n_keys;
    return t;
}

}  // namespace

void open_write_tables(WriteRun* run) {
    static const char* const nodes_key[] = {"band", "block", "part"};
    static const char* const members_key[] = {"block", "part"};
    const int part = run->has_part ? 1 : 0;
    run->nodes = open_one(run->meta->nodes, nodes_key, 2 + part, "data", true);
    run->members = open_one(run->meta->members, members_key, 1 + part, "data", true);
    run->slots = open_one(run->meta->slots, nodes_key, 2, "next", false);
}

void close_write_tables(WriteRun* run) {
    for (WriteTable* t : {&run->nodes, &run->members, &run->slots}) {
        index_close(t->index, NoLock);
        table_close(t->heap, NoLock);
    }
}

namespace {

// The equality keys of (band, block[, part]) on t's primary key; prefix: without part.
int row_keys(const WriteRun* run, const WriteTable& t, const RowKey& k, bool prefix,
             ScanKeyData* keys) {
    int n = 0;
    if (t.band_att != InvalidAttrNumber) {
        ScanKeyInit(&keys[n], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(k.band));
        ++n;
    }
    ScanKeyInit(&keys[n], static_cast<AttrNumber>(n + 1), BTEqualStrategyNumber, F_INT8EQ,
                Int64GetDatum(static_cast<std::int64_t>(k.block)));
    ++n;
    if (!prefix && n < t.n_keys) {
        ScanKeyEntryInitialize(&keys[n], 0, static_cast<AttrNumber>(n + 1), BTEqualStrategyNumber,
                               InvalidOid, t.index->rd_indcollation[n], F_TEXTEQ, run->part);
        ++n;
    }
    return n;
}

// What find_row copies of a row besides its tid (each when not nullptr, in the current memory
// context): its value detoasted, its delta detoasted ((Datum)0 when NULL), its value as stored
// (a TOAST pointer stays one, so that an update of the delta alone keeps the value's TOAST rows).
struct RowCopy {
    Datum* value;
    Datum* delta;
    Datum* stored_value;
};

// The row of key visible to snap: its tid and what copy asks for. False when there is none.
bool find_row(const WriteRun* run, const WriteTable& t, const RowKey& k, Snapshot snap,
              ItemPointerData* tid, const RowCopy& copy) {
    ScanKeyData keys[3];
    const int n = row_keys(run, t, k, false, keys);
    IndexScanDesc scan = index_beginscan(t.heap, t.index, snap, n, 0);
    index_rescan(scan, keys, n, nullptr, 0);
    TupleTableSlot* slot = table_slot_create(t.heap, nullptr);
    const bool found = index_getnext_slot(scan, ForwardScanDirection, slot);
    if (found) {
        *tid = slot->tts_tid;
        bool isnull = false;
        const Datum v = slot_getattr(slot, t.value_att, &isnull);
        if (isnull) raise_status(Status::HierarchyBlockCorrupt, "a NULL block");
        if (copy.value != nullptr)
            *copy.value = &t == &run->slots ? v : PointerGetDatum(DatumGetByteaPCopy(v));
        if (copy.stored_value != nullptr) *copy.stored_value = datumCopy(v, false, -1);
        if (copy.delta != nullptr) {
            const Datum d = t.delta_att == InvalidAttrNumber
                                ? (Datum)0
                                : slot_getattr(slot, t.delta_att, &isnull);
            *copy.delta = t.delta_att == InvalidAttrNumber || isnull
                              ? (Datum)0
                              : PointerGetDatum(DatumGetByteaPCopy(d));
        }
    }
    ExecDropSingleTupleTableSlot(slot);
    index_endscan(scan);
    return found;
}

// find_row with the latest snapshot; under REPEATABLE READ or SERIALIZABLE, a row version other
// than the one the transaction's snapshot sees is a serialization failure, as for an UPDATE.
bool locate(const WriteRun* run, const WriteTable& t, const RowKey& k, ItemPointerData* tid,
            const RowCopy& copy = RowCopy{nullptr, nullptr, nullptr}) {
    const bool found = find_row(run, t, k, run->latest, tid, copy);
    if (run->xact == nullptr) return found;
    ItemPointerData seen;
    const bool found_then =
        find_row(run, t, k, run->xact, &seen, RowCopy{nullptr, nullptr, nullptr});
    if (found != found_then || (found && !ItemPointerEquals(tid, &seen)))
        ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                        errmsg("could not serialize access due to concurrent update of cluster "
                               "hierarchy %s",
                               run->meta->nodes_name)));
    return found;
}

// Runs f (which may ereport) without letting the longjmp through the core: an error is kept in
// run->failure, and the callback returns false.
template <typename F>
bool caught(WriteRun* run, F f) noexcept {
    MemoryContext before = CurrentMemoryContext;
    volatile bool ok = true;
    PG_TRY();
    { f(); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(run->chunk);
        run->failure = CopyErrorData();
        FlushErrorState();
        ok = false;
    }
    PG_END_TRY();
    MemoryContextSwitchTo(before);
    return ok;
}

}  // namespace

namespace {

// A node block out of line and larger than this is given to the writer in part: its first
// kFirstSliceBytes, then the slices it asks for (a write reads a few groups of a large block).
constexpr int32 kPartFromBytes = 16384;
constexpr std::size_t kFirstSliceBytes = 8192;

struct PartBlock {
    bool members;
    int band;
    std::uint64_t block;
    varatt_external ext;
    unsigned char* buf;  // the block's bytes; VARHDRSZ bytes of room before (fetch_toast_slice)
};

// The block of stored (a TOAST pointer or an inline value), in part when it is large.
void give_block(WriteRun* run, bool members, int band, std::uint64_t block, Datum stored,
                const unsigned char** data, std::size_t* len, std::size_t* have) {
    auto* attr = reinterpret_cast<struct varlena*>(DatumGetPointer(stored));
    varatt_external ext{};
    if (VARATT_IS_EXTERNAL_ONDISK(attr)) VARATT_EXTERNAL_GET_POINTER(ext, attr);
    if (!VARATT_IS_EXTERNAL_ONDISK(attr) || VARATT_EXTERNAL_IS_COMPRESSED(ext) ||
        VARATT_EXTERNAL_GET_EXTSIZE(ext) <= kPartFromBytes) {
        const bytea* b = DatumGetByteaP(stored);
        *data = reinterpret_cast<const unsigned char*>(VARDATA(b));
        *len = *have = VARSIZE(b) - VARHDRSZ;
        return;
    }
    auto* p = static_cast<PartBlock*>(palloc(sizeof(PartBlock)));
    *p = PartBlock{members, band, block, ext, nullptr};
    *len = static_cast<std::size_t>(VARATT_EXTERNAL_GET_EXTSIZE(ext));
    p->buf = static_cast<unsigned char*>(palloc(*len + VARHDRSZ)) + VARHDRSZ;
    *have = std::min(*len, kFirstSliceBytes);
    Relation toast = table_open(ext.va_toastrelid, AccessShareLock);
    fetch_toast_slice(toast, ext, 0, *have, p->buf);
    table_close(toast, AccessShareLock);
    run->partial = lappend(run->partial, p);
    *data = p->buf;
}

}  // namespace

bool write_fetch(void* ctx, bool members, int band, std::uint64_t block, const unsigned char** data,
                 std::size_t* len, std::size_t* have, const unsigned char** delta,
                 std::size_t* delta_len) {
    auto* run = static_cast<WriteRun*>(ctx);
    return caught(run, [&] {
        MemoryContext before = MemoryContextSwitchTo(run->chunk);
        ItemPointerData tid;
        Datum stored = (Datum)0, d = (Datum)0;
        *data = *delta = nullptr;
        *len = *have = *delta_len = 0;
        if (locate(run, members ? run->members : run->nodes, RowKey{band, block}, &tid,
                   RowCopy{nullptr, &d, &stored})) {
            give_block(run, members, band, block, stored, data, len, have);
            if (d != (Datum)0) {
                const bytea* e = DatumGetByteaP(d);
                *delta = reinterpret_cast<const unsigned char*>(VARDATA(e));
                *delta_len = VARSIZE(e) - VARHDRSZ;
            }
        }
        MemoryContextSwitchTo(before);
    });
}

bool write_fill(void* ctx, bool members, int band, std::uint64_t block, std::size_t offset,
                std::size_t length) {
    auto* run = static_cast<WriteRun*>(ctx);
    return caught(run, [&] {
        ListCell* cell;
        foreach (cell, run->partial) {
            const auto* p = static_cast<const PartBlock*>(lfirst(cell));
            if (p->members != members || p->band != band || p->block != block) continue;
            if (offset + length > static_cast<std::size_t>(VARATT_EXTERNAL_GET_EXTSIZE(p->ext)))
                break;
            Relation toast = table_open(p->ext.va_toastrelid, AccessShareLock);
            fetch_toast_slice(toast, p->ext, offset, length, p->buf);
            table_close(toast, AccessShareLock);
            return;
        }
        raise_status(Status::Internal, "a slice of a block that was not given in part");
    });
}

namespace {

// Calls f(block) for each row of blocks lo..hi of t (band's, the partition's) visible to snap,
// in block order.
template <typename F>
void scan_blocks(const WriteRun* run, const WriteTable& t, int band, std::uint64_t lo,
                 std::uint64_t hi, Snapshot snap, F f) {
    ScanKeyData keys[4];
    int n = 0;
    if (t.band_att != InvalidAttrNumber)
        ScanKeyInit(&keys[n++], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(band));
    const auto block_att = static_cast<AttrNumber>(n + 1);
    ScanKeyInit(&keys[n++], block_att, BTGreaterEqualStrategyNumber, F_INT8GE,
                Int64GetDatum(static_cast<std::int64_t>(lo)));
    ScanKeyInit(&keys[n++], block_att, BTLessEqualStrategyNumber, F_INT8LE,
                Int64GetDatum(static_cast<std::int64_t>(hi)));
    if (run->has_part)
        ScanKeyEntryInitialize(&keys[n++], 0, static_cast<AttrNumber>(block_att + 1),
                               BTEqualStrategyNumber, InvalidOid,
                               t.index->rd_indcollation[block_att], F_TEXTEQ, run->part);
    IndexScanDesc scan = index_beginscan(t.heap, t.index, snap, n, 0);
    index_rescan(scan, keys, n, nullptr, 0);
    TupleTableSlot* slot = table_slot_create(t.heap, nullptr);
    while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
        bool isnull = false;
        const Datum b = slot_getattr(slot, t.block_att, &isnull);
        if (isnull) raise_status(Status::HierarchyBlockCorrupt, "a NULL block number");
        f(static_cast<std::uint64_t>(DatumGetInt64(b)), slot->tts_tid);
    }
    ExecDropSingleTupleTableSlot(slot);
    index_endscan(scan);
}

}  // namespace

// The rows are read with the latest snapshot; under REPEATABLE READ or SERIALIZABLE the
// transaction's snapshot must see the same row versions (else a serialization failure, as in
// locate).
bool write_list(void* ctx, bool members, int band, std::uint64_t lo, std::uint64_t hi,
                void (*found)(void* found_ctx, std::uint64_t block), void* found_ctx) {
    auto* run = static_cast<WriteRun*>(ctx);
    return caught(run, [&] {
        const WriteTable& t = members ? run->members : run->nodes;
        List* seen = NIL;
        scan_blocks(run, t, band, lo, hi, run->latest, [&](std::uint64_t b, ItemPointerData tid) {
            found(found_ctx, b);
            if (run->xact != nullptr) {
                auto* copy = static_cast<ItemPointerData*>(palloc(sizeof(ItemPointerData)));
                *copy = tid;
                seen = lappend(seen, copy);
            }
        });
        if (run->xact == nullptr) return;
        int i = 0;
        bool same = true;
        scan_blocks(run, t, band, lo, hi, run->xact, [&](std::uint64_t, ItemPointerData tid) {
            same = same && i < list_length(seen) &&
                   ItemPointerEquals(static_cast<ItemPointer>(list_nth(seen, i)), &tid);
            ++i;
        });
        if (!same || i != list_length(seen))
            ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                            errmsg("could not serialize access due to concurrent update of "
                                   "cluster hierarchy %s",
                                   run->meta->nodes_name)));
    });
}

namespace {

// The largest slot end of any partition's row of (band, block) in the nodes table.
std::uint64_t stored_slot_end(const WriteRun* run, const RowKey& k) {
    const WriteTable& t = run->nodes;
    ScanKeyData keys[3];
    const int n = row_keys(run, t, k, true, keys);
    IndexScanDesc scan = index_beginscan(t.heap, t.index, run->latest, n, 0);
    index_rescan(scan, keys, n, nullptr, 0);
    TupleTableSlot* slot = table_slot_create(t.heap, nullptr);
    std::uint64_t end = 0;
    while (index_getnext_slot(scan, ForwardScanDirection, slot)) {
        bool isnull = false, null_delta = true;
        const Datum v = slot_getattr(slot, t.value_att, &isnull);
        if (isnull) raise_status(Status::HierarchyBlockCorrupt, "a NULL block");
        const Datum dv = slot_getattr(slot, t.delta_att, &null_delta);
        bytea* b = DatumGetByteaP(v);
        bytea* d = null_delta ? nullptr : DatumGetByteaP(dv);
        std::uint64_t e = 0;
        check(hier_block_slot_end(
            reinterpret_cast<const unsigned char*>(VARDATA(b)), VARSIZE(b) - VARHDRSZ,
            d == nullptr ? nullptr : reinterpret_cast<const unsigned char*>(VARDATA(d)),
            d == nullptr ? 0 : VARSIZE(d) - VARHDRSZ, &e));
        end = std::max(end, e);
        if (reinterpret_cast<Pointer>(b) != DatumGetPointer(v)) pfree(b);
        if (d != nullptr && reinterpret_cast<Pointer>(d) != DatumGetPointer(dv)) pfree(d);
    }
    ExecDropSingleTupleTableSlot(slot);
    index_endscan(scan);
    return end;
}

}  // namespace

bool write_slot_floor(void* ctx, int band, std::uint64_t block, std::uint64_t* next) {
    auto* run = static_cast<WriteRun*>(ctx);
    return caught(run, [&] {
        ItemPointerData tid;
        Datum value = (Datum)0;
        const RowKey k{band, block};
        *next = locate(run, run->slots, k, &tid, RowCopy{&value, nullptr, nullptr})
                    ? static_cast<std::uint64_t>(DatumGetInt64(value))
                    : stored_slot_end(run, k);
    });
}

namespace {

// The new primary key entry of a tuple just written (not for a heap-only tuple: its index entry
// is the old version's).
void index_add(const WriteTable& t, HeapTuple tup, const Datum* values, const bool* nulls) {
    Datum key[INDEX_MAX_KEYS];
    bool key_null[INDEX_MAX_KEYS];
    for (int i = 0; i < t.index->rd_index->indnatts; ++i) {
        const AttrNumber att = t.index->rd_index->indkey.values[i];
        key[i] = values[att - 1];
        key_null[i] = nulls[att - 1];
    }
    index_insert(t.index, key, key_null, &tup->t_self, t.heap, UNIQUE_CHECK_YES, false,
                 t.index_info);
}

// Puts row (key, value) into t: deleted when value is null, else inserted or updated, with no
// delta. With delta_only, the row (which must exist) keeps its value as stored (its TOAST rows
// are not written again) and gets delta (NULL when delta is nullptr).
void put_row(const WriteRun* run, const WriteTable& t, const RowKey& k, const Datum* value,
             bool delta_only = false) {
    ItemPointerData tid;
    Datum stored = (Datum)0;
    const bool found =
        locate(run, t, k, &tid, RowCopy{nullptr, nullptr, delta_only ? &stored : nullptr});
    if (delta_only && !found) raise_status(Status::Internal, "a delta for a block that has no row");
    if (value == nullptr && !delta_only) {
        if (found) simple_heap_delete(t.heap, &tid);
        return;
    }
    TupleDesc desc = RelationGetDescr(t.heap);
    auto* values = static_cast<Datum*>(palloc0(sizeof(Datum) * desc->natts));
    auto* nulls = static_cast<bool*>(palloc(sizeof(bool) * desc->natts));
    memset(nulls, true, sizeof(bool) * desc->natts);
    auto set = [&](AttrNumber att, Datum d) {
        if (att == InvalidAttrNumber) return;
        values[att - 1] = d;
        nulls[att - 1] = false;
    };
    set(t.band_att, Int32GetDatum(k.band));
    set(t.block_att, Int64GetDatum(static_cast<std::int64_t>(k.block)));
    if (delta_only) {
        set(t.value_att, stored);
        if (value != nullptr) set(t.delta_att, *value);
    } else {
        set(t.value_att, *value);
    }
    if (run->has_part && &t != &run->slots) set(t.part_att, run->part);
    HeapTuple tup = heap_form_tuple(desc, values, nulls);
    if (found)
        simple_heap_update(t.heap, &tid, tup);
    else
        simple_heap_insert(t.heap, tup);
    if (!HeapTupleIsHeapOnly(tup)) index_add(t, tup, values, nulls);
    heap_freetuple(tup);
    pfree(values);
    pfree(nulls);
}

}  // namespace

void write_back(WriteRun* run, const HierStoreUpdate& update) {
    std::size_t n_blocks = 0, n_slots = 0;
    const HierStoreBlock* blocks = update.blocks(&n_blocks);
    const HierStoreSlots* slots = update.slots(&n_slots);
    for (std::size_t i = 0; i < n_blocks; ++i) {
        CHECK_FOR_INTERRUPTS();  // (a batch writes thousands of blocks, some of megabytes)
        const HierStoreBlock& b = blocks[i];
        const RowKey k{b.band, b.block};
        const WriteTable& t = b.members ? run->members : run->nodes;
        if (b.len == 0) {
            put_row(run, t, k, nullptr, b.delta_only);
            continue;
        }
        auto* data = static_cast<bytea*>(palloc(VARHDRSZ + b.len));
        SET_VARSIZE(data, VARHDRSZ + b.len);
        memcpy(VARDATA(data), b.data, b.len);
        const Datum value = PointerGetDatum(data);
        put_row(run, t, k, &value, b.delta_only);
        pfree(data);
    }
    for (std::size_t i = 0; i < n_slots; ++i) {
        const Datum next = Int64GetDatum(static_cast<std::int64_t>(slots[i].next));
        put_row(run, run->slots, RowKey{slots[i].band, slots[i].block}, &next);
    }
}

namespace {

std::int64_t compact_table(WriteRun* run, const WriteTable& t) {
    TupleDesc desc = RelationGetDescr(t.heap);
    MemoryContext per_row = AllocSetContextCreate(CurrentMemoryContext, "cluster hierarchy compact",
                                                  ALLOCSET_DEFAULT_SIZES);
    // (the scan and its slot outlive the rows: made before the switch to the per-row context)
    TableScanDesc scan = table_beginscan(t.heap, run->latest, 0, nullptr);
    TupleTableSlot* slot = table_slot_create(t.heap, nullptr);
    MemoryContext outer = MemoryContextSwitchTo(per_row);
    const Allocator alloc{context_alloc, context_free, per_row, 0};
    std::int64_t folded = 0;
    while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
        CHECK_FOR_INTERRUPTS();
        bool null_delta = true;
        const Datum d = slot_getattr(slot, t.delta_att, &null_delta);
        if (null_delta) continue;
        slot_getallattrs(slot);
        const bytea* data = DatumGetByteaP(slot->tts_values[t.value_att - 1]);
        const bytea* delta = DatumGetByteaP(d);
        unsigned char* out = nullptr;
        std::size_t len = 0;
        check(hier_delta_fold(reinterpret_cast<const unsigned char*>(VARDATA(data)),
                              VARSIZE(data) - VARHDRSZ,
                              reinterpret_cast<const unsigned char*>(VARDATA(delta)),
                              VARSIZE(delta) - VARHDRSZ, alloc, &out, &len));
        ItemPointerData tid = slot->tts_tid;
        if (out == nullptr) {
            simple_heap_delete(t.heap, &tid);
        } else {
            auto* block = static_cast<bytea*>(palloc(VARHDRSZ + len));
            SET_VARSIZE(block, VARHDRSZ + len);
            memcpy(VARDATA(block), out, len);
            auto* values = static_cast<Datum*>(palloc(sizeof(Datum) * desc->natts));
            auto* nulls = static_cast<bool*>(palloc(sizeof(bool) * desc->natts));
            memcpy(values, slot->tts_values, sizeof(Datum) * desc->natts);
            memcpy(nulls, slot->tts_isnull, sizeof(bool) * desc->natts);
            values[t.value_att - 1] = PointerGetDatum(block);
            nulls[t.delta_att - 1] = true;
            HeapTuple tup = heap_form_tuple(desc, values, nulls);
            simple_heap_update(t.heap, &tid, tup);
            if (!HeapTupleIsHeapOnly(tup)) index_add(t, tup, values, nulls);
        }
        ++folded;
        MemoryContextReset(per_row);
    }
    MemoryContextSwitchTo(outer);
    ExecDropSingleTupleTableSlot(slot);
    table_endscan(scan);
    MemoryContextDelete(per_row);
    return folded;
}

}  // namespace

std::int64_t compact_write_tables(WriteRun* run) {
    return compact_table(run, run->nodes) + compact_table(run, run->members);
}

void clear_write_tables(WriteRun* run) {
    for (const WriteTable* t : {&run->nodes, &run->members, &run->slots}) {
        TableScanDesc scan = table_beginscan(t->heap, run->latest, 0, nullptr);
        TupleTableSlot* slot = table_slot_create(t->heap, nullptr);
        while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
            simple_heap_delete(t->heap, &slot->tts_tid);
            CHECK_FOR_INTERRUPTS();
        }
        ExecDropSingleTupleTableSlot(slot);
        table_endscan(scan);
    }
}

}  // namespace geocluster::pg
