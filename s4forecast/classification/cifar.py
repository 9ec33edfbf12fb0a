"""CIFAR-10 (Krizhevsky 2009) as sequences: sCIFAR (L = 1024, 3 channels, S4 Table 4) and LRA Image
(L = 1024, grayscale). Reads the official python release (``cifar-10-batches-py/data_batch_1..5``,
``test_batch``: pickled dicts with ``data`` (n, 3072) uint8 in R, G, B planes and ``labels``),
from a data directory or the official tarball (MD5-verified, downloaded if absent)."""

from __future__ import annotations

import io
import pickle
import tarfile

import numpy as np

from s4forecast.data.files import RemoteFile, fetch

TARBALL = RemoteFile(
    "cifar-10-python.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "md5:c58f30108f718f92721af3b95e74349a"
)
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
GRAY = np.array([0.2989, 0.5870, 0.1140])  # ITU-R 601 luma, as tf.image.rgb_to_grayscale


def parse_batch(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> (images (n, 32, 32, 3) uint8, labels (n,) int64).

    Parameters
    ----------
    raw
        The pickled batch's bytes.

    Returns
    -------
    tuple of numpy.ndarray
    """
    batch = pickle.loads(raw, encoding="bytes")
    data, labels = batch[b"data"], batch[b"labels"]
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"not a CIFAR-10 batch: data {data.shape}, {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)


def load_cifar10(split: str, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 32, 32, 3) and labels of ``train`` or ``test``: from ``cifar-10-batches-py/`` in the
    data directory if present, else from the verified official tarball.

    Parameters
    ----------
    split
        ``train`` or ``test``.
    data_dir
        Where the files are.

    Returns
    -------
    tuple of numpy.ndarray
    """
    from s4forecast.data.files import data_dir as resolve

    folder = resolve(data_dir) / "cifar-10-batches-py"
    if folder.exists():
        raws = [(folder / name).read_bytes() for name in BATCHES[split]]
    else:
        with tarfile.open(fileobj=io.BytesIO(fetch(TARBALL, data_dir)), mode="r:gz") as tar:
            raws = [tar.extractfile(f"cifar-10-batches-py/{name}").read() for name in BATCHES[split]]
    parts = [parse_batch(r) for r in raws]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def as_sequences(images: np.ndarray, grayscale: bool) -> np.ndarray:
    """(n, 32, 32, 3) uint8 -> (n, 1024, 3) (sCIFAR) or (n, 1024, 1) uint8-range floats (LRA Image).

    Parameters
    ----------
    images
        (n, 32, 32, 3) uint8.
    grayscale
        LRA Image's one channel (else sCIFAR's three).

    Returns
    -------
    numpy.ndarray
    """
    seq = images.reshape(len(images), 1024, 3).astype(np.float32)
    return (seq @ GRAY.astype(np.float32))[..., None] if grayscale else seq
