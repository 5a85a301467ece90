// Writes to a stored cluster hierarchy (hierarchy_store.hpp): the incremental update's working
// copy (hierarchy_update_impl.hpp) filled from the blocks a write needs, then written back.
//
// Loading. A node block (band, tile) becomes one node per zoom of each record: its ids are
// (zoom, band, tile, slot), its sums the record's, and it remembers its home (tile, slot).
// Within a record a node's only child is the same record one zoom on, so such nodes are
// complete; a record's last zoom is not (its children are in other records, or other blocks).
// A record that ends at max_zoom holds its markers: itself when it is a single marker, else the
// member blocks of its bounds hold them. Children and markers loaded before their parent wait in
// `orphans` until it is.
//
// Writing back. A record is a run: a node and its only child, one zoom finer in the same band.
// A build's records are maximal runs; a write splits a record where a cluster gains a child,
// but never joins two (a record may end with one child: hierarchy_block.hpp), so that nodes
// below a change keep their ids. The nodes a batch changed, with every node of their records,
// get their records made again (`Plan`): each run takes the tile of its centre and a slot
// there: the slot of its finest node whose members did not change, else of its finest node,
// when that node still lives in that tile and no finer run took the slot, else a new slot past
// the tile's counter.
// Nodes whose ids change pass the change to their children's parent ids, whose records are then
// made again too. Member blocks are made again from the markers of the leaves that changed.
#include "core.hpp"

#include "hierarchy_store.hpp"

#include "hierarchy_block.hpp"
#include "hierarchy_levels.hpp"
#include "hierarchy_pack.hpp"
#include "hierarchy_read.hpp"
#include "hierarchy_update_impl.hpp"
#include "quadkey.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <new>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <iterator>
#include <vector>

namespace geocluster {

using namespace cluster_internal;
using hier_update::Marker;
using hier_update::Node;

namespace {

// Bytes a loaded node, marker or record costs the working copy, roughly (containers included):
// what max_bytes is checked against, with the blocks' bytes.
constexpr std::size_t kNodeBytes = 320;
constexpr std::size_t kMarkerBytes = 96;
// A child's centre lies in its parent's bounds but for rounding: the bounds are widened by this
// much before their tiles are read.
constexpr double kBoundsSlackDeg = 1e-6;

struct BlockKey {
    bool members;
    int band;
    std::uint64_t block;
    bool operator<(const BlockKey& o) const noexcept {
        if (members != o.members) return members < o.members;
        if (band != o.band) return band < o.band;
        return block < o.block;
    }
};

// A block as read: its records with its delta folded in (kept to write back the ones a batch
// leaves alone), which of them are the block's own bytes' (not the delta's), the slots its
// delta shadows, and where its slots end. A large node block is decoded in part: its delta
// whole, then the block's records that lookups ask for (by box or by slot); `full` once every
// record is.
struct Loaded {
    // The bytes as the caller fetched them (HierStoreOps: valid while the update lives).
    struct Bytes {
        const unsigned char* p = nullptr;
        std::size_t n = 0;
        const unsigned char* data() const { return p; }
        std::size_t size() const { return n; }
        bool empty() const { return n == 0; }
        bool operator==(const std::vector<unsigned char>& v) const {
            return v.size() == n && (n == 0 || std::memcmp(v.data(), p, n) == 0);
        }
        bool operator!=(const std::vector<unsigned char>& v) const { return !(*this == v); }
    };
    Bytes bytes, delta;
    std::map<std::size_t, std::size_t> filled;  // bytes' ranges there: start -> end
    std::vector<HierBlockNode> records;         // decoded so far, in no order
    std::vector<char> made;                     // records[i] is in the working copy
    std::vector<char> from_block;               // records[i] is read from bytes, not from delta
    std::unordered_map<std::uint32_t, std::size_t> at;  // slot -> its index in records
    std::vector<std::uint32_t> shadow;                  // ascending
    std::uint64_t block_slot_end = 0;                   // of the block's bytes, once known
    std::uint64_t delta_slot_end = 0;                   // of its delta
    bool slot_end_known = false;                        // block_slot_end is (slot_end_of)
    bool existed = false, full = false;
    // What a batch of writes reads of a block again and again (bulk statements): the boxes
    // already parsed, per mode (a box within one of them needs no parse), the parses so far (past
    // kStoreParsesBeforeWhole the block is decoded whole), and the decoded records by centre
    // (latitude strips, each by longitude), so that a scan visits those near its box, not all.
    std::vector<HierBlockBox> parsed_boxes[2];  // [markers]
    std::uint32_t parses = 0;
    std::uint64_t visited = 0;                  // records visited one by one, before by_lat is made
    std::vector<std::uint32_t> by_lat, by_lon;  // visit_near's index
    bool shadowed(std::uint32_t slot) const {
        return std::binary_search(shadow.begin(), shadow.end(), slot);
    }
};

// Column intervals of one row of tiles whose existing blocks are all loaded (listed).
// A block scanned more often than this in one update is decoded whole: a single write scans a
// block a few times per zoom of its band (the partial reads pay), a batch of many writes
// (kStoreBatchWrites or more) thousands of times, so it gives up on partial reads sooner.
constexpr std::uint32_t kStoreParsesBeforeWhole = 48, kStoreBatchParsesBeforeWhole = 8;
constexpr std::size_t kStoreBatchWrites = 64;
// Boxes remembered per block and mode: enough for a batch's repeated boxes, bounded.
constexpr std::size_t kStoreParsedBoxes = 8;
// Below this many decoded records a scan visits them all; the index costs more. Above, a
// block's scans still visit all its records until they have visited each about as many times
// as sorting them costs: a single write's few scans of a block (a large member block, decoded
// whole) never pay for the sort, a batch's thousands do once. A batch of kStoreBatchWrites or
// more sorts after 2 passes: its scans will visit the block far more often than that (and a
// pass over a large block is cache misses where the sort's compares are not: measured).
constexpr std::size_t kStoreLinearRecords = 64;
// Steps of the write-back's planning loops between two cancel checks.
constexpr std::size_t kPollSteps = 256;
constexpr std::uint64_t kStoreLinearPasses = 16, kStoreBatchLinearPasses = 2;
// Records per latitude strip of the index (each strip sorted by longitude).
constexpr std::size_t kStoreStripRecords = 64;

// Whether box a lies within box b (both as hier_node_block_next_in reads them: a second part
// of longitudes only when west2 <= east2).
bool box_within(const HierBlockBox& a, const HierBlockBox& b) noexcept {
    if (a.zoom != b.zoom || a.south < b.south || a.north > b.north) return false;
    const auto part_in = [&b](double w, double e) {
        return (w >= b.west1 && e <= b.east1) ||
               (b.west2 <= b.east2 && w >= b.west2 && e <= b.east2);
    };
    return part_in(a.west1, a.east1) && (a.west2 > a.east2 || part_in(a.west2, a.east2));
}

struct Listed {
    std::map<std::uint64_t, std::uint64_t> spans;  // first column -> last column, disjoint
    bool covers(std::uint64_t lo, std::uint64_t hi) const {
        auto it = spans.upper_bound(lo);
        if (it == spans.begin()) return false;
        --it;
        return it->second >= hi;
    }
    void add(std::uint64_t lo, std::uint64_t hi) {
        auto it = spans.upper_bound(lo);
        if (it != spans.begin() && std::prev(it)->second + 1 >= lo) {
            --it;
            lo = it->first;
            hi = std::max(hi, it->second);
            it = spans.erase(it);
        }
        while (it != spans.end() && it->first <= hi + 1) {
            hi = std::max(hi, it->second);
            it = spans.erase(it);
        }
        spans.emplace(lo, hi);
    }
};

struct MarkerKey {
    std::int64_t id;
    std::uint64_t lat_bits, lon_bits;
    bool operator<(const MarkerKey& o) const noexcept {
        if (id != o.id) return id < o.id;
        if (lat_bits != o.lat_bits) return lat_bits < o.lat_bits;
        return lon_bits < o.lon_bits;
    }
};

std::uint64_t bits_of(double v) noexcept {
    v += 0.0;  // -0.0 as 0.0, as the build reads positions
    std::uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return b;
}

bool same_bounds(const Item& a, const Item& b) noexcept {
    return a.min_lat == b.min_lat && a.max_lat == b.max_lat && a.min_lon_e == b.min_lon_e &&
           a.max_lon_e == b.max_lon_e && a.min_lon_w == b.min_lon_w && a.max_lon_w == b.max_lon_w;
}

// A run of the plan: its nodes finest first, the tile of its centre, its slot.
struct Run {
    std::vector<std::int64_t> ids;  // zoom descending
    int band;
    std::uint64_t block;
    std::uint32_t slot;
};

}  // namespace

struct HierStoreUpdate::Impl final : hier_update::HierUpdateLoader {
    hier_update::Impl u;
    HierStoreOps ops{};
    HierBands bands{};
    std::size_t max_bytes = 0, bytes = 0, delta_min_block_bytes = 0;
    CancelCheck cancel{nullptr, nullptr};
    std::uint32_t parses_before_whole = kStoreParsesBeforeWhole;
    std::uint64_t linear_passes = kStoreLinearPasses;
    std::map<BlockKey, Loaded> blocks;
    std::map<BlockKey, Listed> listed;  // key: a row of tiles (block = the row)
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> orphan_nodes, orphan_markers;
    std::multimap<MarkerKey, std::int64_t> marker_index;
    std::unordered_map<std::int64_t, Item> stored_item;  // a stored node's sums as read
    std::int64_t next_handle = 0;
    // A marker read from a member record: that record's block and slot (its leaf id as stored
    // is the record's), so that only the records a batch changes are written back.
    struct MemberOrigin {
        std::uint64_t block;
        std::uint32_t slot;
    };
    std::unordered_map<std::int64_t, MemberOrigin> member_origin;  // marker handle ->
    // The output.
    std::vector<BlockKey> out_keys;
    std::vector<std::vector<unsigned char>> out_bytes;
    std::vector<char> out_delta_only;
    std::vector<HierStoreBlock> out_blocks;
    std::vector<HierStoreSlots> out_slots;
    Stats st{0, 0, 0, 0, 0, 0, 0, 0};

