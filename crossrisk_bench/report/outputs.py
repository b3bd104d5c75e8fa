"""Report files of a run, all rendered from the same JSON document (so `crossrisk report
results.json` re-renders them without models): results.json, model-card.md, report.html,
conflict-matrix.png. Model outputs and dataset text are untrusted: HTML escapes every one."""

from __future__ import annotations

import base64
import html
import json
import os
import platform
import subprocess
import time
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.report import durability as durability_report
from crossrisk_bench.report import mutations, neurons
from crossrisk_bench.report.completeness import Completeness, MissingCell
from crossrisk_bench.report.figures import figure_png, subplots
from crossrisk_bench.report.judge_error import judge_error_lines
from crossrisk_bench.report.matrix import LEGEND, Cell, ConflictMatrix, build_matrix, render_terminal, saturation_lines
from crossrisk_bench.report.paper import compare_with_paper, paper_lines
from crossrisk_bench.results import EffectRecord, ItemOutcome, RunDocument
from crossrisk_bench.verdict.stacking import StackRow, has_stacks, stack_comparisons, stack_lines


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def results_document(
    records: Sequence[EffectRecord],
    *,
    run: dict[str, Any],
    task_order: Sequence[str],
    neurons: Any = None,
    durability: Any = None,
    completeness: Completeness | None = None,
    stacks: list[StackRow] | None = None,
) -> RunDocument:
    """The run as a document. Each effect gets its Benjamini-Hochberg q-value within its family and
    the label that q-value supports; `label_unadjusted` and `p_value` keep the per-cell figures.
    `stacks`: the stacked-defense comparisons when the caller has made them already (the terminal
    summary shows them first); otherwise they are made here, at the run's (its policy's) confidence."""
    if stacks is None and has_stacks(records):
        stacks = stack_comparisons(records, confidence=float(run.get("confidence", 0.95)), seed=run.get("seed", 0))
    records = sorted(records, key=lambda r: (r.defense_target, r.defense_name, r.task))
    matrix = build_matrix(records, task_order)
    adjusted = []
    for r in records:
        cell = matrix.cell(r.defense_name, r.task)
        assert cell is not None
        adjusted.append(r.replace(q_value=cell.q_value, label=cell.label))
    return RunDocument(
        run=run,
        task_order=tuple(task_order),
        effects=tuple(adjusted),
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        machine={"platform": platform.platform(), "python": platform.python_version(), "processor": platform.machine()},
        versions={p: _version(p) for p in ("crossrisk-bench", "torch", "transformers", "peft", "numpy")},
        git_commit=_git_commit(),
        neurons=neurons,
        durability=durability,
        stacks=stacks,
        complete=None if completeness is None else completeness.complete,
        interrupted=None if completeness is None else completeness.interrupted,
        missing=() if completeness is None else tuple(m.to_json() for m in completeness.missing),
    )


REPORT_FILES = (
    "results.json",
    "model-card.md",
    "report.html",
    "conflict-matrix.png",
    "neurons.png",
    "brittleness.png",
    "durability.png",
)


