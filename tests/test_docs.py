"""The API reference (docs/, built by CI with ``sphinx -W``) covers the package: every module but the
internal ones is in docs/api.rst, and every public function, class and method there has a docstring."""

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

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
