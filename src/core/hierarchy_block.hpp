// The packed storage of a cluster hierarchy (docs/hierarchy-storage.md): the byte format of one
// block of nodes, encoded and decoded here, outside the server, so that the format is
// unit-tested and fuzzed on its own. (A hierarchy's members table holds node blocks too: each
// marker of a multi-marker leaf as a single-marker record whose parent is its leaf.)
//
// A node block holds the nodes of one (zoom band, block tile) of a hierarchy: every node whose
// centre was in that tile when it was made. A node is stored once for the whole range of zooms
// over which it is the same cluster (the same members): a single marker from max_zoom down to
// where it merges, a cluster down to where it absorbs another. Records are in slot order; a
// node's slot is its place in the block for life (the low bits of its cluster_id), so records
// are never renumbered, and a block may have gaps where nodes were removed.
//
// Encoding (version 4), all integers LEB128 varints, signed ones zigzagged:
//   node block:   version byte, the block's first zoom (a byte), its last zoom | kZoomOrdered
//     (a byte), record count; with more than kHierChunkRecords records, a top index and groups
//     (below); else the records, their deltas from nothing (previous slot and parent -1,
//     previous anchor 0); per record
//     flags | (zoom_min - first zoom) << 5 | (zoom_max - zoom_min + 1) << 10, the last part
//       only when zoom_max is not the block's last zoom (flags: single, east, west, to-end,
//       gap)
//     with flag gap only: slot - previous slot - 2 (else the slot is the previous one's + 1)
//     count - 2                                (multi only)
//     expansion_zoom - zoom_max - 1            (multi with flag to-end only)
//     id; parent_id - previous record's parent_id
//     the anchor (a single marker's position, a cluster's centre): its lat's and lon's IEEE
//       bits minus the previous record's anchor's
//     a single marker stops there: its box is its position, and its centre is what the build
//       makes of one marker there (cluster_of_item), recomputed, not stored
//     multi: min_lat, max_lat, min_lon, max_lon: bits minus the centre's; count_w; the sums
//       less count (east, west, all) times the centre's fixed-point x (x, y), as 128-bit
//       varints; the east range (min_lon_e, max_lon_e) when flag East, bits minus min_lon's
//       and max_lon's; the west range likewise when flag West (an absent range is +inf /
//       -inf, as in HierSums)
//   the index has two levels. The records in slot order are cut into chunks of
//     kHierChunkRecords (the last one the rest), and the chunks into groups of
//     kHierGroupChunks (the last one the rest). An entry (of either level) is what its records
//     span: its bytes; (smallest zoom_min - first zoom) | (largest zoom_max - first zoom) << 5;
//     its first slot - an expected slot; the hier_chunk_grid cells of its anchors' smallest lat
//     (minus a base's), their lat span, the smallest lon (likewise) and the lon span.
//   top index: its byte count; in a kZoomOrdered block, for each zoom z of the block but its
//     last, the bytes of the top index's entries of the groups whose smallest zoom_min is at
//     most z (a prefix, the groups being in zoom order) minus the same for z - 1 (0 below the
//     first zoom): the zoom table; then an entry per group (expected slot: the previous group's
//     first slot + kHierChunkRecords * kHierGroupChunks, base the previous group; 0 and the
//     zero corner for the first). Then the groups, each: its chunk index's byte count, an entry
//     per chunk (expected slot: the previous chunk's first slot + kHierChunkRecords, base the
//     previous chunk; for its first chunk the group's first slot and corner), then its chunks'
//     records. A group's bytes are all of that; its entry is exactly what its chunks' entries
//     span. Each chunk's records start afresh: the previous slot is its first slot - 1 (so its
//     first record has no gap), the previous parent -1, the previous anchor its grid corner
//     (smallest lat and lon cells, as degrees). A box reader reads the top index, steps over
//     the groups that are not alive at its zoom or whose grid box misses the box, and in the
//     others reads the chunk index and decodes only the chunks alive at its zoom whose grid
//     box meets the box (hier_node_block_next_in); the entries are exactly what the records
//     span (a decoder checks each chunk and group it reads), so the encoding stays canonical.
//     In a zoom-ordered block a box reader at zoom z reads the top index only up to the zoom
//     table's prefix for z (none of the later groups' records is alive at z), and a reader
//     fetching slices fetches the header only so far (hier_node_block_header_bytes): a zoom at
//     the start of a long band's block does not pay for the top index of the finer zooms'
//     groups. The table is exact: each group a decoder reads is checked against every zoom's
//     prefix (it lies within the prefixes of the zooms at or after its zoom_min, beyond the
//     others), so a full decode checks the table whole.
// Bit deltas keep every double exact, whatever its value; records sorted by centre give small
// deltas, which is where the bytes are saved.
//
// kZoomOrdered (bit 7 of the last-zoom byte) says that the block has two records or more and
// that zoom_min never decreases from one record to the next: so a block the build wrote, whose
// slots are handed out zoom by zoom. A viewport at zoom z then stops reading the block at its
// first record born after z (hier_node_block_next_in), instead of decoding the finer zooms' many
// records. The flag is set exactly when it holds (the encoder decides; a decoder refuses a block
// where the flag is wrong either way), so the encoding stays canonical; a block that writes make
// unordered simply loses the shortcut.
//
// Decoding checks everything a block's bytes could get wrong (truncation, overlong varints,
// slots out of order or beyond 32 bits, zooms beyond kHierMaxZoom or reversed, flags unknown or
// contradicting count_w, positions non-finite or out of range, ids not ascending, trailing
// bytes): a damaged block gives HierarchyBlockCorrupt, never a read out of bounds.
#pragma once

