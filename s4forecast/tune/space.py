"""The search space, declared in YAML (``space:`` of ``configs/sweep/*.yaml``), sampled define-by-run.

Each entry is one of:

* a list: categorical choices, e.g. ``d_state: [16, 32, 64]``;
* ``{low, high, log?}``: a float (or an int when both bounds are ints);
* ``{<mode>: [...], ...}``: choices that depend on the sampled ``mode`` (``init``, ``discretization``);
* ``{choices: [...], when: {<param>: <value>, ...}}`` (or a range with ``when``): a parameter sampled only
  in trials whose other parameters have those values, left to the model's default in the rest (a peer's
  ``time_features``, which Darts' linear models take only without ``shared_weights``).

Constraints are encoded, never discovered by crashing trials: ``d_state`` choices must be even,
``dt_max = dt_min * dt_span`` with ``dt_span > 1`` (so dt_min < dt_max), init and discretization
are drawn from the sampled mode's own lists, and the low-rank ``rank`` follows from the init.
"""

from __future__ import annotations

import optuna

from s4forecast.nn.options import S4Options
from s4forecast.ssm import hippo, systems

CONDITIONAL = ("init", "discretization")


def check_entries(space: dict) -> None:
    """Every entry samples something: a non-empty list, a range with low <= high (low > 0 on a log scale),
    named in the message; checked before the first trial, so no failed trial is left in the study.

    Parameters
    ----------
    space
        Name -> entry.
    """
    for name, entry in space.items():
        if isinstance(entry, dict) and "when" in entry:
            entry = entry.get("choices", entry)
        if isinstance(entry, list):
            if not entry:
                raise ValueError(f"space: {name} has no choices")
        elif isinstance(entry, dict) and ("low" in entry or "high" in entry):
            low, high = entry.get("low"), entry.get("high")
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
                raise ValueError(f"space: {name} needs numeric low and high; got {low!r}, {high!r}")
            if low > high:
                raise ValueError(f"space: {name} has low {low} > high {high}")
            if entry.get("log") and low <= 0:
                raise ValueError(f"space: {name} is on a log scale, so low must be > 0; got {low}")


def validate(space: dict) -> None:
    """Reject a space that could yield an invalid S4 configuration, before any trial runs.

    Parameters
    ----------
    space
        Name -> entry.
    """
    check_entries(space)
    modes = space.get("mode", ["nplr"])
    for mode in modes:
        if mode not in systems.MODES:
            raise ValueError(f"space: unknown mode {mode!r}; valid: {', '.join(systems.MODES)}")
        inits = space.get("init", {}).get(mode, [])
        valid = S4Options.inits_of(mode)
        if not inits or any(i not in valid for i in inits):
            raise ValueError(f"space: init choices for mode {mode!r} must be a non-empty subset of {valid}; got {inits}")
        discs = space.get("discretization", {}).get(mode, ["bilinear"])
        allowed = S4Options.discretizations_of(mode)
        if any(d not in allowed for d in discs):
            raise ValueError(f"space: discretization for mode {mode!r} must be among {allowed}; got {discs}")
        for d_state in _choices(space["d_state"]):  # every (mode, d_state) pair, checked by the S4 options
            try:
                S4Options(
                    mode=mode, init=inits[0], discretization=discs[0], d_state=d_state, rank=hippo.REQUIRED_RANK.get(inits[0], 1)
                )
            except ValueError as e:
                raise ValueError(f"space: {e}") from None
    span = space.get("dt_span", {"low": 10.0})
    if span["low"] <= 1:
        raise ValueError(f"space: dt_span.low must exceed 1 so that dt_min < dt_max; got {span['low']}")


def _choices(entry):
    return entry if isinstance(entry, list) else list(range(entry["low"], entry["high"] + 1))


def _suggest(trial: optuna.Trial, name: str, entry):
    if isinstance(entry, list):
        return trial.suggest_categorical(name, entry)
    if "choices" in entry:
        return trial.suggest_categorical(name, entry["choices"])
    if isinstance(entry["low"], int) and isinstance(entry["high"], int):
        return trial.suggest_int(name, entry["low"], entry["high"], log=entry.get("log", False))
    return trial.suggest_float(name, float(entry["low"]), float(entry["high"]), log=entry.get("log", False))


def sample_plain(trial: optuna.Trial, space: dict) -> dict:
    """One configuration of a space without S4's conditional entries (any model's keyword arguments): the
    entries without ``when`` first, then each ``when`` entry whose conditions the sampled values meet.

    Parameters
    ----------
    trial
        The Optuna trial.
    space
        Name -> entry.

    Returns
    -------
    dict
    """
    params = {name: _suggest(trial, name, entry) for name, entry in space.items() if not _is_conditional(entry)}
    for name, entry in space.items():
        if _is_conditional(entry) and all(params.get(k) == v for k, v in entry["when"].items()):
            params[name] = _suggest(trial, name, entry)
    return params


def _is_conditional(entry) -> bool:
    return isinstance(entry, dict) and "when" in entry


def parameters(space: dict) -> dict:
    """Each trial parameter a space samples, by the name :func:`sample` gives it, with its entry (the
    conditional entries once per mode: ``init_nplr``, ``init_diag``, ...).

    Parameters
    ----------
    space
        Name -> entry.

    Returns
    -------
    dict
    """
    out = {}
    for name, entry in space.items():
        out |= {f"{name}_{mode}": choices for mode, choices in entry.items()} if name in CONDITIONAL else {name: entry}
    return out


def holds(entry, value) -> bool:
    """Whether ``value`` is one of the entry's choices (of the same type: ``True`` is not ``1``) or lies in
    its range (an integer for an integer range).

    Parameters
    ----------
    entry
        A list of choices or a range.
    value
        Any value.

    Returns
    -------
    bool
    """
    if isinstance(entry, dict) and "choices" in entry:
        return holds(entry["choices"], value)
    if isinstance(entry, list):
        return any(type(value) is type(choice) and value == choice for choice in entry)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(entry["low"], int) and isinstance(entry["high"], int) and not isinstance(value, int):
        return False
    return entry["low"] <= value <= entry["high"]


def sample(trial: optuna.Trial, space: dict) -> dict:
    """One configuration: S4Model keyword arguments plus ``lr`` and ``lookback``.

    Parameters
    ----------
    trial
        The Optuna trial.
    space
        Name -> entry.

    Returns
    -------
    dict
    """
    params = {}
    params["mode"] = trial.suggest_categorical("mode", space.get("mode", ["nplr"]))
    for name in CONDITIONAL:
        choices = space.get(name, {}).get(params["mode"], ["bilinear"] if name == "discretization" else None)
        params[name] = trial.suggest_categorical(f"{name}_{params['mode']}", choices)
    params |= sample_plain(trial, {name: entry for name, entry in space.items() if name not in CONDITIONAL + ("mode",)})
    params["dt_max"] = params["dt_min"] * params.pop("dt_span")
    params["rank"] = hippo.REQUIRED_RANK.get(params["init"], 1)
    return params
