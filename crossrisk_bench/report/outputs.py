"""Report files of a run, all rendered from the same JSON document (so `crossrisk report
results.json` re-renders them without models): results.json, model-card.md, report.html,
conflict-matrix.png. Model outputs and dataset text are untrusted: HTML escapes every one."""

from __future__ import annotations

import base64
import html
import io
import json
import platform
import subprocess
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from crossrisk_bench.report.matrix import ConflictMatrix, build_matrix, render_terminal

SCHEMA_VERSION = 1


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def results_document(records: Sequence[dict[str, Any]], *, run: dict[str, Any], task_order: Sequence[str]) -> dict[str, Any]:
    records = sorted(records, key=lambda r: (r["defense"]["target"], r["defense"]["name"], r["task"]))
    return {
        "schema_version": SCHEMA_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run": run,
        "task_order": list(task_order),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "processor": platform.machine()},
        "versions": {p: _version(p) for p in ("crossrisk-bench", "torch", "transformers", "peft", "numpy")},
        "git_commit": _git_commit(),
        "effects": list(records),
    }


def write_reports(document: dict[str, Any], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    matrix = build_matrix(document["effects"], document["task_order"])
    paths = [directory / "results.json", directory / "model-card.md", directory / "report.html", directory / "conflict-matrix.png"]
    paths[0].write_text(json.dumps(document, indent=1, ensure_ascii=False))
    card, png = model_card(document, matrix), heatmap_png(matrix)
    page = html_page(document, matrix, png)
    if document.get("neurons"):  # written by `crossrisk neurons`
        from crossrisk_bench.report import neurons

        neuron_png = neurons.heatmap_png(document["neurons"])
        paths.append(directory / "neurons.png")
        paths[-1].write_bytes(neuron_png)
        card += "\n".join(neurons.markdown(document["neurons"])) + "\n"
        page = page.replace("</body></html>", neurons.html_section(document["neurons"], neuron_png) + "</body></html>")
    paths[1].write_text(card)
    paths[3].write_bytes(png)
    paths[2].write_text(page)
    return paths


def load_document(path: str | Path) -> dict[str, Any]:
    from crossrisk_bench.errors import CrossriskError

    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CrossriskError(f"results file {path} does not exist") from None
    except json.JSONDecodeError as exc:
        raise CrossriskError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise CrossriskError(f"{path}: not a crossrisk results file of schema version {SCHEMA_VERSION}")
    return document


def model_card(document: dict[str, Any], matrix: ConflictMatrix) -> str:
    run, effects = document["run"], document["effects"]
    defenses = {r["defense"]["name"]: r["defense"] for r in effects}
    tasks = {r["task"]: r for r in effects}
    lines = ["## Cross-risk evaluation (crossrisk-bench)", "",
             f"Base model `{run.get('model')}`, profile `{run.get('profile')}`, seed {run.get('seed')}, "
             f"{run.get('confidence', 0.95):.0%} confidence, policy: {run.get('policy')}.", "",
             "Defenses evaluated:", ""]
    lines += [f"- `{d['name']}` ({d['target']}, {d['kind']}): {d['description']}" for d in defenses.values()]
    lines += ["", "Tasks (items, judge):", ""]
    lines += [f"- `{t}` ({r['task_risk']}): {r['metric']}; {r['n']} items; judge `{r['judge']}`" for t, r in tasks.items()]
    lines += ["", "Change in risk under each defense, percentage points (utility: drop in accuracy), "
              "with the 95% paired-bootstrap interval:", ""]
    lines.append("| defense | " + " | ".join(f"{risk}/{task}" for risk, task in matrix.tasks) + " |")
    lines.append("|---|" + "---|" * len(matrix.tasks))
    for risk, defense in matrix.defenses:
        row = []
        for _, task in matrix.tasks:
            c = matrix.cell(defense, task)
            row.append("" if c is None else f"{c.regression_pts:+.1f} ({c.low_pts:+.1f}..{c.high_pts:+.1f}){'' if c.passed else ' FAIL'}")
        lines.append(f"| {risk}/{defense} | " + " | ".join(row) + " |")
    conflicts = [c for c in matrix.cells if c.label in ("conflict", "backfire")]
    lines += ["", "Findings:", ""]
    if not conflicts:
        lines.append("- No defense raised any risk significantly on these items.")
    for c in conflicts:
        lines.append(f"- `{c.defense}` ({c.defense_risk}) raised `{c.task}` ({c.task_risk}) by {c.regression_pts:+.1f} pts "
                     f"(CI {c.low_pts:+.1f}..{c.high_pts:+.1f}, q={c.q_value:.2g}); gate {'passed' if c.passed else 'FAILED'}.")
    lines += [f"- `{c.defense}` lowered its own risk on `{c.task}` by {-c.regression_pts:.1f} pts."
              for c in matrix.cells if c.label == "efficacy"]
    lines += ["", "Limitations: item counts are small in the quick profile, so only large effects are significant; "
              "refusal and toxicity are scored by automatic judges; embedded items are project-written; results hold "
              "for these items and decoding settings only.", "", "```yaml", "model-index:",
              f"- name: {run.get('model')}", "  results:"]
    for r in effects:
        lines += [f"  - task: {{type: text-generation, name: {r['task']}}}",
                  f"    dataset: {{type: crossrisk-bench, name: crossrisk-bench/{r['task']}}}",
                  "    metrics:", f"    - {{type: {r['task']}_{r['defense']['name']}, value: {r['defended_value']:.4f}, "
                  f"name: {r['metric']} under {r['defense']['name']}}}"]
    lines.append("```")
    return "\n".join(lines) + "\n"


def heatmap_png(matrix: ConflictMatrix) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.full((len(matrix.defenses), len(matrix.tasks)), np.nan)
    for i, (_, d) in enumerate(matrix.defenses):
        for j, (_, t) in enumerate(matrix.tasks):
            c = matrix.cell(d, t)
            if c is not None:
                values[i, j] = c.regression_pts
    limit = max(5.0, float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 5.0)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(matrix.tasks), 1.2 + 0.5 * len(matrix.defenses)))
    image = ax.imshow(values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(matrix.tasks)), [f"{r}/{t}" for r, t in matrix.tasks], rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(matrix.defenses)), [f"{r}/{d}" for r, d in matrix.defenses], fontsize=7)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                dark = abs(values[i, j]) > 0.6 * limit
                ax.text(j, i, f"{values[i, j]:+.0f}", ha="center", va="center", fontsize=6, color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label="change in risk (pts)")
    ax.set_title("Conflict matrix: defenses x tasks", fontsize=9)
    return figure_png(fig)


