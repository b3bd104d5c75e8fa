"""The durability section of the reports: model-card Markdown, HTML (before/after per defense,
worst case highlighted) and one PNG (each defense's effect before attack and its spread after)."""

from __future__ import annotations

import base64
import html
from typing import Any

from crossrisk_bench.durability.summary import DurabilityRow
from crossrisk_bench.report.figures import figure_png, subplots


def _row_words(r: DurabilityRow) -> str:
    flags = " **fragile** (flips across " + ", ".join(r["flips"]) + ")" if r["fragile"] else ""
    return (
        f"| {r['target']}/{r['defense']} | {r['attack']} | {r['task']} | {r['before']:+.1f} ({r['before_verdict']}) | "
        f"{r['median']:+.1f} | {r['worst']:+.1f} ({r['worst_ci'][0]:+.1f}..{r['worst_ci'][1]:+.1f}) at {r['worst_run']} | "
        f"{r['attacked_base_median']:.2f} / {r['attacked_defended_median']:.2f} | {r['survival']}{flags} |"
    )


def markdown(section: dict[str, Any]) -> list[str]:
    attacks = ", ".join(
        f"{a['name']} ({a['examples']} examples, {a['steps']} steps, lr {'/'.join(f'{x:g}' for x in a['lrs'])}, "
        f"seeds {'/'.join(str(s) for s in a['seeds'])}, {'LoRA' if a['lora'] else 'full'})"
        for a in section["attacks"]
    )
    formats = section.get("formats") or {"chat": "the suite's prompts"}
    lines = [
        "",
        "### Durability under fine-tuning attacks",
        "",
        f"Attacks: {attacks}. Every defended model and the undefended base were fine-tuned by each run; "
        "each attacked defended model is compared with the base attacked the same way (points of risk "
        "against the attacked base; negative = the defense still lowers the risk). Own-risk tasks are evaluated "
        f"in {len(formats)} prompt formats: {'; '.join(formats.values())}. Worst = the largest rise over "
        "learning rates, seeds and formats.",
        "",
        "| defense | attack | task | before attack | median after | worst after | attacked base / defended | own-risk efficacy |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row_words(r) for r in section["rows"]]
    fragile = [r for r in section["rows"] if r["fragile"]]
    lines += ["", f"{len(fragile)} of {len(section['rows'])} results flip across seeds, learning rates or formats."]
    return lines


def html_section(section: dict[str, Any], png: bytes) -> str:
    esc = html.escape
    body = []
    for r in section["rows"]:
        worst_class = " class='worst'" if r["worst_verdict"] == "fail" or r["survival"] == "lost" else ""
        body.append(
            f"<tr><td>{esc(r['target'])}/{esc(r['defense'])}</td><td>{esc(r['attack'])}</td><td>{esc(r['task'])}</td>"
            f"<td>{r['before']:+.1f} ({esc(r['before_verdict'])})</td><td>{r['median']:+.1f}</td>"
            f"<td{worst_class}><b>{r['worst']:+.1f}</b> ({r['worst_ci'][0]:+.1f}..{r['worst_ci'][1]:+.1f}) "
            f"at {esc(r['worst_run'])}</td><td>{esc(r['survival'])}"
            + (f" <b>fragile</b> ({esc(', '.join(r['flips']))})" if r["fragile"] else "")
            + "</td></tr>"
        )
    return (
        "<h2>Durability under fine-tuning attacks</h2>"
        "<p>Points of risk against the base attacked the same way (negative: the defense still helps). "
        "Worst case in bold; red where efficacy was lost or harm was shown.</p>"
        "<style>td.worst{background:#f8d0d0}</style>"
        "<table><tr><th>defense</th><th>attack</th><th>task</th><th>before</th><th>median after</th>"
        f"<th>worst after</th><th>own-risk efficacy</th></tr>{''.join(body)}</table>"
        f"<p><img alt='durability' src='data:image/png;base64,{base64.b64encode(png).decode()}'></p>"
    )


def figure(section: dict[str, Any]) -> bytes:
    """Per defense and own-risk task, and per side effect whose worst case is harm shown: the
    effect before attack (a diamond) and every attacked run (dots), one row per attack; the worst
    run ringed."""

    rows = [r for r in section["rows"] if r["gate"] == "efficacy" or r["worst_verdict"] == "fail"] or section["rows"]
    cells = section["cells"]
    fig, ax = subplots(figsize=(8, 0.45 * len(rows) + 1.4))
    for y, r in enumerate(rows):
        after = [
            c["regression"]
            for c in cells
            if c["defense"] == r["defense"] and c["attack"] == r["attack"] and c["task"] == r["task"]
        ]
        ax.scatter(after, [y] * len(after), s=14, color="tab:blue", alpha=0.6)
        ax.scatter([r["before"]], [y], marker="D", color="black", s=30)
        ax.scatter([r["worst"]], [y], s=90, facecolors="none", edgecolors="tab:red")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(rows)), [f"{r['defense']} / {r['attack']} / {r['task']}" for r in rows], fontsize=7)
    ax.set_xlabel("risk vs the attacked base (pts; < 0: the defense still helps); diamond: before attack")
    ax.set_title("Durability: own-risk effects, and side effects shown as harm, before and after attack", fontsize=9)
    return figure_png(fig)
