// Glue shared by the two cell types, quadkey and geohash. Both are 8-byte pass-by-value
// types whose Datum is the core's uint64 code, so I/O, comparison, hashing, containment and
// the small array/set helpers are one template over a traits struct (see quadkey.cpp and
// geohash.cpp), instantiated into SQL-callable functions by GEOCLUSTER_CELLTYPE_FUNCTIONS.
#pragma once

#include "glue.hpp"

extern "C" {
#include "catalog/pg_type_d.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/sortsupport.h"
}

#include <cstring>

static_assert(SIZEOF_DATUM == 8, "geocluster's cell types are 8-byte pass-by-value Datums");

namespace geocluster::pg {

inline Datum code_datum(std::uint64_t code) noexcept { return static_cast<Datum>(code); }
inline std::uint64_t datum_code(Datum d) noexcept { return static_cast<std::uint64_t>(d); }

// Reports a point constructor's failure (quadkey(lat, lon, zoom), geohash(lat, lon, precision))
// with the coordinates in their shortest exact form, so that a rejected 90.0000001 is not
// reported as "90" (%g).
[[noreturn]] inline void raise_point_status(Status s, double lat, double lon,
                                            const char* level_name, int level) {
    char lat_text[DOUBLE_SHORTEST_DECIMAL_LEN], lon_text[DOUBLE_SHORTEST_DECIMAL_LEN];
    double_to_shortest_decimal_buf(lat, lat_text);
    double_to_shortest_decimal_buf(lon, lon_text);
    raise_status(s, "lat = %s, lon = %s, %s = %d", lat_text, lon_text, level_name, level);
}

// Element type of the array this function returns (quadkey[] -> quadkey), looked up from the
// call's declared result type so that it is right whatever schema the extension lives in.
inline Oid result_element_type(FunctionCallInfo fcinfo) {
    const Oid array_type = get_fn_expr_rettype(fcinfo->flinfo);
    const Oid elem = OidIsValid(array_type) ? get_element_type(array_type) : InvalidOid;
    if (!OidIsValid(elem)) elog(ERROR, "geocluster: could not determine the array element type");
    return elem;
}

inline Datum codes_to_array(FunctionCallInfo fcinfo, const std::uint64_t* codes, int n) {
    const Oid elem = result_element_type(fcinfo);
    Datum* values = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
    for (int i = 0; i < n; ++i) values[i] = code_datum(codes[i]);
    ArrayType* arr = construct_array(values, n, elem, 8, true, TYPALIGN_DOUBLE);
    PG_RETURN_ARRAYTYPE_P(arr);
}

// Returns codes[0..n) as a set, one row per call (value-per-call SRF).
inline Datum codes_to_set(FunctionCallInfo fcinfo, const std::uint64_t* codes, int n) {
    FuncCallContext* funcctx;
    if (SRF_IS_FIRSTCALL()) {
        funcctx = SRF_FIRSTCALL_INIT();
        MemoryContext old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
        std::uint64_t* saved =
            static_cast<std::uint64_t*>(palloc(sizeof(std::uint64_t) * (n > 0 ? n : 1)));
        if (n > 0) std::memcpy(saved, codes, sizeof(std::uint64_t) * n);
        funcctx->user_fctx = saved;
        funcctx->max_calls = static_cast<uint64>(n);
        MemoryContextSwitchTo(old);
    }
    funcctx = SRF_PERCALL_SETUP();
    if (funcctx->call_cntr < funcctx->max_calls) {
        const std::uint64_t* saved = static_cast<const std::uint64_t*>(funcctx->user_fctx);
        // Read the value before SRF_RETURN_NEXT: the macro advances call_cntr first.
        const Datum next = code_datum(saved[funcctx->call_cntr]);
        SRF_RETURN_NEXT(funcctx, next);
    }
    SRF_RETURN_DONE(funcctx);
}

// Builds the composite result of a function with OUT parameters from n values (n <= 8), each
// turned into a Datum by to_datum (Float8GetDatum for float8, Int32GetDatum for int4).
template <typename T, typename ToDatum>
Datum values_record(FunctionCallInfo fcinfo, const T* values, int n, ToDatum to_datum) {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
        elog(ERROR,
             "geocluster: function returning record called in a context that cannot accept it");
    desc = BlessTupleDesc(desc);
    Datum datums[8];
    bool nulls[8] = {false, false, false, false, false, false, false, false};
    for (int i = 0; i < n; ++i) datums[i] = to_datum(values[i]);
    HeapTuple tuple = heap_form_tuple(desc, datums, nulls);
    PG_RETURN_DATUM(HeapTupleGetDatum(tuple));
}

inline Datum float8_record(FunctionCallInfo fcinfo, const double* values, int n) {
    return values_record(fcinfo, values, n, [](double v) { return Float8GetDatum(v); });
}

inline Datum int4_record(FunctionCallInfo fcinfo, const std::int32_t* values, int n) {
    return values_record(fcinfo, values, n, [](std::int32_t v) { return Int32GetDatum(v); });
}

// The type-independent part of the cell types, over the core's traits (QuadkeyKind or
// GeohashKind in src/core/cell_tree.hpp): kTypeName, kTextBufSize, parse(), format(),
// is_valid(), compare(), contains(), range_max(), center(), bounds(), neighbors().
template <typename Traits>
struct CellType {
    static Datum in(FunctionCallInfo fcinfo) {
        const char* text = PG_GETARG_CSTRING(0);
        const std::size_t len = std::strlen(text);
        std::uint64_t code = 0;
        const Status s = Traits::parse(text, len, &code);
        if (s != Status::Ok) {
            raise_status(s, "input was \"%.40s%s\"", text, len > 40 ? "..." : "");
        }
        return code_datum(code);
    }

