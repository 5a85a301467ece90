#include "selftest.hpp"

#include <cstring>
#include <stdexcept>
#include <vector>

namespace geocluster {

bool selftest_kind_from_name(const char* name, SelftestKind* out, Status* status) noexcept {
    *status = Status::TestException;
    constexpr const char kPrefix[] = "status:";
    if (std::strncmp(name, kPrefix, sizeof(kPrefix) - 1) == 0) {
        const char* wanted = name + sizeof(kPrefix) - 1;
#define GEOCLUSTER_X(sname, cls, msg)       \
    if (std::strcmp(wanted, #sname) == 0) { \
        *out = SelftestKind::Status;        \
        *status = Status::sname;            \
        return true;                        \
    }
        GEOCLUSTER_STATUS_LIST(GEOCLUSTER_X)
#undef GEOCLUSTER_X
        return false;
    }
    static constexpr struct {
        const char* name;
        SelftestKind kind;
    } kKinds[] = {
        {"ok", SelftestKind::Ok},
        {"status", SelftestKind::Status},
        {"exception", SelftestKind::Exception},
        {"bad_alloc", SelftestKind::BadAlloc},
        {"huge_vector", SelftestKind::NestedVector},
    };
    for (const auto& k : kKinds) {
        if (std::strcmp(k.name, name) == 0) {
            *out = k.kind;
            return true;
        }
    }
    return false;
}

Status selftest_run(SelftestKind kind, Status status) {
    switch (kind) {
        case SelftestKind::Ok:
            return Status::Ok;
        case SelftestKind::Status:
            return status;
        case SelftestKind::Exception:
            throw std::runtime_error("selftest: exception thrown inside the core");
        case SelftestKind::BadAlloc:
            throw std::bad_alloc();
        case SelftestKind::NestedVector: {
            // A genuine library failure rather than a hand-written throw: std::vector refuses a
            // size beyond max_size() with std::length_error before touching memory.
            std::vector<std::uint64_t> v;
            v.reserve(v.max_size() + 1);
            return Status::Internal;
        }
    }
    return Status::Internal;
}

}  // namespace geocluster
