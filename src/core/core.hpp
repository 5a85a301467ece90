// geocluster core: pure C++17. Every file in src/core/ includes this header first.
//
// The core knows nothing about PostgreSQL. It is linked alone into the unit tests and the
// fuzz targets, so it can run under ASan/UBSan and libFuzzer without a server. Expected
// failures are returned as a Status (see status.hpp), never thrown: the glue in src/pg/
// turns a Status into an ereport with the SQLSTATE that status.hpp documents.
#pragma once

// The compile-time guard, in two parts:
//  - here: a core translation unit that included a PostgreSQL header before this one mixes the
//    layers (postgres.h defines POSTGRES_H, fmgr.h FMGR_H, c.h C_H). Only the glue, which
//    defines GEOCLUSTER_GLUE in src/pg/glue.hpp, may include both;
//  - in the Makefile: core objects are compiled without the server's include directory, so a
//    PostgreSQL header included after this one is not found at all.
#if !defined(GEOCLUSTER_GLUE) && \
    (defined(POSTGRES_H) || defined(FMGR_H) || defined(C_H) || defined(PG_CONFIG_H))
#error \
    "src/core/ must not include PostgreSQL headers: keep the core pure C++ (see src/core/core.hpp)"
#endif

#if __cplusplus < 201703L
#error "geocluster core needs C++17"
#endif

#include <cstddef>
#include <cstdint>

#include "status.hpp"
