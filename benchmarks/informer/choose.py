"""Compare a candidate S4 config with the current one on the val split, setting by setting.

    python -m benchmarks.informer.choose --set +s4.linear_skip=true +s4.subtract_last=true [--features S]

For every setting with a row of both configs in results.csv (the runner's ``--set`` writes the
candidate's rows; its ``--force`` re-runs the current config), prints early stopping's best val loss
of each and the verdict: the candidate is adopted where its val loss is lower. Test numbers are
printed beside them but play no part in the verdict. Adopting means writing the candidate's keys into
a ``by_horizon`` section of the dataset's YAML by hand; ``report`` then shows the candidate's row.

One seed can rank two configs wrongly (two seeds of one S4 config differed by 12% test MSE on an ETT
setting), so ``--seeds 0 1 2`` compares means over seeds, from rows written by ``run --set seed=S ...``
for each config. A candidate may remove keys (``~s4.patch_len``): the per-step config of a patched one;
settings whose config lacks such a key are left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from benchmarks.informer import config as configs
from benchmarks.informer.report import KEY
from benchmarks.informer.run import RESULTS, read_results


def compare(
    results: pd.DataFrame,
    assignments: list[str],
    config_dir: Path = configs.CONFIG_DIR,
    features: str | None = None,
    seeds: list[int] | None = None,
) -> pd.DataFrame:
    """One row per setting (of ``features``, default both) with val losses of both configs: val/test of
    each, and ``adopt``. Given ``seeds``, each config's val and test are means over those seeds (the
    latest row of each seed's config hash; a setting counts only once both configs have every seed), with
    the test spread (``*_test_sd``), and the candidate is adopted where its mean val loss is lower."""
    s4 = results[(results.model == "s4") & (results.status == "ok") & results.val_loss.notna()]
    if features:
        s4 = s4[s4.features == features]
    seed_sets = [[f"seed={seed}"] for seed in seeds] if seeds else [[]]
    rows = []
    for (dataset, feature_set, horizon), runs in s4.groupby(KEY):
        cfg = configs.load(dataset, feature_set, config_dir, int(horizon))
        if configs.removes_absent_key(cfg, assignments):  # e.g. a per-step candidate where the config is per step
            continue
        configs_of = {"current": [], "candidate": assignments}
        hashes = {
            name: [configs.config_hash(configs.override(cfg, extra + seed), "s4") for seed in seed_sets]
            for name, extra in configs_of.items()
        }
        if hashes["current"] == hashes["candidate"]:  # already adopted for this setting
            continue
        latest = {name: [runs[runs.config_hash == h].tail(1) for h in hs] for name, hs in hashes.items()}
        if any(r.empty for runs_of_seeds in latest.values() for r in runs_of_seeds):
            continue
        row = {"dataset": dataset, "features": feature_set, "horizon": int(horizon), "seeds": len(seed_sets)}
        for name, runs_of_seeds in latest.items():
            seeded = pd.concat(runs_of_seeds)
            row |= {
                f"{name}_val": float(seeded.val_loss.mean()),
                f"{name}_test": float(seeded.mse.mean()),
                f"{name}_test_sd": float(seeded.mse.std()) if len(seeded) > 1 else float("nan"),
            }
        rows.append(row | {"adopt": row["candidate_val"] < row["current_val"]})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--set", nargs="+", required=True, metavar="KEY=VALUE", help="the candidate's overrides, as given to run --set"
    )
    p.add_argument(
        "--features", choices=["S", "M"], help="only these settings (needed when a key exists for one feature set only)"
    )
    p.add_argument("--seeds", type=int, nargs="+", help="compare means over these seeds (rows from run --set seed=S ...)")
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--config-dir", type=Path, default=configs.CONFIG_DIR)
    p.add_argument("--out", type=Path, help="also write the table to this CSV file")
    args = p.parse_args(argv)
    table = compare(read_results(args.results), args.set, args.config_dir, args.features, args.seeds)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(
        table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        if len(table)
        else "no setting has rows of both configs yet"
    )


if __name__ == "__main__":
    main()
