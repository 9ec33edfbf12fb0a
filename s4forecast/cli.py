"""The ``s4forecast`` command: ``demo`` (an S4 layer), ``forecast`` (S4Model on real data),
``classify`` (an S4Classifier on a sequence task), ``sweep`` and ``sweep-report`` (Optuna).

User errors (a missing or misspelt config key, an unknown study, a bad option) print one line and
exit with status 2; ``--traceback`` shows the whole stack instead.
"""

from __future__ import annotations

import argparse
import sys
import time

from s4forecast import __version__
from s4forecast.config_files import ConfigError, default_config

USER_ERRORS = (ConfigError, FileNotFoundError, ValueError)


def demo(args: argparse.Namespace) -> None:
    """Build an S4 layer, print its kernel, check the recurrent view against it, and time it."""
    import torch

    from s4forecast import S4Layer

    torch.manual_seed(0)
    layer = S4Layer(args.d_model, d_state=args.d_state, l_max=args.length)
    k = layer.conv_kernel(args.length)
    print(f"S4 layer: d_model={args.d_model} d_state={args.d_state} L={args.length} backend={layer.ssm[0].backend}")
    print(f"kernel shape {tuple(k.shape)}; channel 0, first 8 taps: {[round(v, 4) for v in k[0, :8].tolist()]}")
    x = torch.randn(args.batch, args.length, args.d_model)
    start = time.perf_counter()
    y = layer(x)
    y.square().mean().backward()
    elapsed = time.perf_counter() - start
    print(f"forward+backward on ({args.batch}, {args.length}, {args.d_model}): {elapsed * 1e3:.1f} ms")
    layer.eval()
    layer.setup_step()
    with torch.no_grad():
        y_conv = layer(x[:1, :64])
        state, ys = layer.default_state(1), []
        for t in range(64):
            y_t, state = layer.step(x[:1, t], state)
            ys.append(y_t)
    print(f"recurrent view vs convolution, max |diff| over 64 steps: {(torch.stack(ys, 1) - y_conv).abs().max():.2e}")


def own_data(args: argparse.Namespace) -> dict | None:
    """The ``data`` mapping of ``--csv`` and its options (``data/sources.py``), or None without ``--csv``."""
    from s4forecast.data.sources import csv_source

    if args.csv is None:
        for flag in ("target", "time_col", "features", "split"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} describes a CSV: give it with --csv")
        return None
    if args.target is None:
        raise ValueError("--csv needs --target, the column to forecast")
    return csv_source(args.csv, args.target, args.features or "S", args.time_col or "date", args.split or "ratio")


def forecast(args: argparse.Namespace) -> None:
    from s4forecast.forecasting.job import run

    run(args.config, args.data_dir, args.output_dir, progress=not args.quiet, data=own_data(args))


def classify(args: argparse.Namespace) -> None:
    from s4forecast.classification.job import classify as run
    from s4forecast.classification.job import export

    if args.export_dtype and not args.export:
        raise ValueError("--export-dtype is the precision of --export FILE: give it with --export")
    if args.export:
        print(export(args.config, args.export, args.output_dir, args.export_dtype or "float32"))
        return
    run(args.config, args.data_dir, args.output_dir, args.threads, progress=not args.quiet, resume_from=args.resume_from)


def sweep(args: argparse.Namespace) -> None:
    from s4forecast.tune.sweep import run_sweep

    run_sweep(args.config, args.n_trials, args.storage, args.workers, args.data_dir, progress=not args.quiet, data=own_data(args))


