// The clustering engine behind the SQL aggregate cluster_agg: pixel-distance marker clustering
// ("two markers closer than radius_px on screen at this zoom become one"), computed in
// bounded memory, deterministic for any row order and any parallel split.
//
// Life of a group of rows:
//
//   cluster_create(zoom, radius_px, has_id, alloc)      once, in the aggregate context
//   cluster_add_point(...) / cluster_add_mercator(...)  per row: noexcept, O(1), allocates only
//                                                         when a new bin needs the table to grow
//   cluster_serialize / cluster_deserialize / cluster_merge   parallel aggregation
//   cluster_finalize(state, cancel) -> ClusterList      once per final call; state is unchanged
//
// Cancellation. Every call whose work grows with the bins (finalize, serialize, deserialize,
// merge) takes a CancelCheck and polls it every few thousand steps, sorts included, and then
// returns Status::Canceled: a cancelled query stops within milliseconds at any size. (The
// per-row functions do O(1) work, the buffer's fold at most 256 points: they do not poll.)
//
// Buffering. The add functions keep up to 256 points (16 at first) in a buffer and fold them into
// the bins a batch at a time (why: cluster_internal.hpp). Every function that reads the bins folds
// the buffer in first; that changes the representation, not the value, so they still take a const
// state. An allocation failure while folding is Status::OutOfMemory from whichever call folded.
//
// Memory. Every byte (the state, its tables, finalize's scratch and its result) comes from the
// caller's Allocator, and everything the state holds is trivially destructible: the glue hands
// in a PostgreSQL memory context, and a cancelled query frees it wholesale without running any
// destructor. An allocation failure is Status::OutOfMemory, never an exception, and leaves the
// state as it was. The state grows with the number of occupied bins, not with rows, and never
// past the allocator's budget (Status::StateTooLarge, see Allocator).
//
// Units. lat/lon in degrees; x/y in Web Mercator unit coordinates (mercator.hpp); names ending
// in _px are world pixels at 256 px tiles, W = 256 * 2^zoom px across.
//
// Output contract (property-tested in test/unit/cluster_test.cpp against a slow reference):
//  1. Conservation: the counts add up to the number of points added.
//  2. Separation:   no two centres are closer than radius_px (world pixels at `zoom`), x distance
//                   measured across the antimeridian as well: dx = min(|dx|, W - |dx|). To stay
//                   true after rounding, the engine also merges centres up to 2.3e-13 world
//                   widths beyond radius_px (0.03 px at zoom 29, far less below).
//  3. Membership:   every point is in exactly one cluster; the bounds are the exact bounding box
//                   of the members' original lat/lon (latitudes are not clamped there). Longitude
//                   bounds take the smaller of two boxes: the ordinary [min_lon, max_lon], or, when
//                   members lie on both sides of the antimeridian and that is shorter, the box
//                   that crosses it, reported with min_lon > max_lon (RFC 7946 section 5.2):
//                   min_lon = the westernmost member with lon >= 0, max_lon = the easternmost
//                   member with lon < 0. Spans are compared as (max_lon - min_lon) against
//                   360 - (min_lon_east - max_lon_west); a tie keeps the ordinary box.
//  4. Centre:       the count-weighted mean of the members' positions in Web Mercator unit
//                   coordinates, converted to lat/lon. A member's position is
//                   x = (lon + 180) / 360 and y = mercator_y_series(lat) (mercator_series.hpp: Web
//                   Mercator y within 6e-16) clamped to [0, 1] (or the unit
//                   position the caller gave), rounded to a multiple of 2^-48. When the bounds
//                   cross the antimeridian, members with lon < 0 count as x + 1, and a mean above
//                   1 is wrapped back by subtracting 1. Sums are exact integers, so the centre is
//                   independent of row order and split, and within about 1e-12 degrees of the
//                   mean of the unrounded positions (the tests allow 1e-9). The centre lon lies
//                   in [-180, 180].
//  5. Determinism:  identical output, order included, for any row order and any split into
//                   partial states merged in any order or serialised in between. Order: count
//                   descending, then centre y ascending (north first), then centre x ascending
//                   (west first), comparing the exact, unrounded centres. By the separation
//                   guarantee no two centres coincide, so this order is already total (a rank
//                   derived from the bin keys breaks the tie that cannot happen).
//  6. id:           the marker's id when count = 1, otherwise the smallest id among the members
//                   that have one (has_id = false when none has, or when the state was created
//                   without ids; the glue outputs NULL then).
//  7. Memory:       grows with the occupied bins (squares of radius_px / 4), never with the rows.
//
// How the guarantees hold is explained where they are implemented: binning and exact sums in
// cluster.cpp, the clustering passes in cluster_finalize.cpp, the wire format in
// cluster_serial.cpp.
#pragma once

