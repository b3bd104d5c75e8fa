"""The served backend against a real OpenAI-compatible server: `transformers serve` on 127.0.0.1.

The server runs the same tiny model as the local engine, so greedy answers must be equal item by
item. Faults (503 overload, 401 refused key) are injected by a pass-through proxy in front of the
real server, never by a mock of it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
import warnings
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from crossrisk_bench.errors import CrossriskError, Unsupported
from crossrisk_bench.models.base import DecodingConfig, LoglikelihoodRequest, Prompt
from crossrisk_bench.models.cache import CachedBackend, ResponseCache
from crossrisk_bench.models.served import OpenAIBackend, ServerOptions, continuation_logprobs
from crossrisk_bench.tasks import TASKS
from crossrisk_bench.testing.serving import Proxy, free_port, reply, transformers_serve


@pytest.fixture(scope="module")
def server(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """`transformers serve` with the tiny model, pinned to it; yields (base URL, served model name)."""
    exe = shutil.which("transformers", path=str(Path(sys.executable).parent))
    assert exe, "transformers serve is missing: install requirements.txt (transformers[serving])"
    with transformers_serve(exe, tiny_dir, tmp_path_factory.mktemp("serve") / "serve.log", wait_s=120) as url:
        yield url + "/v1", str(tiny_dir)


class _Proxy(Proxy):
    """Forwards to the real server; answers the first `failures` requests with `status` instead."""

    def __init__(
        self,
        target: str,
        *,
        failures: int = 0,
        status: int = 503,
        retry_after: str | None = None,
        rewrite: Any = None,
        truncate: int = 0,
        redirect: str | None = None,
    ) -> None:
        """`rewrite(path, request body, status, answer) -> (status, answer)` edits what the server said; the next
        `truncate` answers are cut mid-body; `redirect` sends every request there (302)."""
        self.seen_auth: list[str | None] = []
        self.failures = failures
        self.status = status
        self.retry_after = retry_after
        self.rewrite = rewrite
        self.truncate = truncate
        self.redirect = redirect
        super().__init__(target)
        self.url += "/v1"

    def respond(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        self.seen_auth.append(handler.headers.get("Authorization"))
        with self.lock:
            fail = self.failures > 0
            self.failures -= fail
        if self.redirect is not None:
            handler.send_response(302)
            handler.send_header("Location", self.redirect + handler.path)
            handler.end_headers()
            return
        if fail:
            handler.send_response(self.status)
            if self.retry_after is not None:
                handler.send_header("Retry-After", self.retry_after)
            handler.end_headers()
            handler.wfile.write(json.dumps({"error": {"message": f"injected {self.status}"}}).encode())
            return
        code, payload = self.forward(handler.path, body)
        if self.rewrite is not None:
            code, payload = self.rewrite(handler.path, body, code, payload)
        with self.lock:
            cut = self.truncate > 0
            self.truncate -= cut
        reply(handler, code, payload, cut=cut)


def test_a_generation_task_served_equals_the_local_engine(server, make_backend) -> None:
    url, name = server
    task = TASKS.get("over_refusal")
    items = task.load_items()[:8]
    local = task.evaluate(make_backend(batch_size=4), items)
    served = task.evaluate(OpenAIBackend(name, ServerOptions(url, concurrency=4)), items)
    assert [o.response for o in served.outcomes] == [o.response for o in local.outcomes]
    assert [o.score for o in served.outcomes] == [o.score for o in local.outcomes]


def test_chat_and_raw_prompts_equal_the_local_engine(server, make_backend) -> None:
    url, name = server
    prompts = [
        Prompt.chat("What colour is the sky?"),
        Prompt.chat("Name a fruit.", system_prompt="Be brief."),
        Prompt.raw("The capital of France is"),
    ]
    config = DecodingConfig(max_new_tokens=12)
    local = make_backend().generate(prompts, config)
    served = OpenAIBackend(name, ServerOptions(url)).generate(prompts, config)
    assert [g.text for g in served] == [g.text for g in local]
    assert [g.samples[0].finish_reason for g in served] == [g.samples[0].finish_reason for g in local]


def test_answers_are_cached_by_url_model_and_served_identity(server, tmp_path: Path) -> None:
    url, name = server
    prompts = [Prompt.chat("Say hello.")]
    with ResponseCache(tmp_path / "r.sqlite") as cache:
        first = CachedBackend(OpenAIBackend(name, ServerOptions(url)), cache)
        first.generate(prompts, DecodingConfig(max_new_tokens=4))
        again = CachedBackend(OpenAIBackend(name, ServerOptions(url)), cache)
        again.generate(prompts, DecodingConfig(max_new_tokens=4))
        assert (first.stats.computed, again.stats.computed, again.stats.cache_hits) == (1, 0, 1)
        proxy = _Proxy(url.removesuffix("/v1"))
        try:  # the same server under another URL is another cache identity (URLs name deployments)
            other = CachedBackend(OpenAIBackend(name, ServerOptions(proxy.url)), cache)
            assert other.fingerprint != first.fingerprint
        finally:
            proxy.close()
    assert first.identity["id"].startswith(name)


def test_overload_is_retried_with_backoff(server) -> None:
    url, name = server
    proxy = _Proxy(url.removesuffix("/v1"), status=503, retry_after="0")
    try:
        backend = OpenAIBackend(name, ServerOptions(proxy.url, backoff=0.01))
        proxy.failures = 3  # the next three requests are turned away
        out = backend.generate([Prompt.chat("Hi")], DecodingConfig(max_new_tokens=3))
    finally:
        proxy.close()
    assert out[0].samples[0].num_tokens >= 1
    assert backend.stats.extra["retries"] == 3


def test_persistent_server_errors_give_up_with_one_clear_line(server) -> None:
    url, name = server
    proxy = _Proxy(url.removesuffix("/v1"), failures=100, status=500)
    try:
        with pytest.raises(CrossriskError, match=r"HTTP 500 after 3 attempts"):
            OpenAIBackend(name, ServerOptions(proxy.url, backoff=0.01, max_retries=2))
    finally:
        proxy.close()


def test_refused_key_names_the_variable_and_never_the_key(server, monkeypatch) -> None:
    url, name = server
    monkeypatch.setenv("CRB_TEST_KEY", "sk-secret-123")
    proxy = _Proxy(url.removesuffix("/v1"), failures=100, status=401)
    try:
        with pytest.raises(CrossriskError) as info:
            OpenAIBackend(name, ServerOptions(proxy.url, api_key_env="CRB_TEST_KEY"))
    finally:
        proxy.close()
    assert "CRB_TEST_KEY" in str(info.value) and "sk-secret-123" not in str(info.value)
    assert proxy.seen_auth[0] == "Bearer sk-secret-123"  # sent to the server, and only there


def test_a_missing_key_variable_is_an_error_before_any_request(server, monkeypatch) -> None:
    monkeypatch.delenv("CRB_NO_SUCH_KEY", raising=False)
    with pytest.raises(CrossriskError, match="CRB_NO_SUCH_KEY"):
        OpenAIBackend(server[1], ServerOptions(server[0], api_key_env="CRB_NO_SUCH_KEY"))


def test_a_wrong_model_name_is_one_clear_error(server) -> None:
    with pytest.raises(CrossriskError, match="no-such-model"):
        OpenAIBackend("no-such-model", ServerOptions(server[0]))


def test_unreachable_server_fails_fast() -> None:
    with pytest.raises(CrossriskError, match="no answer after 2 attempts"):
        OpenAIBackend("m", ServerOptions(f"http://127.0.0.1:{free_port()}/v1", max_retries=1, backoff=0.01))


def test_log_likelihood_without_server_logprobs_is_unsupported(server) -> None:
    backend = OpenAIBackend(server[1], ServerOptions(server[0]))
    with pytest.raises(Unsupported, match="echo and logprobs"):
        backend.loglikelihood([LoglikelihoodRequest(Prompt.raw("The sky is"), " blue")])
    with pytest.raises(Unsupported):  # learned once, then refused without a request
        requests = backend.stats.extra["requests"]
        backend.loglikelihood([LoglikelihoodRequest(Prompt.raw("Grass is"), " green")])
    assert backend.stats.extra["requests"] == requests


def test_continuation_logprobs_follow_the_completions_echo_format() -> None:
    """The legacy completions `logprobs` object (OpenAI's format, as vLLM returns it with echo):
    the continuation is picked by token ids when they were sent, else by character offset."""
    echoed = {
        "tokens": ["The", " sky", " is", " blue", "."],
        "token_logprobs": [None, -2.0, -0.5, -1.5, -0.1],
        "top_logprobs": [None, {" sky": -2.0}, {" is": -0.5}, {" red": -1.0, " blue": -1.5}, {".": -0.1}],
        "text_offset": [0, 3, 7, 10, 15],
    }
    by_text, greedy = continuation_logprobs(echoed, span=None, boundary=10, prompt_tokens=4)
    assert by_text == [-1.5] and greedy is False
    by_ids, greedy = continuation_logprobs(echoed, span=(1, 3), boundary=None, prompt_tokens=4)
    assert by_ids == [-2.0, -0.5] and greedy is True
    with pytest.raises(CrossriskError):
        continuation_logprobs(echoed, span=(3, 5), boundary=None, prompt_tokens=4)  # runs into generated text


def test_pytest_run_against_the_server(server, pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The whole loop on a served base: a prompt defense gated on a generation task, a
    log-likelihood task skipped with its reason, weights defenses left out and said so."""
    url, name = server
    models = tmp_path / "models.toml"
    models.write_text('[[defended]]\ndefense = "guard_prompt"\n\n[[defended]]\ndefense = "refusal_sft"\n')
    pytester.makepyfile(
        """
        def test_over_refusal(crossrisk_gate):
            crossrisk_gate("over_refusal")

        def test_stereotypes(crossrisk_gate):
            crossrisk_gate("stereotype_preference")

        def test_agreement(crossrisk_gate):  # generated headline; its log-likelihood side figure is left out
            crossrisk_gate("bias_agreement")
        """
    )
    result = pytester.runpytest(
        "--crossrisk-backend",
        "openai",
        "--crossrisk-base-url",
        url,
        "--crossrisk-model",
        name,
        "--crossrisk-models",
        str(models),
        "--crossrisk-cache",
        str(tmp_path / "cache"),
        "--crossrisk-limit",
        "6",
        "-rs",
        "-W",
        "ignore::pytest.PytestWarning",
        "--crossrisk-report",
        str(tmp_path / "report"),
    )
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            f"crossrisk: model={name} backend=openai url={url} *",
            "*weights defenses left out*refusal_sft*",
            "*SKIPPED*stereotype_preference: the server at * returns no prompt log-probabilities*",
        ]
    )
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    assert document["run"]["backend"]["backend"] == "openai"
    agreement = next(e for e in document["effects"] if e["task"] == "bias_agreement")
    assert (
        "agreement_rate_generated" in agreement["base_summary"]
        and "endorsement_rate_loglik" not in agreement["base_summary"]
    )
    assert "api_key" not in json.dumps(document["run"]).replace("api_key_env", "")


