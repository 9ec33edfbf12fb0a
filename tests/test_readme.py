"""The README's Python blocks run as written (in order, sharing one namespace), and its set-up commands
are the ones CI runs; its result numbers are the result files' it cites."""

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


def _markdown_rows(text: str, header_start: str) -> list[list[str]]:
    """The body rows (cells stripped of ``**``) of the first markdown table whose header starts with ``header_start``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.replace(" ", "").startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip().strip("*") for cell in line.strip("|").split("|")])
    return rows


def test_readme_results_table_is_the_swept_table_of_results_md():
    """Every number of the README's results table is the one of benchmarks/informer/RESULTS.md it cites."""
    readme = _markdown_rows((ROOT / "README.md").read_text(), "|model|meanrank|bestat|")
    results = _markdown_rows((ROOT / "benchmarks/informer/RESULTS.md").read_text(), "|model|mean_rank|best_at|")
    names = {"nlinear": "NLinear", "dlinear": "DLinear", "s4": "S4Model", "patchtst": "PatchTST"}
    names |= {"itransformer": "iTransformer", "nhits": "NHiTS", "tsmixer": "TSMixer", "tide": "TiDE"}
    expected = [[names[m], f"{float(rank):.3f}", best, f"{float(ratio):.3f}"] for m, rank, best, ratio in results]
    assert readme == expected


def test_readme_defaults_sentence_is_the_defaults_summary():
    """The README's count of settings where S4Model's defaults win is the one defaults.md gives."""
    summary = (ROOT / "benchmarks/informer/results/defaults.md").read_text()
    wins = re.search(r"win at (\d+) of the (\d+) settings", summary).groups()
    per_seed = re.findall(r"seed \d+ (\d+) of \d+", summary)
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"over 3 seeds at {wins[0]} of {wins[1]} univariate settings" in readme
    assert f"seed by seed {', '.join(per_seed[:-1])} and {per_seed[-1]} of {wins[1]}" in readme
