"""Optuna studies that choose each model's configuration for each setting of the Informer benchmark,
and the results rows of the chosen configurations.

    python -m benchmarks.informer.sweep --dataset ETTh1 --features S --horizon 24 --model s4 nlinear
        [--n-trials K] [--workers W] [--storage URL] [--seeds 0 1 2]
    python -m benchmarks.informer.sweep --all
    python -m benchmarks.informer.sweep --dataset ETTh1 --features S --horizon 168 --test-horizons 24 48 168 336 720

One study per (dataset, features, horizon, model), named ``<dataset>-<features>-<horizon>-<model>``,
in RDB storage that persists (default: the SQLite file benchmarks/informer/studies/<dataset>-<features>.db;
any Optuna URL, e.g. PostgreSQL, for several workers or machines). Every model is swept by the same
machinery: the sampler and pruner of configs/informer/sweep.yaml (TPE, Hyperband on epochs), the same
number of trials, its own space, each trial trained to its own convergence (full epochs, early stopping
on val) and scored by its best val loss. Each study also runs one trial at its model's own config for
the setting (``setting_trial`` of the sweep config: S4's hand-chosen config of the benchmark table, a
peer's config there or its library's defaults), so a study's best is never worse on val than the config
it replaces, every model alike. A re-run resumes: a study only gets its missing trials, and a
(study, trial, seed) already in results.csv is not re-run. The best trial is then re-trained once per
seed and tested; each row records ``study``, ``trial`` and ``seed``. Each study's optimisation history and
parameter importances (fANOVA) go to benchmarks/informer/studies/<study>/.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import warnings
from pathlib import Path

import optuna
import pandas as pd
import torch
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState

from benchmarks.informer import config as configs
from benchmarks.informer.models import BASE_OF, missing_dependency, resolved
from benchmarks.informer.run import ALL_DATASETS, RESULTS, append, fit, read_results, run_setting, setting_arguments
from s4forecast.config_files import read_with_base
from s4forecast.data.informer import load_informer
from s4forecast.tune import space as search_space
from s4forecast.tune.pruning import OptunaPruning
from s4forecast.tune.sweep import load_study, make_storage, run_trials
from s4forecast.tune.sweep import storage_url as sweep_storage_url

SWEEP_CONFIG = configs.CONFIG_DIR / "sweep.yaml"
STUDIES = Path(__file__).resolve().parent / "studies"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
SWEEP_COLUMNS = ("study", "trial", "seed")
SETTING_TRIAL = "setting_config"  # user attribute of the trial at the model's own config for the setting
log = logging.getLogger("benchmarks.informer.sweep")


def study_name(dataset: str, features: str, horizon: int, model: str) -> str:
    return f"{dataset}-{features}-{horizon}-{model}"


def storage_url(dataset: str, features: str, url: str | None = None, root: Path = STUDIES) -> str:
    """``url``, or the setting's SQLite file ``<root>/<dataset>-<features>.db``."""
    return sweep_storage_url(f"{dataset}-{features}", url, root)


def trial_base(setting: tuple, config_dir: Path = configs.CONFIG_DIR) -> dict:
    """The config every trial of a setting's studies starts from: the dataset x features config, without
    the per-horizon choices of its ``by_horizon`` section (hand-chosen on val for the benchmark's rows, e.g.
    ``subtract_last``): a study searches its space from the same base at every horizon and dataset."""
    return configs.load(setting[0], setting[1], config_dir)


def trial_config(cfg: dict, sweep: dict, model: str, params: dict) -> dict:
    """``cfg`` (a :func:`trial_base`) with the sweep's trainer and a sampled configuration of ``model``
    (``lookback`` is shared by the setting; everything else goes to the model's section)."""
    params = dict(params)
    lookback = params.pop("lookback")
    section = configs.merge(cfg.get(BASE_OF.get(model, model), {}), params)  # s4-base: over S4's section
    return configs.merge(cfg, {"lookback": lookback, "trainer": sweep["trainer"], model: section})


