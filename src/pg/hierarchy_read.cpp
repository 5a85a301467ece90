// The readers of a stored cluster hierarchy (src/core/hierarchy_read.hpp says what each reads):
// cluster_viewport, cluster_children, cluster_expansion_zoom, cluster_hierarchy_leaves (behind
// cluster_leaves), and the whole-hierarchy listings cluster_hierarchy_nodes and _members
// (hierarchy_list.cpp). Block rows are fetched by primary key through SPI plans prepared once
// per hierarchy and kept for the session (SPI_keepplan), forgotten when the relcache says one of
// the hierarchy's tables changed (drop, truncate, ALTER).
#include "hierarchy_read_glue.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

#include <algorithm>
#include <cmath>

namespace geocluster::pg {

namespace {

HTAB* hier_cache = nullptr;

// Any change to a hierarchy's tables (drop, truncate, ALTER) forgets what the session knew of
// it; the plans themselves are released at the next lookup, outside the callback.
void hier_cache_invalidate(Datum, Oid relid) {
    if (hier_cache == nullptr) return;
    HASH_SEQ_STATUS it;
    hash_seq_init(&it, hier_cache);
    while (auto* e = static_cast<HierCacheEntry*>(hash_seq_search(&it)))
        if (relid == InvalidOid || e->handle == relid || e->members == relid) e->valid = false;
}

// Plans [0]: every partition; [1]: one ($4 for nodes, $3 for members). Nodes: $1 band, $2..$3
// blocks; members: $1..$2 blocks.
SPIPlanPtr prepare_fetch(Oid rel, bool members, bool one_part) {
    const char* nsp = get_namespace_name(get_rel_namespace(rel));
    const char* name = get_rel_name(rel);
    if (nsp == nullptr || name == nullptr)
        elog(ERROR, "cluster hierarchy: relation %u has gone", rel);
    const char* qualified = quote_qualified_identifier(nsp, name);
    const char* sql =
        members ? psprintf(
                      "SELECT block, data FROM %s WHERE block OPERATOR(pg_catalog.>=) $1 "
                      "AND block OPERATOR(pg_catalog.<=) $2%s",
                      qualified, one_part ? " AND part OPERATOR(pg_catalog.=) $3" : "")
                : psprintf(
                      "SELECT block, data FROM %s WHERE band OPERATOR(pg_catalog.=) $1 AND "
                      "block OPERATOR(pg_catalog.>=) $2 AND block OPERATOR(pg_catalog.<=) $3%s",
                      qualified, one_part ? " AND part OPERATOR(pg_catalog.=) $4" : "");
    Oid node_types[4] = {INT4OID, INT8OID, INT8OID, TEXTOID};
    Oid member_types[3] = {INT8OID, INT8OID, TEXTOID};
    SPIPlanPtr plan = members ? SPI_prepare(sql, one_part ? 3 : 2, member_types)
                              : SPI_prepare(sql, one_part ? 4 : 3, node_types);
    if (plan == nullptr)
        elog(ERROR, "cluster hierarchy: SPI_prepare failed: %s",
             SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0) elog(ERROR, "cluster hierarchy: SPI_keepplan failed");
    return plan;
}

}  // namespace

const HierCacheEntry* hier_lookup(Oid handle, Oid fn_oid) {
    if (hier_cache == nullptr) {
        HASHCTL ctl{};
        ctl.keysize = sizeof(Oid);
        ctl.entrysize = sizeof(HierCacheEntry);
        ctl.hcxt = CacheMemoryContext;
        hier_cache =
            hash_create("geocluster hierarchies", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
        CacheRegisterRelcacheCallback(hier_cache_invalidate, (Datum)0);
    }
    bool found = false;
    auto* e = static_cast<HierCacheEntry*>(hash_search(hier_cache, &handle, HASH_ENTER, &found));
    if (!found) {
        e->valid = false;
        for (int i = 0; i < 2; ++i) e->nodes_plan[i] = e->members_plan[i] = nullptr;
        e->members = InvalidOid;
    }
    if (e->valid) return e;
    for (int i = 0; i < 2; ++i) {
        if (e->nodes_plan[i] != nullptr) SPI_freeplan(e->nodes_plan[i]);
        if (e->members_plan[i] != nullptr) SPI_freeplan(e->members_plan[i]);
        e->nodes_plan[i] = e->members_plan[i] = nullptr;
    }
    // The metadata, through the SQL function that validates the handle (22023 if it is none).
    const char* schema = quote_identifier(get_namespace_name(get_func_namespace(fn_oid)));
    char* sql = psprintf(
        "SELECT members::pg_catalog.oid, max_zoom, partition_column IS NOT NULL "
        "FROM %s.cluster_hierarchy_info(%u::pg_catalog.oid::pg_catalog.regclass)",
        schema, handle);
    if (SPI_execute(sql, true, 0) != SPI_OK_SELECT || SPI_processed != 1)
        elog(ERROR, "cluster hierarchy: cluster_hierarchy_info returned no row");
    bool isnull = false;
    HeapTuple row = SPI_tuptable->vals[0];
    const Oid members = DatumGetObjectId(SPI_getbinval(row, SPI_tuptable->tupdesc, 1, &isnull));
    const int max_zoom = DatumGetInt32(SPI_getbinval(row, SPI_tuptable->tupdesc, 2, &isnull));
    const bool partitioned = DatumGetBool(SPI_getbinval(row, SPI_tuptable->tupdesc, 3, &isnull));
    if (members == InvalidOid || max_zoom < 0 || max_zoom > kHierMaxZoom)
        elog(ERROR, "cluster hierarchy: the metadata of %u is damaged", handle);
    // Kept as each is made: an error half-way leaves the entry invalid, and these are freed at
    // the next lookup.
    for (int i = 0; i < 2; ++i) {
        const bool one_part = i == 1 && partitioned;
        e->nodes_plan[i] = prepare_fetch(handle, false, one_part);
        e->members_plan[i] = prepare_fetch(members, true, one_part);
    }
    e->members = members;
    e->max_zoom = max_zoom;
    e->bands = hier_bands(max_zoom);
    e->partitioned = partitioned;
    e->valid = true;
    return e;
}

void fetch_blocks(const HierCacheEntry* h, bool members, int band, const HierBlockRange* ranges,
                  std::size_t n_ranges, const Datum* part, BlockVisit visit, void* ctx) {
    SPIPlanPtr plan =
        members ? h->members_plan[part != nullptr ? 1 : 0] : h->nodes_plan[part != nullptr ? 1 : 0];
    for (std::size_t r = 0; r < n_ranges; ++r) {
        Datum args[4];
        int k = 0;
        if (!members) args[k++] = Int32GetDatum(band);
        args[k++] = Int64GetDatum(static_cast<std::int64_t>(ranges[r].lo));
        args[k++] = Int64GetDatum(static_cast<std::int64_t>(ranges[r].hi));
        if (part != nullptr && h->partitioned) args[k++] = *part;
        const int rc = SPI_execute_plan(plan, args, nullptr, true, 0);
        if (rc != SPI_OK_SELECT)
            elog(ERROR, "cluster hierarchy: SELECT failed: %s", SPI_result_code_string(rc));
        SPITupleTable* got = SPI_tuptable;
        for (uint64 i = 0; i < SPI_processed; ++i) {
            bool null_block = false, null_data = false;
            const Datum block = SPI_getbinval(got->vals[i], got->tupdesc, 1, &null_block);
            const Datum raw = SPI_getbinval(got->vals[i], got->tupdesc, 2, &null_data);
            if (null_block || null_data)
                raise_status(Status::HierarchyBlockCorrupt, "a NULL block");
            bytea* data = DatumGetByteaPP(raw);
            visit(ctx, static_cast<std::uint64_t>(DatumGetInt64(block)),
                  reinterpret_cast<const unsigned char*>(VARDATA_ANY(data)),
                  VARSIZE_ANY_EXHDR(data));
            if (reinterpret_cast<Pointer>(data) != DatumGetPointer(raw)) pfree(data);
        }
        SPI_freetuptable(got);
        CHECK_FOR_INTERRUPTS();
    }
}

void fetch_box(const HierCacheEntry* h, bool members, int band, const HierBlockBox& box, int ring,
               const Datum* part, BlockVisit visit, void* ctx) {
    const HierBand& b = h->bands.band[band];
    auto* ranges =
        static_cast<HierBlockRange*>(palloc(sizeof(HierBlockRange) * hier_block_ranges_cap(b)));
    const std::size_t n = hier_block_ranges(b, box, ring, ranges);
    fetch_blocks(h, members, band, ranges, n, part, visit, ctx);
    pfree(ranges);
}

void node_list_push(NodeList* l, const HierNode& n) {
    if (l->n == l->cap) {
        const std::size_t cap = l->cap == 0 ? 64 : 2 * l->cap;
        l->v = static_cast<HierNode*>(
            l->v == nullptr ? MemoryContextAllocHuge(CurrentMemoryContext, cap * sizeof(HierNode))
                            : repalloc_huge(l->v, cap * sizeof(HierNode)));
        l->cap = cap;
    }
    l->v[l->n++] = n;
}

namespace {

struct FindCtx {
    std::uint32_t slot;
    HierBlockNode* rec;
    bool found;
};
void find_visit(void* c, std::uint64_t, const unsigned char* data, std::size_t len) {
    auto* f = static_cast<FindCtx*>(c);
    if (f->found) return;
    check(hier_block_find(data, len, f->slot, f->rec, &f->found));
}

}  // namespace

bool find_record(const HierCacheEntry* h, std::int64_t id, HierIdParts* parts, HierBlockNode* rec) {
    if (!hier_id_parts(h->bands, id, parts)) return false;
    FindCtx f{parts->slot, rec, false};
    const HierBlockRange one{parts->block, parts->block};
    fetch_blocks(h, false, parts->band, &one, 1, nullptr, find_visit, &f);
    return f.found && rec->zoom_min <= parts->zoom && parts->zoom <= rec->zoom_max;
}

void sort_nodes(NodeList* l) {
    if (l->n < 2) return;
    auto* tmp = static_cast<HierNode*>(
        MemoryContextAllocHuge(CurrentMemoryContext, l->n * sizeof(HierNode)));
    cluster_internal::Poller poll(CancelCheck{interrupt_requested, nullptr});
    HierNode* sorted = cluster_internal::polled_sort(l->v, tmp, l->n, hier_node_before, poll);
    if (sorted == nullptr) {
        CHECK_FOR_INTERRUPTS();
        elog(ERROR, "cluster hierarchy: a sort stopped without a pending interrupt");
    }
    if (sorted != l->v) memcpy(l->v, sorted, l->n * sizeof(HierNode));
    pfree(tmp);
}

void put_node(ReturnSetInfo* rsinfo, const HierNode& n) {
    Datum v[11];
    bool null[11] = {};
    v[0] = Int64GetDatum(n.cluster_id);
    null[0] = n.cluster_id < 0;
    v[1] = Int32GetDatum(n.zoom);
    v[2] = Int64GetDatum(static_cast<std::int64_t>(n.count));
    v[3] = Float8GetDatum(n.lat);
    v[4] = Float8GetDatum(n.lon);
    v[5] = Float8GetDatum(n.min_lat);
    v[6] = Float8GetDatum(n.min_lon);
    v[7] = Float8GetDatum(n.max_lat);
    v[8] = Float8GetDatum(n.max_lon);
    v[9] = Int64GetDatum(n.id);
    v[10] = Int32GetDatum(n.expansion_zoom);
    null[10] = n.expansion_zoom < 0;
    tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, null);
}

}  // namespace geocluster::pg