    int last_band() const noexcept { return bands.n - 1; }
    int bz(int band) const noexcept { return bands.band[band].block_zoom; }

    // A cancel check every kPollSteps steps of a loop that may charge nothing for long.
    void tick(std::size_t* step) {
        if ((*step)++ % kPollSteps == 0) charge(0);
    }

    void charge(std::size_t n) {
        bytes += n;
        if (bytes > max_bytes) throw Status::HierarchyWriteTooLarge;
        if (cancel.should_cancel != nullptr && cancel.should_cancel(cancel.ctx))
            throw Status::Canceled;
    }

    // ---- loading ----

    // Block k: loaded, or known absent since its row was listed.
    const Loaded& load(const BlockKey& k) {
        auto it = blocks.find(k);
        if (it != blocks.end()) return it->second;
        const int b = bz(k.band);
        const auto row = listed.find(BlockKey{k.members, k.band, k.block >> b});
        const std::uint64_t col = k.block & ((std::uint64_t{1} << b) - 1);
        if (row != listed.end() && row->second.covers(col, col)) return blocks[k];  // absent
        const unsigned char *data = nullptr, *delta = nullptr;
        std::size_t len = 0, have = 0, delta_len = 0;
        if (!ops.fetch(ops.ctx, k.members, k.band, k.block, &data, &len, &have, &delta, &delta_len))
            throw Status::HierarchyReadFailed;
        ++st.blocks_read;
        Loaded& l = blocks[k];
        l.existed = data != nullptr;
        charge(len + delta_len);
        if (data != nullptr) {
            l.bytes = Loaded::Bytes{data, len};
            if (have > 0) l.filled.emplace(0, std::min(have, len));
            if (delta_len > 0) l.delta = Loaded::Bytes{delta, delta_len};
            open_delta(k, &l, len < delta_min_block_bytes);
        }
        return l;
    }

    // Record rec of block l, once: its index in l.records.
    std::size_t add(Loaded* l, const HierBlockNode& rec, bool from_block) {
        const auto [it, fresh] = l->at.emplace(rec.slot, l->records.size());
        if (!fresh) return it->second;
        charge(sizeof(HierBlockNode) + 32);
        l->records.push_back(rec);
        l->made.push_back(0);
        l->from_block.push_back(from_block ? 1 : 0);
        return it->second;
    }

    // Bytes [offset, offset + length) of block k's, fetched if they are not there yet.
    void ensure(const BlockKey& k, Loaded* l, std::size_t offset, std::size_t length) {
        const std::size_t end = std::min(l->bytes.size(), offset + length);
        if (offset >= end) return;
        auto it = l->filled.upper_bound(offset);
        if (it != l->filled.begin() && std::prev(it)->second >= end) return;
        if (ops.fill == nullptr ||
            !ops.fill(ops.ctx, k.members, k.band, k.block, offset, end - offset))
            throw Status::HierarchyReadFailed;
        std::size_t lo = offset, hi = end;  // merged with the ranges it meets or touches
        it = l->filled.upper_bound(lo);
        if (it != l->filled.begin() && std::prev(it)->second >= lo) --it;
        while (it != l->filled.end() && it->first <= hi) {
            lo = std::min(lo, it->first);
            hi = std::max(hi, it->second);
            it = l->filled.erase(it);
        }
        l->filled.emplace(lo, hi);
    }

    // Block k's header and whole top index, then a reader opened on it.
    HierNodeBlockReader open_block(const BlockKey& k, Loaded* l) {
        const HierBlockBox any{0, -90.0, 90.0, -180.0, 180.0, 1.0, 0.0};
        // (from what fetch gave: more only while that is too little to tell the header's size)
        for (std::size_t want = 0;;) {
            ensure(k, l, 0, want);
            const auto first = l->filled.find(0);
            const std::size_t have = first == l->filled.end() ? 0 : first->second;
            std::size_t header = 0;
            const Status s =
                hier_node_block_header_bytes(l->bytes.data(), have, any, true, &header);
            if (s != Status::Ok) throw s;
            if (header > 0) {
                ensure(k, l, 0, header);
                break;
            }
            if (have >= l->bytes.size()) throw Status::HierarchyBlockCorrupt;
            want = std::max<std::size_t>(64, 2 * have);
        }
        HierNodeBlockReader rd;
        const Status s = hier_node_block_open(l->bytes.data(), l->bytes.size(), &rd);
        if (s != Status::Ok) throw s;
        return rd;
    }

    // Block k's group of chunks that may hold slot (hier_node_block_slot_group), there.
    void ensure_slot(const BlockKey& k, Loaded* l, std::uint32_t slot) {
        const HierNodeBlockReader rd = open_block(k, l);
        std::size_t offset = 0, length = 0;
        const Status s = hier_node_block_slot_group(rd, l->bytes.data(), slot, &offset, &length);
        if (s != Status::Ok) throw s;
        ensure(k, l, offset, length);
    }

    // The delta's shadowed slots and records. A block read whole (whole) is decoded here.
    void open_delta(const BlockKey& k, Loaded* l, bool whole) {
        HierDelta d;
        Status s = hier_delta_open(l->delta.data(), l->delta.size(), &d);
        if (s != Status::Ok) throw s;
        for (std::uint32_t i = 0; i < d.n_shadow; ++i)
            l->shadow.push_back(hier_delta_shadow_at(d, i));
        if (whole) decode_all(k, l);
        l->delta_slot_end = hier_delta_slot_end(d);
        if (d.nodes == nullptr) return;
        HierNodeBlockReader rd;
        s = hier_node_block_open(d.nodes, d.nodes_len, &rd);
        HierBlockNode rec;
        while (s == Status::Ok && hier_node_block_next(&rd, &rec, &s)) {
            if (!l->shadowed(rec.slot)) throw Status::HierarchyBlockCorrupt;
            add(l, rec, false);
        }
        if (s != Status::Ok) throw s;
    }

    // Where the slots of block k and its delta end. A block read in part is sought to its last
    // chunk for that, only when a write asks: most blocks a write loads it only reads.
    std::uint64_t slot_end_of(const BlockKey& k, Loaded* l) {
        if (!l->slot_end_known && !l->full && !l->bytes.empty()) {
            ensure_slot(k, l, UINT32_MAX);
            const Status s =
                hier_node_block_slot_end(l->bytes.data(), l->bytes.size(), &l->block_slot_end);
            if (s != Status::Ok) throw s;
        }
        l->slot_end_known = true;
        return std::max(l->block_slot_end, l->delta_slot_end);
    }

    // Every record of block k (its delta's are already).
    void decode_all(const BlockKey& k, Loaded* l) {
        if (l->full || l->bytes.empty()) {
            l->full = true;
            l->slot_end_known = true;
            return;
        }
        ensure(k, l, 0, l->bytes.size());
        HierNodeBlockReader rd;
        Status s = hier_node_block_open(l->bytes.data(), l->bytes.size(), &rd);
        HierBlockNode rec;
        while (s == Status::Ok && hier_node_block_next(&rd, &rec, &s)) {
            l->block_slot_end = std::uint64_t{rec.slot} + 1;  // (slots ascend)
            if (!l->shadowed(rec.slot)) add(l, rec, true);
        }
        if (s != Status::Ok) throw s;
        l->full = true;
        l->slot_end_known = true;
    }

