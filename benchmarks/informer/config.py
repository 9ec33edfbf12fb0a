"""Benchmark configs: configs/informer/base.yaml deep-merged with the dataset's file (the library's
``config_files.merge``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from s4forecast.config_files import merge

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "informer"


def for_features(sweep: dict, features: str) -> dict:
    """The sweep config of feature set ``features``: its ``by_features[features]`` section (e.g. the
    multivariate trainer's epochs of sequences) deep-merged over the rest."""
    rest = {key: value for key, value in sweep.items() if key != "by_features"}
    return merge(rest, sweep.get("by_features", {}).get(features, {}))


def load(dataset: str, features: str, config_dir: Path = CONFIG_DIR, horizon: int | None = None) -> dict:
    """base.yaml, then ``<dataset>.yaml``, then its ``by_features[features]`` section, then (given a horizon)
    the ``by_horizon[horizon]`` section, each deep-merged over the last. ``by_horizon`` may sit at the
    top level or inside a ``by_features`` section (the latter merges over the former)."""
    path = config_dir / f"{dataset}.yaml"
    if not path.exists():
        raise FileNotFoundError(
            f"no config {path}; datasets with configs: {', '.join(p.stem for p in sorted(config_dir.glob('*.yaml')) if p.stem != 'base')}"
        )
    with open(config_dir / "base.yaml") as f:
        base = yaml.safe_load(f)
    with open(path) as f:
        cfg = merge(base, yaml.safe_load(f))
    cfg = merge(cfg, cfg.pop("by_features", {}).get(features, {}))
    by_horizon = cfg.pop("by_horizon", {})
    return cfg if horizon is None else merge(cfg, by_horizon.get(horizon, {}))


def override(cfg: dict, assignments: list[str]) -> dict:
    """``["s4.lr=5e-4", ...]`` applied to a copy of ``cfg``; an unknown key is an error unless it is
    marked new with a leading ``+``. ``~s4.patch_len`` removes a key (back to the model's default), so a
    config with the key and one without it can be compared on val by the same machinery."""
    cfg = merge(cfg, {})
    for item in assignments:
        key, sep, value = item.partition("=")
        new, remove = key.startswith("+"), key.startswith("~")
        key = key.removeprefix("+").removeprefix("~")
        if remove == bool(sep):
            raise ValueError(f"variant override {item!r} is neither key=value nor ~key")
        *path, last = key.split(".")
        node = cfg
        for part in path:
            node[part] = dict(node[part])
            node = node[part]
        if last not in node and not new:
            raise KeyError(f"unknown config key {key!r}")
        if remove:
            del node[last]
        else:
            node[last] = _parse(value)
    return cfg


def removes_absent_key(cfg: dict, assignments: list[str]) -> bool:
    """Whether an assignment of ``assignments`` removes (``~key``) a key that ``cfg`` does not have: the
    candidate then cannot differ from ``cfg`` in the way it was meant to (e.g. a per-step candidate for
    a setting that is per step already)."""
    for item in assignments:
        if item.startswith("~"):
            node = cfg
            for part in item[1:].split("."):
                if not isinstance(node, dict) or part not in node:
                    return True
                node = node[part]
    return False


def _parse(value: str):
    """A YAML scalar, with ``5e-4`` read as a number (YAML 1.1 wants ``5.0e-4``)."""
    parsed = yaml.safe_load(value)
    if isinstance(parsed, str):
        try:
            return float(parsed)
        except ValueError:
            pass
    return parsed


OPTIONS = ("use_reversible_instance_norm", "channel_independent", "time_features", "subtract_last", "linear_skip", "patch_len")


def options(cfg: dict, model: str) -> str:
    """The forecasting techniques ``model``'s config turns on or off, as ``key=value;...`` for the results."""
    return ";".join(f"{k}={cfg[model][k]}" for k in OPTIONS if k in cfg[model])


SHARED_KEYS = ("dataset", "lookback", "seed", "trainer")  # every model's run depends on these


def config_hash(cfg: dict, model: str) -> str:
    """Hash of what a run of ``model`` depends on: the shared keys and the model's own section, so
    adding or changing another model's section leaves finished rows valid."""
    scoped = {key: cfg[key] for key in (*SHARED_KEYS, model) if key in cfg}
    return hashlib.sha256(json.dumps(scoped, sort_keys=True).encode()).hexdigest()[:10]
