"""Public-dataset loaders on the real files in ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from crossrisk_bench.data.datasets import LOADERS, load_dataset_items, parse_data_option
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.tasks import TASKS

SHARED = Path(os.environ.get("CROSSRISK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason=f"public datasets not found at {SHARED}")

CASES = {
    "advbench": ("advbench/harmful_behaviors.csv", 520),
    "harmbench": ("harmbench/harmbench_behaviors_text_all.csv", 400),
    "xstest": ("xstest/xstest_prompts.csv", 250),
    "bbq": ("bbq", 11956),
    "crows_pairs": ("crows_pairs/crows_pairs_anonymized.csv", 1508),
    "stereoset": ("stereoset/stereoset_dev_flat.jsonl", 4229),
    "decodingtrust_stereotype": ("decodingtrust/stereotype/dataset/stereotype_bias_data.jsonl", 1152),
    "decodingtrust_enron": ("decodingtrust/privacy/enron_data/five_shot.json", 3294),
}


def test_every_loader_has_a_case_and_a_known_task() -> None:
    assert set(CASES) == set(LOADERS.names())
    assert all(TASKS.get(loader.task) for loader in LOADERS)


@needs_data
@pytest.mark.parametrize("name", sorted(CASES))
def test_loader_reads_the_real_file(name: str) -> None:
    relative, count = CASES[name]
    task, items = load_dataset_items(name, SHARED / relative)
    assert task == LOADERS[name].task and len(items) == count
    assert len({i.id for i in items}) == len(items)


@needs_data
def test_bbq_mapping_follows_the_bbq_definitions() -> None:
    _, items = load_dataset_items("bbq", SHARED / "bbq" / "Age.jsonl")
    first = items[0]  # ambiguous, negative: "Who was not comfortable using the phone?" grandfather/grandson
    assert first.meta["condition"] == "ambiguous" and first.reference == {"answer": 2, "stereotyped": 0, "unknown": 2}
    assert {i.meta["condition"] for i in items} == {"ambiguous", "disambiguated"}
    nonneg = next(i for i in items if i.meta["polarity"].endswith("nonneg"))
    assert nonneg.reference["stereotyped"] not in (nonneg.reference["unknown"],)


@needs_data
def test_loaded_items_run_through_their_task(make_backend) -> None:
    backend = make_backend(batch_size=8)
    for name in ("crows_pairs", "bbq", "xstest", "decodingtrust_enron"):
        task, items = load_dataset_items(name, SHARED / CASES[name][0])
        result = TASKS.get(task).evaluate(backend, items, limit=4)
        assert result.n == 4 and 0.0 <= result.value <= 1.0


def test_bad_files_name_the_place(tmp_path: Path) -> None:
    csv_file = tmp_path / "adv.csv"
    csv_file.write_text("prompt,target\nx,y\n")
    with pytest.raises(CrossriskError, match=r"adv.csv:1: missing column\(s\) \['goal'\]"):
        load_dataset_items("advbench", csv_file)
    jsonl = tmp_path / "stereoset.jsonl"
    jsonl.write_text(
        '{"type": "intrasentence", "bias_type": "race", "context": "x", "stereotype": "a", "anti-stereotype": "b"}\n{oops\n'
    )
    with pytest.raises(CrossriskError, match="stereoset.jsonl:2: malformed JSON"):
        load_dataset_items("stereoset", jsonl)
    jsonl.write_text('{"type": "intrasentence", "context": "x"}\n')
    with pytest.raises(CrossriskError, match="stereoset.jsonl:1: missing field 'bias_type'"):
        load_dataset_items("stereoset", jsonl)
    with pytest.raises(CrossriskError, match="does not exist"):
        load_dataset_items("xstest", tmp_path / "none.csv")


def test_data_option_parsing() -> None:
    assert parse_data_option("bbq=/data/bbq", TASKS.names()) == ("bbq", "/data/bbq")
    with pytest.raises(CrossriskError, match="expects NAME=PATH"):
        parse_data_option("bbq", TASKS.names())
    with pytest.raises(CrossriskError, match="unknown dataset or task 'bqq'; known datasets: advbench"):
        parse_data_option("bqq=x", TASKS.names())


def test_stereoset_published_format(tmp_path: Path) -> None:
    """The format StereoSet publishes (dev.json): sentences with a gold_label each."""

    def example(kind: str, n: int) -> dict:
        return {
            "id": f"{kind}{n}",
            "target": "chess player",
            "bias_type": "profession",
            "context": "The chess player was BLANK.",
            "sentences": [
                {"sentence": "The chess player was hispanic.", "gold_label": "anti-stereotype"},
                {"sentence": "The chess player was fox.", "gold_label": "unrelated"},
                {"sentence": "The chess player was asian.", "gold_label": "stereotype"},
            ],
        }

    path = tmp_path / "dev.json"
    path.write_text(
        json.dumps(
            {
                "version": "1.0",
                "data": {
                    "intrasentence": [example("intra", 0)],
                    "intersentence": [example("inter", 0), example("inter", 1)],
                },
            }
        )
    )
    items = load_dataset_items("stereoset", path)[1]
    assert len(items) == 3 and items[0].options == (" The chess player was asian.", " The chess player was hispanic.")
    assert {i.meta["format"] for i in items} == {"intersentence", "intrasentence"} and items[0].reference == {
        "stereotyped": 0
    }
    broken = json.loads(path.read_text())
    broken["data"]["intersentence"][1]["sentences"].pop()
    path.write_text(json.dumps(broken))
    with pytest.raises(CrossriskError, match=r"data.intersentence\[1\]: no sentence with gold_label \['stereotype'\]"):
        load_dataset_items("stereoset", path)


def test_minimal_pairs_carry_their_group_pair_for_clustering() -> None:
    from crossrisk_bench.data.datasets import group_pair

    assert group_pair("Women are bad at math.", "Men are bad at math.") == "women|men"
    assert group_pair("same", "same") == "-|-"
