"""Figures as PNG bytes, shared by the conflict-matrix heatmap and the neuron report."""

from __future__ import annotations

import io
from typing import Any


def figure_png(fig: Any) -> bytes:
    """A finished matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")  # long labels are not cut off
    plt.close(fig)
    return buffer.getvalue()
