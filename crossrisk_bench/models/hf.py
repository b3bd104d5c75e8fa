"""The local engine: a Hugging Face causal LM behind the `Backend` protocol.

Why a decoding loop of our own instead of `model.generate`: every (prompt, sample) must be a
cache entry of its own whose answer does not depend on which prompts shared its batch, so a
resumed or parallel run reproduces a serial one, and the batch should stay full. The loop
(`models.decode`) gives each sampled row its own seeded generator, retires each row at EOS and
refills its slot from the queue (continuous batching), computes the prompts' shared prefix once,
and keeps only the last position's logits; matrix products run on oneDNN (`models.kernels`).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from crossrisk_bench.errors import CrossriskError
from crossrisk_bench.fingerprint import hash_tensors, stable_hash
from crossrisk_bench.models import decode as decode_code
from crossrisk_bench.models.base import (
    DEFAULT_BATCH_SIZE,
    BackendKind,
    BackendStats,
    Completion,
    DecodingConfig,
    Generation,
    Loglikelihood,
    LoglikelihoodRequest,
    Prompt,
)
from crossrisk_bench.models.cache import Unit, answer_generations, answer_loglikelihoods
from crossrisk_bench.models.decode import ContinuousDecoder, Request
from crossrisk_bench.models.kernels import onednn_available, onednn_linear
from crossrisk_bench.models.torch_state import default_threads, torch_threads
from crossrisk_bench.progress import progress_bar

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
_DONE = object()  # the end of a chunk iterator


class TruncationWarning(UserWarning):
    """A prompt was longer than the context window and lost tokens on the left."""


class HFBackend:
    """A loaded transformers causal LM with a tokenizer and counters (cached by `CachedBackend`)."""

    kind: ClassVar[BackendKind] = "hf"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str,
        batch_size: int = DEFAULT_BATCH_SIZE,
        threads: int | None = None,
        weights_fingerprint: str | None = None,
        chat_template: str | None = None,
        cache_dir: Path | None = None,
        lineage: str | None = None,
        build_record: dict[str, Any] | None = None,
        spec: Any = None,
        load_seconds: float = 0.0,
        fast_linear: bool = True,
    ) -> None:
        if batch_size < 1:
            raise CrossriskError(f"batch size must be >= 1, got {batch_size}")
        self.threads = threads or default_threads()  # torch threads while it computes (`on_threads`)
        self.model = model.eval()
        self.tokenizer = tokenizer
        if chat_template is not None:
            tokenizer.chat_template = chat_template
        self.name = name
        self.cache_dir = cache_dir  # where converted models and built adapters live
        self.lineage = lineage  # a stable identity across machines, for known models (models.adapters)
        self.build_record = build_record  # weights defenses: how the merged adapter was trained
        self.spec = spec  # the ModelSpec it was loaded from, when loaded by name
        self.load_seconds = load_seconds
        self.batch_size = batch_size
        self.fast_linear = fast_linear  # oneDNN matrix kernels where they apply (models.kernels)
        self.stats = BackendStats()
        self.device = next(model.parameters()).device
        self.max_context = int(getattr(model.config, "max_position_embeddings", 0) or 2048)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None:
            raise CrossriskError(f"model {name!r}: its tokenizer has neither a pad nor an EOS token")
        self.pad_id = int(pad)
        self.eos_ids = _eos_ids(model, tokenizer)
        self.template_hash = stable_hash(tokenizer.chat_template or "")
        self.refresh_fingerprint(weights_fingerprint)

    def with_model(
        self, model: Any, *, name: str, lineage: str | None = None, build_record: dict[str, Any] | None = None
    ) -> HFBackend:
        """Another model (a merged adapter, an ablation) answered the same way: same tokenizer,
        batch size, threads and cache directory; its own fingerprint."""
        return HFBackend(
            model,
            self.tokenizer,
            name=name,
            batch_size=self.batch_size,
            threads=self.threads,
            cache_dir=self.cache_dir,
            lineage=lineage,
            build_record=build_record,
            fast_linear=self.fast_linear,
        )

    def refresh_fingerprint(self, weights_fingerprint: str | None = None) -> str:
        """Re-identify the model after its weights changed in place (an edit, an ablation).

        Cache keys carry this fingerprint, so answers of the edited model never mix with the
        original's. `weights_fingerprint` skips the hash when the caller already knows it.
        """
        weights = weights_fingerprint or hash_tensors(self.model.state_dict())
        self.fingerprint = stable_hash({"weights": weights, "dtype": str(self.model.dtype)})
        return self.fingerprint

    # -- prompts ------------------------------------------------------------------------------

    def render(self, prompt: Prompt) -> str:
        """The exact text the model sees (chat template applied, generation prompt added)."""
        if not prompt.is_chat:
            assert prompt.text is not None
            return prompt.text
        if not self.tokenizer.chat_template:
            raise CrossriskError(f"model {self.name!r} has no chat template; give raw-text prompts or a chat_template")
        return self.tokenizer.apply_chat_template(prompt.chat_messages(), tokenize=False, add_generation_prompt=True)

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _fit(self, ids: list[int], room: int, what: str) -> tuple[list[int], bool]:
        """Cut `ids` from the left so that `room` tokens still fit in the context window."""
        limit = self.max_context - room
        if limit < 1:
            raise CrossriskError(
                f"model {self.name!r}: context window {self.max_context} leaves no room for {what} of {room} tokens"
            )
        if len(ids) <= limit:
            return ids, False
        self.stats.truncated_prompts += 1
        warnings.warn(
            f"{what}: prompt of {len(ids)} tokens truncated from the left to {limit} "
            f"(context window {self.max_context})",
            TruncationWarning,
            stacklevel=4,
        )
        return ids[-limit:], True

    # -- generation ---------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Generation]:
        return answer_generations(self, None, prompts, config)

    def generation_units(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Unit]:
        """(key, rendered text, sample index) per prompt and sample."""
        decoding = {"max_new_tokens": config.max_new_tokens}
        if not config.greedy:
            decoding |= {"temperature": config.temperature, "top_p": config.top_p, "seed": config.seed}
        rendered = [self.render(p) for p in prompts]
        return [
            (self._key("generate", prompt=text, decoding=decoding, sample=i), text, i)
            for text in rendered
            for i in range(config.n)
        ]

    def on_threads(self, chunks: Iterator[T]) -> Iterator[T]:
        """`chunks` computed on this backend's torch threads; between chunks (while the caller
        stores them) and after the last, the caller's thread count holds again."""
        while True:
            with torch_threads(self.threads):
                chunk = next(chunks, _DONE)
            if chunk is _DONE:
                return
            yield cast(T, chunk)

    def run_generations(self, todo: list[Unit], config: DecodingConfig) -> Iterator[dict[str, Any]]:
        return self.on_threads(self._generations(todo, config))

    def _generations(self, todo: list[Unit], config: DecodingConfig) -> Iterator[dict[str, Any]]:
        import torch

        requests = []
        cut_keys = set()
        for key, text, sample in todo:
            ids, cut = self._fit(self._encode(text), config.max_new_tokens, "generation")
            seed = None if config.greedy else int(stable_hash([config.seed, text, sample], length=16), 16)
            requests.append(Request(key, tuple(ids), seed))
            if cut:
                cut_keys.add(key)
            self.stats.prompt_tokens += len(ids)

        def make_generator(seed: int | None) -> torch.Generator | None:
            return None if seed is None else torch.Generator(device="cpu").manual_seed(seed % (2**63))

        def pick(logits: torch.Tensor, generators: list[Any]) -> torch.Tensor:
            return logits.argmax(-1) if config.greedy else _sample(logits, config, generators)

        decoder = ContinuousDecoder(
            self.model,
            slots=self.batch_size,
            pad_id=self.pad_id,
            eos_ids=self.eos_ids,
            pick=pick,
            fast_linear=self.fast_linear,
        )
        done: dict[str, Any] = {}
        with progress_bar(len(requests), f"{self.name}: generating", unit="prompt") as bar:
            for request, new_ids, reason in decoder.run(requests, config.max_new_tokens, make_generator):
                text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
                done[request.key] = asdict(Completion(text, len(new_ids), reason, request.key in cut_keys))
                self.stats.new_tokens += len(new_ids)
                bar.update(1)
                if len(done) >= self.batch_size:
                    yield done
                    done = {}
        if done:
            yield done

    # -- log-likelihood -----------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        return answer_loglikelihoods(self, None, requests)

    def loglikelihood_units(self, requests: Sequence[LoglikelihoodRequest]) -> list[Unit]:
        """(key, rendered context, continuation) per request."""
        units = []
        for r in requests:
            context = self.render(r.context)
            units.append(
                (self._key("loglikelihood", prompt=context, continuation=r.continuation), context, r.continuation)
            )
        return units

    def run_loglikelihoods(self, todo: list[Unit]) -> Iterator[dict[str, Any]]:
        return self.on_threads(self._loglikelihoods(todo))

    def _loglikelihoods(self, todo: list[Unit]) -> Iterator[dict[str, Any]]:
        import torch

        encoded = []
        for key, context, continuation in todo:
            cont = self._encode(continuation)
            if not cont:
                raise CrossriskError(f"continuation {continuation!r} encodes to no tokens")
            ctx, _ = self._fit(self._encode(context), len(cont), "log-likelihood")
            if not ctx:
                raise CrossriskError("log-likelihood needs a non-empty context")
            encoded.append((key, ctx, cont))
            self.stats.prompt_tokens += len(ctx) + len(cont)
        encoded.sort(key=lambda e: -(len(e[1]) + len(e[2])))
        with progress_bar(len(encoded), f"{self.name}: scoring", unit="request") as bar:
            for start in range(0, len(encoded), self.batch_size):
                batch = encoded[start : start + self.batch_size]
                input_ids, mask = self._left_pad([c + k for _, c, k in batch])
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                keep = max(len(k) for _, _, k in batch) + 1
                with torch.inference_mode(), onednn_linear(self.model, self.fast_linear):
                    logits = self.model(
                        input_ids=input_ids, attention_mask=mask, position_ids=positions, logits_to_keep=keep
                    ).logits.float()
                done = {}
                for row, (key, _, cont) in enumerate(batch):
                    n = len(cont)
                    window = logits[row, keep - 1 - n : keep - 1]
                    logprobs = torch.log_softmax(window, dim=-1)
                    target = torch.tensor(cont, device=logprobs.device)
                    token_lp = logprobs.gather(1, target[:, None]).squeeze(1).tolist()
                    greedy = bool((window.argmax(-1) == target).all())
                    done[key] = {"token_logprobs": token_lp, "is_greedy": greedy}
                bar.update(len(batch))
                yield done

    # -- shared machinery -----------------------------------------------------------------------

    def _key(self, kind: str, **parts: Any) -> str:
        return stable_hash(
            {
                "kind": kind,
                "model": self.fingerprint,
                "template": self.template_hash,
                "code": decode_code.DECODE_VERSION,
                **parts,
            }
        )

    def _left_pad(self, sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        import torch

        width = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(sequences), width), dtype=torch.long)
        for i, s in enumerate(sequences):
            if s:
                ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
                mask[i, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.kind,
            "fingerprint": self.fingerprint,
            "dtype": str(self.model.dtype),
            "device": str(self.device),
            "threads": self.threads,
            "batch_size": self.batch_size,
            "linear": "onednn" if self.fast_linear and onednn_available(self.model) else "torch",
            "cache": None,  # CachedBackend.describe names its file
        }


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config, tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(int(v) for v in value)
    if not ids:
        raise CrossriskError("the model defines no EOS token, so generation could not stop")
    return frozenset(ids)


def _sample(logits: torch.Tensor, config: DecodingConfig, generators: list[torch.Generator]) -> torch.Tensor:
    """One token per row, each row from its own generator (batch-independent samples)."""
    import torch

    probs = torch.softmax(logits / config.temperature, dim=-1)
    if config.top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        cumulative = sorted_probs.cumsum(-1)
        drop = cumulative - sorted_probs > config.top_p
        sorted_probs = sorted_probs.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    cpu = probs.cpu()
    picks = [torch.multinomial(cpu[i], 1, generator=g) for i, g in enumerate(generators)]
    return torch.cat(picks).to(logits.device)
