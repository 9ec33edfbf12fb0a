"""Byte-level text tasks of the Long Range Arena (Tay et al. 2021).

* LRA Text: IMDB reviews (Maas et al. 2011) as UTF-8 bytes, truncated to 4096, 2 classes. Read
  from the official ``aclImdb_v1.tar.gz`` or a repack with the same ``aclImdb/{train,test}/{pos,neg}``
  members (e.g. ``lra/aclImdb_train_test.tar.xz``).
* LRA Retrieval: pairs of AAN papers (``label<TAB>id1<TAB>id2<TAB>text1<TAB>text2`` TSV release),
  each document truncated to 4000 bytes; an S4Classifier with ``dual=True`` reads both.

Token ids: byte + 1 (0 is padding), vocabulary 257.
"""

from __future__ import annotations

import csv
import io
import sys
import tarfile
from pathlib import Path

import torch
from torch.utils.data import Dataset

from s4forecast.data.files import RemoteFile, fetch

VOCAB_SIZE = 257
IMDB_FILES = (
    RemoteFile(
        "lra/aclImdb_train_test.tar.xz",
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        "sha256:bac8e6ad1245d29549ac756bf42cc17d2d12e1ef134e207f575d3073bee3bf0d",
    ),
    RemoteFile(
        "aclImdb_v1.tar.gz",
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        "md5:7c2ac02c03563afcf9b574c7e56c153a",
    ),
)


def _bytes(text: str | bytes) -> bytes:
    return text.encode("utf-8") if isinstance(text, str) else text


def encode(text: str | bytes, max_length: int) -> torch.Tensor:
    """The UTF-8 bytes of ``text`` (its first ``max_length``) as tokens 1..256 (0 is padding), (length,) int64.

    Parameters
    ----------
    text
        A string (UTF-8 encoded) or bytes.
    max_length
        Bytes kept.

    Returns
    -------
    torch.Tensor
    """
    return torch.frombuffer(bytearray(_bytes(text)[:max_length]), dtype=torch.uint8).long() + 1


def read_imdb_archive(data: bytes, split: str, limit: int | None = None) -> list[tuple[bytes, int]]:
    """(review bytes, label) pairs of ``split`` (train/test) from an aclImdb tar archive; pos = 1.

    ``limit`` keeps a class-balanced subset: the first ``limit // 2`` negative and ``limit - limit // 2``
    positive reviews in archive order.

    Parameters
    ----------
    data
        The archive's bytes.
    split
        ``train`` or ``test``.
    limit
        Reviews kept, or None.

    Returns
    -------
    list of tuple
    """
    quota = None if not limit else {0: limit // 2, 1: limit - limit // 2}
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[1] == split and parts[2] in ("pos", "neg"):
                label = int(parts[2] == "pos")
                if quota is not None:
                    if quota[label] == 0:
                        continue
                    quota[label] -= 1
                out.append((tar.extractfile(member).read(), label))
                if quota is not None and not any(quota.values()):
                    break
    if not out:
        raise ValueError(f"no aclImdb/{split}/{{pos,neg}}/*.txt members in the archive")
    return out


def load_imdb(split: str, data_dir=None, limit: int | None = None) -> list[tuple[bytes, int]]:
    """IMDB reviews of a split: the LRA repack if present, else the official tarball (downloaded).

    Parameters
    ----------
    split
        ``train`` or ``test``.
    data_dir
        Where the data are.
    limit
        Reviews kept, or None.

    Returns
    -------
    list of tuple
    """
    errors = []
    for remote in IMDB_FILES:
        try:
            return read_imdb_archive(fetch(remote, data_dir, download=remote is IMDB_FILES[-1]), split, limit)
        except FileNotFoundError as e:
            errors.append(str(e))
    raise FileNotFoundError(" / ".join(errors))


def read_aan_tsv(path: str | Path) -> list[tuple[str, str, int]]:
    """(text1, text2, label) rows of the LRA retrieval release (``label id1 id2 text1 text2``).

    Parameters
    ----------
    path
        A release TSV file.

    Returns
    -------
    list of tuple
    """
    csv.field_size_limit(sys.maxsize)
    rows = []
    with open(path, newline="") as f:
        for i, row in enumerate(csv.reader(f, delimiter="\t")):
            if len(row) != 5:
                raise ValueError(f"{path}:{i + 1}: expected 5 tab-separated columns (label id1 id2 text1 text2), got {len(row)}")
            if i == 0 and row[0] == "label":
                continue
            rows.append((row[3], row[4], int(float(row[0]))))
    return rows


class ByteSequences(Dataset):
    """(token ids (length,), label, length) from (bytes or str, label) pairs.

    Parameters
    ----------
    examples
        (bytes or str, label) pairs.
    max_length
        Bytes kept of each.
    """

    def __init__(self, examples, max_length: int = 4096):
        self.examples, self.max_length = examples, max_length

    def __len__(self) -> int:
        return len(self.examples)

    def lengths(self) -> list[int]:
        """Each review's byte count, cut at ``max_length`` (what length batching sorts by).

        Returns
        -------
        list of int
        """
        return [min(len(_bytes(text)), self.max_length) for text, _ in self.examples]

    def __getitem__(self, i):
        text, label = self.examples[i]
        ids = encode(text, self.max_length)
        return ids, torch.tensor(label), torch.tensor(len(ids))


class DocumentPairs(Dataset):
    """(token ids (2, max_length) of both documents, label, lengths (2,)) for the dual encoder.

    Parameters
    ----------
    rows
        (text1, text2, label) rows.
    max_length
        Bytes kept of each document.
    """

    def __init__(self, rows, max_length: int = 4000):
        self.rows, self.max_length = rows, max_length

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):
        a, b, label = self.rows[i]
        ids = [encode(t, self.max_length) for t in (a, b)]
        out = torch.zeros(2, self.max_length, dtype=torch.long)
        for k, t in enumerate(ids):
            out[k, : len(t)] = t
        return out, torch.tensor(label), torch.tensor([max(len(t), 1) for t in ids])
