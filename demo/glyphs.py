"""Label glyphs for the demo map, made here so the page needs no font download.

MapLibre draws a symbol layer's text from signed-distance-field glyphs in protobuf files, fetched
by Unicode range from the style's `glyphs` URL. No npm package ships such files for offline use,
and the labels only ever show point_count_abbreviated: digits, "k" and ".". So this module draws
those characters as strokes and encodes them in MapLibre's glyph format (fields: see
encode_range); every other character is absent and MapLibre leaves it out.
"""

import math

# Glyph metrics follow MapLibre's fonts: 24 px to the em, a 3 px border of distance field around
# each bitmap, and a distance of 8 px across the field's 0..255 range with the edge at 192.
FIELD_BORDER_PX = 3
FIELD_RADIUS_PX = 8.0
FIELD_CUTOFF = 0.25
STROKE_HALF_WIDTH_PX = 1.5
DIGIT_HEIGHT_PX = 17
# MapLibre places a glyph's top edge `top` px below the line's reference, which sits 17 px above
# the baseline of a 24 px font; fonts made from TrueType files give about -7 for digits.
GLYPH_TOP_PX = -7


def _arc(cx, cy, rx, ry, from_deg, to_deg, steps=16):
    return [(cx + rx * math.cos(math.radians(from_deg + (to_deg - from_deg) * i / steps)),
             cy + ry * math.sin(math.radians(from_deg + (to_deg - from_deg) * i / steps)))
            for i in range(steps + 1)]


# Strokes (polylines, x right and y up from the baseline, in px) of each character: a plain
# sans-serif drawn by hand, 10 px wide and DIGIT_HEIGHT_PX tall.
STROKES = {
    "0": [_arc(5, 8.5, 4.5, 8.5, 0, 360, 32)],
    "1": [[(1.5, 13.5), (5.5, 17), (5.5, 0)]],
    "2": [_arc(5, 12.5, 4.5, 4.5, 160, -40) + [(0.5, 0), (9.5, 0)]],
    "3": [_arc(5, 12.9, 4.1, 4.1, 150, -90), _arc(5, 4.4, 4.6, 4.4, 90, -150)],
    "4": [[(7.5, 0), (7.5, 17), (0.5, 5), (10, 5)]],
    "5": [[(9, 17), (1.5, 17), (1, 9.5)] + _arc(5, 5.2, 4.6, 5.2, 125, -145)],
    "6": [[(8.5, 16), (6, 17), (3.5, 16.5), (1.5, 14), (0.5, 9), (0.6, 5)], _arc(5, 5, 4.5, 5, 0, 360, 32)],
    "7": [[(0.5, 17), (9.5, 17), (3.5, 0)]],
    "8": [_arc(5, 13, 4, 4, 0, 360, 32), _arc(5, 4.5, 4.6, 4.5, 0, 360, 32)],
    "9": [_arc(5, 12, 4.5, 5, 0, 360, 32), [(9.5, 12), (9.4, 8), (8.5, 3), (6.5, 0.3), (4, 0), (1.5, 1)]],
    "k": [[(1, 17), (1, 0)], [(8.5, 11), (1, 3.5)], [(3.8, 6.2), (9, 0)]],
    ".": [[(1.5, 0.8), (1.5, 1.2)]],
}
ADVANCE_PX = {".": 5, " ": 6}   # others: 13
BOX_WIDTH_PX = {".": 3, "k": 10}  # others: 10


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def _bitmap(strokes, width, height):
    """The distance field, row by row from the top, of (width + 2 border) x (height + 2 border)."""
    segments = [(a, b) for line in strokes for a, b in zip(line, line[1:])]
    out = bytearray()
    for row in range(height + 2 * FIELD_BORDER_PX):
        y = height + FIELD_BORDER_PX - row - 0.5
        for col in range(width + 2 * FIELD_BORDER_PX):
            x = col - FIELD_BORDER_PX + 0.5
            d = min(_segment_distance(x, y, ax, ay, bx, by) for (ax, ay), (bx, by) in segments)
            signed_px = d - STROKE_HALF_WIDTH_PX
            value = 255 - 255 * (signed_px / FIELD_RADIUS_PX + FIELD_CUTOFF)
            out.append(max(0, min(255, int(round(value)))))
    return bytes(out)


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number, wire_type, payload):
    return _varint((number << 3) | wire_type) + payload


def _uint(number, n):
    return _field(number, 0, _varint(n))


def _sint(number, n):
    return _field(number, 0, _varint((n << 1) ^ (n >> 31)))   # zigzag, as protobuf's sint32


def _bytes(number, data):
    return _field(number, 2, _varint(len(data)) + data)


def encode_range(fontstack, first, last):
    """MapLibre's glyphs message for code points first..last: glyphs { stacks (1): fontstack {
    name (1), range (2), glyph (3): { id (1), bitmap (2), width (3), height (4), left (5, sint),
    top (6, sint), advance (7) } } }."""
    glyphs = b""
    for code in range(first, last + 1):
        ch = chr(code)
        if ch == " ":
            glyphs += _bytes(3, _uint(1, code) + _uint(3, 0) + _uint(4, 0) + _sint(5, 0)
                             + _sint(6, GLYPH_TOP_PX) + _uint(7, ADVANCE_PX[" "]))
        elif ch in STROKES:
            width = BOX_WIDTH_PX.get(ch, 10)
            glyph = (_uint(1, code) + _bytes(2, _bitmap(STROKES[ch], width, DIGIT_HEIGHT_PX))
                     + _uint(3, width) + _uint(4, DIGIT_HEIGHT_PX) + _sint(5, 1) + _sint(6, GLYPH_TOP_PX)
                     + _uint(7, ADVANCE_PX.get(ch, 13)))
            glyphs += _bytes(3, glyph)
    stack = _bytes(1, fontstack.encode()) + _bytes(2, f"{first}-{last}".encode()) + glyphs
    return _bytes(1, stack)
