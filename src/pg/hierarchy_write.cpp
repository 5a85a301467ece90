// cluster_hierarchy_write(): the statement triggers that keep a cluster hierarchy exact under
// writes to its source, in the writing transaction (issue 17, docs/hierarchy-writes.md). One
// trigger per event (PostgreSQL 15 gives transition tables only to single-event triggers): AFTER
// INSERT, UPDATE and DELETE read the statement's rows from the transition tables geocluster_old
// and geocluster_new and hand them to the core's HierStoreUpdate (hierarchy_store.hpp), per
// partition value in chunks, each in Z-order (hier_store_order_writes) so that a bulk
// statement's chunk covers a neighbourhood; AFTER TRUNCATE empties the hierarchy.
//
// Writers of one hierarchy are serialised by an exclusive lock per hierarchy, held to the end
// of the transaction (a first step: the concurrent design of docs/hierarchy-writes.md comes
// later).
#include "hierarchy_write_glue.hpp"

extern "C" {
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "replication/logicalworker.h"
#include "replication/worker_internal.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"
}

#include <algorithm>
#include <new>

namespace geocluster::pg {

namespace {

// The advisory lock tag of a hierarchy's writers: (database, nodes table, 0, this). Users'
// pg_advisory_* keys have field4 1 (one int8) or 2 (two int4), so they never collide with it.
constexpr uint16 kWriteLockField4 = 0x4743;  // "GC"
// Writes per HierStoreUpdate: bounds one update's working set, whatever the statement's size
// (at 1M markers a COPY of 100,000 rows took 20 s in chunks of 1,000 and 15 s in chunks of
// 4,000; 16,000 was slower again, its repairs and lookups growing faster than its reads shrink).
constexpr std::size_t kChunkWrites = 4000;
// Writes put in order together (hier_store_order_writes) before they are cut into chunks: a bulk
// statement's chunks then each cover a neighbourhood. 32 bytes each.
constexpr std::size_t kOrderWrites = 16 * kChunkWrites;

void lock_hierarchy(Oid nodes) {
    LOCKTAG tag;
    SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, nodes, 0, kWriteLockField4);
    (void)LockAcquire(&tag, ExclusiveLock, false, false);
}

void delete_update(void* arg) { delete static_cast<HierStoreUpdate*>(arg); }

[[noreturn]] void raise_failure(const WriteRun* run, Status status) {
    if (run->failure != nullptr) ReThrowError(run->failure);
    raise_status(status);
}

// One HierStoreUpdate over writes[0..n) of one partition value: made with new and deleted by
// the reset of its memory context, so that an ERROR frees it too.
void run_chunk(WriteRun* run, const HierStoreWrite* writes, std::size_t n) {
    MemoryContext outer = CurrentMemoryContext;
    run->chunk = AllocSetContextCreate(outer, "geocluster hierarchy write", ALLOCSET_DEFAULT_SIZES);
    MemoryContextSwitchTo(run->chunk);
    auto* cb = static_cast<MemoryContextCallback*>(palloc(sizeof(MemoryContextCallback)));
    auto* update = new (std::nothrow) HierStoreUpdate();
    if (update == nullptr) raise_status(Status::OutOfMemory);
    cb->func = delete_update;
    cb->arg = update;
    MemoryContextRegisterResetCallback(run->chunk, cb);
    // After the lock and the previous chunk's CommandCounterIncrement: what every committed
    // writer and our own earlier chunks wrote.
    run->latest = RegisterSnapshot(GetLatestSnapshot());
    run->xact = nullptr;
    if (IsolationUsesXactSnapshot()) {
        PushCopiedSnapshot(GetTransactionSnapshot());
        UpdateActiveSnapshotCommandId();
        run->xact = GetActiveSnapshot();
    }
    run->failure = nullptr;
    run->partial = NIL;
    const HierStoreOps ops{run, write_fetch, write_fill, write_list, write_slot_floor};
    const std::size_t max_bytes = static_cast<std::size_t>(geocluster_max_state_memory_kb) * 1024;
    Status s = update->init(run->meta->radius_px, run->meta->max_zoom, ops, max_bytes);
    if (s == Status::Ok) s = update->apply(writes, n, CancelCheck{interrupt_requested, nullptr});
    // A chunk whose working copy would outgrow the memory limit (writes spread over many
    // blocks) is written as two halves, one after the other: the order of its writes is kept.
    const bool split = s == Status::HierarchyWriteTooLarge && run->failure == nullptr && n > 1;
    if (s != Status::Ok && !split) raise_failure(run, s);
    if (!split) write_back(run, *update);
    if (run->xact != nullptr) PopActiveSnapshot();
    UnregisterSnapshot(run->latest);
    MemoryContextSwitchTo(outer);
    MemoryContextDelete(run->chunk);  // deletes the update
    run->chunk = nullptr;
    if (split) {
        run_chunk(run, writes, n / 2);
        run_chunk(run, writes + n / 2, n - n / 2);
        return;
    }
    CommandCounterIncrement();
}

// The query over the transition tables (cluster_hierarchy_write_query, SQL): rows (insert, [part,]
// lat, lon, id), erases before inserts within each partition value.
const char* writes_query(const WriteMeta& m, const char* schema, const char* event) {
    Datum args[6];
    const char* names[5] = {m.lat_column, m.lon_column, m.geometry_column, m.id_column,
                            m.partition_column};
    char nulls[7] = "      ";
    Oid types[6] = {NAMEOID, NAMEOID, NAMEOID, NAMEOID, NAMEOID, TEXTOID};
    for (int i = 0; i < 5; ++i) {
        if (names[i] == nullptr) {
            nulls[i] = 'n';
            args[i] = (Datum)0;
        } else {
            args[i] = DirectFunctionCall1(namein, CStringGetDatum(names[i]));
        }
    }
    args[5] = CStringGetTextDatum(event);
    char* sql = psprintf("SELECT %s.cluster_hierarchy_write_query($1, $2, $3, $4, $5, $6)", schema);
    bool isnull = true;
    if (SPI_execute_with_args(sql, 6, types, args, nulls, true, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "cluster hierarchy: cluster_hierarchy_write_query returned no row");
    const Datum q = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
    if (isnull) elog(ERROR, "cluster hierarchy: cluster_hierarchy_write_query returned NULL");
    return TextDatumGetCString(q);
}

bool same_text(Datum a, Datum b) {
    const text* x = DatumGetTextPP(a);
    const text* y = DatumGetTextPP(b);
    return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
           memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

// One write of the query's row: false for a row without a position (as the create skips it); a
// NULL id is the create's error too.
bool read_write(HeapTuple row, TupleDesc desc, int first, HierStoreWrite* w) {
    bool null_insert = false, null_lat = false, null_lon = false, null_id = false;
    w->insert = DatumGetBool(SPI_getbinval(row, desc, 1, &null_insert));
    w->lat = DatumGetFloat8(SPI_getbinval(row, desc, first, &null_lat));
    w->lon = DatumGetFloat8(SPI_getbinval(row, desc, first + 1, &null_lon));
    w->id = DatumGetInt64(SPI_getbinval(row, desc, first + 2, &null_id));
    if (null_lat || null_lon) return false;
    if (null_id)
        ereport(
            ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("a cluster hierarchy needs an id for every marker"),
             errdetail("a row at lat = %g, lon = %g has a NULL id", w->lat, w->lon),
             errhint("Give the rows ids, or filter them into a table or partition of their own.")));
    return true;
}

// Writes of one partition value, put in order, then run chunk by chunk.
void run_ordered(WriteRun* run, HierStoreWrite* writes, std::size_t n) {
    hier_store_order_writes(writes, n);
    for (std::size_t at = 0; at < n; at += kChunkWrites)
        run_chunk(run, writes + at, std::min(kChunkWrites, n - at));
}

// Reads the statement's writes with a cursor and runs them kOrderWrites at a time (fewer at a
// new partition value).
void apply_writes(WriteRun* run, const char* query) {
    Portal portal =
        SPI_cursor_open_with_args(nullptr, query, 0, nullptr, nullptr, nullptr, true, 0);
    auto* writes = static_cast<HierStoreWrite*>(palloc(sizeof(HierStoreWrite) * kOrderWrites));
    MemoryContext outer = CurrentMemoryContext;
    std::size_t n = 0;
    const int first = run->has_part ? 3 : 2;  // the attribute number of lat
    for (;;) {
        SPI_cursor_fetch(portal, true, static_cast<long>(kChunkWrites));
        if (SPI_processed == 0) break;
        for (uint64 r = 0; r < SPI_processed; ++r) {
            HeapTuple row = SPI_tuptable->vals[r];
            TupleDesc desc = SPI_tuptable->tupdesc;
            bool isnull = false;
            if (run->has_part) {
                const Datum part = SPI_getbinval(row, desc, 2, &isnull);
                if (n > 0 && !same_text(part, run->part)) {
                    run_ordered(run, writes, n);
                    n = 0;
                }
                if (n == 0) {
                    MemoryContext old = MemoryContextSwitchTo(outer);
                    run->part = PointerGetDatum(DatumGetTextPCopy(part));
                    MemoryContextSwitchTo(old);
                }
            }
            if (n == kOrderWrites) {
                run_ordered(run, writes, n);
                n = 0;
            }
            if (read_write(row, desc, first, &writes[n])) ++n;
        }
        SPI_freetuptable(SPI_tuptable);
    }
    if (n > 0) run_ordered(run, writes, n);
    SPI_cursor_close(portal);
    pfree(writes);
}

// TRUNCATE: the hierarchy can follow only the emptying of its whole source. The source is the
// topmost table of rel's ancestry that holds this trigger; a TRUNCATE of it without ONLY empties
// every table of its tree (each then fires this trigger, and all but the first find nothing to
// delete). The tree is checked directly (the truncating role may not SELECT from it).
bool source_tree_empty(Oid rel, const TriggerData* td, Snapshot snap) {
    Oid types[3] = {OIDOID, OIDOID, BYTEAOID};
    const char* arg = td->tg_trigger->tgargs[0];
    const std::size_t arg_len = strlen(arg) + 1;  // tgargs: each argument NUL-terminated
    auto* args_bytes = static_cast<bytea*>(palloc(VARHDRSZ + arg_len));
    SET_VARSIZE(args_bytes, VARHDRSZ + arg_len);
    memcpy(VARDATA(args_bytes), arg, arg_len);
    Datum args[3] = {ObjectIdGetDatum(rel), ObjectIdGetDatum(td->tg_trigger->tgfoid),
                     PointerGetDatum(args_bytes)};
    const char* sql =
        "WITH RECURSIVE up(r, d) AS (SELECT $1, 0 UNION ALL SELECT i.inhparent, up.d "
        "OPERATOR(pg_catalog.+) 1 "
        "FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid OPERATOR(pg_catalog.=) up.r) "
        "SELECT up.r FROM up JOIN pg_catalog.pg_trigger t ON t.tgrelid OPERATOR(pg_catalog.=) up.r "
        "WHERE t.tgfoid OPERATOR(pg_catalog.=) $2 AND t.tgargs OPERATOR(pg_catalog.=) $3 "
        "ORDER BY up.d DESC LIMIT 1";
    bool isnull = true;
    if (SPI_execute_with_args(sql, 3, types, args, nullptr, true, 1) != SPI_OK_SELECT ||
        SPI_processed != 1)
        elog(ERROR, "cluster hierarchy: the source of a write trigger was not found");
    const Oid source =
        DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
    List* tree = find_all_inheritors(source, AccessShareLock, nullptr);
    ListCell* cell;
    foreach (cell, tree) {
        const Oid t = lfirst_oid(cell);
        if (!RELKIND_HAS_STORAGE(get_rel_relkind(t))) continue;
        Relation heap = table_open(t, NoLock);
        TableScanDesc scan = table_beginscan(heap, snap, 0, nullptr);
        TupleTableSlot* slot = table_slot_create(heap, nullptr);
        const bool has_row = table_scan_getnextslot(scan, ForwardScanDirection, slot);
        ExecDropSingleTupleTableSlot(slot);
        table_endscan(scan);
        table_close(heap, NoLock);
        if (has_row) return false;
    }
    return true;
}

void follow_truncate(WriteRun* run, const TriggerData* td) {
    // A TRUNCATE of a tree fires this once per table, all in one command: what an earlier firing
    // deleted must be seen as deleted.
    CommandCounterIncrement();
    run->latest = RegisterSnapshot(GetLatestSnapshot());
    if (!source_tree_empty(RelationGetRelid(td->tg_relation), td, run->latest))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("TRUNCATE of %s would leave cluster hierarchy %s stale",
                        RelationGetRelationName(td->tg_relation), run->meta->nodes_name),
                 errdetail("Other tables of the hierarchy's source keep rows: a hierarchy follows "
                           "a TRUNCATE only of its whole source."),
                 errhint("DELETE the rows instead, or TRUNCATE the source itself.")));
    clear_write_tables(run);
    UnregisterSnapshot(run->latest);
    CommandCounterIncrement();
}

