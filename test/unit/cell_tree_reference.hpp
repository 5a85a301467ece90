// Slow oracles for the cell tree (src/core/cell_tree.hpp), computed on the cells' text: a cell is
// its digit string, an ancestor is a prefix, code order is string order. Nothing here uses the
// bit layout beyond parse and format. No GoogleTest: the unit tests and the fuzz target share
// it, and the checks answer with the failures they found, as text.
#pragma once

#include "cell_tree.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace geocluster::testing {

template <typename Kind>
const std::string& ref_alphabet() {
    static const std::string a = Kind::kFanout == 4 ? "0123" : "0123456789bcdefghjkmnpqrstuvwxyz";
    return a;
}

template <typename Kind>
std::string ref_text(std::uint64_t c) {
    char buf[Kind::kTextBufSize];
    const std::size_t n = Kind::format(c, buf);
    return std::string(buf, n);
}

template <typename Kind>
std::uint64_t ref_code(const std::string& text) {
    std::uint64_t c = 0;
    if (Kind::parse(text.data(), text.size(), &c) != Status::Ok) std::abort();
    return c;
}

// a is b or an ancestor of b: a's text is a prefix of b's.
template <typename Kind>
bool ref_contains(std::uint64_t a, std::uint64_t b) {
    const std::string ta = ref_text<Kind>(a), tb = ref_text<Kind>(b);
    return tb.compare(0, ta.size(), ta) == 0 && ta.size() <= tb.size();
}

template <typename Kind>
std::uint64_t ref_common_ancestor(std::uint64_t a, std::uint64_t b) {
    const std::string ta = ref_text<Kind>(a), tb = ref_text<Kind>(b);
    std::size_t n = 0;
    while (n < ta.size() && n < tb.size() && ta[n] == tb[n]) ++n;
    return ref_code<Kind>(ta.substr(0, n));
}

template <typename Kind>
bool ref_ancestor_in_range(std::uint64_t c, std::uint64_t lo, std::uint64_t hi) {
    const std::string t = ref_text<Kind>(c);
    for (std::size_t n = 0; n <= t.size(); ++n) {
        const std::uint64_t a = ref_code<Kind>(t.substr(0, n));
        if (lo <= a && a <= hi) return true;
    }
    return false;
}

// The largest descendant: the text padded with the largest digit to the deepest level.
template <typename Kind>
std::uint64_t ref_range_max(std::uint64_t c) {
    std::string t = ref_text<Kind>(c);
    t.resize(static_cast<std::size_t>(Kind::kMaxLevel), ref_alphabet<Kind>().back());
    return ref_code<Kind>(t);
}

// The smallest text after every extension of c's text: drop the trailing largest digits and
// step the last digit left up by one. None when every digit is the largest.
template <typename Kind>
bool ref_next_after_subtree(std::uint64_t c, std::uint64_t* next) {
    const std::string& a = ref_alphabet<Kind>();
    std::string t = ref_text<Kind>(c);
    while (!t.empty() && t.back() == a.back()) t.pop_back();
    if (t.empty()) return false;
    t.back() = a[a.find(t.back()) + 1];
    *next = ref_code<Kind>(t);
    return true;
}

// The next cell of the same level, the text read as a base-fanout number plus one; none after
// the last.
template <typename Kind>
bool ref_same_level_successor(std::uint64_t c, std::uint64_t* next) {
    const std::string& a = ref_alphabet<Kind>();
    std::string t = ref_text<Kind>(c);
    for (std::size_t i = t.size(); i-- > 0;) {
        if (t[i] != a.back()) {
            t[i] = a[a.find(t[i]) + 1];
            *next = ref_code<Kind>(t);
            return true;
        }
        t[i] = a[0];
    }
    return false;
}

template <typename Kind>
bool ref_covered(const std::vector<std::uint64_t>& cells, std::uint64_t v) {
    for (std::uint64_t c : cells) {
        if (ref_contains<Kind>(c, v)) return true;
    }
    return false;
}

inline bool in_ranges(const CodeRange* r, std::size_t k, std::uint64_t v) {
    for (std::size_t i = 0; i < k; ++i) {
        if (r[i].lo <= v && v <= r[i].hi) return true;
    }
    return false;
}

