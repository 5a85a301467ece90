// Delta rows of a stored cluster hierarchy (docs/hierarchy-storage.md, "Writes"): a write that
// changes a few records of a large node block stores them beside the block instead of encoding
// the block again. A reader folds the delta over the block; a writer folds it into the block once
// it has grown (hier_delta_fold_due), and cluster_hierarchy_compact folds every one.
//
// Format (version 1): a version byte; the number n of shadowed slots (4 bytes, little-endian);
// n slots (4 bytes each, strictly ascending): the block's records it removes or replaces; then a
// node block (hierarchy_block.hpp) of the records it adds or replaces, or nothing when none.
// Every record of that node block has its slot shadowed, so a reader skips the block's records
// of shadowed slots and reads the delta's records after them: no record is read twice. Fixed
// width slots so that a reader tests a slot by binary search, without decoding into memory.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "hierarchy_block.hpp"

#include <cstdint>
#include <vector>

namespace geocluster {

constexpr unsigned char kHierDeltaVersion = 1;

// A delta as read: the shadowed slots (in place) and its node block.
struct HierDelta {
    const unsigned char* shadow;  // n_shadow little-endian u32, ascending
    std::uint32_t n_shadow;
    const unsigned char* nodes;  // a node block, or nullptr when the delta adds no record
    std::size_t nodes_len;
};
// len = 0 (no delta) opens as an empty one. HierarchyBlockCorrupt on a malformed header.
Status hier_delta_open(const unsigned char* data, std::size_t len, HierDelta* d) noexcept;
bool hier_delta_shadows(const HierDelta& d, std::uint32_t slot) noexcept;
// The i-th shadowed slot (i < n_shadow).
std::uint32_t hier_delta_shadow_at(const HierDelta& d, std::uint32_t i) noexcept;

// Encodes a delta: the shadowed slots (ascending, distinct) and the records (slots ascending,
// each among shadow) of a block of zooms zoom_lo..zoom_hi. Internal on a caller's bug.
Status hier_delta_encode(const std::vector<std::uint32_t>& shadow,
                         const std::vector<HierBlockNode>& records, int zoom_lo, int zoom_hi,
                         std::vector<unsigned char>* out) noexcept;

// Whether a writer should fold a delta of delta_bytes into its block of block_bytes instead of
// storing it. Rewriting the delta costs its size on every write to the block, folding costs the
// block's once: with about kHierDeltaBytesPerWrite added per write, their sum per write is least
// when the delta is folded at sqrt(2 * kHierDeltaBytesPerWrite * block_bytes) (32 kB for a block
// of 2 MB). Blocks under kHierDeltaMinBlockBytes (stored in their row, not out of line) are
// always written whole: a delta saves nothing there (min_block_bytes, which tests lower).
constexpr std::size_t kHierDeltaBytesPerWrite = 256;
constexpr std::size_t kHierDeltaMinBlockBytes = 8192;
bool hier_delta_fold_due(std::size_t block_bytes, std::size_t delta_bytes,
                         std::size_t min_block_bytes = kHierDeltaMinBlockBytes) noexcept;
// One more than the largest slot a delta shadows (0 for none): every slot it holds is shadowed.
std::uint64_t hier_delta_slot_end(const HierDelta& d) noexcept;

// Reads a block with its delta folded over it: the block's records whose slots the delta does
// not shadow, in the block's order, then the delta's records, in slot order.
struct HierOverlayReader {
    HierNodeBlockReader block;
    bool has_block;
    HierDelta delta;
    HierNodeBlockReader added;
    bool in_added;
};
// Opens block (len 0: none) and delta (len 0: none); HierarchyBlockCorrupt.
Status hier_overlay_open(const unsigned char* block, std::size_t block_len,
                         const unsigned char* delta, std::size_t delta_len,
                         HierOverlayReader* r) noexcept;
// The same over a block reader the caller opened (a block fetched in slices).
Status hier_overlay_attach(const HierNodeBlockReader& block, const unsigned char* delta,
                           std::size_t delta_len, HierOverlayReader* r) noexcept;
// As hier_node_block_next, next_in and next_marker_in (hierarchy_block.hpp), over both.
bool hier_overlay_next(HierOverlayReader* r, HierBlockNode* out, Status* status) noexcept;
bool hier_overlay_next_in(HierOverlayReader* r, const HierBlockBox& box, HierBlockNode* out,
                          Status* status) noexcept;
bool hier_overlay_next_marker_in(HierOverlayReader* r, const HierBlockBox& box, HierBlockNode* out,
                                 Status* status) noexcept;

// The block with its delta folded in, encoded again (records in slot order), in *out (*out_len
// bytes) from alloc: nullptr and 0 when no record is left (the row is to be deleted).
// OutOfMemory, HierarchyBlockCorrupt.
Status hier_delta_fold(const unsigned char* block, std::size_t block_len,
                       const unsigned char* delta, std::size_t delta_len, const Allocator& alloc,
                       unsigned char** out, std::size_t* out_len) noexcept;

}  // namespace geocluster
