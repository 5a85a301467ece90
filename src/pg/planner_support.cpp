// Planner support for the containment operators of quadkey and geohash
// (src/sql/geocluster/41_planner_support.sql): index conditions for btree and BRIN, and
// selectivity estimates.
//
// Index conditions (SupportRequestIndexCondition). `<@` and `@>` are not members of the btree
// or BRIN minmax operator families, but both have an exact order-based equivalent, because the
// descendants of a cell X (X included) are exactly the codes [X, range_max(X)]:
//
//   col <@ X   and   X @> col   ->   col >= X AND col <= range_end(X)        (btree, BRIN)
//   col @> X   and   X <@ col   ->   col = ANY('{ancestors of X}')           (btree, X constant)
//
// Both rewrites are exact, so they are returned with lossy = false: a plain index scan drops
// the original clause (a bitmap heap scan keeps it as a filter, as PostgreSQL does with every
// derived index condition). X may be anything the planner lets us use as an index comparison
// value: a constant (range_end is folded here), a parameter of a prepared statement (generic
// plans included), or a column of the outer side of a nested loop (then range_end(X) stays a
// function call, evaluated once per scan as a run-time key). The ancestor rewrite needs the
// value of X at plan time, so it is offered for constants only, and only to index AMs that
// take arrays (btree); GiST and SP-GiST index `<@ @> &&` natively and are never asked.
//
// Selectivity (the operators' RESTRICT function, and SupportRequestSelectivity for direct
// calls of the functions). With statistics and a constant X:
//   col <@ X   most-common values that X contains, plus the fraction of the histogram that
//              falls in [X, range_max(X)] (linear interpolation inside a bucket, as
//              scalarineqsel does for integers), at least one average distinct value;
//   col @> X   most-common values that contain X, plus one average distinct value for each
//              ancestor of X whose level occurs in the histogram;
//   col && X   the sum of both, less the share of X itself counted twice.
// Without statistics or without a constant the estimates are the defaults PostgreSQL uses for
// a range (0.005) and for equality, but never below the share of the world a shallow cell
// covers (a level-1 quadkey is at least a quarter of a uniform world).
//
// Viewport covers (SupportRequestSimplify on `cell <@ cells`, quadkey_contained_any): with a
// constant array the call becomes the OR of the cells' exact code ranges, which every index
// type of the column serves (see simplify_cover below).
//
// The statistics are read directly, without calling the operators' functions: that is the
// same information as calling the (LEAKPROOF) containment functions on them, so it is allowed
// even where the planner restricts statistics to leakproof operators.
#include "cellkind.hpp"
#include "celltype.hpp"

extern "C" {
#include "access/stratnum.h"
#include "catalog/pg_am_d.h"
#include "catalog/namespace.h"
#include "catalog/pg_statistic.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/supportnodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"
}

#include <algorithm>
#include <cstring>

