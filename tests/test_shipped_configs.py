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
