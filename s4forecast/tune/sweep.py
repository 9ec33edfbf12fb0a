"""Run a sweep (one or several worker processes sharing one Optuna study) and report on it.

    s4forecast sweep --config configs/sweep/etth1.yaml --n-trials 50 [--storage URL] [--workers K]
    s4forecast sweep-report --study NAME [--storage URL] [--out DIR]

Storage: by default an SQLite file ``sweeps/<study>.db`` (one command on a laptop); any Optuna RDB
URL (``postgresql://user@host/db``) lets processes on several machines share the study. Trials
send heartbeats: a killed worker's running trial is marked failed (and retried once) by the next
worker, finished trials are never lost, and re-running the command continues the study.
"""

from __future__ import annotations

import multiprocessing
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import optuna
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.study import MaxTrialsCallback
from optuna.trial import TrialState
from sqlalchemy.exc import SQLAlchemyError

from s4forecast.config_files import ConfigError, check_keys, read_yaml
from s4forecast.data.sources import check_source, name_of
from s4forecast.tune import space as search_space
from s4forecast.tune.objective import KEYS as OBJECTIVE_KEYS
from s4forecast.tune.objective import OBJECTIVES

SWEEP_DIR = Path("sweeps")


def check_study_name(name) -> str:
    """A study name is also a file name under ``sweeps/``: letters, digits, ``-``, ``_`` and ``.``, not
    starting with ``.`` (so ``../x`` cannot write outside the folder, nor ``""`` make a hidden file).

    Parameters
    ----------
    name
        The study name.

    Returns
    -------
    str
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*", name):
        raise ConfigError(f"study_name must be letters, digits, '-', '_' or '.' (not starting with '.'); got {name!r}")
    return name


def storage_url(study_name: str, url: str | None = None, root: Path = SWEEP_DIR) -> str:
    """``url``, or the default SQLite file ``<root>/<study_name>.db`` (nothing is created here).

    Parameters
    ----------
    study_name
        The study.
    url
        An SQLAlchemy URL, or None.
    root
        The directory of the default SQLite files.

    Returns
    -------
    str
    """
    return url or f"sqlite:///{(root / f'{check_study_name(study_name)}.db').resolve()}"


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def open_existing_study(study_name: str, url: str) -> optuna.Study:
    """The study ``study_name`` in storage ``url``; a missing SQLite file or study is a ConfigError that
    lists the studies there, and no file or database is created.

    Parameters
    ----------
    study_name
        The study.
    url
        Its storage.

    Returns
    -------
    optuna.Study
    """
    path = _sqlite_path(url)
    if path is not None and not path.is_file():
        found = sorted(p.stem for p in path.parent.glob("*.db")) if path.parent.is_dir() else []
        raise ConfigError(
            f"no study {study_name!r}: {path} does not exist"
            + (f"; studies under {path.parent}/: {', '.join(found)}" if found else "")
        )
    storage = make_storage(url)
    names = optuna.get_all_study_names(storage)
    if study_name not in names:
        raise ConfigError(f"no study {study_name!r} in {url}; studies there: {', '.join(names) or 'none'}")
    return optuna.load_study(study_name=study_name, storage=storage)


def make_storage(url: str) -> RDBStorage:
    """RDB storage with heartbeats: a trial whose worker died is failed after 30 s and retried once.

    Parameters
    ----------
    url
        An SQLAlchemy URL.

    Returns
    -------
    optuna.storages.RDBStorage
    """
    with warnings.catch_warnings():  # heartbeats are flagged experimental in Optuna; we rely on them knowingly
        warnings.simplefilter("ignore", ExperimentalWarning)
        try:
            return RDBStorage(
                url,
                heartbeat_interval=10,
                grace_period=30,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
        except (SQLAlchemyError, ValueError, ImportError) as e:  # a malformed URL, no driver, no server
            raise ConfigError(f"storage {url!r} cannot be opened: {type(e).__name__}: {str(e).splitlines()[0]}") from None


def load_config(path: str | Path) -> dict:
    """A sweep config (see ``configs/sweep/*.yaml``), keys and search space checked.

    Parameters
    ----------
    path
        The config file.

    Returns
    -------
    dict
    """
    cfg = check_keys(
        read_yaml(path),
        path,
        ("study_name", "data", "objective", "space"),
        ("sampler", "pruner"),
        sections=("data", "objective", "space", "sampler", "pruner"),
    )
    check_study_name(cfg["study_name"])
    for kind, module in (("sampler", optuna.samplers), ("pruner", optuna.pruners)):
        name = (cfg.get(kind) or {}).get("name")
        valid = sorted(n for n in dir(module) if n.endswith(kind.capitalize()) and not n.startswith("Base"))
        if cfg.get(kind) and name not in valid:
            raise ConfigError(f"{path}: unknown {kind} {name!r}; Optuna's: {', '.join(valid)}")
    if cfg["objective"].get("task") not in OBJECTIVES:
        raise ConfigError(f"{path}: objective.task must be one of {', '.join(OBJECTIVES)}; got {cfg['objective'].get('task')!r}")
    check_keys(cfg["objective"], f"{path}: objective", *OBJECTIVE_KEYS[cfg["objective"]["task"]])
    if cfg["objective"]["task"] == "forecast":
        check_source(cfg["data"], f"{path}: data")
    search_space.validate(cfg["space"])
    return cfg


def on_data(cfg: dict, data: dict) -> dict:
    """A forecasting sweep config ``cfg`` run on ``data`` (a ``data/sources.py`` mapping, e.g. the command
    line's ``--csv``) instead of its own: the same space, objective, sampler and pruner, in a study of its
    own, ``s4-<data name>-<features>-<horizon>`` (``s4-sales-S-24``).

    Parameters
    ----------
    cfg
        A forecasting sweep config.
    data
        A data mapping.

    Returns
    -------
    dict
    """
    if cfg["objective"]["task"] != "forecast":
        raise ConfigError(
            f"--csv gives a forecasting sweep its data; study {cfg['study_name']!r} is a {cfg['objective']['task']} sweep"
        )
    data = check_source(data, "--csv")
    name = f"s4-{name_of(data)}-{data.get('features', 'S')}-{cfg['objective']['horizon']}"
    return {**cfg, "study_name": check_study_name(name), "data": data}


def _component(module, spec: dict | None, **extra):
    spec = dict(spec or {})
    return getattr(module, spec.pop("name"))(**spec, **extra) if spec else None


class PerTrialSeed(optuna.samplers.BaseSampler):
    """A seeded sampler whose random draws for trial ``n`` come from the stream ``(seed, n)``.

    Trial numbers are unique within a study, so every process that adds trials to it (``--workers``, a
    resumed run, a second command or machine on the same storage) draws new values, and a study's trials
    are the same however its runs were split. Seeding at load time instead (``seed + worker``, or
    ``(seed, worker, trials so far)``) gave two commands that loaded the study at the same count the same
    stream: the WTH-S-168 TSMixer study repeated two trials so. Wraps the configured sampler; its random
    states (TPE's and its start-up random sampler's) are reseeded before each trial.

    Parameters
    ----------
    sampler
        The sampler whose draws are seeded.
    seed
        The study's seed.
    """

    def __init__(self, sampler: optuna.samplers.BaseSampler, seed: int):
        self._sampler, self._seed = sampler, seed
        # Optuna's samplers keep their random state private (``_rng``, TPE's ``_random_sampler``); the
        # tests of per-trial draws fail if that changes
        self._states = [s._rng for s in (sampler, getattr(sampler, "_random_sampler", None)) if hasattr(s, "_rng")]
        if not self._states:
            raise TypeError(f"{type(sampler).__name__} has no random state to seed per trial")

    def before_trial(self, study, trial) -> None:
        streams = np.random.SeedSequence([self._seed, trial.number]).generate_state(len(self._states))
        for state, stream in zip(self._states, streams):
            state.rng.seed(int(stream))
        self._sampler.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._sampler.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._sampler.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._sampler.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._sampler.reseed_rng()


def make_sampler(spec: dict | None) -> optuna.samplers.BaseSampler:
    """The config's sampler (none given: TPE); with a ``seed``, seeded per trial (:class:`PerTrialSeed`).

    Parameters
    ----------
    spec
        ``{"name": ..., "seed": ..., ...}`` or None.

    Returns
    -------
    optuna.samplers.BaseSampler
    """
    spec = dict(spec or {"name": "TPESampler"})
    seed = spec.pop("seed", None)
    sampler = _component(optuna.samplers, spec)
    return sampler if seed is None else PerTrialSeed(sampler, seed)


def load_study(cfg: dict, url: str) -> optuna.Study:
    """The study ``cfg["study_name"]`` in storage ``url`` (created if absent), minimised, with the
    config's pruner and sampler (:func:`make_sampler`); the config is kept as the study's user attribute.

    Parameters
    ----------
    cfg
        A sweep config (``study_name``, ``sampler``, ``pruner``).
    url
        The storage.

    Returns
    -------
    optuna.Study
    """
    study = optuna.create_study(
        study_name=cfg["study_name"],
        storage=make_storage(url),
        direction="minimize",
        load_if_exists=True,
        pruner=_component(optuna.pruners, cfg.get("pruner")),
    )
    study.sampler = make_sampler(cfg.get("sampler"))
    study.set_user_attr("config", cfg)
    return study


ENDED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def run_trials(
    spec: dict,
    url: str,
    objective: Callable[..., Callable[[optuna.Trial], float]],
    args: tuple,
    until: int,
    workers: int = 1,
    progress: bool = True,
    states: tuple[TrialState, ...] = ENDED,
) -> None:
    """Optimise the study of ``spec`` (``study_name``, ``sampler``, ``pruner``: :func:`load_study`) in storage
    ``url`` with the objective ``objective(*args)`` (built in each worker) until it holds ``until`` trials in
    ``states``, over ``workers`` processes (spawned: ``objective`` and ``args`` must pickle). Each worker stops
    once the study has them; trials the others are running then still finish, so up to ``workers - 1``
    more. The one runner of the package's sweeps and of the benchmark harness's studies.

    Parameters
    ----------
    spec
        ``study_name``, ``sampler``, ``pruner``.
    url
        The storage.
    objective
        ``objective(*args)`` gives the trial function.
    args
        Its arguments (picklable: workers are spawned).
    until
        The number of ended trials to reach.
    workers
        Processes side by side.
    progress
        Report each finished trial.
    states
        The trial states that count as ended.
    """
    load_study(spec, url)  # created once before the workers race for it
    if workers == 1:
        _worker(spec, url, objective, args, until, states, 0, progress)
        return
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(spec, url, objective, args, until, states, i, progress)) for i in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()


def _worker(spec, url, objective, args, until, states, worker, progress) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = load_study(spec, url)
    study.optimize(
        objective(*args),
        callbacks=[MaxTrialsCallback(until, states=states)],
        show_progress_bar=progress and worker == 0,
    )


def sweep_objective(cfg: dict, data_dir):
    """The objective of a sweep config: its task's (``objective.py``).

    Parameters
    ----------
    cfg
        A sweep config.
    data_dir
        Where the datasets are.

    Returns
    -------
    callable
        trial -> value.
    """
    return OBJECTIVES[cfg["objective"]["task"]](cfg, data_dir)


def run_sweep(
    config_path: str | Path,
    n_trials: int,
    url: str | None = None,
    workers: int = 1,
    data_dir=None,
    progress: bool = True,
    data: dict | None = None,
) -> optuna.Study:
    """Add trials to the config's Optuna study (created or resumed in its storage).

    Parameters
    ----------
    config_path
        A sweep config (``configs/sweep/*.yaml``): the study, its space, sampler, pruner and objective.
    n_trials
        How many trials to add to those that ended.
    url
        The study's storage (SQLAlchemy URL); None: a SQLite file under the sweeps directory.
    workers
        Processes that run trials side by side (one torch thread each).
    data_dir
        Where the datasets are; None: ``$S4FORECAST_DATA_DIR``.
    progress
        Report each finished trial.
    data
        A ``data/sources.py`` mapping: sweep the config's space on that data, in a study of its own
        (:func:`on_data`).

    Returns
    -------
    optuna.Study
        The study, reloaded after the trials.
    """
    cfg = load_config(config_path)
    if data is not None:
        cfg = on_data(cfg, data)
    url = storage_url(cfg["study_name"], url)
    if (path := _sqlite_path(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    ended = len(load_study(cfg, url).get_trials(deepcopy=False, states=ENDED))
    run_trials(cfg, url, sweep_objective, (cfg, data_dir), ended + n_trials, workers, progress)
    study = optuna.load_study(study_name=cfg["study_name"], storage=make_storage(url))
    states = [t.state.name for t in study.trials]
    print(
        f"study {cfg['study_name']}: {len(states)} trials ({states.count('COMPLETE')} complete, "
        f"{states.count('PRUNED')} pruned, {states.count('FAIL')} failed) in {url}"
    )
    return study


def best_config(study: optuna.Study) -> dict:
    """The best trial as a ready config: for ``s4forecast forecast --config`` (forecasting sweeps) or
    ``s4forecast classify --config`` (classification sweeps).

    Parameters
    ----------
    study
        A study made by :func:`run_sweep`.

    Returns
    -------
    dict
    """
    cfg = study.user_attrs["config"]
    params = search_space.sample(optuna.trial.FixedTrial(study.best_trial.params), cfg["space"])
    obj, data = cfg["objective"], cfg["data"]
    sweep = {"study": study.study_name, "trial": study.best_trial.number, "objective": study.best_value}
    if obj["task"] == "classify":
        params.pop("lookback", None)
        return {
            "name": study.study_name,
            "seed": 0,
            "task": data,
            "batch_size": obj["batch_size"],
            "model": {**params, "pooling": obj.get("pooling", "mean")},
            "trainer": {"max_epochs": obj["n_epochs"]},
            "output_dir": "runs",
            "sweep": sweep,
        }
    lr, lookback = params.pop("lr"), params.pop("lookback")
    named = {"dataset": data["dataset"], "features": data["features"]} if data["source"] == "informer" else {"data": data}
    return {
        **named,
        "lookback": lookback,
        "horizon": obj["horizon"],
        "output_dir": "outputs",
        "model": {
            **params,
            "n_epochs": obj["n_epochs"],
            "batch_size": obj["batch_size"],
            "random_state": obj.get("seed", 0),
            "use_reversible_instance_norm": obj.get("use_reversible_instance_norm", True),
            "optimizer_kwargs": {"lr": lr},
        },
        "trainer": {k: obj[k] for k in ("limit_train_batches",) if k in obj},
        "sweep": sweep,
    }


def report(study_name: str, url: str | None = None, out_dir: str | Path | None = None) -> Path:
    """Write ``best.yaml`` and the plots (optimisation history, parameter importances, slice of Δ and N).

    Parameters
    ----------
    study_name
        The study.
    url
        Its storage; None: the default SQLite file.
    out_dir
        Where the files go; None: ``sweeps/<study_name>/``.

    Returns
    -------
    pathlib.Path
        The directory written.
    """
    import matplotlib.pyplot as plt  # optuna's plots use pyplot; with no display it picks the Agg backend
    from optuna.visualization import matplotlib as ovm

    study = open_existing_study(study_name, storage_url(study_name, url))
    out = Path(out_dir or SWEEP_DIR / study_name)
    out.mkdir(parents=True, exist_ok=True)
    (out / "best.yaml").write_text(yaml.safe_dump(best_config(study), sort_keys=False))
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    plots = {
        "optimization_history": lambda: ovm.plot_optimization_history(study),
        "slice_dt_d_state": lambda: ovm.plot_slice(
            study, params=[p for p in ("dt_min", "dt_span", "d_state") if any(p in t.params for t in complete)]
        ),
    }
    if len(complete) >= 2:
        plots["param_importances"] = lambda: ovm.plot_param_importances(study)
    for name, plot in plots.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            ax = plot()
        fig = (ax.flat[0] if hasattr(ax, "flat") else ax).get_figure()
        fig.set_size_inches(10, 5)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png", dpi=100)
        plt.close(fig)
    print(
        f"best trial {study.best_trial.number}: objective {study.best_value:.4f} (forecast: val MSE; classify: "
        f"minus val accuracy); config and plots in {out}/"
    )
    return out
