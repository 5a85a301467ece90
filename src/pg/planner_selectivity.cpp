// Selectivity of the containment operators, mirrored by
// src/sql/geocluster/41_planner_selectivity.sql and sql/planner_selectivity.sql: the operators'
// RESTRICT function, and SupportRequestSelectivity for direct calls of the functions
// (planner_support.cpp). With statistics and a constant X:
//   col <@ X   most-common values that X contains, plus the fraction of the histogram that
//              falls in [X, range_max(X)] (linear interpolation inside a bucket, as
//              scalarineqsel does for integers), at least one average distinct value;
//   col @> X   most-common values that contain X, plus one average distinct value for each
//              ancestor of X whose level occurs in the histogram;
//   col && X   the sum of both, less the share of X itself counted twice.
// Without statistics or without a constant the estimates are the defaults PostgreSQL uses for
// a range (0.005) and for equality, but never below the share of the world a shallow cell
// covers (a level-1 quadkey is at least a quarter of a uniform world).
#include "planner_support.hpp"

#include "cell_tree.hpp"
#include "celltype.hpp"

extern "C" {
#include "catalog/pg_statistic.h"
#include "nodes/nodeFuncs.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"
}

#include <cstring>

namespace geocluster::pg::planner {

namespace {

CellRelation flip(CellRelation r) noexcept {
    switch (r) {
        case CellRelation::Inside:
            return CellRelation::Contains;
        case CellRelation::Contains:
            return CellRelation::Inside;
        case CellRelation::Overlaps:
            break;
    }
    return CellRelation::Overlaps;
}

// What the statistics say about a column of cells.
struct ColumnStats {
    bool valid;
    double nullfrac;
    double sumcommon;  // total frequency of the most-common values
    double one_value;  // frequency of one average value outside the most-common list
    int nmcv;
    Datum* mcv;
    float4* mcv_freq;
    int nhist;
    Datum* hist;  // histogram bounds (of the values outside the MCV list)
};

// Reads what we need from pg_statistic. The slots' arrays are palloc'd copies in the planner's
// memory context; we leave them there, as the built-in estimators do.
ColumnStats read_stats(VariableStatData* vardata) {
    ColumnStats s{};
    if (!HeapTupleIsValid(vardata->statsTuple)) return s;
    const Form_pg_statistic stats =
        reinterpret_cast<Form_pg_statistic>(GETSTRUCT(vardata->statsTuple));
    s.valid = true;
    s.nullfrac = stats->stanullfrac;

    AttStatsSlot slot;
    if (get_attstatsslot(&slot, vardata->statsTuple, STATISTIC_KIND_MCV, InvalidOid,
                         ATTSTATSSLOT_VALUES | ATTSTATSSLOT_NUMBERS)) {
        s.nmcv = slot.nvalues;
        s.mcv = slot.values;
        s.mcv_freq = slot.numbers;
        for (int i = 0; i < slot.nnumbers; ++i) s.sumcommon += slot.numbers[i];
    }
    // The histogram is sorted by the type's default btree `<`, which is unsigned code order.
    const TypeCacheEntry* tc = lookup_type_cache(vardata->atttype, TYPECACHE_LT_OPR);
    if (get_attstatsslot(&slot, vardata->statsTuple, STATISTIC_KIND_HISTOGRAM, InvalidOid,
                         ATTSTATSSLOT_VALUES)) {
        if (slot.staop == tc->lt_opr && slot.nvalues >= 2) {
            s.nhist = slot.nvalues;
            s.hist = slot.values;
        }
    }
    bool isdefault = false;
    const double ndistinct = get_variable_numdistinct(vardata, &isdefault);
    const double rest = 1.0 - s.nullfrac - s.sumcommon;
    const double others = ndistinct - s.nmcv;
    s.one_value = rest <= 0.0 ? 0.0 : others > 1.0 ? rest / others : rest;
    return s;
}

// Fraction of the histogram's population below code v (interpolating inside a bucket).
double histogram_position(const ColumnStats& s, std::uint64_t v) {
    const int n = s.nhist;
    if (v <= datum_code(s.hist[0])) return 0.0;
    if (v >= datum_code(s.hist[n - 1])) return 1.0;
    int lo = 0, hi = n - 1;  // hist[lo] < v < hist[hi] ... or equal at lo
    while (hi - lo > 1) {
        const int mid = lo + (hi - lo) / 2;
        if (datum_code(s.hist[mid]) <= v)
            lo = mid;
        else
            hi = mid;
    }
    const std::uint64_t b0 = datum_code(s.hist[lo]), b1 = datum_code(s.hist[hi]);
    const double in_bucket =
        b1 > b0 ? static_cast<double>(v - b0) / static_cast<double>(b1 - b0) : 0.0;
    return (lo + in_bucket) / (n - 1);
}

template <typename Kind>
double default_inside(std::uint64_t x) {
    // A shallow cell is at least its share of a uniform world.
    double share = 1.0;
    for (int l = Kind::level(x); l > 0 && share > DEFAULT_RANGE_INEQ_SEL; --l)
        share /= Kind::kFanout;
    return share > DEFAULT_RANGE_INEQ_SEL ? share : DEFAULT_RANGE_INEQ_SEL;
}

template <typename Kind>
double inside_selectivity(const ColumnStats& s, std::uint64_t x) {
    double mcv = 0.0;
    for (int i = 0; i < s.nmcv; ++i) {
        if (Kind::contains(x, datum_code(s.mcv[i]))) mcv += s.mcv_freq[i];
    }
    const double rest = 1.0 - s.nullfrac - s.sumcommon;
    if (rest <= 0.0) return mcv;
    double frac;
    if (s.nhist > 0) {
        frac = histogram_position(s, Kind::range_max(x)) - histogram_position(s, x);
        // A range narrower than a bucket interpolates to almost nothing; it holds at least
        // what one average value holds (the same clamp as prefix_selectivity's).
        const double at_least = s.one_value / rest;
        if (frac < at_least) frac = at_least;
    } else {
        frac = default_inside<Kind>(x);
    }
    return mcv + rest * frac;
}

template <typename Kind>
double contains_selectivity(const ColumnStats& s, std::uint64_t x) {
    double mcv = 0.0;
    for (int i = 0; i < s.nmcv; ++i) {
        if (Kind::contains(datum_code(s.mcv[i]), x)) mcv += s.mcv_freq[i];
    }
    // Outside the MCV list: one average value per ancestor whose level the histogram shows
    // (a column of zoom-23 points has no coarser cells, so only X itself counts there).
    bool level_seen[Kind::kMaxLevel + 1];
    for (bool& b : level_seen) b = s.nhist == 0;
    for (int i = 0; i < s.nhist; ++i) level_seen[Kind::level(datum_code(s.hist[i]))] = true;
    int candidates = 0;
    for (int l = 0; l <= Kind::level(x); ++l) candidates += level_seen[l] ? 1 : 0;
    return mcv + candidates * s.one_value;
}

// An estimate for "col <relation> X", or a default when X is not a constant or there are no
// statistics.
template <typename Kind>
double relation_selectivity(VariableStatData* vardata, Node* other, CellRelation rel) {
    if (!IsA(other, Const)) {
        switch (rel) {
            case CellRelation::Inside:
                return DEFAULT_RANGE_INEQ_SEL;
            case CellRelation::Contains:
                return DEFAULT_EQ_SEL;
            case CellRelation::Overlaps:
                break;
        }
        return DEFAULT_RANGE_INEQ_SEL + DEFAULT_EQ_SEL;
    }
    const Const* c = reinterpret_cast<const Const*>(other);
    if (c->constisnull) return 0.0;
    const std::uint64_t x = datum_code(c->constvalue);
    const ColumnStats s = read_stats(vardata);
    if (!s.valid) {
        switch (rel) {
            case CellRelation::Inside:
                return default_inside<Kind>(x);
            case CellRelation::Contains:
                return DEFAULT_EQ_SEL;
            case CellRelation::Overlaps:
                break;
        }
        return default_inside<Kind>(x) + DEFAULT_EQ_SEL;
    }
    switch (rel) {
        case CellRelation::Inside:
            return inside_selectivity<Kind>(s, x);
        case CellRelation::Contains:
            return contains_selectivity<Kind>(s, x);
        case CellRelation::Overlaps:
            break;
    }
    // X itself is in both sets: count it once (its MCV frequency or one average value).
    double self = s.one_value;
    for (int i = 0; i < s.nmcv; ++i) {
        if (datum_code(s.mcv[i]) == x) self = s.mcv_freq[i];
    }
    return inside_selectivity<Kind>(s, x) + contains_selectivity<Kind>(s, x) - self;
}

// "col <@ cells" for a constant array: the sum of the cells' estimates (of at most 1000 of
// them, evenly spaced, scaled up), which overcounts only where cells overlap.
template <typename Kind>
double cells_selectivity(VariableStatData* vardata, Node* other) {
    if (!IsA(other, Const)) return DEFAULT_MATCHING_SEL;
    const Const* c = reinterpret_cast<const Const*>(other);
    if (c->constisnull) return 0.0;
    ArrayType* arr = DatumGetArrayTypeP(c->constvalue);
    Datum* elems;
    bool* nulls;
    int n;
    deconstruct_array(arr, ARR_ELEMTYPE(arr), sizeof(std::uint64_t), true, TYPALIGN_DOUBLE, &elems,
                      &nulls, &n);
    if (n == 0) return 0.0;
    const ColumnStats s = read_stats(vardata);
    const int step = n > 1000 ? n / 1000 : 1;
    double sum = 0.0;
    int used = 0;
    for (int i = 0; i < n; i += step) {
        if (nulls[i]) continue;
        const std::uint64_t x = datum_code(elems[i]);
        sum += s.valid ? inside_selectivity<Kind>(s, x) : default_inside<Kind>(x);
        ++used;
    }
    return used == 0 ? 0.0 : sum * (static_cast<double>(n) / used);
}

}  // namespace

template <typename Kind>
double restriction_selectivity(PlannerInfo* root, List* args, int varRelid, CellRelation rel) {
    VariableStatData vardata;
    Node* other = nullptr;
    bool varonleft = true;
    if (!get_restriction_variable(root, args, varRelid, &vardata, &other, &varonleft)) {
        // Neither side is a plain column of the relation (or both are).
        return rel == CellRelation::Contains ? DEFAULT_EQ_SEL : DEFAULT_RANGE_INEQ_SEL;
    }
    double sel = DEFAULT_RANGE_INEQ_SEL;
    if (vardata.vartype == exprType(other)) {
        sel = relation_selectivity<Kind>(&vardata, other, varonleft ? rel : flip(rel));
    } else if (varonleft && rel == CellRelation::Inside &&
               exprType(other) == get_array_type(vardata.vartype)) {
        sel = cells_selectivity<Kind>(&vardata, other);
    }
    ReleaseVariableStats(vardata);
    CLAMP_PROBABILITY(sel);
    return sel;
}

template double restriction_selectivity<QuadkeyKind>(PlannerInfo*, List*, int, CellRelation);
template double restriction_selectivity<GeohashKind>(PlannerInfo*, List*, int, CellRelation);

}  // namespace geocluster::pg::planner

namespace {

using geocluster::pg::planner::CellRelation;

// RESTRICT function of `<@`, `@>` and `&&`: which one is asked is read from the operator name.
template <typename Kind>
Datum contsel(FunctionCallInfo fcinfo) {
    PlannerInfo* root = reinterpret_cast<PlannerInfo*>(PG_GETARG_POINTER(0));
    const Oid op = PG_GETARG_OID(1);
    List* args = reinterpret_cast<List*>(PG_GETARG_POINTER(2));
    const int varRelid = PG_GETARG_INT32(3);
    char* name = get_opname(op);
    CellRelation rel = CellRelation::Overlaps;
    if (name != nullptr && std::strcmp(name, "<@") == 0) rel = CellRelation::Inside;
    if (name != nullptr && std::strcmp(name, "@>") == 0) rel = CellRelation::Contains;
    PG_RETURN_FLOAT8(
        geocluster::pg::planner::restriction_selectivity<Kind>(root, args, varRelid, rel));
}

}  // namespace

GEOCLUSTER_FUNCTION(quadkey_contsel) { return contsel<geocluster::QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_contsel) { return contsel<geocluster::GeohashKind>(fcinfo); }
