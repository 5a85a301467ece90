// libFuzzer target for the decoders of a cluster hierarchy's packed blocks
// (src/core/hierarchy_block.hpp): any bytes, read as a node block.
//
// A decoder must never read out of bounds (ASan) and must end with Ok or HierarchyBlockCorrupt,
// the box readers too (which step over the clusters they cannot keep without decoding them).
// What decodes wholly is valid, and the encoding is canonical: encoding the decoded nodes
// again gives back exactly the input bytes. The box filters (next_in by centre,
// next_marker_in by a single marker's position) keep what a full decode filtered by the same box
// keeps, reading only the header, the top index up to the zoom table's prefix for the box's zoom
// (hier_node_block_header_bytes) and the groups of chunks hier_node_block_kept_chunks names (the
// other bytes garbage, as in a block fetched in slices), at two zooms. A record found by slot
// (the index's first slots lead to its chunk) is the full decode's, and so is where the slots
// end. Delta rows (src/core/hierarchy_delta.hpp): the bytes read as a delta are refused or read
// within bounds; a delta made from the decoded records (every other one removed, every third
// moved) reads back, through each reader and folded, as the records it should leave.
//
// Input: byte 0 is ignored (it chose a member-list reader once); the rest is the block.
// Build and run from the repository root: test/fuzz/run 60 fuzz_hierarchy_block
#include "hierarchy_block.hpp"
#include "hierarchy_delta.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace geocluster;

void check(bool ok) {
    if (!ok) std::abort();
}

// The block as a reader fetching slices sees it (BoxSlices in src/pg): its header and its top
// index up to the zoom table's prefix for the box's zoom (all of it at any zoom), and the groups
// of chunks the box keeps; every other byte garbage.
std::vector<unsigned char> sliced(const unsigned char* data, std::size_t len,
                                  const HierBlockBox& box, bool any_zoom) {
    std::vector<unsigned char> out(len, 0xa5);
    std::size_t header = 0;
    check(hier_node_block_header_bytes(data, len, box, any_zoom, &header) == Status::Ok &&
          header > 0 && header <= len);
    std::memcpy(out.data(), data, header);
    HierNodeBlockReader r;
    check(hier_node_block_open(data, len, &r) == Status::Ok);
    struct Copy {
        const unsigned char* from;
        unsigned char* to;
        std::size_t len;
    } c{data, out.data(), len};
    check(hier_node_block_kept_chunks(
              r, data, box, any_zoom,
              [](void* ctx, std::size_t off, std::size_t n) {
                  auto* k = static_cast<Copy*>(ctx);
                  check(off + n <= k->len);
                  std::memcpy(k->to + off, k->from + off, n);
              },
              &c) == Status::Ok);
    return out;
}

// The box readers on any bytes (they step over what they cannot keep without decoding it):
// never out of bounds, and they end with Ok or HierarchyBlockCorrupt.
void box_readers(const unsigned char* data, std::size_t len) {
    const int zoom = len > 0 ? data[len - 1] % (kHierMaxZoom + 1) : 0;
    const HierBlockBox boxes[2] = {{zoom, -90, 90, -180, 180, 1, 0},
                                   {zoom, -10, 10, -180, -170, 170, 180}};
    for (const HierBlockBox& box : boxes) {
        for (int markers = 0; markers < 2; ++markers) {
            HierNodeBlockReader r;
            if (hier_node_block_open(data, len, &r) != Status::Ok) return;
            HierBlockNode n;
            Status s = Status::Ok;
            while (markers ? hier_node_block_next_marker_in(&r, box, &n, &s)
                           : hier_node_block_next_in(&r, box, &n, &s)) {
            }
            check(s == Status::Ok || s == Status::HierarchyBlockCorrupt);
        }
    }
}