    static Datum out(FunctionCallInfo fcinfo) {
        char buf[Traits::kTextBufSize];
        const std::size_t n = Traits::format(datum_code(PG_GETARG_DATUM(0)), buf);
        buf[n] = '\0';
        PG_RETURN_CSTRING(pstrdup(buf));
    }

    // Binary form: the code as a big-endian int8. recv validates it, because a binary COPY
    // or a client can send any 8 bytes.
    static Datum recv(FunctionCallInfo fcinfo) {
        StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
        const std::uint64_t code = static_cast<std::uint64_t>(pq_getmsgint64(buf));
        if (!Traits::is_valid(code)) {
            ereport(ERROR, (errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
                            errmsg("invalid binary %s value", Traits::kTypeName),
                            errdetail("0x%016llx is not a valid encoding",
                                      static_cast<unsigned long long>(code))));
        }
        return code_datum(code);
    }

    static Datum send(FunctionCallInfo fcinfo) {
        StringInfoData buf;
        pq_begintypsend(&buf);
        pq_sendint64(&buf, static_cast<int64>(datum_code(PG_GETARG_DATUM(0))));
        PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
    }

    static std::uint64_t a0(FunctionCallInfo fcinfo) noexcept {
        return datum_code(PG_GETARG_DATUM(0));
    }
    static std::uint64_t a1(FunctionCallInfo fcinfo) noexcept {
        return datum_code(PG_GETARG_DATUM(1));
    }

    // Unsigned order of the codes is the C-collation order of their text (see the bit
    // layouts in src/core/quadkey.hpp and geohash.hpp); the core's compare is that order.
    static Datum cmp(FunctionCallInfo fcinfo) {
        PG_RETURN_INT32(Traits::compare(a0(fcinfo), a1(fcinfo)));
    }
    static Datum eq(FunctionCallInfo fcinfo) { PG_RETURN_BOOL(a0(fcinfo) == a1(fcinfo)); }
    static Datum ne(FunctionCallInfo fcinfo) { PG_RETURN_BOOL(a0(fcinfo) != a1(fcinfo)); }
    static Datum lt(FunctionCallInfo fcinfo) { PG_RETURN_BOOL(a0(fcinfo) < a1(fcinfo)); }
    static Datum le(FunctionCallInfo fcinfo) { PG_RETURN_BOOL(a0(fcinfo) <= a1(fcinfo)); }
    static Datum gt(FunctionCallInfo fcinfo) { PG_RETURN_BOOL(a0(fcinfo) > a1(fcinfo)); }
    static Datum ge(FunctionCallInfo fcinfo) { PG_RETURN_BOOL(a0(fcinfo) >= a1(fcinfo)); }
    static Datum larger(FunctionCallInfo fcinfo) {
        return code_datum(a0(fcinfo) >= a1(fcinfo) ? a0(fcinfo) : a1(fcinfo));
    }
    static Datum smaller(FunctionCallInfo fcinfo) {
        return code_datum(a0(fcinfo) <= a1(fcinfo) ? a0(fcinfo) : a1(fcinfo));
    }

