// The cluster hierarchy's build (hierarchy.hpp): the engine at max_zoom, then the finaliser's
// passes on whole clusters, one zoom coarser at a time.
//
// Two phases, so that the nodes are written once, straight into the result:
//   A. Clustering, from max_zoom down. Zoom max_zoom is cluster_finalize on a state of all the
//      markers (cluster_finalize_items_taking: the clusters as exact items, and every bin's
//      cluster, which gives every marker's leaf through its bin, looked up before the bins are
//      taken). Zoom z < max_zoom clusters the items of zoom z + 1 in their own array
//      (cluster_items_in_place), ranked by their ordinal, which is a function of the markers
//      alone. Kept: per zoom z < max_zoom the parent position of every zoom z + 1 cluster (4
//      bytes each). One array of items is alive at a time.
//   B. Writing, once the node count of every zoom is known: the max_zoom nodes summed from their
//      markers again, then every coarser zoom by adding up its children's exact sums, in the
//      nodes themselves (the same items the clustering of phase A produced, bit for bit: integer
//      sums, minima and maxima are exact whatever the order), its parent links and expansion
//      zooms set along the way.
//
// Why the guarantees hold (numbers as in hierarchy.hpp): 1, 2 and 4 are cluster.hpp's contract
// at every zoom (the passes are the finaliser's, the centre and bounds its cluster_of_item);
// 3 because a zoom-z cluster is a union of whole input items; 5 because the engine's output is
// order-independent and every coarser level's input order and ranks are its output order.
//
// Memory: everything from the caller's allocator, all of it plain data released explicitly
// (the Builder has no destructor, like the Finalizer). The peak is either the max_zoom state and
// its finalisation (what cluster_agg needs at max_zoom, less: the bins go once the sums exist),
// zoom max_zoom - 1's clustering over the leaves' items, or the result plus the parent positions
// (phase B needs no other memory). The coarser zooms' scratch goes through a BlockCache, which
// hands a released array to the next request it fits instead of back to the caller.
#include "core.hpp"

#include "hierarchy.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy_items.hpp"
#include "hierarchy_levels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace geocluster {

using namespace cluster_internal;

HierSums hier_sums_of_item(const Item& it) noexcept {
    return HierSums{it.count_w, it.sx_e.lo,   it.sx_e.hi,   it.sx_w.lo,   it.sx_w.hi,  it.sy.lo,
                    it.sy.hi,   it.min_lon_e, it.max_lon_e, it.min_lon_w, it.max_lon_w};
}

namespace {

constexpr std::uint64_t kOrdinalLimit = std::uint64_t{1} << kHierZoomShift;
constexpr std::size_t kPollEvery = 4096;
constexpr std::size_t kBatch = 64;  // markers looked up together, their cache misses overlapping
constexpr int kNoChildYet = -2;     // expansion_zoom of a node while phase B meets its children

std::int64_t cluster_id(int zoom, std::uint64_t ordinal) noexcept {
    return static_cast<std::int64_t>(static_cast<std::uint64_t>(zoom) << kHierZoomShift | ordinal);
}

// An allocator over the caller's that keeps released large blocks for the next requests they
// fit. Why: every zoom allocates the same arrays again, a little smaller than the zoom before;
// from malloc (or PostgreSQL, which mallocs large chunks one by one) each is fresh memory that
// the kernel zeroes page by page, which was a third of the build's time. A block is reused for
// a request of at least half its size, so the cache never holds much more than the largest
// level needs; flush returns everything to the caller's allocator.
class BlockCache {
  public:
    explicit BlockCache(const Allocator& base) noexcept : base_(base) {}
    Allocator allocator() noexcept { return Allocator{&alloc, &release, this, 0}; }
    void flush() noexcept {
        for (int i = 0; i < n_free_; ++i) base_.release(base_.ctx, free_[i].head);
        n_free_ = 0;
    }

