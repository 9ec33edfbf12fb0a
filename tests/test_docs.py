"""The API reference (docs/, built by CI with ``sphinx -W``) covers the package: every module but the
internal ones is in docs/api.rst, every public function, class and method there has a docstring, and
those docstrings have numpydoc sections that name every parameter and say what is returned."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import pytest

import s4forecast

API = Path(__file__).resolve().parents[1] / "docs" / "api.rst"
# modules a user never calls: internals of other modules, documented where they are used
INTERNAL = {
    "s4forecast.__main__",  # python -m s4forecast
    "s4forecast.cli",  # the commands: README and --help
    "s4forecast.forecasting.darts_private",  # Darts' private names, used by S4Model only
    "s4forecast.ssm.cauchy_triton",  # behind cauchy(..., backend="triton")
    "s4forecast.ssm.keops_probe",  # behind cauchy(..., backend="keops")
    "s4forecast.ssm.snapshot",  # behind step()'s parameter check
}


def documented_modules() -> list[str]:
    return re.findall(r"automodule:: (\S+)", API.read_text())


def test_the_reference_covers_every_module_but_the_internal_ones():
    modules = {m.name for m in pkgutil.walk_packages(s4forecast.__path__, "s4forecast.") if not m.ispkg}
    assert set(documented_modules()) <= modules  # no stale entry
    assert modules - set(documented_modules()) == INTERNAL


def undocumented(module_name: str) -> list[str]:
    """Public functions, classes and methods of ``module_name`` without a docstring (a method that overrides
    a base class's is documented there)."""
    module = importlib.import_module(module_name)
    missing = []
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        if not inspect.getdoc(obj) and not (inspect.isclass(obj) and obj.__init__.__doc__):
            missing.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_") or any(attr in vars(base) for base in obj.__mro__[1:]):
                    continue
                fn = value.fget if isinstance(value, property) else value
                if inspect.isfunction(fn) and not fn.__doc__:
                    missing.append(f"{module_name}.{name}.{attr}")
    return missing


def test_every_public_name_in_the_reference_has_a_docstring():
    assert [name for m in documented_modules() for name in undocumented(m)] == []


# The front door: what a user calls first (the package's exports, the contracts, the jobs the CLI runs). Each
# carries numpydoc sections that name every parameter and say what it returns.
FRONT_DOOR = [
    "s4forecast.nn.s4layer.S4Layer",
    "s4forecast.nn.s4layer.S4Layer.conv_kernel",
    "s4forecast.nn.s4layer.S4Layer.ssm_matrices",
    "s4forecast.nn.s4layer.S4Layer.forward",
    "s4forecast.nn.s4layer.S4Layer.setup_step",
    "s4forecast.nn.s4layer.S4Layer.default_state",
    "s4forecast.nn.s4layer.S4Layer.step",
    "s4forecast.nn.encoder.S4Block",
    "s4forecast.nn.encoder.S4Block.forward",
    "s4forecast.nn.encoder.S4Block.step",
    "s4forecast.nn.encoder.S4Encoder",
    "s4forecast.nn.encoder.S4Encoder.forward",
    "s4forecast.nn.encoder.S4Encoder.setup_step",
    "s4forecast.nn.encoder.S4Encoder.default_state",
    "s4forecast.nn.encoder.S4Encoder.step",
    "s4forecast.nn.options.S4Options",
    "s4forecast.ssm.cauchy.cauchy",
    "s4forecast.optim.param_groups",
    "s4forecast.forecasting.s4_model.S4Model",
    "s4forecast.classification.model.S4Classifier",
    "s4forecast.classification.model.S4Classifier.forward",
    "s4forecast.forecasting.job.run",
    "s4forecast.classification.job.classify",
    "s4forecast.tune.sweep.run_sweep",
    "s4forecast.data.informer.load_informer",
    "s4forecast.data.informer.load_csv",
    "s4forecast.data.sources.csv_source",
    "s4forecast.data.sources.load_splits",
    "s4forecast.forecasting.s4_model.S4Model.fit",
    "s4forecast.forecasting.s4_model.S4Model.predict",
    "s4forecast.forecasting.s4_model.S4Model.stream",
    "s4forecast.forecasting.s4_model.S4Model.with_rate",
    "s4forecast.forecasting.s4_model.S4Model.save",
    "s4forecast.forecasting.s4_model.S4Model.load",
    "s4forecast.forecasting.s4_model.S4Model.to_onnx",
    "s4forecast.forecasting.streaming.S4Stream",
    "s4forecast.forecasting.streaming.S4Stream.update",
    "s4forecast.forecasting.streaming.S4Stream.forecast",
    "s4forecast.forecasting.evaluation.test_windows",
    "s4forecast.forecasting.evaluation.scores",
    "s4forecast.forecasting.ridge.ridge_fit",
]


# Every module of the reference carries numpydoc sections on every public function, class and method, but
# the Darts adapter: its own public methods are on the front-door list, the rest are Darts' (documented there).
NUMPYDOC_MODULES = [m for m in documented_modules() if m != "s4forecast.forecasting.s4_model"]


def public_callables(module_name: str) -> list[str]:
    """Dotted names of the public functions and classes of a module, and of the methods its classes define."""
    module = importlib.import_module(module_name)
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            names.append(f"{module_name}.{name}")
        if inspect.isclass(obj):
            names += [  # an override is documented where it is declared
                f"{module_name}.{name}.{a}"
                for a, v in vars(obj).items()
                if not a.startswith("_") and inspect.isfunction(v) and not any(a in vars(b) for b in obj.__mro__[1:])
            ]
    return names


def resolve(dotted: str):
    """The object at ``module.path.Name.attr``: the longest importable prefix, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(dotted)


def section(doc: str, title: str) -> list[str] | None:
    """The lines of every numpydoc section ``title``, each up to the next section (None when absent)."""
    lines = doc.splitlines()
    headers = [i for i in range(len(lines) - 1) if lines[i].strip() and set(lines[i + 1].strip()) == {"-"}]
    found = [
        lines[i + 2 : headers[k + 1] if k + 1 < len(headers) else len(lines)]
        for k, i in enumerate(headers)
        if lines[i].strip() == title
    ]
    return [line for body in found for line in body] if found else None


@pytest.mark.parametrize("dotted", FRONT_DOOR + [name for m in NUMPYDOC_MODULES for name in public_callables(m)])
def test_front_door_docstrings_are_numpydoc(dotted):
    obj = resolve(dotted)
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):  # its own docstring (not a base class's) and its __init__'s
        doc = inspect.cleandoc(vars(obj).get("__doc__") or "")
        doc += "\n" + (inspect.getdoc(obj.__init__) if "__init__" in vars(obj) and obj.__init__.__doc__ else "")
        signature = inspect.signature(obj.__init__)
    else:
        signature = inspect.signature(obj)
    params = [
        {p.VAR_KEYWORD: "**", p.VAR_POSITIONAL: "*"}.get(p.kind, "") + name
        for name, p in signature.parameters.items()
        if name not in ("self", "kwargs")
    ]
    inherited = (
        inspect.isclass(obj) and "__init__" not in vars(obj) and getattr(obj.__init__, "__module__", "").startswith("s4forecast")
    )
    if params and not inherited:  # a constructor is documented where it is declared
        body = section(doc, "Parameters") or section(doc, "Attributes")  # a dataclass's fields: Attributes
        assert body is not None, f"{dotted}: no Parameters section"
        named = {n.strip() for line in body if line and not line[0].isspace() for n in line.split(":")[0].split(",")}
        assert set(params) <= named, f"{dotted}: parameters not described: {sorted(set(params) - named)}"
    returns = signature.return_annotation
    if not inspect.isclass(obj) and returns not in (None, "None", inspect.Signature.empty):
        assert (section(doc, "Returns") or section(doc, "Yields")) is not None, f"{dotted}: no Returns section"
