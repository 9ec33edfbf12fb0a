"""The main forecasting job: fit S4Model on an Informer dataset, score every test window, plot one.

    python -m s4forecast forecast [--config configs/forecast/etth1.yaml] [--data-dir DIR]

Writes ``<output_dir>/<dataset>_metrics.json`` and ``<output_dir>/<dataset>_forecast.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from s4forecast.config_files import ConfigError, check_keys, read_yaml

REQUIRED = ("dataset", "features", "lookback", "horizon", "model")
OPTIONAL = ("output_dir", "trainer", "sweep")  # sweep: where a sweep-report config came from


def load_config(path: str | Path) -> dict:
    """A forecast config (see configs/forecast/etth1.yaml), its keys checked before any heavy import."""
    cfg = check_keys(read_yaml(path), path, REQUIRED, OPTIONAL, sections=("model", "trainer"))
    if cfg["features"] not in ("S", "M"):
        raise ConfigError(f"{path}: features must be S or M; got {cfg['features']!r}")
    if "pl_trainer_kwargs" in cfg["model"]:
        raise ConfigError(
            f"{path}: put Lightning Trainer settings under the top-level 'trainer' key, not model.pl_trainer_kwargs"
        )
    return cfg


def run(config_path: str | Path, data_dir=None, output_dir=None, progress: bool = True) -> dict:
    cfg = load_config(config_path)
    from s4forecast.data.informer import load_informer
    from s4forecast.forecasting.evaluation import scores, test_windows
    from s4forecast.forecasting.s4_model import S4Model

    splits = load_informer(cfg["dataset"], cfg["features"], cfg["lookback"], data_dir)
    trainer = {
        "enable_model_summary": False,
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": progress,
        **cfg.get("trainer", {}),
    }
    model = S4Model(cfg["lookback"], cfg["horizon"], **cfg["model"], pl_trainer_kwargs=trainer)
    start = time.perf_counter()
    model.fit(splits.train, val_series=splits.val)
    forecast, truth = test_windows(model, splits.test, cfg["lookback"], cfg["horizon"], verbose=progress)
    result = {
        "dataset": cfg["dataset"],
        "features": cfg["features"],
        "horizon": cfg["horizon"],
        "lookback": cfg["lookback"],
        **scores(forecast, truth),
        "test_windows": len(forecast),
        "wall_time_s": round(time.perf_counter() - start, 1),
    }
    out = Path(output_dir or cfg.get("output_dir", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{cfg['dataset']}_metrics.json").write_text(json.dumps(result, indent=2))
    _plot(splits, forecast, truth, cfg, out / f"{cfg['dataset']}_forecast.png")
    print(
        f"{cfg['dataset']} ({cfg['features']}) horizon {cfg['horizon']}: test MSE {result['mse']:.4f}, "
        f"MAE {result['mae']:.4f} over {len(forecast)} windows (scaled values); outputs in {out}/"
    )
    return result


def _plot(splits, forecast, truth, cfg, path: Path) -> None:
    """The last test window: context, truth and forecast of the first component (scaled values)."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    L, H = cfg["lookback"], cfg["horizon"]
    context = splits.test.values(copy=False)[-(L + H) : -H, 0]
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    ax.plot(range(L), context, color="0.5", label="context")
    ax.plot(range(L, L + H), truth[-1, :, 0], color="k", label="truth")
    ax.plot(range(L, L + H), forecast[-1, :, 0], color="C3", label="S4Model")
    ax.set(title=f"{cfg['dataset']} {splits.columns[0]}: last test window", xlabel="step", ylabel="scaled value")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
