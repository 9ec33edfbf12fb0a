"""The Informer long-sequence forecasting datasets (ETTh1, ETTh2, ETTm1, WTH, ECL) and protocol.

Protocol of Informer's code (Zhou et al. 2021, ``data/data_loader.py``), used by the S4 paper
(App. D.3.5): ETTh* rows [0, 8640) train, [8640, 11520) val, [11520, 14400) test (12/4/4 months of
30 days; later rows unused), ETTm* the same x4; WTH and ECL 70/10/20 by row count. Val and test
start ``lookback`` rows earlier so their first window has a full context. A standard scaler is
fit on the train rows only; metrics are computed on scaled values.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from darts import TimeSeries
from sklearn.preprocessing import StandardScaler

from s4forecast.data.files import RemoteFile, fetch

ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/1d16c8f4f943005d613b5bc962e9eeb06058cf07/ETT-small/"
PADDLE_URL = "https://raw.githubusercontent.com/arrayofstar/2022_Informer_Paddle/e1f744055217a7834096324bdf85ec7ed3fb31c1/data/"


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset.

    Attributes
    ----------
    file
        Its published CSV (:class:`~s4forecast.data.files.RemoteFile`).
    target
        The column forecast with ``features="S"``.
    split
        ``ett-hour``, ``ett-minute`` (the Informer borders) or ``ratio`` (70 / 10 / 20).
    date_col
        The time column.
    """

    file: RemoteFile
    target: str
    split: str  # "ett-hour", "ett-minute" or "ratio"
    date_col: str = "date"


DATASETS = {
    "ETTh1": DatasetSpec(
        RemoteFile("ETTh1.csv", ETT_URL + "ETTh1.csv", "sha256:f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"),
        "OT",
        "ett-hour",
    ),
    "ETTh2": DatasetSpec(
        RemoteFile("ETTh2.csv", ETT_URL + "ETTh2.csv", "sha256:a3dc2c597b9218c7ce1cd55eb77b283fd459a1d09d753063f944967dd6b9218b"),
        "OT",
        "ett-hour",
    ),
    "ETTm1": DatasetSpec(
        RemoteFile("ETTm1.csv", ETT_URL + "ETTm1.csv", "sha256:6ce1759b1a18e3328421d5d75fadcb316c449fcd7cec32820c8dafda71986c9e"),
        "OT",
        "ett-minute",
    ),
    "WTH": DatasetSpec(
        RemoteFile("WTH.csv", PADDLE_URL + "WTH.csv", "sha256:5635e7f2d8f947f9abc6bc7077c907fb760eef111855a6805f096e9acff581bc"),
        "WetBulbCelsius",
        "ratio",
    ),
    "ECL": DatasetSpec(
        RemoteFile("ECL.csv", PADDLE_URL + "ECL.csv", "git-blob-sha1:c38ae9875b7dc069d022f6c708d61b791cbf1f4a"), "MT_320", "ratio"
    ),
}


def parse_frame(source, date_col: str = "date") -> pd.DataFrame:
    """A CSV (path, buffer) as a DataFrame indexed by its parsed date column, rows in file order.

    Parameters
    ----------
    source
        A path or a file-like object.
    date_col
        The time column.

    Returns
    -------
    pandas.DataFrame
    """
    df = pd.read_csv(source)
    if date_col not in df.columns:
        raise ValueError(f"the CSV has no date column {date_col!r}; its columns: {', '.join(df.columns)}")
    df[date_col] = pd.to_datetime(df[date_col])
    return df.set_index(date_col)