    // The block's record of slot, when it has one and it is not shadowed: decoded if need be.
    bool decode_slot(const BlockKey& k, Loaded* l, std::uint32_t slot, std::size_t* i) {
        const auto it = l->at.find(slot);
        if (it != l->at.end()) {
            *i = it->second;
            return true;
        }
        if (l->full || l->shadowed(slot) || l->bytes.empty()) return false;
        ensure_slot(k, l, slot);
        HierBlockNode rec;
        bool found = false;
        const Status s =
            hier_node_block_find_slot(l->bytes.data(), l->bytes.size(), slot, &rec, &found);
        if (s != Status::Ok) throw s;
        if (found) *i = add(l, rec, true);
        return found;
    }

    // Makes sure every record of block l that a box reader keeps (alive at box.zoom with its
    // centre in the box; with markers, a single marker at any zoom with its position in it) is
    // decoded; then calls f(i) for every record decoded so far, which f filters itself.
    template <typename F>
    void scan(const BlockKey& k, Loaded* l, const HierBlockBox& box, bool markers, F f) {
        if (!l->full && !l->bytes.empty() && ++l->parses > parses_before_whole) {
            decode_all(k, l);
            ++st.blocks_decoded_whole;
        }
        std::vector<HierBlockBox>& parsed = l->parsed_boxes[markers ? 1 : 0];
        const bool known = std::any_of(parsed.begin(), parsed.end(), [&box](const HierBlockBox& b) {
            return box_within(box, b);
        });
        if (known && !l->full) ++st.parses_skipped;
        if (!l->full && !l->bytes.empty() && !known) {
            HierNodeBlockReader rd = open_block(k, l);
            struct Ranges {
                std::vector<std::pair<std::size_t, std::size_t>> v;
                bool failed = false;
            } ranges;
            Status s = hier_node_block_kept_chunks(
                rd, l->bytes.data(), box, markers,
                [](void* c, std::size_t offset, std::size_t length) {
                    auto* r = static_cast<Ranges*>(c);
                    try {
                        r->v.emplace_back(offset, length);
                    } catch (...) {
                        r->failed = true;
                    }
                },
                &ranges);
            if (s != Status::Ok) throw s;
            if (ranges.failed) throw std::bad_alloc();
            // (groups closer than a few TOAST chunks are fetched as one slice: one scan of the
            // TOAST index instead of two)
            constexpr std::size_t kMergeGapBytes = 8192;
            for (std::size_t i = 0; i < ranges.v.size();) {
                std::size_t end = ranges.v[i].first + ranges.v[i].second, j = i + 1;
                for (; j < ranges.v.size() && ranges.v[j].first <= end + kMergeGapBytes; ++j)
                    end = ranges.v[j].first + ranges.v[j].second;
                ensure(k, l, ranges.v[i].first, end - ranges.v[i].first);
                i = j;
            }
            HierBlockNode rec;
            while (s == Status::Ok && (markers ? hier_node_block_next_marker_in(&rd, box, &rec, &s)
                                               : hier_node_block_next_in(&rd, box, &rec, &s)))
                if (!l->shadowed(rec.slot)) add(l, rec, true);
            if (s != Status::Ok) throw s;
            if (parsed.size() < kStoreParsedBoxes) {
                charge(sizeof(HierBlockBox));
                parsed.push_back(box);
            }
        }
        visit_near(l, box, f);
    }

    // Calls f(i) for every decoded record of l whose centre may lie within box: a record's
    // lat/lon is its centre, or a single marker's position (within 1e-8 degrees of its centre,
    // which beyond Web Mercator's clamp is on the clamp). f filters them itself. The index: the
    // records by latitude, cut into strips of kStoreStripRecords, each strip by longitude, so
    // that a small box in a large block visits the records near it, not its latitudes' whole
    // width of the block.
    template <typename F>
    void visit_near(Loaded* l, const HierBlockBox& box, F f) {
        const std::size_t n = l->records.size();
        if (n <= kStoreLinearRecords || (l->by_lat.empty() && l->visited < linear_passes * n)) {
            l->visited += n;
            for (std::size_t i = 0; i < n; ++i) f(i);
            return;
        }
        // Records decoded since the index was made are visited one by one, after it, until
        // they are an eighth of it: making it again for every few records sorted the whole
        // block each time (10% of a bulk write at 10M markers).
        if (n - l->by_lat.size() > std::max(kStoreLinearRecords, l->by_lat.size() / 8))
            index_records(l);
        for (std::size_t i = l->by_lat.size(); i < n; ++i) f(i);
        ++st.indexed_scans;
        constexpr double kClampLat = 85.05, kMarginDeg = 1e-8;
        double lo = box.south - kMarginDeg, hi = box.north + kMarginDeg;
        if (hi >= kClampLat) hi = 90.0, lo = std::min(lo, kClampLat);
        if (lo <= -kClampLat) lo = -90.0, hi = std::max(hi, -kClampLat);
        const auto lat_of = [l](std::uint32_t i) { return l->records[i].lat; };
        const std::size_t first = static_cast<std::size_t>(
            std::lower_bound(l->by_lat.begin(), l->by_lat.end(), lo,
                             [&](std::uint32_t i, double v) { return lat_of(i) < v; }) -
            l->by_lat.begin());
        const std::size_t last = static_cast<std::size_t>(
            std::upper_bound(l->by_lat.begin(), l->by_lat.end(), hi,
                             [&](double v, std::uint32_t i) { return v < lat_of(i); }) -
            l->by_lat.begin());
        if (first >= last) return;
        // The box's longitudes, widened by the margin, as parts within [-180, 180].
        double parts[4][2];
        int n_parts = 0;
        const auto add_part = [&](double w, double e) {
            w -= kMarginDeg;
            e += kMarginDeg;
            if (w < -180.0) parts[n_parts][0] = w + 360.0, parts[n_parts++][1] = 180.0;
            if (e > 180.0) parts[n_parts][0] = -180.0, parts[n_parts++][1] = e - 360.0;
            parts[n_parts][0] = std::max(w, -180.0), parts[n_parts++][1] = std::min(e, 180.0);
        };
        add_part(box.west1, box.east1);
        if (box.west2 <= box.east2) add_part(box.west2, box.east2);
        const auto lon_of = [l](std::uint32_t i) { return l->records[i].lon; };
        for (std::size_t s = first / kStoreStripRecords; s * kStoreStripRecords < last; ++s) {
            const auto begin =
                l->by_lon.begin() + static_cast<std::ptrdiff_t>(s * kStoreStripRecords);
            const auto end =
                l->by_lon.begin() + static_cast<std::ptrdiff_t>(
                                        std::min(l->by_lon.size(), (s + 1) * kStoreStripRecords));
            for (int p = 0; p < n_parts; ++p) {
                auto it = std::lower_bound(begin, end, parts[p][0], [&](std::uint32_t i, double v) {
                    return lon_of(i) < v;
                });
                for (; it != end && lon_of(*it) <= parts[p][1]; ++it)
                    if (lat_of(*it) >= lo && lat_of(*it) <= hi) f(*it);
            }
        }
    }

    // l's decoded records by latitude (by_lat), and each strip of kStoreStripRecords of them by
    // longitude (by_lon).
    void index_records(Loaded* l) {
        const std::size_t n = l->records.size();
        charge((n - l->by_lat.size()) * 2 * sizeof(std::uint32_t));
        l->by_lat.resize(n);
        for (std::size_t i = 0; i < n; ++i) l->by_lat[i] = static_cast<std::uint32_t>(i);
        std::sort(l->by_lat.begin(), l->by_lat.end(), [l](std::uint32_t a, std::uint32_t b) {
            return l->records[a].lat < l->records[b].lat;
        });
        l->by_lon = l->by_lat;
        for (std::size_t s = 0; s < n; s += kStoreStripRecords)
            std::sort(l->by_lon.begin() + static_cast<std::ptrdiff_t>(s),
                      l->by_lon.begin() +
                          static_cast<std::ptrdiff_t>(std::min(n, s + kStoreStripRecords)),
                      [l](std::uint32_t a, std::uint32_t b) {
                          return l->records[a].lon < l->records[b].lon;
                      });
    }

    // Puts record i of block k into the working copy (its nodes, or its marker), once.
    void make(const BlockKey& k, Loaded& l, std::size_t i) {
        if (l.made[i]) return;
        l.made[i] = 1;
        const HierBlockNode& rec = l.records[i];
        if (k.members) {
            const std::int64_t h = add_marker(rec.min_lat, rec.min_lon, rec.id, rec.parent_id);
            member_origin.emplace(h, MemberOrigin{k.block, rec.slot});
        } else {
            add_record(k, rec);
        }
    }
    Loaded& loaded(const BlockKey& k) {
        load(k);
        return blocks.at(k);
    }

