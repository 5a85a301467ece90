// GiST operator classes quadkey_gist_ops and geohash_gist_ops
// (src/sql/geocluster/42_opclass_gist.sql): `= @> <@ &&` and `< <= > >=`.
//
// Key: the code range [lo, hi] of a subtree, 16 bytes (SQL type cell_gist_key). A leaf holds
// [v, v]. Union is (min lo, max hi), so keys are exact, never lossy, and a leaf answers every
// operator exactly (no recheck).
//
// Why a code range and not the common ancestor of the subtree (which is also exact, and only
// 8 bytes): in code order a page covers a contiguous run of codes, and a run that crosses the
// boundary between two children of a cell has that cell, often a very coarse one, as its
// common ancestor. Near the root nearly every page crosses some boundary, and a query for a
// small cell then has to visit every page whose key is one of its ancestors (up to 3 per
// ancestor level, per tree level for quadkey, 31 for geohash). With [lo, hi] keys the tree
// behaves like a btree: a query for the cell X visits the pages whose range meets
// [X, range_max(X)], i.e. the pages that hold its rows plus at most one at each end per tree
// level.
//
// Shape: the index is built sorted (support function 11), which packs the leaf pages in code
// order, as a btree build does. Later inserts go to the subtree whose range grows least (the
// one that already holds the code, or the nearest one), and a full page is split in the middle
// of its entries sorted by code, so pages stay contiguous runs of codes.
//
// Consistent, for the query cell X on an inner key [lo, hi] ("may the subtree hold a match"):
//   col = X    lo <= X <= hi
//   col <@ X   [lo, hi] meets [X, range_max(X)]
//   col @> X   some ancestor-or-self of X lies in [lo, hi]
//   col && X   either of the two above
//   col < X    lo < X,   col <= X  lo <= X,   col > X  hi > X,   col >= X  hi >= X
#include "cell_matches.hpp"
#include "celltype.hpp"

extern "C" {
#include "access/gist.h"
#include "access/stratnum.h"
}

#include <algorithm>

namespace {

using geocluster::ancestor_in_range;
using geocluster::GeohashKind;
using geocluster::QuadkeyKind;
using geocluster::pg::cell_matches;
using geocluster::pg::code_datum;
using geocluster::pg::datum_code;

// The on-disk key (the SQL type cell_gist_key, INTERNALLENGTH 16, ALIGNMENT double).
struct CellRange {
    std::uint64_t lo;
    std::uint64_t hi;
};
static_assert(sizeof(CellRange) == 16, "cell_gist_key is 16 bytes");

inline const CellRange* key_of(Datum d) noexcept {
    return reinterpret_cast<const CellRange*>(DatumGetPointer(d));
}

CellRange* new_range(std::uint64_t lo, std::uint64_t hi) {
    CellRange* r = static_cast<CellRange*>(palloc(sizeof(CellRange)));
    r->lo = lo;
    r->hi = hi;
    return r;
}

// Inner key: may a subtree whose codes lie in [lo, hi] hold a match?
template <typename Kind>
bool inner_may_match(const CellRange& k, std::uint64_t x, StrategyNumber strategy) noexcept {
    switch (strategy) {
        case RTOverlapStrategyNumber:
            return (k.lo <= Kind::range_max(x) && k.hi >= x) ||
                   ancestor_in_range<Kind>(x, k.lo, k.hi);
        case RTContainsStrategyNumber:
            return ancestor_in_range<Kind>(x, k.lo, k.hi);
        case RTContainedByStrategyNumber:
            return k.lo <= Kind::range_max(x) && k.hi >= x;
        case RTEqualStrategyNumber:
            return k.lo <= x && x <= k.hi;
        case RTLessStrategyNumber:
            return k.lo < x;
        case RTLessEqualStrategyNumber:
            return k.lo <= x;
        case RTGreaterStrategyNumber:
            return k.hi > x;
        case RTGreaterEqualStrategyNumber:
            return k.hi >= x;
        default:
            return false;
    }
}

template <typename Kind>
Datum consistent(FunctionCallInfo fcinfo) {
    const GISTENTRY* entry = reinterpret_cast<const GISTENTRY*>(PG_GETARG_POINTER(0));
    const std::uint64_t x = datum_code(PG_GETARG_DATUM(1));
    const StrategyNumber strategy = static_cast<StrategyNumber>(PG_GETARG_UINT16(2));
    bool* recheck = reinterpret_cast<bool*>(PG_GETARG_POINTER(4));
    const CellRange* k = key_of(entry->key);
    *recheck = false;  // keys are exact
    if (GIST_LEAF(entry)) PG_RETURN_BOOL(cell_matches<Kind>(k->lo, x, strategy));
    PG_RETURN_BOOL(inner_may_match<Kind>(*k, x, strategy));
}

// Sort comparator of keys: by lo, then hi.
int compare_ranges(const CellRange* a, const CellRange* b) noexcept {
    if (a->lo != b->lo) return a->lo < b->lo ? -1 : 1;
    if (a->hi != b->hi) return a->hi < b->hi ? -1 : 1;
    return 0;
}

int sort_compare(Datum a, Datum b, SortSupport) { return compare_ranges(key_of(a), key_of(b)); }

// Abbreviated key: lo, compared unsigned. A leaf key is [v, v], so for the sorted build (where
// every key is a leaf key) the abbreviation decides every comparison.
Datum abbrev_convert(Datum original, SortSupport) { return code_datum(key_of(original)->lo); }
bool abbrev_abort(int, SortSupport) { return false; }

}  // namespace