  private:
    static constexpr std::size_t kHeader = 16;  // the block's size, and 8-byte alignment kept
    static constexpr std::size_t kMinCached = 65536;
    static constexpr int kSlots = 32;
    struct Block {
        unsigned char* head;
        std::size_t bytes;
    };
    static void* alloc(void* ctx, std::size_t bytes) noexcept {
        auto* self = static_cast<BlockCache*>(ctx);
        int best = -1;
        for (int i = 0; i < self->n_free_; ++i) {
            const std::size_t have = self->free_[i].bytes;
            if (have >= bytes && have / 2 <= bytes && (best < 0 || have < self->free_[best].bytes))
                best = i;
        }
        unsigned char* head;
        if (best >= 0) {
            head = self->free_[best].head;
            self->free_[best] = self->free_[--self->n_free_];
        } else {
            if (bytes > ~std::size_t{0} - kHeader) return nullptr;
            self->flush();
            head = static_cast<unsigned char*>(self->base_.alloc(self->base_.ctx, bytes + kHeader));
            if (head == nullptr) return nullptr;
            std::memcpy(head, &bytes, sizeof bytes);
        }
        return head + kHeader;
    }
    static void release(void* ctx, void* p) noexcept {
        auto* self = static_cast<BlockCache*>(ctx);
        unsigned char* head = static_cast<unsigned char*>(p) - kHeader;
        std::size_t bytes;
        std::memcpy(&bytes, head, sizeof bytes);
        if (bytes >= kMinCached && self->n_free_ < kSlots) {
            self->free_[self->n_free_++] = Block{head, bytes};
        } else {
            self->base_.release(self->base_.ctx, head);
        }
    }

    Allocator base_;
    Block free_[kSlots];
    int n_free_ = 0;
};

class Builder {
  public:
    Builder(const HierMarker* markers, std::size_t n_markers, double radius_px, int max_zoom,
            const std::uint64_t* next_ordinal, const Allocator& alloc, CancelCheck cancel) noexcept
        : markers_(markers),
          n_markers_(n_markers),
          radius_px_(radius_px),
          max_zoom_(max_zoom),
          next_ordinal_(next_ordinal),
          base_(alloc),
          cache_(alloc),
          a_(cache_.allocator()),
          cancel_(cancel) {}

    Status run(HierBuild* out) noexcept;
    // Phase A alone, each zoom handed to hook (hierarchy_levels.hpp).
    Status run_levels(const HierLevelHook& hook, std::int64_t** leaf_of_marker) noexcept;

    // Counts per zoom, for the caller to advance next_ordinal once the build succeeded.
    std::uint32_t n_at[kHierMaxZoom + 1] = {};

  private:
    Status leaves() noexcept;
    Status bin_of_markers(std::uint32_t* bin_of) noexcept;
    Status coarser_levels() noexcept;
    Status shrink_level() noexcept;
    Status write_nodes() noexcept;
    Status write_leaves(HierNode* leaves) noexcept;
    Status write_zoom(int z, HierNode* finer, HierNode* here) noexcept;
    void release() noexcept;
    bool canceled(std::size_t i) const noexcept {
        return i % kPollEvery == kPollEvery - 1 && cancel_.should_cancel != nullptr &&
               cancel_.should_cancel(cancel_.ctx);
    }
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
        *p = static_cast<T*>(a_.alloc(a_.ctx, n * sizeof(T) + 1));  // + 1: never ask for 0 bytes
        return *p == nullptr ? Status::OutOfMemory : Status::Ok;
    }
    template <typename T>
    void put(T*& p) noexcept {
        if (p != nullptr) a_.release(a_.ctx, p);
        p = nullptr;
    }

    const HierMarker* markers_;
    std::size_t n_markers_;
    double radius_px_;
    int max_zoom_;
    const std::uint64_t* next_ordinal_;
    Allocator base_;    // the caller's: the result
    BlockCache cache_;  // over base_: everything else
    Allocator a_;       // cache_'s
    CancelCheck cancel_;
    const HierLevelHook* hook_ = nullptr;  // set: no nodes, the levels go to it

