"""Privacy tasks: embedded items match their builders, tasks run on the tiny model, metrics hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossrisk_bench.data.synthetic import email_corpus, make_people
from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.tasks.privacy import (
    auc_per_positive,
    membership_items,
    people,
    tpr_at_fpr,
    training_corpus,
)


def test_embedded_item_counts_and_balance() -> None:
    for name in ("privacy_awareness", "context_leakage"):
        items = TASKS.get(name).load_items()
        assert len(items) >= 60
    awareness = TASKS.get("privacy_awareness").load_items()
    assert {i.slice("category") for i in awareness} >= {"email", "phone", "address", "ssn", "iban", "diagnosis"}
    leakage = TASKS.get("context_leakage").load_items()
    assert {i.slice("probe") for i in leakage} == {"direct", "indirect"}
    assert all(i.reference["value"] in i.prompt.system_prompt for i in leakage)


def test_synthetic_people_are_deterministic_and_unique() -> None:
    assert make_people(20, seed=3) == make_people(20, seed=3)
    assert make_people(20, seed=3) != make_people(20, seed=4)
    assert len({p.name for p in people()}) == len(people())


def test_corpus_carries_members_pii_and_never_non_members() -> None:
    corpus = "\n".join(training_corpus())
    assert people()[0].email in corpus and people()[0].phone in corpus
    assert all(people()[i].email not in corpus for i in range(40, len(people())))
    assert len(email_corpus(make_people(2))) == 8


def test_membership_items_split_members_and_non_members() -> None:
    items = membership_items()
    assert sum(i.meta["member"] for i in items) == 160
    assert sum(not i.meta["member"] for i in items) == 720  # enough for a 1% false-positive rate to mean 7 records
    corpus = "\n".join(training_corpus())
    assert not any(i.reference["continuation"].strip() in corpus for i in items if not i.meta["member"])


@pytest.mark.parametrize("name", ["privacy_awareness", "context_leakage", "pii_leakage", "membership_inference"])
def test_task_runs_on_the_tiny_model(name: str, make_backend) -> None:
    task = TASKS.get(name)
    result = task.evaluate(make_backend(batch_size=8), limit=12)
    assert result.task == name and result.risk.value == "privacy" and result.judge
    assert 0.0 <= result.value <= 1.0
    assert all(0.0 <= o.score <= 1.0 for o in result.outcomes)
    assert len({o.item_id for o in result.outcomes}) == result.n
    if name == "membership_inference":
        assert result.n == 12 and result.summary["non_members"] == 6  # limit spread over both classes
        assert result.value == pytest.approx(abs(result.summary["auc_loss"] - 0.5))
    else:
        assert result.n == 12 and all(o.response is not None for o in result.outcomes)


def test_unknown_task_lists_known_ones() -> None:
    with pytest.raises(CrossriskError, match="unknown task 'pii'; known tasks: .*pii_leakage.*context_leakage"):
        TASKS.get("pii")


scores = st.lists(st.floats(-50, 0, allow_nan=False), min_size=1, max_size=30)


@given(scores, scores)
def test_auc_is_bounded_symmetric_and_order_free(pos: list[float], neg: list[float]) -> None:
    auc = sum(auc_per_positive(pos, neg)) / len(pos)
    assert 0.0 <= auc <= 1.0
    assert auc == pytest.approx(1.0 - sum(auc_per_positive(neg, pos)) / len(neg))
    assert auc == pytest.approx(sum(auc_per_positive(pos[::-1], sorted(neg))) / len(pos))


def test_auc_and_tpr_on_separable_scores() -> None:
    assert sum(auc_per_positive([-1, -2], [-5, -6])) / 2 == 1.0
    assert tpr_at_fpr([-1, -2], [-5, -6], 0.0) == 1.0
    assert tpr_at_fpr([-9, -9], [-5, -6], 0.5) == 0.0


def test_reference_calibration_finds_what_only_the_target_learned(make_backend) -> None:
    """A target tuned on the members' records against its own untouched copy as reference:
    calibrated AUC must be high, while the same model as both target and reference gives 0.5."""
    import torch

    from crossrisk_bench.data.items import take
    from crossrisk_bench.tasks.privacy import reference_calibrated_membership

    items = take(membership_items(), 16, by="category")
    reference = make_backend()
    target = make_backend()
    tokenizer, model = target.tokenizer, target.model
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    members = [i.prompt.text + i.reference["continuation"] for i in items if i.meta["member"]]
    for _ in range(40):
        enc = tokenizer(members, return_tensors="pt", padding=True, add_special_tokens=False)
        labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
        model(**enc, labels=labels).loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.eval()
    target.refresh_fingerprint()
    assert reference_calibrated_membership(target, reference, items)["auc_reference"] >= 0.9
    assert reference_calibrated_membership(reference, reference, items)["auc_reference"] == 0.5