// The hierarchy a trigger maintains: its argument, the schema-qualified name of the nodes table.
Oid trigger_hierarchy(const TriggerData* td) {
    if (td->tg_trigger->tgnargs != 1)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("cluster_hierarchy_write takes one argument: the hierarchy")));
    const char* name = td->tg_trigger->tgargs[0];
    const Oid nodes =
        RangeVarGetRelid(makeRangeVarFromNameList(stringToQualifiedNameList(name)), NoLock, true);
    if (!OidIsValid(nodes))
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("cluster hierarchy %s of %s does not exist", name,
                               RelationGetRelationName(td->tg_relation)),
                        errhint("Drop the trigger %s.", td->tg_trigger->tgname)));
    return nodes;
}

// Whether this backend applies a subscription's changes row by row (a logical replication apply
// worker, not a table synchronisation worker: its initial COPY fires the statement triggers).
bool applying_replicated_rows() { return IsLogicalWorker() && !am_tablesync_worker(); }

// A replicated row's image, registered for SPI under name as a one-row transition table would be.
void register_row(const TriggerData* td, HeapTuple row, const char* name) {
    Tuplestorestate* store = tuplestore_begin_heap(false, false, work_mem);
    tuplestore_puttuple(store, row);
    auto* enr = static_cast<EphemeralNamedRelation>(palloc(sizeof(EphemeralNamedRelationData)));
    enr->md.name = pstrdup(name);
    enr->md.reliddesc = RelationGetRelid(td->tg_relation);
    enr->md.tupdesc = nullptr;
    enr->md.enrtype = ENR_NAMED_TUPLESTORE;
    enr->md.enrtuples = 1;
    enr->reldata = store;
    if (SPI_register_relation(enr) != SPI_OK_REL_REGISTER)
        elog(ERROR, "cluster hierarchy: SPI_register_relation failed");
}