    ClusterState* st_ = nullptr;      // the markers at max_zoom, until the leaves are known
    ItemClusters top_{};              // max_zoom (from base_): the clusters' items, every bin's
    ItemClusters level_{};            // the last zoom clustered below max_zoom (from base_)
    std::size_t level_room_ = 0;      // the items level_.items has room for
    ClusterState* params_ = nullptr;  // a zoom's parameters, while it is clustered
    // parent_of[z][k]: position at zoom z of the parent of zoom z + 1 cluster k (z < max_zoom)
    std::uint32_t* parent_of_[kHierMaxZoom + 1] = {};
    std::int64_t* leaf_ = nullptr;
    std::uint32_t* bin_of_ = nullptr;  // each marker's bin at max_zoom, until its leaf is known
    HierNode* nodes_ = nullptr;
    std::size_t n_nodes_ = 0;
};

void Builder::release() noexcept {
    cluster_destroy(st_);
    st_ = nullptr;
    cluster_destroy(params_);
    params_ = nullptr;
    item_clusters_free(base_, &top_);
    item_clusters_free(base_, &level_);
    for (auto& p : parent_of_) put(p);
    put(bin_of_);
    if (leaf_ != nullptr) base_.release(base_.ctx, leaf_);
    leaf_ = nullptr;
    if (nodes_ != nullptr) base_.release(base_.ctx, nodes_);
    nodes_ = nullptr;
    cache_.flush();
}

// Zoom max_zoom: the engine on the markers, and each marker's cluster through its bin.
Status Builder::leaves() noexcept {
    Status s = cluster_create(max_zoom_, radius_px_, true, base_, &st_);  // as cluster_agg
    for (std::size_t i = 0; i < n_markers_ && s == Status::Ok; ++i) {
        s = cluster_add_point(st_, markers_[i].lat, markers_[i].lon, true, markers_[i].id);
        if (canceled(i)) s = Status::Canceled;
    }
    // Each marker's bin first, while the state has its hash slots: the finalisation takes the
    // bins (and the slots) as soon as the clusters' sums are made.
    if (s == Status::Ok) s = settle(st_);
    if (s == Status::Ok) s = get(&bin_of_, n_markers_);
    if (s == Status::Ok) s = bin_of_markers(bin_of_);
    if (s == Status::Ok) s = cluster_finalize_items_taking(st_, cancel_, &top_);
    cluster_destroy(st_);  // nothing left in it but its parameters
    st_ = nullptr;
    if (s != Status::Ok) return s;
    const std::uint32_t* bin_of = bin_of_;
    n_at[max_zoom_] = top_.n_items;
    level_room_ = top_.n_items;  // at least: the finaliser's room for its first pass's items
    if (next_ordinal_[max_zoom_] > kOrdinalLimit - top_.n_items)
        return Status::HierarchyIdsExhausted;
    leaf_ =
        static_cast<std::int64_t*>(base_.alloc(base_.ctx, n_markers_ * sizeof(std::int64_t) + 1));
    if (leaf_ == nullptr) return Status::OutOfMemory;
    const std::uint64_t first = next_ordinal_[max_zoom_];
    constexpr std::size_t kAhead = 16;  // the markers' bins are in no order: fetched ahead
    for (std::size_t i = 0; i < n_markers_ && s == Status::Ok; ++i) {
        if (i + kAhead < n_markers_ && bin_of[i + kAhead] < top_.n_inputs)
            __builtin_prefetch(&top_.cluster_of_input[bin_of[i + kAhead]]);
        if (bin_of[i] >= top_.n_inputs)
            s = Status::Internal;
        else
            leaf_[i] = cluster_id(max_zoom_, first + top_.cluster_of_input[bin_of[i]]);
        if (canceled(i)) s = Status::Canceled;
    }
    put(bin_of_);
    if (s != Status::Ok) return s;
    base_.release(base_.ctx, top_.cluster_of_input);
    top_.cluster_of_input = nullptr;
    return Status::Ok;
}

