"""The main forecasting job: fit S4Model on an Informer dataset (or a CSV), score every test window, plot one.

    python -m s4forecast forecast [--config configs/forecast/etth1.yaml] [--data-dir DIR]
    python -m s4forecast forecast --csv my.csv --target load [--time-col date] [--features S]

The config names its data with ``dataset`` and ``features`` (a registered Informer dataset) or with a
``data`` mapping (``data/sources.py``: a CSV); ``--csv`` replaces either. Writes
``<output_dir>/<name>_metrics.json`` and ``<output_dir>/<name>_forecast.png`` (name: the dataset or the
CSV's stem).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from s4forecast.config_files import ConfigError, check_keys, read_yaml
from s4forecast.data.sources import check_source, name_of
from s4forecast.trainers import quiet_trainer

REQUIRED = ("lookback", "horizon", "model")
OPTIONAL = ("dataset", "features", "data", "output_dir", "trainer", "sweep")  # sweep: where a sweep-report config came from


def load_config(path: str | Path, data: dict | None = None) -> dict:
    """A forecast config (see configs/forecast/etth1.yaml), its keys checked before any heavy import;
    ``data`` (a ``data/sources.py`` mapping) replaces the config's data. Returns the config with its data
    as one ``data`` mapping.

    Parameters
    ----------
    path
        The config file.
    data
        A data mapping, or None.

    Returns
    -------
    dict
    """
    cfg = check_keys(read_yaml(path), path, REQUIRED, OPTIONAL, sections=("model", "trainer", "data"))
    named = {k: cfg.pop(k) for k in ("dataset", "features") if k in cfg}
    if data is None and "data" not in cfg:
        if len(named) < 2:
            raise ConfigError(f"{path}: name the data with 'dataset' and 'features', or with a 'data' mapping")
        cfg["data"] = {"source": "informer", **named}
    elif named and "data" in cfg:
        raise ConfigError(f"{path}: name the data once: 'dataset'/'features' or 'data', not both")
    cfg["data"] = check_source(data or cfg["data"], f"{path}: data")
    if cfg["data"].get("features", "S") not in ("S", "M"):
        raise ConfigError(f"{path}: features must be S or M; got {cfg['data']['features']!r}")
    if "pl_trainer_kwargs" in cfg["model"]:
        raise ConfigError(
            f"{path}: put Lightning Trainer settings under the top-level 'trainer' key, not model.pl_trainer_kwargs"
        )
    return cfg


def run(config_path: str | Path, data_dir=None, output_dir=None, progress: bool = True, data: dict | None = None) -> dict:
    """The main job: fit the config's S4Model, forecast every test window, score and plot.

    Parameters
    ----------
    config_path
        A forecast config (``configs/forecast/*.yaml``).
    data_dir
        Where the datasets are; None: ``$S4FORECAST_DATA_DIR``, else downloaded with a checksum.
    output_dir
        Where ``<name>_metrics.json`` and ``<name>_forecast.png`` go; None: the config's, else ``outputs``.
    progress
        Show Lightning's progress bars.
    data
        A ``data/sources.py`` mapping (a user's CSV, ...) in place of the config's data.

    Returns
    -------
    dict
        dataset, features, horizon, lookback, mse, mae, test_windows, wall_time_s.
    """
    cfg = load_config(config_path, data)
    from s4forecast.data.sources import load_splits
    from s4forecast.forecasting.evaluation import scores, test_windows
    from s4forecast.forecasting.s4_model import S4Model

    splits = load_splits(cfg["data"], cfg["lookback"], data_dir)
    name = name_of(cfg["data"])
    trainer = quiet_trainer(**{"enable_progress_bar": progress, **cfg.get("trainer", {})})
    model = S4Model(cfg["lookback"], cfg["horizon"], **cfg["model"], pl_trainer_kwargs=trainer)
    start = time.perf_counter()
    model.fit(splits.train, val_series=splits.val)
    forecast, truth = test_windows(model, splits.test, cfg["lookback"], cfg["horizon"], verbose=progress)
    result = {
        "dataset": name,
        "features": cfg["data"].get("features", "S"),
        "horizon": cfg["horizon"],
        "lookback": cfg["lookback"],
        **scores(forecast, truth),
        "test_windows": len(forecast),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    out = Path(output_dir or cfg.get("output_dir", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}_metrics.json").write_text(json.dumps(result, indent=2))
    _plot(splits, forecast, truth, cfg, name, out / f"{name}_forecast.png")
    print(
        f"{name} ({result['features']}) horizon {cfg['horizon']}: test MSE {result['mse']:.4f}, "
        f"MAE {result['mae']:.4f} over {len(forecast)} windows (scaled values); outputs in {out}/"
    )
    return result


def _plot(splits, forecast, truth, cfg, name: str, path: Path) -> None:
    """The last test window: context, truth and forecast of the first component (scaled values)."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    L, H = cfg["lookback"], cfg["horizon"]
    context = splits.test.values(copy=False)[-(L + H) : -H, 0]
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    ax.plot(range(L), context, color="0.5", label="context")
    ax.plot(range(L, L + H), truth[-1, :, 0], color="k", label="truth")
    ax.plot(range(L, L + H), forecast[-1, :, 0], color="C3", label="S4Model")
    ax.set(title=f"{name} {splits.columns[0]}: last test window", xlabel="step", ylabel="scaled value")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
