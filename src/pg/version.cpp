// geocluster_version(): the version of the loaded library, which may differ from the version
// of the SQL objects (pg_extension.extversion) between `make install` and ALTER EXTENSION UPDATE.
#include "glue.hpp"

#ifndef GEOCLUSTER_VERSION
#define GEOCLUSTER_VERSION "0.1.0"
#endif

GEOCLUSTER_FUNCTION(geocluster_version) { PG_RETURN_TEXT_P(cstring_to_text(GEOCLUSTER_VERSION)); }