// Every marker's bin, in batches whose hash slots and bins are fetched ahead (as flush_pending
// does for the bins): one marker at a time, each lookup waits for two cache misses in turn.
Status Builder::bin_of_markers(std::uint32_t* bin_of) noexcept {
    if (n_markers_ > 0 && st_->slots == nullptr) return Status::Internal;
    ClusterBinKey key[kBatch];
    std::uint64_t hash[kBatch];
    for (std::size_t b = 0; b < n_markers_; b += kBatch) {
        const std::size_t m = std::min(kBatch, n_markers_ - b);
        for (std::size_t j = 0; j < m; ++j) {
            const Status s =
                cluster_bin_key(st_, markers_[b + j].lat, markers_[b + j].lon, &key[j]);
            if (s != Status::Ok) return s;
            hash[j] = hash_key(key[j].kx, key[j].ky);
            __builtin_prefetch(&st_->slots[hash[j] & st_->slot_mask]);
        }
        for (std::size_t j = 0; j < m; ++j) {  // the bin the first slot probably names
            const std::uint32_t index1 = st_->slots[hash[j] & st_->slot_mask].index1;
            if (index1 == 0) continue;
            __builtin_prefetch(&st_->bins[index1 - 1]);
        }
        for (std::size_t j = 0; j < m; ++j) {
            const std::uint32_t bin = find_index_hashed(st_, key[j].kx, key[j].ky, hash[j]);
            if (bin == kNoBin) return Status::Internal;
            bin_of[b + j] = bin;
        }
        if (canceled(b + kBatch - 1)) return Status::Canceled;
    }
    return Status::Ok;
}

// Zooms max_zoom - 1 .. 0: the items of zoom z + 1, ranked by ordinal (ItemOrder::kRanked: in
// any order in their array), clustered at zoom z.
Status Builder::coarser_levels() noexcept {
    for (int z = max_zoom_ - 1; z >= 0; --z) {
        ItemClusters& finer = z == max_zoom_ - 1 ? top_ : level_;
        Status s = cluster_create(z, radius_px_, true, a_, &params_);
        if (s != Status::Ok) return s;
        // The finer items are taken: the coarser ones are made in their array (max_zoom's,
        // from base_, shrunk below), and the cluster of each is by its rank, its zoom z + 1
        // ordinal: the parent positions as they are.
        ItemClusters coarser{};
        s = cluster_items_in_place(params_, finer.items, finer.n_items, cancel_, &coarser, nullptr);
        cluster_destroy(params_);
        params_ = nullptr;
        cache_.flush();  // the zoom's scratch, before the copy and what the hook keeps
        if (s != Status::Ok) return s;  // finer still holds its array, released by release()
        const std::uint32_t n_finer = finer.n_items;
        parent_of_[z] = coarser.cluster_of_input;  // from a_, as put() releases it
        coarser.cluster_of_input = nullptr;
        finer = ItemClusters{nullptr, 0, nullptr, 0};
        level_ = coarser;
        n_at[z] = coarser.n_items;
        s = shrink_level();
        if (s != Status::Ok) return s;
        if (hook_ != nullptr) {  // after the finer items are gone: what it keeps is not on top
            s = hook_->level(hook_->ctx, z, level_.items, level_.n_items, parent_of_[z], n_finer);
            put(parent_of_[z]);
        }
        if (s != Status::Ok) return s;
        // Streamed (hook_ set), what the hook keeps grows zoom by zoom: the finer levels' blocks
        // are returned rather than held to the end (measured: 3.3 GB peak at 10M markers held,
        // 2.8 GB returned, no slower; a block serves the zoom that released it still).
        if (hook_ != nullptr) cache_.flush();
        if (next_ordinal_[z] > kOrdinalLimit - n_at[z]) return Status::HierarchyIdsExhausted;
    }
    item_clusters_free(base_, &level_);  // phase B sums them again from the children
    if (max_zoom_ == 0) item_clusters_free(base_, &top_);
    return Status::Ok;
}