const char* trigger_event(const TriggerData* td) {
    const TriggerEvent e = td->tg_event;
    // (per row: the replication trigger, whose rows become one-row transition tables)
    const bool row = TRIGGER_FIRED_FOR_ROW(e) && !TRIGGER_FIRED_BY_TRUNCATE(e);
    if (!TRIGGER_FIRED_AFTER(e) || !(row || TRIGGER_FIRED_FOR_STATEMENT(e)))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("cluster_hierarchy_write must fire AFTER ... FOR EACH STATEMENT")));
    if (TRIGGER_FIRED_BY_TRUNCATE(e)) return "TRUNCATE";
    const bool old_rows = TRIGGER_FIRED_BY_UPDATE(e) || TRIGGER_FIRED_BY_DELETE(e);
    const bool new_rows = TRIGGER_FIRED_BY_UPDATE(e) || TRIGGER_FIRED_BY_INSERT(e);
    if (!row &&
        ((old_rows && td->tg_oldtable == nullptr) || (new_rows && td->tg_newtable == nullptr)))
        ereport(ERROR,
                (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                 errmsg("cluster_hierarchy_write needs the transition tables of its event "
                        "(REFERENCING OLD TABLE AS geocluster_old NEW TABLE AS geocluster_new)")));
    return TRIGGER_FIRED_BY_INSERT(e) ? "INSERT" : TRIGGER_FIRED_BY_UPDATE(e) ? "UPDATE" : "DELETE";
}

