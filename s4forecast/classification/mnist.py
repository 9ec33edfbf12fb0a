"""Sequential MNIST (sMNIST) and permuted sequential MNIST (psMNIST): 28x28 images read pixel by
pixel as sequences of length 784 with one channel (S4 paper Sec. 4.2, Table 4).

Files: the official IDX files (``train-images-idx3-ubyte`` etc., plain or ``.gz``) in the data
directory, verified against the official MD5 of the uncompressed bytes, else downloaded.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from s4forecast.data.files import RemoteFile, fetch

MNIST_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
FILES = {
    ("train", "images"): RemoteFile(
        "mnist/train-images-idx3-ubyte", MNIST_URL + "train-images-idx3-ubyte.gz", "md5:6bbc9ace898e44ae57da46a324031adb"
    ),
    ("train", "labels"): RemoteFile(
        "mnist/train-labels-idx1-ubyte", MNIST_URL + "train-labels-idx1-ubyte.gz", "md5:a25bea736e30d166cdddb491f175f624"
    ),
    ("test", "images"): RemoteFile(
        "mnist/t10k-images-idx3-ubyte", MNIST_URL + "t10k-images-idx3-ubyte.gz", "md5:2646ac647ad5339dbf082846283269ea"
    ),
    ("test", "labels"): RemoteFile(
        "mnist/t10k-labels-idx1-ubyte", MNIST_URL + "t10k-labels-idx1-ubyte.gz", "md5:27ae3e4e09519cfbb04c329615203637"
    ),
}


def parse_idx(data: bytes) -> np.ndarray:
    """An IDX array (magic 0x0000 08 <ndim>, big-endian dims, uint8 payload).

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    numpy.ndarray
    """
    if len(data) < 4 or data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError("not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    payload = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if payload.size != int(np.prod(dims)):
        raise ValueError(f"IDX payload has {payload.size} bytes, dims {tuple(dims)} need {int(np.prod(dims))}")
    return payload.reshape(dims)


def load_mnist(split: str, data_dir=None, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 28, 28) uint8, labels (n,) uint8) of the ``train`` or ``test`` split.

    Parameters
    ----------
    split
        ``train`` or ``test``.
    data_dir
        Where the files are.
    download
        Fetch missing files.

    Returns
    -------
    tuple of numpy.ndarray
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}")
    images = parse_idx(fetch(FILES[(split, "images")], data_dir, download))
    labels = parse_idx(fetch(FILES[(split, "labels")], data_dir, download))
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    return images, labels


class SequentialImages(Dataset):
    """Pixel sequences (n, L, channels) with values in [0, 255] as float (L, channels) items in [0, 1],
    optionally under a fixed permutation of the positions.

    Parameters
    ----------
    sequences
        (n, L, channels).
    labels
        (n,).
    permutation
        (L,) or None.
    """

    def __init__(self, sequences: np.ndarray, labels: np.ndarray, permutation: np.ndarray | None = None):
        if sequences.ndim != 3:
            raise ValueError(f"sequences must be (n, L, channels); got shape {sequences.shape}")
        self.x = torch.as_tensor(sequences).float() / 255.0
        if permutation is not None:
            self.x = self.x[:, torch.as_tensor(permutation)]
        self.y = torch.as_tensor(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


def permutation(length: int = 784, seed: int = 0) -> np.ndarray:
    """The fixed pixel permutation of psMNIST (seeded, identical for train and test).

    Parameters
    ----------
    length
        Positions.
    seed
        Its seed.

    Returns
    -------
    numpy.ndarray
    """
    return np.random.default_rng(seed).permutation(length)


def as_sequences(images: np.ndarray) -> np.ndarray:
    """(n, 28, 28) -> (n, 784, 1), row-major: the pixel-by-pixel order of sMNIST.

    Parameters
    ----------
    images
        (n, 28, 28).

    Returns
    -------
    numpy.ndarray
    """
    return images.reshape(len(images), -1, 1)