// level_'s items moved to an array of their own size when it is at least a fifth smaller than
// the one they were made in (max_zoom's, at first): the streamed create keeps more of each zoom
// as the zooms get coarser, so the room of the finer levels is not held to the end. Measured
// at 10M markers: copied so, each zoom's peak stays below max_zoom's; copied only once the copy
// cost no more than a zoom's scratch, one zoom's peak was the highest.
Status Builder::shrink_level() noexcept {
    const std::size_t bytes = std::size_t{level_.n_items} * sizeof(Item);
    if (std::size_t{level_.n_items} + level_.n_items / 4 >= level_room_) return Status::Ok;
    Item* fresh = static_cast<Item*>(base_.alloc(base_.ctx, bytes + 1));
    if (fresh == nullptr) return Status::OutOfMemory;
    if (bytes > 0) std::memcpy(fresh, level_.items, bytes);
    base_.release(base_.ctx, level_.items);
    level_.items = fresh;
    level_room_ = level_.n_items;
    return Status::Ok;
}

// A marker as an item of its own, exactly as its bin holds it (cluster.cpp: -0.0 made +0.0, the
// fixed-point position of cluster_add_point, west when lon < 0, an id always given).
Item item_of_marker(const HierMarker& m) noexcept {
    const double lat = m.lat + 0.0, lon = m.lon + 0.0;
    const bool west = lon < 0.0;
    const Wide x{fixed_x_of_lon(lon), 0}, none{0, 0};
    const double inf = std::numeric_limits<double>::infinity();
    return Item{1,
                west ? 1u : 0u,
                west ? none : x,
                west ? x : none,
                Wide{fixed_y_of_lat(lat), 0},
                lat,
                lat,
                west ? inf : lon,
                west ? -inf : lon,
                west ? lon : inf,
                west ? lon : -inf,
                m.id,
                0,
                1};
}

// The exact sums of item it into node n's count, id, latitude range and sums (the rest of the
// node is written from them once it is complete: write_node).
void node_set_sums(const Item& it, HierNode* n) noexcept {
    n->count = it.count;
    n->min_lat = it.min_lat;
    n->max_lat = it.max_lat;
    n->id = it.min_id;
    n->sums = hier_sums_of_item(it);
}

// Node n (its sums set) adds item it.
void node_add(const Item& it, HierNode* n) noexcept {
    Item sum = hier_item_of_node(*n);
    item_add(sum, it);
    node_set_sums(sum, n);
}

// The rest of node n from its sums: identity, centre and bounds.
void write_node(int zoom, std::int64_t id, HierNode* n) noexcept {
    Cluster c;
    cluster_of_item(hier_item_of_node(*n), &c);
    n->cluster_id = id;
    n->parent_id = -1;
    n->zoom = zoom;
    n->lat = c.lat;
    n->lon = c.lon;
    n->min_lon = c.min_lon;
    n->max_lon = c.max_lon;
}

