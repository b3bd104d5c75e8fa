"""Compare two saved runs of the same items cell by cell: verdicts, labels and answers.

Why: a faster path (bfloat16, another kernel, a new engine) is only usable for gating if it
reaches the same verdicts as the reference. Usage:

    python scripts/compare_runs.py REFERENCE/results.json OTHER/results.json
    python scripts/compare_runs.py --exact BEFORE/results.json AFTER/results.json

Prints the share of cells whose verdict (and label) agree, each disagreeing cell with both
effects, and per model the share of items whose answer (and score) is identical (items scored by
log-likelihood have no answer text, so they count as identical answers; compare the scores).

`--exact` is for a change that must not change results (a refactor): every effect record of the
two runs, field by field, must be identical; it prints each differing field and exits 1.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from typing import Any

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


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as `path: before != after` lines."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            if key not in before or key not in after:
                out.append(f"{path}.{key}: only in {'after' if key in after else 'before'}")
            else:
                out += differences(before[key], after[key], f"{path}.{key}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [line for i, (a, b) in enumerate(zip(before, after)) for line in differences(a, b, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {str(before)[:100]!r} != {str(after)[:100]!r}"]


def exact(before_path: str, after_path: str, *, shown: int = 40) -> int:
    before, after = load_document(before_path), load_document(after_path)
    cells = {(r.defense_name, r.task): r.to_json() for r in before.effects}
    others = {(r.defense_name, r.task): r.to_json() for r in after.effects}
    found = [f"{cell}: only in {'before' if cell in cells else 'after'}" for cell in sorted(set(cells) ^ set(others))]
    for cell in sorted(set(cells) & set(others)):
        found += [f"{cell[0]} x {cell[1]}{line}" for line in differences(cells[cell], others[cell])]
    print(f"{len(cells)} vs {len(others)} effect records; {len(found)} differences")
    for line in found[:shown]:
        print("  " + line)
    return 1 if found else 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "--exact":
        raise SystemExit(exact(args[1], args[2]))
    if len(args) != 2:
        print(__doc__)
        raise SystemExit(2)
    raise SystemExit(main(args[0], args[1]))
