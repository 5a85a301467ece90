// Item arithmetic (cluster_items.hpp): adding items, and an item's output row.
#include "cluster_finalize_internal.hpp"
#include "mercator.hpp"

namespace geocluster {
namespace cluster_internal {

using namespace finalize;

void item_clusters_free(const Allocator& alloc, ItemClusters* c) noexcept {
    if (c->items != nullptr) alloc.release(alloc.ctx, c->items);
    if (c->cluster_of_input != nullptr) alloc.release(alloc.ctx, c->cluster_of_input);
    *c = ItemClusters{nullptr, 0, nullptr, 0};
}

void item_lon_bounds(const Item& it, double* min_lon, double* max_lon) noexcept {
    if (crosses(it)) {
        *min_lon = it.min_lon_e;
        *max_lon = it.max_lon_w;
    } else {
        *min_lon = it.count_w > 0 ? it.min_lon_w : it.min_lon_e;
        *max_lon = it.count_w < it.count ? it.max_lon_e : it.max_lon_w;
    }
}

void cluster_of_item(const Item& it, Cluster* o) noexcept {
    Centre c;
    centre_of(it, &c);
    const long double one = static_cast<long double>(kFixedOneD);
    const long double count = static_cast<long double>(it.count);
    const long double ux =
        (static_cast<long double>(c.qx) + static_cast<long double>(c.rx) / count) / one;
    const long double uy =
        (static_cast<long double>(c.qy) + static_cast<long double>(c.ry) / count) / one;
    o->count = static_cast<std::int64_t>(it.count);
    o->lon = static_cast<double>(ux * 360.0L - 180.0L);
    o->lat = mercator_lat_precise(1.0L - 2.0L * uy);
    o->min_lat = it.min_lat;
    o->max_lat = it.max_lat;
    item_lon_bounds(it, &o->min_lon, &o->max_lon);
    o->has_id = it.has_id != 0;
    o->id = o->has_id ? it.min_id : 0;
}

}  // namespace cluster_internal
}  // namespace geocluster
