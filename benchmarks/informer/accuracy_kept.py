"""Was accuracy kept? The swept S4 of today's table against the S4 table as it stood at a git revision.

    python -m benchmarks.informer.accuracy_kept [--rev 06abbab]

The speed work (patching, a head over the lookback, cheaper trainers) was to lose no accuracy. Its test
is the table re-run with configurations chosen on val: here, per published setting, S4's swept rows
(the mean over seeds of its latest study's best trial, as in RESULTS.md's swept section, whatever
``patch_len`` val chose) against the rows of the config each setting ran at ``--rev`` (default 06abbab:
the per-step configs before the speed work; every seed of it in results.csv, by config hash). Writes
benchmarks/informer/results/accuracy_kept.csv, one row per setting with both: each side's mean test MSE,
spread, seeds, mean val loss and wall seconds per run, the swept config's ``patch_len``, the change of test MSE in
percent and Welch's p; prints the markdown that ``report`` puts in RESULTS.md
(:func:`benchmarks.informer.findings.accuracy_kept_lines`).
"""

from __future__ import annotations

import argparse
import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

import pandas as pd

from benchmarks.informer import config as configs
from benchmarks.informer import findings
from benchmarks.informer.report import KEY, current_configs, seed_means, welch_p
from benchmarks.informer.run import RESULTS, read_results

HERE = Path(__file__).resolve().parent
ACCURACY_KEPT = RESULTS.parent / "accuracy_kept.csv"
BEFORE_SPEED_WORK = "06abbab"  # configs/informer as of 2026-11-25, the last per-step table
SEEDS = (0, 1, 2)


def before(results: pd.DataFrame, before_configs: dict[tuple, dict], seeds=SEEDS) -> pd.DataFrame:
    """Per setting (``before_configs``: (dataset, features, horizon) -> config), the unswept S4 rows of that
    config run with any of ``seeds`` (the latest row per seed): mean and sd of test MSE, seeds, the
    per-seed MSEs and the mean wall seconds. Settings with no such row are left out."""
    rows = results[(results.model == "s4") & (results.status == "ok") & results.study.isna()]
    out = []
    for key, cfg in before_configs.items():
        seed_of = {configs.config_hash(configs.override(cfg, [f"seed={seed}"]), "s4"): seed for seed in seeds}
        at = rows[(rows[KEY] == pd.Series(dict(zip(KEY, key)))).all(axis=1) & rows.config_hash.isin(seed_of)]
        runs = at.assign(run_seed=at.config_hash.map(seed_of)).drop_duplicates("run_seed", keep="last")
        if len(runs):
            out.append(
                dict(
                    zip(KEY, key),
                    mse=runs.mse.mean(),
                    mse_std=runs.mse.std(),
                    seeds=len(runs),
                    mse_runs=tuple(runs.mse),
                    val_loss=runs.val_loss.mean(),
                    wall_time_s=runs.wall_time_s.mean(),
                )
            )
    return pd.DataFrame(out, columns=[*KEY, "mse", "mse_std", "seeds", "mse_runs", "val_loss", "wall_time_s"])


def compare(results: pd.DataFrame, before_configs: dict[tuple, dict]) -> pd.DataFrame:
    """One row per setting with both a swept S4 result and a row of ``before_configs``' config: see the
    module docstring for the columns. ``change_pct`` > 0: the swept S4 tests worse than the old table."""
    swept = seed_means(results)
    swept = swept[swept.model == "s4"].astype({"horizon": int})
    old = before(results, before_configs).astype({"horizon": int})
    both = old.merge(swept, on=KEY, suffixes=("_before", "_swept"))
    patch = both.options.str.extract(r"patch_len=(\d+)", expand=False)
    return pd.DataFrame(
        {
            **{k: both[k] for k in KEY},
            "before_mse": both.mse_before,
            "before_sd": both.mse_std_before,
            "before_seeds": both.seeds_before,
            "before_wall_s": both.wall_time_s_before,
            "before_val": both.val_loss_before,
            "swept_mse": both.mse_swept,
            "swept_sd": both.mse_std_swept,
            "swept_seeds": both.seeds_swept,
            "swept_wall_s": both.wall_time_s_swept,
            "swept_val": both.val_loss_swept,
            "swept_patch_len": pd.to_numeric(patch).fillna(1).astype(int),
            "study": both.study,
            "change_pct": 100 * (both.mse_swept / both.mse_before - 1),
            "welch_p": [welch_p(a, b) for a, b in zip(both.mse_runs_swept, both.mse_runs_before)],
        }
    )


def configs_at(rev: str, dest: Path) -> Path:
    """configs/informer as of git revision ``rev``, unpacked under ``dest``; returns its directory."""
    rel = configs.CONFIG_DIR.relative_to(HERE.parents[1])
    try:
        archive = subprocess.run(["git", "archive", rev, str(rel)], cwd=HERE.parents[1], capture_output=True, check=True).stdout
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"cannot read {rel} at git revision {rev!r} (a shallow clone?): {err.stderr.decode().strip()}") from None
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / rel


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rev", default=BEFORE_SPEED_WORK, help="git revision whose configs/informer is the old table")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--published", type=Path, default=HERE / "published.csv")
    p.add_argument("--out", type=Path, default=ACCURACY_KEPT)
    args = p.parse_args(argv)
    published = pd.read_csv(args.published)
    with tempfile.TemporaryDirectory() as tmp:
        old = current_configs(published, configs_at(args.rev, Path(tmp)))
    table = compare(read_results(args.results), old).assign(rev=args.rev)
    table.to_csv(args.out, index=False)
    print("\n".join(findings.accuracy_kept_lines(args.out)))


if __name__ == "__main__":
    main()