    std::int64_t add_marker(double lat, double lon, std::int64_t id, std::int64_t leaf) {
        charge(kMarkerBytes);
        const std::int64_t h = next_handle++;
        Marker& m = u.markers[h];
        m.lat = lat + 0.0;
        m.lon = lon + 0.0;
        m.id = id;
        m.partition = 0;
        m.leaf = leaf;
        m.slot = 0;
        marker_index.emplace(MarkerKey{id, bits_of(lat), bits_of(lon)}, h);
        const auto p = u.nodes.find(leaf);
        if (p == u.nodes.end()) {
            orphan_markers[leaf].push_back(h);
            return h;
        }
        m.slot = static_cast<std::uint32_t>(p->second.children.size());
        p->second.children.push_back(h);
        return h;
    }

    // The item of a record (the build's sums; a single marker's from its position).
    static Item item_of(const HierBlockNode& rec) {
        if (rec.count == 1) return hier_update::marker_item(rec.min_lat, rec.min_lon, rec.id);
        HierNode h{};
        h.count = rec.count;
        h.min_lat = rec.min_lat;
        h.max_lat = rec.max_lat;
        h.id = rec.id;
        h.sums = rec.sums;
        return hier_item_of_node(h);
    }

    void add_record(const BlockKey& k, const HierBlockNode& rec) {
        const Item it = item_of(rec);
        for (int z = rec.zoom_min; z <= rec.zoom_max; ++z) {
            charge(kNodeBytes);
            const std::int64_t id = hier_cluster_id(z, bands.band[k.band], k.block, rec.slot);
            Node& n = u.nodes[id];
            n.item = it;
            n.parent = z == rec.zoom_min ? rec.parent_id : hier_id_at_zoom(id, z - 1);
            n.slot = 0;
            n.cell_slot = UINT32_MAX;
            n.expansion = rec.expansion_zoom;
            n.partition = 0;
            n.complete = z < rec.zoom_max || (z == u.max_zoom && rec.count == 1);
            n.changed = n.members_changed = false;
            n.stored = true;
            n.home_block = k.block;
            n.home_slot = rec.slot;
            n.record_lo = rec.zoom_min;
            n.record_hi = rec.zoom_max;
            u.centre(n, id);
            stored_item.emplace(id, it);
            adopt(id, n);
        }
        if (rec.zoom_max == u.max_zoom && rec.count == 1)
            add_marker(rec.min_lat, rec.min_lon, rec.id,
                       hier_cluster_id(u.max_zoom, bands.band[k.band], k.block, rec.slot));
    }

    // Links a node just loaded to its parent (or leaves it waiting), and its waiting children
    // (or markers) to it.
    void adopt(std::int64_t id, Node& n) {
        if (n.parent != -1) {
            const auto p = u.nodes.find(n.parent);
            if (p == u.nodes.end()) {
                orphan_nodes[n.parent].push_back(id);
            } else {
                n.slot = static_cast<std::uint32_t>(p->second.children.size());
                p->second.children.push_back(id);
            }
        }
        const bool leaf = u.zoom_of(id) == u.max_zoom;
        auto& waiting = leaf ? orphan_markers : orphan_nodes;
        const auto w = waiting.find(id);
        if (w == waiting.end()) return;
        // (A child that a merge moved to another parent since, or that left, is not its any more.)
        for (const std::int64_t c : w->second) {
            const auto slot = static_cast<std::uint32_t>(n.children.size());
            if (leaf) {
                const auto m = u.markers.find(c);
                if (m == u.markers.end() || m->second.leaf != id) continue;
                m->second.slot = slot;
            } else {
                const auto k = u.nodes.find(c);
                if (k == u.nodes.end() || k->second.parent != id) continue;
                k->second.slot = slot;
            }
            n.children.push_back(c);
        }
        waiting.erase(w);
    }

    // Visits every existing block of band in rows [y0, y1] and columns [x0, x1] (fixed units;
    // x may be beyond the world on either side and wraps), read first if need be.
    template <typename Visit>
    void load_tiles(bool members, int band, double x0, double x1, double y0, double y1,
                    Visit visit) {
        const int shift = kFixedBits - bz(band);
        const double tile = std::ldexp(1.0, shift);
        const auto n = static_cast<std::int64_t>(1) << bz(band);
        if (y0 > y1) std::swap(y0, y1);
        const auto clamp_row = [&](double y) {
            return std::min<std::int64_t>(n - 1, std::max<std::int64_t>(0, std::floor(y / tile)));
        };
        auto c0 = static_cast<std::int64_t>(std::floor(x0 / tile));
        auto c1 = static_cast<std::int64_t>(std::floor(x1 / tile));
        if (c1 - c0 >= n - 1) {
            c0 = 0;
            c1 = n - 1;
        } else if (c0 >= n) {
            c0 -= n;
            c1 -= n;
        }
        for (std::int64_t r = clamp_row(y0); r <= clamp_row(y1); ++r) {
            const auto row = static_cast<std::uint64_t>(r);
            if (c0 < 0 || c1 >= n) {  // across the antimeridian: two runs of columns
                load_row(members, band, row, static_cast<std::uint64_t>(((c0 % n) + n) % n),
                         static_cast<std::uint64_t>(n - 1), visit);
                load_row(members, band, row, 0, static_cast<std::uint64_t>(((c1 % n) + n) % n),
                         visit);
            } else {
                load_row(members, band, row, static_cast<std::uint64_t>(c0),
                         static_cast<std::uint64_t>(c1), visit);
            }
        }
    }

    // The blocks of columns c0..c1 of a row of tiles: listed once, the existing ones read, then
    // each visited.
    template <typename Visit>
    void load_row(bool members, int band, std::uint64_t row, std::uint64_t c0, std::uint64_t c1,
                  Visit visit) {
        Listed& l = listed[BlockKey{members, band, row}];
        const int b = bz(band);
        if (!l.covers(c0, c1)) {
            struct Found {
                std::vector<std::uint64_t> blocks;
                bool failed = false;
            } found;
            const auto on_found = [](void* ctx, std::uint64_t block) noexcept {
                auto* f = static_cast<Found*>(ctx);
                try {
                    f->blocks.push_back(block);
                } catch (...) {
                    f->failed = true;
                }
            };
            if (!ops.list(ops.ctx, members, band, row << b | c0, row << b | c1, on_found, &found))
                throw Status::HierarchyReadFailed;
            if (found.failed) throw std::bad_alloc();
            for (const std::uint64_t block : found.blocks) load(BlockKey{members, band, block});
            l.add(c0, c1);
        }
        const auto end = blocks.upper_bound(BlockKey{members, band, row << b | c1});
        for (auto it = blocks.lower_bound(BlockKey{members, band, row << b | c0}); it != end; ++it)
            if (it->second.existed) visit(it->first, it->second);
    }

    void poll() override { charge(0); }

    // Every cluster of zoom z whose centre may lie within q of (x, y): the records alive at z
    // in the blocks of that box whose centre is in its lat/lon box (widened a little: making
    // one too many is harmless, one too few is not).
    void area(int z, double x, double y, double q) override {
        const auto lat_of = [](double fy) {
            const double t = std::max(0.0, std::min(1.0, fy / kFixedOneD));
            return std::atan(std::sinh(M_PI * (1.0 - 2.0 * t))) * (180.0 / M_PI);
        };
        const double north = y - q <= 0 ? 90.0 : lat_of(y - q) + kBoundsSlackDeg;
        const double south = y + q >= kFixedOneD ? -90.0 : lat_of(y + q) - kBoundsSlackDeg;
        const double w = (x - q) / kFixedOneD * 360.0 - 180.0 - kBoundsSlackDeg;
        const double e = (x + q) / kFixedOneD * 360.0 - 180.0 + kBoundsSlackDeg;
        const bool all_lon = 2.0 * q >= kFixedOneD;
        const auto lon_in = [&](double lon) {
            return all_lon || (lon >= w && lon <= e) || (lon >= w + 360.0 && lon <= e + 360.0) ||
                   (lon >= w - 360.0 && lon <= e - 360.0);
        };
        const HierBlockBox box =
            all_lon ? lon_box(z, south, north, -180.0, 180.0) : lon_box(z, south, north, w, e);
        load_tiles(false, hier_band_of(bands, z), x - q, x + q, y - q, y + q,
                   [&](const BlockKey& k, Loaded& l) {
                       scan(k, &l, box, false, [&](std::size_t i) {
                           const HierBlockNode& r = l.records[i];
                           if (!l.made[i] && r.zoom_min <= z && z <= r.zoom_max && r.lat >= south &&
                               r.lat <= north && lon_in(r.lon))
                               make(k, l, i);
                       });
                   });
    }

