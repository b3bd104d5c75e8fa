"""Compare two saved runs of the same items cell by cell: verdicts, labels and answers.

Why: a faster path (bfloat16, another kernel, a new engine) is only usable for gating if it
reaches the same verdicts as the reference. Usage:

    python scripts/compare_runs.py REFERENCE/results.json OTHER/results.json

Prints the share of cells whose verdict (and label) agree, each disagreeing cell with both
effects, and per model the share of items whose answer (and score) is identical (items scored by
log-likelihood have no answer text, so they count as identical answers; compare the scores).
"""

from __future__ import annotations

import sys
from collections import defaultdict

from crossrisk_bench.report.outputs import load_document


def main(reference_path: str, other_path: str) -> int:
    reference, other = load_document(reference_path), load_document(other_path)
    cells = {(r.defense_name, r.task): r for r in other.effects}
    same_verdict = same_label = 0
    disagreements = []
    answers: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # same answer, same score, items
    common = 0
    based: set[str] = set()
    for ref in reference.effects:
        mine = cells.get((ref.defense_name, ref.task))
        if mine is None:
            continue
        common += 1
        same_verdict += ref.verdict == mine.verdict
        same_label += ref.label == mine.label
        if ref.verdict != mine.verdict:
            disagreements.append((ref, mine))
        theirs = {i.id: i for i in mine.items}
        count_base = ref.task not in based  # the base's answers appear in every cell of a task: count once
        based.add(ref.task)
        for item in ref.items:
            match = theirs.get(item.id)
            if match is None:
                continue
            pairs = [(ref.defense_name, item.defended_response, match.defended_response, item.defended, match.defended)]
            if count_base:
                pairs.append(("base", item.base_response, match.base_response, item.base, match.base))
            for model, a, b, score_a, score_b in pairs:
                counts = answers[model]
                counts[0] += a == b
                counts[1] += score_a == score_b
                counts[2] += 1
    if not common:
        print("no cell in common")
        return 1
    print(f"cells compared: {common}")
    print(f"same verdict: {same_verdict}/{common} = {same_verdict / common:.1%}")
    print(f"same label:   {same_label}/{common} = {same_label / common:.1%}")
    for ref, mine in disagreements:
        print(
            f"  {ref.defense_name} x {ref.task}: {ref.verdict} ({100 * ref.regression:+.1f} pts) vs "
            f"{mine.verdict} ({100 * mine.regression:+.1f} pts)"
        )
    totals = [sum(c[k] for c in answers.values()) for k in range(3)]
    for model, (answer, score, n) in sorted(answers.items()) + [("all models", tuple(totals))]:
        if n:
            print(
                f"{model}: identical answer {answer}/{n} = {answer / n:.1%}, identical score {score}/{n} = {score / n:.1%}"
            )
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        raise SystemExit(2)
    raise SystemExit(main(sys.argv[1], sys.argv[2]))