def read_frame(name: str, data_dir=None, download: bool = True) -> pd.DataFrame:
    """A registered dataset as a DataFrame indexed by date (verified file; downloaded if absent).

    Parameters
    ----------
    name
        A registered dataset.
    data_dir
        Where its file is; None: ``$S4FORECAST_DATA_DIR``, else the cache.
    download
        Fetch a missing file.

    Returns
    -------
    pandas.DataFrame
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(DATASETS)}")
    spec = DATASETS[name]
    return parse_frame(io.BytesIO(fetch(spec.file, data_dir, download)), spec.date_col)


def borders(split: str, n_rows: int, lookback: int) -> dict[str, tuple[int, int]]:
    """Row ranges [start, end) of train/val/test; val and test begin ``lookback`` rows early.

    Parameters
    ----------
    split
        ``ett-hour``, ``ett-minute`` or ``ratio``.
    n_rows
        The data's rows.
    lookback
        The lead-in of val and test.

    Returns
    -------
    dict
        ``{"train": (start, end), "val": ..., "test": ...}``.
    """
    if split in ("ett-hour", "ett-minute"):
        unit = 30 * 24 * (4 if split == "ett-minute" else 1)
        ends = [12 * unit, 16 * unit, 20 * unit]
    elif split == "ratio":
        n_train, n_test = int(n_rows * 0.7), int(n_rows * 0.2)
        ends = [n_train, n_rows - n_test, n_rows]
    else:
        raise ValueError(f"unknown split {split!r}; valid: ett-hour, ett-minute, ratio")
    if ends[-1] > n_rows:
        raise ValueError(f"the {split!r} split needs {ends[-1]} rows; the data has {n_rows}")
    if lookback >= ends[0]:
        raise ValueError(f"lookback {lookback} is not shorter than the train split ({ends[0]} rows)")
    return {"train": (0, ends[0]), "val": (ends[0] - lookback, ends[1]), "test": (ends[1] - lookback, ends[2])}


@dataclass
class InformerSplits:
    """Scaled train/val/test series (val/test include the ``lookback`` lead-in) and the scaler.

    Attributes
    ----------
    train, val, test
        Scaled float32 series.
    scaler
        Fitted on the training rows.
    columns
        The series' components.
    lookback
        The lead-in of val and test.
    """

    train: TimeSeries
    val: TimeSeries
    test: TimeSeries
    scaler: StandardScaler
    columns: list[str]
    lookback: int


def split_frame(df: pd.DataFrame, columns: list[str], split: str, lookback: int) -> InformerSplits:
    """Select ``columns``, split by the protocol, fit the scaler on train rows, return float32 series.

    Parameters
    ----------
    df
        Indexed by time.
    columns
        The components to keep.
    split
        ``ett-hour``, ``ett-minute`` or ``ratio``.
    lookback
        The lead-in of val and test.

    Returns
    -------
    InformerSplits
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} not in the data; its columns: {', '.join(df.columns)}")
    if text := [c for c in columns if not pd.api.types.is_numeric_dtype(df[c])]:
        raise ValueError(f"columns {text} are not numeric; forecast numeric columns only")
    values = df[columns].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"the data has NaN/Inf in columns {columns}")
    b = borders(split, len(df), lookback)
    scaler = StandardScaler().fit(values[slice(*b["train"])])
    scaled = pd.DataFrame(scaler.transform(values).astype(np.float32), index=df.index, columns=columns)
    freq = pd.infer_freq(df.index[:100])

    def series(part):
        return TimeSeries.from_dataframe(scaled.iloc[slice(*b[part])], freq=freq)

    return InformerSplits(series("train"), series("val"), series("test"), scaler, columns, lookback)


def _columns(df: pd.DataFrame, target: str, features: str) -> list[str]:
    if features not in ("S", "M"):
        raise ValueError(f"features must be 'S' (univariate target) or 'M' (all columns); got {features!r}")
    return [target] if features == "S" else list(df.columns)


def load_informer(name: str, features: str, lookback: int, data_dir=None, download: bool = True) -> InformerSplits:
    """A dataset split by the Informer protocol (borders of Zhou et al. 2021, train-fitted scaler).

    Parameters
    ----------
    name
        ETTh1, ETTh2, ETTm1, WTH or ECL.
    features
        ``S`` (the target column) or ``M`` (all columns).
    lookback
        Steps of lead-in that val and test get from the split before them.
    data_dir
        Where the CSV files are; None: ``$S4FORECAST_DATA_DIR``, else the cache.
    download
        Fetch a missing file from its public location, checked against its checksum.

    Returns
    -------
    InformerSplits
        Scaled train / val / test series, the scaler and the columns.
    """
    df = read_frame(name, data_dir, download)
    spec = DATASETS[name]
    return split_frame(df, _columns(df, spec.target, features), spec.split, lookback)


def load_csv(path, target: str, features: str, lookback: int, split: str = "ratio", date_col: str = "date") -> InformerSplits:
    """The Informer protocol on any CSV with a date column.

    Parameters
    ----------
    path
        The CSV file.
    target
        The column to forecast.
    features
        ``S`` (the target column) or ``M`` (all columns).
    lookback
        Steps of lead-in that val and test get.
    split
        ``ratio`` (70 / 10 / 20) for most data; ``ett-hour`` / ``ett-minute`` for ETT-family files.
    date_col
        The time column.

    Returns
    -------
    InformerSplits
    """
    df = parse_frame(path, date_col)
    return split_frame(df, _columns(df, target, features), split, lookback)
