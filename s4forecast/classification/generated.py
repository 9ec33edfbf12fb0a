"""Generated task data (ListOps expressions, Pathfinder images), made once per setting and kept on disk
with ``joblib.Memory``: a resumed or repeated run reads in seconds what took minutes to generate
(20,000 ListOps expressions ~1.5 min, 22,000 Pathfinder images ~4 min on one core here).

The cache lives in ``$S4FORECAST_CACHE_DIR`` (default ``~/.cache/s4forecast``; ``off`` disables it).
An entry is keyed by the generator's arguments and by the source of its module, so editing a generator
regenerates instead of reading data it would no longer make.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path
from types import ModuleType

import numpy as np
from joblib import Memory

from s4forecast.classification import listops, pathfinder


def cache_dir() -> Path | None:
    """Where generated data is kept; None when ``S4FORECAST_CACHE_DIR=off``.

    Returns
    -------
    pathlib.Path or None
    """
    location = os.environ.get("S4FORECAST_CACHE_DIR", str(Path.home() / ".cache" / "s4forecast"))
    return None if location.lower() in ("off", "") else Path(location) / "generated"


def source_hash(module: ModuleType) -> str:
    """A digest of a generator module's source: part of every cache key made from it.

    Parameters
    ----------
    module
        A generator module.

    Returns
    -------
    str
    """
    return hashlib.sha256(inspect.getsource(module).encode()).hexdigest()[:16]


def _listops_splits(sizes: dict, seed: int, lengths: dict, source: str) -> dict:
    return listops.generate_splits(sizes, seed=seed, **lengths)


def _pathfinder_images(n: int, size: int, seed: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    return pathfinder.generate(n, size=size, seed=seed)


def _memory() -> Memory:
    return Memory(cache_dir(), verbose=0)


def listops_splits(sizes: dict[str, int], seed: int = 0, **lengths) -> dict[str, list[tuple[list[str], int]]]:
    """:func:`listops.generate_splits` (disjoint splits of generated expressions), cached.

    Parameters
    ----------
    sizes
        Split name -> examples.
    seed
        The generator's seed.
    **lengths
        :func:`~s4forecast.classification.listops.generate`'s length bounds.

    Returns
    -------
    dict
    """
    return _memory().cache(_listops_splits)(dict(sizes), seed, dict(lengths), source_hash(listops))


def pathfinder_images(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pathfinder.generate` (images (n, size, size) uint8, labels (n,)), cached.

    Parameters
    ----------
    n
        Images.
    size
        Their side.
    seed
        The generator's seed.

    Returns
    -------
    tuple of numpy.ndarray
    """
    return _memory().cache(_pathfinder_images)(n, size, seed, source_hash(pathfinder))