def figure_png(fig: Any) -> bytes:
    """A finished matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def html_page(document: dict[str, Any], matrix: ConflictMatrix, png: bytes) -> str:
    esc = html.escape
    rows = []
    for risk, defense in matrix.defenses:
        cells = []
        for _, task in matrix.tasks:
            c = matrix.cell(defense, task)
            if c is None:
                cells.append("<td></td>")
                continue
            shade = min(1.0, abs(c.regression_pts) / 20)
            colour = f"rgba(200,40,40,{shade:.2f})" if c.regression_pts > 0 else f"rgba(40,80,200,{shade:.2f})"
            cells.append(f'<td style="background:{colour}" title="{esc(c.label)}, q={c.q_value:.2g}">{esc(c.text)}</td>')
        rows.append(f"<tr><th>{esc(risk)}/{esc(defense)}</th>{''.join(cells)}</tr>")
    examples = []
    for r in document["effects"]:
        if r["label"] not in ("conflict", "backfire") and r["passed"]:
            continue
        worse = [i for i in r["items"] if (i["defended"] - i["base"]) * (-1 if r["task_risk"] == "utility" else 1) > 0][:5]
        items = "".join(
            f"<li><b>{esc(i['id'])}</b>: base <code>{esc(str(i['base_label']))}</code> &rarr; defended "
            f"<code>{esc(str(i['defended_label']))}</code><br><small>base: {esc(i['base_response'] or '')}</small><br>"
            f"<small>defended: {esc(i['defended_response'] or '')}</small></li>" for i in worse)
        examples.append(f"<h3>{esc(r['message'])}</h3><ul>{items}</ul>")
    head = "".join(f"<th>{esc(r)}/{esc(t)}</th>" for r, t in matrix.tasks)
    slices = "".join(_slice_table(task, [r for r in document["effects"] if r["task"] == task]) for _, task in matrix.tasks)
    run = esc(json.dumps(document["run"]))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>crossrisk-bench report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:3px 6px;font-size:12px}li{margin-bottom:.6em}</style></head><body>"
        f"<h1>crossrisk-bench: conflict matrix</h1><p>{run}</p>"
        f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table>"
        f"<p><img alt='conflict matrix heatmap' src='data:image/png;base64,{base64.b64encode(png).decode()}'></p>"
        f"<h2>Per-task slices (mean outcome)</h2>{slices}"
        f"<h2>Examples behind conflicts and failed gates</h2>{''.join(examples) or '<p>None.</p>'}"
        "</body></html>"
    )


def _slice_table(task: str, records: list[dict[str, Any]]) -> str:
    """Base and each defense's mean outcome per value of the task's first slice key."""
    esc = html.escape
    if not records or not records[0]["items"] or not records[0]["items"][0]["slices"]:
        return ""
    key = next(iter(records[0]["items"][0]["slices"]))
    values = sorted({str(i["slices"].get(key)) for r in records for i in r["items"]})

    def mean(items: list[dict[str, Any]], field: str, value: str) -> str:
        scores = [i[field] for i in items if str(i["slices"].get(key)) == value]
        return f"{sum(scores) / len(scores):.2f} ({len(scores)})" if scores else ""

    head = "".join(f"<th>{esc(r['defense']['name'])}</th>" for r in records)
    rows = "".join(f"<tr><td>{esc(v)}</td><td>{mean(records[0]['items'], 'base', v)}</td>"
                   + "".join(f"<td>{mean(r['items'], 'defended', v)}</td>" for r in records) + "</tr>" for v in values)
    return f"<h3>{esc(task)} by {esc(key)}</h3><table><tr><th>{esc(key)}</th><th>base</th>{head}</tr>{rows}</table>"


__all__ = ["load_document", "render_terminal", "results_document", "write_reports"]
