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
    for (std::uint32_t r = 0; r < n_grid_; ++r) {
        if (state_[grid_[r].index] == kClean) grid_[kept++] = grid_[r];
        if (canceled(1)) return Status::Canceled;
    }
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < n_items_; ++i) n += state_[i] == kDirty;
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
    for (std::uint32_t i = 0; i < n_items_; ++i) {
        if (state_[i] != kDirty) continue;
        std::uint64_t members = 0;
        Centre c;
        centre_of(item_sum(i, &members), &c);
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
            grid_[at] = (i >= 0 && before(fresh[j], grid_[i])) ? grid_[i--] : fresh[j--];
            if (canceled(1)) {
                s = Status::Canceled;
                break;
            }
        }
        n_grid_ = kept + n;
    }
    release();
    return s;
}

// Indexes the sorted grid by cell when the bounding box of the occupied cells is small: then a
// query finds the entries of a column's rows with two loads. Otherwise by coarse columns (runs of
// 2^col_shift_ columns, at most one per entry), where a query searches the run for its column:
// 4 bytes per entry either way. (A binary search over the whole grid per query costs ~20 cache
// misses at a million bins; a search within a run of a few entries, one or two.)
Status Finalizer::index_grid() noexcept {
    release_index();
    box_cols_ = 0;  // nothing to visit
    if (n_grid_ == 0) return Status::Ok;
    std::uint64_t row_min = ~std::uint64_t{0}, row_max = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i) {
        row_min = std::min(row_min, row_of(grid_[i].y));
        row_max = std::max(row_max, row_of(grid_[i].y));
        if (canceled(1)) return Status::Canceled;
    }
    box_col_ = col_of(grid_[0].x);  // sorted: the first and last entries hold the extreme columns
    box_row_ = row_min;
    box_cols_ = col_of(grid_[n_grid_ - 1].x) - box_col_ + 1;
    box_rows_ = row_max - row_min + 1;
    // box_cols_ * box_rows_ > limit, without the product (both may be up to 2^42).
    const std::uint64_t limit = 2 * std::uint64_t{n_grid_} + 64;
    col_shift_ = 0;
    if (box_rows_ > limit || box_cols_ > limit / box_rows_) {
        box_rows_ = 0;
        while (((box_cols_ - 1) >> col_shift_) + 1 > n_grid_) ++col_shift_;
        n_starts_ = ((box_cols_ - 1) >> col_shift_) + 2;
    } else {
        n_starts_ = box_cols_ * box_rows_ + 1;
    }
    if (get(&starts_, n_starts_) != Status::Ok) return Status::OutOfMemory;
    // The grid's order (column, then row) is the box cells' order, so one sweep fills starts_.
    std::uint64_t b = 0;
    for (std::uint32_t i = 0; i < n_grid_; ++i) {
        const std::uint64_t col = col_of(grid_[i].x) - box_col_;
        const std::uint64_t cell =
            box_rows_ != 0 ? col * box_rows_ + (row_of(grid_[i].y) - box_row_) : col >> col_shift_;
        while (b <= cell) starts_[b++] = i;
        if (canceled(1)) return Status::Canceled;
    }
    while (b < n_starts_) starts_[b++] = n_grid_;
    return Status::Ok;
}

}  // namespace finalize
}  // namespace cluster_internal
}  // namespace geocluster
