// The cluster hierarchy's build (hierarchy.hpp): the cell-order sweep of hierarchy_sweep.hpp on
// the markers at max_zoom, then on whole clusters, one zoom coarser at a time.
//
// Two phases, so that the nodes are written once, straight into the result:
//   A. Clustering, from max_zoom down (hier_sweep::Sweep). Zoom max_zoom sweeps the markers and
//      gives every marker's leaf; zoom z < max_zoom sweeps the clusters of zoom z + 1, which the
//      Sweep holds as references (a marker, or a pooled item for a cluster of several). Kept:
//      per zoom z < max_zoom the parent position of every zoom z + 1 cluster (4 bytes each).
//   B. Writing, once the node count of every zoom is known: the max_zoom nodes summed from their
//      markers again, then every coarser zoom by adding up its children's exact sums, in the
//      nodes themselves (the same items the clustering of phase A produced, bit for bit: integer
//      sums, minima and maxima are exact whatever the order), its parent links and expansion
//      zooms set along the way.
//
// Why the guarantees hold: hierarchy_sweep.hpp.
//
// Memory: everything from the caller's allocator, all of it plain data released explicitly
// (the Builder has no destructor, like the Finalizer). The peak is either max_zoom's sweep (about
// 70 bytes a marker of keys, links, centres and references, and an item for each marker that
// took something), or the result plus the parent positions (phase B needs no other memory).
#include "core.hpp"

#include "hierarchy.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy_block.hpp"
#include "hierarchy_items.hpp"
#include "hierarchy_levels.hpp"
#include "hierarchy_sweep.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

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
          cancel_(cancel),
          sweep_(alloc, cancel, radius_px) {}

    Status run(HierBuild* out) noexcept;
    // Phase A alone, each zoom handed to hook (hierarchy_levels.hpp).
    Status run_levels(const HierLevelHook& hook, std::uint32_t** leaf_of_marker) noexcept;
    // The same over markers reordered in place (hierarchy_build_levels_in_place).
    Status run_levels_in_place(HierMarker* markers, const HierLevelHook& hook,
                               std::uint32_t* n_single) noexcept;

    // Counts per zoom, for the caller to advance next_ordinal once the build succeeded.
    std::uint32_t n_at[kHierMaxZoom + 1] = {};

  private:
    Status leaves() noexcept;
    Status leaves_in_place(HierMarker* markers, std::uint32_t* n_single) noexcept;
    Status narrow_leaves() noexcept;
    Status coarser_levels() noexcept;
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
        *p = cluster_internal::alloc_array<T>(a_, n);
        return *p == nullptr ? Status::OutOfMemory : Status::Ok;
    }
    template <typename T>
    void put(T*& p) noexcept {
        cluster_internal::release_array(a_, &p);
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

    hier_sweep::Sweep sweep_;  // phase A's clustering, from base_; holds the last zoom clustered
    // parent_of[z][k]: position at zoom z of the parent of zoom z + 1 cluster k (z < max_zoom)
    std::uint32_t* parent_of_[kHierMaxZoom + 1] = {};
    std::int64_t* leaf_ = nullptr;
    std::uint32_t* leaf_pos_ = nullptr;  // with a hook: leaf_ narrowed (narrow_leaves)
    HierNode* nodes_ = nullptr;
    std::size_t n_nodes_ = 0;
};

void Builder::release() noexcept {
    sweep_.release();
    for (auto& p : parent_of_) put(p);
    if (leaf_ != nullptr) base_.release(base_.ctx, leaf_);
    leaf_ = nullptr;
    cluster_internal::release_array(base_, &leaf_pos_);
    if (nodes_ != nullptr) base_.release(base_.ctx, nodes_);
    nodes_ = nullptr;
    cache_.flush();
}

// Zoom max_zoom: the sweep over the markers, and each marker's leaf.
Status Builder::leaves() noexcept {
    Status s = sweep_.cluster_markers(markers_, n_markers_, max_zoom_, &leaf_);
    if (s != Status::Ok) return s;
    const std::uint32_t n = sweep_.n_clusters();
    n_at[max_zoom_] = n;
    if (next_ordinal_[max_zoom_] > kOrdinalLimit - n) return Status::HierarchyIdsExhausted;
    if (hook_ != nullptr) return narrow_leaves();
    const std::uint64_t first = next_ordinal_[max_zoom_];
    for (std::size_t i = 0; i < n_markers_; ++i) {
        leaf_[i] = cluster_id(max_zoom_, first + static_cast<std::uint64_t>(leaf_[i]));
        if (canceled(i)) return Status::Canceled;
    }
    return Status::Ok;
}

// Zoom max_zoom over markers reordered in place (Sweep::cluster_markers_in_place).
Status Builder::leaves_in_place(HierMarker* markers, std::uint32_t* n_single) noexcept {
    Status s = sweep_.cluster_markers_in_place(markers, n_markers_, max_zoom_, n_single);
    if (s != Status::Ok) return s;
    const std::uint32_t n = sweep_.n_clusters();
    n_at[max_zoom_] = n;
    if (next_ordinal_[max_zoom_] > kOrdinalLimit - n) return Status::HierarchyIdsExhausted;
    return Status::Ok;
}

