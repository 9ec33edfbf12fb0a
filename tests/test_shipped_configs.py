"""Every shipped config builds what it configures: a misspelt or out-of-range key in a config that no
test trains would otherwise surface only hours into a benchmark run."""

from pathlib import Path

import pytest
import yaml

from benchmarks.informer import config as informer_config
from benchmarks.informer.models import build
from s4forecast.classification.data import check_task
from s4forecast.classification.job import load_config
from s4forecast.classification.model import S4Classifier

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TEXT_TASKS = {"listops": 20, "imdb": 257, "aan": 257}  # vocabulary sizes are the task's; any positive size builds


@pytest.mark.parametrize("path", sorted((CONFIGS / "classify").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_classification_config_builds_its_classifier(path):
    cfg = load_config(path)  # the base chain, merged and key-checked
    check_task(cfg["task"])
    task = cfg["task"]["name"]
    vocab = {"vocab_size": TEXT_TASKS[task]} if task in TEXT_TASKS else {}
    dual = {"dual": True} if task == "aan" else {}
    model = S4Classifier(d_input=cfg["task"].get("d_embed", 3), n_classes=10, **vocab, **dual, **cfg["model"])
    assert len(model.encoder.blocks) == cfg["model"].get("n_layers", 4)


def _settings():
    for path in sorted((CONFIGS / "informer").glob("*.yaml")):
        if path.stem in ("base", "sweep"):
            continue
        for features in ("S", "M"):
            for horizon in yaml.safe_load(path.read_text())["horizons"]:
                yield path.stem, features, horizon


@pytest.mark.parametrize("dataset,features,horizon", list(_settings()), ids=lambda v: str(v))
def test_every_informer_setting_builds_each_of_its_models(dataset, features, horizon, tmp_path):
    cfg = informer_config.load(dataset, features, horizon=horizon)
    for name in cfg["models"]:
        model = build(name, cfg, horizon, tmp_path, progress=False)
        assert (model.input_chunk_length, model.output_chunk_length) == (cfg["lookback"], horizon)


def test_a_config_with_a_base_states_only_what_it_changes(tmp_path):
    """``base:`` chains merge deep, relative to the file that names them: the S4 re-run's sweep config is
    the sweep config with one more S4 parameter, and every S4 study's space is valid."""
    from s4forecast.config_files import read_with_base, read_yaml
    from s4forecast.tune import space

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text("x: {p: 1, q: 2}\ny: 1\n")
    (tmp_path / "sub" / "b.yaml").write_text("base: ../a.yaml\nx: {q: 3}\n")
    (tmp_path / "c.yaml").write_text("base: sub/b.yaml\ny: 4\n")
    assert read_with_base(tmp_path / "c.yaml") == {"x": {"p": 1, "q": 3}, "y": 4}
    layouts = read_with_base(CONFIGS / "benchmarks" / "informer_sweep_s4_layouts.yaml")
    swept = read_yaml(CONFIGS / "informer" / "sweep.yaml")
    assert layouts["spaces"]["s4"] == {**swept["spaces"]["s4"], "layout": ["masked", "closed_loop"]}
    assert {k: v for k, v in layouts.items() if k != "spaces"} == {k: v for k, v in swept.items() if k != "spaces"}
    space.validate(layouts["spaces"]["s4"])
