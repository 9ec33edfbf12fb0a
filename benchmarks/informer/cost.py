"""What the sweeps cost, for RESULTS.md: the hours of each study's trials (Optuna's trial durations; one
torch thread each, so an hour of a trial is about an hour of one core) and of its best trial's test runs
(the results rows' wall time), and the whole plan (every dataset x features pair with data x every
model: one study at the middle horizon, its best trial tested at 5 horizons x 3 seeds) projected from
the pairs whose studies are all finished.

The projection scales the measured pairs' hours (S from S, M from M) by the values a training epoch reads
(train rows x channels): exact for channel-independent models (S4, NLinear's shared weights), an upper bound for
models that read all channels of a window in one pass (TiDE, TSMixer, NHiTS), whose epochs grow
with the train rows only; the lower bound scales by the train rows alone. Where the sweep's trainer caps
an epoch (``limit_train_batches`` a number of batches), an epoch reads at most that many windows' rows;
where a feature set's trainer sets ``train_sequences`` (configs/informer/sweep.yaml, ``by_features``), at
most that many sequences, a window's channels counted once (channel-independent models read fewer windows).
"""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from benchmarks.informer import config as configs
from s4forecast.data.informer import DATASETS, borders, read_frame

HORIZONS_PER_PAIR = 5  # every dataset of the benchmark has five horizons


def study_hours(studies_dir: Path) -> pd.DataFrame:
    """One row per study in the SQLite files of ``studies_dir``: pair (dataset-features), model, finished
    trials, hours of its finished (complete or pruned) trials.

    Failed trials are left out of the hours: each one here is a worker killed mid-trial (a session's end),
    which Optuna's heartbeat marks failed only when the next run of the study starts, so its duration
    spans the time no worker ran (1.4 h for a DLinear trial that had run 2.5 min); its parameters are
    retried as a new trial, which a clean run of the study would run once."""
    rows = []
    for db in sorted(studies_dir.glob("*.db")):
        url = f"sqlite:///{db}"
        for summary in optuna.get_all_study_summaries(url):
            trials = optuna.load_study(study_name=summary.study_name, storage=url).trials
            dataset, features, _, model = summary.study_name.split("-")
            rows.append(
                {
                    "study": summary.study_name,
                    "pair": f"{dataset}-{features}",
                    "model": model,
                    "trials": len(finished := [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]),
                    "study_h": sum(t.duration.total_seconds() for t in finished) / 3600,
                }
            )
    return pd.DataFrame(rows, columns=["study", "pair", "model", "trials", "study_h"])


def test_run_seconds(results: pd.DataFrame) -> pd.Series:
    """Mean wall seconds of one test run (best trial re-trained, then every test window) per study."""
    swept = results[(results.status == "ok") & results.study.notna()]
    return swept.groupby("study").wall_time_s.mean().rename("test_run_s")


def pair_size(pair: str, data_dir=None) -> tuple[int, int] | None:
    """(train rows, channels) of a dataset-features pair; None when its data file is absent."""
    dataset, features = pair.split("-")
    spec = DATASETS[dataset]
    try:
        frame = read_frame(dataset, data_dir, download=False)
    except FileNotFoundError:
        return None
    start, end = borders(spec.split, len(frame), lookback=0)["train"]
    return end - start, 1 if features == "S" else frame.shape[1]


