#!/usr/bin/python3
"""The boxes of the viewports bench/run draws (harness.runner.draw_viewports, the same seed and
kinds), from a markers_gen file instead of the bench table, one per line for hierarchy_bench's
--replay:  zoom south north west1 east1 west2 east2  (west2 > east2: no second part).

    /usr/bin/python3 bench/micro/viewport_boxes.py --markers m1.txt [--count 20] [--seed 1] > boxes.txt
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import runner  # noqa: E402


class Rows:
    """Answers the three queries draw_viewports sends, from the markers in memory."""

    def __init__(self, path):
        self.rows = {}
        with open(path) as f:
            for line in f:
                p = line.split("\t")
                self.rows[int(p[0])] = (int(p[0]), float(p[1]), float(p[2]))
        self.result = []

    def cursor(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def execute(self, sql, params=None):
        rows = self.rows.values()
        if "179.5" in sql:
            near = [r for r in rows if r[2] > 179.5 or r[2] < -179.5]
            self.result = sorted(near, key=lambda r: (180 - abs(r[2]), r[0]))[:20]
        elif ">= 70" in sql:
            self.result = sorted(r for r in rows if r[1] >= 70 or r[1] <= -70)[:1000]
        elif re.search(r"id = ANY", sql):
            self.result = [self.rows[i] for i in params[0] if i in self.rows]
        else:
            raise ValueError(sql)

    def fetchall(self):
        return self.result


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--markers", required=True)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--zooms", default="0,3,6,9,12,15")
    a = p.parse_args()
    conn = Rows(a.markers)
    zooms = [int(z) for z in a.zooms.split(",")]
    vps = runner.draw_viewports(conn, "markers", len(conn.rows), zooms, a.count, a.seed)
    for z in zooms:
        for vp in vps[z]:
            parts = list(vp.lon_ranges) + [(1.0, -1.0)]
            (w1, e1), (w2, e2) = parts[0], parts[1]
            print(f"{z} {vp.lat_min!r} {vp.lat_max!r} {w1!r} {e1!r} {w2!r} {e2!r}")


if __name__ == "__main__":
    main()
