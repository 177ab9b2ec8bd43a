"""Draw the Teams app icons (color.png 192x192, outline.png 32x32 white on transparent) with no dependencies.

Run from the repository root: ``python manifest/teams/make_icons.py``. The PNGs are committed; this is here so
they can be redrawn.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
ACCENT = (0x1F, 0x5C, 0x99)
WHITE = (0xFF, 0xFF, 0xFF)
TICK = ((0.30, 0.52), (0.44, 0.66), (0.72, 0.36))  # a check mark, in unit coordinates
Pixel = tuple[int, int, int, int]


def _segment_distance(px: float, py: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    (ax, ay), (bx, by) = a, b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _on_tick(x: float, y: float, width: float) -> bool:
    return min(_segment_distance(x, y, TICK[i], TICK[i + 1]) for i in range(len(TICK) - 1)) <= width


def _draw(size: int, shade: Callable[[float, float], Pixel | None], samples: int = 4) -> list[list[Pixel]]:
    """Supersampled, so edges are smooth; None means transparent."""
    rows: list[list[Pixel]] = []
    for j in range(size):
        row: list[Pixel] = []
        for i in range(size):
            acc = [0.0, 0.0, 0.0, 0.0]
            for sj in range(samples):
                for si in range(samples):
                    hit = shade((i + (si + 0.5) / samples) / size, (j + (sj + 0.5) / samples) / size)
                    if hit is not None:
                        for k in range(3):
                            acc[k] += hit[k] * hit[3] / 255
                        acc[3] += hit[3]
            n = samples * samples
            alpha = acc[3] / n
            colour = [round(acc[k] * 255 / acc[3]) if acc[3] else 0 for k in range(3)]
            row.append((colour[0], colour[1], colour[2], round(alpha)))
        rows.append(row)
    return rows


def _png(rows: list[list[Pixel]]) -> bytes:
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(v for px in row for v in px) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def color(x: float, y: float) -> Pixel | None:
    if _on_tick(x, y, 0.055):
        return (*WHITE, 255)
    if math.hypot(x - 0.5, y - 0.5) <= 0.46:
        return (*ACCENT, 255)
    return None


def outline(x: float, y: float) -> Pixel | None:
    if _on_tick(x, y, 0.07) or abs(math.hypot(x - 0.5, y - 0.5) - 0.42) <= 0.04:
        return (*WHITE, 255)
    return None


if __name__ == "__main__":
    (HERE / "color.png").write_bytes(_png(_draw(192, color)))
    (HERE / "outline.png").write_bytes(_png(_draw(32, outline)))
    print("wrote color.png and outline.png")