    // The box of zoom z over latitudes south..north and longitudes w..e, which may pass the
    // antimeridian on one side (then in two parts).
    static HierBlockBox lon_box(int z, double south, double north, double w, double e) {
        HierBlockBox b{z, south, north, w, e, 1.0, 0.0};
        if (e - w >= 360.0) {
            b.west1 = -180.0;
            b.east1 = 180.0;
        } else if (w < -180.0) {
            b.west1 = -180.0;
            b.west2 = w + 360.0;
            b.east2 = 180.0;
        } else if (e > 180.0) {
            b.east1 = 180.0;
            b.west2 = -180.0;
            b.east2 = e - 360.0;
        }
        return b;
    }

    void node(std::int64_t id) override {
        HierIdParts p;
        if (id < 0 || (id & hier_update::Impl::kTempId) != 0 || !hier_id_parts(bands, id, &p))
            throw Status::Internal;
        const BlockKey k{false, p.band, p.block};
        Loaded& l = loaded(k);
        std::size_t i = 0;
        if (!decode_slot(k, &l, p.slot, &i)) throw Status::Internal;
        make(k, l, i);
    }

    // The tiles of band where the centre of a cluster made of some of an item's members can
    // lie. With members on one side of the antimeridian, the item's box; with members on both,
    // the box crossing the antimeridian and the one that does not: a subset takes whichever of
    // its own two boxes is shorter, which may be the other one than the item's own (a child
    // with members on both sides of longitude 0 under a parent that spans the rest of the
    // world), so its centre lies in one of the two, not always in the item's bounds.
    template <typename Visit>
    void load_bounds(bool members, int band, const Item& it, Visit visit) {
        const auto y = [](double lat) {
            return static_cast<double>(fixed_y_of_lat(std::max(-90.0, std::min(90.0, lat))));
        };
        const auto x = [](double lon) {
            return static_cast<double>(fixed_x_of_lon(std::max(-180.0, std::min(180.0, lon))));
        };
        const double y0 = y(it.max_lat + kBoundsSlackDeg), y1 = y(it.min_lat - kBoundsSlackDeg);
        const bool east = it.min_lon_e <= it.max_lon_e, west = it.min_lon_w <= it.max_lon_w;
        const double lo = west ? it.min_lon_w : it.min_lon_e;
        const double hi = east ? it.max_lon_e : it.max_lon_w;
        load_tiles(members, band, x(lo - kBoundsSlackDeg), x(hi + kBoundsSlackDeg), y0, y1, visit);
        if (east && west) {
            load_tiles(members, band, x(it.min_lon_e - kBoundsSlackDeg), x(180.0), y0, y1, visit);
            load_tiles(members, band, x(-180.0), x(it.max_lon_w + kBoundsSlackDeg), y0, y1, visit);
        }
    }

    void children(std::int64_t id) override {
        const int z = u.zoom_of(id);
        const Item now = u.nodes.at(id).item;
        const auto was = stored_item.find(id);
        const bool leaf = z == u.max_zoom;
        const int band = leaf ? last_band() : hier_band_of(bands, z + 1);
        // Its children: the records whose parent it is, starting at z + 1 (one that goes on
        // from z is its own record, in the copy already), or its member records (read as
        // markers: by position, at max_zoom, not by centre at z + 1).
        const auto visit_in = [&](const HierBlockBox& box) {
            return [&, box](const BlockKey& k, Loaded& l) {
                scan(k, &l, box, leaf, [&](std::size_t i) {
                    if (!l.made[i] && l.records[i].parent_id == id &&
                        (leaf || l.records[i].zoom_min == z + 1))
                        make(k, l, i);
                });
            };
        };
        load_bounds(leaf, band, now, visit_in(centres_box(z + 1, now)));
        // The bounds as read too, when a write changed them (unchanged, their blocks were just
        // visited, and each record would be scanned twice).
        if (was != stored_item.end() && !same_bounds(was->second, now))
            load_bounds(leaf, band, was->second, visit_in(centres_box(z + 1, was->second)));
    }

    // Where the centres of clusters made of some of an item's members lie, at zoom z: within its
    // latitudes, or on Web Mercator's clamp beyond it; within its longitudes when its members are
    // on one side of the antimeridian, anywhere when on both (load_bounds); widened a little.
    static HierBlockBox centres_box(int z, const Item& it) {
        constexpr double kClampDeg = 85.0511288;
        const double s =
            std::min(it.min_lat, std::max(-kClampDeg, std::min(kClampDeg, it.min_lat)));
        const double n =
            std::max(it.max_lat, std::max(-kClampDeg, std::min(kClampDeg, it.max_lat)));
        const bool east = it.min_lon_e <= it.max_lon_e, west = it.min_lon_w <= it.max_lon_w;
        const double lo = west ? it.min_lon_w : it.min_lon_e;
        const double hi = east ? it.max_lon_e : it.max_lon_w;
        const double slack = kBoundsSlackDeg;
        if (east && west) return lon_box(z, s - slack, n + slack, -180.0, 180.0);
        return lon_box(z, s - slack, n + slack, std::max(-180.0, lo - slack),
                       std::min(180.0, hi + slack));
    }

    // The handle of the marker (id, lat, lon), loaded: from the last band's node block of its
    // position (a single marker) or its member block.
    std::int64_t find_marker(std::int64_t id, double lat, double lon) {
        const std::uint64_t b = hier_block_of(bz(last_band()), lat, lon);
        const HierBlockBox at{-1, lat, lat, lon, lon, 1.0, 0.0};
        for (const bool members : {false, true}) {  // its single's record, or its member record
            const BlockKey k{members, last_band(), b};
            Loaded& l = loaded(k);
            scan(k, &l, at, true, [&](std::size_t i) {
                const HierBlockNode& r = l.records[i];
                if (r.id == id && r.count == 1 && r.zoom_max == u.max_zoom &&
                    bits_of(r.min_lat) == bits_of(lat) && bits_of(r.min_lon) == bits_of(lon))
                    make(k, l, i);
            });
        }
        const auto it = marker_index.find(MarkerKey{id, bits_of(lat), bits_of(lon)});
        if (it == marker_index.end()) throw Status::HierarchyBlockCorrupt;
        const std::int64_t h = it->second;
        marker_index.erase(it);
        return h;
    }

    void apply(const HierStoreWrite* w, std::size_t n);

