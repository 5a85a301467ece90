// Viewport covers (SupportRequestSimplify on `cell <@ cells`, quadkey_contained_any), mirrored
// by src/sql/geocluster/41_planner_cover.sql and sql/planner_cover.sql: with a constant array
// the call becomes the OR of the cells' exact code ranges, which every index type of the column
// serves (see simplify_cover below).
#include "planner_support.hpp"

#include "cell_tree.hpp"
#include "celltype.hpp"

extern "C" {
#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/typcache.h"
}

#include <cstring>

namespace geocluster::pg::planner {

namespace {

// At most this many ranges are written out: each becomes one index scan of a BitmapOr (128 arms
// plan in about 1 ms; 500 take 13 ms).
constexpr std::size_t kMaxCoverArms = 128;

OpExpr* comparison(Oid op, Node* left, std::uint64_t code, Oid type) {
    OpExpr* e = reinterpret_cast<OpExpr*>(
        make_opclause(op, BOOLOID, false, reinterpret_cast<Expr*>(copy_node(left)),
                      reinterpret_cast<Expr*>(makeConst(type, -1, InvalidOid, sizeof(std::uint64_t),
                                                        code_datum(code), false, true)),
                      InvalidOid, InvalidOid));
    e->opfuncid = get_opcode(op);
    return e;
}

// The scalar `<@` of the cell type, in the schema of the function being simplified.
Oid scalar_contained_operator(Oid funcid, Oid type) {
    const Oid nsp = get_func_namespace(funcid);
    char* nspname = OidIsValid(nsp) ? get_namespace_name(nsp) : nullptr;
    if (nspname == nullptr) return InvalidOid;
    return OpernameGetOprid(list_make2(makeString(nspname), makeString(pstrdup("<@"))), type, type);
}

}  // namespace

// SupportRequestSimplify for `col <@ '{cells}'`: the exact intervals of the cells (see
// exact_intervals in src/core/cell_tree.hpp) as
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
    CodeRange* iv = static_cast<CodeRange*>(palloc(sizeof(CodeRange) * n));
    std::size_t k = exact_intervals<Kind>(codes, static_cast<std::size_t>(n), iv);
    if (k == 0) return nullptr;
    Expr* recheck = nullptr;
    if (k > kMaxCoverArms) {
        const Oid contained = scalar_contained_operator(req->fcall->funcid, type);
        if (!OidIsValid(contained)) return nullptr;
        std::uint64_t* gaps = static_cast<std::uint64_t*>(palloc(sizeof(std::uint64_t) * (k - 1)));
        k = coarsen_ranges(iv, k, kMaxCoverArms, gaps);
        pfree(gaps);
        recheck = reinterpret_cast<Expr*>(make_any(contained, copy_node(col), copy_node(cells)));
    }

    List* arms = NIL;
    for (std::size_t i = 0; i < k; ++i) {
        Expr* arm;
        if (iv[i].lo == iv[i].hi) {
            arm = reinterpret_cast<Expr*>(comparison(eq, col, iv[i].lo, type));
        } else {
            arm = make_andclause(list_make2(comparison(ge, col, iv[i].lo, type),
                                            comparison(le, col, iv[i].hi, type)));
        }
        arms = lappend(arms, arm);
    }
    Expr* ranges = k == 1 ? static_cast<Expr*>(linitial(arms)) : make_orclause(arms);
    if (recheck == nullptr) return reinterpret_cast<Node*>(ranges);
    return reinterpret_cast<Node*>(make_andclause(list_make2(ranges, recheck)));
}

template Node* simplify_cover<QuadkeyKind>(SupportRequestSimplify*);
template Node* simplify_cover<GeohashKind>(SupportRequestSimplify*);

}  // namespace geocluster::pg::planner

namespace {

// Support function of `cell <@ cells` (quadkey_contained_any, geohash_contained_any).
template <typename Kind>
Datum cover_support(FunctionCallInfo fcinfo) {
    Node* rawreq = reinterpret_cast<Node*>(PG_GETARG_POINTER(0));
    if (IsA(rawreq, SupportRequestSimplify)) {
        PG_RETURN_POINTER(geocluster::pg::planner::simplify_cover<Kind>(
            reinterpret_cast<SupportRequestSimplify*>(rawreq)));
    }
    PG_RETURN_POINTER(nullptr);
}

}  // namespace

GEOCLUSTER_FUNCTION(quadkey_contained_any_support) {
    return cover_support<geocluster::QuadkeyKind>(fcinfo);
}
GEOCLUSTER_FUNCTION(geohash_contained_any_support) {
    return cover_support<geocluster::GeohashKind>(fcinfo);
}
