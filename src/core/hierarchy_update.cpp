// The in-memory hierarchy updater (hierarchy_update.hpp): a working copy loaded from a build,
// the steps of a write shared with the stored hierarchy's writer (hierarchy_update_impl.hpp).
#include "core.hpp"

#include "hierarchy_update.hpp"

#include "hierarchy_update_impl.hpp"

#include "cluster_internal.hpp"
#include "cluster_items.hpp"
#include "hierarchy_items.hpp"
#include "hierarchy_levels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <new>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace geocluster {

using namespace cluster_internal;

struct HierarchyUpdater::Impl : hier_update::Impl {};

HierarchyUpdater::HierarchyUpdater() noexcept = default;
HierarchyUpdater::~HierarchyUpdater() = default;

namespace {
void* malloc_alloc(void*, std::size_t n) { return std::malloc(n); }
void malloc_release(void*, void* p) { std::free(p); }
const Allocator kMallocAlloc{&malloc_alloc, &malloc_release, nullptr, 0};
}  // namespace

Status HierarchyUpdater::init(double radius_px, int max_zoom) noexcept {
    if (!(std::isfinite(radius_px) && radius_px > 0.0)) return Status::RadiusInvalid;
    if (max_zoom < 0 || max_zoom > kHierMaxZoom) return Status::ZoomOutOfRange;
    try {
        impl_.reset(new Impl);
        impl_->set_params(radius_px, max_zoom);
    } catch (const std::bad_alloc&) {
        impl_.reset();
        return Status::OutOfMemory;
    }
    return Status::Ok;
}

Status HierarchyUpdater::build(const HierMarker* markers, const std::int64_t* partitions,
                               std::size_t n) noexcept {
    if (!impl_ || impl_->broken) return Status::Internal;
    const double radius_px = impl_->radius_px;
    const int max_zoom = impl_->max_zoom;
    try {
        std::map<std::int64_t, std::vector<HierMarker>> by_part;
        for (std::size_t i = 0; i < n; ++i) {
            const Status v = validate_lat_lon(markers[i].lat, markers[i].lon);
            if (v != Status::Ok) return v;
            by_part[partitions != nullptr ? partitions[i] : 0].push_back(markers[i]);
        }
        {
            std::vector<std::int64_t> ids;
            for (std::size_t i = 0; i < n; ++i) ids.push_back(markers[i].id);
            std::sort(ids.begin(), ids.end());
            if (std::adjacent_find(ids.begin(), ids.end()) != ids.end()) return Status::Internal;
        }
        impl_.reset(new Impl);
        impl_->set_params(radius_px, max_zoom);
        Impl& t = *impl_;
        for (auto& [part, ms] : by_part) {
            HierBuild b{nullptr, 0, nullptr, 0};
            const Status st =
                hierarchy_build(ms.data(), ms.size(), t.radius_px, t.max_zoom, t.next_ordinal,
                                kMallocAlloc, CancelCheck{nullptr, nullptr}, &b);
            if (st != Status::Ok) {
                t.broken = true;
                return st;
            }
            try {
                t.load(part, ms.data(), b);
            } catch (...) {
                hierarchy_free(kMallocAlloc, &b);
                throw;
            }
            hierarchy_free(kMallocAlloc, &b);
        }
    } catch (const std::bad_alloc&) {
        if (impl_) impl_->broken = true;
        return Status::OutOfMemory;
    }
    return Status::Ok;
}

Status HierarchyUpdater::apply(const HierWrite* writes, std::size_t n) noexcept {
    if (!impl_ || impl_->broken) return Status::Internal;
    Impl& s = *impl_;
    for (std::size_t i = 0; i < n; ++i)
        if (writes[i].kind != HierWriteKind::Erase) {
            const Status v = validate_lat_lon(writes[i].lat, writes[i].lon);
            if (v != Status::Ok) return v;
        }
    try {
        s.retired.clear();
        for (std::size_t i = 0; i < n; ++i) {
            const HierWrite& w = writes[i];
            s.detach(w.id);  // an insert of a present id is a move
            if (w.kind != HierWriteKind::Erase)
                s.attach(w.id, w.id, w.lat + 0.0, w.lon + 0.0, w.partition);
            ++s.stats.writes;
        }
        s.repair();
        std::sort(s.retired.begin(), s.retired.end());
    } catch (const std::bad_alloc&) {
        s.broken = true;
        return Status::OutOfMemory;
    } catch (Status st) {
        s.broken = true;
        return st;
    } catch (const std::exception&) {  // a broken invariant (std::out_of_range from at())
        s.broken = true;
        return Status::Internal;
    }
    return Status::Ok;
}

