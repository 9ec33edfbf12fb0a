"""LRA Pathfinder / Path-X (Linsley et al. 2018; Tay et al. 2021): is there a path between the two
dots? Images of 32x32 (L = 1024) or 128x128 (Path-X, L = 16384), read pixel by pixel.

Generator written from the published description: smooth curves drawn as dashes (bright and dim
segments, never broken, so a curve is one 8-connected component), two dots at the ends of curves,
and distractor curves. Positive: both dots end the same curve; negative: they end two different
curves. Curves keep a clearance of one blank pixel from each other, so the label equals a flood-fill
connectivity check on the image (:func:`connected`). The official release (``<root>/metadata/*.npy``
rows ``[subdir, file, ..., label]``, images as PNG) is read by :func:`read_release`.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

DOT, BRIGHT, DIM = 255, 200, 120


def _curve(rng, size: int, length: int) -> list[tuple[int, int]] | None:
    """A smooth random walk of 8-connected, non-repeating pixels, or None if it leaves the image."""
    y, x = rng.uniform(3, size - 3, 2)
    angle = rng.uniform(0, 2 * np.pi)
    pts = [(int(y), int(x))]
    while len(pts) < length:
        angle += rng.normal(0, 0.35)
        y, x = y + np.sin(angle), x + np.cos(angle)
        p = (int(round(y)), int(round(x)))
        if not (1 <= p[0] < size - 1 and 1 <= p[1] < size - 1):
            return None
        if p != pts[-1]:
            if p in pts:
                return None
            if max(abs(p[0] - pts[-1][0]), abs(p[1] - pts[-1][1])) > 1:
                return None
            pts.append(p)
    return pts


def _clear(occupied: np.ndarray, pts) -> bool:
    """True if no pixel of the curve is within Chebyshev distance 2 of an occupied pixel."""
    size = occupied.shape[0]
    for y, x in pts:
        if occupied[max(y - 2, 0) : min(y + 3, size), max(x - 2, 0) : min(x + 3, size)].any():
            return False
    return True


def generate(
    n: int, size: int = 32, seed: int = 0, curve_length: int | None = None, distractors: int = 2, dash: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, size, size) uint8 and labels (n,) int64, balanced positives and negatives."""
    rng = np.random.default_rng(seed)
    length = curve_length or size // 2 + 2
    images, labels = [], []
    while len(images) < n:
        label = len(images) % 2
        img = np.zeros((size, size), dtype=np.uint8)
        occupied = np.zeros((size, size), dtype=bool)
        curves = []
        for _ in range(200):
            if len(curves) == (1 if label else 2) + distractors:
                break
            pts = _curve(rng, size, length)
            if pts is not None and _clear(occupied, pts):
                curves.append(pts)
                for y, x in pts:
                    occupied[y, x] = True
        else:
            continue
        for pts in curves:
            for i, (y, x) in enumerate(pts):
                img[y, x] = BRIGHT if (i // dash) % 2 == 0 else DIM
        ends = [curves[0][0], curves[0][-1]] if label else [curves[0][0], curves[1][-1]]
        for y, x in ends:
            img[y, x] = DOT
        images.append(img)
        labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def dots(img: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(p) for p in np.argwhere(img == DOT)]


def connected(img: np.ndarray) -> bool:
    """Flood fill over nonzero pixels (8-connectivity) from the first dot: does it reach the second?"""
    (a, b) = dots(img)
    seen, queue = {a}, deque([a])
    while queue:
        y, x = queue.popleft()
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                q = (y + dy, x + dx)
                if q not in seen and 0 <= q[0] < img.shape[0] and 0 <= q[1] < img.shape[1] and img[q]:
                    seen.add(q)
                    queue.append(q)
    return b in seen


def read_release(root: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of an official Pathfinder release folder (``metadata/*.npy`` + PNG files)."""
    from PIL import Image

    root = Path(root)
    rows = [r for f in sorted((root / "metadata").glob("*.npy")) for r in np.load(f, allow_pickle=True)]
    if not rows:
        raise ValueError(f"no metadata/*.npy rows under {root}")
    images = np.stack([np.asarray(Image.open(root / str(r[0]) / str(r[1])).convert("L")) for r in rows])
    return images, np.array([int(r[3]) for r in rows], dtype=np.int64)
