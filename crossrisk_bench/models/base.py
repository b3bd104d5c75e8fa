"""The backend protocol and the plain data that flows through it.

Requests and results are frozen, hashable dataclasses so that they can be de-duplicated, used as
cache keys and logged as they are. A `Backend` runs two kinds of request: free generation
(refusal, disclosure and agreement judges read the text) and log-likelihood of a continuation
(choice tasks compare options without parsing text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args, runtime_checkable

from crossrisk_bench.errors import CrossriskError

ROLES = frozenset({"system", "user", "assistant"})
# what answers the prompts: a local transformers model (`HFBackend`) or an OpenAI-compatible
# server (`OpenAIBackend`)
BackendKind = Literal["hf", "openai"]
BACKEND_KINDS: tuple[BackendKind, ...] = get_args(BackendKind)


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise CrossriskError(f"unknown chat role {self.role!r}; expected one of {sorted(ROLES)}")


@dataclass(frozen=True)
class Prompt:
    """Chat messages (chat template applied) or raw text (used as it is), never both.

    `system_prompt` is placed first when given; with a chat prompt that already starts with a
    system message, it is an error to give both (which one should win is the caller's choice).
    """

    messages: tuple[Message, ...] = ()
    text: str | None = None
    system_prompt: str | None = None

    def __post_init__(self) -> None:
        if bool(self.messages) == (self.text is not None):
            raise CrossriskError("a prompt needs either chat messages or raw text (exactly one)")
        if self.text is not None and self.system_prompt is not None:
            raise CrossriskError("a system prompt needs chat messages, not raw text")
        if self.system_prompt is not None and self.messages and self.messages[0].role == "system":
            raise CrossriskError("prompt has both a system message and a system_prompt; give one")

    @classmethod
    def chat(cls, user: str, *, system_prompt: str | None = None) -> Prompt:
        return cls(messages=(Message("user", user),), system_prompt=system_prompt)

    @classmethod
    def raw(cls, text: str) -> Prompt:
        return cls(text=text)

    @property
    def is_chat(self) -> bool:
        return bool(self.messages)

    def chat_messages(self) -> list[dict[str, str]]:
        msgs = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.system_prompt is not None:
            msgs.insert(0, {"role": "system", "content": self.system_prompt})
        return msgs

    def with_system_prompt(self, system_prompt: str | None) -> Prompt:
        """The same prompt under another system prompt (what a prompt-level defense does)."""
        return Prompt(messages=self.messages, text=self.text, system_prompt=system_prompt)


DEFAULT_BATCH_SIZE = (
    32  # rows decoded together by the local engine: the fastest of 16/32/64 in benchmarks/test_engine.py
)


@dataclass(frozen=True)
class DecodingConfig:
    """How to decode. `temperature == 0` is greedy; otherwise `n` seeded samples per prompt.

    Sample `i` of a prompt is drawn from its own generator seeded by (seed, prompt, i), so a
    sample does not depend on which other prompts share its batch, and a resumed run
    reproduces the same samples.
    """

    max_new_tokens: int = 64
    temperature: float = 0.0
    top_p: float = 1.0
    n: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise CrossriskError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise CrossriskError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise CrossriskError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise CrossriskError(f"n must be >= 1, got {self.n}")
        if self.greedy and self.n > 1:
            raise CrossriskError("n > 1 samples need temperature > 0 (greedy decoding gives one answer)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    """One generated sample: the text, how many tokens it took and why it stopped."""

    text: str
    num_tokens: int
    finish_reason: str  # "eos" or "length" ("filtered": an input filter answered instead)
    prompt_truncated: bool = False


@dataclass(frozen=True)
class Generation:
    """All samples for one prompt (one sample when decoding is greedy)."""

    samples: tuple[Completion, ...]

    @property
    def text(self) -> str:
        return self.samples[0].text

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(s.text for s in self.samples)


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """Log-probability of `continuation` following `context` (a chat or raw prompt)."""

    context: Prompt
    continuation: str

    def __post_init__(self) -> None:
        if not self.continuation:
            raise CrossriskError("a log-likelihood request needs a non-empty continuation")


@dataclass(frozen=True)
class Loglikelihood:
    token_logprobs: tuple[float, ...]
    is_greedy: bool  # every continuation token was the argmax

    @property
    def total(self) -> float:
        return float(sum(self.token_logprobs))

    @property
    def mean(self) -> float:
        return self.total / len(self.token_logprobs)


@dataclass
class BackendStats:
    """Counters a run reports: what was computed, what came from the cache, what was cut."""

    computed: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    truncated_prompts: int = 0
    new_tokens: int = 0
    prompt_tokens: int = 0  # tokens read (prompts and scored continuations), computed ones only
    extra: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Anything that can answer prompts: local HF models, served models, defended wrappers."""

    name: str
    fingerprint: str
    stats: BackendStats

    def generate(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Generation]: ...

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]: ...
