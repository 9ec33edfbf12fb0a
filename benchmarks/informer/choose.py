"""Compare a candidate S4 config with the current one on the val split, setting by setting.

    python -m benchmarks.informer.choose --set +s4.linear_skip=true +s4.subtract_last=true [--features S]

For every setting with a row of both configs in results.csv (the runner's ``--set`` writes the
candidate's rows; its ``--force`` re-runs the current config), prints early stopping's best val loss
of each and the verdict: the candidate is adopted where its val loss is lower. Test numbers are
printed beside them but play no part in the verdict. Adopting means writing the candidate's keys into
a ``by_horizon`` section of the dataset's YAML by hand; ``report`` then shows the candidate's row.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from benchmarks.informer import config as configs
from benchmarks.informer.report import KEY
from benchmarks.informer.run import RESULTS, read_results


def compare(
    results: pd.DataFrame, assignments: list[str], config_dir: Path = configs.CONFIG_DIR, features: str | None = None
) -> pd.DataFrame:
    """One row per setting (of ``features``, default both) with val losses of both configs: val/test of
    each, and ``adopt``."""
    s4 = results[(results.model == "s4") & (results.status == "ok") & results.val_loss.notna()]
    if features:
        s4 = s4[s4.features == features]
    rows = []
    for (dataset, feature_set, horizon), runs in s4.groupby(KEY):
        cfg = configs.load(dataset, feature_set, config_dir, int(horizon))
        hashes = {
            "current": configs.config_hash(cfg, "s4"),
            "candidate": configs.config_hash(configs.override(cfg, assignments), "s4"),
        }
        if hashes["current"] == hashes["candidate"]:  # already adopted for this setting
            continue
        latest = {name: runs[runs.config_hash == h].tail(1) for name, h in hashes.items()}
        if any(r.empty for r in latest.values()):
            continue
        row = {"dataset": dataset, "features": feature_set, "horizon": int(horizon)}
        for name, r in latest.items():
            row |= {f"{name}_val": float(r.val_loss.iloc[0]), f"{name}_test": float(r.mse.iloc[0])}
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
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--config-dir", type=Path, default=configs.CONFIG_DIR)
    args = p.parse_args(argv)
    table = compare(read_results(args.results), args.set, args.config_dir, args.features)
    print(
        table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        if len(table)
        else "no setting has rows of both configs yet"
    )


if __name__ == "__main__":
    main()
