"""Durability (opt-in: --crossrisk-attacks fixtures/attacks.toml, or -m durability with the shipped
attacks): every weights or checkpoint defense and the undefended base are fine-tuned by every run
of every attack, then each attacked defense is compared with the base attacked the same way on
every task. The cells, worst cases, survival and fragility flags go to results.json, the model
card, the HTML report and durability.png; the policy's [durability] rule decides failures."""

import pytest


@pytest.mark.durability
def test_durability(crossrisk_durability):
    crossrisk_durability()