def test_crossrisk_eval_against_the_server(server) -> None:
    """The `crossrisk` command reaches a served model the same way; log-likelihood tasks say why they skip."""
    url, name = server
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossrisk_bench.cli",
            "eval",
            "over_refusal",
            "stereotype_preference",
            "--limit",
            "3",
            "--backend",
            "openai",
            "--base-url",
            url,
            "--model",
            name,
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "over_refusal" in out.stdout and "n=3" in out.stdout
    assert "stereotype_preference  skipped: the server at" in out.stdout


def _vllm_listing(name: str) -> Any:
    """The server's listing in vLLM's shape: each entry with a `permission` object holding a
    fresh random id and time on every call. `transformers serve` lists the hub cache (an error
    offline), so the served model's own entry is added as vLLM would list it."""

    def rewrite(path: str, body: bytes | None, code: int, payload: bytes) -> tuple[int, bytes]:
        if not path.endswith("/models"):
            return code, payload
        entries = json.loads(payload).get("data", []) if code == 200 else []
        entries = [e for e in entries if e.get("id") != name] + [{"id": name, "object": "model"}]
        for entry in entries:
            now = int(time.time()) + uuid.uuid4().int % 1000
            entry |= {"created": now, "owned_by": "vllm", "root": entry["id"], "parent": None, "max_model_len": 2048}
            entry["permission"] = [
                {"id": f"modelperm-{uuid.uuid4().hex}", "object": "model_permission", "created": now}
            ]
        return 200, json.dumps({"object": "list", "data": entries}).encode()

    return rewrite


