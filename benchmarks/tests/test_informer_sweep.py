"""benchmarks.informer.sweep: one Optuna study per (setting, model), resumable, rows that trace to a study."""

import datetime as dt
import io
import math

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml
from scipy import stats as scipy_stats

from benchmarks.informer import config as configs
from benchmarks.informer import cost, epoch_cap, findings, hippo_ablation, report, sweep
from benchmarks.informer.run import read_results
from tests.postgres import postgres_server, server_binaries

TINY = {
    "models": ["s4", "nlinear"],
    "n_trials": 2,
    "seeds": [0, 1],
    "sampler": {"name": "TPESampler", "seed": 0, "multivariate": True, "group": True},
    "pruner": {"name": "HyperbandPruner", "min_resource": 1, "reduction_factor": 3},
    "trainer": {"max_epochs": 2, "patience": 1, "limit_train_batches": 3, "batch_size": 32},
    "spaces": {
        "s4": {
            "mode": ["nplr", "diag"],
            "init": {"nplr": ["legs", "random"], "diag": ["diag-lin"]},
            "discretization": {"nplr": ["bilinear"], "diag": ["zoh"]},
            "d_state": [8],
            "dt_min": {"low": 1e-3, "high": 1e-2, "log": True},
            "dt_span": {"low": 2.0, "high": 100.0, "log": True},
            "lr": {"low": 1e-3, "high": 1e-2, "log": True},
            "d_model": [8],
            "n_layers": {"low": 1, "high": 1},
            "lookback": [96],
            "patch_len": [1, 16],
        },
        "nlinear": {"lr": {"low": 1e-3, "high": 1e-2, "log": True}, "lookback": [96, 192]},
    },
}


def run(tmp_path, data_dir, *extra):
    config = tmp_path / "sweep.yaml"
    config.write_text(yaml.safe_dump(TINY))
    args = ["--dataset", "ETTh1", "--features", "S", "--horizon", "24", "--sweep-config", str(config)]
    out = ["--results", str(tmp_path / "results.csv"), "--studies-dir", str(tmp_path / "studies")]
    sweep.main([*args, *out, "--data-dir", str(data_dir), "--no-progress", *extra])


def finished(name, url):
    return optuna.load_study(study_name=name, storage=url).get_trials(states=sweep.FINISHED)


