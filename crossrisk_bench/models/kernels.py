"""Inference-only matrix kernels for the local engine.

Why: on the CPUs measured here PyTorch's default float32 `linear` (MKL sgemm) runs the small
matrices of a decode step at a third to a half of what oneDNN reaches on the same shapes (at
16-64 rows: 104-147 against 219-348 GFLOP/s on a 2-core AMD EPYC). `onednn_linear` routes
every `nn.Linear` of a model through oneDNN while the engine answers, and puts the modules back
afterwards, so training on the same model object (which needs autograd) is unaffected. Only
the order of floating-point sums changes; the engine benchmark measures the greedy answers
against a plain `model.generate` loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def onednn_available(model: Any) -> bool:
    """oneDNN's inference linear applies: a CPU model in float32 or bfloat16, torch built with it."""
    import torch

    try:
        parameter = next(model.parameters())
    except StopIteration:
        return False
    return (
        torch.backends.mkldnn.is_available()
        and hasattr(torch.ops.mkldnn, "_linear_pointwise")
        and parameter.device.type == "cpu"
        and parameter.dtype in (torch.float32, torch.bfloat16)
    )


@contextmanager
def onednn_linear(model: Any, enabled: bool = True) -> Iterator[None]:
    """Within the block, the model's `nn.Linear` layers compute with oneDNN (inference only)."""
    import torch

    if not enabled or not onednn_available(model):
        yield
        return
    op = torch.ops.mkldnn._linear_pointwise
    patched = []
    for module in model.modules():
        if type(module) is torch.nn.Linear and "forward" not in vars(module):
            module.forward = _forward(op, module)
            patched.append(module)
    try:
        yield
    finally:
        for module in patched:
            del module.forward


def _forward(op: Any, module: Any) -> Any:
    def forward(x: Any) -> Any:
        return op(x, module.weight, module.bias, "none", [], "")

    return forward
