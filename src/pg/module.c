/*
 * The module magic block lives in plain C: PG_MODULE_MAGIC expands to a C declaration that the
 * server looks up with dlsym, and keeping it here keeps every C++ file free of it. _PG_init
 * defines the module's settings.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void _PG_init(void);

/*
 * geocluster.max_state_memory, in kB: the most memory one cluster_agg / cluster_state_agg state
 * has allocated at any moment (its tables, the old ones while a growth copies them, and its
 * finalisation scratch), in a parallel worker or the leader, read by the glue each time it
 * creates a state (src/pg/cluster_agg.cpp; the accounting is the core's, cluster.hpp).
 *
 * Default 256 MB: about 600,000 occupied bins finalised one cluster per bin (the zoom-29 worst
 * case), more when bins merge; a screen-sized viewport occupies a few tens of thousands at most.
 * Not tied to work_mem: that is a per-sort/hash budget that spills to disk past it (4 MB by
 * default), where this state cannot spill and its limit ends the query.
 *
 * PGC_USERSET, like work_mem: the threat is a zoom or radius that a web client passes through an
 * application, which this bounds whatever the client asks; a session that can run SET can also
 * run array_agg over any table, so PGC_SUSET would protect nothing, and a role that needs larger
 * states (a nightly job storing world-wide states) can raise it for itself.
 */
extern int geocluster_max_state_memory_kb;
int geocluster_max_state_memory_kb = 256 * 1024;

void _PG_init(void) {
    DefineCustomIntVariable("geocluster.max_state_memory",
                            "Largest memory one cluster_agg or cluster_state_agg state may use.",
                            "Its tables, their copies while they grow and its finalisation scratch "
                            "together, per state in each process; past it the query fails with "
                            "SQLSTATE 54000.",
                            &geocluster_max_state_memory_kb, 256 * 1024, 64, MAX_KILOBYTES,
                            PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
    MarkGUCPrefixReserved("geocluster");
}
