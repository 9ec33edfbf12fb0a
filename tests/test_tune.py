"""Optuna sweeps: constrained space, pruning, resumable storage, PostgreSQL shared by workers."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch
import yaml

from s4forecast import S4Layer, S4Model
from s4forecast.tune import space as search_space
from s4forecast.tune.pruning import OptunaPruning
from s4forecast.tune.sweep import load_study, make_storage, report, run_sweep, storage_url
from tests.postgres import postgres_server, server_binaries

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "sweep" / "smoke.yaml"
optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.slow  # ~40 s: many random configurations; CI runs it in its `-m slow` step
def test_space_never_yields_an_invalid_layer_and_is_numerically_robust():
    """150 random configurations of the ETTh1 space: each builds a layer that runs forward and
    backward in float32 on random data with finite outputs and gradients."""
    space = yaml.safe_load((ROOT / "configs/sweep/etth1.yaml").read_text())["space"]
    search_space.validate(space)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen = set()
    for _ in range(150):
        trial = study.ask()
        p = search_space.sample(trial, space)
        assert p["dt_min"] < p["dt_max"] and p["d_state"] % 2 == 0
        layer = S4Layer(
            8,
            d_state=p["d_state"],
            l_max=p["lookback"] + 24,
            mode=p["mode"],
            init=p["init"],
            discretization=p["discretization"],
            rank=p["rank"],
            dt_min=p["dt_min"],
            dt_max=p["dt_max"],
        )
        x = torch.randn(2, p["lookback"] + 24, 8)
        y = layer(x)
        y.square().mean().backward()
        assert torch.isfinite(y).all(), p
        assert all(torch.isfinite(q.grad).all() for q in layer.parameters()), p
        seen.add((p["mode"], p["init"], p["discretization"]))
        study.tell(trial, float(y.square().mean()))
    assert len(seen) >= 8  # the sampler explores the conditional branches


def test_a_space_holds_a_value_of_its_own_type_and_range():
    assert search_space.holds([False, True], True) and not search_space.holds([1, 8, 16], True)
    assert not search_space.holds([16, 32], 16.0) and search_space.holds(["legs"], "legs")
    assert search_space.holds({"low": 1, "high": 3}, 2) and not search_space.holds({"low": 1, "high": 3}, 2.5)
    assert search_space.holds({"low": 1e-4, "high": 1e-2, "log": True}, 1e-2)
    assert not search_space.holds({"low": 1e-4, "high": 1e-2}, 0.02) and not search_space.holds({"low": 0.0, "high": 1.0}, None)
    names = search_space.parameters({"mode": ["nplr", "diag"], "init": {"nplr": ["legs"], "diag": ["diag-lin"]}, "d_state": [8]})
    assert names == {"mode": ["nplr", "diag"], "init_nplr": ["legs"], "init_diag": ["diag-lin"], "d_state": [8]}


def test_a_when_entry_is_sampled_only_in_trials_that_meet_its_condition():
    # listed before the parameter it depends on, as a merged config may put it
    space = {
        "time_features": {"choices": [False, True], "when": {"shared_weights": False}},
        "dropout": {"low": 0.0, "high": 0.3, "when": {"shared_weights": False}},
        "shared_weights": [True, False],
    }
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=4, multivariate=True, group=True))
    drawn = []
    for _ in range(12):
        trial = study.ask()
        drawn.append(search_space.sample_plain(trial, space))
        study.tell(trial, float(len(drawn) % 3))
    for params in drawn:
        assert ("time_features" in params) == ("dropout" in params) == (params["shared_weights"] is False), params
    assert {p["shared_weights"] for p in drawn} == {True, False}
    assert search_space.holds(space["time_features"], True) and not search_space.holds(space["time_features"], 1)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"d_state": [16, 33]}, "even"),
        ({"init": {"nplr": ["diag-lin"], "diag": ["diag-lin"]}}, "init choices"),
        ({"discretization": {"nplr": ["zoh"], "diag": ["zoh"]}}, "discretization"),
        ({"dt_span": {"low": 0.5, "high": 2.0}}, "dt_span"),
    ],
)
def test_invalid_space_rejected_before_any_trial(bad, match):
    space = yaml.safe_load(SMOKE.read_text())["space"] | bad
    with pytest.raises(ValueError, match=match):
        search_space.validate(space)


def test_sweep_writes_study_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = run_sweep(SMOKE, n_trials=3)
    first = [(t.number, t.state, t.value) for t in study.trials]
    assert len(first) == 3 and (tmp_path / "sweeps" / "s4-smoke.db").exists()
    study = run_sweep(SMOKE, n_trials=2)
    assert len(study.trials) == 5
    assert [(t.number, t.state, t.value) for t in study.trials[:3]] == first  # earlier trials intact
    out = report("s4-smoke")
    for name in ("best.yaml", "optimization_history.png", "slice_dt_d_state.png"):
        assert (out / name).stat().st_size > 0
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert best["sweep"]["objective"] == pytest.approx(study.best_value)
    S4Model(best["lookback"], best["horizon"], **best["model"])  # a valid, ready configuration


SEEDED = {"study_name": "resume", "sampler": {"name": "TPESampler", "seed": 0, "n_startup_trials": 10}}


def _objective(trial):
    return trial.suggest_float("x", 0, 1) + trial.suggest_categorical("c", [0, 1, 2])


def _draws(url: str, runs: list[int]) -> list[tuple]:
    """The values a seeded TPE study draws over several runs (resumptions) of n trials each."""
    for n in runs:
        study = load_study(SEEDED, url)
        study.optimize(_objective, n_trials=n)
    return [tuple(t.params.values()) for t in study.trials]


def test_a_resumed_study_draws_new_start_up_trials_reproducibly(tmp_path):
    resumed = _draws(f"sqlite:///{tmp_path}/a.db", [3, 3, 3])
    assert len(set(resumed)) == 9  # a restarted stream re-ran the first 3 start-up trials at each resumption
    assert _draws(f"sqlite:///{tmp_path}/b.db", [3, 3, 3]) == resumed  # same seed, same runs: same trials
    assert _draws(f"sqlite:///{tmp_path}/c.db", [9]) == resumed  # however the runs were split


def test_two_commands_that_load_a_study_at_once_draw_different_trials(tmp_path):
    url = f"sqlite:///{tmp_path}/shared.db"
    first, second = load_study(SEEDED, url), load_study(SEEDED, url)  # two processes, same count of trials
    for _ in range(3):
        first.optimize(_objective, n_trials=1)
        second.optimize(_objective, n_trials=1)
    draws = [tuple(t.params.values()) for t in first.trials]
    assert len(draws) == 6 and len(set(draws)) == 6  # seeded at load, the second repeated the first's stream


def test_pruning_stops_a_trial_that_is_worse_than_the_others():
    cfg = yaml.safe_load(SMOKE.read_text())
    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))
    for value in (1e-6, 2e-6):  # two earlier trials that were excellent at every epoch
        study.add_trial(
            optuna.trial.create_trial(params={}, distributions={}, value=value, intermediate_values={0: value, 1: value})
        )
    trial = study.ask()
    pruning = OptunaPruning(trial)
    from s4forecast.data.sources import load_splits

    splits = load_splits(cfg["data"], 24)
    model = S4Model(
        24,
        8,
        d_model=8,
        n_layers=1,
        d_state=8,
        n_epochs=5,
        random_state=0,
        pl_trainer_kwargs={
            "callbacks": [pruning],
            "enable_progress_bar": False,
            "logger": False,
            "enable_checkpointing": False,
            "limit_train_batches": 2,
        },
    )
    model.fit(splits.train, val_series=splits.val)
    assert pruning.pruned
    assert model.epochs_trained == 1  # stopped after the first report instead of running 5 epochs
    with pytest.raises(optuna.TrialPruned):
        pruning.raise_if_pruned()


def _finished(study_name, url):
    """Finished trials by number: complete, or pruned (the smoke config's median pruner may prune every
    trial after its first two, so a surviving worker's new trials need not complete)."""
    study = optuna.load_study(study_name=study_name, storage=make_storage(url))
    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return {t.number: (t.state, t.value) for t in study.trials if t.state in finished}


@pytest.mark.skipif(server_binaries() is None and not os.environ.get("CI"), reason="PostgreSQL server binaries not installed")
def test_postgres_shared_by_two_workers_survives_a_killed_worker(tmp_path):
    cmd = [sys.executable, "-m", "s4forecast", "sweep", "--config", str(SMOKE), "--n-trials", "6"]
    with postgres_server() as url:
        workers = [
            subprocess.Popen(cmd + ["--storage", url], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]
        deadline = time.time() + 240
        while time.time() < deadline:
            try:
                if len(_finished("s4-smoke", url)) >= 2:
                    break
            except KeyError:  # study not created yet
                pass
            time.sleep(0.5)
        before = _finished("s4-smoke", url)
        assert len(before) >= 2
        workers[0].send_signal(signal.SIGKILL)
        assert workers[1].wait(timeout=300) == 0
        after = _finished("s4-smoke", url)
        assert all(after.get(n) == v for n, v in before.items())  # no finished trial lost
        assert len(after) > len(before)  # the surviving worker went on adding trials
        assert storage_url("x", url) == url


def test_classification_sweep_maximises_validation_accuracy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    study = run_sweep(ROOT / "configs/sweep/listops_smoke.yaml", n_trials=2)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert done and all(-1.0 <= t.value <= 0.0 for t in done)  # minus the best validation accuracy
    best = yaml.safe_load((report("s4-listops-smoke") / "best.yaml").read_text())
    assert best["task"]["name"] == "listops" and best["model"]["d_state"] in (8, 16)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"study_name": "../x"}, "study_name must be"),
        ({"study_name": ""}, "study_name must be"),
        ({"sampler": {"name": "TPESamplr"}}, "unknown sampler 'TPESamplr'"),
        ({"pruner": {"name": "Median"}}, "unknown pruner 'Median'"),
        ({"space": {"lr": {"low": 1e-2, "high": 1e-4, "log": True}}}, "lr has low 0.01 > high 0.0001"),
        ({"space": {"lr": {"low": 0.0, "high": 1e-2, "log": True}}}, "log scale, so low must be > 0"),
        ({"objective": {"n_epoch": 2}}, r"objective: unknown key\(s\) 'n_epoch'"),  # a typo: was a KeyError in the trial
        ({"objective": {"d_state": 8}}, r"objective: unknown key\(s\) 'd_state'"),  # a space entry: was ignored
        ({"objective": {"horizon": None}}, "objective: missing key"),
        ({"data": {"source": "csv"}}, "a csv source needs 'path', 'target'"),
    ],
)
def test_sweep_config_mistakes_are_refused_before_any_trial(tmp_path, change, message):
    from s4forecast.tune.sweep import load_config

    cfg = yaml.safe_load(SMOKE.read_text())
    for key, value in change.items():
        if key in ("space", "objective", "data"):  # merged into the section; None removes a key
            cfg[key] = {k: v for k, v in {**cfg[key], **value}.items() if v is not None}
        else:
            cfg[key] = value
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ValueError, match=message):
        load_config(path)


def test_a_bad_storage_url_is_one_clear_error():
    from s4forecast.config_files import ConfigError
    from s4forecast.tune.sweep import make_storage

    with pytest.raises(ConfigError, match="storage 'notadb://x' cannot be opened"):
        make_storage("notadb://x")