// A write trigger writes a hierarchy only for the tables of its source's tree: the function
// writes the hierarchy's tables itself, whoever fires it, so a trigger that a role puts on a
// table of its own, naming another's hierarchy, must neither change that hierarchy nor take its
// writers' lock.
void check_trigger_source(const WriteMeta& m, const TriggerData* td) {
    const Oid rel = RelationGetRelid(td->tg_relation);
    if (OidIsValid(m.source) &&
        (rel == m.source || list_member_oid(find_all_inheritors(m.source, NoLock, nullptr), rel)))
        return;
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("%s is not a table of the source of cluster hierarchy %s",
                    RelationGetRelationName(td->tg_relation), m.nodes_name),
             errdetail("Trigger %s names a hierarchy whose rows come from another table.",
                       td->tg_trigger->tgname),
             errhint("Write triggers are made by cluster_hierarchy_create; drop this one.")));
}

// The hierarchy whose nodes table is nodes, locked for writing (the writers' lock, to the end
// of the transaction), inside SPI (SPI_finish after close_write_tables), its tables open. A
// trigger's (td) relation must be a table of the hierarchy's source, and without a trigger
// (compaction) the caller must be allowed to UPDATE the members table: checked before the lock.
WriteRun* open_run(Oid nodes, Oid fn_oid, const TriggerData* td) {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "cluster hierarchy: SPI_connect failed");
    auto* meta = static_cast<WriteMeta*>(palloc0(sizeof(WriteMeta)));
    write_meta(nodes, fn_oid, meta);
    if (td != nullptr) {
        check_trigger_source(*meta, td);
    } else {  // (compaction rewrites the members table's rows too)
        const AclResult acl = pg_class_aclcheck(meta->members, GetUserId(), ACL_UPDATE);
        if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_TABLE, get_rel_name(meta->members));
    }
    lock_hierarchy(nodes);
    auto* run = static_cast<WriteRun*>(palloc0(sizeof(WriteRun)));
    run->meta = meta;
    run->has_part = meta->partition_column != nullptr;
    open_write_tables(run);
    return run;
}

}  // namespace

}  // namespace geocluster::pg