def test_a_vllm_shaped_listing_gives_one_identity_so_runs_share_the_cache(server, tmp_path: Path) -> None:
    url, name = server
    proxy = _Proxy(url.removesuffix("/v1"), rewrite=_vllm_listing(name))
    prompts = [Prompt.chat("Say hello.")]
    try:
        with urllib.request.urlopen(proxy.url + "/models") as a, urllib.request.urlopen(proxy.url + "/models") as b:
            assert json.loads(a.read())["data"][0]["permission"] != json.loads(b.read())["data"][0]["permission"]
        with ResponseCache(tmp_path / "r.sqlite") as cache:
            first = CachedBackend(OpenAIBackend(name, ServerOptions(proxy.url)), cache)
            first.generate(prompts, DecodingConfig(max_new_tokens=4))
            second = CachedBackend(OpenAIBackend(name, ServerOptions(proxy.url)), cache)
            second.generate(prompts, DecodingConfig(max_new_tokens=4))
    finally:
        proxy.close()
    assert second.fingerprint == first.fingerprint
    assert (second.stats.computed, second.stats.cache_hits) == (0, 1)
    assert "permission" not in first.identity and first.identity["max_model_len"] == 2048


def _chat_edit(edit: Any, only: str | None = None) -> Any:
    def rewrite(path: str, body: bytes | None, code: int, payload: bytes) -> tuple[int, bytes]:
        if not path.endswith("/chat/completions") or (only is not None and only.encode() not in (body or b"")):
            return code, payload
        answer = json.loads(payload)
        edit(answer)
        return code, json.dumps(answer).encode()

    return rewrite


