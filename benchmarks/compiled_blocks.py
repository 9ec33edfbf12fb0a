"""The fusion lever of the speed issue: an S4Encoder through ``torch.compile`` against eager, forward +
backward, at the sizes S4Model trains with. Each layer's SSM kernel (HiPPO-NPLR, Woodbury, Cauchy at the
roots of unity, S4 Sec. 3.3) stays eager: its Cauchy backends are custom autograd functions that dynamo
cannot trace; the rest (embedding, norms, convolution, GLU output, residuals) is compiled.

    python -m benchmarks.compiled_blocks [--config configs/benchmarks/compiled_blocks.yaml]

Writes benchmarks/results/compiled_blocks.csv and .md: median milliseconds per call of each, their ratio,
the seconds of the first compiled call (the compilation every fit pays) and the largest output difference.
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd
import torch

from benchmarks.common import ROOT, load_config, timings, write_results
from s4forecast.nn.encoder import S4Encoder


def compiled(encoder: S4Encoder):
    """``encoder`` through torch.compile with every layer's ``conv_kernel`` left to eager mode. The layers are
    changed in place; the wrapper does nothing outside compiled code, so ``encoder`` itself still runs eager."""
    for block in encoder.blocks:
        block.layer.conv_kernel = torch.compiler.disable(block.layer.conv_kernel)
    return torch.compile(encoder)


def forward_backward_ms(model, x: torch.Tensor, repeats: int) -> float:
    def step():
        model(x).square().mean().backward()

    return 1e3 * statistics.median(timings(step, repeats))


def measure(setting: dict, repeats: int) -> dict:
    torch.manual_seed(0)
    B, L = setting["batch"], setting["length"]
    encoder = S4Encoder(
        setting["d_input"], d_model=setting["d_model"], n_layers=setting["n_layers"], d_state=setting["d_state"], l_max=L
    )
    x = torch.randn(B, L, setting["d_input"])
    eager_out = encoder(x).detach()
    fused = compiled(encoder)
    start = time.perf_counter()
    fused_out = fused(x)
    compile_s = time.perf_counter() - start
    # eager, compiled, eager, compiled: load on the machine falls on both alike
    ms = [forward_backward_ms(model, x, repeats) for _ in range(2) for model in (encoder, fused)]
    return {
        "eager_ms": statistics.mean(ms[0::2]),
        "compiled_ms": statistics.mean(ms[1::2]),
        "compile_s": compile_s,
        "max_abs_diff": (fused_out.detach() - eager_out).abs().max().item(),
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/compiled_blocks.yaml"))
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    torch.set_num_threads(cfg["threads"])
    rows = [{"setting": name, **s, **measure(s, cfg["repeats"])} for name, s in cfg["settings"].items()]
    df = pd.DataFrame(rows)
    df["compiled_vs_eager"] = df.compiled_ms / df.eager_ms
    write_results(
        "compiled_blocks",
        df,
        f"S4Encoder forward + backward, torch.compile vs eager, {cfg['threads']} thread(s)",
        f"python -m benchmarks.compiled_blocks --config {args.config}",
        notes=f"Median of {cfg['repeats']} calls, twice each (interleaved), averaged; compile_s is the first "
        "compiled call, forward only.\n",
    )


if __name__ == "__main__":
    main()
