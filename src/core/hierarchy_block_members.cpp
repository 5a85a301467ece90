// The member blocks of a cluster hierarchy: lists of leaf member ids (hierarchy_block.hpp has
// the format).
#include "core.hpp"

#include "hierarchy_block.hpp"
#include "hierarchy_block_internal.hpp"

namespace geocluster {

using namespace hier_block_internal;

std::size_t hier_member_block_bound(std::size_t n_lists, std::size_t n_ids) noexcept {
    return 1 + 10 + n_lists * 30 + n_ids * 10;
}

Status hier_member_block_encode(const HierMemberList* lists, std::size_t n, unsigned char* out,
                                std::size_t* len) noexcept {
    *len = 0;
    Out o{out};
    *o.p++ = kHierBlockVersion;
    o.u64(n);
    std::int64_t prev_slot = -1;
    for (std::size_t i = 0; i < n; ++i) {
        const HierMemberList& l = lists[i];
        if (static_cast<std::int64_t>(l.leaf_slot) <= prev_slot || l.n_ids == 0)
            return Status::Internal;
        for (std::uint32_t k = 1; k < l.n_ids; ++k)
            if (l.ids[k] <= l.ids[k - 1]) return Status::Internal;
        o.u64(static_cast<std::uint64_t>(static_cast<std::int64_t>(l.leaf_slot) - prev_slot - 1));
        o.u64(l.n_ids);
        o.s64(l.ids[0]);
        for (std::uint32_t k = 1; k < l.n_ids; ++k)
            o.u64(static_cast<std::uint64_t>(l.ids[k]) - static_cast<std::uint64_t>(l.ids[k - 1]) -
                  1);
        prev_slot = l.leaf_slot;
    }
    *len = static_cast<std::size_t>(o.p - out);
    return Status::Ok;
}

Status hier_member_block_open(const unsigned char* data, std::size_t len,
                              HierMemberBlockReader* r) noexcept {
    *r = HierMemberBlockReader{data, data, 0, 0, -1, 0, false};
    In in{data, data + len};
    if (len == 0 || *in.p++ != kHierBlockVersion) return Status::HierarchyBlockCorrupt;
    const std::uint64_t n = in.u64();
    // Every list takes at least 3 bytes (slot, id count, first id).
    if (!in.ok || n > static_cast<std::uint64_t>(in.end - in.p) / 3)
        return Status::HierarchyBlockCorrupt;
    *r = HierMemberBlockReader{in.p, in.end, n, 0, -1, 0, false};
    return Status::Ok;
}

namespace {
bool member_corrupt(HierMemberBlockReader* r, Status* status) noexcept {
    *status = Status::HierarchyBlockCorrupt;
    r->lists_left = r->ids_left = 0;
    r->first_pending = false;
    r->p = r->end;
    return false;
}
}  // namespace

bool hier_member_block_next_id(HierMemberBlockReader* r, std::int64_t* id,
                               Status* status) noexcept {
    *status = Status::Ok;
    if (r->ids_left == 0) return false;
    if (r->first_pending) {
        r->first_pending = false;
        --r->ids_left;
        *id = r->prev_id;
        return true;
    }
    In in{r->p, r->end};
    const std::uint64_t step = in.u64();
    const std::uint64_t room =
        static_cast<std::uint64_t>(INT64_MAX) - static_cast<std::uint64_t>(r->prev_id);
    if (!in.ok || room == 0 || step > room - 1)
        return member_corrupt(r, status);  // beyond INT64_MAX
    r->prev_id = static_cast<std::int64_t>(static_cast<std::uint64_t>(r->prev_id) + step + 1);
    r->p = in.p;
    --r->ids_left;
    *id = r->prev_id;
    return true;
}

bool hier_member_block_next_list(HierMemberBlockReader* r, std::uint32_t* leaf_slot,
                                 std::uint32_t* n_ids, Status* status) noexcept {
    *status = Status::Ok;
    std::int64_t skipped;
    while (r->ids_left > 0)
        if (!hier_member_block_next_id(r, &skipped, status)) return false;
    if (r->lists_left == 0) {
        if (r->p != r->end) return member_corrupt(r, status);  // trailing bytes
        return false;
    }
    In in{r->p, r->end};
    const std::uint64_t slot_step = in.u64();
    const std::uint64_t count = in.u64();
    const std::int64_t first = in.s64();
    if (!in.ok || slot_step > kMaxSlot ||
        static_cast<std::uint64_t>(r->prev_slot + 1) + slot_step > kMaxSlot || count == 0 ||
        count > 0xffffffffu || count - 1 > static_cast<std::uint64_t>(in.end - in.p))
        return member_corrupt(r, status);
    r->p = in.p;
    --r->lists_left;
    r->prev_slot =
        static_cast<std::int64_t>(static_cast<std::uint64_t>(r->prev_slot + 1) + slot_step);
    r->ids_left = count;
    *leaf_slot = static_cast<std::uint32_t>(r->prev_slot);
    *n_ids = static_cast<std::uint32_t>(count);
    r->prev_id = first;
    r->first_pending = true;
    return true;
}

}  // namespace geocluster