// With a hook: each marker's leaf as its position at max_zoom (4 bytes, the zoom is known), the
// 8-byte array released before the coarser zooms are clustered: at 10M it was 80 MB of the
// clustering's peak (zoom 15's sweep), where the narrow copy is 40 MB.
Status Builder::narrow_leaves() noexcept {
    leaf_pos_ = cluster_internal::alloc_array<std::uint32_t>(base_, n_markers_);
    if (leaf_pos_ == nullptr) return Status::OutOfMemory;
    for (std::size_t i = 0; i < n_markers_; ++i) {
        leaf_pos_[i] = static_cast<std::uint32_t>(leaf_[i]);
        if (canceled(i)) return Status::Canceled;
    }
    base_.release(base_.ctx, leaf_);
    leaf_ = nullptr;
    return Status::Ok;
}

// Zooms max_zoom - 1 .. 0: the clusters of zoom z + 1, each taken whole, swept at zoom z.
Status Builder::coarser_levels() noexcept {
    for (int z = max_zoom_ - 1; z >= 0; --z) {
        const std::uint32_t n_finer = sweep_.n_clusters();
        if (hook_ != nullptr && hook_->adopts_parents) {
            std::uint32_t* parents = nullptr;
            Status s = sweep_.cluster_coarser_into(z, &parents);
            if (s != Status::Ok) {
                cluster_internal::release_array(base_, &parents);
                return s;
            }
            n_at[z] = sweep_.n_clusters();
            s = hook_->level(hook_->ctx, z, sweep_, parents, n_finer);  // the hook's now
            if (s != Status::Ok) return s;
            if (next_ordinal_[z] > kOrdinalLimit - n_at[z]) return Status::HierarchyIdsExhausted;
            continue;
        }
        Status s = get(&parent_of_[z], n_finer);
        if (s != Status::Ok) return s;
        s = sweep_.cluster_coarser(z, parent_of_[z]);
        if (s != Status::Ok) return s;
        n_at[z] = sweep_.n_clusters();
        if (hook_ != nullptr) {
            s = hook_->level(hook_->ctx, z, sweep_, parent_of_[z], n_finer);
            put(parent_of_[z]);
        }
        if (s != Status::Ok) return s;
        // Streamed (hook_ set), what the hook keeps grows zoom by zoom: the finer levels' blocks
        // are returned rather than held to the end.
        if (hook_ != nullptr) cache_.flush();
        if (next_ordinal_[z] > kOrdinalLimit - n_at[z]) return Status::HierarchyIdsExhausted;
    }
    sweep_.release();  // phase B sums the nodes again from the children
    return Status::Ok;
}

Item item_of_marker(const HierMarker& m) noexcept {
    return hier_item_of_marker_at(m, fixed_x_of_lon(m.lon + 0.0), fixed_y_of_lat(m.lat + 0.0));
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
    n->cluster_id = id;
    n->parent_id = -1;
    n->zoom = zoom;
    const Item it = hier_item_of_node(*n);
    if (n->count == 1) {  // a single marker's centre: hier_single_centre's, the one definition
        item_lon_bounds(it, &n->min_lon, &n->max_lon);
        hier_single_centre(n->min_lat, n->min_lon, &n->lat, &n->lon);
        return;
    }
    Cluster c;
    cluster_of_item(it, &c);
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

Status Builder::run_levels(const HierLevelHook& hook, std::uint32_t** leaf_of_marker) noexcept {
    hook_ = &hook;
    Status s = leaves();
    if (s == Status::Ok) s = hook.level(hook.ctx, max_zoom_, sweep_, nullptr, 0);
    if (s == Status::Ok) s = coarser_levels();
    if (s == Status::Ok) {
        *leaf_of_marker = leaf_pos_;
        leaf_pos_ = nullptr;
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
                              std::uint32_t** leaf_of_marker) noexcept {
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

Status Builder::run_levels_in_place(HierMarker* markers, const HierLevelHook& hook,
                                    std::uint32_t* n_single) noexcept {
    hook_ = &hook;
    Status s = leaves_in_place(markers, n_single);
    if (s == Status::Ok) s = hook.level(hook.ctx, max_zoom_, sweep_, nullptr, 0);
    if (s == Status::Ok) s = coarser_levels();
    release();
    return s;
}

Status hierarchy_build_levels_in_place(HierMarker* markers, std::size_t n_markers, double radius_px,
                                       int max_zoom, std::uint64_t* next_ordinal,
                                       const Allocator& alloc, CancelCheck cancel,
                                       const HierLevelHook& hook,
                                       std::uint32_t* n_single) noexcept {
    *n_single = 0;
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    for (int z = 0; z <= max_zoom; ++z)
        if (next_ordinal[z] >= kOrdinalLimit) return Status::HierarchyIdsExhausted;
    Builder b(markers, n_markers, radius_px, max_zoom, next_ordinal, alloc, cancel);
    const Status s = b.run_levels_in_place(markers, hook, n_single);
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