// The bytes as a delta (over no block): never out of bounds, Ok or HierarchyBlockCorrupt.
void delta_readers(const unsigned char* data, std::size_t len) {
    const HierBlockBox box{3, -90, 90, -180, 180, 1, 0};
    for (int reader = 0; reader < 3; ++reader) {
        HierOverlayReader r;
        if (hier_overlay_open(nullptr, 0, data, len, &r) != Status::Ok) return;
        HierBlockNode n;
        Status s = Status::Ok;
        while (reader == 0   ? hier_overlay_next(&r, &n, &s)
               : reader == 1 ? hier_overlay_next_in(&r, box, &n, &s)
                             : hier_overlay_next_marker_in(&r, box, &n, &s)) {
        }
        check(s == Status::Ok || s == Status::HierarchyBlockCorrupt);
    }
}

// Finding by slot and the slots' end agree with the full decode (got, slots ascending).
void by_slot(const unsigned char* data, std::size_t len, const std::vector<HierBlockNode>& got) {
    std::uint64_t end = 0;
    check(hier_node_block_slot_end(data, len, &end) == Status::Ok &&
          end == (got.empty() ? 0 : std::uint64_t{got.back().slot} + 1));
    std::size_t at = 0;
    for (std::uint32_t slot = 0; slot <= end && slot < 4096; ++slot) {
        while (at < got.size() && got[at].slot < slot) ++at;
        HierBlockNode n;
        bool found = false;
        check(hier_node_block_find_slot(data, len, slot, &n, &found) == Status::Ok);
        check(found == (at < got.size() && got[at].slot == slot));
        if (found) check(n.id == got[at].id && n.parent_id == got[at].parent_id);
    }
}

void* heap_alloc(void*, std::size_t n) { return std::malloc(n); }
void heap_free(void*, void* p) { std::free(p); }

// A delta over the block: every other record removed, every third replaced by itself (same
// record, read from the delta instead), read back and folded as the records left.
void with_delta(const unsigned char* data, std::size_t len, const std::vector<HierBlockNode>& got,
                int zoom_lo, int zoom_hi) {
    std::vector<std::uint32_t> shadow;
    std::vector<HierBlockNode> added, want;
    for (std::size_t i = 0; i < got.size(); ++i) {
        if (i % 2 == 1) {
            shadow.push_back(got[i].slot);
        } else if (i % 3 == 0) {
            shadow.push_back(got[i].slot);
            added.push_back(got[i]);
        }
        if (i % 2 == 0) want.push_back(got[i]);
    }
    std::vector<unsigned char> delta;
    check(hier_delta_encode(shadow, added, zoom_lo, zoom_hi, &delta) == Status::Ok);
    HierOverlayReader r;
    check(hier_overlay_open(data, len, delta.data(), delta.size(), &r) == Status::Ok);
    std::vector<std::uint32_t> seen;
    HierBlockNode n;
    Status s = Status::Ok;
    while (hier_overlay_next(&r, &n, &s)) seen.push_back(n.slot);
    check(s == Status::Ok && seen.size() == want.size());
    std::sort(seen.begin(), seen.end());
    for (std::size_t i = 0; i < want.size(); ++i) check(seen[i] == want[i].slot);
    unsigned char* folded = nullptr;
    std::size_t folded_len = 0;
    const Allocator heap{heap_alloc, heap_free, nullptr, 0};
    check(hier_delta_fold(data, len, delta.data(), delta.size(), heap, &folded, &folded_len) ==
          Status::Ok);
    std::vector<unsigned char> expect(hier_node_block_bound(want.size()));
    std::size_t expect_len = 0;
    if (!want.empty())
        check(hier_node_block_encode(want.data(), want.size(), zoom_lo, zoom_hi, expect.data(),
                                     &expect_len) == Status::Ok);
    check(folded_len == expect_len &&
          (expect_len == 0 || std::memcmp(folded, expect.data(), expect_len) == 0));
    std::free(folded);
}

