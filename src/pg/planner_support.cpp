// Planner support for the containment operators of quadkey and geohash: the support functions
// of the containment functions and what the three parts share (see planner_support.hpp for
// the parts: index conditions, cover simplification, selectivity).
//
// The statistics are read directly, without calling the operators' functions: that is the
// same information as calling the (LEAKPROOF) containment functions on them, so it is allowed
// even where the planner restricts statistics to leakproof operators.
#include "planner_support.hpp"

#include "cell_tree.hpp"

extern "C" {
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"
}

#include <cstring>

namespace geocluster::pg::planner {

Oid family_operator(Oid opfamily, Oid type, int16 strategy, const char* name) {
    const Oid op = get_opfamily_member(opfamily, type, type, strategy);
    if (!OidIsValid(op)) return InvalidOid;
    char* opname = get_opname(op);
    const bool ok = opname != nullptr && std::strcmp(opname, name) == 0;
    if (opname != nullptr) pfree(opname);
    return ok ? op : InvalidOid;
}

ScalarArrayOpExpr* make_any(Oid op, Node* left, Node* right) {
    ScalarArrayOpExpr* saop = makeNode(ScalarArrayOpExpr);
    saop->opno = op;
    saop->opfuncid = get_opcode(op);
    saop->hashfuncid = InvalidOid;
    saop->negfuncid = InvalidOid;
    saop->useOr = true;
    saop->inputcollid = InvalidOid;
    saop->args = list_make2(left, right);
    saop->location = -1;
    return saop;
}

}  // namespace geocluster::pg::planner

namespace {

using namespace geocluster::pg::planner;

// Support function of the containment functions themselves: index conditions and the
// selectivity of a direct call.
template <typename Kind>
Datum support(FunctionCallInfo fcinfo, bool contained_fn) {
    Node* rawreq = reinterpret_cast<Node*>(PG_GETARG_POINTER(0));
    if (IsA(rawreq, SupportRequestIndexCondition)) {
        SupportRequestIndexCondition* req = reinterpret_cast<SupportRequestIndexCondition*>(rawreq);
        PG_RETURN_POINTER(index_condition<Kind>(req, contained_fn));
    }
    if (IsA(rawreq, SupportRequestSelectivity)) {
        SupportRequestSelectivity* req = reinterpret_cast<SupportRequestSelectivity*>(rawreq);
        if (req->is_join || list_length(req->args) != 2) {
            req->selectivity = DEFAULT_MATCHING_SEL;  // what matchingjoinsel says
        } else {
            req->selectivity = restriction_selectivity<Kind>(
                req->root, req->args, req->varRelid,
                contained_fn ? CellRelation::Inside : CellRelation::Contains);
        }
        PG_RETURN_POINTER(req);
    }
    PG_RETURN_POINTER(nullptr);
}

}  // namespace

GEOCLUSTER_FUNCTION(quadkey_contained_support) {
    return support<geocluster::QuadkeyKind>(fcinfo, true);
}
GEOCLUSTER_FUNCTION(quadkey_contains_support) {
    return support<geocluster::QuadkeyKind>(fcinfo, false);
}
GEOCLUSTER_FUNCTION(geohash_contained_support) {
    return support<geocluster::GeohashKind>(fcinfo, true);
}
GEOCLUSTER_FUNCTION(geohash_contains_support) {
    return support<geocluster::GeohashKind>(fcinfo, false);
}
