"""The neuron-analysis section of the reports: model-card Markdown, HTML and a per-layer heatmap."""

from __future__ import annotations

import html
from typing import Any

from crossrisk_bench.report.figures import figure_png, subplots


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def markdown(section: dict[str, Any]) -> list[str]:
    p = section["params"]
    lines = [
        "",
        "### Conflict-entangled neurons",
        "",
        f"Attribution (activation x gradient of the safe response's log-likelihood) over the "
        f"{p['layers']} x {p['neurons_per_layer']} MLP neurons; critical sets: top {p['q']:.0%} by importance minus "
        f"top {p['p']:.0%} for utility; entangled: in both critical sets with opposite signed attribution.",
        "",
        "| risk pair | entangled | critical sizes | Jaccard | overlap vs random | p |",
        "|---|---|---|---|---|---|",
    ]
    for f in section["pairs"]:
        lines.append(
            f"| {'/'.join(f['pair'])} | {f['entangled']} | {f['critical_sizes'][0]}, {f['critical_sizes'][1]} | "
            f"{f['jaccard']:.3f} | {f['overlap_ratio']:.2f}x | {f['overlap_p_value']:.3g} |"
        )
    rank = section.get("rank_correlation")
    lines += [
        "",
        f"Trend consistency: the entangled neurons' attribution shift predicts the sign of the behavioural "
        f"change in {_pct(section.get('consistency_rate'))} of {len(section['trends'])} defense/risk cases "
        f"(Spearman {'n/a' if rank is None else f'{rank:+.2f}'}).",
    ]
    for c in section["causal"]:
        lines.append(
            f"- causal check, `{c['defense']}` on `{c['task']}`: conflict {c['conflict'] * 100:+.1f} pts; "
            f"zeroing {c['neurons']} entangled neurons -> {c['conflict_entangled_ablated'] * 100:+.1f}, as many random "
            f"neurons -> {c['conflict_random_ablated'] * 100:+.1f} "
            f"({'shrinks more than random' if c['shrinks_more_than_random'] else 'does not shrink more than random'})."
        )
    if section.get("brittleness"):
        lines += brittleness_markdown(section["brittleness"], p.get("importance", "snip"))
    return lines


def _pts(change: dict[str, Any]) -> str:
    low, high = change["ci"]
    return f"{change['change'] * 100:+.1f} ({low * 100:+.1f}..{high * 100:+.1f})"


def region_words(v: dict[str, Any]) -> str:
    if v["sparse_region"]:
        held = "utility within tolerance shown" if v["utility_held"] else "utility drop not shown"
        return f"sparse region at {v['at_sparsity']:.1%} of MLP neurons ({held})"
    return "no sparse region found" + (f" ({v['headroom']})" if v.get("headroom") else "")


def brittleness_markdown(b: dict[str, Any], method: str) -> list[str]:
    lines = [
        "",
        "### Brittleness: removing each risk's critical region",
        "",
        f"Critical region at each sparsity: the top neurons by {method} importance outside the top "
        "utility neurons of the model that has the most of the risk's safe behaviour to lose; removed "
        "by zeroing or by restoring the base's weights, against as many random neurons per layer where "
        "that control ran; measured on held-out items (change in points, 95% CI).",
        "",
        "| model | risk (task) | removal | sparsity | neurons | risk change, critical | random | utility change, critical | random |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    rows: dict[tuple[str, str, str, float], dict[str, Any]] = {}
    for r in b["curves"]:
        rows.setdefault((r["model"], r["risk"], r["mode"], r["sparsity"]), {})[r["selection"]] = r
    for (model, risk, mode, sparsity), pair in rows.items():
        c, n = pair.get("critical"), pair.get("random")
        if c:
            lines.append(
                f"| {model} | {risk} ({c['task']}) | {mode} | {sparsity:.1%} | {c['neurons']} | "
                f"{_pts(c['risk_change'])} | {_pts(n['risk_change']) if n else 'not run'} | "
                f"{_pts(c['utility_change'])} | {_pts(n['utility_change']) if n else 'not run'} |"
            )
    lines.append("")
    for v in b["verdicts"]:
        lines.append(f"- {v['risk']}, `{v['model']}` ({v['mode']}): {region_words(v)}.")
    for s in b["spill_over"]:
        line = (
            f"- spill-over: zeroing the {s['source']} region ({s['neurons']} neurons) moves {s['risk']} "
            f"(`{s['task']}`) {_pts(s['critical'])} pts (random: {_pts(s['random'])})"
        )
        if "entangled_only" in s:
            line += (
                f"; its {s['entangled_neurons']} neurons entangled with {s['risk']} alone: {_pts(s['entangled_only'])}, "
                f"as many non-entangled ones: {_pts(s['non_entangled_same_size'])}"
            )
        lines.append(line + ".")
    return lines


def html_section(section: dict[str, Any], png: bytes, curves: bytes | None = None) -> str:
    import base64

    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc('/'.join(f['pair']))}</td><td>{f['entangled']}</td><td>{f['jaccard']:.3f}</td>"
        f"<td>{f['overlap_ratio']:.2f}x (p={f['overlap_p_value']:.3g})</td></tr>"
        for f in section["pairs"]
    )
    causal = "".join(
        f"<li>{esc(c['defense'])} on {esc(c['task'])}: conflict {c['conflict'] * 100:+.1f} pts, entangled "
        f"ablated {c['conflict_entangled_ablated'] * 100:+.1f}, random ablated {c['conflict_random_ablated'] * 100:+.1f}</li>"
        for c in section["causal"]
    )
    return (
        f"<h2>Conflict-entangled neurons</h2><table><tr><th>pair</th><th>entangled</th><th>Jaccard</th>"
        f"<th>overlap vs random</th></tr>{rows}</table>"
        f"<p>Trend consistency {esc(_pct(section.get('consistency_rate')))} over {len(section['trends'])} cases.</p>"
        f"<ul>{causal}</ul><p><img alt='entangled neurons per layer' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode()}'></p>"
        + (brittleness_html(section["brittleness"], curves) if section.get("brittleness") and curves else "")
    )


