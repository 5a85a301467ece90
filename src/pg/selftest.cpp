// geocluster_selftest(kind text): exercises the error boundary from SQL (see
// src/core/selftest.hpp).
#include "glue.hpp"
#include "selftest.hpp"

GEOCLUSTER_FUNCTION(geocluster_selftest) {
    const char* name = text_to_cstring(PG_GETARG_TEXT_PP(0));
    geocluster::SelftestKind kind;
    geocluster::Status status;
    if (!geocluster::selftest_kind_from_name(name, &kind, &status)) {
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("unknown selftest kind \"%s\"", name),
                        errhint("Use one of: ok, status, status:<StatusName>, exception, "
                                "bad_alloc, huge_vector.")));
    }
    geocluster::pg::check(geocluster::selftest_run(kind, status));
    PG_RETURN_BOOL(true);
}
