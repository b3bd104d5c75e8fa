"""Trained artifacts belong to exactly what trained them: attack and zoo adapters are keyed by a
hash of their training data and full configuration (adapter_config.json included, checked on
every load); a short check build never replaces the shipped zoo; names read from files are
checked before they become paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from crossrisk_bench.cli import main
from crossrisk_bench.config.models_file import load_models
from crossrisk_bench.defenses import zoo
from crossrisk_bench.defenses.training_data import DATASETS
from crossrisk_bench.durability import attack as attack_module
from crossrisk_bench.durability.attacks import AttackSpec
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.models.adapters import CONFIG_FILE, RECORD_FILE, ZOO_DIR, read_record
from crossrisk_bench.models.base import Prompt
from crossrisk_bench.risks import Risk
from crossrisk_bench.training.config import Example, TrainConfig


def _examples(colour: str) -> list[Example]:
    return [Example(Prompt.chat(f"What colour is the {t}?"), f"The {t} is {colour}.") for t in ("door", "sky")]


def test_an_attack_adapter_is_keyed_by_its_examples(make_backend, tmp_path: Path, monkeypatch) -> None:
    """Same attack, same seed and steps, other examples (a builder or its source changed): the
    cached adapter of the old examples must not be reused."""
    backend = make_backend()
    run = AttackSpec("a", "harmful_sft", examples=2, steps=1, lrs=(1e-3,), seeds=(0,), batch_size=2).runs()[0]
    monkeypatch.setitem(attack_module.BUILDERS, "harmful_sft", lambda n: _examples("purple")[:n])
    first, _ = attack_module.attack_model(backend, run, tmp_path)
    again, _ = attack_module.attack_model(backend, run, tmp_path)
    assert again.lineage == first.lineage  # same examples: the cached adapter
    monkeypatch.setitem(attack_module.BUILDERS, "harmful_sft", lambda n: _examples("green")[:n])
    other, _ = attack_module.attack_model(backend, run, tmp_path)
    assert other.lineage != first.lineage
    assert len(list((tmp_path / "attacks").glob(f"*/{RECORD_FILE}"))) == 2


def test_a_zoo_adapter_trained_on_first_use_is_keyed_by_its_data_hash(
    make_backend, tmp_path: Path, monkeypatch
) -> None:
    """The cache key used to be the data set's name: new data under the same name reused the old adapter."""
    member = zoo.ZooMember(
        "keyed", Risk.SAFETY, "test member", "test_data", TrainConfig(steps=1, batch_size=2, threads=1, lora_r=2)
    )
    start = make_backend()
    monkeypatch.setitem(DATASETS, "test_data", lambda start: _examples("purple"))
    first = zoo.adapter_for(member, start, tmp_path)
    assert zoo.adapter_for(member, start, tmp_path) == first
    monkeypatch.setitem(DATASETS, "test_data", lambda start: _examples("green"))
    second = zoo.adapter_for(member, start, tmp_path)
    assert second != first
    assert read_record(second)["data"]["hash"] != read_record(first)["data"]["hash"]


def test_an_edited_adapter_config_is_caught_on_load(tmp_path: Path) -> None:
    """adapter_config.json (rank, alpha, target modules) changes what a merge does as much as the
    weights; it was not in the record, so an edit went unnoticed."""
    copy = tmp_path / "refusal_sft"
    shutil.copytree(ZOO_DIR / "refusal_sft", copy)
    assert read_record(copy)["adapter_config_sha256"]
    config = json.loads((copy / CONFIG_FILE).read_text())
    (copy / CONFIG_FILE).write_text(json.dumps(config | {"lora_alpha": 2 * config["lora_alpha"]}))
    with pytest.raises(CrossriskError, match=f"{CONFIG_FILE}: content hash .* does not match the build record"):
        read_record(copy)


@pytest.mark.parametrize("out", [None, ZOO_DIR])
def test_a_short_zoo_build_needs_its_own_folder(out: Path | None, capsys: pytest.CaptureFixture[str]) -> None:
    before = {p: p.stat().st_mtime_ns for p in ZOO_DIR.rglob("*")}
    args = ["zoo", "build", "exposed", "--steps", "2", *(["--out", str(out)] if out else [])]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"crossrisk: error: --steps builds a short check zoo, which must not replace the shipped one in {ZOO_DIR}; "
        "give --out DIR"
    ]
    assert {p: p.stat().st_mtime_ns for p in ZOO_DIR.rglob("*")} == before


@pytest.mark.parametrize(
    "entry",
    [
        'name = "../../x"\ntarget = "safety"\ncheckpoint = "/m"',
        'name = "a/b"\ntarget = "safety"\nmodel = "m"',
        'name = ".hidden"\ndefenses = ["guard_prompt", "refusal_sft"]',
    ],
)
def test_a_name_from_the_models_file_cannot_become_a_path(tmp_path: Path, entry: str) -> None:
    models = tmp_path / "models.toml"
    models.write_text(f"[[defended]]\n{entry}\n")
    with pytest.raises(CrossriskError) as caught:
        load_models(models)
    message = str(caught.value)
    assert message.startswith(f"{models}: defended entry 1: name ")
    assert "it becomes a file name" in message
