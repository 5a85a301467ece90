// The finaliser's state, by phase (cluster_finalize_internal.hpp): what a run shares (Input,
// Geometry, Scratch, Grid, GridIndex, Items) and what one phase owns (FirstPass, SeedOrder,
// OutputOrder). Not part of the API: include cluster.hpp.
#pragma once

#include "core.hpp"

#include "cluster.hpp"
#include "cluster_internal.hpp"
#include "cluster_items.hpp"

#include <algorithm>
#include <cstdint>

namespace geocluster {
namespace cluster_internal {
namespace finalize {

// A neighbour-grid entry: a unit (in the first pass) or an item (after it) at its centre; which
// one is said by Grid::holds, and read through Finalizer::unit_of and item_of. The grid is sorted
// by cell (column, then row: cells of side Geometry::cell), so a column's cells are contiguous
// and, within it, ordered by row; an entry's cell is computed from x and y.
struct GridEntry {
    double x, y;
    std::uint32_t id;
    std::uint32_t unused;
};
static_assert(sizeof(GridEntry) == 24, "three words per grid entry");

// The output order: key is a prefix of the order (count, then the centre's row), the rest is
// decided from the item itself when two keys are equal.
struct OutEntry {
    std::uint64_t key;
    std::uint32_t item;
    std::uint32_t unused;
};
static_assert(sizeof(OutEntry) == 16, "an output sort entry is two words");

// Item states across passes, and marks within a pass.
enum : std::uint8_t { kClean = 0, kDirty = 1, kDead = 2 };
enum : std::uint8_t { kOut = 0, kCandidate = 1, kDone = 2 };

// What a run works on, fixed for it: the units (the state's bins, or given items: run_items) and
// where emit_items puts the result (run_items).
struct Input {
    const ClusterState* st = nullptr;  // the parameters (reach, budget) and the bins, which
    const Item* items = nullptr;       // are the units, unless run_items gives these
    std::uint32_t n = 0;               // units
    ItemClusters* items_out = nullptr;
};

// The reach and the grid's cells, fixed for a run (set by Finalizer::run).
struct Geometry {
    double query = 0;  // half-width of a neighbour query, fixed units, a little > the reach
    double cell = 0;   // grid cell side, fixed units, a little > query
    double reach2 = 0;
    std::uint64_t last_col = 0;
};

// The finaliser's scratch memory: every array from the state's allocator, bounded with the state
// by the budget (cluster.hpp, Allocator), the live bytes counted for the peak.
class Scratch {
  public:
    Scratch(const Allocator& a, std::size_t state_bytes) noexcept
        : a_(a), state_bytes_(state_bytes) {}
    template <typename T>
    Status get(T** p, std::size_t n) noexcept {
        if (a_.budget_bytes != 0 && state_bytes_ + live_ + n * sizeof(T) + 1 > a_.budget_bytes) {
            over_budget = true;
            return Status::OutOfMemory;  // StateTooLarge, said by finalize_impl
        }
        *p = static_cast<T*>(a_.alloc(a_.ctx, n * sizeof(T) + 1));  // + 1: never ask for 0 bytes
        if (*p == nullptr) return Status::OutOfMemory;
        live_ += n * sizeof(T) + 1;
        peak = std::max(peak, live_);
        return Status::Ok;
    }
    template <typename T>
    void put(T*& p, std::size_t n) noexcept {
        if (p == nullptr) return;
        a_.release(a_.ctx, p);
        live_ -= n * sizeof(T) + 1;
        p = nullptr;
    }
    const Allocator& allocator() const noexcept { return a_; }

    std::size_t peak = 0;
    bool over_budget = false;  // an allocation was refused by the budget, not by the allocator

