"""Execute the notebooks with a tiny training budget: every cell must run."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow  # ~20 s each; CI runs them in its `-m slow` step
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, data_dir, monkeypatch):
    monkeypatch.setenv("S4FORECAST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("S4FORECAST_NB_EPOCHS", "1")
    monkeypatch.setenv("S4FORECAST_NB_BATCHES", "3")
    monkeypatch.setenv("S4FORECAST_NB_TEST_WINDOWS", "64")
    monkeypatch.setenv("S4FORECAST_NB_SWEEP_CONFIG", "configs/sweep/smoke.yaml")
    monkeypatch.setenv("S4FORECAST_NB_TRIALS", "3")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
