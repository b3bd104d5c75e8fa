"""The one registry behind tasks, defenses, profiles, datasets and zoo members."""

from __future__ import annotations

import pytest

from crossrisk_bench.config.profiles import get_profile
from crossrisk_bench.data.datasets import LOADERS
from crossrisk_bench.defenses import DEFENSES, get_defense
from crossrisk_bench.defenses.zoo import get_member
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.registry import Registry
from crossrisk_bench.tasks import TASKS


def test_registry_keeps_order_refuses_twins_and_names_the_known() -> None:
    colours = Registry("colour", str.lower, ["Red", "Green"])
    assert colours.names() == ["red", "green"] and list(colours) == ["Red", "Green"] and "red" in colours
    with pytest.raises(ValueError, match="colour 'red' registered twice"):
        colours.add("RED")
    with pytest.raises(CrossriskError, match="unknown colour 'blue'; known colours: red, green"):
        colours.get("blue")
    assert colours.get("blue", None) is None


@pytest.mark.parametrize(
    ("lookup", "message"),
    [
        (lambda: TASKS.get("misues"), "unknown task 'misues'; known tasks: misuse, jailbreak"),
        (lambda: get_defense("guard"), "unknown defense 'guard'; known defenses: guard_prompt"),
        (lambda: get_profile("fast"), "unknown profile 'fast'; known profiles: quick, full, release"),
        (lambda: LOADERS.get("bqq"), "unknown dataset 'bqq'; known datasets: advbench"),
        (lambda: get_member("x"), "unknown zoo member 'x'; known zoo members: exposed"),
    ],
)
def test_every_registry_gives_the_same_error(lookup, message: str) -> None:
    with pytest.raises(CrossriskError, match=message):
        lookup()


def test_defense_names_are_the_registry_keys() -> None:
    assert [d.spec.name for d in DEFENSES] == DEFENSES.names()


def test_judges_are_one_registry_whose_names_the_judges_record() -> None:
    from crossrisk_bench.judges import JUDGES, judge_validation
    from crossrisk_bench.judges.embedding import EmbeddingRefusalJudge
    from crossrisk_bench.judges.fulfilment import FulfilmentJudge
    from crossrisk_bench.judges.learned import LearnedRefusalJudge
    from crossrisk_bench.judges.pii import PIIJudge
    from crossrisk_bench.judges.refusal import KeywordRefusalJudge
    from crossrisk_bench.judges.toxicity import ClassifierToxicityJudge, LexiconToxicityJudge
    from crossrisk_bench.judges.validate import DEFAULT_JUDGES, judge_entry

    for key, judge in [
        ("refusal=keyword", KeywordRefusalJudge),
        ("refusal=learned", LearnedRefusalJudge),
        ("refusal=embedding", EmbeddingRefusalJudge),
        ("fulfilment=rules", FulfilmentJudge),
        ("toxicity=lexicon", LexiconToxicityJudge),
        ("toxicity=classifier", ClassifierToxicityJudge),
        ("pii=match", PIIJudge),
    ]:
        assert JUDGES.get(key).records == judge().name
    assert judge_validation("refusal-keyword-v2").startswith("XSTest v2 human labels")
    assert judge_validation("loglik-pair-v1") is None
    assert all(judge_entry(kind, name).build is not None for kind, name in DEFAULT_JUDGES.items())
    with pytest.raises(
        CrossriskError, match="unknown judge 'refusal=gpt'; known judges: refusal=learned, refusal=keyword"
    ):
        judge_entry("refusal", "gpt")
