// The planner support of the cell types, in three parts over this header. Each part <part>
// (index_conditions, cover, selectivity) is one file src/pg/planner_<part>.cpp, mirrored by
// one SQL piece src/sql/geocluster/41_planner_<part>.sql and one pg_regress file
// sql/planner_<part>.sql.
//
// planner_support.cpp holds the support functions of the containment functions, which answer
// both index-condition and selectivity requests, and the node builders the parts share.
#pragma once

#include "glue.hpp"

extern "C" {
#include "nodes/pathnodes.h"
#include "nodes/primnodes.h"
#include "nodes/supportnodes.h"
}

namespace geocluster::pg::planner {

// copyObject() is a typeof() macro, which C++ does not have.
template <typename T>
T* copy_node(const T* node) {
    return static_cast<T*>(copyObjectImpl(node));
}

// The operator named `name` among the members of opfamily for (type, type) at strategy, or
// InvalidOid. The name check keeps us from misreading a foreign opfamily of the same AM that
// numbers its strategies differently.
Oid family_operator(Oid opfamily, Oid type, int16 strategy, const char* name);

// `left op ANY (right)` (useOr) for the operator op.
ScalarArrayOpExpr* make_any(Oid op, Node* left, Node* right);

// What a clause asks of the column, seen with the column on the left.
enum class CellRelation {
    Inside,    // col <@ X: col is X or a descendant of X
    Contains,  // col @> X: col is X or an ancestor of X
    Overlaps,  // col && X: either
};

// The conditions a btree or BRIN index can use for the containment function call req->node,
// or nullptr. `contained_fn`: the function is `a <@ b` (quadkey_contained); otherwise `a @> b`.
template <typename Kind>
Node* index_condition(SupportRequestIndexCondition* req, bool contained_fn);

// `col <@ cells` with a constant array rewritten as the OR of the cells' exact code ranges, or
// nullptr to leave the call alone.
template <typename Kind>
Node* simplify_cover(SupportRequestSimplify* req);

// The selectivity of `col <relation> X` (or of `col <@ cells`) over the relation varRelid.
template <typename Kind>
double restriction_selectivity(PlannerInfo* root, List* args, int varRelid, CellRelation rel);

}  // namespace geocluster::pg::planner