    // ---- writing back (below) ----
    struct Plan;
    bool run_up(std::int64_t id);
    std::vector<std::int64_t> run_of(std::int64_t id);
    void close_over(std::set<std::int64_t>* in_play, std::vector<std::int64_t> todo,
                    std::unordered_set<std::int64_t>* followed);
    void plan(const std::set<std::int64_t>& in_play, const std::vector<Run>& earlier, Plan* p);
    void write_back();
    void write_nodes(const Plan& p);
    void write_members(const Plan& p);
    void emit_members_whole(const BlockKey& k, std::vector<char>* keep,
                            const std::vector<HierBlockNode>& runs);
    std::uint64_t next_slot(std::map<BlockKey, std::uint64_t>* counters, const BlockKey& k);
    void emit_nodes(const BlockKey& k, std::vector<char>* keep,
                    const std::vector<HierBlockNode>& runs);
    void emit(const BlockKey& k, std::vector<HierBlockNode>* recs);
    bool emit_delta(const BlockKey& k, const std::vector<char>& keep,
                    const std::vector<HierBlockNode>& runs);
    void put(const BlockKey& k, bool delta_only, std::vector<unsigned char> bytes);
    // The zooms block k's records span: its band's, or max_zoom alone for a member block.
    std::pair<int, int> zooms_of(const BlockKey& k) const {
        if (k.members) return {u.max_zoom, u.max_zoom};
        return {bands.band[k.band].zoom_lo, bands.band[k.band].zoom_hi};
    }
};

void HierStoreUpdate::Impl::apply(const HierStoreWrite* w, std::size_t n) {
    if (n >= kStoreBatchWrites) {
        parses_before_whole = kStoreBatchParsesBeforeWhole;
        linear_passes = kStoreBatchLinearPasses;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (w[i].insert) {
            const std::int64_t h = next_handle++;
            u.attach(h, w[i].id, w[i].lat + 0.0, w[i].lon + 0.0, 0);
            marker_index.emplace(MarkerKey{w[i].id, bits_of(w[i].lat), bits_of(w[i].lon)}, h);
        } else {
            const std::int64_t h = find_marker(w[i].id, w[i].lat, w[i].lon);
            u.detach(h);
        }
        ++u.stats.writes;
        charge(0);
    }
    u.repair();
    write_back();
}

// The record of run r.
HierBlockNode record_of_run(const hier_update::Impl& u, const Run& r,
                            const std::unordered_map<std::int64_t, std::int64_t>& new_id) {
    const Node& fine = u.nodes.at(r.ids.front());
    const Node& coarse = u.nodes.at(r.ids.back());
    HierNode h;
    hier_node_of_item(fine.item, &h);
    h.expansion_zoom = fine.expansion;
    std::int64_t parent = coarse.parent;
    if (parent != -1) {
        const auto it = new_id.find(parent);
        if (it != new_id.end()) parent = it->second;
    }
    HierBlockNode rec =
        hier_record_of(h, r.slot, u.zoom_of(r.ids.back()), u.zoom_of(r.ids.front()), parent);
    if (h.count == 1) {  // a single marker's record: its position, its centre the build's
        const Item& it = fine.item;
        const double lat = it.min_lat;
        const double lon = it.min_lon_e <= it.max_lon_e ? it.min_lon_e : it.min_lon_w;
        rec.min_lat = rec.max_lat = lat;
        rec.min_lon = rec.max_lon = lon;
        rec.id = it.min_id;
        rec.sums = HierSums{};
        hier_single_centre(lat, lon, &rec.lat, &rec.lon);
    }
    return rec;
}

// ---- the plan: runs, tiles, slots and ids ----

struct HierStoreUpdate::Impl::Plan {
    std::vector<Run> runs;
    std::unordered_map<std::int64_t, std::int64_t> new_id;  // every planned node's id
    std::unordered_map<std::int64_t, std::size_t> run_of;   // node -> its run
    std::map<BlockKey, std::uint64_t> counters;             // tiles that handed out slots
    std::set<BlockKey> dirty;                               // node blocks to make again
};

// Whether node id and its parent are one record: the parent is in the same band, id is its only
// child, and both were read from one record, or both are new. Records read are never joined: a
// record may end inside its band with one child (its expansion zoom is then stored), so that a
// write below a cluster never renames it (hierarchy_block.hpp).
bool HierStoreUpdate::Impl::run_up(std::int64_t id) {
    const Node& n = u.node(id);
    const int z = u.zoom_of(id);
    if (n.parent == -1 || hier_band_of(bands, z - 1) != hier_band_of(bands, z)) return false;
    const Node& p = u.node(n.parent);
    if (p.children.size() != 1) return false;  // (a node inside a record is complete)
    if (p.stored != n.stored) return false;
    return !p.stored || (p.home_block == n.home_block && p.home_slot == n.home_slot);
}

// The run holding id, finest node first.
std::vector<std::int64_t> HierStoreUpdate::Impl::run_of(std::int64_t id) {
    std::int64_t bottom = id;
    for (;;) {
        const Node& n = u.node(bottom);
        const int z = u.zoom_of(bottom);
        if (z == u.max_zoom || hier_band_of(bands, z + 1) != hier_band_of(bands, z)) break;
        // None loaded (the record ends here) or more than one: no run on.
        if (n.children.size() != 1) break;
        const std::int64_t c = n.children[0];
        if (!run_up(c)) break;
        bottom = c;
    }
    std::vector<std::int64_t> ids{bottom};
    while (run_up(ids.back())) ids.push_back(u.node(ids.back()).parent);
    return ids;
}

// Adds to in_play every node of the stored records and of the runs of the nodes in todo (which
// are in it), and of the nodes it adds. The nodes of a run already followed (followed) are not
// followed again: theirs is the same run (a batch's in_play has tens of thousands of nodes).
void HierStoreUpdate::Impl::close_over(std::set<std::int64_t>* in_play,
                                       std::vector<std::int64_t> todo,
                                       std::unordered_set<std::int64_t>* followed) {
    const auto add = [&](std::int64_t id) {
        if (in_play->insert(id).second) todo.push_back(id);
    };
    for (std::size_t step = 0; !todo.empty();) {
        tick(&step);
        const std::int64_t id = todo.back();
        todo.pop_back();
        if (u.nodes.find(id) == u.nodes.end()) continue;
        const Node& n = u.nodes.at(id);
        if (n.stored) {  // its record's other zooms
            const int band = hier_band_of(bands, u.zoom_of(id));
            const HierBand& b = bands.band[band];
            for (int z = b.zoom_lo; z <= b.zoom_hi; ++z) {
                const std::int64_t o = hier_id_at_zoom(id, z);
                const auto on = u.nodes.find(o);
                if (on != u.nodes.end() && on->second.stored &&
                    on->second.home_block == n.home_block && on->second.home_slot == n.home_slot)
                    add(o);
            }
        }
        if (followed->count(id) != 0) continue;
        for (const std::int64_t r : run_of(id)) {
            followed->insert(r);
            add(r);
        }
    }
}

std::uint64_t HierStoreUpdate::Impl::next_slot(std::map<BlockKey, std::uint64_t>* counters,
                                               const BlockKey& k) {
    auto it = counters->find(k);
    if (it == counters->end()) {
        std::uint64_t floor = 0;
        if (!ops.slot_floor(ops.ctx, k.band, k.block, &floor)) throw Status::HierarchyReadFailed;
        it = counters->emplace(k, std::max(floor, slot_end_of(k, &loaded(k)))).first;
    }
    const std::uint64_t slot = it->second++;
    if (slot > UINT32_MAX || slot >> hier_slot_bits(bands.band[k.band]) != 0)
        throw Status::HierarchyBlockFull;
    return slot;
}

void HierStoreUpdate::Impl::plan(const std::set<std::int64_t>& in_play,
                                 const std::vector<Run>& earlier, Plan* p) {
    std::unordered_set<std::int64_t> seen;
    seen.reserve(in_play.size());
    // The runs of an earlier pass, as they were (the nodes have not changed since): only their
    // slots are chosen again.
    p->runs.reserve(earlier.size());
    for (const Run& r : earlier) {
        seen.insert(r.ids.begin(), r.ids.end());
        p->runs.push_back(Run{r.ids, r.band, r.block, 0});
    }
    std::size_t step = 0;
    for (const std::int64_t id : in_play) {
        tick(&step);
        if (seen.count(id) != 0) continue;
        Run r{run_of(id), 0, 0, 0};
        for (const std::int64_t m : r.ids) seen.insert(m);
        r.band = hier_band_of(bands, u.zoom_of(r.ids[0]));
        const HierBlockNode rec = record_of_run(u, r, {});  // its centre, as it will be stored
        r.block = hier_block_of(bz(r.band), rec.lat, rec.lon);
        p->runs.push_back(std::move(r));
    }
    // Finer runs choose first, so that a record split by a write keeps its slot at its finer
    // zooms (the part the write did not change: a change at a zoom reaches the coarser zooms of
    // its record too).
    std::sort(p->runs.begin(), p->runs.end(), [this](const Run& a, const Run& b) {
        const int za = u.zoom_of(a.ids[0]), zb = u.zoom_of(b.ids[0]);
        return za != zb ? za > zb : a.ids[0] < b.ids[0];
    });
    std::set<std::pair<BlockKey, std::uint32_t>> claimed;
    for (std::size_t i = 0; i < p->runs.size(); ++i) {
        tick(&step);
        Run& r = p->runs[i];
        const BlockKey home{false, r.band, r.block};
        // The slot of a node whose members did not change first: its id is the one promised.
        // A slot is only kept for zooms its record had: its ids at other zooms may have been
        // handed out and retired before.
        const int lo = u.zoom_of(r.ids.back()), hi = u.zoom_of(r.ids.front());
        bool found = false;
        for (int pass = 0; pass < 2 && !found; ++pass)
            for (const std::int64_t id : r.ids) {
                const Node& n = u.node(id);
                if (!n.stored || n.home_block != r.block || (pass == 0 && n.members_changed) ||
                    lo < n.record_lo || hi > n.record_hi)
                    continue;
                if (!claimed.insert({home, n.home_slot}).second) continue;
                r.slot = n.home_slot;
                found = true;
                break;
            }
        if (!found) r.slot = static_cast<std::uint32_t>(next_slot(&p->counters, home));
        p->dirty.insert(home);
        for (const std::int64_t id : r.ids) {
            const int z = u.zoom_of(id);
            const std::int64_t nid = hier_cluster_id(z, bands.band[r.band], r.block, r.slot);
            p->new_id[id] = nid;
            p->run_of[id] = i;
            const Node& n = u.node(id);
            if (n.stored) p->dirty.insert(BlockKey{false, r.band, n.home_block});
            if (nid != id) ++st.ids_changed;
        }
    }
}

void HierStoreUpdate::Impl::write_back() {
    std::set<std::int64_t> in_play;
    for (const auto& [id, n] : u.nodes)
        if (n.changed) in_play.insert(id);
    Plan p;
    std::unordered_set<std::int64_t> followed;
    std::vector<std::int64_t> todo(in_play.begin(), in_play.end());
    for (;;) {
        close_over(&in_play, std::move(todo), &followed);
        std::vector<Run> earlier = std::move(p.runs);
        p = Plan{};
        plan(in_play, earlier, &p);
        // The children of a run whose ids change hold its id as their parent: their records
        // are made again too.
        std::set<std::int64_t> more;
        std::size_t step = 0;
        for (const Run& r : p.runs) {
            tick(&step);
            const std::int64_t bottom = r.ids[0];
            if (p.new_id.at(bottom) == bottom || u.zoom_of(bottom) == u.max_zoom) continue;
            for (const std::int64_t c : u.full(bottom).children)
                if (in_play.count(c) == 0) more.insert(c);
        }
        if (more.empty()) break;
        in_play.insert(more.begin(), more.end());
        todo.assign(more.begin(), more.end());
    }
    for (const std::int64_t id : u.retired) {
        HierIdParts parts;
        if ((id & hier_update::Impl::kTempId) == 0 && hier_id_parts(bands, id, &parts))
            p.dirty.insert(BlockKey{false, parts.band, parts.block});
    }
    write_nodes(p);
    write_members(p);
    for (std::size_t i = 0; i < out_keys.size(); ++i) {
        const BlockKey& k = out_keys[i];
        out_blocks.push_back(HierStoreBlock{k.members, k.band, k.block, out_delta_only[i] != 0,
                                            out_bytes[i].data(), out_bytes[i].size()});
    }
}

void HierStoreUpdate::Impl::write_nodes(const Plan& p) {
    // Per dirty block: which of its records no run took over (kept as they were), and the
    // records of the runs that live there.
    std::map<BlockKey, std::vector<char>> kept;
    std::map<BlockKey, std::vector<HierBlockNode>> made;
    for (const BlockKey& k : p.dirty) {
        charge(0);  // (a cancel check per block: a batch's are thousands, some decoded whole)
        Loaded& l = loaded(k);
        // (a block read in part: its last record, so that where its slots end is known below)
        std::size_t last = 0;
        if (slot_end_of(k, &l) > 0 && l.block_slot_end > 0)
            (void)decode_slot(k, &l, static_cast<std::uint32_t>(l.block_slot_end - 1), &last);
        const HierBand& band = bands.band[k.band];
        std::vector<char>& keep = kept[k];
        keep.assign(l.records.size(), 1);
        made[k];
        for (std::size_t i = 0; i < l.records.size(); ++i) {
            if (!l.made[i]) continue;
            const HierBlockNode& rec = l.records[i];
            const std::int64_t id = hier_cluster_id(rec.zoom_min, band, k.block, rec.slot);
            const auto n = u.nodes.find(id);
            if (n == u.nodes.end() || p.run_of.count(id) != 0) keep[i] = 0;  // gone, or remade
        }
    }
    std::size_t step = 0;
    for (const Run& r : p.runs) {
        tick(&step);
        made[BlockKey{false, r.band, r.block}].push_back(record_of_run(u, r, p.new_id));
        ++st.records_changed;
    }
    for (auto& [k, recs] : made) {
        std::sort(recs.begin(), recs.end(),
                  [](const HierBlockNode& a, const HierBlockNode& b) { return a.slot < b.slot; });
        Loaded& l = loaded(k);
        const std::uint64_t slot_end = slot_end_of(k, &l);
        const std::vector<char>& keep = kept.at(k);
        std::uint64_t end = recs.empty() ? 0 : std::uint64_t{recs.back().slot} + 1;
        for (std::size_t i = 0; i < l.records.size(); ++i)
            if (keep[i]) end = std::max(end, std::uint64_t{l.records[i].slot} + 1);
        emit_nodes(k, &kept.at(k), recs);
        // The counter is stored whenever this batch handed out slots there (a stored counter,
        // which other partitions read first, must move past them) or retired the last one
        // (which must not come back).
        const auto c = p.counters.find(k);
        const bool handed_out = c != p.counters.end();
        std::uint64_t next = handed_out ? c->second : 0;
        if (end < slot_end) {
            std::uint64_t floor = 0;
            if (!ops.slot_floor(ops.ctx, k.band, k.block, &floor))
                throw Status::HierarchyReadFailed;
            next = std::max({next, floor, slot_end});
        }
        if (handed_out || next > end)
            out_slots.push_back(HierStoreSlots{k.band, k.block, std::max(next, end)});
    }
}

// Node block k now holds the records keep marks (and those of its bytes not decoded) and the
// runs' (slots ascending): as a delta over its bytes when the block is large enough and the
// delta not due to be folded, else whole.
void HierStoreUpdate::Impl::emit_nodes(const BlockKey& k, std::vector<char>* keep,
                                       const std::vector<HierBlockNode>& runs) {
    if (emit_delta(k, *keep, runs)) return;
    Loaded& l = loaded(k);
    decode_all(k, &l);  // (the records it adds are kept)
    keep->resize(l.records.size(), 1);
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < l.records.size(); ++i)
        if ((*keep)[i]) order.push_back(i);
    std::sort(order.begin(), order.end(),
              [&l](std::size_t a, std::size_t b) { return l.records[a].slot < l.records[b].slot; });
    std::vector<HierBlockNode> recs;
    recs.reserve(runs.size() + order.size());
    auto r = runs.begin();
    for (const std::size_t i : order) {
        for (; r != runs.end() && r->slot < l.records[i].slot; ++r) recs.push_back(*r);
        recs.push_back(l.records[i]);
    }
    recs.insert(recs.end(), r, runs.end());
    emit(k, &recs);
}

