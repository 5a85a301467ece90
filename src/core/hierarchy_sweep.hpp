// The cluster hierarchy's clustering (hierarchy.cpp, phase A): a sweep in cell order, one zoom at
// a time, that gives the guarantees of hierarchy.hpp. Not part of the API.
//
// One zoom. The zoom's items (at max_zoom the markers, each an item of its own; below it the
// clusters of zoom z + 1, each taken whole) are sorted by the cell of their centre, row by row,
// ties by the item's smallest id (then by its centre). Cells are a power of two of fixed units
// (cluster_internal.hpp) at least the engine's query width (its reach, radius_px + 64 fixed
// units, and a little for the rounding of the centres), so that a whole number of columns spans
// the world and every item within reach of a point lies in the 3 x 3 cells around it, or across
// the antimeridian in the column at the other edge. Then passes: in that order, each item not
// yet taken takes every item not yet taken whose centre lies within the reach of its own (the
// engine's test, Finalizer::within: dx across the antimeridian too); its exact sums grow by
// theirs (item_add) and its centre is made again (centre_of). Passes repeat until one takes
// nothing: then no two centres of the zoom are within reach (each item was a seed at its turn,
// and took everything within reach that was left). After the first pass only an item that took
// something ("dirty") can be within reach of another (two clean items were both seeds that took
// nothing), so a clean item looks only at the dirty ones, and the next pass's order is the clean
// items (still sorted) merged with the dirty ones sorted anew. The zoom's clusters are the last
// pass's items, numbered in its order, and each input's cluster is the item that took it,
// followed through the passes (a union-find over the inputs' slots).
//
// Why the guarantees hold: conservation and nesting because every input is taken whole by one
// item; separation by the last pass; centres and bounds from exact integer sums (the engine's
// Item, cluster_of_item); determinism because the order, and therefore which item is a seed and
// what it takes, is a function of the items' contents alone (two items equal in cell, smallest id
// and centre take each other whichever comes first, with the same result).
#pragma once

#include "core.hpp"

#include "cluster_items.hpp"
#include "hierarchy.hpp"

#include <limits>

