"""YAML configs of the command-line jobs: where the shipped defaults live, and one check of a file's
keys so that a typo is an error that names it instead of a silently ignored setting."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A config file that cannot be run as written; the message names the file and the key.

    Parameters
    ----------
    *args
        The message.
    """


def default_config(relative: str) -> Path:
    """A config shipped with the package, e.g. ``default_config("forecast/etth1.yaml")``: the checkout's
    ``configs/`` in a development install, the wheel's package data otherwise.

    Parameters
    ----------
    relative
        The path under ``configs/``.

    Returns
    -------
    pathlib.Path
    """
    return Path(str(importlib.resources.files("s4forecast.configs").joinpath(relative)))


def read_yaml(path: str | Path) -> dict:
    """A YAML file that holds a mapping.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    dict
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"{path} must hold a mapping of settings; it holds {type(cfg).__name__}")
    return cfg


def read_with_base(path: str | Path) -> dict:
    """A YAML mapping deep-merged (:func:`merge`) over the file its ``base:`` key names, relative to it,
    recursively: a config that states only what it changes.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    dict
    """
    path = Path(path)
    cfg = read_yaml(path)
    base = cfg.pop("base", None)
    return cfg if base is None else merge(read_with_base(path.parent / base), cfg)


def merge(*configs: dict) -> dict:
    """Later configs over earlier ones, deep: a mapping value merges key by key (recursively) with what is
    there, anything else replaces. The result shares no mapping with its inputs.

    Parameters
    ----------
    *configs
        Mappings, earliest first.

    Returns
    -------
    dict
    """
    out: dict = {}
    for cfg in configs:
        for key, value in cfg.items():
            if isinstance(value, dict):
                out[key] = merge(out[key] if isinstance(out.get(key), dict) else {}, value)
            else:
                out[key] = value
    return out


def check_keys(
    cfg: dict, path: str | Path, required: tuple[str, ...], optional: tuple[str, ...] = (), sections: tuple[str, ...] = ()
) -> dict:
    """``cfg`` if it has every ``required`` key and no key outside ``required + optional``; each
    ``sections`` key present must hold a mapping. Returns ``cfg``.

    Parameters
    ----------
    cfg
        The config.
    path
        Its file, for the error.
    required, optional
        The keys it must and may have.
    sections
        Keys whose values must be mappings.

    Returns
    -------
    dict
    """
    allowed = required + optional
    if unknown := [k for k in cfg if k not in allowed]:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(map(repr, unknown))}; valid: {', '.join(allowed)}")
    if missing := [k for k in required if k not in cfg]:
        raise ConfigError(f"{path}: missing key(s) {', '.join(map(repr, missing))}")
    for key in sections:
        if key in cfg and not isinstance(cfg[key], dict):
            raise ConfigError(f"{path}: {key!r} must be a mapping of settings; got {cfg[key]!r}")
    return cfg
