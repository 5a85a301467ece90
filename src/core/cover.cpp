// Covers of lat/lon boxes by quadkey and geohash cells; see cover.hpp for the contract.
#include "core.hpp"

#include "cover.hpp"

#include <cmath>

namespace geocluster {

namespace {

// A set of cell indices along one axis: up to two disjoint inclusive intervals, ascending
// (two only for longitude across the antimeridian).
struct AxisSet {
    std::uint32_t lo[2];
    std::uint32_t hi[2];
    int n;

    std::uint64_t size() const noexcept {
        std::uint64_t s = 0;
        for (int i = 0; i < n; ++i) s += std::uint64_t{hi[i]} - lo[i] + 1;
        return s;
    }

    bool meets(std::uint64_t a, std::uint64_t b) const noexcept {  // [a, b] overlaps?
        for (int i = 0; i < n; ++i) {
            if (a <= hi[i] && lo[i] <= b) return true;
        }
        return false;
    }
};

AxisSet one_interval(std::uint32_t lo, std::uint32_t hi) noexcept {
    AxisSet s{};
    s.lo[0] = lo;
    s.hi[0] = hi;
    s.n = 1;
    return s;
}

// Columns of a longitude range. west > east means across the antimeridian: [west, last]
// and [0, east], merged into one interval when they meet or overlap.
AxisSet lon_columns(std::uint32_t west, std::uint32_t east, std::uint32_t last,
                    bool wraps) noexcept {
    if (!wraps) return one_interval(west, east);
    if (std::uint64_t{east} + 1 >= west) return one_interval(0, last);
    AxisSet s{};
    s.lo[0] = 0;
    s.hi[0] = east;
    s.lo[1] = west;
    s.hi[1] = last;
    s.n = 2;
    return s;
}

// The cells of a product of index sets in Morton order. Bits alternate between the axes,
// `first` taking bit 0 (the most significant) of each pair; with an odd total the first
// axis has one bit more. emit(m) receives the Morton bits, total_bits of them.
template <typename Emit>
void walk_morton(const AxisSet& first, const AxisSet& second, int total_bits,
                 Emit&& emit) noexcept {
    struct Node {
        std::uint64_t morton;
        std::uint32_t a;  // index prefix along `first`
        std::uint32_t b;  // index prefix along `second`
        int depth;
    };
    const int first_bits = (total_bits + 1) / 2;
    const int second_bits = total_bits / 2;
    // Each step pops one node and pushes at most two, one level deeper: the stack never
    // holds more than total_bits + 1 nodes (<= 61).
    Node stack[64];
    int top = 0;
    stack[top++] = Node{0, 0, 0, 0};
    while (top > 0) {
        const Node nd = stack[--top];
        if (nd.depth == total_bits) {
            emit(nd.morton);
            continue;
        }
        const bool split_first = (nd.depth % 2) == 0;
        // Index bits along each axis still below the child's prefix.
        const int child_depth = nd.depth + 1;
        const int ra = first_bits - (child_depth + 1) / 2;
        const int rb = second_bits - child_depth / 2;
        for (int bit = 1; bit >= 0; --bit) {  // push 1 first so 0 is visited first
            Node ch;
            ch.morton = (nd.morton << 1) | static_cast<std::uint64_t>(bit);
            ch.depth = child_depth;
            ch.a = split_first ? (nd.a << 1) | static_cast<std::uint32_t>(bit) : nd.a;
            ch.b = split_first ? nd.b : (nd.b << 1) | static_cast<std::uint32_t>(bit);
            const std::uint64_t a_lo = std::uint64_t{ch.a} << ra;
            const std::uint64_t b_lo = std::uint64_t{ch.b} << rb;
            if (first.meets(a_lo, a_lo + (std::uint64_t{1} << ra) - 1) &&
                second.meets(b_lo, b_lo + (std::uint64_t{1} << rb) - 1)) {
                stack[top++] = ch;
            }
        }
    }
}

Status check_box(const LatLonBox& b) noexcept {
    if (!std::isfinite(b.min_lat) || !std::isfinite(b.max_lat) || !std::isfinite(b.min_lon) ||
        !std::isfinite(b.max_lon)) {
        return Status::BoxInvalid;
    }
    if (b.min_lat < -90.0 || b.min_lat > 90.0 || b.max_lat < -90.0 || b.max_lat > 90.0) {
        return Status::LatOutOfRange;
    }
    if (b.min_lon < -180.0 || b.min_lon > 180.0 || b.max_lon < -180.0 || b.max_lon > 180.0) {
        return Status::LonOutOfRange;
    }
    if (b.min_lat > b.max_lat) return Status::BoxInvalid;
    return Status::Ok;
}

// Rows and columns of a quadkey cover. Rows: north (max_lat) has the smaller y.
Status quadkey_axes(const LatLonBox& box, int zoom, AxisSet* rows, AxisSet* cols,
                    std::uint64_t* n) noexcept {
    Status s = check_box(box);
    if (s != Status::Ok) return s;
    if (zoom < 0 || zoom > kQuadkeyMaxLevel) return Status::ZoomOutOfRange;
    const std::uint32_t last = (std::uint32_t{1} << zoom) - 1;
    const std::uint32_t north = quadkey_tile_y_of_lat(box.max_lat, zoom);
    const std::uint32_t south = quadkey_tile_y_of_lat(box.min_lat, zoom);
    if (north > south) return Status::Internal;  // the row function must be monotone (tested)
    *rows = one_interval(north, south);
    *cols = lon_columns(quadkey_tile_x_of_lon(box.min_lon, zoom),
                        quadkey_tile_x_of_lon(box.max_lon, zoom), last, box.min_lon > box.max_lon);
    *n = rows->size() * cols->size();
    return *n > kMaxCoverCells ? Status::CoverTooLarge : Status::Ok;
}

Status geohash_axes(const LatLonBox& box, int p, AxisSet* lons, AxisSet* lats,
                    std::uint64_t* n) noexcept {
    Status s = check_box(box);
    if (s != Status::Ok) return s;
    if (p < 0 || p > kGeohashMaxPrecision) return Status::PrecisionOutOfRange;
    const int lon_shift = kGeohashAxisBits - geohash_lon_bits(p);
    const int lat_shift = kGeohashAxisBits - geohash_lat_bits(p);
    const std::uint32_t last = (std::uint32_t{1} << geohash_lon_bits(p)) - 1;
    const std::uint32_t south = geohash_lat_index(box.min_lat) >> lat_shift;
    const std::uint32_t north = geohash_lat_index(box.max_lat) >> lat_shift;
    if (south > north) return Status::Internal;  // the index function must be monotone (tested)
    *lats = one_interval(south, north);
    *lons =
        lon_columns(geohash_lon_index(box.min_lon) >> lon_shift,
                    geohash_lon_index(box.max_lon) >> lon_shift, last, box.min_lon > box.max_lon);
    *n = lats->size() * lons->size();
    return *n > kMaxCoverCells ? Status::CoverTooLarge : Status::Ok;
}

}  // namespace

Status quadkey_cover_count(const LatLonBox& box, int zoom, std::uint64_t* n) noexcept {
    AxisSet rows, cols;
    return quadkey_axes(box, zoom, &rows, &cols, n);
}

Status geohash_cover_count(const LatLonBox& box, int precision, std::uint64_t* n) noexcept {
    AxisSet lons, lats;
    return geohash_axes(box, precision, &lons, &lats, n);
}

Status quadkey_cover_fill(const LatLonBox& box, int zoom, QuadkeyCode* out, std::size_t cap,
                          std::size_t* n) noexcept {
    *n = 0;
    AxisSet rows, cols;
    std::uint64_t count = 0;
    const Status s = quadkey_axes(box, zoom, &rows, &cols, &count);
    if (s != Status::Ok) return s;
    if (count > cap) return Status::CoverTooLarge;
    std::size_t k = 0;
    // A digit is x bit + 2 * y bit, so rows take the first (higher) bit of each pair.
    const int shift = 63 - 2 * zoom;
    const std::uint64_t level = static_cast<std::uint64_t>(zoom);
    walk_morton(rows, cols, 2 * zoom,
                [&](std::uint64_t m) noexcept { out[k++] = (m << shift) | level; });
    *n = k;
    return k == count ? Status::Ok : Status::Internal;
}

// The shape of quadkey_cover_fill: the axes and the Morton bits of a code differ per type.
Status geohash_cover_fill(const LatLonBox& box, int precision, GeohashCode* out, std::size_t cap,
                          std::size_t* n) noexcept {
    *n = 0;
    AxisSet lons, lats;
    std::uint64_t count = 0;
    const Status s = geohash_axes(box, precision, &lons, &lats, &count);
    if (s != Status::Ok) return s;
    if (count > cap) return Status::CoverTooLarge;
    std::size_t k = 0;
    const int bits = 5 * precision;
    const std::uint64_t p = static_cast<std::uint64_t>(precision);
    // Longitude takes the first bit of each pair. Precision 0 is the one empty-text cell
    // (and a shift by 64 would be undefined).
    walk_morton(lons, lats, bits, [&](std::uint64_t m) noexcept {
        out[k++] = bits == 0 ? p : (m << (64 - bits)) | p;
    });
    *n = k;
    return k == count ? Status::Ok : Status::Internal;
}

// Cells that follow each other in code order at their level share a range (SubtreeJoin::SameLevel).
std::size_t quadkey_cover_ranges(const QuadkeyCode* cells, std::size_t n, CodeRange* out) noexcept {
    return merge_sorted_subtrees<QuadkeyKind>(cells, n, out, SubtreeJoin::SameLevel);
}

std::size_t geohash_cover_ranges(const GeohashCode* cells, std::size_t n, CodeRange* out) noexcept {
    return merge_sorted_subtrees<GeohashKind>(cells, n, out, SubtreeJoin::SameLevel);
}

}  // namespace geocluster
