"""What web maps send, as geocluster's functions take it: map_bbox() and map_zoom().

Leaflet's map.getBounds().toBBoxString() gives "west,south,east,north" in the map's own
continuous longitudes: beyond ±180 once the world repeats (at zoom 1, "-215.156,...,234.84,...")
and never west > east: a view across the antimeridian is "150.86,...,207.11,...". MapLibre GL
sends fractional zooms ("11.5"). geocluster's functions take longitudes in [-180, 180], west >
east for a box across the antimeridian, and whole zoom levels.
"""
import math


def map_bbox(bbox):
    """(west, south, east, north) as floats, normalised the way a map library means them:

    - a span east - west of 360 degrees or more is the whole world, (-180, 180);
    - otherwise each longitude outside [-180, 180] is wrapped into it (west into [-180, 180),
      east into (-180, 180]; one inside is kept as it is, bit for bit, so that a cluster's exact
      bounds stay exact), and a west > east result is a box across the antimeridian;
    - latitudes are clamped to [-90, 90], not to Web Mercator's ±85.0511: a map at its top or
      bottom edge shows the markers stored beyond that latitude on its edge row, so the box keeps
      them.

    bbox is any 4 items that float() takes (a split "west,south,east,north" string, numbers).
    ValueError for anything else, for NaN or infinite values, and for south > north."""
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValueError(f'bbox must be (west, south, east, north), got {bbox!r}') from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise ValueError(f'bbox values must be finite numbers, got {bbox!r}')
    if south > north:
        raise ValueError(f'bbox needs south <= north, got {bbox!r}')
    south, north = max(-90.0, south), min(90.0, north)
    if south > north:  # both beyond one pole
        raise ValueError(f'bbox lies beyond a pole, got {bbox!r}')
    if east - west >= 360.0:
        return -180.0, south, 180.0, north
    if not -180.0 <= west <= 180.0:
        west = (west + 180.0) % 360.0 - 180.0
    if not -180.0 <= east <= 180.0:
        east = 180.0 - (180.0 - east) % 360.0
    return west, south, east, north


def map_zoom(zoom, max_zoom=29):
    """The whole zoom level of a map's zoom, an int in 0..max_zoom: fractional zooms (MapLibre,
    "11.5") are floored, as a map shows zoom 11.5 with zoom 11's tiles scaled up. zoom may be a
    number or its text. ValueError for anything else, NaN, and values outside 0..max_zoom + 1."""
    if isinstance(zoom, bool):
        raise ValueError(f'zoom must be a number, got {zoom!r}')
    try:
        value = float(zoom)
    except (TypeError, ValueError):
        raise ValueError(f'zoom must be a number, got {zoom!r}') from None
    if not 0 <= value < max_zoom + 1:  # also False for NaN
        raise ValueError(f'zoom must be in 0..{max_zoom}, got {zoom!r}')
    return int(math.floor(value))
