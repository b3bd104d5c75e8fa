"""A key/value cache layer that decodes in place (imported only where transformers is loaded)."""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import DynamicLayer


class BufferLayer(DynamicLayer):
    """A cache layer that writes new keys and values into a preallocated buffer in place.

    Why: the stock layer concatenates at every step, which copies the whole cache; at 32 rows
    that was a third of the decode loop's time. The buffer has room for the longest remaining
    answer, so it never grows.
    """

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, length: int) -> None:
        super().__init__()
        self.buffer_keys, self.buffer_values, self.length = keys, values, length
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        self.keys, self.values = keys[:, :, :length], values[:, :, :length]

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        end = self.length + key_states.shape[-2]
        if end > self.buffer_keys.shape[2]:
            raise RuntimeError(f"key/value buffer of {self.buffer_keys.shape[2]} columns is full")
        self.buffer_keys[:, :, self.length : end] = key_states
        self.buffer_values[:, :, self.length : end] = value_states
        self.length = end
        self.keys, self.values = self.buffer_keys[:, :, :end], self.buffer_values[:, :, :end]
        return self.keys, self.values
