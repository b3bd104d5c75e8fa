"""The neuron-analysis section of the reports: model-card Markdown, HTML and a per-layer heatmap."""

from __future__ import annotations

import html
from typing import Any

from crossrisk_bench.report.figures import figure_png


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
    return lines


def html_section(section: dict[str, Any], png: bytes) -> str:
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
    )


def heatmap_png(section: dict[str, Any]) -> bytes:
    """Entangled neurons per layer (columns) for each risk pair (rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pairs = section["pairs"]
    values = np.array([f["per_layer"] for f in pairs], dtype=float)
    fig, ax = plt.subplots(figsize=(1.5 + 0.25 * values.shape[1], 1.0 + 0.4 * len(pairs)))
    image = ax.imshow(values, cmap="Reds", aspect="auto")
    ax.set_yticks(range(len(pairs)), ["/".join(f["pair"]) for f in pairs], fontsize=7)
    ax.set_xlabel("layer", fontsize=8)
    fig.colorbar(image, ax=ax, label="entangled neurons")
    ax.set_title("Conflict-entangled neurons per layer", fontsize=9)
    return figure_png(fig)