MISSING_ANSWERS = {
    "null content": (lambda a: a["choices"][0]["message"].update(content=None), "content is null"),
    "no choices": (lambda a: a.update(choices=[]), "no choices"),
    "content filter": (lambda a: a["choices"][0].update(finish_reason="content_filter"), "content filter"),
}


@pytest.mark.parametrize("fault", sorted(MISSING_ANSWERS))
def test_a_missing_answer_is_an_error_never_cached_never_a_refusal(server, tmp_path: Path, fault: str) -> None:
    """A null content used to be stored as "" (which the refusal judge counts as a refusal)."""
    url, name = server
    edit, message = MISSING_ANSWERS[fault]
    proxy = _Proxy(url.removesuffix("/v1"), rewrite=_chat_edit(edit))
    try:
        with ResponseCache(tmp_path / "r.sqlite") as cache:
            backend = CachedBackend(OpenAIBackend(name, ServerOptions(proxy.url, backoff=0.01, max_retries=1)), cache)
            with pytest.raises(CrossriskError, match=f"no answer after 2 attempts .*{message}"):
                backend.generate([Prompt.chat("Hi")], DecodingConfig(max_new_tokens=3))
            assert len(cache) == 0 and backend.stats.extra["retries"] == 1
    finally:
        proxy.close()