def setting_params(setting: tuple, sweep: dict, model: str, config_dir: Path = configs.CONFIG_DIR) -> dict:
    """The trial parameters of ``model``'s own config for the setting (configs/informer with the horizon's
    choices, as the benchmark table runs it; a peer without a section there at its library's defaults),
    those its space holds; the sampler draws the others. S4's ``init``, ``discretization`` and Δ range
    become the parameters :func:`sample` draws (``init_<mode>``, ``dt_span``)."""
    cfg = configs.load(*setting[:2], config_dir, setting[2])
    values = {**resolved(model, cfg.get(model, {})), "lookback": cfg["lookback"]}
    if model == "s4":
        mode = values["mode"]
        values |= {f"init_{mode}": values["init"], f"discretization_{mode}": values["discretization"]}
        values["dt_span"] = values["dt_max"] / values["dt_min"]
    space = search_space.parameters(sweep["spaces"][model])
    return {name: values[name] for name, entry in space.items() if name in values and search_space.holds(entry, values[name])}


def sample(trial: optuna.Trial, sweep: dict, model: str) -> dict:
    space = sweep["spaces"][model]
    return search_space.sample(trial, space) if model == "s4" else search_space.sample_plain(trial, space)


def objective(setting: tuple, model: str, cfg: dict, sweep: dict, data_dir=None, progress: bool = False):
    """trial -> the best val loss of ``model`` trained with the trial's configuration on the setting."""
    dataset, features, horizon = setting
    torch.set_num_threads(1)  # built in each worker process: one thread each

    def run_trial(trial: optuna.Trial) -> float:
        trial_cfg = trial_config(cfg, sweep, model, sample(trial, sweep, model))
        splits = load_informer(dataset, features, trial_cfg["lookback"], data_dir)
        pruning = OptunaPruning(trial)
        with tempfile.TemporaryDirectory() as work_dir:
            _, early_stopping, seconds = fit(model, trial_cfg, horizon, splits, Path(work_dir), progress, (pruning,))
        trial.set_user_attr("train_time_s", round(seconds, 1))
        trial.set_user_attr("worker_pid", os.getpid())
        pruning.raise_if_pruned()
        return float(early_stopping.best_score)

    return run_trial


def study_spec(name: str, sweep: dict) -> dict:
    return {"study_name": name, "sampler": sweep["sampler"], "pruner": sweep["pruner"]}


def searched(sweep: dict, model: str) -> dict:
    """What a study of ``model`` searched: its space and the trainer that scored its trials."""
    return {"space": sweep["spaces"][model], "trainer": sweep["trainer"]}


def as_searched(sweep: dict, study: optuna.Study, model: str) -> dict:
    """``sweep`` with ``model``'s space and the trainer that ``study`` recorded (its ``searched`` attribute),
    so that its trials' parameters can be sampled again after the sweep config's space has changed."""
    recorded = study.user_attrs.get("searched", searched(sweep, model))
    return {**sweep, "spaces": {**sweep["spaces"], model: recorded["space"]}, "trainer": recorded["trainer"]}


def check_space(study: optuna.Study, sweep: dict, model: str, adding: bool) -> None:
    """Record what the study searches; refuse to add trials to a study that searched something else
    (its trials would mix two spaces, and its best trial would not be the new space's). A finished study
    of another space stands as the record of what it searched (its best trial is re-trained with that)."""
    recorded, current = study.user_attrs.get("searched"), searched(sweep, model)
    if recorded is None:
        study.set_user_attr("searched", current)
    elif recorded != current and adding:
        raise SystemExit(
            f"study {study.study_name} searched another space or trainer than the sweep config's now "
            f"(was {recorded}, is {current}); re-run with --fresh to start it anew (deletes its trials and rows)"
        )
    elif recorded != current:
        log.warning(
            "study %s is finished under another space or trainer than the sweep config's now; its best trial is "
            "re-trained as it was searched (--fresh searches the new one)",
            study.study_name,
        )


def discard(name: str, url: str, results: Path) -> None:
    """Delete the study ``name`` from its storage and its rows from the results file (``--fresh``)."""
    if name in optuna.get_all_study_names(make_storage(url)):
        optuna.delete_study(study_name=name, storage=make_storage(url))
        log.info("deleted study %s", name)
    # every cell as the text it is, so that the rows kept are written back unchanged (no 168 -> 168.0)
    if (
        results.exists()
        and "study" in (df := pd.read_csv(results, dtype=str, keep_default_na=False)).columns
        and (df.study == name).any()
    ):
        df[df.study != name].to_csv(results, index=False)
        log.info("dropped %d rows of study %s from %s", int((df.study == name).sum()), name, results)


