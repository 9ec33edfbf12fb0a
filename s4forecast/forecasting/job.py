"""The main forecasting job: fit S4Model on an Informer dataset, score every test window, plot one.

    python -m s4forecast forecast [--config configs/forecast/etth1.yaml] [--data-dir DIR]

Writes ``<output_dir>/<dataset>_metrics.json`` and ``<output_dir>/<dataset>_forecast.png``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import yaml  # noqa: E402

from s4forecast.data.informer import load_informer  # noqa: E402
from s4forecast.forecasting.evaluation import scores, test_windows  # noqa: E402
from s4forecast.forecasting.s4_model import S4Model  # noqa: E402


def run(config_path: str | Path, data_dir=None, output_dir=None) -> dict:
    with open(config_path) as f:
        cfg = yaml.safe_load(f)
    splits = load_informer(cfg["dataset"], cfg["features"], cfg["lookback"], data_dir)
    model = S4Model(cfg["lookback"], cfg["horizon"], **cfg["model"],
                    pl_trainer_kwargs={"enable_model_summary": False, "logger": False, "enable_checkpointing": False, **cfg.get("trainer", {})})
    start = time.perf_counter()
    model.fit(splits.train, val_series=splits.val)
    forecast, truth = test_windows(model, splits.test, cfg["lookback"], cfg["horizon"], verbose=True)
    result = {"dataset": cfg["dataset"], "features": cfg["features"], "horizon": cfg["horizon"],
              "lookback": cfg["lookback"], **scores(forecast, truth), "test_windows": len(forecast),
              "wall_time_s": round(time.perf_counter() - start, 1)}
    out = Path(output_dir or cfg.get("output_dir", "outputs"))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{cfg['dataset']}_metrics.json").write_text(json.dumps(result, indent=2))
    _plot(splits, forecast, truth, cfg, out / f"{cfg['dataset']}_forecast.png")
    print(f"{cfg['dataset']} ({cfg['features']}) horizon {cfg['horizon']}: test MSE {result['mse']:.4f}, "
          f"MAE {result['mae']:.4f} over {len(forecast)} windows (scaled values); outputs in {out}/")
    return result


def _plot(splits, forecast, truth, cfg, path: Path) -> None:
    """The last test window: context, truth and forecast of the first component (scaled values)."""
    L, H = cfg["lookback"], cfg["horizon"]
    context = splits.test.values(copy=False)[-(L + H):-H, 0]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(range(L), context, color="0.5", label="context")
    ax.plot(range(L, L + H), truth[-1, :, 0], color="k", label="truth")
    ax.plot(range(L, L + H), forecast[-1, :, 0], color="C3", label="S4Model")
    ax.set(title=f"{cfg['dataset']} {splits.columns[0]}: last test window", xlabel="step", ylabel="scaled value")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
