// The one place where a core Status becomes a PostgreSQL error. The message comes from the
// status table in src/core/status.hpp; the SQLSTATE from the status's class.
#include "glue.hpp"

namespace geocluster::pg {
namespace {

// One case per error class; the cases look alike because a mapping table does.
int sqlstate_for(ErrorClass cls) {
    switch (cls) {
        case ErrorClass::InvalidText:
            return ERRCODE_INVALID_TEXT_REPRESENTATION;  // 22P02
        case ErrorClass::OutOfRange:
            return ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE;  // 22003
        case ErrorClass::InvalidParameter:
            return ERRCODE_INVALID_PARAMETER_VALUE;  // 22023
        case ErrorClass::BadBinary:
            return ERRCODE_INVALID_BINARY_REPRESENTATION;  // 22P03
        case ErrorClass::ProgramLimit:
            return ERRCODE_PROGRAM_LIMIT_EXCEEDED;  // 54000
        case ErrorClass::OutOfMemory:
            return ERRCODE_OUT_OF_MEMORY;  // 53200
        case ErrorClass::Canceled:
            return ERRCODE_QUERY_CANCELED;  // 57014
        case ErrorClass::None:
        case ErrorClass::Internal:
            break;
    }
    return ERRCODE_INTERNAL_ERROR;  // XX000
}

}  // namespace

void raise_status(Status status, const char* detail_fmt, ...) {
    const ErrorClass cls = status_class(status);
    if (cls == ErrorClass::Canceled) {
        // The core noticed a pending interrupt and stopped early: let PostgreSQL raise its
        // own cancel/timeout error with the usual message.
        CHECK_FOR_INTERRUPTS();
    }
    char detail[512];
    detail[0] = '\0';
    if (detail_fmt != nullptr) {
        va_list args;
        va_start(args, detail_fmt);
        pg_vsnprintf(detail, sizeof(detail), detail_fmt, args);
        va_end(args);
    }
    const char* hint = status_hint(status);
    ereport(ERROR, (errcode(sqlstate_for(cls)), errmsg("%s", status_message(status)),
                    detail[0] != '\0' ? errdetail("%s", detail) : 0,
                    hint != nullptr ? errhint("%s", hint) : 0));
    pg_unreachable();
}

void raise_exception(ErrorClass cls, const char* what) {
    ereport(ERROR, (errcode(sqlstate_for(cls)), errmsg("geocluster: %s", what),
                    errhint("This is a C++ exception caught at the error boundary; the session is "
                            "unaffected.")));
    pg_unreachable();
}

void* context_alloc(void* memory_context, std::size_t bytes) noexcept {
    // Past MaxAllocHugeSize PostgreSQL would elog(ERROR) instead of returning NULL.
    if (bytes == 0 || bytes > MaxAllocHugeSize) return nullptr;
    return MemoryContextAllocExtended(static_cast<MemoryContext>(memory_context), bytes,
                                      MCXT_ALLOC_NO_OOM | MCXT_ALLOC_HUGE);
}

void context_free(void*, void* pointer) noexcept {
    if (pointer != nullptr) pfree(pointer);
}

}  // namespace geocluster::pg