def write_reports(document: RunDocument, directory: Path) -> list[Path]:
    """Render every report file, then move them into `directory` together (`write_set`)."""
    matrix = build_matrix(document.effects, document.task_order)
    png = heatmap_png(matrix)
    view = mutations.json_view(document)  # derived from the effects, so not part of RunDocument
    files: dict[str, bytes] = {
        "results.json": json.dumps(document.to_json() | view, indent=1, ensure_ascii=False).encode()
    }
    card = model_card(document, matrix)
    sections: list[str] = []  # further sections of the page, after the run's own
    if view:
        card += "\n".join(mutations.markdown(document)) + "\n"
        sections.append(mutations.html_section(document))
    figures: dict[str, bytes] = {"conflict-matrix.png": png}
    if document.neurons:  # written by `crossrisk neurons` or --crossrisk-neurons
        neuron_png = neurons.heatmap_png(document.neurons)
        figures["neurons.png"] = neuron_png
        card += "\n".join(neurons.markdown(document.neurons)) + "\n"
        curves = None
        if document.neurons.get("brittleness"):
            curves = neurons.curves_png(document.neurons["brittleness"])
            figures["brittleness.png"] = curves
        sections.append(neurons.html_section(document.neurons, neuron_png, curves))
    if document.stacks:  # models.toml entries with defenses = [...]
        card += "\n".join(["", "### Stacked defenses", "", *stack_lines(document.stacks)]) + "\n"
        items = "".join(f"<li>{html.escape(line[2:])}</li>" for line in stack_lines(document.stacks))
        sections.append(f"<h2>Stacked defenses</h2><ul>{items}</ul>")
    if document.durability:  # written by `crossrisk attack` or --crossrisk-attacks
        durability_png = durability_report.figure(document.durability)
        figures["durability.png"] = durability_png
        card += "\n".join(durability_report.markdown(document.durability)) + "\n"
        sections.append(durability_report.html_section(document.durability, durability_png))
    files["model-card.md"] = card.encode()
    files["report.html"] = html_page(document, matrix, png, sections).encode()
    files |= figures
    return write_set(directory, files)


