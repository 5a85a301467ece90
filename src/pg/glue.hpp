// The glue layer's one include: PostgreSQL headers (inside extern "C"), the core, and the
// error boundary every SQL-callable function goes through.
//
// Rules for code in src/pg/ (an ERROR is a longjmp: it skips C++ destructors and must not leave
// a catch block):
//  - Define SQL-callable functions only with GEOCLUSTER_FUNCTION (below). Its body runs inside
//    run_guarded(), which turns any C++ exception into an ERROR after the catch block closed.
//  - While an object with a non-trivial destructor is alive, call nothing that can ereport
//    (palloc, CHECK_FOR_INTERRUPTS, detoasting...). Glue code holds only trivially-destructible
//    data, so an ereport's longjmp skips no destructor.
//  - Report a core failure with raise_status(); never ereport inside a catch block.
#pragma once

#define GEOCLUSTER_GLUE 1

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
}

#include "core.hpp"

#include <cstdarg>
#include <new>

// geocluster.max_state_memory in kB (defined in module.c).
extern "C" int geocluster_max_state_memory_kb;

namespace geocluster::pg {

// Maps a status's class to its SQLSTATE and raises it as an ERROR, with the status's message
// and, when given, a printf-style detail naming the offending value. Never returns.
[[noreturn]] void raise_status(Status status, const char* detail_fmt = nullptr, ...)
    pg_attribute_printf(2, 3);

// Raises the ERROR for a C++ exception caught by the boundary.
[[noreturn]] void raise_exception(ErrorClass cls, const char* what);

// Raises status unless it is Ok (Canceled turns into CHECK_FOR_INTERRUPTS' own error).
inline void check(Status status) {
    if (status != Status::Ok) raise_status(status);
}

// The error boundary. `body` may ereport (a longjmp straight through this frame is fine: it
// holds nothing with a destructor); a C++ exception is caught, its text copied into a plain
// buffer, and only after the catch block has ended is it reported.
template <typename Body>
inline Datum run_guarded(Body body, FunctionCallInfo fcinfo) noexcept {
    char what[256];
    ErrorClass failure = ErrorClass::None;
    Datum result = (Datum)0;
    try {
        result = body(fcinfo);
    } catch (const std::bad_alloc&) {
        failure = ErrorClass::OutOfMemory;
        strlcpy(what, "out of memory in geocluster", sizeof(what));
    } catch (const std::exception& e) {
        failure = ErrorClass::Internal;
        strlcpy(what, e.what(), sizeof(what));
    } catch (...) {
        failure = ErrorClass::Internal;
        strlcpy(what, "unknown C++ exception", sizeof(what));
    }
    if (failure != ErrorClass::None) raise_exception(failure, what);
    return result;
}

// A core Allocator whose memory comes from a PostgreSQL memory context, so a cancelled query
// or a context reset frees it wholesale. Allocation failure returns nullptr (the core turns it
// into Status::OutOfMemory) instead of ereporting from inside core code.
// The core's cancel hook (CancelCheck::should_cancel): a pending cancel or statement_timeout
// (QueryCancelPending) or terminate (ProcDiePending) stops a core loop with Status::Canceled,
// which raise_status turns into CHECK_FOR_INTERRUPTS' own error.
inline bool interrupt_requested(void*) noexcept { return QueryCancelPending || ProcDiePending; }

void* context_alloc(void* memory_context, std::size_t bytes) noexcept;
void context_free(void* memory_context, void* pointer) noexcept;

}  // namespace geocluster::pg

// Defines a SQL-callable C function `name` whose body runs behind the error boundary:
//
//   GEOCLUSTER_FUNCTION(quadkey_in) {
//       ... PG_GETARG_...; return ...;
//   }
#define GEOCLUSTER_FUNCTION(name)                                  \
    extern "C" {                                                   \
    PG_FUNCTION_INFO_V1(name);                                     \
    }                                                              \
    static Datum name##_body(FunctionCallInfo fcinfo);             \
    extern "C" Datum name(PG_FUNCTION_ARGS) {                      \
        return ::geocluster::pg::run_guarded(name##_body, fcinfo); \
    }                                                              \
    static Datum name##_body([[maybe_unused]] FunctionCallInfo fcinfo)