// Phase B, zoom max_zoom: each leaf summed from its markers again (the sums of its bins, exactly),
// so that the items of max_zoom need not be kept until the nodes are allocated.
Status Builder::write_leaves(HierNode* leaves) noexcept {
    const std::uint32_t n = n_at[max_zoom_];
    const std::uint64_t first = next_ordinal_[max_zoom_];
    for (std::uint32_t k = 0; k < n; ++k) leaves[k].count = 0;
    for (std::size_t b = 0; b < n_markers_; b += kBatch) {
        // The leaves of a batch fetched ahead (they are in output order, the markers in any).
        const std::size_t m = std::min(kBatch, n_markers_ - b);
        for (std::size_t j = 0; j < m; ++j) {
            const std::uint64_t k = static_cast<std::uint64_t>(leaf_[b + j]) & (kOrdinalLimit - 1);
            if (k - first < n) {
                const char* at = reinterpret_cast<const char*>(&leaves[k - first]);
                for (std::size_t line = 0; line < sizeof(HierNode); line += 64)
                    __builtin_prefetch(at + line, 1);
            }
        }
        for (std::size_t i = b; i < b + m; ++i) {
            const std::uint64_t k =
                (static_cast<std::uint64_t>(leaf_[i]) & (kOrdinalLimit - 1)) - first;
            if (k >= n) return Status::Internal;
            if (leaves[k].count == 0) {
                node_set_sums(item_of_marker(markers_[i]), &leaves[k]);
            } else {
                node_add(item_of_marker(markers_[i]), &leaves[k]);
            }
        }
        if (canceled(b + kBatch - 1)) return Status::Canceled;
    }
    for (std::uint32_t k = 0; k < n; ++k) {
        if (leaves[k].count == 0) return Status::Internal;  // a cluster without a marker
        write_node(max_zoom_, cluster_id(max_zoom_, first + k), &leaves[k]);
        leaves[k].expansion_zoom = leaves[k].count > 1 ? max_zoom_ + 1 : -1;
        if (canceled(k)) return Status::Canceled;
    }
    return Status::Ok;
}

// Phase B, zoom z < max_zoom: every node from its children in finer (zoom z + 1, complete but
// for their parent links, which this sets).
Status Builder::write_zoom(int z, HierNode* finer, HierNode* here) noexcept {
    const std::uint32_t* parent = parent_of_[z];
    for (std::uint32_t p = 0; p < n_at[z]; ++p) here[p].expansion_zoom = kNoChildYet;
    // Children in ordinal order. The first child's index waits in the parent's cluster_id
    // (written for good below); a second child starts the parent's sums, in the parent itself.
    for (std::uint32_t k = 0; k < n_at[z + 1]; ++k) {
        const std::uint32_t p = parent[k];
        HierNode& h = here[p];
        if (h.expansion_zoom == kNoChildYet) {
            h.cluster_id = k;
            h.expansion_zoom = finer[k].expansion_zoom;  // one child: its split
        } else {
            if (h.expansion_zoom != z + 1) {  // (a child's expansion zoom is above z + 1)
                node_set_sums(hier_item_of_node(finer[h.cluster_id]), &h);
                h.expansion_zoom = z + 1;  // a second child: it splits at z + 1
            }
            node_add(hier_item_of_node(finer[k]), &h);
        }
        finer[k].parent_id = cluster_id(z, next_ordinal_[z] + p);
        if (canceled(k)) return Status::Canceled;
    }
    for (std::uint32_t p = 0; p < n_at[z]; ++p) {
        if (here[p].expansion_zoom == kNoChildYet) return Status::Internal;  // childless
        const int expansion = here[p].expansion_zoom;
        if (expansion != z + 1) {
            // One child: the same members, so the same centre, bounds and sums (why compute
            // them again: most clusters of a zoom are a single finer one).
            here[p] = finer[here[p].cluster_id];
            here[p].cluster_id = cluster_id(z, next_ordinal_[z] + p);
            here[p].parent_id = -1;
            here[p].zoom = z;
        } else {
            write_node(z, cluster_id(z, next_ordinal_[z] + p), &here[p]);
        }
        here[p].expansion_zoom = expansion;
        if (canceled(p)) return Status::Canceled;
    }
    return Status::Ok;
}

