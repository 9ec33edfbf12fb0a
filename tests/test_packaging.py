"""What `pip install` puts on a user's disk runs: a built wheel, installed into a fresh target and
imported from another directory, runs the CLI and finds its default configs."""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_package_list_names_every_package():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "s4forecast").rglob("__init__.py")}
    assert on_disk | {"s4forecast.configs"} == listed


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "dist")],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp / "dist").glob("s4forecast-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp / "site"), str(wheel)],
        check=True,
        capture_output=True,
    )
    return wheel, tmp / "site"


def test_wheel_ships_configs_and_license_not_benchmarks(installed):
    wheel, _ = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert "s4forecast/configs/forecast/etth1.yaml" in names
    assert any(n.endswith("licenses/LICENSE") for n in names)
    assert not any(n.startswith(("benchmarks/", "tests/")) for n in names)
    read = {m for p in (ROOT / "s4forecast").rglob("*.py") for m in re.findall(r'default_config\("([^"]+)"\)', p.read_text())}
    shipped = {
        n.removeprefix("s4forecast/configs/") for n in names if n.startswith("s4forecast/configs/") and n.endswith(".yaml")
    }
    assert read and shipped == read  # the configs the package reads, and no other


def run_installed(site: Path, cwd: Path, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(site), "S4FORECAST_COMPILE": "0"}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_installed_wheel_runs_the_cli_from_another_directory(installed, tmp_path):
    _, site = installed
    out = run_installed(
        site,
        tmp_path,
        (
            "import s4forecast, s4forecast.cli as cli, contextlib, io\n"
            "print(s4forecast.__file__)\n"
            "from s4forecast.config_files import default_config\n"
            "print(default_config('forecast/etth1.yaml').is_file())\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):\n"
            "    cli.main(['forecast', '--help'])\n"
            "print('--config' in buf.getvalue())\n"
            "cli.main(['demo', '--d-model', '8', '--d-state', '8', '--length', '64', '--batch', '2'])\n"
        ),
    )
    lines = out.splitlines()
    assert lines[0].startswith(str(site))  # the wheel's copy, not the checkout
    assert lines[1:3] == ["True", "True"]
    assert "recurrent view vs convolution" in out


def test_cli_user_errors_are_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset: ETTh1\nfeatures: S\nlookback: 336\nhorizon: 96\nepochs: 50\nmodel: {}\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    cases = [
        (["forecast", "--config", str(bad)], "unknown key(s) 'epochs'"),
        (["forecast", "--config", str(empty)], "must hold a mapping"),
        (["forecast", "--config", str(tmp_path / "missing.yaml")], "does not exist"),
        (["sweep-report", "--study", "typo"], "no study 'typo'"),
    ]
    for args, message in cases:
        out = subprocess.run([sys.executable, "-m", "s4forecast", *args], cwd=tmp_path, capture_output=True, text=True)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "sweeps").exists()  # no empty study file left behind


def test_the_darts_adapter_stays_an_adapter():
    """S4Model's module holds the adapter only (layouts, defaults, checks, saving live beside it): a feature
    that lands there instead of a module of its own shows up here first."""
    adapter = ROOT / "s4forecast" / "forecasting" / "s4_model.py"
    assert len(adapter.read_text().splitlines()) < 300