def sweep_report(args: argparse.Namespace) -> None:
    from s4forecast.tune.sweep import report

    report(args.study, args.storage, args.out)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s4forecast", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"s4forecast {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    common.add_argument("--traceback", action="store_true", help="show the full stack of an error instead of one line")
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir", default=None, help="dataset folder (default: $S4FORECAST_DATA_DIR, else download with checksum)"
    )
    csv = argparse.ArgumentParser(add_help=False)
    csv.add_argument(
        "--csv", default=None, metavar="PATH", help="your own series: a CSV with a date column (replaces the config's data)"
    )
    csv.add_argument("--target", default=None, metavar="COLUMN", help="with --csv: the column to forecast")
    csv.add_argument("--time-col", default=None, metavar="COLUMN", help="with --csv: the date column (default 'date')")
    csv.add_argument(
        "--features", choices=("S", "M"), default=None, help="with --csv: S the target alone (default), M every numeric column"
    )
    csv.add_argument(
        "--split",
        choices=("ratio", "ett-hour", "ett-minute"),
        default=None,
        help="with --csv: train/val/test rows, 70/10/20 (ratio, default) or the ETT protocol's months",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", parents=[common], help="build an S4 layer, print its kernel and speed")
    p.add_argument("--d-model", type=_positive_int, default=64, help="channels H (default 64)")
    p.add_argument("--d-state", type=_positive_int, default=64, help="state size N, even (default 64)")
    p.add_argument("--length", type=_positive_int, default=1024, help="sequence length L (default 1024)")
    p.add_argument("--batch", type=_positive_int, default=16, help="batch size of the timed pass (default 16)")
    p.set_defaults(func=demo)

    p = sub.add_parser(
        "forecast", parents=[common, data, csv], help="fit S4Model on a real dataset, score the test split, plot a forecast"
    )
    p.add_argument(
        "--config",
        default=str(default_config("forecast/etth1.yaml")),
        help="forecast config YAML (default: the shipped forecast/etth1.yaml)",
    )
    p.add_argument("--output-dir", default=None, help="where metrics and plot go (default: the config's output_dir)")
    p.set_defaults(func=forecast)

    p = sub.add_parser("classify", parents=[common, data], help="train and test an S4Classifier (sMNIST, LRA, ...)")
    p.add_argument("--config", required=True, help="classification config YAML, e.g. configs/classify/smnist_cpu.yaml")
    p.add_argument("--output-dir", default=None, help="checkpoint folder (default: the config's output_dir, else runs/)")
    p.add_argument("--threads", type=_positive_int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--resume-from", default=None, help="an --export file to continue from (unless the run dir holds a run further along)"
    )
    p.add_argument(
        "--export", default=None, metavar="FILE", help="write the run's latest state, compact, to FILE and exit (no training)"
    )
    p.add_argument(
        "--export-dtype",
        choices=["float32", "bfloat16"],
        default=None,
        help="--export's precision: float32 (the default) (exact: the resumed run equals the uninterrupted one) or bfloat16 "
        "(weights and optimiser moments rounded, ~0.4%% a value: under half the size, for committing milestones)",
    )
    p.set_defaults(func=classify)

    p = sub.add_parser("sweep", parents=[common, data, csv], help="Optuna sweep over N, Δ, HiPPO variant and training knobs")
    p.add_argument(
        "--config",
        default=str(default_config("sweep/etth1.yaml")),
        help="sweep config YAML (default: the shipped sweep/etth1.yaml; with --csv its space and budget, on your data)",
    )
    p.add_argument("--n-trials", type=_positive_int, default=20, help="trials to add to the study (default 20)")
    p.add_argument("--storage", default=None, help="Optuna RDB URL (default: an SQLite file under sweeps/)")
    p.add_argument("--workers", type=_positive_int, default=1, help="worker processes sharing the study (default 1)")
    p.set_defaults(func=sweep)

    p = sub.add_parser("sweep-report", parents=[common], help="best config as YAML and plots of a sweep")
    p.add_argument("--study", required=True, help="study name (the sweep config's study_name)")
    p.add_argument("--storage", default=None, help="Optuna RDB URL (default: sweeps/<study>.db)")
    p.add_argument("--out", default=None, help="output folder (default: sweeps/<study>/)")
    p.set_defaults(func=sweep_report)
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except USER_ERRORS as e:
        if args.traceback:
            raise
        parser.exit(2, f"s4forecast {args.command}: error: {e}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