// Queues block k's new records (slots ascending) to be written whole, unless they are what it
// holds.
void HierStoreUpdate::Impl::emit(const BlockKey& k, std::vector<HierBlockNode>* recs) {
    charge(0);  // (a cancel check per block written)
    const Loaded& l = load(k);
    if (recs->empty() && !l.existed) return;
    std::vector<unsigned char> bytes;
    if (!recs->empty()) {
        const auto [lo, hi] = zooms_of(k);
        // (room for the worst case, not zeroed: a block's bound is megabytes where its
        // encoding is a fraction of them)
        const std::unique_ptr<unsigned char[]> room(
            new unsigned char[hier_node_block_bound(recs->size())]);
        std::size_t len = 0;
        const Status s =
            hier_node_block_encode(recs->data(), recs->size(), lo, hi, room.get(), &len);
        if (s != Status::Ok) throw s;
        bytes.assign(room.get(), room.get() + len);
    }
    if (l.existed && l.bytes == bytes && l.delta.empty()) return;
    put(k, false, std::move(bytes));
}

// The delta of block k: the records that are not its own bytes' as they were (the old delta's
// that are kept, and the runs'), and the slots of every record it holds or of its own records
// that are gone or replaced. False when the block is to be written whole (the caller does):
// it is new, under delta_min_block_bytes, left with no record, or its delta is due to be folded.
bool HierStoreUpdate::Impl::emit_delta(const BlockKey& k, const std::vector<char>& keep,
                                       const std::vector<HierBlockNode>& runs) {
    const Loaded& l = load(k);
    const bool any =
        !runs.empty() || !l.full || std::find(keep.begin(), keep.end(), 1) != keep.end();
    if (!any || !l.existed || l.bytes.size() < delta_min_block_bytes) return false;
    std::vector<std::uint32_t> shadow(l.shadow);
    std::vector<HierBlockNode> changed(runs);
    for (std::size_t i = 0; i < l.records.size(); ++i) {
        const HierBlockNode& rec = l.records[i];
        if (keep[i] && !l.from_block[i]) changed.push_back(rec);
        if (!keep[i] && l.from_block[i]) shadow.push_back(rec.slot);
    }
    std::sort(changed.begin(), changed.end(),
              [](const HierBlockNode& a, const HierBlockNode& b) { return a.slot < b.slot; });
    for (const HierBlockNode& c : changed) shadow.push_back(c.slot);
    std::sort(shadow.begin(), shadow.end());
    shadow.erase(std::unique(shadow.begin(), shadow.end()), shadow.end());
    std::vector<unsigned char> delta;
    if (!shadow.empty()) {
        const auto [lo, hi] = zooms_of(k);
        const Status s = hier_delta_encode(shadow, changed, lo, hi, &delta);
        if (s != Status::Ok) throw s;
        if (hier_delta_fold_due(l.bytes.size(), delta.size(), delta_min_block_bytes)) return false;
    }
    if (l.delta != delta) put(k, true, std::move(delta));
    return true;
}

void HierStoreUpdate::Impl::put(const BlockKey& k, bool delta_only,
                                std::vector<unsigned char> bytes) {
    out_keys.push_back(k);
    out_bytes.push_back(std::move(bytes));
    out_delta_only.push_back(delta_only ? 1 : 0);
    ++(delta_only ? st.deltas_written : st.blocks_written);
}