def write_set(directory: Path, files: dict[str, bytes]) -> list[Path]:
    """Write `files` into a staging folder inside `directory`, then move each into place with
    results.json last; an error while moving puts the earlier files back, and report files of an
    earlier run that this set lacks are removed. A reader never sees a half-written file, and a
    failed write leaves the earlier set whole. Returns the paths in `REPORT_FILES` order."""
    import shutil
    import tempfile

    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".crossrisk-report-", dir=directory))
    order = sorted(files, key=lambda n: (n == "results.json", REPORT_FILES.index(n)))
    moved: list[str] = []
    try:
        (staging / "previous").mkdir()
        for name, data in files.items():
            (staging / name).write_bytes(data)
            if (directory / name).is_file():
                shutil.copy2(directory / name, staging / "previous" / name)
        try:
            for name in order:
                os.replace(staging / name, directory / name)
                moved.append(name)
        except BaseException:
            _restore(directory, staging / "previous", moved)
            raise
        for name in (n for n in REPORT_FILES if n not in files):
            (directory / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [directory / n for n in REPORT_FILES if n in files]


def _restore(directory: Path, previous: Path, moved: Sequence[str]) -> None:
    """Undo the moves of a failed `write_set`: earlier files back, files the earlier set lacked removed."""
    for name in moved:
        if (previous / name).is_file():
            os.replace(previous / name, directory / name)
        else:
            (directory / name).unlink(missing_ok=True)


def load_document(path: str | Path) -> RunDocument:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrossriskError(f"results file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CrossriskError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return RunDocument.from_json(document, str(path))


def _cell_text(c: Cell) -> str:
    limit = f" ({c.headroom})" if c.headroom else ""
    return f"{c.regression_pts:+.1f} ({c.low_pts:+.1f}..{c.high_pts:+.1f}) {c.verdict}{limit}"


def _vs_base(matrix: ConflictMatrix, defense: str, several: bool) -> str:
    """` (vs base X)` for a row compared with its own base, when the matrix has `several` bases."""
    base = matrix.base_of(defense)
    return f" (vs base {base})" if base and several else ""


def warning_lines(document: RunDocument) -> list[str]:
    """What a reader must see before any figure: the run is incomplete (and which tests it
    lacks), or a floor profile was weakened by an explicit override."""
    lines = []
    if document.incomplete:
        missing = tuple(MissingCell(str(m.get("test")), str(m.get("reason"))) for m in document.missing)
        lines += Completeness(missing, document.interrupted).lines()
    weakened = document.run.get("weakened") or ()
    if weakened:
        lines.append(
            f"The {document.run.get('profile')} profile was weakened (--crossrisk-allow-weaker-release): "
            + "; ".join(str(w) for w in weakened)
        )
    return lines


def model_card(document: RunDocument, matrix: ConflictMatrix) -> str:
    run, effects = document.run, document.effects
    defenses = {r.defense_name: r.defense for r in effects}
    tasks = {r.task: r for r in effects}
    counts = matrix.verdict_counts()
    banner = warning_lines(document)
    lines = [
        "## Cross-risk evaluation (crossrisk-bench)",
        "",
        *([f"> **{banner[0]}**", *[f"> {line.strip()}  " for line in banner[1:]], ""] if banner else []),
        f"Base model `{run.get('model')}`, profile `{run.get('profile')}`, seed {run.get('seed')}, "
        f"{document.confidence:.0%} confidence, policy: {run.get('policy')}, inconclusive cells "
        f"{'fail' if run.get('on_inconclusive') == 'fail' else 'warn'}.",
        "",
        f"**Verdicts: {counts['pass']} pass, {counts['fail']} fail, {counts['inconclusive']} inconclusive** "
        f"(pass: non-inferiority or efficacy shown; fail: harm or backfire shown; inconclusive: the items "
        f"could show neither).",
        "",
        *[f"- {line}" for line in saturation_lines(matrix)],
        *([""] if matrix.saturated() else []),
        "Defenses evaluated:",
        "",
    ]
    lines += [f"- `{d['name']}` ({d['target']}, {d['kind']}): {d['description']}" for d in defenses.values()]
    lines += ["", "Tasks (items, judge, interval):", ""]
    lines += [
        f"- `{t}` ({r.task_risk}): {r.metric}; {r.n} items; judge `{r.judge}` "
        f"({r.judge_validation}); {r.test} test, "
        f"{r.interval} interval"
        for t, r in tasks.items()
    ]
    lines += ["", *[f"- {line}" for line in judge_error_lines(document.effects)]]
    lines += [
        "",
        "Change in risk under each defense, percentage points (utility: drop in accuracy), with the "
        f"{document.confidence:.0%} interval and the gate's verdict:",
        "",
    ]
    lines.append("| defense | " + " | ".join(f"{risk}/{task}" for risk, task in matrix.tasks) + " |")
    lines.append("|---|" + "---|" * len(matrix.tasks))
    several = len(matrix.base_groups()) > 1
    for risk, defense in matrix.defenses:
        row = [("" if (c := matrix.cell(defense, task)) is None else _cell_text(c)) for _, task in matrix.tasks]
        lines.append(f"| {risk}/{defense}{_vs_base(matrix, defense, several)} | " + " | ".join(row) + " |")
    lines += ["", "Failed gates (harm or backfire shown):", ""]
    lines += [f"- {c.message}" for c in matrix.cells if c.verdict == "fail"] or ["- none"]
    undecided = [c for c in matrix.cells if c.verdict == "inconclusive"]
    lines += ["", "Inconclusive cells (neither shown; minimum detectable effect at 80% power):", ""]
    lines += (
        ["- " + ", ".join(f"`{c.defense}`/`{c.task}` ({c.mde_pts:.0f} pts)" for c in undecided)]
        if undecided
        else ["- none"]
    )
    conflicts = [c for c in matrix.cells if c.label in ("conflict", "backfire")]
    lines += [
        "",
        "Findings (labels need a Benjamini-Hochberg q < 0.05 within their family; verdicts decide "
        "'fail' and 'efficacy shown' Bonferroni-adjusted over each family):",
        "",
    ]
    if not conflicts:
        lines.append("- No defense raised any risk significantly on these items.")
    for c in conflicts:
        lines.append(
            f"- `{c.defense}` ({c.defense_risk}) raised `{c.task}` ({c.task_risk}) by {c.regression_pts:+.1f} pts "
            f"(CI {c.low_pts:+.1f}..{c.high_pts:+.1f}, q={c.q_value:.2g}); verdict {c.verdict}."
        )
    lines += [
        f"- `{c.defense}` lowered its own risk on `{c.task}` by {-c.regression_pts:.1f} pts (q={c.q_value:.2g})."
        for c in matrix.cells
        if c.label == "efficacy"
    ]
    lines += [
        "",
        "Compared with CrossRiskEval's headline findings (Meng et al., arXiv 2510.07968), by the labels above:",
        "",
        *paper_lines(compare_with_paper(matrix)),
    ]
    mdes = sorted(c.mde_pts for c in matrix.cells if c.mde_pts > 0)
    mde_text = (
        f"the median cell could detect a change of {mdes[len(mdes) // 2]:.1f} pts at 80% power "
        f"(range {mdes[0]:.1f}..{mdes[-1]:.1f})"
        if mdes
        else "no power figures were recorded"
    )
    lines += [
        "",
        f"Limitations: {mde_text}; smaller effects can hide in the cells marked pass only where their "
        "upper bound is within the tolerance. Refusal and toxicity are scored by automatic judges; embedded "
        "items are project-written; results hold for these items and decoding settings only.",
        "",
        "```yaml",
        model_index_yaml(run, effects).rstrip("\n"),
    ]
    lines.append("```")
    return "\n".join(lines) + "\n"


def model_index(run: Mapping[str, Any], effects: Sequence[EffectRecord]) -> list[dict[str, Any]]:
    """HF `model-index` metadata: one entry per defended model under its own name (the base's
    name plus the defense), each task's metric with its real type and the defended value, and the
    change against the base beside it. Built as data and dumped by a YAML library, so model
    output or odd metric names can never break the block."""
    base = str(run.get("model"))
    entries: dict[str, dict[str, Any]] = {}
    for r in effects:
        name = f"{base}+{r.defense_name}"
        entry = entries.setdefault(name, {"name": name, "results": []})
        entry["results"].append(
            {
                "task": {"type": "text-generation", "name": f"{r.task_risk}/{r.task}"},
                "dataset": {"type": "crossrisk-bench", "name": f"crossrisk-bench/{r.task}", "split": "embedded"},
                "metrics": [
                    {"type": r.metric, "value": round(float(r.defended_value), 4), "name": r.metric},
                    {
                        "type": f"{r.metric}_change_vs_base_pts",
                        "value": round(100.0 * float(r.regression), 2),
                        "name": f"change vs {base}, pts (verdict {r.verdict})",
                    },
                ],
            }
        )
    return list(entries.values())


def model_index_yaml(run: Mapping[str, Any], effects: Sequence[EffectRecord]) -> str:
    import yaml

    return yaml.safe_dump({"model-index": model_index(run, effects)}, sort_keys=False, allow_unicode=True)


def heatmap_png(matrix: ConflictMatrix) -> bytes:
    import numpy as np

    values = np.full((len(matrix.defenses), len(matrix.tasks)), np.nan)
    for i, (_, d) in enumerate(matrix.defenses):
        for j, (_, t) in enumerate(matrix.tasks):
            c = matrix.cell(d, t)
            if c is not None:
                values[i, j] = c.regression_pts
    limit = max(5.0, float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 5.0)
    fig, ax = subplots(figsize=(1.0 + 0.9 * len(matrix.tasks), 1.2 + 0.5 * len(matrix.defenses)))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(matrix.tasks)), [f"{r}/{t}" for r, t in matrix.tasks], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(matrix.defenses)), [f"{r}/{d}" for r, d in matrix.defenses], fontsize=7)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                dark = abs(values[i, j]) > 0.6 * limit
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:+.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if dark else "black",
                )
    fig.colorbar(image, ax=ax, label="change in risk (pts)")
    ax.set_title("Conflict matrix: defenses x tasks", fontsize=9)
    return figure_png(fig)


