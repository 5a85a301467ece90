// Incremental maintenance of a cluster hierarchy (hierarchy.hpp) under writes: insert, erase and
// move markers, each touching only the clusters near the change at each zoom, with every
// guarantee of hierarchy.hpp kept after every call except determinism, which becomes "a rebuild
// restores the deterministic shape" (docs/hierarchy-writes.md).
//
// This is the storage-independent algorithm, over an in-memory working copy that starts from a
// build's output. The SQL layer runs the same steps on its stored nodes (the docs say which rows
// each step reads and writes); tests and the drift benchmark run them here. The working copy
// uses standard containers, so it is for tests, fuzzing and benchmarks, not for a backend's
// per-row path: a failed allocation is caught inside and reported as OutOfMemory, after which
// the updater refuses further calls (its state may be half-changed).
//
// One write, at every zoom from max_zoom to 0:
//  1. Membership. An inserted marker joins the nearest max_zoom cluster whose centre is within
//     the radius of it, or starts a new cluster; a new cluster at zoom z + 1 joins the nearest
//     zoom-z cluster within the radius of its centre, or starts one. Every cluster holding the
//     marker adds it to its exact sums (Item, cluster_items.hpp: the build's own fixed-point
//     sums), so its centre is exact. An erased marker is subtracted from the same chain; bounds
//     and the min id are recomputed from the cluster's children only when the marker was on
//     an extreme; a cluster left empty disappears (from its parent's children too). A move is
//     an erase and an insert.
//  2. Separation. Every cluster whose centre moved (or that is new) is a candidate. Zoom by zoom,
//     finest first, each candidate in id order is merged with the nearest cluster within the
//     radius (ties: lower id), again until none is within. Merging A and B at zoom z needs
//     their parents merged at z - 1 when they differ (nesting), and so on up: a merge never
//     changes a finer zoom, so one pass from max_zoom to 0 ends with no violation.
//  3. Expansion zooms of the clusters whose children changed, and of their single-child
//     ancestors, finest first.
// "Within the radius" is the engine's: closer than radius + the engine's slack, measured
// between the exact centres (cluster_internal.hpp), across the antimeridian too.
//
// Identity. A cluster keeps its id while it exists. A merge keeps the id of the cluster with
// more markers (equal counts: the lower id) and retires the other for good; new clusters take
// fresh ordinals from next_ordinal, shared by all partitions as in the build. Erasing the last
// marker of a cluster retires its id.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "hierarchy.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace geocluster {

enum class HierWriteKind : std::uint8_t { Insert, Erase, Move };

// One write. Insert of an id already present is a move (ids name markers here: the SQL layer
// keys them by the row's id); erase of an absent id does nothing. Move and insert take the
// partition given (a move may change it).
struct HierWrite {
    HierWriteKind kind;
    std::int64_t id;
    double lat, lon;         // Insert, Move; validated as by cluster_add_point
    std::int64_t partition;  // Insert, Move
};

// Work done, summed over the calls since the updater was made (for the benchmark and tests).
struct HierUpdateStats {
    std::uint64_t writes;         // writes applied
    std::uint64_t nodes_touched;  // clusters read or changed (each counted once per change)
    std::uint64_t merges;         // pairs merged, all zooms
    std::uint64_t created;        // clusters created
    std::uint64_t removed;        // clusters retired (merged away or emptied)
};

class HierarchyUpdater {
  public:
    // radius_px and max_zoom as for hierarchy_build (RadiusInvalid, ZoomOutOfRange from init).
    HierarchyUpdater() noexcept;
    ~HierarchyUpdater();
    HierarchyUpdater(const HierarchyUpdater&) = delete;
    HierarchyUpdater& operator=(const HierarchyUpdater&) = delete;

    Status init(double radius_px, int max_zoom) noexcept;

    // Builds every partition's hierarchy with hierarchy_build (one next_ordinal for all of them,
    // partitions in ascending order, so the ids are the deterministic build's) and loads it.
    // partitions may be null (all markers in partition 0). Call it once, after init. Marker ids
    // must be unique (Internal otherwise: the build accepts repeated ids, but writes name
    // markers by id).
    Status build(const HierMarker* markers, const std::int64_t* partitions, std::size_t n) noexcept;

    // Applies the writes in order, then restores separation and the expansion zooms once: a
    // batch (a statement's transition table) costs one repair. Every write is validated first;
    // on a bad position nothing changes (BadLatitude-like statuses of cluster_add_point).
    Status apply(const HierWrite* writes, std::size_t n) noexcept;

    Status insert(std::int64_t id, double lat, double lon, std::int64_t partition = 0) noexcept;
    Status erase(std::int64_t id) noexcept;
    Status move(std::int64_t id, double lat, double lon, std::int64_t partition = 0) noexcept;

    // The current hierarchy of one partition, as a build would report it: nodes sorted by
    // (zoom, cluster_id), the markers sorted by id and leaf_of_marker[i] the max_zoom cluster of
    // markers[i]. Ordinals are not consecutive after writes and the nodes are not in the
    // engine's output order (hierarchy.hpp's identity rules hold for builds only).
    Status export_partition(std::int64_t partition, std::vector<HierNode>* nodes,
                            std::vector<HierMarker>* markers,
                            std::vector<std::int64_t>* leaf_of_marker) const noexcept;

    // The accessors below need a successful init. Partitions that hold markers, ascending.
    std::vector<std::int64_t> partitions() const;
    std::size_t n_markers() const noexcept;
    // Clusters per zoom of one partition (size max_zoom + 1).
    std::vector<std::size_t> nodes_per_zoom(std::int64_t partition) const;
    // Cluster ids retired by the last apply (merged away or emptied), ascending.
    const std::vector<std::int64_t>& last_retired() const noexcept;
    const std::uint64_t* next_ordinal() const noexcept;
    HierUpdateStats stats() const noexcept;

    // For tests only: skip the parent merges that nesting needs (a deliberate break that the
    // property test must catch).
    void test_skip_parent_merge(bool skip) noexcept;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace geocluster
