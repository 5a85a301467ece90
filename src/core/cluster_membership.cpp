// Cluster membership tables: format and reasons in cluster_membership.hpp.
#include "cluster_membership.hpp"

#include <cmath>
#include <cstring>
#include <limits>

namespace geocluster {

namespace {

constexpr std::uint8_t kMagic[3] = {'g', 'c', 'm'};
constexpr std::uint8_t kVersion = 1;

void put_u32(std::uint8_t* p, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
void put_u64(std::uint8_t* p, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
std::uint32_t get_u32(const std::uint8_t* p) noexcept {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
    return v;
}
std::uint64_t get_u64(const std::uint8_t* p) noexcept {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

bool key_less(std::uint64_t ax, std::uint64_t ay, std::uint64_t bx, std::uint64_t by) noexcept {
    return ax != bx ? ax < bx : ay < by;
}

}  // namespace

std::size_t membership_size(std::size_t n_bins) noexcept {
    if (n_bins > std::numeric_limits<std::uint32_t>::max()) return SIZE_MAX;
    return kMembershipHeaderBytes + n_bins * kMembershipEntryBytes;
}

Status membership_write(int zoom, double radius_px, const ClusterBinAssignment* assign,
                        std::size_t n_bins, std::size_t n_clusters, std::uint8_t* out,
                        std::size_t len) noexcept {
    // The SQL side returns 1-based int4 positions.
    if (membership_size(n_bins) != len || n_clusters > n_bins ||
        n_clusters > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
        return Status::Internal;
    std::memcpy(out, kMagic, sizeof(kMagic));
    out[3] = kVersion;
    put_u32(out + 4, static_cast<std::uint32_t>(zoom));
    std::uint64_t radius_bits = 0;
    std::memcpy(&radius_bits, &radius_px, sizeof(radius_bits));
    put_u64(out + 8, radius_bits);
    put_u32(out + 16, static_cast<std::uint32_t>(n_clusters));
    put_u32(out + 20, static_cast<std::uint32_t>(n_bins));
    std::uint8_t* e = out + kMembershipHeaderBytes;
    for (std::size_t i = 0; i < n_bins; ++i, e += kMembershipEntryBytes) {
        const ClusterBinAssignment& a = assign[i];
        if (a.cluster >= n_clusters) return Status::Internal;
        if (i > 0 && !key_less(assign[i - 1].key.kx, assign[i - 1].key.ky, a.key.kx, a.key.ky))
            return Status::Internal;
        put_u64(e, a.key.kx);
        put_u64(e + 8, a.key.ky);
        put_u32(e + 16, static_cast<std::uint32_t>(a.cluster));
    }
    return Status::Ok;
}

Status membership_view(const std::uint8_t* bytes, std::size_t len, MembershipView* out) noexcept {
    if (len < 4 || std::memcmp(bytes, kMagic, sizeof(kMagic)) != 0 || bytes[3] != kVersion)
        return Status::StateBadVersion;
    if (len < kMembershipHeaderBytes) return Status::StateCorrupt;
    const std::uint32_t zoom = get_u32(bytes + 4);
    const std::uint64_t radius_bits = get_u64(bytes + 8);
    double radius_px = 0;
    std::memcpy(&radius_px, &radius_bits, sizeof(radius_px));
    const std::uint32_t n_clusters = get_u32(bytes + 16);
    const std::uint32_t n_bins = get_u32(bytes + 20);
    if (zoom > 29 || !(std::isfinite(radius_px) && radius_px > 0.0) || n_clusters > n_bins ||
        n_clusters > static_cast<std::uint32_t>(std::numeric_limits<std::int32_t>::max()) ||
        len != membership_size(n_bins))
        return Status::StateCorrupt;
    *out = MembershipView{bytes + kMembershipHeaderBytes, n_bins, n_clusters,
                          static_cast<int>(zoom), radius_px};
    return Status::Ok;
}

Status membership_find(const MembershipView& view, ClusterBinKey key,
                       std::uint32_t* ordinal) noexcept {
    *ordinal = 0;
    std::size_t lo = 0, hi = view.n_bins;  // the key, if present, is in [lo, hi)
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo) / 2;
        const std::uint8_t* e = view.entries + mid * kMembershipEntryBytes;
        const std::uint64_t kx = get_u64(e), ky = get_u64(e + 8);
        if (key_less(kx, ky, key.kx, key.ky)) {
            lo = mid + 1;
        } else if (key_less(key.kx, key.ky, kx, ky)) {
            hi = mid;
        } else {
            const std::uint32_t cluster = get_u32(e + 16);
            if (cluster >= view.n_clusters) return Status::StateCorrupt;
            *ordinal = cluster + 1;
            return Status::Ok;
        }
    }
    return Status::Ok;
}

}  // namespace geocluster
