// Covers: every cell of one level that a lat/lon box touches, in ascending code order.
//
// What "touches" means. Cells own their points half-open (quadkey: a point on a boundary
// belongs to the east / south cell; geohash, like ST_GeoHash: to the east / north cell).
// The cover of a box is exactly the set of cells that the box's points are assigned to by
// quadkey_from_latlon / geohash_from_latlon:
//   * every point of the closed box, edges included, has its cell in the cover, so
//     `cell = ANY(cover)` finds every stored point inside the box;
//   * no cover cell is without a box point: a cell that meets the box only along the
//     boundary line it does not own (e.g. the box's west edge lies on the cell's east edge)
//     is left out.
// It is computed per axis with the very functions that assign points, so the two agree to
// the last bit: the box maps to a range of columns and a range of rows, and the cover is
// their product, produced in code (Morton) order by a depth-first walk of the cell tree
// that descends only into subtrees meeting the ranges. No sort, no heap.
//
// Boxes: min_lat <= max_lat; min_lon > max_lon means the box crosses the antimeridian and
// is [min_lon, 180] + [-180, max_lon]. Quadkey boxes are clamped to the Mercator latitude
// limit (+-85.05112878), as the points are. Errors, checked in this order: BoxInvalid (a NaN
// or infinite coordinate), LatOutOfRange, LonOutOfRange, BoxInvalid (min_lat > max_lat),
// ZoomOutOfRange / PrecisionOutOfRange, CoverTooLarge.
//
// Memory: the caller owns the output. Call *_cover_count first (O(1)), allocate (palloc)
// that many codes, then *_cover_fill. Counts above kMaxCoverCells are refused with
// CoverTooLarge before anything is allocated.
#pragma once

#include "core.hpp"

#include "cell_tree.hpp"  // CodeRange
#include "geohash.hpp"
#include "quadkey.hpp"

namespace geocluster {

// The largest cover we produce (8 MB of codes). A box at a level that needs more cells
// is almost certainly a mistake (a world box at zoom 20); a coarser level answers it.
constexpr std::uint64_t kMaxCoverCells = 1000000;

// Exact number of cells in the cover. On CoverTooLarge *n is still set (for the message).
Status quadkey_cover_count(const LatLonBox& box, int zoom, std::uint64_t* n) noexcept;
Status geohash_cover_count(const LatLonBox& box, int precision, std::uint64_t* n) noexcept;

// Writes the cover in ascending order, without duplicates, into out[0 .. *n). cap is the
// capacity of out; CoverTooLarge when the cover needs more than cap (or kMaxCoverCells).
Status quadkey_cover_fill(const LatLonBox& box, int zoom, QuadkeyCode* out, std::size_t cap,
                          std::size_t* n) noexcept;
Status geohash_cover_fill(const LatLonBox& box, int precision, GeohashCode* out, std::size_t cap,
                          std::size_t* n) noexcept;

// Merges a cover (ascending, no duplicates, one level, as *_cover_fill writes it) into the
// fewest code ranges: cells that follow each other in code order at their level share one
// range [first cell, range_max(last cell)]. out needs room for n ranges; returns how many
// were written. Each range holds exactly the descendants (self included) of its cells, plus
// the coarser ancestors of its cells that sort between them (those contain a cover cell, so
// they touch the box as well); the ancestors of a range's first cell sort below lo and are
// not included. Cells of different levels are not merged (overlapping ones are).
std::size_t quadkey_cover_ranges(const QuadkeyCode* cells, std::size_t n, CodeRange* out) noexcept;
std::size_t geohash_cover_ranges(const GeohashCode* cells, std::size_t n, CodeRange* out) noexcept;

}  // namespace geocluster
