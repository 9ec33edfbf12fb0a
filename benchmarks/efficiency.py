"""The S4 paper's efficiency claims, re-measured on this machine (issue: speed).

    python -m benchmarks.efficiency [--which lssl attention generation] [--config ...] [--where L=4096 batch=16]

``--where`` keeps the cases whose fields equal the given values (e.g. one row pair of a table, re-measured
on a quiet machine) and writes ``efficiency_<bench>_<key><value>....csv/.md`` beside the full tables.

1. S4 vs LSSL (Table 2): one layer forward+backward, dense Krylov kernel vs the NPLR kernel.
2. S4 vs attention (Table 3): 4-layer stacks, forward+backward, time and peak memory.
3. Generation: L autoregressive steps with S4's recurrent view, by recomputing the convolution at
   every step (integrated from probes), and with a Transformer using a KV cache.
Each case runs in its own process (peak RSS is its own). Writes benchmarks/results/efficiency_*.csv/.md.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.common import ROOT, load_config, measure, run_isolated, write_results
from s4forecast import S4Encoder, S4Layer


def _timed(fn, repeats=2):
    """Best time of ``repeats`` runs after a warm-up, and their peak resident memory (``common.measure``)."""
    times, peak_mib = measure(fn, repeats)
    return {"time_s": min(times), "peak_mib": peak_mib}


def transformer(H, layers, heads):
    layer = nn.TransformerEncoderLayer(H, heads, dim_feedforward=2 * H, dropout=0.0, batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class KVCacheDecoder(nn.Module):
    """A causal pre-norm Transformer decoder that generates one token at a time with a KV cache."""

    def __init__(self, H, layers, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.ModuleList(nn.Linear(H, 3 * H) for _ in range(layers))
        self.out = nn.ModuleList(nn.Linear(H, H) for _ in range(layers))
        self.ff = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(H), nn.Linear(H, 2 * H), nn.GELU(), nn.Linear(2 * H, H)) for _ in range(layers)
        )
        self.norm = nn.ModuleList(nn.LayerNorm(H) for _ in range(layers))

    def empty_cache(self, batch: int, length: int, H: int) -> torch.Tensor:
        """Preallocated keys and values: (layers, 2, B, heads, length, H/heads)."""
        return torch.zeros(len(self.qkv), 2, batch, self.heads, length, H // self.heads)

    def step(self, x, cache, t: int):  # x (B, H): token t; writes its keys/values into the cache
        B, H = x.shape
        for i in range(len(self.qkv)):
            q, k, v = self.qkv[i](self.norm[i](x)).view(B, 3, self.heads, 1, H // self.heads).unbind(1)
            cache[i, 0, :, :, t : t + 1] = k
            cache[i, 1, :, :, t : t + 1] = v
            att = F.scaled_dot_product_attention(q, cache[i, 0, :, :, : t + 1], cache[i, 1, :, :, : t + 1])
            x = x + self.out[i](att.reshape(B, H))
            x = x + self.ff[i](x)
        return x


def case(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(0)
    kind = spec["kind"]
    if kind in ("lssl", "s4-layer"):
        H, L = spec["H"], spec["L"]
        mode, N = ("dense", H) if kind == "lssl" else ("nplr", H // 2)
        layer = S4Layer(H, d_state=N, l_max=L, mode=mode)
        x = torch.randn(spec["batch"], L, H)
        return _timed(lambda: layer(x).square().mean().backward(), repeats=1)
    if kind in ("s4-stack", "transformer"):
        H, L = spec["H"], spec["L"]
        x = torch.randn(spec["batch"], L, H)
        if kind == "s4-stack":
            model = S4Encoder(H, d_model=H, n_layers=spec["layers"], d_state=spec["d_state"], l_max=L)
        else:
            model = transformer(H, spec["layers"], spec["heads"])
        return _timed(lambda: model(x).square().mean().backward(), repeats=1)
    H, L = spec["H"], spec["L"]
    with torch.no_grad():
        if kind == "gen-s4-step":
            enc = S4Encoder(H, d_model=H, n_layers=spec["layers"], d_state=spec["d_state"], l_max=L).eval()

            def run():
                enc.setup_step()
                state, x = enc.default_state(1), torch.zeros(1, H)
                for _ in range(L):
                    x, state = enc.step(x, state)

            return _timed(run, repeats=1)
        if kind == "gen-s4-recompute":
            enc = S4Encoder(H, d_model=H, n_layers=spec["layers"], d_state=spec["d_state"], l_max=L).eval()
            seq = torch.randn(1, L, H)
            probes = np.linspace(L / spec["probe_points"], L, spec["probe_points"]).astype(int)
            costs = [_timed(lambda t=t: enc(seq[:, :t]), repeats=1)["time_s"] for t in probes]
            # one forward over each prefix t = 1..L: integrate the measured cost(t) (trapezoid from 0)
            total = (
                np.trapezoid(np.r_[0.0, costs], np.r_[0, probes])
                if hasattr(np, "trapezoid")
                else np.trapz(np.r_[0.0, costs], np.r_[0, probes])
            )
            return {"time_s": float(total), "peak_mib": float("nan"), "note": f"integrated from {len(probes)} probes"}
        dec = KVCacheDecoder(H, spec["layers"], spec["heads"]).eval()

        def run():
            cache, x = dec.empty_cache(1, L, H), torch.zeros(1, H)
            for t in range(L):
                x = dec.step(x, cache, t)

        return _timed(run, repeats=1)


def cases(which: list[str], cfg: dict) -> list[dict]:
    out = []
    if "lssl" in which:
        c = cfg["lssl"]
        out += [
            {"bench": "lssl", "kind": k, "H": H, "L": c["L"], "batch": c["batch"], "threads": c.get("threads", cfg["threads"])}
            for H in c["H"]
            for k in ("lssl", "s4-layer")
        ]
    if "attention" in which:
        c = cfg["attention"]
        out += [
            {
                "bench": "attention",
                "kind": k,
                **{x: c[x] for x in ("H", "layers", "heads", "d_state")},
                "L": L,
                "batch": b,
                "threads": c.get("threads", cfg["threads"]),
            }
            for L in c["L"]
            for b in c["batch"]
            for k in ("transformer", "s4-stack")
        ]
    if "generation" in which:
        c = cfg["generation"]
        out += [
            {
                "bench": "generation",
                "kind": k,
                **{x: c[x] for x in ("H", "layers", "heads", "d_state", "probe_points")},
                "L": L,
                "threads": c.get("threads", cfg["threads"]),
            }
            for L in c["L"]
            for k in ("gen-s4-step", "gen-s4-recompute", "gen-transformer-kv")
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(ROOT / "configs/benchmarks/efficiency.yaml"))
    parser.add_argument("--which", nargs="+", default=["lssl", "attention", "generation"])
    parser.add_argument("--where", nargs="+", default=[], metavar="KEY=VALUE", help="only the cases with these field values")
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:
        print(json.dumps(case(json.loads(args.single))))
        return
    cfg = load_config(args.config)
    where = dict(item.split("=", 1) for item in args.where)
    suffix = "".join(f"_{k}{v}" for k, v in where.items())
    for bench in args.which:
        specs = [s for s in cases([bench], cfg) if all(str(s.get(k)) == v for k, v in where.items())]
        if not specs:
            raise SystemExit(f"no {bench} case has {' '.join(args.where)}")
        rows = []
        for spec in specs:
            rows.append({**spec, **run_isolated("benchmarks.efficiency", spec)})
            print(rows[-1], flush=True)
        df = pd.DataFrame(rows)
        command = f"python -m benchmarks.efficiency --which {bench}" + (f" --where {' '.join(args.where)}" if where else "")
        write_results(
            f"efficiency_{bench}{suffix}", df, f"Efficiency: {bench}", command, notes=_ratios(bench, df), floatfmt=".4g"
        )


def _ratios(bench: str, df: pd.DataFrame) -> str:
    """Side-by-side ratios from this one run."""
    key, (slow, fast) = {
        "lssl": (["H"], ("lssl", "s4-layer")),
        "attention": (["L", "batch"], ("transformer", "s4-stack")),
        "generation": (["L"], ("gen-s4-recompute", "gen-s4-step")),
    }[bench]
    lines = [f"Ratios ({slow} / {fast}):\n"]
    for values, g in df.groupby(key):
        k = ", ".join(f"{name}={v}" for name, v in zip(key, values))
        a, b = g.set_index("kind").loc[slow], g.set_index("kind").loc[fast]
        if pd.isna(a.get("time_s")) or pd.isna(b.get("time_s")):
            errors = {str(e) for e in (a.get("error"), b.get("error")) if isinstance(e, str)}
            lines.append(f"- {k}: not measured ({'; '.join(errors)})\n")
            continue
        line = f"- {k}: {a.time_s / b.time_s:.1f}x faster"
        if pd.notna(a.get("peak_mib")) and pd.notna(b.get("peak_mib")) and b.peak_mib > 0:
            line += f", {a.peak_mib / b.peak_mib:.1f}x less memory"
        if bench == "generation":
            kv = g.set_index("kind").loc["gen-transformer-kv"]
            line += f"; vs Transformer with KV cache: {kv.time_s / b.time_s:.1f}x"
        lines.append(line + "\n")
    return "".join(lines)


if __name__ == "__main__":
    main()