void nodes(const unsigned char* data, std::size_t len) {
    box_readers(data, len);
    delta_readers(data, len);
    HierNodeBlockReader r;
    Status s = hier_node_block_open(data, len, &r);
    if (s != Status::Ok) {
        check(s == Status::HierarchyBlockCorrupt);
        return;
    }
    std::vector<HierBlockNode> got;
    HierBlockNode n;
    while (hier_node_block_next(&r, &n, &s)) got.push_back(n);
    check(s == Status::Ok || s == Status::HierarchyBlockCorrupt);
    if (s != Status::Ok) return;
    std::vector<unsigned char> again(hier_node_block_bound(got.size()));
    std::size_t n_bytes = 0;
    check(hier_node_block_encode(got.data(), got.size(), r.zoom_lo, r.zoom_hi, again.data(),
                                 &n_bytes) == Status::Ok);
    check(n_bytes == len && std::memcmp(again.data(), data, len) == 0);
    by_slot(data, len, got);
    with_delta(data, len, got, r.zoom_lo, r.zoom_hi);
    // A box around a decoded record keeps, through next_in, exactly what the full decode keeps.
    if (got.empty()) return;
    const HierBlockNode& c = got[len % got.size()];
    std::vector<HierBlockNode> want;
    std::size_t k = 0;
    // At the record's first and last zoom (the zoom table's prefix for each: the header and top
    // index read and fetched only so far).
    for (const int zoom : {c.zoom_min, c.zoom_max}) {
        const HierBlockBox box{zoom,         c.lat - 0.01, c.lat,    c.lon - 0.01,
                               c.lon + 0.01, c.lon + 1,    c.lon + 2};
        want.clear();
        for (const HierBlockNode& d : got)
            if (box.zoom >= d.zoom_min && box.zoom <= d.zoom_max && d.lat >= box.south &&
                d.lat <= box.north &&
                ((d.lon >= box.west1 && d.lon <= box.east1) ||
                 (d.lon >= box.west2 && d.lon <= box.east2)))
                want.push_back(d);
        // (read from the slices a reader would fetch: the chunk index keeps what the box needs)
        const std::vector<unsigned char> part = sliced(data, len, box, false);
        check(hier_node_block_open(part.data(), len, &r) == Status::Ok);
        k = 0;
        while (hier_node_block_next_in(&r, box, &n, &s)) {
            check(k < want.size() && n.slot == want[k].slot &&
                  std::memcmp(&n.lat, &want[k].lat, sizeof n.lat) == 0 &&
                  std::memcmp(&n.lon, &want[k].lon, sizeof n.lon) == 0);
            ++k;
        }
        check(s == Status::Ok && k == want.size());
    }
    const HierBlockBox box{c.zoom_min,   c.lat - 0.01, c.lat,    c.lon - 0.01,
                           c.lon + 0.01, c.lon + 1,    c.lon + 2};
    // The markers by position (next_marker_in) are the single markers whose position is in it.
    want.clear();
    for (const HierBlockNode& d : got)
        if (d.count == 1 && d.min_lat >= box.south && d.min_lat <= box.north &&
            ((d.min_lon >= box.west1 && d.min_lon <= box.east1) ||
             (d.min_lon >= box.west2 && d.min_lon <= box.east2)))
            want.push_back(d);
    const std::vector<unsigned char> markers_part = sliced(data, len, box, true);
    check(hier_node_block_open(markers_part.data(), len, &r) == Status::Ok);
    k = 0;
    while (hier_node_block_next_marker_in(&r, box, &n, &s)) {
        check(k < want.size() && n.slot == want[k].slot && n.id == want[k].id &&
              std::memcmp(&n.min_lat, &want[k].min_lat, sizeof n.lat) == 0 &&
              std::memcmp(&n.min_lon, &want[k].min_lon, sizeof n.lon) == 0);
        ++k;
    }
    check(s == Status::Ok && k == want.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const unsigned char* data, std::size_t size) {
    if (size == 0) return 0;
    // A copy of exactly the block's bytes, so that ASan sees a read past its end.
    std::vector<unsigned char> block(data + 1, data + size);
    unsigned char* p = block.empty() ? nullptr : block.data();
    // (The first byte chose between node and member-list blocks; member lists went, the byte
    // stays so that the corpus and the regressions keep their meaning.)
    nodes(p, block.size());
    return 0;
}
