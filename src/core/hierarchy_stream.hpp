// The create's build, streamed (docs/hierarchy-storage.md, "Build: streamed"): hierarchy_build
// and hier_pack in one pass that never holds every node. What it gives is hier_pack's blocks of
// hierarchy_build's nodes, bit for bit (unit-tested against them); what it holds instead:
//  - while clustering: every zoom's parent links and the run (distinct cluster) of each node,
//    4 + 4 bytes a node, and each distinct cluster once: a multi-marker one as its sums (as
//    residuals, one side of the meridian), centre, bounds, min id and zoom (72 bytes), a single
//    marker, once clustered, as its position and id (24 bytes: its record is made from them);
//  - then band by band, coarsest first (a record's slot depends on its parent's id), the ids of
//    two zooms, the records of the band as references (20 bytes each) and one block's records at
//    a time, handed to the caller to write before the next is made.
#pragma once

#include "core.hpp"

#include "hierarchy.hpp"
#include "hierarchy_pack.hpp"

namespace geocluster {

struct HierStream;

// A block made by hier_stream_next: records[0..n) (slots ascending) of band's zooms
// zoom_lo..zoom_hi, for hier_node_block_encode_made (a node block's single centres are
// hier_single_centre's; a member record's centre is its marker's position, not its centre: not
// stored, not read by that encoder); member says it goes to the members table. Valid until the
// next call.
struct HierStreamBlock {
    bool member;
    int band;
    std::uint64_t block;
    const HierBlockNode* records;
    std::size_t n;
    int zoom_lo, zoom_hi;
};

// Clusters markers as hierarchy_build does (same arguments and statuses) and gets ready to hand
// out the blocks hier_pack would make of it. The markers are reordered in place
// (hierarchy_build_levels_in_place: the clustering and the packing read them there instead of
// copies of their own) and read until hier_stream_free; the blocks do not depend on their order.
// next_ordinal is advanced here; counters only once the last block has been handed out (their array
// reallocated through counters_alloc). Everything else comes from alloc; release it with
// hier_stream_free (also after a failure).
Status hier_stream_start(HierMarker* markers, std::size_t n_markers, double radius_px, int max_zoom,
                         std::uint64_t* next_ordinal, HierSlotCounters* counters,
                         const Allocator& alloc, const Allocator& counters_alloc,
                         CancelCheck cancel, HierStream** out) noexcept;

// The next block: true with *out set; false at the end (*status Ok) or on failure (*status:
// HierarchyBlockFull, Canceled, OutOfMemory, Internal; counters then unchanged).
bool hier_stream_next(HierStream* s, HierStreamBlock* out, Status* status) noexcept;

void hier_stream_free(HierStream* s) noexcept;

}  // namespace geocluster