// Phase B: every node, zoom by zoom from max_zoom, in (zoom, ordinal) order.
Status Builder::write_nodes() noexcept {
    std::size_t offset[kHierMaxZoom + 2];
    offset[0] = 0;
    for (int z = 0; z <= max_zoom_; ++z) offset[z + 1] = offset[z] + n_at[z];
    n_nodes_ = offset[max_zoom_ + 1];
    cache_.flush();  // the levels' blocks, before the largest allocation of all
    nodes_ = static_cast<HierNode*>(base_.alloc(base_.ctx, n_nodes_ * sizeof(HierNode) + 1));
    if (nodes_ == nullptr) return Status::OutOfMemory;
    Status s = write_leaves(nodes_ + offset[max_zoom_]);
    for (int z = max_zoom_ - 1; z >= 0 && s == Status::Ok; --z) {
        s = write_zoom(z, nodes_ + offset[z + 1], nodes_ + offset[z]);
        put(parent_of_[z]);
    }
    return s;
}

Status Builder::run(HierBuild* out) noexcept {
    Status s = leaves();
    if (s == Status::Ok) s = coarser_levels();
    if (s == Status::Ok) s = write_nodes();
    if (s != Status::Ok) {
        release();
        return s;
    }
    *out = HierBuild{nodes_, n_nodes_, leaf_, n_markers_};
    nodes_ = nullptr;
    leaf_ = nullptr;
    release();
    return Status::Ok;
}

Status Builder::run_levels(const HierLevelHook& hook, std::int64_t** leaf_of_marker) noexcept {
    hook_ = &hook;
    Status s = leaves();
    if (s == Status::Ok) s = hook.level(hook.ctx, max_zoom_, top_.items, top_.n_items, nullptr, 0);
    if (s == Status::Ok) s = coarser_levels();
    if (s == Status::Ok) {
        *leaf_of_marker = leaf_;
        leaf_ = nullptr;
    }
    release();
    return s;
}

}  // namespace

Item hier_item_of_marker(const HierMarker& m) noexcept { return item_of_marker(m); }

void hier_node_of_item(const Item& it, HierNode* out) noexcept {
    node_set_sums(it, out);
    write_node(0, -1, out);
}

Status hierarchy_build_levels(const HierMarker* markers, std::size_t n_markers, double radius_px,
                              int max_zoom, std::uint64_t* next_ordinal, const Allocator& alloc,
                              CancelCheck cancel, const HierLevelHook& hook,
                              std::int64_t** leaf_of_marker) noexcept {
    *leaf_of_marker = nullptr;
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    for (int z = 0; z <= max_zoom; ++z)
        if (next_ordinal[z] >= kOrdinalLimit) return Status::HierarchyIdsExhausted;
    Builder b(markers, n_markers, radius_px, max_zoom, next_ordinal, alloc, cancel);
    const Status s = b.run_levels(hook, leaf_of_marker);
    if (s != Status::Ok) return s;
    for (int z = 0; z <= max_zoom; ++z) next_ordinal[z] += b.n_at[z];
    return Status::Ok;
}

Status hierarchy_build(const HierMarker* markers, std::size_t n_markers, double radius_px,
                       int max_zoom, std::uint64_t* next_ordinal, const Allocator& alloc,
                       CancelCheck cancel, HierBuild* out) noexcept {
    *out = HierBuild{nullptr, 0, nullptr, 0};
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    for (int z = 0; z <= max_zoom; ++z)
        if (next_ordinal[z] >= kOrdinalLimit) return Status::HierarchyIdsExhausted;
    Builder b(markers, n_markers, radius_px, max_zoom, next_ordinal, alloc, cancel);
    const Status s = b.run(out);
    if (s != Status::Ok) return s;
    for (int z = 0; z <= max_zoom; ++z) next_ordinal[z] += b.n_at[z];
    return Status::Ok;
}

void hierarchy_free(const Allocator& alloc, HierBuild* build) noexcept {
    if (build->nodes != nullptr) alloc.release(alloc.ctx, build->nodes);
    if (build->leaf_of_marker != nullptr) alloc.release(alloc.ctx, build->leaf_of_marker);
    *build = HierBuild{nullptr, 0, nullptr, 0};
}

}  // namespace geocluster