#include "core.hpp"

namespace geocluster {

// Where the engine's memory comes from. alloc returns nullptr on failure (the engine turns that
// into Status::OutOfMemory; it never throws) and memory at least 8-byte aligned (PostgreSQL's
// MAXALIGN; nothing in the engine needs more). release may be a no-op for arena allocators.
//
// budget_bytes (0: no limit) bounds what one state has allocated at any moment: its tables
// (cluster_estimate_bytes), plus the old ones while a growth copies them, plus finalize's
// scratch while it runs. A growth that would pass it is refused before anything is allocated,
// with Status::StateTooLarge, the state unchanged. (Not counted: serialize's output and its
// 4 bytes of scratch per bin, and finalize's result, one Cluster per cluster.) The glue sets it
// from geocluster.max_state_memory; a state keeps the allocator it was created with.
struct Allocator {
    void* (*alloc)(void* ctx, std::size_t bytes);
    void (*release)(void* ctx, void* p);
    void* ctx;
    std::size_t budget_bytes;
};

// Polled every few thousand steps of finalize, serialize, deserialize and merge. Must not throw
// or longjmp: it only answers. A null function never cancels.
struct CancelCheck {
    bool (*should_cancel)(void* ctx);
    void* ctx;
};

// One output row of cluster_agg.
struct Cluster {
    std::int64_t count;
    double lat, lon;                            // centre (contract 4)
    double min_lat, min_lon, max_lat, max_lon;  // bounds (contract 3), min_lon > max_lon at 180
    std::int64_t id;                            // valid when has_id (contract 6)
    bool has_id;
};

static_assert(sizeof(Cluster) == 72, "a result row is 72 bytes (README, Memory)");

// A finalize result. items is allocated with the state's allocator; free it with
// cluster_free_list (or let the memory context go).
struct ClusterList {
    Cluster* items;
    std::size_t size;
};

struct ClusterState;  // opaque; trivially destructible, lives entirely in allocator memory

constexpr double kDefaultRadiusPx = 60.0;

// zoom 0..29 (ZoomOutOfRange), radius_px finite and > 0 (RadiusInvalid). has_id says whether the
// aggregate has an id column; without it, ids passed to the add functions are ignored.
Status cluster_create(int zoom, double radius_px, bool has_id, const Allocator& alloc,
                      ClusterState** out) noexcept;

// Releases everything the state owns (not the lists finalize returned). Null is fine.
void cluster_destroy(ClusterState* state) noexcept;

// The glue's per-row check that a group uses one zoom/radius/id flag; ClusterParamsDiffer when not.
Status cluster_check_params(const ClusterState* state, int zoom, double radius_px,
                            bool has_id) noexcept;

// A marker at lat/lon (degrees): lat in [-90, 90], lon in [-180, 180], finite. has_id = false
// stands for a NULL id. Latitudes beyond +-85.05112878 are clamped for the position only.
Status cluster_add_point(ClusterState* state, double lat, double lon, bool has_id,
                         std::int64_t id) noexcept;

// A marker given by its Web Mercator unit position (x, y in [0, 1], e.g. the exact centre of a
// quadkey or geohash cell) and a representative lat/lon used for the bounds and to tell which
// side of the antimeridian it counts on (lon < 0: west). The position decides bin and centre.
// It must lie within 64 / 2^48 (2.3e-13) of lat/lon's own position, clamped as
// cluster_add_point clamps it (else UnitPositionOutOfRange): a state's bounds and centres then
// agree, which cluster_deserialize checks.
Status cluster_add_mercator(ClusterState* state, double unit_x, double unit_y, double lat,
                            double lon, bool has_id, std::int64_t id) noexcept;

// A marker standing at a cell's centre, given as its exact unit position (quadkey and geohash
// cells: dyadic fractions, exact in fixed point; anything else is UnitPositionOutOfRange). The
// marker's lat/lon, for bounds and side, are mercator_lat(unit_y) and mercator_lon(unit_x),
// exactly what quadkey_center returns, computed only in the batch (cluster_internal.hpp).
Status cluster_add_cell_centre(ClusterState* state, double unit_x, double unit_y, bool has_id,
                               std::int64_t id) noexcept;

// Adds src's points to dst (the combine step of parallel aggregation); src is unchanged. The
// result is identical to having added all points to dst. Fails without changing dst:
// ClusterParamsDiffer, OutOfMemory, ClusterTooManyPoints; dst == src is Internal. Canceled
// (when cancel says so) may leave dst holding part of src's bins: a consistent state, but not
// the merge, for the caller to discard.
Status cluster_merge(ClusterState* dst, const ClusterState* src, CancelCheck cancel) noexcept;

// Serialised form (format in cluster_serial.cpp). serialize does not change the state's value; it
// needs out_len >= cluster_serialized_size(state) (Internal otherwise) and a little scratch
// memory from the state's allocator (OutOfMemory), Canceled when cancel says so (out is then
// incomplete). Equal bin sets give equal bytes.
// cluster_serialized_size is SIZE_MAX when the state could not get the memory to fold in its last
// points (see "Buffering" above).
std::size_t cluster_serialized_size(const ClusterState* state) noexcept;
Status cluster_serialize(const ClusterState* state, std::uint8_t* out, std::size_t out_len,
                         CancelCheck cancel) noexcept;

// Validates everything and never trusts a length: StateBadVersion for an unknown version,
// StateCorrupt for anything else malformed, OutOfMemory, StateTooLarge when the state would not
// fit alloc's budget (checked before its tables are allocated), Canceled when cancel says so.
// Allocates O(len) at most.
Status cluster_deserialize(const std::uint8_t* bytes, std::size_t len, const Allocator& alloc,
                           ClusterState** out, CancelCheck cancel) noexcept;

// Clusters the state (which is not modified, so a final function may run more than once).
// Canceled when cancel says so; OutOfMemory; StateTooLarge when the state and the scratch
// would pass the state's budget. On failure *out is {nullptr, 0}.
Status cluster_finalize(const ClusterState* state, CancelCheck cancel, ClusterList* out) noexcept;
void cluster_free_list(const Allocator& alloc, ClusterList* list) noexcept;

// Bytes the state holds now (state, bin array, hash slots, point buffer): what the budget bounds.
std::size_t cluster_estimate_bytes(const ClusterState* state) noexcept;

// What the last growth the budget refused would have had live at once (StateTooLarge from an
// add or a merge), 0 when none was: for the error message.
std::size_t cluster_refused_bytes(const ClusterState* state) noexcept;

int cluster_zoom(const ClusterState* state) noexcept;
double cluster_radius_px(const ClusterState* state) noexcept;
bool cluster_has_id(const ClusterState* state) noexcept;
std::uint64_t cluster_point_count(const ClusterState* state) noexcept;
std::size_t cluster_bin_count(const ClusterState* state) noexcept;  // folded bins (see Buffering)
const Allocator& cluster_allocator(const ClusterState* state) noexcept;

// ---- Diagnostics (used by the unit tests to check membership against a reference) ----------

// A bin: column << 1 | (lon < 0), and row, of the radius_px / 4 grid at the state's zoom.
struct ClusterBinKey {
    std::uint64_t kx, ky;
};
struct ClusterBinAssignment {
    ClusterBinKey key;
    std::size_t cluster;  // index into the ClusterList
};

// The bin a point would go to (same validation as the add functions).
Status cluster_bin_key(const ClusterState* state, double lat, double lon,
                       ClusterBinKey* out) noexcept;
Status cluster_bin_key_mercator(const ClusterState* state, double unit_x, double unit_y, double lat,
                                double lon, ClusterBinKey* out) noexcept;

struct ClusterFinalizeStats {
    std::uint32_t passes;       // clustering passes run (the last one changes nothing)
    std::size_t scratch_bytes;  // peak scratch memory, result excluded
    std::size_t state_bytes;    // the state's bytes meanwhile (hash slots released): the budget
                                // bounds state_bytes + scratch_bytes
    std::uint64_t near_visits;  // grid entries visited by neighbour queries, all passes (work)
};

// cluster_finalize, plus which cluster each bin went to: *assign (allocated with the state's
// allocator, release it with alloc.release; sorted by key) has one entry per bin. Every point of
// a bin is in that bin's cluster. assign may be null (no assignment); stats may be null.
Status cluster_finalize_assign(const ClusterState* state, CancelCheck cancel, ClusterList* out,
                               ClusterBinAssignment** assign, std::size_t* n_assign,
                               ClusterFinalizeStats* stats) noexcept;

}  // namespace geocluster
