"""benchmarks.informer.accuracy_kept: the swept S4 against the rows of an old config, setting by setting."""

import math

import pandas as pd
import pytest
from scipy import stats

from benchmarks.informer import accuracy_kept, findings
from benchmarks.informer import config as configs

OLD = {"dataset": "ETTh1", "lookback": 96, "seed": 0, "trainer": {"max_epochs": 2}, "s4": {"d_model": 8}}


def _rows() -> pd.DataFrame:
    h0 = configs.config_hash(OLD, "s4")
    h1 = configs.config_hash(configs.override(OLD, ["seed=1"]), "s4")
    other = configs.config_hash(configs.override(OLD, ["s4.d_model=16"]), "s4")
    unswept = dict(study=None, trial=None, seed=None, options="", date="2026-01-01", val_loss=1.0)
    runs = [
        dict(horizon=24, config_hash=h0, mse=5.0, wall_time_s=900.0, **unswept),  # superseded by the re-run below
        dict(horizon=24, config_hash=h0, mse=1.0, wall_time_s=100.0, **unswept),
        dict(horizon=24, config_hash=h1, mse=3.0, wall_time_s=300.0, **unswept),
        dict(horizon=24, config_hash=other, mse=0.1, wall_time_s=1.0, **unswept),  # another config: not the old table
        dict(horizon=48, config_hash=h0, mse=7.0, wall_time_s=1.0, **unswept),  # old table, but nothing swept at 48
    ]
    runs += [
        dict(
            horizon=24,
            config_hash="s",
            mse=m,
            wall_time_s=w,
            study="x",
            trial=2,
            seed=s,
            options="patch_len=16",
            date="2026-02-01",
            val_loss=2.0,
        )
        for s, (m, w) in enumerate([(1.7, 10.0), (2.2, 20.0), (2.7, 30.0)])
    ]
    return pd.DataFrame(runs).assign(dataset="ETTh1", features="S", model="s4", status="ok", mae=0.0)


def test_compare_pairs_every_seed_of_the_old_config_with_the_swept_mean():
    before_configs = {("ETTh1", "S", 24): OLD, ("ETTh1", "S", 48): OLD, ("ETTh1", "S", 96): OLD}
    out = accuracy_kept.compare(_rows(), before_configs)
    assert len(out) == 1  # 48: no swept rows; 96: no rows of either
    r = out.iloc[0]
    assert (r.dataset, r.features, r.horizon, r.study) == ("ETTh1", "S", 24, "x")
    assert r.before_seeds == 2 and r.before_mse == pytest.approx(2.0) and r.before_sd == pytest.approx(math.sqrt(2))
    assert r.before_wall_s == pytest.approx(200.0) and r.swept_wall_s == pytest.approx(20.0)
    assert r.swept_seeds == 3 and r.swept_mse == pytest.approx(2.2) and r.swept_patch_len == 16
    assert r.change_pct == pytest.approx(10.0) and r.before_val == 1.0 and r.swept_val == 2.0
    assert r.welch_p == pytest.approx(stats.ttest_ind([1.7, 2.2, 2.7], [1.0, 3.0], equal_var=False).pvalue)


def test_lines_count_the_settings_kept_and_lost(tmp_path):
    table = accuracy_kept.compare(_rows(), {("ETTh1", "S", 24): OLD})
    better = table.assign(horizon=48, swept_mse=1.8, change_pct=-10.0)
    path = tmp_path / "accuracy_kept.csv"
    pd.concat([table, better]).assign(rev="abc123").to_csv(path, index=False)
    text = "\n".join(findings.accuracy_kept_lines(path))
    assert "git revision abc123" in text
    assert "| ETTh1-S-24 | 2.0000 ± 1.4142 (2) | 2.2000 ± 0.5000 (3) | +10.0% |" in text
    assert "Kept or improved at 1 of 2 settings; worse at 1: ETTh1-S-24 +10.0%." in text
    assert "Worse beyond the seeds' spread (p < 0.05): 0." in text
    assert "val prefers the old config at 2 (ETTh1-S-24 +10.0%, ETTh1-S-48 -10.0%) and ranks the two as test does at 1." in text
    assert findings.accuracy_kept_lines(tmp_path / "absent.csv") == []
