"""Figures as PNG bytes, shared by the conflict-matrix heatmap and the neuron report.

Figures are matplotlib `Figure` objects drawn without pyplot: pyplot would register them with its
global figure manager and needs a process-wide backend (`matplotlib.use("Agg")`), which would
switch a notebook's or the caller's own plotting backend for the rest of the process. A bare
`Figure` saves its PNG through Agg by itself, byte for byte as the pyplot figure did.
"""

from __future__ import annotations

import io
from typing import Any


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], squeeze: bool = True) -> tuple[Any, Any]:
    """A new figure and its axes, as `pyplot.subplots` makes them, without touching pyplot's state."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=squeeze)


def figure_png(fig: Any) -> bytes:
    """A finished matplotlib figure as PNG bytes."""
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # long labels are not cut off
    return buffer.getvalue()
