// Cluster membership: which cluster of cluster_agg's result each marker belongs to, so that SQL
// can GROUP BY it and compute any aggregate per cluster (a sum, counts per category, the newest
// marker...). The SQL is in src/sql/geocluster/55_cluster_membership.sql, the glue in
// src/pg/cluster_membership.cpp.
//
// A state is finalised once into a membership table: every occupied bin's key (cluster.hpp,
// ClusterBinKey) with the position of its cluster in the finalised list, sorted by key. Every
// point of a bin is in that bin's cluster (cluster_finalize_assign), so a marker's cluster is
// the entry of the bin it falls into: one bin key and one binary search per row, with no cache
// and nothing to finalise again.
//
// Why a table of its own rather than a per-row function of the state: telling that a row's state
// argument is the one already finalised takes a comparison of all its bytes (a pointer can be
// reused by the next state of the same size, e.g. one state per LATERAL group), which would cost
// O(state) per row. The table is looked up in place, in O(log bins) per row.
//
// Wire format (little-endian), 24-byte header then one 20-byte entry per bin:
//   0  'g' 'c' 'm' version (1)
//   4  u32 zoom                 8  u64 radius_px (IEEE-754 bits)
//   16 u32 clusters             20 u32 bins
//   24 + 20 i: u64 kx, u64 ky, u32 cluster (0-based position in the cluster list)
// Entries are strictly increasing by (kx, ky). Reading validates the header, the length and, per
// lookup, the cluster found; the order of the entries is not checked per row (that is O(bins)):
// a hand-made table out of order gives wrong answers in range, never an out-of-bounds read.
#pragma once

#include "cluster.hpp"

namespace geocluster {

constexpr std::size_t kMembershipHeaderBytes = 24;
constexpr std::size_t kMembershipEntryBytes = 20;

struct MembershipView {
    const std::uint8_t* entries;
    std::uint32_t n_bins;
    std::uint32_t n_clusters;
    int zoom;
    double radius_px;
};

// Bytes of the table for n_bins bins; SIZE_MAX when n_bins does not fit the format.
std::size_t membership_size(std::size_t n_bins) noexcept;

// Writes the table of a finalised state: assign sorted by key, as cluster_finalize_assign
// returns it, n_clusters the size of its ClusterList. len must be membership_size(n_bins).
// Internal on any inconsistency (a cluster out of range, keys out of order, wrong length).
Status membership_write(int zoom, double radius_px, const ClusterBinAssignment* assign,
                        std::size_t n_bins, std::size_t n_clusters, std::uint8_t* out,
                        std::size_t len) noexcept;

// Checks the header and the length. StateBadVersion for another magic or version (a cluster
// state passed by mistake, for one), StateCorrupt for anything else malformed.
Status membership_view(const std::uint8_t* bytes, std::size_t len, MembershipView* out) noexcept;

// The 1-based position of the cluster of the bin `key` in the finalised list (= the index into
// cluster_agg's array), or 0 when no bin has that key. StateCorrupt for an entry naming a
// cluster beyond the list.
Status membership_find(const MembershipView& view, ClusterBinKey key,
                       std::uint32_t* ordinal) noexcept;

}  // namespace geocluster
