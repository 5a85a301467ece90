// geocluster_version(): the version of the loaded library, which may differ from the version
// of the SQL objects (pg_extension.extversion) between `make install` and ALTER EXTENSION UPDATE.
#include "glue.hpp"

// The Makefile defines GEOCLUSTER_VERSION from the control file's default_version.
#ifndef GEOCLUSTER_VERSION
#error "GEOCLUSTER_VERSION is defined by the Makefile (the control file's default_version)"
#endif

GEOCLUSTER_FUNCTION(geocluster_version) { PG_RETURN_TEXT_P(cstring_to_text(GEOCLUSTER_VERSION)); }