#include "core.hpp"

#include "hierarchy.hpp"

namespace geocluster {

// One stored node: the same cluster at zooms zoom_min..zoom_max of its band.
struct HierBlockNode {
    std::uint32_t slot;
    int zoom_min, zoom_max;
    std::uint64_t count;
    std::int64_t id;         // the marker's id when count = 1, else the smallest member id
    std::int64_t parent_id;  // the cluster_id holding it at zoom_min - 1; -1 at zoom 0
    int expansion_zoom;      // -1 for a single marker; else > zoom_max, and zoom_max + 1 unless
                             // zoom_max is the block's last zoom (the cluster goes on unchanged
                             // into the next band: where it splits is kept here, so that a
                             // reader never looks further)
    double lat, lon;         // centre
    double min_lat, min_lon, max_lat, max_lon;  // count = 1: max = min (the marker's position)
    HierSums sums;  // count > 1 only; zero for a single marker (its sums follow from its position)
};

// The centre the build gives a cluster of one marker at (lat, lon) (validated): inside Web
// Mercator's latitudes (|lat| < 85.05112878) the position itself, exactly (the mean of one
// position; a map shows a lone marker where its row puts it, and no long double Mercator round
// trip is paid per single marker read or written); beyond them its fixed-point position, on the
// clamp, through cluster_of_item.
void hier_single_centre(double lat, double lon, double* c_lat, double* c_lon) noexcept;
// Its sums (HierSums), as the build makes them.
HierSums hier_single_sums(double lat, double lon) noexcept;

constexpr unsigned char kHierBlockVersion = 4;
// Records per chunk of a block's index (the last chunk holds the rest), and chunks per group of
// the top index (the last group holds the rest).
constexpr std::uint64_t kHierChunkRecords = 16;
constexpr std::uint64_t kHierGroupChunks = 4;
// The grid of a chunk's bounds: cells of 2^-16 degrees, floor((v + 180) * 2^16) (exact).
std::int64_t hier_chunk_grid(double degrees) noexcept;
constexpr unsigned char kZoomOrdered = 0x80;  // in the last-zoom byte (above)
// The bytes one record takes at most (hier_node_block_bound).
constexpr std::size_t kHierBlockMaxRecordBytes = 256;

// Bytes enough to encode n records.
std::size_t hier_node_block_bound(std::size_t n_nodes) noexcept;

// Encodes n nodes of a block of zooms zoom_lo..zoom_hi (every node's zooms within them) into out
// (at least hier_node_block_bound(n) bytes); *len gets the bytes written. Slots must be strictly
// ascending and every field as a decoder accepts it, else Internal (a caller's bug: nothing is
// written that would not read back) and *len = 0.
Status hier_node_block_encode(const HierBlockNode* nodes, std::size_t n, int zoom_lo, int zoom_hi,
                              unsigned char* out, std::size_t* len) noexcept;
// The same for records whose single markers' centres the caller made with hier_single_centre (the
// streamed create's, hier_stream_next): those are not recomputed to be checked, a long double
// Mercator round trip a record that was most of the encoder's time. A single's centre is not
// stored (a decoder recomputes it), so the bytes read back whatever it is; everything else is
// checked as above.
Status hier_node_block_encode_made(const HierBlockNode* nodes, std::size_t n, int zoom_lo,
                                   int zoom_hi, unsigned char* out, std::size_t* len) noexcept;

// A decoder over one node block: open, then next until it gives false. The bytes must outlive
// it. Any malformation is HierarchyBlockCorrupt from open or next (next then gives false with
// *status set); a block that decodes to the end was wholly valid.
// One entry of a block's chunk index: what the records of a chunk span.
struct HierChunk {
    std::uint64_t bytes;      // its records' bytes
    int zoom_min, zoom_max;   // the smallest zoom_min and the largest zoom_max of its records
    std::int64_t first_slot;  // its first record's slot
    std::int64_t lat_lo, lat_hi, lon_lo, lon_hi;  // its anchors' hier_chunk_grid cells
};
struct HierNodeBlockReader {
    const unsigned char* p;
    const unsigned char* end;
    std::uint64_t left;    // records still to read
    std::uint64_t total;   // records the block holds
    int zoom_lo, zoom_hi;  // the block's zooms
    bool zoom_ordered;     // kZoomOrdered: zoom_min never decreases along the block
    bool order_broken;     // a record so far had a smaller zoom_min than the one before it
    int prev_zoom_min;
    std::int64_t prev_slot;
    std::int64_t prev_parent;
    std::uint64_t prev_lat_bits, prev_lon_bits;
    // The index (none in a block of kHierChunkRecords records or fewer): the top index's next
    // entry and its end (where the groups start), the groups not yet read, the current group's
    // entry and what its chunk entries read so far span (checked against it at its last); the
    // group's end, its chunk index (next entry, end), its chunks and those not yet read; the
    // current chunk (its entry and the records it has left) and what its records read so far
    // span (checked against the entry at its end).
    const unsigned char* index;
    const unsigned char* index_end;
    // The top index's start, and per zoom z the bytes of it a reader at z needs (the zoom
    // table's prefix; all of it from the block's last zoom on, and in a block not zoom-ordered).
    const unsigned char* index_start;
    std::uint32_t zoom_index_bytes[kHierMaxZoom + 1];
    std::uint64_t groups_left;
    HierChunk group;
    HierChunk group_seen;
    const unsigned char* group_end;
    const unsigned char* sub;
    const unsigned char* sub_end;
    std::uint64_t group_chunks, chunks_left;
    std::uint64_t chunk_n, chunk_left;
    const unsigned char* chunk_end;
    HierChunk chunk;
    HierChunk seen;
    bool skipped;  // a chunk was skipped: the whole-block checks at the end are not made
    // Seeking a slot (hier_node_block_find_slot): the groups and chunks before the one that
    // holds seek_slot are stepped over (their successor's first slot is not beyond it).
    bool seeking;
    std::uint32_t seek_slot;
    // What the reader has read so far (a benchmark's counters: bench/micro/hierarchy_bench.cpp
    // --replay): index entries and records decoded, whole or in part.
    std::uint64_t entries_read, records_read;
};
Status hier_node_block_open(const unsigned char* data, std::size_t len,
                            HierNodeBlockReader* r) noexcept;
// The number of records the block says it holds (valid after a successful open).
inline std::uint64_t hier_node_block_count(const HierNodeBlockReader& r) noexcept { return r.left; }
bool hier_node_block_next(HierNodeBlockReader* r, HierBlockNode* out, Status* status) noexcept;

// What a viewport keeps: the records alive at zoom (zoom_min <= zoom <= zoom_max) whose centre
// lies in the box, edges included: south <= lat <= north, and west1 <= lon <= east1 or
// west2 <= lon <= east2 (an empty second part: west2 > east2).
struct HierBlockBox {
    int zoom;
    double south, north, west1, east1, west2, east2;
};
// The next record the box keeps, as hier_node_block_next would give it. The others are read only
// as far as deciding needs: a single marker's centre is computed only for the markers that could
// be kept, and a cluster that cannot be (not alive at box.zoom, or its centre outside the box)
// has only its head checked (zooms, count, expansion zoom, id, parent, centre, and its chunk's
// span); the rest of its record is stepped over within the block's bytes, not decoded. False at
// the end or on a malformation (*status). In a zoom-ordered block the end is the first record
// born after box.zoom: the bytes after it are not read (nor checked), since none of their
// records is alive at box.zoom.
bool hier_node_block_next_in(HierNodeBlockReader* r, const HierBlockBox& box, HierBlockNode* out,
                             Status* status) noexcept;

// Reading a block in parts (a block kept out of line, fetched in slices): the bytes of its header
// and of the part of its top index that next_in (any_zoom false) or next_marker_in (true) with
// this box reads (in a zoom-ordered block, up to the zoom table's prefix for box.zoom), known
// from its first avail bytes (*bytes = 0 when avail is too few to tell; HierarchyBlockCorrupt
// when they cannot be a header).
Status hier_node_block_header_bytes(const unsigned char* data, std::size_t avail,
                                    const HierBlockBox& box, bool any_zoom,
                                    std::size_t* bytes) noexcept;
// The groups of chunks that next_in (any_zoom false) or next_marker_in (true) with this box will
// read, as f(ctx, offset, length) of their bytes (their chunk index and records), in order, from
// a reader just opened whose header and top index are there (the other bytes need not be); all
// its records at once when the block has no index. HierarchyBlockCorrupt on a malformed index.
Status hier_node_block_kept_chunks(const HierNodeBlockReader& r, const unsigned char* data,
                                   const HierBlockBox& box, bool any_zoom,
                                   void (*f)(void* ctx, std::size_t offset, std::size_t length),
                                   void* ctx) noexcept;

// The record of slot in a block, decoding only the chunk that may hold it (the index's first
// slots lead there): Ok with *found false when there is none; HierarchyBlockCorrupt.
Status hier_node_block_find_slot(const unsigned char* data, std::size_t len, std::uint32_t slot,
                                 HierBlockNode* out, bool* found) noexcept;
// Where the group of chunks that may hold slot is (the one hier_node_block_find_slot reads, and
// for the largest slot the one hier_node_block_slot_end reads), from a reader just opened whose
// header and top index are there: *offset and *length of its bytes (all the records when the
// block has no index). HierarchyBlockCorrupt on a malformed index.
Status hier_node_block_slot_group(const HierNodeBlockReader& r, const unsigned char* data,
                                  std::uint32_t slot, std::size_t* offset,
                                  std::size_t* length) noexcept;
// One more than the largest slot of a block's records (0 for none), from its last chunk.
Status hier_node_block_slot_end(const unsigned char* data, std::size_t len,
                                std::uint64_t* end) noexcept;

// The next single marker whose position (not its centre) lies in the box, at any zoom: what a
// viewport beyond max_zoom shows. Its lat and lon are its position, its centre not computed; the
// clusters are stepped over as by next_in.
bool hier_node_block_next_marker_in(HierNodeBlockReader* r, const HierBlockBox& box,
                                    HierBlockNode* out, Status* status) noexcept;

}  // namespace geocluster
