"""Command line: ``demo`` (an S4 layer), ``forecast`` (S4Model on real data), ``sweep`` and
``sweep-report`` (Optuna)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def demo(args: argparse.Namespace) -> None:
    """Build an S4 layer, print its kernel, check the recurrent view against it, and time it."""
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


def forecast(args: argparse.Namespace) -> None:
    from s4forecast.forecasting.job import run

    run(args.config, args.data_dir, args.output_dir)


def sweep(args: argparse.Namespace) -> None:
    from s4forecast.tune.sweep import run_sweep

    run_sweep(args.config, args.n_trials, args.storage, args.workers, args.data_dir)


def sweep_report(args: argparse.Namespace) -> None:
    from s4forecast.tune.sweep import report

    report(args.study, args.storage, args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="s4forecast", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="build an S4 layer, print its kernel and speed")
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--d-state", type=int, default=64)
    p.add_argument("--length", type=int, default=1024)
    p.add_argument("--batch", type=int, default=16)
    p.set_defaults(func=demo)
    p = sub.add_parser("forecast", help="fit S4Model on a real dataset, score the test split, plot a forecast")
    p.add_argument("--config", default=str(CONFIGS / "forecast" / "etth1.yaml"))
    p.add_argument("--data-dir", default=None, help="default: $S4FORECAST_DATA_DIR, else download")
    p.add_argument("--output-dir", default=None, help="default: the config's output_dir")
    p.set_defaults(func=forecast)
    p = sub.add_parser("sweep", help="Optuna sweep over N, Δ, HiPPO variant and training knobs")
    p.add_argument("--config", required=True)
    p.add_argument("--n-trials", type=int, default=20, help="trials to add to the study")
    p.add_argument("--storage", default=None, help="Optuna RDB URL (default: sqlite file under sweeps/)")
    p.add_argument("--workers", type=int, default=1, help="worker processes sharing the study")
    p.add_argument("--data-dir", default=None)
    p.set_defaults(func=sweep)
    p = sub.add_parser("sweep-report", help="best config as YAML and plots of a sweep")
    p.add_argument("--study", required=True)
    p.add_argument("--storage", default=None)
    p.add_argument("--out", default=None, help="default: sweeps/<study>/")
    p.set_defaults(func=sweep_report)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
