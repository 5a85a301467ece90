// The exact answer of an index operator on two cells, shared by the GiST and SP-GiST operator
// classes (opclass_gist.cpp, opclass_spgist.cpp). The cell tree itself (traits, ancestors,
// intervals) is pure and lives in src/core/cell_tree.hpp.
#pragma once

#include "glue.hpp"

extern "C" {
#include "access/stratnum.h"
}

#include "cell_tree.hpp"

namespace geocluster::pg {

// The exact answer of an operator for a stored cell v and a query cell x, by its strategy
// number (the GiST leaf test and the SP-GiST leaf test alike).
template <typename Kind>
bool cell_matches(std::uint64_t v, std::uint64_t x, StrategyNumber strategy) noexcept {
    switch (strategy) {
        case RTOverlapStrategyNumber:
            return Kind::contains(v, x) || Kind::contains(x, v);
        case RTContainsStrategyNumber:
            return Kind::contains(v, x);
        case RTContainedByStrategyNumber:
            return Kind::contains(x, v);
        case RTEqualStrategyNumber:
            return v == x;
        case RTLessStrategyNumber:
            return v < x;
        case RTLessEqualStrategyNumber:
            return v <= x;
        case RTGreaterStrategyNumber:
            return v > x;
        case RTGreaterEqualStrategyNumber:
            return v >= x;
        default:
            return false;
    }
}

}  // namespace geocluster::pg
