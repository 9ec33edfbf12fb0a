"""Zero-shot change of sampling rate (S4 Sec. 4.3) for forecasting: a model trained at one rate
forecasts data sampled at another, without retraining.

    python -m benchmarks.rate_change [--config configs/benchmarks/rate_change.yaml] [--threads 1]

For each pair (a view of a dataset the model is trained on, a view it forecasts) and each variant
(per step, over patches), on the same test windows of the forecast view (Informer split, scaled with
that view's train statistics), every window covering ``context_hours`` of context and forecasting
``horizon_hours`` ahead:
  (a) naive: the trained model used as it is (chunk lengths in steps, so another span of time);
  (a') Δ only: ``with_rate(r, resample=False)``, Δ x r with chunk lengths in steps (per step only);
  (b) resampled: ``with_rate(r)``, the whole model resampled to the forecast view's steps;
  (c) a model trained on the forecast view, same architecture, same span of time.
r is the forecast view's step over the trained view's. Every model is trained with early stopping on
its val split and its best-val weights; fitted models are kept under runs/rate_change/ and reused.
Writes benchmarks/results/rate_change.csv and rate_change.md.
"""

from __future__ import annotations

import argparse

import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, write_results
from benchmarks.informer.models import trainer_kwargs
from s4forecast import S4Model
from s4forecast.data.informer import InformerSplits, load_informer
from s4forecast.forecasting.evaluation import scores, test_windows

RUNS = ROOT / "runs" / "rate_change"


def steps(hours: float, view: dict) -> int:
    return round(hours * 60 / view["minutes"])


def splits_of(view: dict, features: str, lookback: int, data_dir) -> InformerSplits:
    """The view's splits: the dataset's, then every ``every``-th row of each (val and test keep
    ``lookback`` steps of lead-in at the view's rate)."""
    k = view["every"]
    s = load_informer(view["dataset"], features, lookback * k, data_dir)
    if k == 1:
        return s
    return InformerSplits(s.train[::k], s.val[::k], s.test[::k], s.scaler, s.columns, lookback)


def fitted(name: str, view: dict, patch_hours, cfg: dict, data_dir, progress: bool) -> S4Model:
    """The model of ``view`` for a variant, trained (early stopping, best val weights) or reloaded."""
    model_name = f"{name}-{'step' if patch_hours is None else f'patch{patch_hours}h'}"
    saved = RUNS / f"{model_name}.pt"
    if saved.exists():
        return S4Model.load(str(saved))
    icl, ocl = steps(cfg["context_hours"], view), steps(cfg["horizon_hours"], view)
    patch_len = 1 if patch_hours is None else steps(patch_hours, view)
    model = S4Model(
        icl,
        ocl,
        patch_len=patch_len,
        pl_trainer_kwargs=trainer_kwargs(cfg, progress),
        save_checkpoints=True,
        force_reset=True,
        model_name=model_name,
        work_dir=str(RUNS),
        **cfg["model"],
    )
    data = splits_of(view, cfg["features"], icl, data_dir)
    model.fit(data.train, val_series=data.val)
    best = S4Model.load_from_checkpoint(model_name, work_dir=str(RUNS), best=True)
    best.save(str(saved))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/rate_change.yaml"))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    RUNS.mkdir(parents=True, exist_ok=True)
    views, rows = cfg["views"], []
    for variant, patch_hours in cfg["variants"].items():
        for source, target in cfg["pairs"]:
            src, dst = views[source], views[target]
            rate = dst["minutes"] / src["minutes"]
            trained_src = fitted(source, src, patch_hours, cfg, args.data_dir, not args.no_progress)
            trained_dst = fitted(target, dst, patch_hours, cfg, args.data_dir, not args.no_progress)
            candidates = {"(a) naive": trained_src}
            if trained_src.patch_len == 1:
                candidates["(a') Δ only"] = trained_src.with_rate(rate, resample=False)
            candidates["(b) resampled"] = trained_src.with_rate(rate)
            candidates["(c) trained there"] = trained_dst
            start = max(m.input_chunk_length for m in candidates.values())  # the same windows for all
            horizon = steps(cfg["horizon_hours"], dst)
            test = splits_of(dst, cfg["features"], start, args.data_dir).test
            for name, model in candidates.items():
                forecast, truth = test_windows(model, test, start, horizon)
                rows.append(
                    {
                        "pair": f"{source} -> {target}",
                        "variant": variant,
                        "rate": rate,
                        "model": name,
                        "input_chunk_length": model.input_chunk_length,
                        "output_chunk_length": model.output_chunk_length,
                        "patch_len": model.patch_len,
                        **scores(forecast, truth),
                        "test_windows": len(forecast),
                    }
                )
                print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    trained_there = df[df.model == "(c) trained there"].set_index(["pair", "variant"]).mse
    df["mse_vs_c"] = df.mse / trained_there.loc[list(zip(df.pair, df.variant))].to_numpy()
    write_results(
        "rate_change",
        df,
        f"Zero-shot rate change: {cfg['context_hours']} h of context, {cfg['horizon_hours']} h ahead, features {cfg['features']}",
        "python -m benchmarks.rate_change",
        notes=verdicts(df),
        floatfmt=".4f",
    )


def verdicts(df: pd.DataFrame) -> str:
    """One line per pair and variant: does (b) beat (a), and is it within 15% of (c)'s MSE?"""
    lines = ["Verdicts (goal: (b) below (a) on every pair, and within 15% of (c) on ETTh1 -> ETTm1):", ""]
    for (pair, variant), g in df.groupby(["pair", "variant"], sort=False):
        mse = g.set_index("model").mse
        b, a, c = mse["(b) resampled"], mse["(a) naive"], mse["(c) trained there"]
        lines.append(
            f"- {pair}, {variant}: (b) {b:.4f} vs (a) {a:.4f} ({'beats' if b < a else 'does NOT beat'} naive, "
            f"{b / a - 1:+.1%}); vs (c) {c:.4f}: {b / c - 1:+.1%} ({'within' if b <= 1.15 * c else 'NOT within'} 15%)"
        )
    lines += [
        "",
        "What limits (b), with the evidence: rate_change_analysis.md; kernels at both rates: rate_change_kernels.md/.png.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