namespace {

// copyObject() is a typeof() macro, which C++ does not have.
template <typename T>
T* copy_node(const T* node) {
    return static_cast<T*>(copyObjectImpl(node));
}

using geocluster::pg::code_datum;
using geocluster::pg::datum_code;
using geocluster::pg::GeohashKind;
using geocluster::pg::QuadkeyKind;

// What a clause asks of the column, seen with the column on the left.
enum class Relation {
    Inside,    // col <@ X: col is X or a descendant of X
    Contains,  // col @> X: col is X or an ancestor of X
    Overlaps,  // col && X: either
};

Relation flip(Relation r) noexcept {
    switch (r) {
        case Relation::Inside:
            return Relation::Contains;
        case Relation::Contains:
            return Relation::Inside;
        case Relation::Overlaps:
            break;
    }
    return Relation::Overlaps;
}

// ---------------------------------------------------------------------------------------------
// Index conditions

// The operator named `name` among the members of opfamily for (type, type) at strategy, or
// InvalidOid. The name check keeps us from misreading a foreign opfamily of the same AM that
// numbers its strategies differently.
Oid family_operator(Oid opfamily, Oid type, int16 strategy, const char* name) {
    const Oid op = get_opfamily_member(opfamily, type, type, strategy);
    if (!OidIsValid(op)) return InvalidOid;
    char* opname = get_opname(op);
    const bool ok = opname != nullptr && std::strcmp(opname, name) == 0;
    if (opname != nullptr) pfree(opname);
    return ok ? op : InvalidOid;
}

// The range-end function of the cell type, found in the schema of the containment function
// the planner asked about (the extension's schema, whatever the search_path).
Oid range_end_function(Oid support_target, Oid type, const char* name) {
    const Oid nsp = get_func_namespace(support_target);
    if (!OidIsValid(nsp)) return InvalidOid;
    char* nspname = get_namespace_name(nsp);
    if (nspname == nullptr) return InvalidOid;
    List* qualified = list_make2(makeString(nspname), makeString(pstrdup(name)));
    return LookupFuncName(qualified, 1, &type, true);
}

template <typename Kind>
List* descendant_range(SupportRequestIndexCondition* req, Node* indexop, Node* other, Oid type) {
    const Oid ge = family_operator(req->opfamily, type, BTGreaterEqualStrategyNumber, ">=");
    const Oid le = family_operator(req->opfamily, type, BTLessEqualStrategyNumber, "<=");
    if (!OidIsValid(ge) || !OidIsValid(le)) return NIL;

    Expr* upper;
    if (IsA(other, Const)) {
        const Const* c = reinterpret_cast<const Const*>(other);
        if (c->constisnull) return NIL;  // a strict operator: the planner folds this away
        upper = reinterpret_cast<Expr*>(makeConst(type, -1, InvalidOid, sizeof(std::uint64_t),
                                                  code_datum(Kind::range_max(datum_code(c->constvalue))), false,
                                                  true));
    } else {
        const Oid fn = range_end_function(req->funcid, type, Kind::kRangeEndFunction);
        if (!OidIsValid(fn)) return NIL;
        upper = reinterpret_cast<Expr*>(makeFuncExpr(fn, type, list_make1(copy_node(other)), InvalidOid,
                                                     InvalidOid, COERCE_EXPLICIT_CALL));
    }
    Expr* lower_clause = make_opclause(ge, BOOLOID, false, reinterpret_cast<Expr*>(copy_node(indexop)),
                                       reinterpret_cast<Expr*>(copy_node(other)), InvalidOid, InvalidOid);
    Expr* upper_clause = make_opclause(le, BOOLOID, false, reinterpret_cast<Expr*>(copy_node(indexop)), upper,
                                       InvalidOid, InvalidOid);
    // Exact: the range holds the descendants of X and nothing else.
    req->lossy = false;
    return list_make2(lower_clause, upper_clause);
}

template <typename Kind>
List* ancestor_set(SupportRequestIndexCondition* req, Node* indexop, Node* other, Oid type) {
    if (!IsA(other, Const) || !req->index->amsearcharray) return NIL;
    const Const* c = reinterpret_cast<const Const*>(other);
    if (c->constisnull) return NIL;
    const Oid eq = family_operator(req->opfamily, type, BTEqualStrategyNumber, "=");
    const Oid array_type = get_array_type(type);
    if (!OidIsValid(eq) || !OidIsValid(array_type)) return NIL;

    const std::uint64_t x = datum_code(c->constvalue);
    const int n = Kind::level(x) + 1;
    Datum values[Kind::kMaxLevel + 1];
    for (int l = 0; l < n; ++l) values[l] = code_datum(Kind::ancestor(x, l));
    ArrayType* arr = construct_array(values, n, type, sizeof(std::uint64_t), true, TYPALIGN_DOUBLE);

    ScalarArrayOpExpr* saop = makeNode(ScalarArrayOpExpr);
    saop->opno = eq;
    saop->opfuncid = get_opcode(eq);
    saop->hashfuncid = InvalidOid;
    saop->negfuncid = InvalidOid;
    saop->useOr = true;
    saop->inputcollid = InvalidOid;
    saop->args = list_make2(copy_node(indexop),
                            makeConst(array_type, -1, InvalidOid, -1, PointerGetDatum(arr), false, false));
    saop->location = -1;
    req->lossy = false;
    return list_make1(saop);
}

// `contained_fn`: the function is `a <@ b` (quadkey_contained); otherwise `a @> b`.
template <typename Kind>
Node* index_condition(SupportRequestIndexCondition* req, bool contained_fn) {
    List* args;
    if (is_opclause(req->node)) {
        args = reinterpret_cast<OpExpr*>(req->node)->args;
    } else if (is_funcclause(req->node)) {
        args = reinterpret_cast<FuncExpr*>(req->node)->args;
    } else {
        return nullptr;
    }
    if (list_length(args) != 2 || req->indexarg < 0 || req->indexarg > 1) return nullptr;
    const Oid am = req->index->relam;
    if (am != BTREE_AM_OID && am != BRIN_AM_OID) return nullptr;

    Node* indexop = static_cast<Node*>(list_nth(args, req->indexarg));
    Node* other = static_cast<Node*>(list_nth(args, 1 - req->indexarg));
    const Oid type = exprType(other);
    if (exprType(indexop) != type) return nullptr;

    // contained(a, b): a inside b. contains(a, b): b inside a.
    const bool index_side_inside = contained_fn ? req->indexarg == 0 : req->indexarg == 1;
    List* conditions = index_side_inside ? descendant_range<Kind>(req, indexop, other, type)
                                         : ancestor_set<Kind>(req, indexop, other, type);
    return reinterpret_cast<Node*>(conditions);
}

// ---------------------------------------------------------------------------------------------
// `col <@ cells` with a constant array (a viewport cover): the OR of exact code ranges

// At most this many ranges are written out: each becomes one index scan of a BitmapOr (128 arms
// plan in about 1 ms; 500 take 13 ms).
constexpr std::size_t kMaxCoverArms = 128;

OpExpr* comparison(Oid op, Node* left, std::uint64_t code, Oid type) {
    OpExpr* e = reinterpret_cast<OpExpr*>(
        make_opclause(op, BOOLOID, false, reinterpret_cast<Expr*>(copy_node(left)),
                      reinterpret_cast<Expr*>(makeConst(type, -1, InvalidOid, sizeof(std::uint64_t), code_datum(code),
                                                        false, true)),
                      InvalidOid, InvalidOid));
    e->opfuncid = get_opcode(op);
    return e;
}

// SupportRequestSimplify for `col <@ '{cells}'`: the exact intervals of the cells (see
// exact_intervals in cellkind.hpp) as
//   (col >= lo1 AND col <= hi1) OR (col >= lo2 AND col <= hi2) OR ...
// which every index of the column serves: btree and BRIN through a BitmapOr of range scans,
// GiST and SP-GiST too (their classes have the comparison operators), with the estimates of
// plain ranges. A cover of more than kMaxCoverArms intervals (a level much deeper than the
// viewport needs) is not left to a sequential scan: the nearest intervals (smallest gaps in
// code order) are merged until kMaxCoverArms remain, and the exact test stays as a filter,
//   (ranges) AND col <@ ANY ('{cells}')
// (PostgreSQL then multiplies the two estimates, so such a query is estimated low). Left
// alone: a non-constant array (a parameter of a generic plan), an array with NULLs, a volatile
// column expression.
// Merges the intervals iv[0 .. k) separated by the smallest gaps until `target` remain; returns
// the new count. Ties at the threshold gap are merged left to right.
std::size_t coarsen(geocluster::pg::CellInterval* iv, std::size_t k, std::size_t target) {
    if (k <= target || target == 0) return k;
    const std::size_t need = k - target;  // merges to make
    std::uint64_t* gaps = static_cast<std::uint64_t*>(palloc(sizeof(std::uint64_t) * (k - 1)));
    for (std::size_t i = 0; i + 1 < k; ++i) gaps[i] = iv[i + 1].lo - iv[i].hi;
    std::nth_element(gaps, gaps + (need - 1), gaps + (k - 1));
    const std::uint64_t threshold = gaps[need - 1];
    std::size_t below = 0;
    for (std::size_t i = 0; i + 1 < k; ++i) below += iv[i + 1].lo - iv[i].hi < threshold ? 1 : 0;
    std::size_t at_threshold = need - below;
    pfree(gaps);
    std::size_t out = 0;
    geocluster::pg::CellInterval cur = iv[0];
    for (std::size_t i = 0; i + 1 < k; ++i) {
        const std::uint64_t gap = iv[i + 1].lo - iv[i].hi;
        bool merge = gap < threshold;
        if (!merge && gap == threshold && at_threshold > 0) {
            merge = true;
            --at_threshold;
        }
        if (merge) {
            cur.hi = iv[i + 1].hi;
        } else {
            iv[out++] = cur;
            cur = iv[i + 1];
        }
    }
    iv[out++] = cur;
    return out;
}

// The scalar `<@` of the cell type, in the schema of the function being simplified.
Oid scalar_contained_operator(Oid funcid, Oid type) {
    const Oid nsp = get_func_namespace(funcid);
    char* nspname = OidIsValid(nsp) ? get_namespace_name(nsp) : nullptr;
    if (nspname == nullptr) return InvalidOid;
    return OpernameGetOprid(list_make2(makeString(nspname), makeString(pstrdup("<@"))), type, type);
}

template <typename Kind>
Node* simplify_cover(SupportRequestSimplify* req) {
    List* args = req->fcall->args;
    if (list_length(args) != 2) return nullptr;
    Node* col = static_cast<Node*>(linitial(args));
    Node* cells = static_cast<Node*>(lsecond(args));
    if (!IsA(cells, Const) || reinterpret_cast<Const*>(cells)->constisnull) return nullptr;
    if (contain_volatile_functions(col)) return nullptr;
    const Oid type = exprType(col);
    ArrayType* arr = DatumGetArrayTypeP(reinterpret_cast<Const*>(cells)->constvalue);
    if (ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != type) return nullptr;
    const int n = ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr));
    if (n == 0) return nullptr;

    const TypeCacheEntry* tc = lookup_type_cache(type, TYPECACHE_BTREE_OPFAMILY);
    if (!OidIsValid(tc->btree_opf)) return nullptr;
    const Oid ge = family_operator(tc->btree_opf, type, BTGreaterEqualStrategyNumber, ">=");
    const Oid le = family_operator(tc->btree_opf, type, BTLessEqualStrategyNumber, "<=");
    const Oid eq = family_operator(tc->btree_opf, type, BTEqualStrategyNumber, "=");
    if (!OidIsValid(ge) || !OidIsValid(le) || !OidIsValid(eq)) return nullptr;

    std::uint64_t* codes = static_cast<std::uint64_t*>(palloc(sizeof(std::uint64_t) * n));
    std::memcpy(codes, ARR_DATA_PTR(arr), sizeof(std::uint64_t) * n);
    geocluster::pg::CellInterval* iv =
        static_cast<geocluster::pg::CellInterval*>(palloc(sizeof(geocluster::pg::CellInterval) * n));
    std::size_t k = geocluster::pg::exact_intervals<Kind>(codes, static_cast<std::size_t>(n), iv);
    if (k == 0) return nullptr;
    Expr* recheck = nullptr;
    if (k > kMaxCoverArms) {
        const Oid contained = scalar_contained_operator(req->fcall->funcid, type);
        if (!OidIsValid(contained)) return nullptr;
        k = coarsen(iv, k, kMaxCoverArms);
        ScalarArrayOpExpr* saop = makeNode(ScalarArrayOpExpr);
        saop->opno = contained;
        saop->opfuncid = get_opcode(contained);
        saop->hashfuncid = InvalidOid;
        saop->negfuncid = InvalidOid;
        saop->useOr = true;
        saop->inputcollid = InvalidOid;
        saop->args = list_make2(copy_node(col), copy_node(cells));
        saop->location = -1;
        recheck = reinterpret_cast<Expr*>(saop);
    }

    List* arms = NIL;
    for (std::size_t i = 0; i < k; ++i) {
        Expr* arm;
        if (iv[i].lo == iv[i].hi) {
            arm = reinterpret_cast<Expr*>(comparison(eq, col, iv[i].lo, type));
        } else {
            arm = make_andclause(list_make2(comparison(ge, col, iv[i].lo, type), comparison(le, col, iv[i].hi, type)));
        }
        arms = lappend(arms, arm);
    }
    Expr* ranges = k == 1 ? static_cast<Expr*>(linitial(arms)) : make_orclause(arms);
    if (recheck == nullptr) return reinterpret_cast<Node*>(ranges);
    return reinterpret_cast<Node*>(make_andclause(list_make2(ranges, recheck)));
}

