// cluster_hierarchy_ddl_changes(pg_ddl_command): the subcommands of an ALTER TABLE that move rows
// into or out of a table's inheritance tree (ATTACH/DETACH PARTITION, INHERIT/NO INHERIT), for
// the DDL guard of 61_hierarchy_guard.sql. SQL sees a pg_ddl_command only as an opaque value, and
// these subcommands change a hierarchy's rows without any DML its write trigger could refuse.
#include "glue.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "nodes/parsenodes.h"
#include "tcop/deparse_utility.h"
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
