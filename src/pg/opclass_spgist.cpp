// SP-GiST operator classes quadkey_spgist_ops (a quad-tree) and geohash_spgist_ops (a 32-way
// radix tree) (src/sql/geocluster/43_opclass_spgist.sql): `= @> <@ &&` and `< <= > >=`.
//
// Layout: a trie over the digit strings, with path compression.
//   * An inner tuple's prefix is a cell P (a value of the indexed type): every value below it
//     is P or a descendant of P. Keeping the whole cell, not only the digits consumed since
//     the parent, makes every inner tuple self-describing: the consistent functions never need
//     the traversal level or a reconstructed value.
//   * Its nodes are labelled (int2) by the next digit after P, 0..3 or 0..31, for the values
//     deeper than P, and -1 for the values that end exactly at P (a value equal to P: a
//     coarser cell stored among finer ones), like spgtextproc's -1 for "string ends here".
//     Labels are kept in ascending order.
//   * Leaves hold the full value, so index-only scans return it as stored.
// Picksplit makes P the deepest common ancestor of the tuples it splits, so they always
// spread over at least two nodes unless they are all equal (the core then makes an
// "all the same" tuple of identical values, labelled -1). A value that does not lie inside
// an inner tuple's prefix splits the tuple: a new upper tuple with the common ancestor of the
// two as prefix and one node leading to the old tuple, whose prefix (an absolute cell) stays.
//
// Consistent, for a node: its subtree holds either exactly {P} (label -1) or descendants of
// the child cell C = P + digit; each operator is tested against that set exactly as the GiST
// class tests a code range (see opclass_gist.cpp). Leaves are exact: no recheck.
#include "cell_matches.hpp"
#include "celltype.hpp"

extern "C" {
#include "access/spgist.h"
#include "access/stratnum.h"
#include "catalog/pg_type_d.h"
}