// ---------------------------------------------------------------------------------------------
// Selectivity

// What the statistics say about a column of cells.
struct ColumnStats {
    bool valid;
    double nullfrac;
    double sumcommon;     // total frequency of the most-common values
    double one_value;     // frequency of one average value outside the most-common list
    int nmcv;
    Datum* mcv;
    float4* mcv_freq;
    int nhist;
    Datum* hist;          // histogram bounds (of the values outside the MCV list)
};

// Reads what we need from pg_statistic. The slots' arrays are palloc'd copies in the planner's
// memory context; we leave them there, as the built-in estimators do.
ColumnStats read_stats(VariableStatData* vardata) {
    ColumnStats s{};
    if (!HeapTupleIsValid(vardata->statsTuple)) return s;
    const Form_pg_statistic stats = reinterpret_cast<Form_pg_statistic>(GETSTRUCT(vardata->statsTuple));
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
    if (get_attstatsslot(&slot, vardata->statsTuple, STATISTIC_KIND_HISTOGRAM, InvalidOid, ATTSTATSSLOT_VALUES)) {
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
        if (datum_code(s.hist[mid]) <= v) lo = mid; else hi = mid;
    }
    const std::uint64_t b0 = datum_code(s.hist[lo]), b1 = datum_code(s.hist[hi]);
    const double in_bucket = b1 > b0 ? static_cast<double>(v - b0) / static_cast<double>(b1 - b0) : 0.0;
    return (lo + in_bucket) / (n - 1);
}

