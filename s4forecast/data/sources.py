"""Where a forecasting job's or sweep's series come from, as one ``data`` mapping of its config:

- ``{source: informer, dataset: ETTh1, features: S}``: a registered Informer dataset and its protocol;
- ``{source: csv, path: my.csv, target: load, features: S, date_col: date, split: ratio}``: any CSV with a
  date column, split 70/10/20 by rows (``split: ratio``; ETT-family files ``ett-hour`` / ``ett-minute``),
  scaled on its train rows as the Informer data are (``date_col`` and ``split`` optional);
- ``{source: synthetic, length: 240}``: a noisy sine for smoke tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from darts.utils import timeseries_generation as tg

from s4forecast.config_files import ConfigError
from s4forecast.data.informer import InformerSplits, load_csv, load_informer

KEYS = {  # source -> (required keys, optional keys) besides ``source``
    "informer": (("dataset", "features"), ()),
    "csv": (("path", "target"), ("features", "date_col", "split")),
    "synthetic": (("length",), ()),
}


def check_source(data: dict, where: str = "data") -> dict:
    """``data`` if it names a known source with its keys, else a ConfigError that names the problem.

    Parameters
    ----------
    data
        A data mapping.
    where
        Its place in the config, for the error.

    Returns
    -------
    dict
    """
    source = data.get("source")
    if source not in KEYS:
        raise ConfigError(f"{where}: source must be one of {', '.join(KEYS)}; got {source!r}")
    required, optional = KEYS[source]
    if missing := [k for k in required if k not in data]:
        raise ConfigError(f"{where}: a {source} source needs {', '.join(map(repr, missing))}")
    if unknown := [k for k in data if k not in ("source", *required, *optional)]:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} for a {source} source")
    return data


def csv_source(path, target: str, features: str = "S", date_col: str = "date", split: str = "ratio") -> dict:
    """The ``data`` mapping of a CSV (the command line's ``--csv``, ``--target``, ``--time-col``).

    Parameters
    ----------
    path
        The CSV file.
    target
        The column to forecast.
    features
        ``S`` (the target alone) or ``M`` (every column but the time).
    date_col
        The time column.
    split
        ``ratio`` (70 / 10 / 20), ``ett-hour`` or ``ett-minute`` (the Informer borders).

    Returns
    -------
    dict
        For :func:`load_splits`, ``run(..., data=)`` and ``run_sweep(..., data=)``.
    """
    return {"source": "csv", "path": str(path), "target": target, "features": features, "date_col": date_col, "split": split}


def name_of(data: dict) -> str:
    """A short name of the data for file and study names: the dataset, the CSV's stem, or ``synthetic``.

    Parameters
    ----------
    data
        A data mapping.

    Returns
    -------
    str
    """
    return {"informer": lambda: data["dataset"], "csv": lambda: Path(data["path"]).stem}.get(
        data["source"], lambda: data["source"]
    )()


def load_splits(data: dict, lookback: int, data_dir=None) -> InformerSplits:
    """Scaled train / val / test series of a ``data`` mapping.

    Parameters
    ----------
    data
        ``{"source": "informer", "dataset", "features"}``, a :func:`csv_source` mapping, or a synthetic one.
    lookback
        Steps of lead-in that val and test get.
    data_dir
        Where the Informer datasets are; None: ``$S4FORECAST_DATA_DIR``.

    Returns
    -------
    InformerSplits
    """
    check_source(data)
    if data["source"] == "informer":
        return load_informer(data["dataset"], data["features"], lookback, data_dir)
    if data["source"] == "csv":
        path = Path(data["path"])
        if not path.is_file():
            raise FileNotFoundError(f"no CSV file {path}")
        return load_csv(
            path, data["target"], data.get("features", "S"), lookback, data.get("split", "ratio"), data.get("date_col", "date")
        )
    n = data["length"]
    s = (
        tg.sine_timeseries(length=n, value_frequency=0.03, freq="h") + tg.gaussian_timeseries(length=n, std=0.1, freq="h")
    ).astype(np.float32)
    train_end, val_end = int(n * 0.7), int(n * 0.85)
    return InformerSplits(s[:train_end], s[train_end - lookback : val_end], s[val_end - lookback :], None, ["sine"], lookback)
