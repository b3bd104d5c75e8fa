"""A model served behind an OpenAI-compatible API (vLLM, TGI, SGLang, llama.cpp, `transformers serve`).

Generation goes through chat completions (raw-text prompts through completions). Log-likelihood
goes through the completions endpoint's prompt log-probabilities (`echo` + `logprobs`), which
vLLM returns and several servers do not; a server without them raises `Unsupported` once and the
tasks that need them are skipped with that line. Requests run in a bounded thread pool with a
timeout, and 429/5xx/connection errors, bodies cut mid-read and answers without a text (null
content, no choices, a content-filter finish) are retried with exponential backoff (honouring
`Retry-After`); an answer still missing fails its item with one line and is never cached.
Answers go through the same response cache as local models, keyed on the base URL, the model
name and the stable fields of the identity the server reports for it. The API key is read from
the environment variable the user names, is never stored on the backend's description, in a
message or in a traceback's locals, and never follows a redirect to another origin.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import threading
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from typing import Any, ClassVar
from urllib.parse import urlparse

from crossrisk_bench.errors import CrossriskError, Unsupported
from crossrisk_bench.fingerprint import stable_hash
from crossrisk_bench.models.base import (
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
from crossrisk_bench.progress import progress_bar

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
FINISH = {"stop": "eos", "eos": "eos", "length": "length"}
# The fields of a `/v1/models` entry that name what is served. vLLM adds a `permission` object
# with a fresh random id and time on every call, and `created` is the current time: either would
# give every run (and every xdist worker) its own fingerprint, so no answer would ever be shared.
IDENTITY_FIELDS = ("id", "object", "owned_by", "root", "parent", "max_model_len")
# In every served cache key: bump it when a change to how requests are built or answers are read
# can change an answer, so no old answer is reused.
REQUEST_VERSION = 1


class InsecureServerWarning(UserWarning):
    """Requests (and the API key) go over plain http to a host that is not this machine."""


class _Secret:
    """The API key, kept out of reprs, tracebacks and descriptions: only `bearer` reads it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "<hidden>"

    def bearer(self) -> str:
        return f"Bearer {self._value}"


class _AuthRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect with the key only to the same origin (scheme, host and port); urllib
    would otherwise send `Authorization` to any host the server names."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        auth = req.unredirected_hdrs.get("Authorization")
        if new is not None and auth is not None and _origin(req.full_url) == _origin(newurl):
            new.add_unredirected_header("Authorization", auth)
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = urlparse(url)
    return parsed.scheme, (parsed.hostname or "").lower(), parsed.port or {"http": 80, "https": 443}.get(parsed.scheme)