template <typename Kind>
double default_inside(std::uint64_t x) {
    // A shallow cell is at least its share of a uniform world.
    double share = 1.0;
    for (int l = Kind::level(x); l > 0 && share > DEFAULT_RANGE_INEQ_SEL; --l) share /= Kind::kFanout;
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
double relation_selectivity(VariableStatData* vardata, Node* other, Relation rel) {
    if (!IsA(other, Const)) {
        switch (rel) {
            case Relation::Inside:
                return DEFAULT_RANGE_INEQ_SEL;
            case Relation::Contains:
                return DEFAULT_EQ_SEL;
            case Relation::Overlaps:
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
            case Relation::Inside:
                return default_inside<Kind>(x);
            case Relation::Contains:
                return DEFAULT_EQ_SEL;
            case Relation::Overlaps:
                break;
        }
        return default_inside<Kind>(x) + DEFAULT_EQ_SEL;
    }
    switch (rel) {
        case Relation::Inside:
            return inside_selectivity<Kind>(s, x);
        case Relation::Contains:
            return contains_selectivity<Kind>(s, x);
        case Relation::Overlaps:
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
    deconstruct_array(arr, ARR_ELEMTYPE(arr), sizeof(std::uint64_t), true, TYPALIGN_DOUBLE, &elems, &nulls, &n);
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

template <typename Kind>
double restriction_selectivity(PlannerInfo* root, List* args, int varRelid, Relation rel) {
    VariableStatData vardata;
    Node* other = nullptr;
    bool varonleft = true;
    if (!get_restriction_variable(root, args, varRelid, &vardata, &other, &varonleft)) {
        // Neither side is a plain column of the relation (or both are).
        return rel == Relation::Contains ? DEFAULT_EQ_SEL : DEFAULT_RANGE_INEQ_SEL;
    }
    double sel = DEFAULT_RANGE_INEQ_SEL;
    if (vardata.vartype == exprType(other)) {
        sel = relation_selectivity<Kind>(&vardata, other, varonleft ? rel : flip(rel));
    } else if (varonleft && rel == Relation::Inside && exprType(other) == get_array_type(vardata.vartype)) {
        sel = cells_selectivity<Kind>(&vardata, other);
    }
    ReleaseVariableStats(vardata);
    CLAMP_PROBABILITY(sel);
    return sel;
}

// RESTRICT function of `<@`, `@>` and `&&`: which one is asked is read from the operator name.
template <typename Kind>
Datum contsel(FunctionCallInfo fcinfo) {
    PlannerInfo* root = reinterpret_cast<PlannerInfo*>(PG_GETARG_POINTER(0));
    const Oid op = PG_GETARG_OID(1);
    List* args = reinterpret_cast<List*>(PG_GETARG_POINTER(2));
    const int varRelid = PG_GETARG_INT32(3);
    char* name = get_opname(op);
    Relation rel = Relation::Overlaps;
    if (name != nullptr && std::strcmp(name, "<@") == 0) rel = Relation::Inside;
    if (name != nullptr && std::strcmp(name, "@>") == 0) rel = Relation::Contains;
    PG_RETURN_FLOAT8(restriction_selectivity<Kind>(root, args, varRelid, rel));
}

// Support function of the containment functions themselves.
template <typename Kind>
Datum support(FunctionCallInfo fcinfo, bool contained_fn) {
    Node* rawreq = reinterpret_cast<Node*>(PG_GETARG_POINTER(0));
    if (IsA(rawreq, SupportRequestIndexCondition)) {
        PG_RETURN_POINTER(index_condition<Kind>(reinterpret_cast<SupportRequestIndexCondition*>(rawreq), contained_fn));
    }
    if (IsA(rawreq, SupportRequestSelectivity)) {
        SupportRequestSelectivity* req = reinterpret_cast<SupportRequestSelectivity*>(rawreq);
        if (req->is_join || list_length(req->args) != 2) {
            req->selectivity = DEFAULT_MATCHING_SEL;  // what matchingjoinsel says
        } else {
            req->selectivity = restriction_selectivity<Kind>(req->root, req->args, req->varRelid,
                                                             contained_fn ? Relation::Inside : Relation::Contains);
        }
        PG_RETURN_POINTER(req);
    }
    PG_RETURN_POINTER(nullptr);
}

// Support function of `cell <@ cells` (quadkey_contained_any, geohash_contained_any).
template <typename Kind>
Datum cover_support(FunctionCallInfo fcinfo) {
    Node* rawreq = reinterpret_cast<Node*>(PG_GETARG_POINTER(0));
    if (IsA(rawreq, SupportRequestSimplify)) {
        PG_RETURN_POINTER(simplify_cover<Kind>(reinterpret_cast<SupportRequestSimplify*>(rawreq)));
    }
    PG_RETURN_POINTER(nullptr);
}

}  // namespace

GEOCLUSTER_FUNCTION(quadkey_contained_support) { return support<QuadkeyKind>(fcinfo, true); }
GEOCLUSTER_FUNCTION(quadkey_contains_support) { return support<QuadkeyKind>(fcinfo, false); }
GEOCLUSTER_FUNCTION(geohash_contained_support) { return support<GeohashKind>(fcinfo, true); }
GEOCLUSTER_FUNCTION(geohash_contains_support) { return support<GeohashKind>(fcinfo, false); }

GEOCLUSTER_FUNCTION(quadkey_contained_any_support) { return cover_support<QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_contained_any_support) { return cover_support<GeohashKind>(fcinfo); }

GEOCLUSTER_FUNCTION(quadkey_contsel) { return contsel<QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_contsel) { return contsel<GeohashKind>(fcinfo); }
