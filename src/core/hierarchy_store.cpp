// Writes to a stored cluster hierarchy (hierarchy_store.hpp). Not yet implemented: every call
// fails with Status::Internal.
#include "core.hpp"

#include "hierarchy_store.hpp"

namespace geocluster {

struct HierStoreUpdate::Impl {};

HierStoreUpdate::HierStoreUpdate() noexcept = default;
HierStoreUpdate::~HierStoreUpdate() = default;

Status HierStoreUpdate::init(double, int, const HierStoreOps&, std::size_t) noexcept {
    return Status::Internal;
}
Status HierStoreUpdate::apply(const HierStoreWrite*, std::size_t, CancelCheck) noexcept {
    return Status::Internal;
}
const HierStoreBlock* HierStoreUpdate::blocks(std::size_t* n) const noexcept {
    *n = 0;
    return nullptr;
}
const HierStoreSlots* HierStoreUpdate::slots(std::size_t* n) const noexcept {
    *n = 0;
    return nullptr;
}
HierStoreUpdate::Stats HierStoreUpdate::stats() const noexcept { return Stats{0, 0, 0, 0}; }

}  // namespace geocluster
