"""Viewports of the workload, and the tile math the approaches share.

Pixels are world pixels at a zoom with 256 px tiles (x grows east from lon -180, y grows south from
the top edge at lat +85.0511), as in src/core/mercator.hpp. A viewport is 1280x800 px around a
centre drawn from the data; its latitude bounds open up to the pole when it touches the top or the
bottom of the world, because a tiled map draws everything beyond the Mercator limit in the edge
row. Across the antimeridian it has two longitude ranges.
"""

import math
from dataclasses import dataclass, field

TILE_PX = 256
MERCATOR_MAX_LAT = 85.05112878  # Bing's clamp: see src/core/mercator.hpp
VIEW_W_PX, VIEW_H_PX = 1280, 800
CLUSTER_PX = 60  # cluster size (and overlap distance) at 256 px tiles
QUADKEY_ZOOM = 23  # the bigint quadkey schema stores quadkeys at zoom 23
EARTH_CIRCUMFERENCE_M = 2 * math.pi * 6378137.0  # EPSG:3857 world width in metres


def world_px(zoom):
    return TILE_PX * (1 << zoom)


def lon_to_x(lon, zoom):
    return (lon + 180.0) / 360.0 * world_px(zoom)


def lat_to_y(lat, zoom):
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    return (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * world_px(zoom)


def x_to_lon(x, zoom):
    return x / world_px(zoom) * 360.0 - 180.0


def y_to_lat(y, zoom):
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / world_px(zoom)))))


# --- the parameters each approach derives from the zoom -------------------------------------------

def geohash_precision(zoom, gmin=1, gmax=12, zmin=0, zmax=17):
    """the geohash-prefix GROUP BY's exponential fit y = a * e^(b * zoom) through (zmin, gmin) and (zmax, gmax),
    clamped to [gmin, gmax] and truncated to an integer, as the seed's example code does
    ((int) Math.max(gmin, Math.min(a * Math.exp(b * zoom), gmax)))."""
    b = math.log(gmax / gmin) / (zmax - zmin)
    a = gmin / math.exp(b * zmin)
    return int(max(gmin, min(a * math.exp(b * zoom), gmax)))


def quadkey_level(zoom):
    """the bigint quadkey schema groups by a deeper tile level; zoom + 2 gives 64 px cells, the nearest to 60 px."""
    return zoom + 2


def grid_degrees(zoom):
    """PostGIS grid: a cell of CLUSTER_PX pixels, in degrees of longitude."""
    return CLUSTER_PX * 360.0 / world_px(zoom)


def dbscan_eps_m(zoom):
    """PostGIS DBSCAN: CLUSTER_PX pixels in EPSG:3857 metres (what a pixel covers at the equator;
    Mercator metres scale with the pixels, so this is 60 px at every latitude)."""
    return CLUSTER_PX * EARTH_CIRCUMFERENCE_M / world_px(zoom)


# --- the bigint quadkey schema's tile math (TileSystem.php), as the generator computes it ---------------------------

def _pixel23(v):
    map_size = float(TILE_PX << QUADKEY_ZOOM)
    return int(min(max(v * map_size + 0.5, 0.0), map_size - 1.0))


def tile_x(lon, level):
    return _pixel23((lon + 180.0) / 360.0) >> (8 + QUADKEY_ZOOM - level)


def tile_y(lat, level):
    lat = max(-MERCATOR_MAX_LAT, min(MERCATOR_MAX_LAT, lat))
    s = math.sin(math.radians(lat))
    return _pixel23(0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) >> (8 + QUADKEY_ZOOM - level)


def quadkey_of_tile(tx, ty, level):
    """Base-4 digits (x bit + 2 * y bit, most significant first) read as an integer."""
    q = 0
    for i in range(level - 1, -1, -1):
        q = (q << 2) | ((tx >> i) & 1) | (((ty >> i) & 1) << 1)
    return q


# --- viewports -----------------------------------------------------------------------------------