namespace {

using geocluster::GeohashKind;
using geocluster::QuadkeyKind;
using geocluster::pg::cell_matches;
using geocluster::pg::code_datum;
using geocluster::pg::datum_code;

constexpr int kEndsHere = -1;

inline int label_of(Datum d) noexcept { return DatumGetInt16(d); }

// Node label of value v below prefix p (v inside p).
template <typename Kind>
int label_for(std::uint64_t p, std::uint64_t v) noexcept {
    const int lp = Kind::level(p);
    return Kind::level(v) == lp ? kEndsHere : Kind::digit(v, lp + 1);
}

template <typename Kind>
std::uint64_t prefix_of(bool has_prefix, Datum prefix) noexcept {
    return has_prefix ? datum_code(prefix) : Kind::ancestor(0, 0);  // no prefix: the root cell
}

// May a subtree holding only descendants-or-self of cell c hold a match?
template <typename Kind>
bool subtree_may_match(std::uint64_t c, std::uint64_t x, StrategyNumber strategy) noexcept {
    switch (strategy) {
        case RTOverlapStrategyNumber:
        case RTContainedByStrategyNumber:
            // Two cells share a descendant exactly when one contains the other.
            return Kind::contains(c, x) || Kind::contains(x, c);
        case RTContainsStrategyNumber:
        case RTEqualStrategyNumber:
            // A descendant of c that is (or contains) x: x itself lies inside c.
            return Kind::contains(c, x);
        case RTLessStrategyNumber:
            return c < x;
        case RTLessEqualStrategyNumber:
            return c <= x;
        case RTGreaterStrategyNumber:
            return Kind::range_max(c) > x;
        case RTGreaterEqualStrategyNumber:
            return Kind::range_max(c) >= x;
        default:
            return false;
    }
}

// The consistent functions' AND over the scan keys: match(argument code, strategy) for each.
template <typename Match>
bool all_keys_match(const ScanKeyData* keys, int nkeys, Match&& match) noexcept {
    for (int k = 0; k < nkeys; ++k) {
        if (!match(datum_code(keys[k].sk_argument), keys[k].sk_strategy)) return false;
    }
    return true;
}

// spgSplitTuple: an upper tuple with prefix `upper` and one node labelled `label`, leading to
// the current tuple, which keeps (or takes) the prefix `lower`.
void split_tuple(spgChooseOut* out, std::uint64_t upper, Datum label, std::uint64_t lower) {
    Datum* labels = static_cast<Datum*>(palloc(sizeof(Datum)));
    labels[0] = label;
    out->resultType = spgSplitTuple;
    out->result.splitTuple.prefixHasPrefix = true;
    out->result.splitTuple.prefixPrefixDatum = code_datum(upper);
    out->result.splitTuple.prefixNNodes = 1;
    out->result.splitTuple.prefixNodeLabels = labels;
    out->result.splitTuple.childNodeN = 0;
    out->result.splitTuple.postfixHasPrefix = true;
    out->result.splitTuple.postfixPrefixDatum = code_datum(lower);
}

template <typename Kind>
Datum choose(FunctionCallInfo fcinfo) {
    const spgChooseIn* in = reinterpret_cast<const spgChooseIn*>(PG_GETARG_POINTER(0));
    spgChooseOut* out = reinterpret_cast<spgChooseOut*>(PG_GETARG_POINTER(1));
    const std::uint64_t v = datum_code(in->datum);
    const std::uint64_t p = prefix_of<Kind>(in->hasPrefix, in->prefixDatum);

    if (!Kind::contains(p, v)) {
        // v lies outside the prefix: put a tuple for the common ancestor a on top, with one
        // node (p's digit after a) leading to the current tuple, which keeps its prefix.
        const std::uint64_t a = Kind::common_ancestor(p, v);
        split_tuple(out, a, Int16GetDatum(static_cast<int16>(Kind::digit(p, Kind::level(a) + 1))),
                    p);
        PG_RETURN_VOID();
    }

    const int want = label_for<Kind>(p, v);
    if (in->allTheSame) {
        // All nodes carry the same label (the core picks one of them at random).
        if (in->nNodes > 0 && label_of(in->nodeLabels[0]) == want) {
            out->resultType = spgMatchNode;
            out->result.matchNode.nodeN = 0;
            out->result.matchNode.levelAdd = 1;
            out->result.matchNode.restDatum = in->datum;
            PG_RETURN_VOID();
        }
        // Nodes cannot be added to an all-the-same tuple: move it one level down, below an
        // upper tuple with the same prefix and one node of its label; v then gets its own
        // node there.
        split_tuple(out, p, in->nNodes > 0 ? in->nodeLabels[0] : Int16GetDatum(kEndsHere), p);
        PG_RETURN_VOID();
    }

    int insert_at = in->nNodes;
    for (int i = 0; i < in->nNodes; ++i) {
        const int l = label_of(in->nodeLabels[i]);
        if (l == want) {
            out->resultType = spgMatchNode;
            out->result.matchNode.nodeN = i;
            out->result.matchNode.levelAdd = 1;
            out->result.matchNode.restDatum = in->datum;
            PG_RETURN_VOID();
        }
        if (l > want && insert_at == in->nNodes) insert_at = i;
    }
    out->resultType = spgAddNode;
    out->result.addNode.nodeLabel = Int16GetDatum(static_cast<int16>(want));
    out->result.addNode.nodeN = insert_at;
    PG_RETURN_VOID();
}

template <typename Kind>
Datum picksplit(FunctionCallInfo fcinfo) {
    const spgPickSplitIn* in = reinterpret_cast<const spgPickSplitIn*>(PG_GETARG_POINTER(0));
    spgPickSplitOut* out = reinterpret_cast<spgPickSplitOut*>(PG_GETARG_POINTER(1));

    std::uint64_t p = datum_code(in->datums[0]);
    for (int i = 1; i < in->nTuples; ++i) p = Kind::common_ancestor(p, datum_code(in->datums[i]));

    // Which labels occur; node numbers follow label order (-1 first).
    constexpr int kSlots = Kind::kFanout + 1;  // slot = label + 1
    int node_of_slot[kSlots];
    for (int& n : node_of_slot) n = 0;
    for (int i = 0; i < in->nTuples; ++i)
        node_of_slot[label_for<Kind>(p, datum_code(in->datums[i])) + 1] = 1;
    int nodes = 0;
    Datum* labels = static_cast<Datum*>(palloc(sizeof(Datum) * kSlots));
    for (int s = 0; s < kSlots; ++s) {
        if (node_of_slot[s] != 0) {
            labels[nodes] = Int16GetDatum(static_cast<int16>(s - 1));
            node_of_slot[s] = nodes++;
        }
    }

    out->hasPrefix = true;
    out->prefixDatum = code_datum(p);
    out->nNodes = nodes;
    out->nodeLabels = labels;
    out->mapTuplesToNodes = static_cast<int*>(palloc(sizeof(int) * in->nTuples));
    out->leafTupleDatums = static_cast<Datum*>(palloc(sizeof(Datum) * in->nTuples));
    for (int i = 0; i < in->nTuples; ++i) {
        const std::uint64_t v = datum_code(in->datums[i]);
        out->mapTuplesToNodes[i] = node_of_slot[label_for<Kind>(p, v) + 1];
        out->leafTupleDatums[i] = in->datums[i];
    }
    PG_RETURN_VOID();
}

// Opens like every support function here (leaf_consistent below, choose, picksplit): the SP-GiST
// API passes its in and out structs as two pointers.
template <typename Kind>
Datum inner_consistent(FunctionCallInfo fcinfo) {
    const spgInnerConsistentIn* in =
        reinterpret_cast<const spgInnerConsistentIn*>(PG_GETARG_POINTER(0));
    spgInnerConsistentOut* out = reinterpret_cast<spgInnerConsistentOut*>(PG_GETARG_POINTER(1));
    const std::uint64_t p = prefix_of<Kind>(in->hasPrefix, in->prefixDatum);

    out->nodeNumbers = static_cast<int*>(palloc(sizeof(int) * in->nNodes));
    out->levelAdds = static_cast<int*>(palloc(sizeof(int) * in->nNodes));
    out->nNodes = 0;
    for (int i = 0; i < in->nNodes; ++i) {
        const int label = label_of(in->nodeLabels[i]);
        const bool ends_here = label == kEndsHere;
        const std::uint64_t c = ends_here ? p : Kind::child(p, label);
        const bool ok =
            all_keys_match(in->scankeys, in->nkeys,
                           [ends_here, c](std::uint64_t x, StrategyNumber strategy) noexcept {
                               return ends_here ? cell_matches<Kind>(c, x, strategy)
                                                : subtree_may_match<Kind>(c, x, strategy);
                           });
        if (ok) {
            out->nodeNumbers[out->nNodes] = i;
            out->levelAdds[out->nNodes] = 1;
            out->nNodes++;
        }
    }
    PG_RETURN_VOID();
}

template <typename Kind>
Datum leaf_consistent(FunctionCallInfo fcinfo) {
    const spgLeafConsistentIn* in =
        reinterpret_cast<const spgLeafConsistentIn*>(PG_GETARG_POINTER(0));
    spgLeafConsistentOut* out = reinterpret_cast<spgLeafConsistentOut*>(PG_GETARG_POINTER(1));
    const std::uint64_t v = datum_code(in->leafDatum);
    out->leafValue = in->leafDatum;
    out->recheck = false;
    PG_RETURN_BOOL(all_keys_match(in->scankeys, in->nkeys,
                                  [v](std::uint64_t x, StrategyNumber strategy) noexcept {
                                      return cell_matches<Kind>(v, x, strategy);
                                  }));
}

Datum config(FunctionCallInfo fcinfo) {
    const spgConfigIn* in = reinterpret_cast<const spgConfigIn*>(PG_GETARG_POINTER(0));
    spgConfigOut* out = reinterpret_cast<spgConfigOut*>(PG_GETARG_POINTER(1));
    out->prefixType = in->attType;  // a cell of the indexed type
    out->labelType = INT2OID;       // next digit, or -1
    out->leafType = in->attType;    // the full value
    out->canReturnData = true;
    out->longValuesOK = false;
    PG_RETURN_VOID();
}

}  // namespace

GEOCLUSTER_FUNCTION(cell_spgist_config) { return config(fcinfo); }

GEOCLUSTER_FUNCTION(quadkey_spgist_choose) { return choose<QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(quadkey_spgist_picksplit) { return picksplit<QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(quadkey_spgist_inner_consistent) {
    return inner_consistent<QuadkeyKind>(fcinfo);
}
GEOCLUSTER_FUNCTION(quadkey_spgist_leaf_consistent) { return leaf_consistent<QuadkeyKind>(fcinfo); }

GEOCLUSTER_FUNCTION(geohash_spgist_choose) { return choose<GeohashKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_spgist_picksplit) { return picksplit<GeohashKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_spgist_inner_consistent) {
    return inner_consistent<GeohashKind>(fcinfo);
}
GEOCLUSTER_FUNCTION(geohash_spgist_leaf_consistent) { return leaf_consistent<GeohashKind>(fcinfo); }
