"""LRA Pathfinder / Path-X (Linsley et al. 2018; Tay et al. 2021): is there a path between the two
dots? Images of 32x32 (L = 1024) or 128x128 (Path-X, L = 16384), read pixel by pixel.

Generator written after the release's settings for Pathfinder-32 (LRA's TFDS builder: the
drewlinsley/pathfinder script with ``contour_length = 14`` paddles, ``paddle_length = 2``,
``paddle_margin = 1``, ``distractor_length = 14 // 3``, ``num_distractor_snakes = 20 // 4``): every
image, positive or negative, holds two contours of ``contour_length`` paddles and short distractor
contours of ``contour_length // 3`` paddles; a positive puts the two dots at the two ends of one
contour, a negative at one end of each contour, so the amount of ink says nothing about the label.
A contour is a smooth random walk of 8-connected pixels; its paddles are bright, the gaps between
them dim (drawn, not left blank, so that a contour is one 8-connected component). Contours keep a
clearance of one blank pixel from each other, so the label equals a flood-fill connectivity check
on the image (:func:`connected`). The official release (``<root>/metadata/*.npy`` rows
``[subdir, file, ..., label]``, images as PNG) is read by :func:`read_release`.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

DOT, BRIGHT, DIM = 255, 200, 120


def _curve(rng, size: int, length: int, blocked: np.ndarray, noise: float = 0.25, steer: float = 0.8):
    """A smooth random walk of ``length`` 8-connected pixels that avoids ``blocked`` pixels and is a
    simple path: every pixel but the two ends has exactly two neighbours on the curve (a step that
    cuts a corner replaces the corner pixel; a step next to an earlier pixel rejects the curve), or
    None. Within 3 pixels of the border the heading turns towards the centre (at most ``steer``
    radians a step), so long contours curl inside the image instead of leaving it."""
    margin, centre = 3, (size - 1) / 2
    y, x = rng.uniform(margin, size - 1 - margin, 2)
    angle = rng.uniform(0, 2 * np.pi)
    pts = [(int(round(y)), int(round(x)))]
    if blocked[pts[0]]:
        return None
    earlier = np.zeros_like(blocked)  # pixels next to the curve's pixels before its last two
    for _ in range(8 * length):
        if len(pts) == length:
            return pts
        angle += rng.normal(0, noise)
        if not (margin <= y <= size - 1 - margin and margin <= x <= size - 1 - margin):
            turn = (np.arctan2(centre - y, centre - x) - angle + np.pi) % (2 * np.pi) - np.pi
            angle += np.clip(turn, -steer, steer)
        y, x = y + np.sin(angle), x + np.cos(angle)
        p = (int(round(y)), int(round(x)))
        if p == pts[-1]:
            continue
        if not (0 < p[0] < size - 1 and 0 < p[1] < size - 1) or blocked[p] or earlier[p]:
            return None
        if len(pts) >= 2 and max(abs(p[0] - pts[-2][0]), abs(p[1] - pts[-2][1])) <= 1:
            pts[-1] = p  # a corner cut: drop the corner
            continue
        if len(pts) >= 2:
            earlier[max(pts[-2][0] - 1, 0) : pts[-2][0] + 2, max(pts[-2][1] - 1, 0) : pts[-2][1] + 2] = True
        pts.append(p)
    return None


def contour_pixels(paddles: int, paddle_length: int, paddle_margin: int) -> int:
    """Pixels of a contour of ``paddles`` paddles with a gap of ``paddle_margin`` between neighbours.

    Parameters
    ----------
    paddles
        Paddles in the contour.
    paddle_length
        Pixels a paddle.
    paddle_margin
        Pixels between neighbours.

    Returns
    -------
    int
    """
    return paddles * (paddle_length + paddle_margin) - paddle_margin


# The release's contour settings per image size (LRA's Pathfinder-32 builder; Path-X: 128 x 128 with
# margins of 2-3 pixels (3 here), 5-pixel paddles and 35 / (14 / 3) distractors).
RELEASE_SETTINGS = {
    32: {"contour_length": 14, "paddle_length": 2, "paddle_margin": 1, "distractors": 5},
    128: {"contour_length": 14, "paddle_length": 5, "paddle_margin": 3, "distractors": 7},
}


def generate(n: int, size: int = 32, seed: int = 0, max_tries: int = 400, **settings) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, size, size) uint8 and labels (n,) int64, alternating positive and negative.

    Two contours of ``contour_length`` paddles and ``distractors`` contours of ``contour_length // 3``
    paddles per image, paddles of ``paddle_length`` pixels with gaps of ``paddle_margin``: the
    release's settings for the size (:data:`RELEASE_SETTINGS`) unless given. An image whose contours
    do not fit in ``max_tries`` draws each is discarded and drawn again.

    Parameters
    ----------
    n
        Images.
    size
        Their side in pixels.
    seed
        The generator's seed.
    max_tries
        Draws a contour may take to fit before the image is discarded and drawn again.
    **settings
        ``contour_length``, ``paddle_length``, ``paddle_margin``, ``distractors``.

    Returns
    -------
    tuple of numpy.ndarray
    """
    names = set(RELEASE_SETTINGS[32])
    if set(settings) - names:
        raise TypeError(f"unknown Pathfinder settings {sorted(set(settings) - names)}; valid: {sorted(names)}")
    if size not in RELEASE_SETTINGS and set(settings) != names:
        raise ValueError(f"no release settings for size {size}; give all of {sorted(names)}")
    settings = {**RELEASE_SETTINGS.get(size, {}), **settings}
    contour_length, paddle_length, paddle_margin, distractors = (
        settings[k] for k in ("contour_length", "paddle_length", "paddle_margin", "distractors")
    )
    rng = np.random.default_rng(seed)
    main = contour_pixels(contour_length, paddle_length, paddle_margin)
    short = contour_pixels(contour_length // 3, paddle_length, paddle_margin)
    lengths = [main, main] + [short] * distractors
    images, labels = [], []
    while len(images) < n:
        label = len(images) % 2
        curves = _place(rng, size, lengths, max_tries)
        if curves is None:
            continue
        img = np.zeros((size, size), dtype=np.uint8)
        for pts in curves:
            for i, (y, x) in enumerate(pts):
                img[y, x] = BRIGHT if i % (paddle_length + paddle_margin) < paddle_length else DIM
        ends = [curves[0][0], curves[0][-1]] if label else [curves[0][0], curves[1][-1]]
        for y, x in ends:
            img[y, x] = DOT
        images.append(img)
        labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64)


