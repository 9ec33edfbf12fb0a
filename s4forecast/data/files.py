"""Find a dataset file in a data directory, or download it from its public source and verify it.

Resolution order for the directory: the ``data_dir`` argument, ``$S4FORECAST_DATA_DIR``, then
``~/.cache/s4forecast/data`` (where downloads go). A file may be stored plain or gzipped
(``NAME.gz``); the checksum is of the uncompressed bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CACHE = Path.home() / ".cache" / "s4forecast" / "data"


@dataclass(frozen=True)
class RemoteFile:
    """A published file: where it comes from and how to verify it.

    ``checksum`` is ``"sha256:<hex>"``, ``"md5:<hex>"`` or ``"git-blob-sha1:<hex>"`` (the id
    ``git hash-object`` prints), always of the uncompressed bytes; a ``.gz`` download is unpacked.

    Attributes
    ----------
    name
        The file name.
    url
        Where it is published.
    checksum
        ``kind:hex``.
    """

    name: str
    url: str
    checksum: str


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Where the data files are: ``path``, else ``$S4FORECAST_DATA_DIR``, else the download cache.

    Parameters
    ----------
    path
        A directory, or None.

    Returns
    -------
    pathlib.Path
    """
    return Path(path or os.environ.get("S4FORECAST_DATA_DIR") or DEFAULT_CACHE).expanduser()


def digest(data: bytes, checksum: str) -> str:
    """``data``'s digest in the kind ``checksum`` names (``sha256:``, ``md5:``, ``git-blob-sha1:``), as ``kind:hex``.

    Parameters
    ----------
    data
        The file's bytes.
    checksum
        ``kind:hex``, naming the kind.

    Returns
    -------
    str
        ``kind:hex`` of ``data``.
    """
    kind = checksum.split(":", 1)[0]
    if kind == "sha256":
        return "sha256:" + hashlib.sha256(data).hexdigest()
    if kind == "md5":
        return "md5:" + hashlib.md5(data).hexdigest()
    if kind == "git-blob-sha1":
        return "git-blob-sha1:" + hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    raise ValueError(f"unknown checksum kind {kind!r}")


def fetch(remote: RemoteFile, directory: str | os.PathLike | None = None, download: bool = True) -> bytes:
    """The verified bytes of ``remote`` from ``directory`` (plain or .gz), downloading it if absent.

    Parameters
    ----------
    remote
        The file.
    directory
        Where to look first; None: :func:`data_dir`.
    download
        Fetch it when absent.

    Returns
    -------
    bytes
    """
    root = data_dir(directory)
    plain, gzipped = root / remote.name, root / (remote.name + ".gz")
    if plain.exists() or gzipped.exists():  # a gzipped copy is verified on its uncompressed bytes
        data = plain.read_bytes() if plain.exists() else gzip.decompress(gzipped.read_bytes())
        _verify(data, remote, plain if plain.exists() else gzipped)
        return data
    if not download:
        raise FileNotFoundError(_missing_message(remote, root, "downloading is disabled"))
    try:
        with urllib.request.urlopen(remote.url, timeout=60) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as e:
        raise FileNotFoundError(_missing_message(remote, root, f"download from {remote.url} failed: {e}")) from e
    if remote.url.endswith(".gz") and not remote.name.endswith(".gz"):
        data = gzip.decompress(data)
    _verify(data, remote, Path(remote.url))
    (root / remote.name).parent.mkdir(parents=True, exist_ok=True)
    tmp = root / (remote.name + ".part")
    tmp.write_bytes(data)
    shutil.move(tmp, root / remote.name)
    return data


def _verify(data: bytes, remote: RemoteFile, where: Path) -> None:
    got = digest(data, remote.checksum)
    if got != remote.checksum:
        raise ValueError(
            f"checksum mismatch for {where}: expected {remote.checksum}, got {got}. "
            f"The file is corrupt or a different version; delete it and fetch {remote.url}"
        )


def _missing_message(remote: RemoteFile, root: Path, why: str) -> str:
    return (
        f"{remote.name} not found in {root} (nor {remote.name}.gz) and {why}. Download it from {remote.url} "
        f"into that folder, or point S4FORECAST_DATA_DIR (or data_dir=) at a folder that has it."
    )
