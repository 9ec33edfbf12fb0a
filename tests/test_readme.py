"""The README's Python blocks run as written (in order, sharing one namespace), and its set-up commands
are the ones CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_python_blocks_run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # anything a block writes stays out of the checkout
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 3, "the README's quickstart, layer and forecasting examples"
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"README.md python block {i + 1}", "exec"), namespace)
    assert namespace["forecast"].n_timesteps == 10  # the quickstart forecast


def test_ci_runs_the_readme_test_command():
    command = 'pip install -e ".[all]" && S4FORECAST_DATA_DIR="${S4FORECAST_DATA_DIR:-../shared/data}" python -m pytest'
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()