def _place(rng, size: int, lengths: list[int], max_tries: int) -> list[list[tuple[int, int]]] | None:
    """Curves of the given pixel lengths, each at Chebyshev distance >= 2 from the ones before (one
    blank pixel between, so no two are 8-connected); None if a curve finds no place in ``max_tries``
    draws."""
    blocked = np.zeros((size, size), dtype=bool)  # pixels within distance 1 of a placed curve
    curves = []
    for length in lengths:
        for _ in range(max_tries):
            pts = _curve(rng, size, length, blocked)
            if pts is not None:
                break
        else:
            return None
        curves.append(pts)
        for y, x in pts:
            blocked[max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2] = True
    return curves


def dots(img: np.ndarray) -> list[tuple[int, int]]:
    """The (row, column) of every endpoint dot of a Pathfinder image.

    Parameters
    ----------
    img
        (size, size) uint8.

    Returns
    -------
    list of tuple
    """
    return [tuple(p) for p in np.argwhere(img == DOT)]


def connected(img: np.ndarray) -> bool:
    """Flood fill over nonzero pixels (8-connectivity) from the first dot: does it reach the second?

    Parameters
    ----------
    img
        (size, size) uint8.

    Returns
    -------
    bool
    """
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
    """Images and labels of an official Pathfinder release folder (``metadata/*.npy`` + PNG files).

    Parameters
    ----------
    root
        The release's folder.

    Returns
    -------
    tuple of numpy.ndarray
    """
    from PIL import Image

    root = Path(root)
    rows = [r for f in sorted((root / "metadata").glob("*.npy")) for r in np.load(f, allow_pickle=True)]
    if not rows:
        raise ValueError(f"no metadata/*.npy rows under {root}")
    images = np.stack([np.asarray(Image.open(root / str(r[0]) / str(r[1])).convert("L")) for r in rows])
    return images, np.array([int(r[3]) for r in rows], dtype=np.int64)