def run_study(
    setting, model, cfg, sweep, url, n_trials, workers=1, data_dir=None, progress=True, first: dict | None = None
) -> optuna.Study:
    """Bring the study to ``n_trials`` finished sampled trials, plus (given ``first``, the parameters of
    :func:`setting_params`) one trial enqueued at them, which Optuna runs before any other; over ``workers``
    processes (each stops once the study has its trials; trials the others are running then still finish,
    so up to ``workers - 1`` more)."""
    name = study_name(*setting, model)
    study = load_study(study_spec(name, sweep), url)  # created once before the workers race for it
    finished = study.get_trials(states=FINISHED)
    missing = max(n_trials - sum(not t.user_attrs.get(SETTING_TRIAL) for t in finished), 0)
    setting_states = {t.state for t in study.get_trials(deepcopy=False) if t.user_attrs.get(SETTING_TRIAL)}
    first_pending = first is not None and not setting_states & set(FINISHED)
    check_space(study, sweep, model, adding=missing + first_pending > 0)
    if first_pending and not setting_states & {TrialState.WAITING, TrialState.RUNNING}:  # enqueued once
        study.enqueue_trial(first, user_attrs={SETTING_TRIAL: True})
    if missing + first_pending > 0:
        log.info(
            "study %s: %d sampled trials of %d to run%s", name, missing, n_trials, " and its setting-config trial" * first_pending
        )
        until = len(finished) + missing + first_pending
        run_trials(
            study_spec(name, sweep), url, objective, (setting, model, cfg, sweep, data_dir), until, workers, progress, FINISHED
        )
    return optuna.load_study(study_name=name, storage=make_storage(url))


def with_sweep_columns(results: Path) -> None:
    """Add the ``study``, ``trial`` and ``seed`` columns to an existing results file (empty in older rows)."""
    if results.exists():
        df = read_results(results)
        if missing := [c for c in SWEEP_COLUMNS if c not in df.columns]:
            df.reindex(columns=[*df.columns, *missing]).to_csv(results, index=False)


def tested(results: Path, study: str, trial: int, seed: int, horizon: int, model: str) -> bool:
    if not results.exists():
        return False
    df = read_results(results)
    if "study" not in df.columns:
        return False
    match = (df.study == study) & (df.trial == trial) & (df.seed == seed) & (df.horizon == horizon) & (df.status == "ok")
    match &= df.model == model
    return bool(match.any())


def test_best(setting, model, cfg, sweep, study: optuna.Study, seeds, results: Path, data_dir=None, progress=True) -> None:
    """Re-train the study's best trial once per seed at the setting's horizon, test it, and append one row
    per seed (a study may serve several horizons: its rows then share ``study`` and ``trial``). ``cfg`` is
    the config the study's trials ran with, so that a per-horizon refinement changes only the horizon
    (not the keys another horizon's config file sets outside the search space)."""
    best = study.best_trial
    params = sample(optuna.trial.FixedTrial(best.params), sweep, BASE_OF.get(model, model))
    for seed in seeds:
        if tested(results, study.study_name, best.number, seed, setting[2], model):
            log.info("skip %s trial %d seed %d horizon %d (in %s)", study.study_name, best.number, seed, setting[2], results)
            continue
        best_cfg = configs.merge(trial_config(cfg, sweep, model, params), {"seed": seed})
        row = run_setting(*setting, model, best_cfg, data_dir, progress)
        append(results, {**row, "study": study.study_name, "trial": best.number, "seed": seed})
        log.info("%s trial %d seed %d: test mse %.4f mae %.4f", study.study_name, best.number, seed, row["mse"], row["mae"])


