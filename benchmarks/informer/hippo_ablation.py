"""The paper's HiPPO-vs-random question asked of forecasting: a setting's best swept S4 configuration
re-trained with each state-matrix initialisation swapped in, everything else unchanged.

    python -m benchmarks.informer.hippo_ablation --dataset ETTh1 --features S --horizon 24
        [--variants nplr:legs diag:diag-lin ...] [--seeds 0 1 2]

Reads the study ``<dataset>-<features>-<horizon>-s4`` (benchmarks/informer/sweep.py), takes its best
trial and, for each variant (``mode:init``; default every one of the sweep config's S4 space: the
normal-plus-low-rank HiPPO measures legs / legt / lagt / fout, random NPLR, and the diagonal S4D inits;
or a config assignment, ``s4.time_features=false``, for any other one-key question), trains it once per
seed on the setting and tests it. One row per (variant, seed) goes to
benchmarks/informer/results/hippo_ablation.csv with the run's val loss, test MSE / MAE, ``study``,
``trial``, ``variant`` and ``seed``; a re-run skips the rows already there. ``report`` summarises them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import optuna
import torch

from benchmarks.informer import config as configs
from benchmarks.informer.run import RESULTS, append, done, run_setting
from benchmarks.informer.sweep import (
    STUDIES,
    SWEEP_CONFIG,
    as_searched,
    sample,
    storage_url,
    study_name,
    trial_base,
    trial_config,
)
from s4forecast.config_files import read_with_base
from s4forecast.tune.space import CONDITIONAL

ABLATION = RESULTS.parent / "hippo_ablation.csv"
log = logging.getLogger("benchmarks.informer.hippo_ablation")


def variants(space: dict) -> list[str]:
    """Every ``mode:init`` of an S4 search space, in the space's order."""
    return [f"{mode}:{init}" for mode in space["mode"] for init in space["init"][mode]]


def with_variant(params: dict, variant: str, space: dict) -> dict:
    """A trial's raw Optuna parameters with the mode and init of ``variant`` in place of its own (the
    trial's discretization if the mode is the trial's, else the mode's first); every other parameter
    unchanged."""
    mode, init = parse_variant(variant, space)
    discretization = params.get(f"discretization_{mode}", space["discretization"][mode][0])
    kept = {k: v for k, v in params.items() if k != "mode" and not k.startswith(tuple(f"{c}_" for c in CONDITIONAL))}
    return {**kept, "mode": mode, f"init_{mode}": init, f"discretization_{mode}": discretization}


def parse_variant(variant: str, space: dict) -> tuple[str, str]:
    mode, _, init = variant.partition(":")
    if mode not in space["mode"] or init not in space["init"].get(mode, []):
        raise SystemExit(
            f"unknown variant {variant!r}: give mode:init from the sweep's S4 space, one of {', '.join(variants(space))}"
        )
    return mode, init


def trial_variant(params: dict) -> str:
    """The ``mode:init`` of a trial's raw Optuna parameters."""
    return f"{params['mode']}:{params['init_' + params['mode']]}"


def is_assignment(variant: str) -> bool:
    """A variant that sets a config key (``s4.time_features=false``, ``+s4.subtract_last=true``) instead of
    swapping the ``mode:init``."""
    return "=" in variant


def ablate(setting, cfg, sweep, study: optuna.Study, variant_list, seeds, results, data_dir=None, progress=True) -> None:
    """``sweep`` carries the study's own space and trainer (:func:`~benchmarks.informer.sweep.as_searched`)."""
    best = study.best_trial
    space = sweep["spaces"]["s4"]
    for variant in variant_list:
        assignments = [variant] if is_assignment(variant) else []
        raw = best.params if assignments else with_variant(best.params, variant, space)
        params = sample(optuna.trial.FixedTrial(raw), sweep, "s4")
        for seed in seeds:
            if done(results, {"study": study.study_name, "trial": best.number, "variant": variant, "seed": seed}):
                log.info("skip %s seed %d (in %s)", variant, seed, results)
                continue
            run_cfg = configs.override(configs.merge(trial_config(cfg, sweep, "s4", params), {"seed": seed}), assignments)
            row = run_setting(*setting, "s4", run_cfg, data_dir, progress)
            append(
                results,
                {
                    **row,
                    "study": study.study_name,
                    "trial": best.number,
                    "variant": variant,
                    "chosen": variant == trial_variant(best.params),
                    "seed": seed,
                },
            )
            log.info("%s seed %d: val %.4f test mse %.4f", variant, seed, row["val_loss"], row["mse"])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--features", required=True, choices=["S", "M"])
    p.add_argument("--horizon", required=True, type=int)
    p.add_argument(
        "--variants",
        nargs="+",
        default=None,
        help="mode:init, e.g. nplr:legs diag:diag-lin (default: all), or a config assignment such as "
        "s4.time_features=false or +s4.subtract_last=true (write those to their own --results file)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the sweep config's seeds")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: the sweep's SQLite file)")
    p.add_argument("--studies-dir", default=STUDIES, type=Path)
    p.add_argument("--sweep-config", default=SWEEP_CONFIG, type=Path)
    p.add_argument("--config-dir", default=configs.CONFIG_DIR, type=Path)
    p.add_argument("--results", default=ABLATION, type=Path)
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)
    setting = (args.dataset, args.features, args.horizon)
    sweep = configs.for_features(read_with_base(args.sweep_config), args.features)
    name = study_name(*setting, "s4")
    url = storage_url(args.dataset, args.features, args.storage, args.studies_dir)
    try:
        study = optuna.load_study(study_name=name, storage=url)
        study.best_trial  # noqa: B018 -- raises ValueError when no trial is complete
    except (KeyError, ValueError):
        raise SystemExit(f"no study {name} with a complete trial in {url}: run benchmarks.informer.sweep first") from None
    sweep = as_searched(sweep, study, "s4")  # the study's own space: the sweep config's may have changed since
    space = sweep["spaces"]["s4"]
    variant_list = args.variants or variants(space)
    for variant in variant_list:
        if not is_assignment(variant):
            parse_variant(variant, space)
    cfg = trial_base(setting, args.config_dir)
    seeds = args.seeds or sweep["seeds"]
    ablate(setting, cfg, sweep, study, variant_list, seeds, args.results, args.data_dir, not args.no_progress)


if __name__ == "__main__":
    main()
