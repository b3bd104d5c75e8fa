"""The local engine's decode loop: continuous batching with a shared prompt prefix computed once.

Why not one batch at a time: rows of a batch finish at different steps, and a batch that waits
for its longest row computes the finished rows' padding, so small batches are needed to keep
the waste down, and small batches use the matrix units poorly. Here a finished row leaves the
batch at once and its slot is refilled from the queue, so the batch stays full and wide.

Why a shared prefix: every chat prompt starts with the same chat-template text (the system
turn, the user header), often a third of the prompt. Its keys and values are computed once per
call and copied into each new row, so prefill only runs over what differs.

A row's answer does not depend on which rows share its batch: each row has its own positions,
mask and (when sampling) its own seeded generator. Batch shapes do change the order of
floating-point sums, as they do for any batched engine; the engine benchmark measures how often
that changes a greedy answer against a plain `model.generate` loop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crossrisk_bench.models.kernels import onednn_linear

if TYPE_CHECKING:
    import torch

MIN_PREFIX = 4  # tokens: a shorter shared prefix is not worth a separate pass
# In every local cache key (`HFBackend._key`): bump it with any change to this loop, the sampling,
# the kernels or the engine's log-likelihood that can change an answer, so no old answer is reused.
DECODE_VERSION = 1


@dataclass(frozen=True)
class Request:
    """One row to decode: its cache key, prompt token ids and (when sampling) its seed."""

    key: str
    ids: tuple[int, ...]
    seed: int | None = None


@dataclass
class _Row:
    request: Request
    generator: Any  # torch.Generator when sampling
    tokens: list[int] = field(default_factory=list)
    done: bool = False


@dataclass
class _Batch:
    """Rows with their key/value cache, 2-D mask over cache columns and next positions.

    A finished row stays in place (its slot computes a token nobody reads) until the batch is
    rebuilt, because taking one row out copies the whole cache."""

    rows: list[_Row]
    cache: Any  # transformers.DynamicCache, one row per row
    mask: torch.Tensor  # [rows, columns] bool: which cache columns each row attends to
    positions: torch.Tensor  # [rows] the next token's position id

    @property
    def live(self) -> int:
        return sum(not r.done for r in self.rows)


def shared_prefix(prompts: Sequence[Sequence[int]]) -> tuple[int, ...]:
    """The longest token prefix all prompts share, leaving at least one token of each to prefill."""
    if not prompts:
        return ()
    first, length = prompts[0], min(len(p) for p in prompts) - 1
    n = 0
    while n < length and all(p[n] == first[n] for p in prompts):
        n += 1
    return tuple(first[:n]) if n >= MIN_PREFIX else ()


class ContinuousDecoder:
    """Decodes requests `slots` rows at a time, refilling finished rows' slots from a queue."""

    def __init__(
        self,
        model: Any,
        *,
        slots: int,
        pad_id: int,
        eos_ids: frozenset[int],
        pick: Callable[[torch.Tensor, list[Any]], torch.Tensor],
        refill_at: int | None = None,
        fast_linear: bool = True,
    ) -> None:
        self.model = model
        self.fast_linear = fast_linear  # oneDNN matrix kernels while decoding (models.kernels)
        self.slots = slots
        self.pad_id = pad_id
        self.eos_ids = eos_ids
        self.pick = pick  # (last logits [rows, vocab], rows' generators) -> next tokens [rows]
        self.refill_at = refill_at or max(1, slots // 4)  # rebuild once this many slots are free
        self.device = next(model.parameters()).device

    def run(
        self, requests: Sequence[Request], max_new_tokens: int, make_generator: Callable[[int | None], Any]
    ) -> Iterator[tuple[Request, list[int], str]]:
        """Yield (request, new token ids without EOS, "eos" | "length") as rows finish."""
        import torch

        queue = deque(sorted(requests, key=lambda r: -len(r.ids)))
        prefix = shared_prefix([r.ids for r in requests])
        batch: _Batch | None = None
        with torch.inference_mode(), onednn_linear(self.model, self.fast_linear):
            prefix_cache = self._prefix_cache(prefix) if prefix else None
            while queue or (batch is not None and batch.live):
                live = 0 if batch is None else batch.live
                dead = 0 if batch is None else len(batch.rows) - live
                if queue and self.slots - live >= min(self.refill_at, len(queue)):
                    take = [queue.popleft() for _ in range(min(self.slots - live, len(queue)))]
                    new = self._prefill([_Row(r, make_generator(r.seed)) for r in take], prefix, prefix_cache)
                    batch = self._rebuild(batch, new, max_new_tokens)
                    finished = self._finish(new.rows, max_new_tokens)
                else:
                    assert batch is not None
                    if not queue and dead * 4 >= len(batch.rows):
                        batch = self._rebuild(batch, None, max_new_tokens)
                    finished = self._step(batch, max_new_tokens)
                for row in finished:
                    ids, reason = _strip_eos(row.tokens, self.eos_ids)
                    yield row.request, ids, reason

    # -- passes --------------------------------------------------------------------------------

    def _prefix_cache(self, prefix: tuple[int, ...]) -> Any:
        import torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        ids = torch.tensor([prefix], device=self.device)
        self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return cache

    def _prefill(self, rows: list[_Row], prefix: tuple[int, ...], prefix_cache: Any) -> _Batch:
        """Run the new rows' prompts after the shared prefix, suffixes padded on the left:
        columns are [prefix][padding][suffix], so positions and masks stay per row."""
        import torch
        from transformers import DynamicCache

        p = len(prefix)
        suffixes = [row.request.ids[p:] for row in rows]
        width = max(len(s) for s in suffixes)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), p + width), dtype=torch.bool)
        mask[:, :p] = True
        positions = torch.zeros((len(rows), width), dtype=torch.long)
        for i, s in enumerate(suffixes):
            ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, p + width - len(s) :] = True
            positions[i, width - len(s) :] = torch.arange(p, p + len(s))
        cache = DynamicCache(config=self.model.config)
        if prefix_cache is not None:
            for layer, source in zip(cache.layers, prefix_cache.layers):
                layer.lazy_initialization(source.keys, source.values)
                layer.keys = source.keys.expand(len(rows), -1, -1, -1)
                layer.values = source.values.expand(len(rows), -1, -1, -1)
        ids, mask, positions = ids.to(self.device), mask.to(self.device), positions.to(self.device)
        out = self.model(
            input_ids=ids,
            attention_mask=mask.long(),
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        batch = _Batch(rows, cache, mask, positions[:, -1] + 1)
        self._append(batch, out.logits[:, -1, :])
        return batch

    def _step(self, batch: _Batch, max_new_tokens: int) -> list[_Row]:
        import torch

        last = torch.tensor([self.pad_id if r.done else r.tokens[-1] for r in batch.rows], device=self.device)
        batch.mask = torch.cat([batch.mask, torch.ones((len(batch.rows), 1), dtype=torch.bool, device=self.device)], 1)
        out = self.model(
            input_ids=last[:, None],
            attention_mask=batch.mask.long(),
            position_ids=batch.positions[:, None],
            past_key_values=batch.cache,
            use_cache=True,
        )
        batch.positions = batch.positions + 1
        self._append(batch, out.logits[:, -1, :])
        return self._finish(batch.rows, max_new_tokens)

    def _append(self, batch: _Batch, logits: torch.Tensor) -> None:
        tokens = self.pick(logits.float(), [row.generator for row in batch.rows]).tolist()
        for row, token in zip(batch.rows, tokens):
            if not row.done:
                row.tokens.append(int(token))

    def _finish(self, rows: list[_Row], max_new_tokens: int) -> list[_Row]:
        finished = [r for r in rows if not r.done and (len(r.tokens) >= max_new_tokens or r.tokens[-1] in self.eos_ids)]
        for row in finished:
            row.done = True
        return finished

    def _rebuild(self, old: _Batch | None, new: _Batch | None, max_new_tokens: int) -> _Batch:
        """One batch of the live rows of `old` and the rows of `new`, in fresh cache buffers with
        room for every row's remaining tokens (so decoding writes in place, never concatenates);
        cache columns no row attends to are dropped and the narrower part is padded on the left."""
        import torch

        from crossrisk_bench.models.kv_buffer import BufferLayer

        parts = []
        for batch in (old, new):
            if batch is None:
                continue
            keep = [i for i, r in enumerate(batch.rows) if not r.done]
            if keep:
                index = torch.tensor(keep, device=self.device)
                mask = batch.mask[index]
                first = int(mask.any(0).nonzero()[0])
                parts.append((batch, index, first, mask[:, first:]))
        width = max(m.shape[1] for *_, m in parts)
        rows = sum(len(m) for *_, m in parts)
        capacity = width + max_new_tokens
        layers = []
        for n in range(len(parts[0][0].cache.layers)):
            source = parts[0][0].cache.layers[n]
            heads, dim = source.keys.shape[1], source.keys.shape[3]
            keys = source.keys.new_zeros((rows, heads, capacity, dim))
            values = source.values.new_zeros((rows, heads, capacity, dim))
            at = 0
            for batch, index, first, _ in parts:
                layer = batch.cache.layers[n]
                k, v = layer.keys[index, :, first:], layer.values[index, :, first:]
                keys[at : at + len(index), :, width - k.shape[2] : width] = k
                values[at : at + len(index), :, width - v.shape[2] : width] = v
                at += len(index)
            layers.append(BufferLayer(keys, values, width))
        cache = parts[0][0].cache
        cache.layers = layers
        mask = torch.zeros((rows, width), dtype=torch.bool, device=self.device)
        at = 0
        for _, index, _, m in parts:
            mask[at : at + len(index), width - m.shape[1] :] = m
            at += len(index)
        kept = [batch.rows[i] for batch, index, _, _ in parts for i in index.tolist()]
        positions = torch.cat([batch.positions[index] for batch, index, _, _ in parts])
        return _Batch(kept, cache, mask, positions)


def _strip_eos(tokens: list[int], eos_ids: frozenset[int]) -> tuple[list[int], str]:
    for i, t in enumerate(tokens):
        if t in eos_ids:
            return tokens[:i], "eos"
    return tokens, "length"