namespace geocluster {

// A marker as an item of its own, exactly as its bin holds it (cluster.cpp: -0.0 made +0.0, the
// fixed-point position of cluster_add_point, west when lon < 0, an id always given), from the
// position as the sweep holds it (fixed_x_of_lon and fixed_y_of_lat of its lon and lat): the
// projection is not made again for every marker that takes, is taken or stays alone. Inline: the
// sweep makes one in its pool for every single marker that starts taking.
inline cluster_internal::Item hier_item_of_marker_at(const HierMarker& m, std::uint64_t fixed_x,
                                                     std::uint64_t fixed_y) noexcept {
    const double lat = m.lat + 0.0, lon = m.lon + 0.0;
    const bool west = lon < 0.0;
    const cluster_internal::Wide x{fixed_x, 0}, none{0, 0};
    const double inf = std::numeric_limits<double>::infinity();
    return cluster_internal::Item{1,
                                  west ? 1u : 0u,
                                  west ? none : x,
                                  west ? x : none,
                                  cluster_internal::Wide{fixed_y, 0},
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

namespace hier_sweep {

struct Entry;  // hierarchy_sweep.cpp
struct Take;   // hierarchy_sweep.cpp

// The state between zooms: the last zoom's clusters, in its ordinal order, each a 4-byte
// reference and a centre. Why references: most clusters of every zoom are a single marker, which
// is its marker and its centre (the marker's fixed-point position, exactly) and nothing else;
// only a cluster of several markers (or a marker that took others) is an exact item, in a pool.
// At 10M markers the 128-byte items of max_zoom's and zoom 15's clusters, side by side, were the
// build's peak (1.6 GB). Plain data from the allocator, released by release() (no destructor,
// like the engine's Finalizer).
class Sweep {
  public:
    Sweep(const Allocator& alloc, CancelCheck cancel, double radius_px) noexcept
        : a_(alloc), cancel_(cancel), radius_px_(radius_px) {}

    // Zoom zoom over the markers (validated here: BadLatitude, BadLongitude; StateTooLarge from
    // 2^31 markers). On Ok the clusters held are the zoom's, and (*ordinal_of_marker)[m] (from
    // the allocator, n entries, the caller's to release) the ordinal of marker m's. The markers
    // must outlive the Sweep's use.
    Status cluster_markers(const HierMarker* markers, std::size_t n, int zoom,
                           std::int64_t** ordinal_of_marker) noexcept;

    // cluster_markers for a caller that gives the markers' order up (the streamed create): on Ok
    // the markers are reordered in place, first the markers of the zoom's single clusters in
    // their ordinal order (*n_single of them), then the others cluster by cluster in ordinal
    // order (in their order before within one: each cluster's count() of them).
    // The coarser zooms then read the single markers there: not copied at each zoom (at 10M the
    // copy was 137 MB of the clustering's peak) and in about max_zoom's cell order.
    Status cluster_markers_in_place(HierMarker* markers, std::size_t n, int zoom,
                                    std::uint32_t* n_single) noexcept;

    // Zoom zoom over the clusters held (of the zoom clustered last, their centres kept from
    // then), each taken whole: on Ok the clusters held are zoom zoom's, and cluster_of_finer[j]
    // (n_clusters() entries before the call, the caller's) the ordinal of finer cluster j's.
    // On failure the clusters held are unspecified: release() only.
    Status cluster_coarser(int zoom, std::uint32_t* cluster_of_finer) noexcept;
    // The same with *cluster_of_finer made here, from the allocator, the caller's (also on
    // failure): the zoom's own array handed over, not an array of the caller's held beside the
    // sweep (28 MB of the streamed create's peak at 10M, and a copy).
    Status cluster_coarser_into(int zoom, std::uint32_t** cluster_of_finer) noexcept;

    // The clusters held, by ordinal: how many; whether cluster k is a single marker; its exact
    // item (rank k), what hierarchy_build's nodes of that zoom are summed to, bit for bit.
    std::uint32_t n_clusters() const noexcept { return n_; }
    bool single(std::uint32_t k) const noexcept { return (ref_[k] & kPooled) == 0; }
    std::uint64_t count(std::uint32_t k) const noexcept {  // its markers
        return single(k) ? 1 : pooled(ref_[k] & ~kPooled).count;
    }
    cluster_internal::Item cluster(std::uint32_t k) const noexcept;

    void release() noexcept;

  private:
    // A reference: a single marker's index in singles_, or kPooled | an index into the pool.
    static constexpr std::uint32_t kPooled = 0x80000000u;
    static constexpr int kPoolChunkBits = 13;  // pool chunks of 8192 items (1 MiB)
    static constexpr std::uint32_t kPoolChunkMask = (std::uint32_t{1} << kPoolChunkBits) - 1;

    Status sweep_markers(const HierMarker* markers, std::size_t n, int zoom,
                         std::uint32_t** cluster) noexcept;
    Status sweep_held(std::uint32_t n, int zoom, std::uint32_t** cluster) noexcept;
    void move_items(std::uint32_t from, std::uint32_t count, std::uint32_t to) noexcept;
    Status reorder_markers(HierMarker* markers, std::size_t n, std::uint32_t* cluster,
                           std::uint32_t* n_single) noexcept;
    Status permute(HierMarker* markers, std::uint32_t* place, std::uint32_t n) noexcept;
    template <typename Access>
    Status sweep_zoom(Access& acc, std::uint32_t n, int zoom, std::uint32_t* n_out) noexcept;
    template <typename Access>
    Status order(Access& acc, std::uint32_t n, int zoom) noexcept;
    Status order_by_rows(std::uint32_t n, int zoom, bool* done) noexcept;
    template <typename Access>
    Status sort_cell_runs(Access& acc, std::uint32_t n) noexcept;
    Status mark_pass(std::uint32_t n, int zoom, bool first, std::size_t* n_dirty) noexcept;
    template <typename Access>
    Status sum_takes(Access& acc, const Take* batch, std::uint32_t n_batch, int zoom,
                     std::uint32_t n, std::uint32_t* n_moved) noexcept;
    template <typename Access>
    Status pass(Access& acc, std::uint32_t* n, int zoom, bool first, std::size_t* n_taken) noexcept;
    template <typename Access>
    Status next_order(Access& acc, std::uint32_t n, std::uint32_t n_moved,
                      std::uint32_t* n_live) noexcept;
    template <typename Access>
    void merge_few_movers(Access& acc, std::uint32_t n_stay, std::uint32_t n_moved) noexcept;
    Status sort_entries(Entry* e, std::size_t n, Entry* tmp) noexcept;
    Status get_zoom_arrays(std::uint32_t n) noexcept;
    Status mover_room(std::uint32_t n_moved, std::uint32_t n) noexcept;
    void put_zoom_arrays() noexcept;
    Status keep_clusters(std::uint32_t n, std::uint32_t n_out) noexcept;
    Status keep_singles() noexcept;
    Status keep_centres(std::uint32_t n) noexcept;
    std::uint32_t root(std::uint32_t s) noexcept;
    cluster_internal::Item& pooled(std::uint32_t p) const noexcept {
        return chunk_[p >> kPoolChunkBits][p & kPoolChunkMask];
    }
    Status pool_append(std::uint32_t* p) noexcept;
    void pool_trim(std::uint32_t n) noexcept;
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
        *p = cluster_internal::alloc_array<T>(a_, n);
        return *p == nullptr ? Status::OutOfMemory : Status::Ok;
    }
    template <typename T>
    void put(T*& p) noexcept {
        cluster_internal::release_array(a_, &p);
    }

    Allocator a_;
    CancelCheck cancel_;
    double radius_px_;
    // The single markers: at max_zoom the caller's markers; below it the markers of the clusters
    // that are still one marker, in their ordinal order (own_), so that a zoom reads them in
    // about its order, where the caller's (240 MB at 10M) were a cache miss a read; or, in
    // place, the caller's markers reordered at max_zoom (cluster_markers_in_place).
    const HierMarker* singles_ = nullptr;
    HierMarker* own_ = nullptr;
    bool in_place_ =
        false;  // singles_ is the caller's markers, reordered (cluster_markers_in_place)

    // Between zooms: the last zoom's clusters by ordinal (n_ of them): their references, and
    // their centres in x_ and y_ (room: room_).
    std::uint32_t* ref_ = nullptr;
    std::uint32_t n_ = 0;
    double* x_ = nullptr;
    double* y_ = nullptr;
    std::size_t room_ = 0;
    // The pool: items in chunks that never move (a growth copies nothing), n_pool_ used.
    cluster_internal::Item** chunk_ = nullptr;
    std::uint32_t n_chunks_ = 0, chunk_room_ = 0, n_pool_ = 0;
    // A zoom's arrays: the live items in sweep order (cell key, centre in x_ and y_, slot: the
    // input it grows in), and by slot the union-find links and the final ordinals. During a
    // zoom ref_ is by slot, and a single marker that takes something becomes a pooled item.
    std::uint64_t* key_ = nullptr;
    std::uint32_t* slot_ = nullptr;
    Entry* ent_ = nullptr;  // a pass's movers (room: ent_room_)
    Take* take_ = nullptr;  // a pass's takes, found before their items are summed
    std::uint32_t ent_room_ = 0;
    std::uint64_t* buf_a_ = nullptr;    // the radix sort's keys; in a pass the dirty items' keys
    std::uint64_t* buf_b_ = nullptr;    // its scratch; in a pass the dirty items' positions
    unsigned char* state_ = nullptr;    // per position in a pass; per pool item when kept
    unsigned char* dirty_ = nullptr;    // per position: took something in the last pass
    std::uint32_t* into_ = nullptr;     // by slot: the item that took it (itself: not taken)
    std::uint32_t* ordinal_ = nullptr;  // by slot, for the last pass's items; then pool places

    friend struct RefAccess;
};

}  // namespace hier_sweep
}  // namespace geocluster