def _is_local(host: str) -> bool:
    if host.lower() in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerOptions:
    """How to talk to the server: where, which key, how many requests at once, how patiently."""

    base_url: str
    api_key_env: str | None = None
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 5
    backoff: float = 1.0  # seconds before the first retry; doubles each time, capped at 30
    tokenizer: str | None = None  # renders chat contexts for log-likelihood (the server's template)

    def __post_init__(self) -> None:
        parsed = urlparse(self.base_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise CrossriskError(f"base URL {self.base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
        if self.concurrency < 1:
            raise CrossriskError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.timeout <= 0:
            raise CrossriskError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.max_retries < 0:
            raise CrossriskError(f"max_retries must be >= 0, got {self.max_retries}")
        if parsed.scheme == "http" and not _is_local(parsed.hostname or ""):
            warnings.warn(
                f"{self.base_url} is plain http to another machine: prompts, answers and any API key "
                "travel unencrypted; use https",
                InsecureServerWarning,
                stacklevel=3,
            )

    @property
    def api_root(self) -> str:
        """The URL the endpoints hang from: `.../v1` whether or not the user wrote it."""
        root = self.base_url.rstrip("/")
        return root if root.endswith("/v1") else root + "/v1"


class AccessRefused(CrossriskError):
    """HTTP 401/403: the server refused the key (or its absence); no retry or fallback helps."""


class HTTPFailure(Exception):
    def __init__(self, status: int | None, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


class OpenAIBackend:
    """A served model behind the `Backend` protocol."""

    kind: ClassVar[BackendKind] = "openai"

    def __init__(
        self,
        model: str,
        options: ServerOptions,
        *,
        tokenizer: Any = None,
        cache_dir: Any = None,
        spec: Any = None,
    ) -> None:
        self.model = model
        self.options = options
        self.name = model
        self.cache_dir = cache_dir
        self.spec = spec
        self.lineage: str | None = None  # served weights have no lineage here; the fingerprint identifies them
        self.load_seconds = 0.0
        self.stats = BackendStats(extra={"retries": 0, "requests": 0})
        self.tokenizer = tokenizer
        self._lock = threading.Lock()
        self._stop = threading.Event()  # set when a batch fails or is interrupted: retries stop waiting
        self._opener = urllib.request.build_opener(_AuthRedirects)
        self._api_key: _Secret | None = None
        if options.api_key_env:
            if not os.environ.get(options.api_key_env):
                raise CrossriskError(f"environment variable {options.api_key_env} (the API key) is not set")
            self._api_key = _Secret(os.environ[options.api_key_env])
        self.logprobs_supported: bool | None = None  # learned from the first log-likelihood request
        self.identity = self._identify()
        self.fingerprint = stable_hash({"base_url": options.api_root, "model": model, "served": self.identity})
        self.template_hash = stable_hash(getattr(tokenizer, "chat_template", None) or "")

    # -- HTTP ---------------------------------------------------------------------------------

    def _send(self, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """One HTTP call. Every failure is raised from here without the urllib frames under it,
        whose locals hold the request headers (and so the key)."""
        failure = None
        request = urllib.request.Request(
            self.options.api_root + path,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="GET" if body is None else "POST",
        )
        if self._api_key is not None:
            request.add_unredirected_header("Authorization", self._api_key.bearer())
        try:
            with self._opener.open(request, timeout=self.options.timeout) as response:
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            failure = HTTPFailure(exc.code, _detail(exc.read()), _seconds(retry_after))
        except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)  # a body cut mid-read is http.client.IncompleteRead
            failure = HTTPFailure(None, f"{type(reason).__name__}: {reason}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            failure = HTTPFailure(None, f"the answer was not JSON ({exc})")
        finally:
            request.remove_header("Authorization")
        raise failure  # outside the except blocks: no context chain into urllib's frames

    def request(
        self,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        retries: int | None = None,
        check: Any = None,
    ) -> dict[str, Any]:
        """One call with retries on overload, server errors, broken connections and answers that
        `check` rejects (it raises `HTTPFailure`); a user error raises at once."""
        retries = self.options.max_retries if retries is None else retries
        for attempt in range(retries + 1):
            with self._lock:
                self.stats.extra["requests"] += 1
            try:
                answer = self._send(path, body)
                return check(answer) if check is not None else answer
            except HTTPFailure as failure:
                if failure.status is not None and failure.status not in RETRY_STATUS:
                    raise self._user_error(path, failure) from None
                if attempt == retries or self._stop.is_set():
                    what = f"HTTP {failure.status}" if failure.status else "no answer"
                    raise CrossriskError(
                        f"{self.options.api_root}{path}: {what} after {attempt + 1} attempts ({failure.detail})"
                    ) from None
                with self._lock:
                    self.stats.extra["retries"] += 1
                wait = failure.retry_after if failure.retry_after is not None else self.options.backoff * 2**attempt
                self._stop.wait(min(wait, 30.0))
        raise AssertionError("unreachable")

    def _user_error(self, path: str, failure: HTTPFailure) -> CrossriskError:
        where = f"{self.options.api_root}{path}"
        if failure.status in (401, 403):
            how = (
                f"the key in ${self.options.api_key_env}"
                if self.options.api_key_env
                else "no API key (name its environment variable with --crossrisk-api-key-env)"
            )
            return AccessRefused(f"{where}: HTTP {failure.status}: the server refused {how}")
        if failure.status == 404:
            return CrossriskError(
                f"{where}: HTTP 404 ({failure.detail}); check the base URL (usually ending in /v1) "
                f"and that model {self.model!r} is served there"
            )
        return CrossriskError(f"{where}: HTTP {failure.status}: {failure.detail}")

    # -- identity -------------------------------------------------------------------------------

    def _identify(self) -> dict[str, Any]:
        """What the server says it serves under this name, checked before any work starts.

        `/models` is the standard place (a name it does not list is an error naming those it
        does); servers whose listing fails are asked for one token instead, and the model name
        they answer with is the identity. Only the stable `IDENTITY_FIELDS` of the entry count.
        """
        try:
            listing = self.request("/models", retries=0)  # a listing that fails is not asked again (probe below)
        except AccessRefused:
            raise
        except CrossriskError:
            listing = None
        entries = [e for e in (listing or {}).get("data", []) if isinstance(e, dict) and "id" in e]
        if entries:
            match = next((e for e in entries if e["id"] == self.model), None)
            if match is None:
                served = ", ".join(sorted(str(e["id"]) for e in entries))
                raise CrossriskError(
                    f"{self.options.api_root} does not serve model {self.model!r}; it serves: {served}"
                )
            return {k: match[k] for k in IDENTITY_FIELDS if k in match}
        probe = self.request(
            "/chat/completions",
            {"model": self.model, "max_tokens": 1, "temperature": 0, "messages": [{"role": "user", "content": "hi"}]},
        )
        return {"id": probe.get("model", self.model)}

    # -- generation -----------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Generation]:
        return answer_generations(self, None, prompts, config)

    def generation_units(self, prompts: Sequence[Prompt], config: DecodingConfig) -> list[Unit]:
        """(key, prompt, sample index) per prompt and sample."""
        decoding = {"max_new_tokens": config.max_new_tokens}
        if not config.greedy:
            decoding |= {"temperature": config.temperature, "top_p": config.top_p, "seed": config.seed}
        return [
            (self._key("generate", prompt=_prompt_data(p), decoding=decoding, sample=i), p, i)
            for p in prompts
            for i in range(config.n)
        ]

    def run_generations(self, todo: list[Unit], config: DecodingConfig) -> Iterator[dict[str, Any]]:
        return self._pool(todo, self._one_generation, config)

    def _one_generation(self, unit: tuple[str, Prompt, int], config: DecodingConfig) -> dict[str, Any]:
        _, prompt, sample = unit
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": config.max_new_tokens,
            "temperature": config.temperature,
        }
        if not config.greedy:
            body["top_p"] = config.top_p
            body["seed"] = int(stable_hash([config.seed, _prompt_data(prompt), sample], length=8), 16) % 2**31
        if prompt.is_chat:
            answer = self.request("/chat/completions", body | {"messages": prompt.chat_messages()}, check=_usable)
        else:
            answer = self.request("/completions", body | {"prompt": prompt.text}, check=_usable)
        choice = answer["choices"][0]
        text = _answer_text(choice)
        usage = answer.get("usage") or {}
        with self._lock:
            self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.stats.new_tokens += int(usage.get("completion_tokens") or 0)
        reason = FINISH.get(str(choice.get("finish_reason")), str(choice.get("finish_reason")))
        return asdict(Completion(text, int(usage.get("completion_tokens") or 0), reason))

    # -- log-likelihood -------------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        return answer_loglikelihoods(self, None, requests)

    def loglikelihood_units(self, requests: Sequence[LoglikelihoodRequest]) -> list[Unit]:
        """(key, request) per request; fails at once on a server known to give no log-probabilities."""
        if self.logprobs_supported is False:
            raise self._no_logprobs()
        return [
            (self._key("loglikelihood", prompt=_prompt_data(r.context), continuation=r.continuation), r)
            for r in requests
        ]

    def run_loglikelihoods(self, todo: list[Unit]) -> Iterator[dict[str, Any]]:
        return self._pool(todo, self._one_loglikelihood, None)

    def _one_loglikelihood(self, unit: tuple[str, LoglikelihoodRequest], _: Any) -> dict[str, Any]:
        request = unit[1]
        if request.context.is_chat and self.tokenizer is None:
            raise Unsupported(
                "log-likelihood of a chat prompt needs the served model's chat template: "
                "give its tokenizer with --crossrisk-tokenizer (a local directory or hub id)"
            )
        body: dict[str, Any] = {"model": self.model, "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 1}
        if self.tokenizer is not None:  # token ids: the same context/continuation split as the local engine
            context = self._render(request.context)
            ctx = self.tokenizer(context, add_special_tokens=False)["input_ids"]
            cont = self.tokenizer(request.continuation, add_special_tokens=False)["input_ids"]
            body["prompt"] = list(ctx) + list(cont)
            span = (len(ctx), len(ctx) + len(cont))
            boundary = None
        else:
            assert request.context.text is not None
            body["prompt"] = request.context.text + request.continuation
            span = None
            boundary = len(request.context.text)
        answer = self.request("/completions", body)
        logprobs = (answer.get("choices") or [{}])[0].get("logprobs")
        if not logprobs or not logprobs.get("token_logprobs"):
            self.logprobs_supported = False
            raise self._no_logprobs()
        self.logprobs_supported = True
        prompt_tokens = (answer.get("usage") or {}).get("prompt_tokens") or len(logprobs["token_logprobs"]) - 1
        token_lp, is_greedy = continuation_logprobs(logprobs, span=span, boundary=boundary, prompt_tokens=prompt_tokens)
        with self._lock:
            self.stats.prompt_tokens += len(logprobs["token_logprobs"])
        return {"token_logprobs": token_lp, "is_greedy": is_greedy}

    def _no_logprobs(self) -> Unsupported:
        return Unsupported(
            f"the server at {self.options.api_root} returns no prompt log-probabilities "
            "(completions with echo and logprobs; vLLM does, transformers serve does not), "
            "so tasks scored by log-likelihood cannot run on it"
        )

    def _render(self, prompt: Prompt) -> str:
        if not prompt.is_chat:
            assert prompt.text is not None
            return prompt.text
        return self.tokenizer.apply_chat_template(prompt.chat_messages(), tokenize=False, add_generation_prompt=True)

    # -- shared ---------------------------------------------------------------------------------

    def _pool(self, todo: list[tuple[Any, ...]], one: Any, config: Any) -> Iterator[dict[str, Any]]:
        """Run `one` over the units with at most `concurrency` requests in flight; yield finished
        results a handful at a time so the cache keeps them. When a request fails for good or
        the run is interrupted, the answers already finished are yielded (kept) first, queued
        requests are dropped and retries stop waiting, so Ctrl-C returns within seconds."""
        chunk = max(4, self.options.concurrency)
        self._stop.clear()
        pool = ThreadPoolExecutor(max_workers=self.options.concurrency, thread_name_prefix="crossrisk-http")
        futures = {pool.submit(one, unit, config): unit[0] for unit in todo}
        done: dict[str, Any] = {}
        failure: BaseException | None = None
        try:
            with progress_bar(len(todo), f"{self.name}: requests", unit="req") as bar:
                for future in as_completed(futures):
                    done[futures[future]] = future.result()
                    bar.update(1)
                    if len(done) >= chunk:
                        yield done
                        done = {}
        except (Exception, KeyboardInterrupt) as exc:
            failure = exc
            self._stop.set()
        finally:
            pool.shutdown(wait=failure is None, cancel_futures=True)
        if failure is not None:
            done |= {
                key: f.result()
                for f, key in futures.items()
                if f.done() and not f.cancelled() and f.exception() is None and key not in done
            }
        if done:
            yield done
        if failure is not None:
            raise failure

    def _key(self, kind: str, **parts: Any) -> str:
        return stable_hash(
            {
                "kind": kind,
                "model": self.fingerprint,
                "template": self.template_hash,
                "code": REQUEST_VERSION,
                **parts,
            }
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.kind,
            "base_url": self.options.api_root,
            "model": self.model,
            "served_identity": self.identity,
            "fingerprint": self.fingerprint,
            "api_key_env": self.options.api_key_env,  # the variable's name, never its value
            "concurrency": self.options.concurrency,
            "cache": None,  # CachedBackend.describe names its file
        }


def continuation_logprobs(
    logprobs: dict[str, Any], *, span: tuple[int, int] | None, boundary: int | None, prompt_tokens: int
) -> tuple[list[float], bool]:
    """The continuation's token log-probabilities from an echoed completions answer.

    `span` picks prompt positions when the prompt was sent as token ids; otherwise `boundary`
    is the character where the continuation starts and tokens are picked by `text_offset` (a
    token that straddles the boundary belongs to the continuation). Positions from
    `prompt_tokens` on are generated, not echoed, and never read. Greedy: every continuation token was
    the most likely one among the returned top log-probabilities.
    """
    values = logprobs["token_logprobs"]
    if span is not None:
        positions = list(range(*span))
    else:
        offsets = logprobs.get("text_offset") or []
        tokens = logprobs.get("tokens") or []
        positions = [
            i
            for i, (start, tok) in enumerate(zip(offsets, tokens))
            if i < prompt_tokens and start + len(tok) > boundary
        ]  # type: ignore[operator]
    if not positions or positions[-1] >= min(len(values), prompt_tokens) or any(values[i] is None for i in positions):
        raise CrossriskError("the server's prompt log-probabilities do not cover the continuation")
    tops = logprobs.get("top_logprobs") or [None] * len(values)
    greedy = all(tops[i] is None or values[i] >= max(tops[i].values()) - 1e-6 for i in positions)
    return [float(values[i]) for i in positions], greedy


def _usable(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer, if it holds a text: no choices, a null content (a reasoning model cut off, a
    moderation layer) or a content-filter finish is a missing answer, which must not be stored
    as "" and judged a refusal; it is retried, then fails that item with one line."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise HTTPFailure(None, "the answer has no choices")
    if choices[0].get("finish_reason") == "content_filter":
        raise HTTPFailure(None, "the server's content filter withheld the answer (finish_reason content_filter)")
    if not isinstance(_answer_text(choices[0]), str):
        raise HTTPFailure(None, "the answer's content is null")
    return answer


def _answer_text(choice: dict[str, Any]) -> Any:
    """The text of a chat (`message.content`) or completions (`text`) choice; None when absent."""
    if "message" in choice:
        return (choice.get("message") or {}).get("content")
    return choice.get("text")


def _prompt_data(prompt: Prompt) -> dict[str, Any]:
    return {"messages": prompt.chat_messages(), "text": prompt.text}


def _detail(raw: bytes) -> str:
    text = raw.decode(errors="replace").strip()
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        return text[:300] or "no details"
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body))
        if isinstance(error, dict):
            error = error.get("message", error)
        return str(error)[:300]
    return text[:300]


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