// Member records name their leaf. A batch changes the records of the markers it adds or erases,
// of the markers of a leaf whose id changes or that merged into another, and of a leaf's last
// marker when it is left alone (a single is its own node record). A member block takes those
// records as a delta, as a node block does (emit_nodes), else is written whole: the markers of
// an unchanged leaf are never read to be written back.
void HierStoreUpdate::Impl::write_members(const Plan& p) {
    const auto final_id = [&p](std::int64_t id) {
        const auto it = p.new_id.find(id);
        return it == p.new_id.end() ? id : it->second;
    };
    for (const Run& r : p.runs)  // (a leaf whose id changes: all its markers' records name it)
        if (u.zoom_of(r.ids[0]) == u.max_zoom && final_id(r.ids[0]) != r.ids[0]) u.full(r.ids[0]);
    struct Change {
        std::vector<std::uint32_t> gone;     // slots of records to drop or replace
        std::vector<HierBlockNode> changed;  // replacing records, at their slots
        std::vector<std::pair<std::int64_t, HierMarker>> fresh;  // new records: leaf, marker
    };
    std::map<BlockKey, Change> dirty;
    std::unordered_set<std::int64_t> stays;  // handles whose record stays where it is
    for (const auto& [h, m] : u.markers) {
        const auto leaf = u.nodes.find(m.leaf);
        if (leaf != u.nodes.end() && leaf->second.item.count < 2) continue;  // a single's record
        const std::int64_t to = final_id(m.leaf);
        const HierMarker hm{m.lat, m.lon, m.id};
        const auto o = member_origin.find(h);
        if (o == member_origin.end()) {
            const BlockKey k{true, last_band(), hier_block_of(bz(last_band()), m.lat, m.lon)};
            dirty[k].fresh.emplace_back(to, hm);
            continue;
        }
        stays.insert(h);
        const BlockKey k{true, last_band(), o->second.block};
        const Loaded& l = blocks.at(k);
        if (l.records[l.at.at(o->second.slot)].parent_id == to) continue;
        Change& c = dirty[k];
        c.gone.push_back(o->second.slot);
        c.changed.push_back(hier_member_record(hm, u.max_zoom, to, o->second.slot));
    }
    for (const auto& [h, o] : member_origin)  // erased, or its leaf's last marker now
        if (stays.count(h) == 0) dirty[BlockKey{true, last_band(), o.block}].gone.push_back(o.slot);
    for (auto& [k, c] : dirty) {
        Loaded& l = loaded(k);
        std::vector<char> keep(l.records.size(), 1);
        for (const std::uint32_t slot : c.gone) keep[l.at.at(slot)] = 0;
        std::sort(c.fresh.begin(), c.fresh.end(), [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
        });
        std::vector<HierBlockNode> runs = c.changed;
        std::uint64_t slot = slot_end_of(k, &l);
        for (const auto& [leaf, m] : c.fresh) {
            if (slot > UINT32_MAX) throw Status::HierarchyWriteTooLarge;
            runs.push_back(
                hier_member_record(m, u.max_zoom, leaf, static_cast<std::uint32_t>(slot++)));
        }
        std::sort(runs.begin(), runs.end(),
                  [](const HierBlockNode& a, const HierBlockNode& b) { return a.slot < b.slot; });
        if (!emit_delta(k, keep, runs)) emit_members_whole(k, &keep, runs);
    }
}

// Member block k written whole: the records keep marks (and those not decoded yet) and runs',
// by leaf and id, their slots numbered again from 0.
void HierStoreUpdate::Impl::emit_members_whole(const BlockKey& k, std::vector<char>* keep,
                                               const std::vector<HierBlockNode>& runs) {
    Loaded& l = loaded(k);
    decode_all(k, &l);
    keep->resize(l.records.size(), 1);
    std::vector<HierBlockNode> recs;
    for (std::size_t i = 0; i < l.records.size(); ++i)
        if ((*keep)[i]) recs.push_back(l.records[i]);
    recs.insert(recs.end(), runs.begin(), runs.end());
    std::sort(recs.begin(), recs.end(), [](const HierBlockNode& a, const HierBlockNode& b) {
        return a.parent_id != b.parent_id ? a.parent_id < b.parent_id : a.id < b.id;
    });
    for (std::size_t i = 0; i < recs.size(); ++i)
        recs[i] = hier_member_record(HierMarker{recs[i].min_lat, recs[i].min_lon, recs[i].id},
                                     u.max_zoom, recs[i].parent_id, static_cast<std::uint32_t>(i));
    emit(k, &recs);
}

// ---- the API ----

HierStoreUpdate::HierStoreUpdate() noexcept = default;
HierStoreUpdate::~HierStoreUpdate() = default;

Status HierStoreUpdate::init(double radius_px, int max_zoom, const HierStoreOps& ops,
                             std::size_t max_bytes, std::size_t delta_min_block_bytes) noexcept {
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    try {
        impl_.reset(new Impl);
    } catch (const std::bad_alloc&) {
        return Status::OutOfMemory;
    }
    Impl& s = *impl_;
    s.u.set_params(radius_px, max_zoom);
    s.u.loader = &s;
    s.u.zoom_shift = kHierIdZoomShift;
    s.ops = ops;
    s.bands = hier_bands(max_zoom);
    s.max_bytes = max_bytes;
    s.delta_min_block_bytes = delta_min_block_bytes;
    return Status::Ok;
}

namespace {

// The Z-order key of a position: 31 bits of latitude and of longitude, interleaved as quadkeys
// interleave theirs (out of range and NaN clamp to an edge: only the order matters). Degrees,
// not Web Mercator as a quadkey's: cheaper, and as local.
std::uint64_t z_order_key(double lat, double lon) noexcept {
    const auto bits31 = [](double v, double lo, double span) {
        const double t = (v - lo) / span;
        const double c = t > 0.0 ? (t < 1.0 ? t : 1.0) : 0.0;  // (NaN: 0)
        return static_cast<std::uint32_t>(c * 2147483647.0);
    };
    return quadkey_detail::spread_bits(bits31(lon, -180.0, 360.0)) |
           quadkey_detail::spread_bits(bits31(lat, -90.0, 180.0)) << 1;
}

}  // namespace

void hier_store_order_writes(HierStoreWrite* writes, std::size_t n) noexcept {
    const auto raw = [](double v) {  // (-0.0 apart from 0.0: the order is total)
        std::uint64_t b;
        std::memcpy(&b, &v, sizeof b);
        return b;
    };
    const auto before = [&raw](const HierStoreWrite& a, std::uint64_t ka, const HierStoreWrite& b,
                               std::uint64_t kb) {
        if (a.insert != b.insert) return !a.insert;
        if (ka != kb) return ka < kb;
        if (a.id != b.id) return a.id < b.id;
        if (raw(a.lat) != raw(b.lat)) return raw(a.lat) < raw(b.lat);
        return raw(a.lon) < raw(b.lon);
    };
    // (keys computed in the comparison: sorting in place needs no memory, so this cannot fail)
    std::sort(writes, writes + n, [&](const HierStoreWrite& a, const HierStoreWrite& b) {
        return before(a, z_order_key(a.lat, a.lon), b, z_order_key(b.lat, b.lon));
    });
}

Status HierStoreUpdate::apply(const HierStoreWrite* writes, std::size_t n,
                              CancelCheck cancel) noexcept {
    if (!impl_ || impl_->u.broken) return Status::Internal;
    Impl& s = *impl_;
    for (std::size_t i = 0; i < n; ++i)
        if (writes[i].insert) {
            const Status v = validate_lat_lon(writes[i].lat, writes[i].lon);
            if (v != Status::Ok) return v;
        }
    s.cancel = cancel;
    s.u.broken = true;  // until it returns whole
    try {
        s.apply(writes, n);
    } catch (const std::bad_alloc&) {
        return Status::OutOfMemory;
    } catch (Status st) {
        return st;
    } catch (const std::exception&) {  // a broken invariant (std::out_of_range from at())
        return Status::Internal;
    }
    s.u.broken = false;
    return Status::Ok;
}

const HierStoreBlock* HierStoreUpdate::blocks(std::size_t* n) const noexcept {
    *n = impl_ ? impl_->out_blocks.size() : 0;
    return impl_ ? impl_->out_blocks.data() : nullptr;
}

const HierStoreSlots* HierStoreUpdate::slots(std::size_t* n) const noexcept {
    *n = impl_ ? impl_->out_slots.size() : 0;
    return impl_ ? impl_->out_slots.data() : nullptr;
}

HierStoreUpdate::Stats HierStoreUpdate::stats() const noexcept {
    return impl_ ? impl_->st : Stats{0, 0, 0, 0, 0, 0, 0, 0};
}

}  // namespace geocluster