    // Containment: a @> b when a is b or an ancestor of b; && when either contains the other.
    static Datum contains(FunctionCallInfo fcinfo) {
        PG_RETURN_BOOL(Traits::contains(a0(fcinfo), a1(fcinfo)));
    }
    static Datum contained(FunctionCallInfo fcinfo) {
        PG_RETURN_BOOL(Traits::contains(a1(fcinfo), a0(fcinfo)));
    }
    static Datum overlaps(FunctionCallInfo fcinfo) {
        const std::uint64_t a = a0(fcinfo), b = a1(fcinfo);
        PG_RETURN_BOOL(Traits::contains(a, b) || Traits::contains(b, a));
    }

    // Hashing runs PostgreSQL's byte hash over all 8 bytes of the code. Folding the halves
    // together first (as hashint8 does) is not enough here: cell codes are highly structured
    // (zero-padded digits, a level field), and on real cover/edge data whole families of
    // codes fold to the same 32 bits, which turns a hash aggregate quadratic. hash_any_extended
    // with seed 0 agrees with hash_any in the low 32 bits, as hash opclasses require.
    static Datum hash(FunctionCallInfo fcinfo) {
        const std::uint64_t code = a0(fcinfo);
        return hash_any(reinterpret_cast<const unsigned char*>(&code), sizeof(code));
    }
    static Datum hash_extended(FunctionCallInfo fcinfo) {
        const std::uint64_t code = a0(fcinfo);
        return hash_any_extended(reinterpret_cast<const unsigned char*>(&code), sizeof(code),
                                 static_cast<uint64>(PG_GETARG_INT64(1)));
    }

    // The cell's centre (OUT lat, lon), its bounds (OUT min_lat, min_lon, max_lat, max_lon) and
    // its neighbours, as the codec gives them.
    static Datum center(FunctionCallInfo fcinfo) {
        const auto c = Traits::center(a0(fcinfo));
        const double values[2] = {c.lat, c.lon};
        return float8_record(fcinfo, values, 2);
    }
    static Datum bounds(FunctionCallInfo fcinfo) {
        const auto b = Traits::bounds(a0(fcinfo));
        const double values[4] = {b.min_lat, b.min_lon, b.max_lat, b.max_lon};
        return float8_record(fcinfo, values, 4);
    }
    static Datum neighbors(FunctionCallInfo fcinfo) {
        std::uint64_t out[8];
        const int n = Traits::neighbors(a0(fcinfo), out);
        return codes_to_array(fcinfo, out, n);
    }

    // The last code of the cell's descendant range: [c, PREFIX_range_end(c)] is "c and every
    // cell inside it", the range the btree rewrite of `<@` scans.
    static Datum range_end(FunctionCallInfo fcinfo) {
        return code_datum(Traits::range_max(a0(fcinfo)));
    }

    // Sort support: codes are pass-by-value integers compared unsigned, which PostgreSQL 15's
    // ssup_datum_unsigned_cmp does inline in its sort routines (radix-style fast paths).
    static Datum sortsupport(FunctionCallInfo fcinfo) {
        SortSupport ssup = reinterpret_cast<SortSupport>(PG_GETARG_POINTER(0));
        ssup->comparator = ssup_datum_unsigned_cmp;
        PG_RETURN_VOID();
    }
};

}  // namespace geocluster::pg

// Instantiates the shared entry points for one type: PREFIX_in, PREFIX_out, ... .
#define GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, fn) \
    GEOCLUSTER_FUNCTION(prefix##_##fn) { return ::geocluster::pg::CellType<traits>::fn(fcinfo); }

#define GEOCLUSTER_CELLTYPE_FUNCTIONS(prefix, traits)        \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, in)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, out)           \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, recv)          \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, send)          \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, cmp)           \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, eq)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, ne)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, lt)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, le)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, gt)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, ge)            \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, larger)        \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, smaller)       \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, contains)      \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, contained)     \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, overlaps)      \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, hash)          \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, hash_extended) \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, sortsupport)   \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, center)        \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, bounds)        \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, neighbors)     \
    GEOCLUSTER_CELLTYPE_ENTRY(prefix, traits, range_end)