def plot_study(study: optuna.Study, out: Path) -> None:
    """``<out>/<study>/optimization_history.png``, and with two complete trials or more the fANOVA parameter
    importances (``importances.csv``, ``param_importances.png``)."""
    import matplotlib.pyplot as plt  # optuna's plots use pyplot; with no display it picks the Agg backend
    from optuna.visualization import matplotlib as ovm

    folder = out / study.study_name
    folder.mkdir(parents=True, exist_ok=True)
    plots = {"optimization_history": lambda: ovm.plot_optimization_history(study)}
    if len(study.get_trials(states=(TrialState.COMPLETE,))) >= 2:
        importances = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
        pd.Series(importances, name="importance").rename_axis("param").to_csv(folder / "importances.csv")
        plots["param_importances"] = lambda: ovm.plot_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            fig = plot().get_figure()
        fig.set_size_inches(9, 4.5)
        fig.tight_layout()
        fig.savefig(folder / f"{name}.png", dpi=100)
        plt.close(fig)


def settings(args, config_dir: Path):
    for dataset in ALL_DATASETS if args.all else [args.dataset]:
        for features in [args.features] if args.features else ["S", "M"]:
            try:
                horizons = configs.load(dataset, features, config_dir)["horizons"]
            except FileNotFoundError:
                continue
            for horizon in [args.horizon] if args.horizon else horizons:
                yield dataset, features, horizon


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    setting_arguments(p, "models to sweep (default: the sweep config's list)")
    p.add_argument("--n-trials", type=int, default=None, help="finished trials per study (default: the sweep config's)")
    p.add_argument("--workers", type=int, default=1, help="worker processes per study (one torch thread each)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: SQLite under benchmarks/informer/studies/)")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds of the best trial's test runs")
    p.add_argument(
        "--test-horizons",
        type=int,
        nargs="+",
        default=None,
        help="horizons at which the study's best trial is re-trained and tested (default: the study's own): "
        "one study per dataset and features, refined per horizon",
    )
    p.add_argument("--studies-dir", type=Path, default=STUDIES, help="SQLite studies and their plots")
    p.add_argument(
        "--sweep-config", type=Path, default=SWEEP_CONFIG, help="the sweep config (a `base:` key merges it over another)"
    )
    p.add_argument("--config-dir", type=Path, default=configs.CONFIG_DIR)
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start the studies anew: delete their trials and their rows of the results file first "
        "(needed after a model's space or the trainer changed)",
    )
    args = p.parse_args(argv)
    if not args.all and not args.dataset:
        p.error("give --dataset (with optional --features/--horizon) or --all")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(1)
    sweep_config = read_with_base(args.sweep_config)
    for model in args.models or sweep_config["models"]:
        if BASE_OF.get(model, model) not in sweep_config["spaces"]:
            p.error(f"{args.sweep_config} has no space for model {model!r}; spaces: {', '.join(sweep_config['spaces'])}")
    with_sweep_columns(args.results)
    args.studies_dir.mkdir(parents=True, exist_ok=True)
    for setting in settings(args, args.config_dir):
        sweep = configs.for_features(sweep_config, setting[1])
        cfg = trial_base(setting, args.config_dir)
        url = storage_url(setting[0], setting[1], args.storage, args.studies_dir)
        for model in args.models or sweep["models"]:
            if need := missing_dependency(model):
                log.warning("%s: not run here: %s", model, need)
                continue
            studied = BASE_OF.get(model, model)  # s4-base tests the S4 study's best trial, having none of its own
            if model in BASE_OF:
                study = optuna.load_study(study_name=study_name(*setting, studied), storage=make_storage(url))
            else:
                n_trials = args.n_trials or sweep["n_trials"]
                if args.fresh:
                    discard(study_name(*setting, model), url, args.results)
                first = setting_params(setting, sweep, model, args.config_dir) if sweep.get("setting_trial") else None
                study = run_study(
                    setting, model, cfg, sweep, url, n_trials, args.workers, args.data_dir, not args.no_progress, first
                )
                plot_study(study, args.studies_dir)
            if not study.get_trials(states=(TrialState.COMPLETE,)):
                log.warning("study %s has no complete trial; nothing to test", study.study_name)
                continue
            seeds = args.seeds or sweep["seeds"]
            searched_by_study = as_searched(sweep, study, studied)  # its space and trainer, if the config's changed since
            for horizon in args.test_horizons or [setting[2]]:  # the study's own config, at each horizon
                test_best(
                    (*setting[:2], horizon),
                    model,
                    cfg,
                    searched_by_study,
                    study,
                    seeds,
                    args.results,
                    args.data_dir,
                    not args.no_progress,
                )


if __name__ == "__main__":
    main()