@dataclass
class Viewport:
    zoom: int
    kind: str  # "random", "antimeridian" or "polar": how the centre was drawn
    centre_id: int  # the marker the centre was drawn from
    cx: float  # centre in world pixels
    cy: float
    lat_min: float = field(init=False)
    lat_max: float = field(init=False)
    lon_ranges: list = field(init=False)  # [(west, east)], two when crossing the antimeridian

    def __post_init__(self):
        w = world_px(self.zoom)
        x0, x1 = self.cx - VIEW_W_PX / 2, self.cx + VIEW_W_PX / 2
        y0, y1 = self.cy - VIEW_H_PX / 2, self.cy + VIEW_H_PX / 2
        self.lat_max = 90.0 if y0 <= 0 else y_to_lat(y0, self.zoom)
        self.lat_min = -90.0 if y1 >= w else y_to_lat(y1, self.zoom)
        if x1 - x0 >= w:
            self.lon_ranges = [(-180.0, 180.0)]
        elif x0 < 0:
            self.lon_ranges = [(x_to_lon(x0 + w, self.zoom), 180.0), (-180.0, x_to_lon(x1, self.zoom))]
        elif x1 > w:
            self.lon_ranges = [(x_to_lon(x0, self.zoom), 180.0), (-180.0, x_to_lon(x1 - w, self.zoom))]
        else:
            self.lon_ranges = [(x_to_lon(x0, self.zoom), x_to_lon(x1, self.zoom))]

    @property
    def crosses_antimeridian(self):
        return len(self.lon_ranges) == 2

    def as_dict(self):
        return {"zoom": self.zoom, "kind": self.kind, "centre_id": self.centre_id,
                "cx": self.cx, "cy": self.cy, "lat_min": self.lat_min, "lat_max": self.lat_max,
                "lon_ranges": self.lon_ranges}


def viewport_around(zoom, kind, centre_id, lat, lon, cross_antimeridian=False):
    """The viewport centred on a marker, kept inside the world vertically as a map client does.
    With cross_antimeridian, the centre moves east or west (never so far that the marker leaves
    the viewport) until the antimeridian is at least 1/8 of the width inside."""
    w = world_px(zoom)
    cx, cy = lon_to_x(lon, zoom), lat_to_y(lat, zoom)
    if w > VIEW_H_PX:
        cy = min(max(cy, VIEW_H_PX / 2), w - VIEW_H_PX / 2)
    if cross_antimeridian and w > VIEW_W_PX:
        half, inside, marker_x = VIEW_W_PX / 2, VIEW_W_PX / 8, cx
        if cx > w / 2:  # east of the map: push the right edge past x = w
            cx = min(max(cx, w + inside - half), marker_x + half)
        else:  # west: pull the left edge below x = 0
            cx = max(min(cx, half - inside), marker_x - half)
    return Viewport(zoom, kind, centre_id, cx, cy)


def quadkey_cover(vp, level):
    """the bigint quadkey schema's tiles for a viewport: every level-`level` cell that the viewport touches, as
    merged [lo, hi] ranges of zoom-23 quadkeys (a cell is the contiguous range of its
    descendants). Cells are found with the same tile math that stored the quadkeys, so every
    stored point inside the viewport falls in one of them."""
    shift = 2 * (QUADKEY_ZOOM - level)
    ty0, ty1 = tile_y(vp.lat_max, level), tile_y(vp.lat_min, level)
    columns = []
    for west, east in vp.lon_ranges:
        columns.extend(range(tile_x(west, level), tile_x(east, level) + 1))
    cells = sorted({quadkey_of_tile(tx, ty, level) for tx in columns for ty in range(ty0, ty1 + 1)})
    ranges = []
    for q in cells:
        if ranges and ranges[-1][1] == q - 1:
            ranges[-1][1] = q
        else:
            ranges.append([q, q])
    return [(lo << shift, ((hi + 1) << shift) - 1) for lo, hi in ranges]


# --- overlap ---------------------------------------------------------------------------------------

def overlapping_share(centres, zoom, radius_px=CLUSTER_PX):
    """Share of cluster centres (lat, lon) with another centre closer than radius_px, in world
    pixels at the zoom, the distance wrapping across the antimeridian: markers drawn that close
    overlap on screen (the flaw grid (square) clustering describes). Returns (overlapping, total)."""
    w = world_px(zoom)
    pts = [(lon_to_x(lon, zoom) % w, lat_to_y(lat, zoom)) for lat, lon in centres]
    # Buckets at least radius_px wide that tile the world width exactly, so the 3x3 neighbourhood
    # of a bucket (wrapping in x) holds every centre within radius_px.
    columns = max(1, int(w // radius_px))
    size = w / columns
    buckets = {}
    for i, (x, y) in enumerate(pts):
        buckets.setdefault((int(x // size) % columns, int(y // size)), []).append(i)
    r2 = radius_px * radius_px
    overlapping = 0
    for i, (x, y) in enumerate(pts):
        bx, by = int(x // size) % columns, int(y // size)
        near = {((bx + dx) % columns, by + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
        overlapping += any(_closer(pts[i], pts[j], w, r2)
                           for key in near for j in buckets.get(key, ()) if j != i)
    return overlapping, len(pts)


def _closer(a, b, w, r2):
    dx = abs(a[0] - b[0])
    dx = min(dx, w - dx)
    dy = a[1] - b[1]
    return dx * dx + dy * dy < r2
