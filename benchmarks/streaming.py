"""Streaming vs re-reading the context: latency of S4Stream.update(1 step) + forecast(horizon)
against model.predict(horizon, series=context), for several context lengths (issue: streaming).

    python -m benchmarks.streaming [--config configs/benchmarks/streaming.yaml]

Timings do not depend on training quality, so each model is fitted for a handful of batches on a
synthetic series. Writes benchmarks/results/streaming.csv and streaming.md.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import pandas as pd
import torch
from darts.utils import timeseries_generation as tg

from benchmarks.common import ROOT, load_config, timings, write_results
from s4forecast import S4Model
from s4forecast.trainers import quiet_trainer

TRAINER = quiet_trainer(limit_train_batches=2)


def median_time(fn, repeats: int) -> float:
    return statistics.median(timings(fn, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/streaming.yaml"))
    args = parser.parse_args()
    cfg = load_config(args.config)
    torch.manual_seed(0)
    torch.set_num_threads(cfg["threads"])
    H, rows = cfg["output_chunk_length"], []
    for L in cfg["context_lengths"]:
        series = tg.sine_timeseries(length=L + H + 40, value_frequency=0.01, freq="h").astype(np.float32)
        model = S4Model(L, H, n_epochs=1, batch_size=4, random_state=0, pl_trainer_kwargs=TRAINER, **cfg["model"])
        model.fit(series)
        context = series[-L:]
        predict_s = median_time(lambda: model.predict(H, series=context, verbose=False), cfg["repeats"])
        stream = model.stream(context)
        value = context.values()[-1:]
        update_s = median_time(lambda: stream.update(value), cfg["repeats"])
        forecast_s = median_time(lambda: stream.forecast(H), cfg["repeats"])
        rows.append(
            {
                "context": L,
                "horizon": H,
                "predict_ms": 1e3 * predict_s,
                "update_ms": 1e3 * update_s,
                "forecast_ms": 1e3 * forecast_s,
                "update_speedup": predict_s / update_s,
                "update+forecast_speedup": predict_s / (update_s + forecast_s),
            }
        )
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    write_results(
        "streaming",
        df,
        f"Streaming: S4Stream.update + forecast vs predict (model {cfg['model']}, {cfg['threads']} torch thread(s))",
        f"python -m benchmarks.streaming --config {args.config}",
    )


if __name__ == "__main__":
    main()