def brittleness_html(b: dict[str, Any], png: bytes) -> str:
    import base64

    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(r['model'])}</td><td>{esc(r['risk'])} ({esc(r['task'])})</td><td>{esc(r['mode'])}</td>"
        f"<td>{r['sparsity']:.1%}</td><td>{esc(r['selection'])}</td><td>{r['neurons']}</td>"
        f"<td>{esc(_pts(r['risk_change']))}</td><td>{esc(_pts(r['utility_change']))}</td></tr>"
        for r in b["curves"]
    )
    verdicts = "".join(
        f"<li>{esc(v['risk'])}, {esc(v['model'])} ({esc(v['mode'])}): {esc(region_words(v))}</li>"
        for v in b["verdicts"]
    )
    spill = "".join(
        f"<li>{esc(s['source'])} region -> {esc(s['risk'])} ({esc(s['task'])}): {esc(_pts(s['critical']))} pts, "
        f"random {esc(_pts(s['random']))}"
        + (
            f"; entangled only {esc(_pts(s['entangled_only']))}, non-entangled {esc(_pts(s['non_entangled_same_size']))}"
            if "entangled_only" in s
            else ""
        )
        + "</li>"
        for s in b["spill_over"]
    )
    return (
        "<h2>Brittleness: removing each risk's critical region</h2><table><tr><th>model</th><th>risk (task)</th>"
        "<th>removal</th><th>sparsity</th><th>neurons</th><th>selection</th><th>risk change, pts (95% CI)</th>"
        f"<th>utility change</th></tr>{rows}</table><ul>{verdicts}</ul><ul>{spill}</ul>"
        f"<p><img alt='brittleness curves' src='data:image/png;base64,{base64.b64encode(png).decode()}'></p>"
    )


def curves_png(b: dict[str, Any]) -> bytes:
    """Risk change (solid, with its 95% CI) and utility drop (dashed) against sparsity, critical
    vs random removal, one panel per (model, risk, removal)."""

    panels: dict[tuple[str, str, str], dict[str, list[dict[str, Any]]]] = {}
    for r in b["curves"]:
        panels.setdefault((r["model"], r["risk"], r["mode"]), {}).setdefault(r["selection"], []).append(r)
    fig, axes = subplots(1, max(1, len(panels)), figsize=(2.6 * max(1, len(panels)), 2.6), squeeze=False)
    for ax, ((model, risk, mode), lines) in zip(axes[0], panels.items()):
        for selection, colour in (("critical", "tab:red"), ("random", "tab:grey")):
            rs = sorted(lines.get(selection, []), key=lambda r: r["sparsity"])
            x = [r["sparsity"] * 100 for r in rs]
            y = [r["risk_change"]["change"] * 100 for r in rs]
            spread = [
                [v - r["risk_change"]["ci"][0] * 100 for v, r in zip(y, rs)],
                [r["risk_change"]["ci"][1] * 100 - v for v, r in zip(y, rs)],
            ]
            ax.errorbar(x, y, yerr=spread, fmt="-o", color=colour, capsize=2, label=f"{risk}, {selection} (95% CI)")
            utility = [r["utility_change"]["change"] * 100 for r in rs]
            ax.plot(x, utility, "--x", color=colour, label=f"utility drop, {selection}")
        ax.axhline(0, color="black", lw=0.5)
        ax.set_xlim(0, max(b["sparsities"]) * 110)
        ax.set_title(f"{risk}: {model} ({mode})", fontsize=7)
        ax.set_xlabel("% of MLP neurons removed", fontsize=7)
        ax.tick_params(labelsize=6)
    axes[0][0].set_ylabel("change, pts", fontsize=7)
    axes[0][0].legend(fontsize=5)
    return figure_png(fig)


def heatmap_png(section: dict[str, Any]) -> bytes:
    """Entangled neurons per layer (columns) for each risk pair (rows)."""
    import numpy as np

    pairs = section["pairs"]
    values = np.array([f["per_layer"] for f in pairs], dtype=float)
    fig, ax = subplots(figsize=(1.5 + 0.25 * values.shape[1], 1.0 + 0.4 * len(pairs)))
    image = ax.imshow(values, cmap="Reds", aspect="auto")
    ax.set_yticks(range(len(pairs)), ["/".join(f["pair"]) for f in pairs], fontsize=7)
    ax.set_xlabel("layer", fontsize=8)
    fig.colorbar(image, ax=ax, label="entangled neurons")
    ax.set_title("Conflict-entangled neurons per layer", fontsize=9)
    return figure_png(fig)