GEOCLUSTER_FUNCTION(quadkey_gist_consistent) { return consistent<QuadkeyKind>(fcinfo); }
GEOCLUSTER_FUNCTION(geohash_gist_consistent) { return consistent<GeohashKind>(fcinfo); }

// The remaining support functions only see code ranges and are shared by both types.

// union(entryvec, sizep): (min lo, max hi).
GEOCLUSTER_FUNCTION(cell_gist_union) {
    const GistEntryVector* entryvec =
        reinterpret_cast<const GistEntryVector*>(PG_GETARG_POINTER(0));
    int* sizep = reinterpret_cast<int*>(PG_GETARG_POINTER(1));
    std::uint64_t lo = ~std::uint64_t{0}, hi = 0;
    for (int i = 0; i < entryvec->n; ++i) {
        const CellRange* k = key_of(entryvec->vector[i].key);
        lo = std::min(lo, k->lo);
        hi = std::max(hi, k->hi);
    }
    *sizep = sizeof(CellRange);
    PG_RETURN_POINTER(new_range(lo, hi));
}

// compress: a cell to be stored becomes the range [v, v]; keys that are already ranges pass.
GEOCLUSTER_FUNCTION(cell_gist_compress) {
    GISTENTRY* entry = reinterpret_cast<GISTENTRY*>(PG_GETARG_POINTER(0));
    if (!entry->leafkey) PG_RETURN_POINTER(entry);
    const std::uint64_t v = datum_code(entry->key);
    GISTENTRY* out = static_cast<GISTENTRY*>(palloc(sizeof(GISTENTRY)));
    gistentryinit(*out, PointerGetDatum(new_range(v, v)), entry->rel, entry->page, entry->offset,
                  false);
    PG_RETURN_POINTER(out);
}

// fetch (index-only scans): the leaf range [v, v] back to the cell v.
GEOCLUSTER_FUNCTION(cell_gist_fetch) {
    GISTENTRY* entry = reinterpret_cast<GISTENTRY*>(PG_GETARG_POINTER(0));
    GISTENTRY* out = static_cast<GISTENTRY*>(palloc(sizeof(GISTENTRY)));
    gistentryinit(*out, code_datum(key_of(entry->key)->lo), entry->rel, entry->page, entry->offset,
                  false);
    PG_RETURN_POINTER(out);
}

// penalty(orig, new, result): how far orig's range must grow to take new, in code units. The
// two growths are computed exactly in 64 bits before the conversion to float.
GEOCLUSTER_FUNCTION(cell_gist_penalty) {
    const GISTENTRY* orig = reinterpret_cast<const GISTENTRY*>(PG_GETARG_POINTER(0));
    const GISTENTRY* add = reinterpret_cast<const GISTENTRY*>(PG_GETARG_POINTER(1));
    float* result = reinterpret_cast<float*>(PG_GETARG_POINTER(2));
    const CellRange* o = key_of(orig->key);
    const CellRange* n = key_of(add->key);
    const std::uint64_t grow_low = n->lo < o->lo ? o->lo - n->lo : 0;
    const std::uint64_t grow_high = n->hi > o->hi ? n->hi - o->hi : 0;
    *result = static_cast<float>(static_cast<double>(grow_low) + static_cast<double>(grow_high));
    PG_RETURN_POINTER(result);
}

