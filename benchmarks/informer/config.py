"""Benchmark configs: configs/informer/base.yaml deep-merged with the dataset's file."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "informer"


def merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load(dataset: str, features: str, config_dir: Path = CONFIG_DIR) -> dict:
    path = config_dir / f"{dataset}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no config {path}; datasets with configs: {', '.join(p.stem for p in sorted(config_dir.glob('*.yaml')) if p.stem != 'base')}")
    with open(config_dir / "base.yaml") as f:
        base = yaml.safe_load(f)
    with open(path) as f:
        cfg = merge(base, yaml.safe_load(f))
    return merge(cfg, cfg.pop("by_features", {}).get(features, {}))


SHARED_KEYS = ("dataset", "lookback", "seed", "trainer")  # every model's run depends on these


def config_hash(cfg: dict, model: str) -> str:
    """Hash of what a run of ``model`` depends on: the shared keys and the model's own section, so
    adding or changing another model's section leaves finished rows valid."""
    scoped = {key: cfg[key] for key in (*SHARED_KEYS, model) if key in cfg}
    return hashlib.sha256(json.dumps(scoped, sort_keys=True).encode()).hexdigest()[:10]
