// Index conditions for btree and BRIN (SupportRequestIndexCondition), mirrored by
// src/sql/geocluster/41_planner_index_conditions.sql and sql/planner_index_conditions.sql.
//
// `<@` and `@>` are not members of the btree or BRIN minmax operator families, but both have an
// exact order-based equivalent, because the descendants of a cell X (X included) are exactly
// the codes [X, range_max(X)]:
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
#include "planner_support.hpp"

#include "cell_tree.hpp"
#include "celltype.hpp"

extern "C" {
#include "access/stratnum.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_func.h"
}

namespace geocluster::pg::planner {

namespace {

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
        upper = reinterpret_cast<Expr*>(
            makeConst(type, -1, InvalidOid, sizeof(std::uint64_t),
                      code_datum(Kind::range_max(datum_code(c->constvalue))), false, true));
    } else {
        const Oid fn = range_end_function(req->funcid, type, Kind::kRangeEndFunction);
        if (!OidIsValid(fn)) return NIL;
        upper = reinterpret_cast<Expr*>(makeFuncExpr(fn, type, list_make1(copy_node(other)),
                                                     InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL));
    }
    Expr* lower_clause =
        make_opclause(ge, BOOLOID, false, reinterpret_cast<Expr*>(copy_node(indexop)),
                      reinterpret_cast<Expr*>(copy_node(other)), InvalidOid, InvalidOid);
    Expr* upper_clause =
        make_opclause(le, BOOLOID, false, reinterpret_cast<Expr*>(copy_node(indexop)), upper,
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

    ScalarArrayOpExpr* saop =
        make_any(eq, copy_node(indexop),
                 reinterpret_cast<Node*>(makeConst(array_type, -1, InvalidOid, -1,
                                                   PointerGetDatum(arr), false, false)));
    req->lossy = false;
    return list_make1(saop);
}

}  // namespace

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

template Node* index_condition<QuadkeyKind>(SupportRequestIndexCondition*, bool);
template Node* index_condition<GeohashKind>(SupportRequestIndexCondition*, bool);

}  // namespace geocluster::pg::planner
