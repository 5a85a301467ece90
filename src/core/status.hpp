// Failure statuses of the core, and the one table that gives each its message and class.
//
// The class decides the SQLSTATE (mapped once, in src/pg/error.cpp):
//   InvalidText       -> 22P02 invalid_text_representation
//   OutOfRange        -> 22003 numeric_value_out_of_range
//   InvalidParameter  -> 22023 invalid_parameter_value
//   BadBinary         -> 22P03 invalid_binary_representation
//   ProgramLimit      -> 54000 program_limit_exceeded
//   OutOfMemory       -> 53200 out_of_memory
//   Canceled          -> the glue calls CHECK_FOR_INTERRUPTS (57014 query_canceled)
//   Internal          -> XX000 internal_error (a bug: please report it)
#pragma once

#include <cstdint>

namespace geocluster {

enum class ErrorClass : std::uint8_t {
    None,
    InvalidText,
    OutOfRange,
    InvalidParameter,
    BadBinary,
    ProgramLimit,
    OutOfMemory,
    Canceled,
    Internal,
};

// X(name, class, message). Messages are complete sentences a user can act on; the glue adds
// the offending value as errdetail. Add new statuses here and nowhere else (the rows look alike:
// this is a table).
#define GEOCLUSTER_STATUS_LIST(X)                                                                  \
    X(Ok, None, "success")                                                                         \
    X(QuadkeyBadDigit, InvalidText, "invalid quadkey: digits must be 0, 1, 2 or 3")                \
    X(QuadkeyTooLong, InvalidText,                                                                 \
      "invalid quadkey: more than 29 digits (the deepest level is 29)")                            \
    X(GeohashBadChar, InvalidText,                                                                 \
      "invalid geohash: characters must come from the base32 alphabet 0-9 b-h j k m n p-z")        \
    X(GeohashTooLong, InvalidText, "invalid geohash: more than 12 characters")                     \
    X(LatNotFinite, OutOfRange, "latitude must be a finite number")                                \
    X(LonNotFinite, OutOfRange, "longitude must be a finite number")                               \
    X(LatOutOfRange, OutOfRange, "latitude must be between -90 and 90 degrees")                    \
    X(LonOutOfRange, OutOfRange, "longitude must be between -180 and 180 degrees")                 \
    X(ZoomOutOfRange, OutOfRange, "zoom must be between 0 and 29")                                 \
    X(PrecisionOutOfRange, OutOfRange, "geohash precision must be between 0 and 12")               \
    X(TileOutOfRange, OutOfRange, "tile x and y must be between 0 and 2^zoom - 1")                 \
    X(BigintOutOfRange, OutOfRange,                                                                \
      "bigint quadkey does not fit the given zoom (needs 0 <= value < 4^zoom)")                    \
    X(ParentTooDeep, InvalidParameter, "the parent level must not be deeper than the cell itself") \
    X(RadiusInvalid, InvalidParameter, "radius_px must be a finite number greater than 0")         \
    X(BoxInvalid, InvalidParameter, "the box needs min_lat <= max_lat and finite coordinates")     \
    X(CoverTooLarge, ProgramLimit,                                                                 \
      "the cover would need too many cells: use a coarser level or a smaller box")                 \
    X(UnitPositionOutOfRange, OutOfRange,                                                          \
      "Web Mercator unit coordinates must be finite and between 0 and 1")                          \
    X(ClusterParamsDiffer, InvalidParameter,                                                       \
      "cluster_agg needs the same zoom, radius_px and id column for every row of a group")         \
    X(ClusterTooManyPoints, ProgramLimit,                                                          \
      "cluster_agg cannot count more than 2^46 points in one group")                               \
    X(StateTooLarge, ProgramLimit, "cluster_agg state would exceed geocluster.max_state_memory")   \
    X(MergeZoomInvalid, InvalidParameter, "cluster_viewport_merge: zoom must be between 0 and 30") \
    X(MergeRadiusInvalid, InvalidParameter,                                                        \
      "cluster_viewport_merge: radius_px must be between 0 and 1e6")                               \
    X(MergePartInvalid, InvalidParameter,                                                          \
      "cluster_viewport_merge: a node of one marker cannot have a box on both sides of longitude " \
      "0 or 180")                                                                                  \
    X(HierarchyIdsExhausted, ProgramLimit,                                                         \
      "the cluster hierarchy has no cluster ids left at a zoom (2^40 per zoom)")                   \
    X(HierarchyBlockFull, ProgramLimit,                                                            \
      "a block of the cluster hierarchy would hold more nodes than its ids can number")            \
    X(HierarchyWriteTooLarge, ProgramLimit,                                                        \
      "a write to a cluster hierarchy would touch more of it than geocluster.max_state_memory "    \
      "allows")                                                                                    \
    X(HierarchyReadFailed, Internal, "reading a block of a cluster hierarchy failed")              \
    X(StateBadVersion, BadBinary, "cluster_agg state has an unknown serialisation version")        \
    X(StateCorrupt, BadBinary, "cluster_agg state is malformed")                                   \
    X(HierarchyBlockCorrupt, BadBinary, "a block of a cluster hierarchy's tables is malformed")    \
    X(OutOfMemory, OutOfMemory, "out of memory")                                                   \
    X(Canceled, Canceled, "canceled")                                                              \
    X(TestException, Internal, "test-only failure status raised on request")                       \
    X(Internal, Internal, "internal error in geocluster core")

enum class Status : std::uint8_t {
#define GEOCLUSTER_X(name, cls, msg) name,
    GEOCLUSTER_STATUS_LIST(GEOCLUSTER_X)
#undef GEOCLUSTER_X
};

constexpr const char* status_message(Status s) noexcept {
    switch (s) {
#define GEOCLUSTER_X(name, cls, msg) \
    case Status::name:               \
        return msg;
        GEOCLUSTER_STATUS_LIST(GEOCLUSTER_X)
#undef GEOCLUSTER_X
    }
    return "unknown status";
}

// What the user can change, for the few statuses where that is not plain from the message
// (the glue adds it as errhint); nullptr for the others.
constexpr const char* status_hint(Status s) noexcept {
    switch (s) {
        case Status::StateTooLarge:
            return "Cluster fewer occupied bins: lower the zoom, raise radius_px or filter the "
                   "rows to a "
                   "smaller viewport; or raise geocluster.max_state_memory.";
        default:
            return nullptr;
    }
}

constexpr ErrorClass status_class(Status s) noexcept {
    switch (s) {
#define GEOCLUSTER_X(name, cls, msg) \
    case Status::name:               \
        return ErrorClass::cls;
        GEOCLUSTER_STATUS_LIST(GEOCLUSTER_X)
#undef GEOCLUSTER_X
    }
    return ErrorClass::Internal;
}

constexpr const char* status_name(Status s) noexcept {
    switch (s) {
#define GEOCLUSTER_X(name, cls, msg) \
    case Status::name:               \
        return #name;
        GEOCLUSTER_STATUS_LIST(GEOCLUSTER_X)
#undef GEOCLUSTER_X
    }
    return "Unknown";
}

}  // namespace geocluster