  private:
    Allocator a_;
    std::size_t state_bytes_;
    std::size_t live_ = 0;
};

// The neighbour grid: live items (first pass: units) by cell, n of Input::n.
enum class GridHolds : std::uint8_t { kUnits, kItems };
struct Grid {
    GridEntry* entries = nullptr;
    std::uint32_t n = 0;
    GridHolds holds = GridHolds::kUnits;
};

// A pass's index of the grid: starts[b] is the first entry at or after box cell b, for b <= the
// box's cells. The box is box_cols x box_rows cells from column box_col, row box_row. Cells, when
// the occupied cells' bounding box has at most about two cells per entry (the usual map
// viewport): b = (column - box_col) * box_rows + (row - box_row). Otherwise (sparse data) coarse
// columns: box_rows = 0, and b = (column - box_col) >> col_shift, a run of columns sorted by
// (column, row) that a query searches.
//
// Coarse columns remember, per column (four, by the column's low bits), where the column's cells
// start and end (cell_start's divisions) and the last query's first entry in it: consecutive
// seeds are mostly neighbours, so the next query of that column searches forward from there
// instead of the whole run. The rows' starts likewise, for the last query's rows.
struct GridCursor {
    std::uint64_t col = 0;
    double x_lo = 0, x_hi = 0;      // where col and col + 1 start
    double y = 0;                   // the last search's row start ...
    const GridEntry* at = nullptr;  // ... and its answer (null: nothing remembered)
};
struct GridIndex {
    std::uint32_t* starts = nullptr;
    std::uint64_t n_starts = 0;
    std::uint64_t box_col = 0, box_row = 0, box_cols = 0, box_rows = 0;
    int col_shift = 0;
    GridCursor cursor[4];
    // Rows whose starts are y_lo and y_hi + 1's; kNoRow: none remembered (rows are below 2^43).
    static constexpr std::uint64_t kNoRow = ~std::uint64_t{0};
    std::uint64_t row_lo = kNoRow, row_hi = kNoRow;
    double y_lo = 0, y_hi = 0;
};

// The items, one allocation carved into arrays (Finalizer::get_item_arrays), by item number, but
// next, which is by unit: every item's members form a ring, head[i] -> next -> ... -> head[i].
struct Items {
    std::uint32_t n = 0;  // the first pass's seeds (0 until it ends)
    unsigned char* block = nullptr;
    std::size_t block_bytes = 0;
    std::uint64_t* count = nullptr;  // points
    std::uint32_t* rank = nullptr;   // min over members of their first-pass item numbers
    std::uint32_t* head = nullptr;   // a member unit
    std::uint32_t* next = nullptr;   // by unit: the next member of its item's ring
    std::uint8_t* state = nullptr;   // kClean / kDirty / kDead
    std::uint8_t* mark = nullptr;    // this pass: kOut / kCandidate / kDone
    // When the clusters are wanted as items (Input::items_out): every item's sum, kept up to date
    // by each join, so that a centre or an output item never walks its ring again. Allocated like
    // the output (it becomes the output: emit_items permutes it in place), not scratch.
    Item* sum = nullptr;
};

// A pass's seed order: grid rows, allocated by seed_order, released by the pass.
struct SeedOrder {
    std::uint32_t* rows = nullptr;
    std::uint32_t n = 0;
};

// The ranges of the bins' count and key fields: the widths of the first pass's packed seed keys.
struct BinKeyRange {
    std::uint64_t max_count = 0;
    std::uint64_t kx_min = ~std::uint64_t{0}, kx_max = 0;
    std::uint64_t ky_min = ~std::uint64_t{0}, ky_max = 0;
};

// The first pass's own state, over the bins.
struct FirstPass {
    BinKeyRange keys;
    std::uint32_t* unit_item = nullptr;  // the item each unit went to (kNone: not yet taken)
    SeedOrder order;
};

// The output order (output_order): n live items, sorted points into entries; entries and
// entries_tmp are the output's to release.
struct OutputOrder {
    std::uint32_t n = 0;
    OutEntry* sorted = nullptr;
    OutEntry* entries = nullptr;
    OutEntry* entries_tmp = nullptr;
};

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
