// The finaliser's neighbour grid: patched between passes, indexed for the queries of
// for_each_near (cluster_finalize_internal.hpp).
#include "cluster_finalize_internal.hpp"

namespace geocluster {
namespace cluster_internal {
namespace finalize {

// Brings the grid up to date: entries of items that died or moved (the dirty ones) leave, the
// dirty items come back at their new centres. The survivors stay sorted, so this is a filter
// and a merge with the few new entries, not a sort of everything.
Status Finalizer::update_grid(std::uint32_t* n_dirty) noexcept {
    release_index();  // it indexes the grid as it was
    std::uint32_t kept = 0;
    for (std::uint32_t r = 0; r < grid_.n; ++r) {
        if (items_.state[item_of(grid_.entries[r])] == kClean)
            grid_.entries[kept++] = grid_.entries[r];
        if (canceled(1)) return Status::Canceled;
    }
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < items_.n; ++i) n += items_.state[i] == kDirty;
    *n_dirty = n;
    // The dirty items' new centres, then their entries sorted by cell.
    std::uint32_t* dirty = nullptr;
    Pos* pos = nullptr;
    GridEntry* fresh = nullptr;
    const auto release = [&]() noexcept {
        put(fresh, n);
        put(pos, n);
        put(dirty, n);
    };
    if (get(&dirty, n) != Status::Ok || get(&pos, n) != Status::Ok ||
        get(&fresh, n) != Status::Ok) {
        release();
        return Status::OutOfMemory;
    }
    std::uint32_t k = 0;
    for (std::uint32_t i = 0; i < items_.n; ++i) {
        if (items_.state[i] != kDirty) continue;
        std::uint64_t members = 0;
        const Centre c = exact_centre(i, &members);
        dirty[k] = i;
        pos[k++] = Pos{c.x, c.y};
        if (canceled(members)) {
            release();
            return Status::Canceled;
        }
    }
    Status s = sorted_cells(
        n, [pos](std::uint32_t j) noexcept { return pos[j]; }, dirty, fresh);
    // Merge from the back: live items never outnumber the units, so the grid has the room.
    if (s == Status::Ok) {
        std::int64_t i = static_cast<std::int64_t>(kept) - 1, j = static_cast<std::int64_t>(n) - 1;
        const auto before = [this](const GridEntry& a, const GridEntry& b) noexcept {
            const std::uint64_t ca = col_of(a.x), cb = col_of(b.x);
            return ca != cb ? ca < cb : row_of(a.y) < row_of(b.y);
        };
        for (std::int64_t at = kept + n - 1; j >= 0; --at) {
            grid_.entries[at] =
                (i >= 0 && before(fresh[j], grid_.entries[i])) ? grid_.entries[i--] : fresh[j--];
            if (canceled(1)) {
                s = Status::Canceled;
                break;
            }
        }
        grid_.n = kept + n;
    }
    release();
    return s;
}

// Indexes the sorted grid by cell when the bounding box of the occupied cells is small: then a
// query finds the entries of a column's rows with two loads. Otherwise by coarse columns (runs of
// 2^index_.col_shift columns, at most one per entry), where a query searches the run for its
// column: 4 bytes per entry either way. (A binary search over the whole grid per query costs ~20
// cache misses at a million bins; a search within a run of a few entries, one or two.)
Status Finalizer::index_grid() noexcept {
    release_index();
    index_.box_cols = 0;  // nothing to visit
    if (grid_.n == 0) return Status::Ok;
    std::uint64_t row_min = ~std::uint64_t{0}, row_max = 0;
    for (std::uint32_t i = 0; i < grid_.n; ++i) {
        row_min = std::min(row_min, row_of(grid_.entries[i].y));
        row_max = std::max(row_max, row_of(grid_.entries[i].y));
        if (canceled(1)) return Status::Canceled;
    }
    // Sorted: the first and last entries hold the extreme columns.
    index_.box_col = col_of(grid_.entries[0].x);
    index_.box_row = row_min;
    index_.box_cols = col_of(grid_.entries[grid_.n - 1].x) - index_.box_col + 1;
    index_.box_rows = row_max - row_min + 1;
    // index_.box_cols * index_.box_rows > limit, without the product (both may be up to 2^42).
    const std::uint64_t limit = 2 * std::uint64_t{grid_.n} + 64;
    index_.col_shift = 0;
    if (index_.box_rows > limit || index_.box_cols > limit / index_.box_rows) {
        index_.box_rows = 0;
        while (((index_.box_cols - 1) >> index_.col_shift) + 1 > grid_.n) ++index_.col_shift;
        index_.n_starts = ((index_.box_cols - 1) >> index_.col_shift) + 2;
    } else {
        index_.n_starts = index_.box_cols * index_.box_rows + 1;
    }
    if (get(&index_.starts, index_.n_starts) != Status::Ok) return Status::OutOfMemory;
    // The grid's order (column, then row) is the box cells' order, so one sweep fills
    // index_.starts.
    std::uint64_t b = 0;
    for (std::uint32_t i = 0; i < grid_.n; ++i) {
        const std::uint64_t col = col_of(grid_.entries[i].x) - index_.box_col;
        const std::uint64_t cell =
            index_.box_rows != 0
                ? col * index_.box_rows + (row_of(grid_.entries[i].y) - index_.box_row)
                : col >> index_.col_shift;
        while (b <= cell) index_.starts[b++] = i;
        if (canceled(1)) return Status::Canceled;
    }
    while (b < index_.n_starts) index_.starts[b++] = grid_.n;
    return Status::Ok;
}

// Where rows lo and hi + 1 start (the query's rows in coarse columns), remembered for the next
// query: consecutive seeds mostly query the same rows.
void Finalizer::rows_start(std::uint64_t lo, std::uint64_t hi, double* y_lo,
                           double* y_hi) noexcept {
    if (index_.row_lo != lo) {
        index_.row_lo = lo;
        index_.y_lo = cell_start(lo);
    }
    if (index_.row_hi != hi) {
        index_.row_hi = hi;
        index_.y_hi = cell_start(hi + 1);
    }
    *y_lo = index_.y_lo;
    *y_hi = index_.y_hi;
}

// Coarse columns: column col's cursor, its answer the first entry of col's run that is not
// before (col, the row starting at y), as std::lower_bound would find it. From the cursor's last
// answer when it is col's and was for a row at or above y (every entry before it is before y
// too), galloping forward; else by binary search over the run.
const GridCursor& Finalizer::seek(std::uint64_t col, double y) noexcept {
    GridCursor& c = index_.cursor[col & 3];
    const std::uint64_t run = (col - index_.box_col) >> index_.col_shift;
    const GridEntry* lo = grid_.entries + index_.starts[run];
    const GridEntry* const end = grid_.entries + index_.starts[run + 1];
    bool from_last = false;
    if (c.at == nullptr || c.col != col) {
        c.col = col;
        c.x_lo = cell_start(col);
        c.x_hi = cell_start(col + 1);
    } else if (c.y <= y) {
        lo = c.at;
        from_last = true;
    }
    const double x_lo = c.x_lo, x_hi = c.x_hi;
    const auto before = [x_lo, x_hi](const GridEntry& e, double y_start) noexcept {
        return e.x < x_lo || (e.x < x_hi && e.y < y_start);
    };
    c.y = y;
    const GridEntry* hi = end;
    for (std::ptrdiff_t step = 1; from_last; step *= 2) {  // every entry before lo is before
        if (lo == end || !before(*lo, y)) {
            c.at = lo;
            return c;
        }
        ++lo;
        if (end - lo <= step) break;
        if (!before(lo[step - 1], y)) {
            hi = lo + step - 1;
            break;
        }
        lo += step;
    }
    c.at = std::lower_bound(lo, hi, y, before);
    return c;
}

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
