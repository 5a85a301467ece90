// cluster_hierarchy_ddl_changes(pg_ddl_command): the subcommands of an ALTER TABLE that move rows
// into or out of a table's inheritance tree (ATTACH/DETACH PARTITION, INHERIT/NO INHERIT), for
// the DDL guard of 61_hierarchy_guard.sql. SQL sees a pg_ddl_command only as an opaque value, and
// these subcommands change a hierarchy's rows without any DML its write trigger could refuse.
#include "glue.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
}

namespace {

// The name the guard matches, or nullptr for a subcommand that moves no rows.
const char* change_name(AlterTableType type) noexcept {
    switch (type) {
        case AT_AttachPartition:
            return "attach partition";
        case AT_DetachPartition:
            return "detach partition";
        case AT_DetachPartitionFinalize:
            return "detach partition";
        case AT_AddInherit:
            return "inherit";
        case AT_DropInherit:
            return "no inherit";
        default:
            return nullptr;
    }
}

}  // namespace

// (command pg_ddl_command) -> TABLE (change text, relid oid): relid is the partition for
// ATTACH/DETACH PARTITION and the parent for INHERIT/NO INHERIT.
GEOCLUSTER_FUNCTION(cluster_hierarchy_ddl_changes) {
    const CollectedCommand* cmd = reinterpret_cast<const CollectedCommand*>(PG_GETARG_POINTER(0));
    InitMaterializedSRF(fcinfo, 0);
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    if (cmd->type != SCT_AlterTable) return (Datum)0;
    ListCell* cell;
    foreach (cell, cmd->d.alterTable.subcmds) {
        const CollectedATSubcmd* sub = static_cast<const CollectedATSubcmd*>(lfirst(cell));
        const AlterTableCmd* at = castNode(AlterTableCmd, sub->parsetree);
        const char* name = change_name(at->subtype);
        if (name == nullptr) continue;
        // ATTACH and DETACH PARTITION record no address: their partition is found by its name,
        // in the search_path the command ran with (the caller does not pin another).
        const Oid relid =
            IsA(at->def, PartitionCmd)
                ? RangeVarGetRelid(castNode(PartitionCmd, at->def)->name, NoLock, true)
            : sub->address.classId == RelationRelationId ? sub->address.objectId
                                                         : InvalidOid;
        if (!OidIsValid(relid)) continue;
        Datum values[2] = {CStringGetTextDatum(name), ObjectIdGetDatum(relid)};
        bool nulls[2] = {false, false};
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }
    return (Datum)0;
}

// The guard's ddl_command_start trigger: DETACH PARTITION ... CONCURRENTLY commits its first
// transaction (the partition's rows leave the parent) before any ddl_command_end trigger could
// refuse it, so it is checked here, before it starts, by the SQL function
// cluster_hierarchy_guard_detach(parent regclass) of this function's own schema.
GEOCLUSTER_FUNCTION(cluster_hierarchy_guard_start) {
    if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cluster_hierarchy_guard_start runs only as an event trigger")));
    const EventTriggerData* trig = reinterpret_cast<const EventTriggerData*>(fcinfo->context);
    if (!IsA(trig->parsetree, AlterTableStmt)) return (Datum)0;
    const AlterTableStmt* stmt = castNode(AlterTableStmt, trig->parsetree);
    bool concurrent_detach = false;
    ListCell* cell;
    foreach (cell, stmt->cmds) {
        const AlterTableCmd* at = castNode(AlterTableCmd, lfirst(cell));
        if (at->subtype == AT_DetachPartition && castNode(PartitionCmd, at->def)->concurrent)
            concurrent_detach = true;
    }
    if (!concurrent_detach) return (Datum)0;
    const Oid parent = RangeVarGetRelid(stmt->relation, NoLock, true);
    if (!OidIsValid(parent)) return (Datum)0;  // PostgreSQL reports the missing table itself
    // Found in the catalog, not by name: a name in this schema needs USAGE on it, which the role
    // running the DDL need not have (the function itself leaves at once a table no hierarchy has).
    const Oid nsp = get_func_namespace(fcinfo->flinfo->fn_oid);
    Oid arg_types[1] = {REGCLASSOID};
    const Oid check = GetSysCacheOid3(
        PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("cluster_hierarchy_guard_detach"),
        PointerGetDatum(buildoidvector(arg_types, 1)), ObjectIdGetDatum(nsp));
    if (!OidIsValid(check))
        elog(ERROR, "cluster hierarchy: cluster_hierarchy_guard_detach(regclass) is missing");
    OidFunctionCall1(check, ObjectIdGetDatum(parent));
    return (Datum)0;
}