def lines(studies_dir: Path, results: pd.DataFrame, sweep: dict, data_dir=None) -> list[str]:
    """Markdown: hours per finished pair and model, and the plan's projected range of core-hours, for the
    sweep config ``sweep`` (its models, trials per study and seeds per test)."""
    models, n_trials = sweep["models"], sweep["n_trials"]
    test_runs = HORIZONS_PER_PAIR * len(sweep["seeds"])
    studies = study_hours(studies_dir).join(test_run_seconds(results), on="study")
    studies["plan_h"] = studies.study_h + studies.test_run_s.fillna(0) * test_runs / 3600
    finished = studies[studies.trials >= n_trials].groupby("pair").filter(lambda g: set(models) <= set(g.model))
    if finished.empty:
        return []
    per_pair = finished.pivot_table(index="model", columns="pair", values="plan_h").reindex(models)
    measured = per_pair.sum()  # hours of each finished pair, all models
    sizes = {p: pair_size(p, data_dir) for p in (f"{d}-{f}" for d in DATASETS for f in ("S", "M"))}
    planned = {p: s for p, s in sizes.items() if s is not None}
    head = [
        "## What the sweeps cost",
        "",
        f"Hours of one core per model for each pair whose {len(models)} studies have their {n_trials} trials: the",
        f"study's trials plus {test_runs} test runs ({HORIZONS_PER_PAIR} horizons x {len(sweep['seeds'])} seeds) at the mean",
        "wall time of the study's test runs so far (`benchmarks/informer/cost.py`; trials ran beside other jobs on",
        "a 2-core machine).",
        "",
        per_pair.round(2).to_markdown(),
        "",
    ]
    if not set(measured.index) <= set(planned):
        return [*head, "No projection: the dataset files were not found (`--data-dir` or `S4FORECAST_DATA_DIR`)."]
    trainers = {features: configs.for_features(sweep, features).get("trainer", {}) for features in ("S", "M")}
    caps = {features: epoch_cap(trainer) for features, trainer in trainers.items()}
    cap_note = "".join(f"; {features} at most {cap:,}{cap_unit(trainers[features])}" for features, cap in caps.items() if cap)
    rows = pd.Series({p: min(r, caps[p[-1]] or r) for p, (r, _) in planned.items()})
    # an epoch of train_sequences reads that many sequences, whatever a window's channels
    channels = pd.Series({p: 1 if trainers[p[-1]].get("train_sequences") else c for p, (_, c) in planned.items()})
    values = rows * channels
    lower, upper = projected(measured, rows), projected(measured, values)
    absent = [p for p, s in sizes.items() if s is None]
    span = f"{lower:.0f}" if f"{lower:.0f}" == f"{upper:.0f}" else f"{lower:.0f} to {upper:.0f}"
    return [
        *head,
        f"Total: {', '.join(f'{p} {h:.1f} h' for p, h in measured.items())}. The whole plan ({len(planned)} pairs with "
        f"data{'; no data: ' + ', '.join(absent) if absent else ''}) projected from them: {span} "
        f"core-hours (scaled by the train rows an epoch reads{cap_note}, alone and x channels).",
    ]


def projected(measured: pd.Series, scale: pd.Series) -> float:
    """Core-hours of every pair of ``scale`` (its values an epoch reads, per pair): a measured pair at its
    ``measured`` hours, any other at its scale times the hours per value of the measured pairs of its own
    features (S or M; an M epoch of several channels costs more per sequence), or of all measured pairs
    while none of its features is."""
    per_value = measured / scale[measured.index]
    rest = scale.drop(measured.index)
    own = [per_value[per_value.index.str[-1] == pair[-1]] for pair in rest.index]
    rates = [rate.mean() if len(rate) else per_value.mean() for rate in own]
    return measured.sum() + (rest * rates).sum()


def epoch_cap(trainer: dict) -> int | None:
    """Train rows one epoch reads at most: its ``train_sequences`` when it sets them (a window or one channel
    of it each, models.with_epoch_cap), else the windows of ``limit_train_batches`` batches when that is a
    number of batches (each window starts at another row, so windows and rows are about the same), else
    None (every row)."""
    if trainer.get("train_sequences"):
        return trainer["train_sequences"]
    batches = trainer.get("limit_train_batches")
    return batches * trainer["batch_size"] if isinstance(batches, int) else None


def cap_unit(trainer: dict) -> str:
    return " sequences" if trainer.get("train_sequences") else f", {trainer['limit_train_batches']} batches"
