// Deliberate failures, reachable from SQL through geocluster_selftest(), so that the error
// boundary can be tested in the real server (the regression suite does) and checked on any
// installation: each kind must come back as an ERROR and leave the session usable.
#pragma once

#include "core.hpp"

namespace geocluster {

enum class SelftestKind : std::uint8_t {
    Ok,            // returns Status::Ok
    Status,        // returns a chosen failure status (default Status::TestException)
    Exception,     // throws std::runtime_error from inside the core
    BadAlloc,      // throws std::bad_alloc, as a failed container allocation would
    NestedVector,  // a real allocation failure: asks std::vector for more than max_size()
};

// Parses the SQL-level kind name; false when unknown. "status:<Name>" selects Status and
// names the status to return (any name of GEOCLUSTER_STATUS_LIST), so that the regression
// suite can check the SQLSTATE of every status against its documented class.
bool selftest_kind_from_name(const char* name, SelftestKind* out,
                             geocluster::Status* status) noexcept;

// Runs the requested failure. May throw: callers must sit behind the error boundary.
Status selftest_run(SelftestKind kind, geocluster::Status status);

}  // namespace geocluster
