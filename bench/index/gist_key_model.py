#!/usr/bin/env python3
"""Which GiST key for cells: the code range [lo, hi] of a subtree, or its common ancestor?

A model of the two trees, built the way the sorted GiST build builds them (pages filled in code
order), counting the pages a `col <@ X` scan visits with each key. Both keys are exact; the
question is how many inner pages each lets the scan skip.

  bench/index/gist_key_model.py [FILE]   FILE: one the bigint quadkey schema bigint quadkey (zoom 23) per line;
                                          without it, 1M codes from the benchmark's generator
                                          (bench/gen/markers_gen, seed 1) are used.

A page of the range-key tree is visited when its [lo, hi] meets [X, range_end(X)]; a page of the
common-ancestor tree when its ancestor A and X overlap (one contains the other). Leaf pages hold
LEAF entries, inner pages FANOUT children (16-byte keys: about 8192 / 28 per page, 90% full).
"""

import os
import random
import subprocess
import sys

LEAF = 260
FANOUT = 260
LEVEL_BITS = 5
ZOOM = 23


def code_of(big):  # the bigint quadkey schema bigint at zoom 23 -> geocluster quadkey code
    return (big << (63 - 2 * ZOOM)) | ZOOM


def level(c):
    return c & 31


def prefix_mask(l):
    if l == 0:
        return 0
    return ((1 << 62) - 1) << 1 & ~((1 << (63 - 2 * l)) - 1) & ~31


def ancestor(c, l):
    return (c & prefix_mask(l)) | l


def range_end(c):
    l = level(c)
    digits = ((1 << 63) - 1) & ~31
    return (c & prefix_mask(l)) | (digits & ~prefix_mask(l)) | 29


def contains(a, b):
    la = level(a)
    return la <= level(b) and ((a ^ b) & prefix_mask(la)) == 0


def common_ancestor(a, b):
    l = min(level(a), level(b))
    while l > 0 and ancestor(a, l) != ancestor(b, l):
        l -= 1
    return ancestor(a, l)


def build(codes):
    """Levels of nodes, leaves first: each node is (lo, hi, first_child, last_child)."""
    levels = [[(codes[i], codes[min(i + LEAF, len(codes)) - 1], i, min(i + LEAF, len(codes)))
               for i in range(0, len(codes), LEAF)]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([(below[i][0], below[min(i + FANOUT, len(below)) - 1][1], i, min(i + FANOUT, len(below)))
                       for i in range(0, len(below), FANOUT)])
    return levels


def visits(levels, x, use_range):
    lo_x, hi_x = x, range_end(x)

    def hit(node):
        if use_range:
            return node[0] <= hi_x and node[1] >= lo_x
        a = common_ancestor(node[0], node[1])
        return contains(a, x) or contains(x, a)

    count = 0
    frontier = [len(levels[-1]) - 1] if levels[-1] else []
    for depth in range(len(levels) - 1, -1, -1):
        nodes = levels[depth]
        nxt = []
        for i in frontier:
            if hit(nodes[i]):
                count += 1
                if depth > 0:
                    nxt.extend(range(nodes[i][2], nodes[i][3]))
        frontier = nxt
    return count


def main():
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            bigs = [int(line) for line in f if line.strip()]
    else:
        here = os.path.dirname(os.path.abspath(__file__))
        gen = os.path.join(here, "..", "build", "markers_gen")
        out = subprocess.run([gen, "--seed", "1", "--first", "1", "--last", "1000000"],
                             capture_output=True, text=True, check=True).stdout
        bigs = [int(line.split("\t")[4]) for line in out.splitlines()]
    codes = sorted(code_of(b) for b in bigs)
    levels = build(codes)
    rng = random.Random(1)
    print(f"{len(codes)} codes, {len(levels)} tree levels, {len(levels[0])} leaf pages")
    print("level | pages visited: range key | common-ancestor key | ratio")
    for l in range(2, 18, 2):
        qs = [ancestor(codes[rng.randrange(len(codes))], l) for _ in range(200)]
        r = sum(visits(levels, x, True) for x in qs) / len(qs)
        a = sum(visits(levels, x, False) for x in qs) / len(qs)
        print(f"{l:5d} | {r:24.1f} | {a:19.1f} | {a / r:5.2f}")


if __name__ == "__main__":
    main()
