// Viewport covers (src/sql/geocluster/40_cover.sql): every cell of one level that a lat/lon
// box touches, as an array in ascending order, and the same cover merged into code ranges.
// The geometry lives in src/core/cover.hpp; this file sizes, allocates and packs.
//
// Memory: the core counts the cover first (O(1)) and refuses one above kMaxCoverCells with
// CoverTooLarge, so nothing is allocated for a request we would refuse; the codes then go
// straight into a palloc'd buffer.
#include "celltype.hpp"

#include "cell_tree.hpp"
#include "cover.hpp"

namespace {

using namespace geocluster;
using geocluster::pg::code_datum;
using geocluster::pg::datum_code;
using geocluster::pg::raise_status;

// cell <@ cells: is the cell inside one of the array's cells? NULL elements behave as in
// `= ANY`: no match and a NULL element give NULL. A linear scan over the array as stored (no
// copy): covers are small, and the planner support rewrites a constant cover into index ranges
// before this runs on many rows (see planner_cover.cpp).
template <typename Kind>
Datum contained_any(FunctionCallInfo fcinfo) {
    const std::uint64_t v = datum_code(PG_GETARG_DATUM(0));
    ArrayType* arr = PG_GETARG_ARRAYTYPE_P(1);
    const int n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
    const char* data = ARR_DATA_PTR(arr);
    const bits8* nulls = ARR_NULLBITMAP(arr);
    bool saw_null = false;
    for (int i = 0; i < n; ++i) {
        if (nulls != nullptr && (nulls[i / 8] & (1 << (i % 8))) == 0) {
            saw_null = true;
            continue;
        }
        std::uint64_t cell;
        std::memcpy(&cell, data, sizeof(cell));
        data += sizeof(cell);
        if (Kind::contains(cell, v)) PG_RETURN_BOOL(true);
    }
    if (saw_null) PG_RETURN_NULL();
    PG_RETURN_BOOL(false);
}

LatLonBox box_args(FunctionCallInfo fcinfo) {
    return LatLonBox{PG_GETARG_FLOAT8(0), PG_GETARG_FLOAT8(1), PG_GETARG_FLOAT8(2),
                     PG_GETARG_FLOAT8(3)};
}

[[noreturn]] void raise_cover(Status s, const LatLonBox& b, const char* level_name, int level,
                              std::uint64_t n) {
    if (s == Status::CoverTooLarge) {
        raise_status(s,
                     "the box (%g, %g, %g, %g) at %s %d needs " UINT64_FORMAT
                     " cells; the limit is " UINT64_FORMAT,
                     b.min_lat, b.min_lon, b.max_lat, b.max_lon, level_name, level,
                     static_cast<uint64>(n), static_cast<uint64>(kMaxCoverCells));
    }
    raise_status(s, "min_lat = %g, min_lon = %g, max_lat = %g, max_lon = %g, %s = %d", b.min_lat,
                 b.min_lon, b.max_lat, b.max_lon, level_name, level);
}

// The cover of the call's box at its level, in a palloc'd array; *n receives its length.
template <typename Count, typename Fill>
std::uint64_t* cover(FunctionCallInfo fcinfo, const char* level_name, Count count, Fill fill,
                     std::size_t* n) {
    const LatLonBox box = box_args(fcinfo);
    const int32 level = PG_GETARG_INT32(4);
    std::uint64_t needed = 0;
    Status s = count(box, level, &needed);
    if (s != Status::Ok) raise_cover(s, box, level_name, level, needed);
    std::uint64_t* codes =
        static_cast<std::uint64_t*>(palloc(sizeof(std::uint64_t) * (needed > 0 ? needed : 1)));
    s = fill(box, level, codes, static_cast<std::size_t>(needed), n);
    if (s != Status::Ok) raise_cover(s, box, level_name, level, needed);
    return codes;
}

// Returns the ranges [lo, hi] of a cover as rows (value-per-call SRF). ranges_of merges the
// cover, computed on the first call, into ranges kept in the multi-call context.
struct RangeSet {
    CodeRange* ranges;
    std::size_t n;
};

template <typename Count, typename Fill, typename Merge>
Datum cover_ranges_srf(FunctionCallInfo fcinfo, const char* level_name, Count count, Fill fill,
                       Merge merge) {
    FuncCallContext* funcctx;
    if (SRF_IS_FIRSTCALL()) {
        funcctx = SRF_FIRSTCALL_INIT();
        MemoryContext old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
            elog(ERROR,
                 "geocluster: function returning record called in a context that cannot accept it");
        }
        funcctx->tuple_desc = BlessTupleDesc(desc);
        std::size_t n = 0;
        std::uint64_t* cells = cover(fcinfo, level_name, count, fill, &n);
        RangeSet* set = static_cast<RangeSet*>(palloc(sizeof(RangeSet)));
        set->ranges = static_cast<CodeRange*>(palloc(sizeof(CodeRange) * (n > 0 ? n : 1)));
        set->n = merge(cells, n, set->ranges);
        pfree(cells);
        funcctx->user_fctx = set;
        funcctx->max_calls = static_cast<uint64>(set->n);
        MemoryContextSwitchTo(old);
    }
    funcctx = SRF_PERCALL_SETUP();
    if (funcctx->call_cntr < funcctx->max_calls) {
        const RangeSet* set = static_cast<const RangeSet*>(funcctx->user_fctx);
        const CodeRange r = set->ranges[funcctx->call_cntr];
        Datum values[2] = {code_datum(r.lo), code_datum(r.hi)};
        bool nulls[2] = {false, false};
        HeapTuple tuple = heap_form_tuple(funcctx->tuple_desc, values, nulls);
        SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(tuple));
    }
    SRF_RETURN_DONE(funcctx);
}

}  // namespace

// quadkey_cover(min_lat, min_lon, max_lat, max_lon, zoom) -> quadkey[]
GEOCLUSTER_FUNCTION(quadkey_cover) {
    std::size_t n = 0;
    std::uint64_t* codes = cover(fcinfo, "zoom", quadkey_cover_count, quadkey_cover_fill, &n);
    return geocluster::pg::codes_to_array(fcinfo, codes, static_cast<int>(n));
}

// geohash_cover(min_lat, min_lon, max_lat, max_lon, precision) -> geohash[]
GEOCLUSTER_FUNCTION(geohash_cover) {
    std::size_t n = 0;
    std::uint64_t* codes = cover(fcinfo, "precision", geohash_cover_count, geohash_cover_fill, &n);
    return geocluster::pg::codes_to_array(fcinfo, codes, static_cast<int>(n));
}

// quadkey_cover_ranges(min_lat, min_lon, max_lat, max_lon, zoom) -> SETOF (lo, hi)
GEOCLUSTER_FUNCTION(quadkey_cover_ranges) {
    return cover_ranges_srf(fcinfo, "zoom", quadkey_cover_count, quadkey_cover_fill,
                            &geocluster::quadkey_cover_ranges);
}

GEOCLUSTER_FUNCTION(geohash_cover_ranges) {
    return cover_ranges_srf(fcinfo, "precision", geohash_cover_count, geohash_cover_fill,
                            &geocluster::geohash_cover_ranges);
}

// quadkey <@ quadkey[], geohash <@ geohash[]
GEOCLUSTER_FUNCTION(quadkey_contained_any) { return contained_any<QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_contained_any) { return contained_any<GeohashKind>(fcinfo); }