Status HierarchyUpdater::insert(std::int64_t id, double lat, double lon,
                                std::int64_t partition) noexcept {
    const HierWrite w{HierWriteKind::Insert, id, lat, lon, partition};
    return apply(&w, 1);
}

Status HierarchyUpdater::erase(std::int64_t id) noexcept {
    const HierWrite w{HierWriteKind::Erase, id, 0.0, 0.0, 0};
    return apply(&w, 1);
}

Status HierarchyUpdater::move(std::int64_t id, double lat, double lon,
                              std::int64_t partition) noexcept {
    const HierWrite w{HierWriteKind::Move, id, lat, lon, partition};
    return apply(&w, 1);
}

Status HierarchyUpdater::export_partition(std::int64_t partition, std::vector<HierNode>* out,
                                          std::vector<HierMarker>* markers,
                                          std::vector<std::int64_t>* leaf) const noexcept {
    if (!impl_ || impl_->broken) return Status::Internal;
    const Impl& s = *impl_;
    try {
        out->clear();
        markers->clear();
        leaf->clear();
        for (const auto& [id, n] : s.nodes) {
            if (n.partition != partition) continue;
            HierNode h;
            hier_node_of_item(n.item, &h);  // count, sums, centre and bounds as the build's
            h.cluster_id = id;
            h.parent_id = n.parent;
            h.zoom = s.zoom_of(id);
            h.expansion_zoom = n.expansion;
            out->push_back(h);
        }
        std::sort(out->begin(), out->end(), [](const HierNode& a, const HierNode& b) {
            return a.cluster_id < b.cluster_id;  // zoom first: it is the id's high bits
        });
        for (const auto& [id, m] : s.markers)
            if (m.partition == partition) markers->push_back(HierMarker{m.lat, m.lon, id});
        std::sort(markers->begin(), markers->end(),
                  [](const HierMarker& a, const HierMarker& b) { return a.id < b.id; });
        for (const HierMarker& m : *markers) leaf->push_back(s.markers.at(m.id).leaf);
    } catch (const std::bad_alloc&) {
        return Status::OutOfMemory;
    }
    return Status::Ok;
}

std::vector<std::int64_t> HierarchyUpdater::partitions() const {
    std::set<std::int64_t> p;
    for (const auto& [id, m] : impl_->markers) p.insert(m.partition);
    return std::vector<std::int64_t>(p.begin(), p.end());
}

std::size_t HierarchyUpdater::n_markers() const noexcept {
    return impl_ ? impl_->markers.size() : 0;
}

std::vector<std::size_t> HierarchyUpdater::nodes_per_zoom(std::int64_t partition) const {
    std::vector<std::size_t> per(static_cast<std::size_t>(impl_->max_zoom) + 1, 0);
    for (const auto& [id, n] : impl_->nodes)
        if (n.partition == partition) ++per[static_cast<std::size_t>(impl_->zoom_of(id))];
    return per;
}

const std::vector<std::int64_t>& HierarchyUpdater::last_retired() const noexcept {
    return impl_->retired;
}

const std::uint64_t* HierarchyUpdater::next_ordinal() const noexcept { return impl_->next_ordinal; }

HierUpdateStats HierarchyUpdater::stats() const noexcept { return impl_->stats; }

void HierarchyUpdater::test_skip_parent_merge(bool skip) noexcept {
    if (impl_) impl_->skip_parent_merge = skip;
}

}  // namespace geocluster