def test_studies_choose_the_tested_configs_and_resume(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run(tmp_path, data_dir, "--storage", url)
    rows = read_results(tmp_path / "results.csv")
    for model in ("s4", "nlinear"):
        name = f"ETTh1-S-24-{model}"
        assert len(finished(name, url)) == 2
        best = optuna.load_study(study_name=name, storage=url).best_trial
        mine = rows[rows.model == model]
        assert list(mine.seed) == [0, 1] and set(mine.study) == {name} and set(mine.trial) == {best.number}
        assert mine.mse.notna().all() and (mine.status == "ok").all()
        assert set(mine.lookback) == {best.params["lookback"]}  # the row ran the best trial's config
    # Trials start from the ETTh1-S config, not ETTh1-S-24's hand choices (linear skip, subtract_last,
    # patches of 16 with their Δ range) that TINY's space does not search.
    s4 = rows[rows.model == "s4"]
    assert not s4.options.str.contains("subtract_last|linear_skip").any()
    assert (tmp_path / "studies" / "ETTh1-S-24-s4" / "optimization_history.png").exists()
    run(tmp_path, data_dir, "--storage", url)  # resumes: nothing left to do
    assert len(read_results(tmp_path / "results.csv")) == len(rows)
    assert len(finished("ETTh1-S-24-nlinear", url)) == 2
    run(tmp_path, data_dir, "--storage", url, "--model", "nlinear", "--n-trials", "3", "--seeds", "0")
    assert len(finished("ETTh1-S-24-nlinear", url)) == 3  # only the missing trial
    run(tmp_path, data_dir, "--storage", url, "--model", "nlinear", "--seeds", "0", "--test-horizons", "48")
    rows = read_results(tmp_path / "results.csv")
    refined = rows[(rows.model == "nlinear") & (rows.horizon == 48)]
    assert len(refined) == 1 and refined.study.iloc[0] == "ETTh1-S-24-nlinear"  # the horizon-24 study's best, at 48
    run(tmp_path, data_dir, "--storage", url, "--model", "s4", "--seeds", "0", "--test-horizons", "720")
    s4 = read_results(tmp_path / "results.csv").query("model == 's4' and seed == 0")
    # ETTh1-S-720's config file sets other S4 keys than ETTh1-S-24's: neither reaches the study's trials
    assert list(s4.horizon) == [24, 720] and s4.config_hash.nunique() == 1


def test_a_changed_space_needs_fresh_which_starts_the_study_anew(tmp_path, data_dir, monkeypatch):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    nlinear = ["--storage", url, "--model", "nlinear", "--seeds", "0"]
    run(tmp_path, data_dir, *nlinear)
    old = {t.number: t.params for t in finished("ETTh1-S-24-nlinear", url)}
    monkeypatch.setitem(TINY["spaces"], "nlinear", {**TINY["spaces"]["nlinear"], "lookback": [336]})
    monkeypatch.setitem(TINY, "trainer", {**TINY["trainer"], "limit_train_batches": 2})
    # finished: it stands as the record of what it searched, and re-tests its best trial as it was searched
    run(tmp_path, data_dir, *nlinear, "--test-horizons", "48")
    assert {t.number: t.params for t in finished("ETTh1-S-24-nlinear", url)} == old
    rows = read_results(tmp_path / "results.csv")
    assert list(rows.horizon) == [24, 48] and rows.config_hash.nunique() == 1  # the old trainer, the old best trial
    with pytest.raises(SystemExit, match="--fresh"):  # but gets no trials of the new space
        run(tmp_path, data_dir, *nlinear, "--n-trials", "3")
    run(tmp_path, data_dir, *nlinear, "--fresh")
    trials = finished("ETTh1-S-24-nlinear", url)
    assert len(trials) == 2 and {t.params["lookback"] for t in trials} == {336} != {p["lookback"] for p in old.values()}
    rows = read_results(tmp_path / "results.csv")
    assert len(rows) == 1 and rows.lookback.iloc[0] == 336  # the old study's rows went with it


def test_a_feature_sets_section_of_the_sweep_config_goes_over_the_rest():
    m_section = {"trainer": {"train_sequences": 96}, "spaces": {"s4": {"channel_independent": [True, False]}}}
    with_m = {**TINY, "by_features": {"M": m_section}}
    assert configs.for_features(with_m, "S") == TINY
    m = configs.for_features(with_m, "M")
    assert m["trainer"] == {**TINY["trainer"], "train_sequences": 96} and m["spaces"]["nlinear"] == TINY["spaces"]["nlinear"]
    assert m["spaces"]["s4"] == {**TINY["spaces"]["s4"], "channel_independent": [True, False]}


def test_the_epoch_cap_comparison_changes_the_trainer_alone():
    capped = epoch_cap.trainers(sweep.read_with_base(sweep.SWEEP_CONFIG), "M")
    assert {k: v for k, v in capped["batches"].items() if k != "trainer"} == {
        k: v for k, v in capped["sequences"].items() if k != "trainer"
    }
    assert "train_sequences" not in capped["batches"]["trainer"] and capped["sequences"]["trainer"]["train_sequences"] == 8000


def test_the_univariate_studies_searched_what_the_sweep_config_gives_s_settings_now():
    """The multivariate section must not touch what the finished, capped univariate studies searched: a
    change there would refuse their resumption (and mean their rows came from another config)."""
    real = configs.for_features(sweep.read_with_base(sweep.SWEEP_CONFIG), "S")
    for pair in ("ETTm1-S", "WTH-S"):
        url = sweep.storage_url(*pair.split("-"))
        for summary in optuna.get_all_study_summaries(url):
            model = summary.study_name.rsplit("-", 1)[1]
            assert summary.user_attrs["searched"] == sweep.searched(real, model), summary.study_name


def test_fresh_drops_the_studys_rows_and_writes_every_other_row_back_unchanged(tmp_path):
    results = tmp_path / "results.csv"
    lines = [
        "dataset,horizon,model,mse,status,study,trial,seed",
        "WTH,168,nlinear,0.22700000000000001,ok,WTH-S-168-nlinear,8,0",
        "ETTh1,24,s4,0.0275,ok,,,",
        "WTH,168,s4,0.2224,ok,WTH-S-168-s4,11,0",
        "WTH,336,nlinear,0.3,ok,WTH-S-168-nlinear,8,1",
    ]
    results.write_text("\n".join(lines) + "\n")
    sweep.discard("WTH-S-168-nlinear", f"sqlite:///{tmp_path / 'studies.db'}", results)
    assert results.read_text().splitlines() == [lines[0], lines[2], lines[3]]


def test_each_study_runs_its_models_setting_config_as_one_more_trial(tmp_path, data_dir, monkeypatch):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    monkeypatch.setitem(TINY, "n_trials", 1)
    run(tmp_path, data_dir, "--storage", url, "--seeds", "0")  # finished before setting trials existed
    monkeypatch.setitem(TINY, "setting_trial", True)
    run(tmp_path, data_dir, "--storage", url, "--seeds", "0")
    for model in ("s4", "nlinear"):
        trials = finished(f"ETTh1-S-24-{model}", url)
        assert len(trials) == 2 and [bool(t.user_attrs.get(sweep.SETTING_TRIAL)) for t in trials] == [False, True]
        first = sweep.setting_params(("ETTh1", "S", 24), TINY, model)
        assert first and {k: trials[1].params[k] for k in first} == first
    # ETTh1-S-24's hand choices that TINY's space holds (patches of 16 with their Δ range); the rest sampled
    s4 = sweep.setting_params(("ETTh1", "S", 24), TINY, "s4")
    assert s4 == {
        "mode": "nplr",
        "init_nplr": "legs",
        "discretization_nplr": "bilinear",
        "dt_min": 0.01,
        "dt_span": 100.0,
        "patch_len": 16,
    }
    assert sweep.setting_params(("ETTh1", "S", 24), TINY, "nlinear") == {"lr": 0.005}  # lookback 336 is not in [96, 192]
    table = findings.setting_trial_lines(tmp_path)  # studies.db: what RESULTS.md reports of the setting trials
    assert [line.split(" | ")[0] for line in table if line.startswith("| ETTh1")] == ["| ETTh1-S-24-nlinear", "| ETTh1-S-24-s4"]
    run(tmp_path, data_dir, "--storage", url, "--seeds", "0", "--n-trials", "2")  # sampled trials still count to n_trials
    assert [bool(t.user_attrs.get(sweep.SETTING_TRIAL)) for t in finished("ETTh1-S-24-nlinear", url)] == [False, True, False]
    run(tmp_path, data_dir, "--storage", url, "--seeds", "0", "--n-trials", "2")  # resumes: nothing left
    assert len(finished("ETTh1-S-24-nlinear", url)) == 3


@pytest.mark.parametrize("horizon", [24, 96])
def test_the_setting_trial_of_the_real_sweep_is_the_benchmark_tables_s4_config(horizon):
    """Built the sweep's way (trial base + sampled parameters) from :func:`setting_params`, S4's config is
    the one ``run`` gives the benchmark table at ETTm1-S (per step at 96; patched, lookback 720 at 24)."""
    sweep_cfg = sweep.read_with_base(sweep.SWEEP_CONFIG)
    setting = ("ETTm1", "S", horizon)
    params = sweep.sample(optuna.trial.FixedTrial(sweep.setting_params(setting, sweep_cfg, "s4")), sweep_cfg, "s4")
    trial = sweep.trial_config(sweep.trial_base(setting), sweep_cfg, "s4", params)
    table = sweep.configs.load("ETTm1", "S", horizon=horizon)
    assert trial["lookback"] == table["lookback"]
    resolved = sweep.resolved("s4", table["s4"])
    assert {k: trial["s4"][k] for k in table["s4"]} == table["s4"]
    assert trial["s4"]["dt_min"] == resolved["dt_min"] and trial["s4"]["dt_max"] == pytest.approx(resolved["dt_max"])
    assert trial["s4"]["patch_len"] == resolved["patch_len"] == (1 if horizon == 96 else 16)


def test_seed_means_average_the_latest_study():
    rows = pd.DataFrame(
        {
            "dataset": "ETTh1",
            "features": "S",
            "horizon": 24,
            "model": "s4",
            "status": "ok",
            "study": ["a", "a", "b", "b", "b"],
            "trial": [3, 3, 1, 1, 1],
            "seed": [0, 1, 0, 1, 2],
            "mse": [9.0, 9.0, 1.0, 2.0, 3.0],
            "mae": [9.0, 9.0, 1.0, 1.0, 1.0],
            "date": ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02", "2026-01-03"],
        }
    )
    out = report.seed_means(rows)
    assert len(out) == 1 and out.study[0] == "b" and out.seeds[0] == 3
    assert out.mse[0] == pytest.approx(2.0) and out.mse_std[0] == pytest.approx(1.0)
    other_horizon = rows[rows.study == "b"].assign(horizon=48, mse=[4.0, 5.0, 6.0])  # the same study's best, at 48
    out = report.seed_means(pd.concat([rows, other_horizon]))
    assert list(out.horizon) == [24, 48] and list(out.seeds) == [3, 3]
    assert list(out.mse) == pytest.approx([2.0, 5.0]) and list(out.mse_std) == pytest.approx([1.0, 1.0])


@pytest.mark.skipif(server_binaries() is None, reason="PostgreSQL server binaries not installed")
def test_two_workers_share_one_postgres_study(tmp_path, data_dir):
    with postgres_server() as url:
        run(tmp_path, data_dir, "--storage", url, "--model", "nlinear", "--n-trials", "4", "--workers", "2", "--seeds", "0")
        trials = finished("ETTh1-S-24-nlinear", url)
        assert 4 <= len(trials) <= 5  # each worker stops once 4 are finished; the other's running trial still counts
        assert len({t.user_attrs["worker_pid"] for t in trials}) == 2  # both workers ran trials of the one study


def test_report_compares_swept_s4_with_the_best_swept_peer_and_lists_the_pending():
    row = {"dataset": "ETTh1", "features": "S", "horizon": 24, "status": "ok", "trial": 0, "date": "2026-01-01"}
    rows = pd.DataFrame(
        [
            {
                **row,
                "model": "s4",
                "study": "s",
                "seed": 0,
                "mse": 0.030,
                "mae": 0.1,
                "val_loss": 0.06,
                "options": "time_features=True",
            },
            {
                **row,
                "model": "s4",
                "study": "s",
                "seed": 1,
                "mse": 0.032,
                "mae": 0.1,
                "val_loss": 0.08,
                "options": "time_features=True",
            },
            {**row, "model": "tide", "study": "t", "seed": 0, "mse": 0.035, "mae": 0.1, "val_loss": 0.05},  # val's pick
            {**row, "model": "nlinear", "study": "n", "seed": 0, "mse": 0.033, "mae": 0.1, "val_loss": 0.09},  # test's
            *[
                {**row, "model": m, "study": m, "seed": 0, "mse": 0.04, "mae": 0.1, "val_loss": 0.1}
                for m in report.PEERS
                if m not in ("tide", "nlinear")
            ],
            {**row, "horizon": 48, "model": "s4", "study": "s", "seed": 0, "mse": 0.05, "mae": 0.1},
            {**row, "horizon": 48, "model": "nlinear", "study": "n", "seed": 0, "mse": 0.06, "mae": 0.1},
        ]
    )
    published = pd.DataFrame(
        {
            "dataset": ["ETTh1", "ETTh1"],
            "features": ["S", "S"],
            "horizon": [24, 48],
            "s4_mse": [0.029, 0.079],  # the swept S4's 0.031 is behind the paper's S4 at 24
            "informer_mse": [0.098, 0.158],
        }
    )
    text = "\n".join(report.swept(rows, published))
    assert "beats the best tuned peer on 1 of 1" in text
    assert (
        "| ETTh1-S-24 | 0.0310" in text
        and "| nlinear | 0.0330" in text
        and "0.939 | nan | tide 0.0350 (0.886, nan) | 0.029 / 0.098 | yes / no |" in text
    )  # val picks TiDE
    assert "beats the published S4 on 0 of 1 and the published Informer on 1 of 1" in text
    assert "Pending (1 of 2" in text and "ETTh1-S-48 (no dlinear, itransformer, nhits, patchtst, tide, tsmixer)" in text
    assert "S4 ahead on 0, the best peer ahead on 0" in text  # one peer seed: no test of spread
    assert "S4 ahead on 1 of 1; beyond the seeds' spread, S4 ahead on 0, that peer on 0" in text
    assert "Val itself ranks S4 above every peer at 0 of 1" in text  # S4's mean val 0.07 > TiDE's 0.05
    assert "Each model over the 1 complete settings" in text  # ETTh1-S-48 has no full set of peers

    more_seeds = pd.DataFrame(
        [{**row, "model": "s4", "study": "s", "seed": 2, "mse": 0.031, "mae": 0.1}]
        + [
            {**row, "model": "nlinear", "study": "n", "seed": s, "mse": m, "mae": 0.1, "val_loss": 0.01}
            for s, m in [(1, 0.034), (2, 0.0335)]
        ]
    )
    text = "\n".join(report.swept(pd.concat([rows, more_seeds]), published))  # S4 0.030-0.032 vs NLinear 0.033-0.034
    p = report.welch_p((0.030, 0.032, 0.031), (0.033, 0.034, 0.0335))
    assert p < 0.05 and f"| {p:.3f} |" in text and "S4 ahead on 1, the best peer ahead on 0" in text
    assert f"| nlinear 0.0335 ({0.031 / 0.0335:.3f}, {p:.3f}) |" in text  # NLinear's mean val 0.0367 now lowest


def test_model_ranks_rank_each_setting_and_average_over_settings():
    means = pd.DataFrame(
        {
            "dataset": "ETTh1",
            "features": "S",
            "horizon": [24, 24, 24, 48, 48, 48],
            "model": ["s4", "nlinear", "tide"] * 2,
            "mse": [0.02, 0.04, 0.04, 0.09, 0.03, 0.06],  # 24: S4 best, a tie behind it; 48: NLinear, TiDE, S4
        }
    )
    text = "\n".join(report.model_ranks(means))
    table = pd.read_csv(io.StringIO(text.split("\n\n")[1].replace(" ", "")), sep="|").dropna(axis=1, how="all")
    table = table.iloc[1:].set_index("model").astype(float)  # after the markdown rule row
    assert "over the 2 complete settings" in text and "1 = best of 3" in text
    assert table.index.tolist() == ["nlinear", "s4", "tide"]  # mean ranks 1.5, then 2.0 and 2.0 (S4's MSE ratio lower)
    assert table.loc["nlinear"].tolist() == pytest.approx([1.5, 1, math.sqrt(2 * 1)], abs=1e-3)  # tied at 24: rank 2
    assert table.loc["s4"].tolist() == pytest.approx([2.0, 1, math.sqrt(1 * 3)], abs=1e-3)
    assert table.loc["tide"].tolist() == pytest.approx([2.0, 0, math.sqrt(2 * 2)], abs=1e-3)


def test_refinement_compares_the_refined_study_with_the_setting_s_own_config_on_val_and_test():
    cfg = {"lookback": 336, "s4": {"d_model": 64}}
    current = configs.config_hash(cfg, "s4")
    s4_configs = {("ETTh1", "S", 24): cfg, ("ETTh1", "S", 48): cfg}
    setting = {"dataset": "ETTh1", "features": "S", "status": "ok", "model": "s4", "mae": 0.1, "date": "2026-12-05"}
    hand = {**setting, "study": None, "trial": None, "seed": 0, "config_hash": current}
    swept = {**setting, "study": "ETTh1-S-24-s4", "trial": 6, "config_hash": "0123abcdef"}
    rows = pd.DataFrame(
        [
            {**hand, "horizon": 24.0, "val_loss": 0.050, "mse": 0.030},
            {**hand, "horizon": 24.0, "val_loss": 0.040, "mse": 0.010, "config_hash": "oldconfig1"},  # not run now
            {**hand, "horizon": 48.0, "val_loss": 0.070, "mse": 0.040},
            *[{**swept, "horizon": 24.0, "seed": s, "val_loss": v, "mse": 0.031} for s, v in [(0, 0.046), (1, 0.048)]],
            {**swept, "horizon": 48.0, "seed": 0, "val_loss": 0.075, "mse": 0.038},
        ]
    )
    text = "\n".join(report.refinement(rows, s4_configs))
    assert "val loss at 1 of 2 settings where both have one, and the lower test MSE at 1 of 2." in text
    assert "| ETTh1-S-24 | 0.0470 | 0.0500 | 0.940 | 0.0310 | 0.0300 | 1.033 |" in text  # the old config left out
    assert "| ETTh1-S-48 | 0.0750 | 0.0700 | 1.071 | 0.0380 | 0.0400 | 0.950 |" in text


def test_welch_p_matches_the_textbook_formula():
    a, b = np.array([0.030, 0.032, 0.031]), np.array([0.033, 0.036, 0.034, 0.035])
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch-Satterthwaite
    assert report.welch_p(tuple(a), tuple(b)) == pytest.approx(2 * scipy_stats.t.sf(abs(t), dof), rel=1e-10)
    assert np.isnan(report.welch_p((0.03,), tuple(b)))  # one seed has no spread to test


def test_hippo_ablation_swaps_only_the_initialisation_of_the_best_trial(tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    run(tmp_path, data_dir, "--storage", url, "--model", "s4", "--seeds", "0")
    config = tmp_path / "sweep.yaml"
    ablation = tmp_path / "hippo_ablation.csv"
    args = ["--dataset", "ETTh1", "--features", "S", "--horizon", "24", "--storage", url, "--sweep-config", str(config)]
    args += ["--results", str(ablation), "--data-dir", str(data_dir), "--seeds", "0", "--no-progress"]
    best = optuna.load_study(study_name="ETTh1-S-24-s4", storage=url).best_trial
    own = hippo_ablation.trial_variant(best.params)
    other = next(v for v in hippo_ablation.variants(TINY["spaces"]["s4"]) if v != own)
    hippo_ablation.main([*args, "--variants", own, other])
    rows = read_results(ablation)
    assert list(rows.variant) == [own, other] and set(rows.trial) == {best.number} and (rows.status == "ok").all()
    assert list(rows.chosen) == [True, False]
    swept = read_results(tmp_path / "results.csv").query("model == 's4'").iloc[0]
    mine = rows[rows.variant == own].iloc[0]
    assert mine.config_hash == swept.config_hash  # the study's own variant is the tested config itself
    assert mine.mse == pytest.approx(swept.mse, rel=1e-6)  # and re-trains to the same test MSE (same seed)
    assert rows.config_hash.nunique() == 2 and rows.lookback.nunique() == 1  # only the initialisation changed
    text = "\n".join(findings.lines(tmp_path, ablation))  # tmp_path holds the study's SQLite file
    assert f"| ETTh1-S-24-s4 | {best.value:.4f} | {own} |" in text
    assert f"| {own} (study's) | {mine.val_loss:.4f} | {mine.mse:.4f} ± 0.0000 |" in text and "| 1 | 1.000 |" in text
    hippo_ablation.main([*args, "--variants", own, other])  # resumes: nothing left to do
    assert len(read_results(ablation)) == 2
    with pytest.raises(SystemExit, match="unknown variant 'nplr:hermite'.*nplr:legs"):
        hippo_ablation.main([*args, "--variants", "nplr:hermite"])
    # A one-key question of the same trial, after the sweep config's S4 space has grown: the study's
    # recorded space still samples its trial (the new key has no value in it), and only that key changes.
    grown = {**TINY, "spaces": {**TINY["spaces"], "s4": {**TINY["spaces"]["s4"], "subtract_last": [False, True]}}}
    config.write_text(yaml.safe_dump(grown))
    keys = tmp_path / "key_ablation.csv"
    hippo_ablation.main([*args, "--results", str(keys), "--variants", "+s4.subtract_last=true"])  # the last --results
    asked = read_results(keys).iloc[0]
    assert asked.variant == "+s4.subtract_last=true" and "subtract_last=True" in asked.options and not asked.chosen
    assert asked.lookback == mine.lookback and asked.config_hash != mine.config_hash
    with pytest.raises(SystemExit, match="no study ETTh1-S-48-s4"):
        hippo_ablation.main([*args[:5], "48", *args[6:]])


def test_ablation_summary_needs_two_variants(tmp_path):
    row = {"status": "ok", "study": "x-s4", "trial": 3, "seed": 0, "val_loss": 0.1, "mse": 0.2, "mae": 0.3, "chosen": True}
    path = tmp_path / "hippo_ablation.csv"
    pd.DataFrame([{**row, "variant": "nplr:legs"}]).to_csv(path, index=False)
    assert "x-s4, trial 3" not in "\n".join(findings.ablation_lines(path))  # one variant: a re-run
    other = {**row, "variant": "nplr:random", "chosen": False, "val_loss": 0.05, "mse": 0.3}
    pd.DataFrame([{**row, "variant": "nplr:legs"}, other]).to_csv(path, index=False)
    text = "\n".join(findings.ablation_lines(path))
    assert "x-s4, trial 3 (val picks nplr:random; test MSE best: nplr:legs)" in text and "| 1.500 |" in text
    assert "Across the ablated studies" not in text  # one study: nothing to summarise across


def test_a_variant_keeps_the_trials_discretization_within_its_mode():
    space = {
        "mode": ["nplr", "diag"],
        "init": {"nplr": ["legs"], "diag": ["diag-lin", "diag-inv"]},
        "discretization": {"nplr": ["bilinear"], "diag": ["zoh", "bilinear"]},
    }
    trial = {"mode": "diag", "init_diag": "diag-inv", "discretization_diag": "bilinear", "lr": 0.01}
    same_mode = hippo_ablation.with_variant(trial, "diag:diag-lin", space)
    assert same_mode == {"lr": 0.01, "mode": "diag", "init_diag": "diag-lin", "discretization_diag": "bilinear"}
    other_mode = hippo_ablation.with_variant(trial, "nplr:legs", space)
    assert other_mode == {"lr": 0.01, "mode": "nplr", "init_nplr": "legs", "discretization_nplr": "bilinear"}


def _finished_studies(studies_dir, trial_minutes: list[tuple[str, int, int]]) -> None:
    """Studies (name, trials, minutes each) of complete trials in the pair's SQLite file, as sweep writes them."""
    start = dt.datetime(2026, 1, 1)
    for name, trials, minutes in trial_minutes:
        study = optuna.create_study(storage=f"sqlite:///{studies_dir / name[:7]}.db", study_name=name)
        for n in range(trials):
            end = start + dt.timedelta(minutes=minutes)
            study.add_trial(optuna.trial.FrozenTrial(n, optuna.trial.TrialState.COMPLETE, 1.0, start, end, *[{}] * 5, n))


def test_cost_adds_up_the_finished_pairs_and_scales_them_to_the_plan(tmp_path, data_dir):
    start = dt.datetime(2026, 1, 1)
    _finished_studies(tmp_path, [("ETTh1-S-24-a", 2, 15), ("ETTh1-S-24-b", 2, 45), ("ETTh2-S-168-a", 1, 60)])
    killed = dt.timedelta(hours=9)  # a worker killed mid-trial: failed when the next run starts, hours later
    study = optuna.load_study(storage=f"sqlite:///{tmp_path / 'ETTh1-S'}.db", study_name="ETTh1-S-24-a")
    study.add_trial(optuna.trial.FrozenTrial(2, optuna.trial.TrialState.FAIL, None, start, start + killed, *[{}] * 5, 2))
    running = optuna.create_study(storage=f"sqlite:///{tmp_path / 'ETTm1-S'}.db", study_name="ETTm1-S-96-a")
    running.ask()  # a study whose only trial is still running (no duration yet), and one with no trials
    optuna.create_study(storage=f"sqlite:///{tmp_path / 'ETTm1-S'}.db", study_name="ETTm1-S-96-b")
    hours = cost.study_hours(tmp_path).set_index("study")
    assert hours.loc["ETTm1-S-96-a", "trials"] == 0 and hours.loc["ETTm1-S-96-b", "study_h"] == 0
    results = pd.DataFrame({"status": "ok", "study": ["ETTh1-S-24-a", "ETTh1-S-24-b"], "wall_time_s": [240.0, 0.0]})
    text = "\n".join(cost.lines(tmp_path, results, {"models": ["a", "b"], "n_trials": 2, "seeds": [0, 1, 2]}, data_dir))
    # a: 0.5 h of trials + 15 test runs of 240 s = 1.5 h; b: 1.5 h of trials. ETTh2-S has 1 of 2 trials: left out.
    assert "| a       |       1.5 |" in text and "| b       |       1.5 |" in text and "ETTh2-S" not in text.split("Total")[0]
    # 3 h for ETTh1-S's 8,640 train rows x 1 channel; the plan's rows (ETTh1/ETTh2 8,640, ETTm1 34,560, WTH
    # 24,544, each S and M) and values (M: x 7 channels for ETT, x 12 for WTH), ECL absent
    rows, values = 2 * (8640 + 8640 + 34560 + 24544), 8 * (8640 + 8640 + 34560) + 13 * 24544
    assert "ETTh1-S 3.0 h" in text and "8 pairs with data; no data: ECL-S, ECL-M" in text
    assert f"{3 * rows / 8640:.0f} to {3 * values / 8640:.0f} core-hours" in text
    # epochs capped at 250 batches of 32 = 8,000 windows: every pair's epoch reads 8,000 rows (x its channels)
    capped = {"models": ["a", "b"], "n_trials": 2, "seeds": [0, 1, 2], "trainer": {"limit_train_batches": 250, "batch_size": 32}}
    text = "\n".join(cost.lines(tmp_path, results, capped, data_dir))
    assert f"{3 * 8:.0f} to {3 * (4 + 3 * 7 + 12):.0f} core-hours" in text and "S at most 8,000, 250 batches" in text
    # M epochs of 8,000 sequences (a channel-independent model reads 8,000 / channels windows): no channel factor
    by_sequences = {**capped, "by_features": {"M": {"trainer": {"train_sequences": 8000}}}}
    text = "\n".join(cost.lines(tmp_path, results, by_sequences, data_dir))
    assert f"from them: {3 * 8:.0f} core-hours" in text and "M at most 8,000 sequences" in text
    without_data = "\n".join(cost.lines(tmp_path, results, {"models": ["a", "b"], "n_trials": 2, "seeds": [0]}, tmp_path))
    assert "No projection: the dataset files were not found" in without_data


def test_cost_projects_each_features_pairs_from_the_measured_pairs_of_the_same_features(tmp_path, data_dir):
    _finished_studies(tmp_path, [(f"ETTh1-S-24-{m}", 2, 45) for m in "ab"] + [(f"ETTh2-S-168-{m}", 2, 15) for m in "ab"])
    _finished_studies(tmp_path, [(f"ETTh1-M-168-{m}", 2, 120) for m in "ab"])  # S pairs 3 h and 1 h, M 8 h
    results = pd.DataFrame({"status": [], "study": [], "wall_time_s": pd.Series(dtype=float)})  # no test runs yet
    every_epoch_alike = {  # every pair's epoch reads 8,000 rows or sequences: one cost per features
        "models": ["a", "b"],
        "n_trials": 2,
        "seeds": [0],
        "trainer": {"limit_train_batches": 250, "batch_size": 32},
        "by_features": {"M": {"trainer": {"train_sequences": 8000}}},
    }
    text = "\n".join(cost.lines(tmp_path, results, every_epoch_alike, data_dir))
    # S: 3 + 1 measured, ETTm1-S and WTH-S at the S mean of 2 h; M: 8 measured, three more at 8 h (a mean
    # over all three measured pairs would give 8 x 4 = 32)
    assert "ETTh1-M 8.0 h, ETTh1-S 3.0 h, ETTh2-S 1.0 h" in text and "from them: 40 core-hours" in text


def test_ablation_summary_across_studies_gives_geometric_means_and_vals_picks(tmp_path):
    row = {"status": "ok", "trial": 1, "seed": 0, "val_loss": 0.1, "mae": 0.3}
    runs = [  # study a: random is 2x legs (its own); study b: random (its own) is 2x legs, which val picks
        {**row, "study": "a-s4", "variant": "nplr:random", "mse": 0.4, "chosen": False},
        {**row, "study": "a-s4", "variant": "nplr:legs", "mse": 0.2, "chosen": True, "val_loss": 0.05},
        {**row, "study": "b-s4", "variant": "nplr:random", "mse": 0.8, "chosen": True},
        {**row, "study": "b-s4", "variant": "nplr:legs", "mse": 0.4, "chosen": False, "val_loss": 0.05},
    ]
    path = tmp_path / "hippo_ablation.csv"
    pd.DataFrame(runs).to_csv(path, index=False)
    text = "\n".join(findings.ablation_lines(path))
    assert "| variant | a-s4 | b-s4 | geometric mean | best on test in |" in text
    assert "| nplr:random | 2.000 | 1.000 | 1.414 | 0 of 2 |" in text  # sqrt(2 x 1), first as in the file
    assert "| nplr:legs | 1.000 | 0.500 | 0.707 | 2 of 2 |" in text
    assert "Val's pick per study (its ratio): a-s4 nplr:legs (1.000); b-s4 nplr:legs (0.500)." in text


def test_screen_plan_runs_seed_by_seed_and_summary_compares_on_common_seeds(tmp_path):
    from benchmarks.informer import screen

    cfg = {"levers": {"best": {}, "ridge": {}}, "long_horizons": {"ETTm1": [672], "default": [720]}}
    order = list(screen.plan(cfg, ["ETTh1-S-24-s4", "ETTm1-S-96-s4"], ["best", "ridge"], [0, 1], long=True))
    assert order[:4] == [
        ("ETTh1-S-24-s4", 24, "best", 0),
        ("ETTh1-S-24-s4", 24, "ridge", 0),
        ("ETTm1-S-96-s4", 96, "best", 0),
        ("ETTm1-S-96-s4", 96, "ridge", 0),
    ]
    assert order[4][3] == 1 and order[-1] == ("ETTm1-S-96-s4", 672, "ridge", 1) and len(order) == 16
    rows = pd.DataFrame(
        {
            "study": ["ETTh1-S-24-s4"] * 3,
            "horizon": [24] * 3,
            "lever": ["best", "best", "ridge"],
            "seed": [0, 1, 0],
            "val_loss": [0.5, 0.7, 0.4],
        }
    )
    rows.to_csv(tmp_path / "screen.csv", index=False)
    table = screen.summary(tmp_path / "screen.csv").set_index("lever")
    assert table.loc["ridge", "vs_best"] == pytest.approx(0.8)  # against best's seed 0 only, not its mean 0.6
    assert table.loc["best", "seeds"] == 2 and screen.done(tmp_path / "screen.csv") == {
        ("ETTh1-S-24-s4", 24, "best", 0),
        ("ETTh1-S-24-s4", 24, "best", 1),
        ("ETTh1-S-24-s4", 24, "ridge", 0),
    }