// picksplit(entryvec, splitvec): entries sorted by code, the lower half left, the rest right.
GEOCLUSTER_FUNCTION(cell_gist_picksplit) {
    const GistEntryVector* entryvec =
        reinterpret_cast<const GistEntryVector*>(PG_GETARG_POINTER(0));
    GIST_SPLITVEC* v = reinterpret_cast<GIST_SPLITVEC*>(PG_GETARG_POINTER(1));
    const OffsetNumber maxoff = static_cast<OffsetNumber>(entryvec->n - 1);
    const int n = maxoff - FirstOffsetNumber + 1;

    OffsetNumber* order = static_cast<OffsetNumber*>(palloc(sizeof(OffsetNumber) * n));
    for (int i = 0; i < n; ++i) order[i] = static_cast<OffsetNumber>(FirstOffsetNumber + i);
    const GISTENTRY* vec = entryvec->vector;
    std::sort(order, order + n, [vec](OffsetNumber a, OffsetNumber b) noexcept {
        return compare_ranges(key_of(vec[a].key), key_of(vec[b].key)) < 0;
    });

    v->spl_left = static_cast<OffsetNumber*>(palloc(sizeof(OffsetNumber) * n));
    v->spl_right = static_cast<OffsetNumber*>(palloc(sizeof(OffsetNumber) * n));
    v->spl_nleft = 0;
    v->spl_nright = 0;
    const int half = n / 2;
    std::uint64_t llo = ~std::uint64_t{0}, lhi = 0, rlo = ~std::uint64_t{0}, rhi = 0;
    for (int i = 0; i < n; ++i) {
        const CellRange* k = key_of(vec[order[i]].key);
        if (i < half) {
            v->spl_left[v->spl_nleft++] = order[i];
            llo = std::min(llo, k->lo);
            lhi = std::max(lhi, k->hi);
        } else {
            v->spl_right[v->spl_nright++] = order[i];
            rlo = std::min(rlo, k->lo);
            rhi = std::max(rhi, k->hi);
        }
    }
    v->spl_ldatum = PointerGetDatum(new_range(llo, lhi));
    v->spl_rdatum = PointerGetDatum(new_range(rlo, rhi));
    pfree(order);
    PG_RETURN_POINTER(v);
}

// same(a, b, result)
GEOCLUSTER_FUNCTION(cell_gist_same) {
    const CellRange* a = key_of(PG_GETARG_DATUM(0));
    const CellRange* b = key_of(PG_GETARG_DATUM(1));
    bool* result = reinterpret_cast<bool*>(PG_GETARG_POINTER(2));
    *result = a->lo == b->lo && a->hi == b->hi;
    PG_RETURN_POINTER(result);
}

// sortsupport for the sorted build.
GEOCLUSTER_FUNCTION(cell_gist_sortsupport) {
    SortSupport ssup = reinterpret_cast<SortSupport>(PG_GETARG_POINTER(0));
    if (ssup->abbreviate) {
        ssup->comparator = ssup_datum_unsigned_cmp;
        ssup->abbrev_converter = abbrev_convert;
        ssup->abbrev_abort = abbrev_abort;
        ssup->abbrev_full_comparator = sort_compare;
    } else {
        ssup->comparator = sort_compare;
    }
    PG_RETURN_VOID();
}

// The key type's text I/O: keys are never typed in; output shows the range in hex for
// pageinspect and debugging.
GEOCLUSTER_FUNCTION(cell_gist_key_in) {
    ereport(
        ERROR,
        (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
         errmsg(
             "cell_gist_key is the internal key of the GiST operator classes and has no input")));
    PG_RETURN_NULL();
}

GEOCLUSTER_FUNCTION(cell_gist_key_out) {
    const CellRange* k = key_of(PG_GETARG_DATUM(0));
    PG_RETURN_CSTRING(psprintf("[%016llx,%016llx]", static_cast<unsigned long long>(k->lo),
                               static_cast<unsigned long long>(k->hi)));
}
