"""What the sweeps found, for RESULTS.md: per S4 study the best trial's HiPPO variant and the fANOVA
parameter importances (benchmarks/informer/sweep.py writes them), the HiPPO ablation
(benchmarks/informer/hippo_ablation.py): each variant's val loss and test MSE, averaged over seeds, and
for every model's study whether the search beat the model's own config for the setting on val."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from benchmarks.informer.hippo_ablation import trial_variant
from benchmarks.informer.run import read_results
from benchmarks.informer.sweep import FINISHED, SETTING_TRIAL

TOP_IMPORTANCES = 4


def studies(studies_dir: Path, suffix: str = "") -> list[optuna.Study]:
    """Every study named ``*<suffix>`` with a complete trial in the SQLite files of ``studies_dir``, by name."""
    found = []
    for db in sorted(studies_dir.glob("*.db")):
        url = f"sqlite:///{db}"
        for summary in optuna.get_all_study_summaries(url):
            if summary.study_name.endswith(suffix) and summary.best_trial is not None:
                found.append(optuna.load_study(study_name=summary.study_name, storage=url))
    return sorted(found, key=lambda s: s.study_name)


def s4_studies(studies_dir: Path) -> list[optuna.Study]:
    return studies(studies_dir, "-s4")


def setting_trial_lines(studies_dir: Path) -> list[str]:
    """Markdown table: per study with a finished setting-config trial (``sweep.SETTING_TRIAL``), its val loss
    against the best sampled trial's, and which one the study picked (the lower)."""
    rows = []
    for study in studies(studies_dir):
        trials = study.get_trials(states=FINISHED)
        own = [t for t in trials if t.user_attrs.get(SETTING_TRIAL)]
        sampled = [t.value for t in trials if not t.user_attrs.get(SETTING_TRIAL)]
        if not own or not sampled:
            continue
        mark = " (pruned)" * (own[0].state != optuna.trial.TrialState.COMPLETE)
        best = study.best_trial
        picked = "its own config" if best.user_attrs.get(SETTING_TRIAL) else f"sampled #{best.number}"
        rows.append(f"| {study.study_name} | {own[0].value:.4f}{mark} | {min(sampled):.4f} | {picked} |")
    if not rows:
        return []
    return [
        "### Did the search beat each model's own config? (val loss)",
        "",
        "Each study's setting-config trial (`setting_trial` in `configs/informer/sweep.yaml`: S4's hand-chosen",
        "config of the table above, a peer's config there or its library's defaults, within its space) against",
        "its best sampled trial. A pruned trial's value is its last reported epoch's val loss (Optuna's).",
        "",
        "| study | own config | best sampled | picked |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def study_lines(studies_dir: Path) -> list[str]:
    """Markdown table: S4 study, best val loss, its variant and the most important parameters."""
    rows = []
    for study in s4_studies(studies_dir):
        importances = studies_dir / study.study_name / "importances.csv"
        top = pd.read_csv(importances).head(TOP_IMPORTANCES) if importances.exists() else pd.DataFrame()
        named = ", ".join(f"{r.param} {r.importance:.2f}" for r in top.itertuples()) or "not computed"
        best = study.best_trial
        rows.append(f"| {study.study_name} | {best.value:.4f} | {trial_variant(best.params)} | {named} |")
    if not rows:
        return []
    return [
        "### S4 studies: the best trial's variant and the parameters that mattered",
        "",
        "fANOVA importances (Optuna's `FanovaImportanceEvaluator`) over the study's complete trials; the init",
        "is conditional on the mode, so fANOVA sees only `mode`: the ablation below asks the init question.",
        "",
        "| study | best val loss | best trial's variant (mode:init) | top importances |",
        "|---|---|---|---|",
        *rows,
        "",
    ]


def ablation_lines(path: Path) -> list[str]:
    """Markdown table per ablated study: each variant's mean val loss and test MSE / MAE over its seeds,
    the test MSE relative to the study's own variant, and which variant val would pick."""
    if not path.exists():
        return []
    rows = read_results(path)
    rows = rows[rows.status == "ok"]
    lines = [
        "### HiPPO ablation: the best S4 configuration with each initialisation swapped in",
        "",
        "`python -m benchmarks.informer.hippo_ablation` (everything but mode and init fixed at the study's best",
        "trial; one training run per seed). Ratio: test MSE / the study's own variant's.",
        "",
    ]
    ratios, val_picks = {}, {}  # study -> {variant: test MSE / the study's own variant's}; study -> val's pick
    for (study, trial), runs in rows.groupby(["study", "trial"], sort=True):
        if runs.variant.nunique() < 2:  # one variant is a re-run, not an ablation
            continue
        g = runs.groupby("variant", sort=False)
        table = g.agg(
            val=("val_loss", "mean"),
            mse=("mse", "mean"),
            mse_std=("mse", "std"),
            mae=("mae", "mean"),
            seeds=("seed", "nunique"),
            chosen=("chosen", "any"),
        )
        own = table[table.chosen].mse.iloc[0] if table.chosen.any() else float("nan")
        by_val = table.val.idxmin()
        lines += [
            f"{study}, trial {int(trial)} (val picks {by_val}; test MSE best: {table.mse.idxmin()}):",
            "",
            "| variant | val loss | test MSE (mean ± sd) | test MAE | seeds | ratio |",
            "|---|---|---|---|---|---|",
        ]
        for variant, r in table.iterrows():
            name = f"{variant} (study's)" if r.chosen else variant
            sd = 0.0 if pd.isna(r.mse_std) else r.mse_std
            lines.append(f"| {name} | {r.val:.4f} | {r.mse:.4f} ± {sd:.4f} | {r.mae:.4f} | {int(r.seeds)} | {r.mse / own:.3f} |")
        lines.append("")
        ratios[study], val_picks[study] = table.mse / own, by_val
    if len(ratios) < 2:
        return lines
    order = list(dict.fromkeys(v for r in ratios.values() for v in r.index))  # the space's order, not alphabetical
    return lines + ablation_summary(pd.DataFrame(ratios).reindex(order), val_picks)


def ablation_summary(ratios: pd.DataFrame, val_picks: dict[str, str]) -> list[str]:
    """Markdown: every variant's test-MSE ratio (to the study's own variant) across the ablated studies
    (``ratios``: variant x study), their geometric mean, and what val's pick in each study came to."""
    studies = list(ratios.columns)
    best = ratios.idxmin()
    geo = np.exp(np.log(ratios).mean(axis=1))
    lines = [
        "Across the ablated studies (test MSE / the study's own variant; mean over seeds):",
        "",
        f"| variant | {' | '.join(studies)} | geometric mean | best on test in |",
        "|---|" + "---|" * (len(studies) + 2),
    ]
    for variant, r in ratios.iterrows():
        cells = " | ".join("" if pd.isna(v) else f"{v:.3f}" for v in r)
        lines.append(f"| {variant} | {cells} | {geo[variant]:.3f} | {int((best == variant).sum())} of {len(studies)} |")
    picked = [f"{study} {val_picks[study]} ({ratios.at[val_picks[study], study]:.3f})" for study in studies]
    lines += ["", f"Val's pick per study (its ratio): {'; '.join(picked)}.", ""]
    return lines


def accuracy_kept_lines(path: Path, alpha: float = 0.05) -> list[str]:
    """Markdown: the swept S4 against the old S4 table, setting by setting (rows of
    benchmarks/informer/accuracy_kept.py's CSV): test MSE of each (mean ± sd over seeds), the change, Welch's
    p, val losses, wall seconds per run and the swept config's patch length; then the count kept or improved,
    the settings worse (all of them, and those beyond the seeds' spread, p < ``alpha``), the median speed-up
    and, where both have val losses, the settings where val prefers the old config."""
    if not path.exists():
        return []
    t = pd.read_csv(path)
    fmt = lambda m, sd: f"{m:.4f} ± {0.0 if pd.isna(sd) else sd:.4f}"  # noqa: E731
    val = lambda v: "-" if pd.isna(v) else f"{v:.4f}"  # noqa: E731
    rows = [
        f"| {r.dataset}-{r.features}-{r.horizon} | {fmt(r.before_mse, r.before_sd)} ({r.before_seeds}) | "
        f"{fmt(r.swept_mse, r.swept_sd)} ({r.swept_seeds}) | {r.change_pct:+.1f}% | {r.welch_p:.3f} | "
        f"{val(r.before_val)} / {val(r.swept_val)} | {r.before_wall_s:.0f} / {r.swept_wall_s:.0f} | {r.swept_patch_len} |"
        for r in t.itertuples()
    ]
    worse = t[t.change_pct > 0].sort_values("change_pct")
    clearly = worse[worse.welch_p < alpha]
    listed = lambda d: ", ".join(f"{r.dataset}-{r.features}-{r.horizon} {r.change_pct:+.1f}%" for r in d.itertuples())  # noqa: E731
    speedup = (t.before_wall_s / t.swept_wall_s).median()
    judged = t.dropna(subset=["before_val", "swept_val"])
    val_old = judged[judged.before_val < judged.swept_val]
    val_agrees = int(((judged.before_val < judged.swept_val) == (judged.change_pct > 0)).sum())  # val and test rank alike
    return [
        "### Accuracy kept? The swept S4 against the per-step table before the speed work",
        "",
        f"`python -m benchmarks.informer.accuracy_kept` (old table: the configs at git revision {t.rev.iloc[0]}, every",
        "seed of them that was run; swept: as above, val's pick of patch length included). Test MSE mean ± sd",
        "(seeds); change: swept over old; wall: seconds per training and test run, on a machine shared with",
        "other jobs (indicative only).",
        "",
        "| setting | old table | swept | change | Welch p | val old / swept | wall old / swept (s) | swept patch_len |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Kept or improved at {len(t) - len(worse)} of {len(t)} settings; worse at {len(worse)}"
        + (f": {listed(worse)}" if len(worse) else "")
        + f". Worse beyond the seeds' spread (p < {alpha}): {len(clearly)}"
        + (f" ({listed(clearly)})" if len(clearly) else "")
        + f". Median wall time old / swept: {speedup:.2f}x. Where both have a val loss ({len(judged)} settings), val"
        + f" prefers the old config at {len(val_old)}"
        + (f" ({listed(val_old)})" if len(val_old) else "")
        + f" and ranks the two as test does at {val_agrees}.",
        "",
    ]


def lines(studies_dir: Path, ablation: Path, accuracy_kept: Path | None = None) -> list[str]:
    found = study_lines(studies_dir) + ablation_lines(ablation) + setting_trial_lines(studies_dir)
    found += accuracy_kept_lines(accuracy_kept) if accuracy_kept else []
    return ["## What the sweeps found", "", *found] if found else []