inline std::string hex(std::uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// Checks exact_intervals' answer r[0 .. k) for the cells: ascending and disjoint; each range
// starts at a cell and ends at a cell's range_max; a code is in a range exactly when a cell
// contains it (on the cells, their ends, the codes right after them, their ancestors and the
// extra probes); and no two ranges could be one (the code right after a range is not covered).
template <typename Kind>
std::string check_exact_intervals(const std::vector<std::uint64_t>& cells, const CodeRange* r,
                                  std::size_t k, const std::vector<std::uint64_t>& probes) {
    if (cells.empty() != (k == 0)) return "empty input and empty output differ";
    for (std::size_t i = 0; i < k; ++i) {
        if (r[i].lo > r[i].hi) return "range " + std::to_string(i) + " is reversed";
        if (i + 1 < k && r[i].hi >= r[i + 1].lo)
            return "ranges " + std::to_string(i) + " overlap or touch";
        if (std::find(cells.begin(), cells.end(), r[i].lo) == cells.end())
            return "range starts at no cell";
        bool ends_at_cell = false;
        for (std::uint64_t c : cells)
            ends_at_cell = ends_at_cell || ref_range_max<Kind>(c) == r[i].hi;
        if (!ends_at_cell) return "range ends at no cell's range_max";
        std::uint64_t after = 0;
        if (i + 1 < k &&
            (!ref_next_after_subtree<Kind>(r[i].hi, &after) || ref_covered<Kind>(cells, after))) {
            return "ranges " + std::to_string(i) + " and " + std::to_string(i + 1) +
                   " could be one";
        }
    }
    std::vector<std::uint64_t> all = probes;
    for (std::uint64_t c : cells) {
        all.push_back(c);
        all.push_back(ref_range_max<Kind>(c));
        std::uint64_t next = 0;
        if (ref_next_after_subtree<Kind>(c, &next)) all.push_back(next);
        const std::string t = ref_text<Kind>(c);
        for (std::size_t n = 0; n < t.size(); ++n) all.push_back(ref_code<Kind>(t.substr(0, n)));
    }
    for (std::uint64_t v : all) {
        if (in_ranges(r, k, v) != ref_covered<Kind>(cells, v))
            return "code " + hex(v) + " is misplaced";
    }
    return "";
}

// merge_sorted_subtrees with SubtreeJoin::SameLevel, by the text: a cell inside the current
// range is skipped, the same-level successor of the last cell kept extends it.
template <typename Kind>
std::vector<CodeRange> ref_same_level_ranges(const std::vector<std::uint64_t>& sorted) {
    std::vector<CodeRange> out;
    std::uint64_t prev = 0;
    for (std::uint64_t c : sorted) {
        if (!out.empty() && c <= out.back().hi) continue;
        std::uint64_t succ = 0;
        if (!out.empty() && ref_same_level_successor<Kind>(prev, &succ) && succ == c) {
            out.back().hi = ref_range_max<Kind>(c);
        } else {
            out.push_back(CodeRange{c, ref_range_max<Kind>(c)});
        }
        prev = c;
    }
    return out;
}

// coarsen_ranges by its definition: merge the need = k - target gaps that come first when the
// gaps are ordered by size, then by position.
inline std::vector<CodeRange> ref_coarsen(const std::vector<CodeRange>& in, std::size_t target) {
    if (in.size() <= target || target == 0) return in;
    std::vector<std::pair<std::uint64_t, std::size_t>> gaps;
    for (std::size_t i = 0; i + 1 < in.size(); ++i) gaps.emplace_back(in[i + 1].lo - in[i].hi, i);
    std::sort(gaps.begin(), gaps.end());
    std::vector<bool> merge(in.size(), false);
    for (std::size_t j = 0; j < in.size() - target; ++j) merge[gaps[j].second] = true;
    std::vector<CodeRange> out{in[0]};
    for (std::size_t i = 0; i + 1 < in.size(); ++i) {
        if (merge[i]) {
            out.back().hi = in[i + 1].hi;
        } else {
            out.push_back(in[i + 1]);
        }
    }
    return out;
}

}  // namespace geocluster::testing