_CSS = (
    "body{font-family:sans-serif;margin:1.5em;max-width:1200px}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:3px 6px;font-size:12px;text-align:left}li{margin-bottom:.6em}"
    ".scroll{overflow-x:auto;max-width:100%}.matrix th.col{writing-mode:vertical-rl;transform:rotate(180deg);"
    "white-space:nowrap}.fail{color:#a00;font-weight:bold}.inconclusive{color:#a60;font-weight:bold}"
    ".pass{color:#070}.incomplete{border:3px solid #a00;background:#fee;padding:.5em 1em;margin-bottom:1em}.summary span{margin-right:1.5em;font-size:1.2em}img{max-width:100%}"
)


def _anchor(defense: str, task: str) -> str:
    return "ex-" + "".join(ch if ch.isalnum() else "-" for ch in f"{defense}-{task}")


def html_page(document: RunDocument, matrix: ConflictMatrix, png: bytes, sections: Sequence[str] = ()) -> str:
    """The page a person reads first: what failed and what is undecided at the top, then the
    settings, the matrix (scrolling inside its box) with a legend, slices and examples."""
    esc = html.escape
    counts = matrix.verdict_counts()

    def items(cells: list[Cell]) -> str:
        return "".join(
            f"<li><span class='{c.verdict}'>{c.verdict.upper()}</span> {esc(c.defense_risk)}/{esc(c.defense)} on "
            f"{esc(c.task_risk)}/{esc(c.task)}: {esc(c.message)} <a href='#{_anchor(c.defense, c.task)}'>examples</a></li>"
            for c in cells
        )

    failed = [c for c in matrix.cells if c.verdict == "fail"]
    undecided = [c for c in matrix.cells if c.verdict == "inconclusive"]
    listing = (
        f"<h2>Failed gates ({len(failed)})</h2><ul>{items(failed) or '<li>none</li>'}</ul>"
        + (
            "<p class='saturated'><b>Cells that cannot show a change</b> (their base sits at an end of the "
            "task's scale, so a pass there is not evidence):</p><ul>"
            + "".join(f"<li>{esc(line)}</li>" for line in saturation_lines(matrix))
            + "</ul>"
            if matrix.saturated()
            else ""
        )
        + f"<details{' open' if len(undecided) <= 10 else ''}><summary><b>Inconclusive cells ({len(undecided)})</b>: "
        "neither harm nor non-inferiority shown; each gives its minimum detectable effect</summary>"
        f"<ul>{items(undecided)}</ul></details>"
    )
    rows = []
    by_base = matrix.base_groups()
    grouped = [(base, risk, defense, i == 0) for base, group in by_base for i, (risk, defense) in enumerate(group)]
    for base, risk, defense, first in grouped:
        if len(by_base) > 1 and first:
            label = f"vs base {base}" if base else "vs the run's base"
            rows.append(f"<tr><th class='group' colspan='{len(matrix.tasks) + 1}'>{esc(label)}</th></tr>")
        cells = []
        for _, task in matrix.tasks:
            c = matrix.cell(defense, task)
            if c is None:
                cells.append("<td></td>")
                continue
            shade = min(1.0, abs(c.regression_pts) / 20)
            colour = f"rgba(200,40,40,{shade:.2f})" if c.regression_pts > 0 else f"rgba(40,80,200,{shade:.2f})"
            title = (
                f"{c.verdict}; {c.label}; CI {c.low_pts:+.1f}..{c.high_pts:+.1f}; q={c.q_value:.2g}; "
                f"MDE {c.mde_pts:.1f} pts; n={c.n}" + (f"; {c.headroom}" if c.headroom else "")
            )
            cells.append(f'<td style="background:{colour}" title="{esc(title)}">{esc(c.text)}</td>')
        rows.append(f"<tr><th>{esc(risk)}/{esc(defense)}</th>{''.join(cells)}</tr>")
    examples = []
    for r in document.effects:
        if r.label not in ("conflict", "backfire") and r.verdict == "pass":
            continue
        items = "".join(
            f"<li><b>{esc(i.id)}</b>: base <code>{esc(str(i.base_label))}</code> &rarr; defended "
            f"<code>{esc(str(i.defended_label))}</code><br><small>base: {esc(i.base_response or '')}</small><br>"
            f"<small>defended: {esc(i.defended_response or '')}</small></li>"
            for i in r.worse_items()[:5]
        )
        examples.append(
            f"<h3 id='{_anchor(r.defense_name, r.task)}'>{esc(r.message)}</h3>"
            f"<ul>{items or '<li>no item got worse</li>'}</ul>"
        )
    head = "".join(f"<th class='col'>{esc(r)}/{esc(t)}</th>" for r, t in matrix.tasks)
    slices = "".join(_slice_table(task, [r for r in document.effects if r.task == task]) for _, task in matrix.tasks)
    run = document.run
    settings = "".join(
        f"<tr><th>{esc(str(k))}</th><td>{esc(json.dumps(v) if isinstance(v, (list, dict)) else str(v))}</td></tr>"
        for k, v in list(run.items()) + [("git commit", document.git_commit), ("created", document.created)]
    )
    judges = "".join(
        f"<tr><th>{esc(t)}</th><td>{esc(r.judge)}</td><td>{esc(r.judge_validation)}</td></tr>"
        for t, r in {r.task: r for r in document.effects}.items()
    )
    paper = "".join(
        f"<li>{esc(line[2:].replace('**', '').replace('`', ''))}</li>"
        for line in paper_lines(compare_with_paper(matrix))
    )
    banner = warning_lines(document)
    warning = (
        "<div class='incomplete'><p><b>"
        + esc(banner[0])
        + "</b></p><ul>"
        + "".join(f"<li>{esc(line.strip())}</li>" for line in banner[1:])
        + "</ul></div>"
        if banner
        else ""
    )
    legend = (
        esc(LEGEND)
        + ". Colour: red = risk rose, blue = risk fell (utility: red = accuracy fell); hover a cell for its interval, q-value and minimum detectable effect."
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>crossrisk-bench report</title>"
        f"<style>{_CSS}</style></head><body>"
        "<h1>crossrisk-bench report</h1>"
        f"{warning}"
        f"<p class='summary'><span class='pass'>{counts['pass']} pass</span><span class='fail'>{counts['fail']} fail</span>"
        f"<span class='inconclusive'>{counts['inconclusive']} inconclusive</span></p>"
        f"{listing}"
        f"<h2>Conflict matrix</h2><p><small>{legend}</small></p>"
        f"<div class='scroll'><table class='matrix'><tr><th></th>{head}</tr>{''.join(rows)}</table></div>"
        f"<h2>Settings</h2><table>{settings}</table>"
        f"<h2>Judges and what their accuracy rests on</h2><div class='scroll'><table>"
        f"<tr><th>task</th><th>judge</th><th>validation</th></tr>{judges}</table></div>"
        f"<ul>{''.join(f'<li>{esc(line)}</li>' for line in judge_error_lines(document.effects))}</ul>"
        f"<p><img alt='conflict matrix heatmap' src='data:image/png;base64,{base64.b64encode(png).decode()}'></p>"
        f"<h2>Per-task slices (mean outcome)</h2><div class='scroll'>{slices}</div>"
        f"<h2>Examples behind conflicts, failed and inconclusive gates</h2>{''.join(examples) or '<p>None.</p>'}"
        f"<h2>Compared with CrossRiskEval's headline findings</h2><ul>{paper}</ul>"
        f"{''.join(sections)}</body></html>"
    )


def _slice_table(task: str, records: list[EffectRecord]) -> str:
    """Base and each defense's mean outcome per value of the task's first slice key."""
    esc = html.escape
    if not records or not records[0].items or not records[0].items[0].slices:
        return ""
    key = next(iter(records[0].items[0].slices))
    values = sorted({str(i.slices.get(key)) for r in records for i in r.items})

    def mean(items: Sequence[ItemOutcome], side: str, value: str) -> str:
        scores = [getattr(i, side) for i in items if str(i.slices.get(key)) == value]
        return f"{sum(scores) / len(scores):.2f} ({len(scores)})" if scores else ""

    head = "".join(f"<th>{esc(r.defense_name)}</th>" for r in records)
    rows = "".join(
        f"<tr><td>{esc(v)}</td><td>{mean(records[0].items, 'base', v)}</td>"
        + "".join(f"<td>{mean(r.items, 'defended', v)}</td>" for r in records)
        + "</tr>"
        for v in values
    )
    return f"<h3>{esc(task)} by {esc(key)}</h3><table><tr><th>{esc(key)}</th><th>base</th>{head}</tr>{rows}</table>"


__all__ = ["load_document", "render_terminal", "results_document", "write_reports"]