def test_finished_answers_are_kept_when_a_later_request_fails(server, tmp_path: Path) -> None:
    url, name = server
    edit = MISSING_ANSWERS["null content"][0]
    proxy = _Proxy(url.removesuffix("/v1"), rewrite=_chat_edit(edit, only="Broken"))
    prompts = [Prompt.chat(f"Count to {n}.") for n in range(3)] + [Prompt.chat("Broken")]
    try:
        with ResponseCache(tmp_path / "r.sqlite") as cache:
            options = ServerOptions(proxy.url, concurrency=1, max_retries=0)
            with pytest.raises(CrossriskError, match="content is null"):
                CachedBackend(OpenAIBackend(name, options), cache).generate(prompts, DecodingConfig(max_new_tokens=3))
            assert len(cache) == 3
    finally:
        proxy.close()


def test_a_body_cut_mid_read_is_retried(server) -> None:
    url, name = server
    proxy = _Proxy(url.removesuffix("/v1"))
    try:
        backend = OpenAIBackend(name, ServerOptions(proxy.url, backoff=0.01))
        proxy.truncate = 2  # the next two answers stop halfway (http.client.IncompleteRead)
        out = backend.generate([Prompt.chat("Hi")], DecodingConfig(max_new_tokens=3))
    finally:
        proxy.close()
    assert out[0].samples[0].num_tokens >= 1 and backend.stats.extra["retries"] == 2


def test_the_key_never_follows_a_redirect_to_another_origin(server, monkeypatch) -> None:
    url, name = server
    monkeypatch.setenv("CRB_TEST_KEY", "sk-secret-123")
    elsewhere = _Proxy(url.removesuffix("/v1"), rewrite=_vllm_listing(name))
    here = _Proxy(url.removesuffix("/v1"), redirect=elsewhere.url.removesuffix("/v1"))
    try:
        backend = OpenAIBackend(name, ServerOptions(here.url, api_key_env="CRB_TEST_KEY"))
    finally:
        here.close()
        elsewhere.close()
    assert backend.identity["id"] == name
    assert here.seen_auth == ["Bearer sk-secret-123"] and elsewhere.seen_auth == [None]


def _reprs(exc: BaseException | None) -> str:
    """Every local of every frame of an error and its causes, as a traceback-with-locals shows them."""
    out = []
    while exc is not None:
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename != __file__:  # this test's own frame holds monkeypatch
                for value in tb.tb_frame.f_locals.values():
                    out.append(repr(value))
                    out.append(repr(getattr(value, "__dict__", "")))
            tb = tb.tb_next
        exc = exc.__cause__ or exc.__context__
    return "\n".join(out)


@pytest.mark.parametrize("fault", ["HTTP 500", "no server"])
def test_the_key_is_in_no_traceback_local(server, monkeypatch, fault: str) -> None:
    url, name = server
    monkeypatch.setenv("CRB_TEST_KEY", "sk-secret-123")
    backend = OpenAIBackend(name, ServerOptions(url, api_key_env="CRB_TEST_KEY"))
    proxy = _Proxy(url.removesuffix("/v1"), failures=100, status=500)
    target = proxy.url if fault == "HTTP 500" else f"http://127.0.0.1:{free_port()}/v1"
    backend.options = ServerOptions(target, api_key_env="CRB_TEST_KEY", max_retries=0)
    try:
        with pytest.raises(CrossriskError) as info:
            backend.generate([Prompt.chat("Hi")], DecodingConfig(max_new_tokens=3))
    finally:
        proxy.close()
    assert "sk-secret-123" not in _reprs(info.value)


def test_plain_http_to_another_machine_warns() -> None:
    with pytest.warns(UserWarning, match="plain http to another machine"):
        ServerOptions("http://models.example.com/v1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for local in ("http://127.0.0.1:8000/v1", "http://localhost:8000", "http://[::1]:8000/v1", "https://x.org"):
            ServerOptions(local)