using namespace geocluster::pg;

// The trigger: lock, metadata, tables, then the statement's writes (or the TRUNCATE).
GEOCLUSTER_FUNCTION(cluster_hierarchy_write) {
    if (!CALLED_AS_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                        errmsg("cluster_hierarchy_write runs only as a trigger")));
    auto* td = reinterpret_cast<TriggerData*>(fcinfo->context);
    const char* event = trigger_event(td);
    // The row trigger (ENABLE REPLICA) stands in for the statement triggers where PostgreSQL
    // does not fire them: in a logical replication apply worker, which applies a subscription's
    // changes row by row. Elsewhere the statement triggers do the work and it does nothing.
    const bool row = TRIGGER_FIRED_FOR_ROW(td->tg_event);
    if (row && !applying_replicated_rows()) return PointerGetDatum(nullptr);
    WriteRun* run = open_run(trigger_hierarchy(td), fcinfo->flinfo->fn_oid, td);
    const WriteMeta* meta = run->meta;
    if (strcmp(event, "TRUNCATE") == 0) {
        follow_truncate(run, td);
    } else {
        const TriggerEvent e = td->tg_event;
        if (row) {  // (the old image is tg_trigtuple, the new one tg_newtuple on UPDATE)
            if (!TRIGGER_FIRED_BY_INSERT(e)) register_row(td, td->tg_trigtuple, "geocluster_old");
            if (!TRIGGER_FIRED_BY_DELETE(e))
                register_row(td, TRIGGER_FIRED_BY_UPDATE(e) ? td->tg_newtuple : td->tg_trigtuple,
                             "geocluster_new");
        } else if (SPI_register_trigger_data(td) != SPI_OK_TD_REGISTER) {
            elog(ERROR, "cluster hierarchy: SPI_register_trigger_data failed");
        }
        const char* schema =
            quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));
        apply_writes(run, writes_query(*meta, schema, event));
    }
    close_write_tables(run);
    SPI_finish();
    return PointerGetDatum(nullptr);
}

// cluster_hierarchy_compact(hierarchy regclass) -> bigint: folds every delta row of the hierarchy
// into its block (docs/hierarchy-writes.md, "Compaction"), under the writers' lock, so that it
// runs beside writes; the rows folded. It changes how the hierarchy is stored, never what it
// holds. For the roles that may UPDATE the nodes and members tables (their owner).
GEOCLUSTER_FUNCTION(cluster_hierarchy_compact) {
    const Oid nodes = PG_GETARG_OID(0);
    // (before the lock: a role that may not compact does not make the writers wait)
    const AclResult acl = pg_class_aclcheck(nodes, GetUserId(), ACL_UPDATE);
    if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_TABLE, get_rel_name(nodes));
    WriteRun* run = open_run(nodes, fcinfo->flinfo->fn_oid, nullptr);
    // (the transaction's own earlier writes, a compaction's in the same statement included, are
    // seen and not folded twice)
    CommandCounterIncrement();
    run->latest = RegisterSnapshot(GetLatestSnapshot());
    const std::int64_t folded = compact_write_tables(run);
    UnregisterSnapshot(run->latest);
    CommandCounterIncrement();
    close_write_tables(run);
    SPI_finish();
    PG_RETURN_INT64(folded);
}
