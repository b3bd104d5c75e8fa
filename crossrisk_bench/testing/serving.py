"""A real `transformers serve` and a pass-through HTTP proxy in front of it, on 127.0.0.1.

tests/test_served.py and benchmarks/test_faults.py inject server faults (503s, cut bodies, null
content, redirects, rewritten listings) in a proxy in front of the real server, never in a mock
of it: the starting, forwarding and replying are shared here; each keeps its own faults in a
subclass's `respond`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def free_port() -> int:
    """A local port nothing listens on (at the time of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def transformers_serve(exe: str, model: Path, log: Path, *, wait_s: float) -> Iterator[str]:
    """`exe serve model` on a free port (CPU, float32, offline, one thread), its output in `log`;
    yields its URL once /health answers (a RuntimeError with the log's end after `wait_s`), and
    stops it on exit."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [exe, "serve", str(model), "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32"]
            + ["--device", "cpu"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | OFFLINE | {"OMP_NUM_THREADS": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                urllib.request.urlopen(url + "/health", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"transformers serve did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def reply(
    handler: BaseHTTPRequestHandler,
    code: int,
    payload: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    cut: bool = False,
) -> None:
    """Answer with `payload` and its Content-Length; `cut` sends only the first half and closes
    the connection (a body cut mid-read)."""
    handler.send_response(code)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload[: len(payload) // 2] if cut else payload)
    if cut:
        handler.close_connection = True


class Proxy:
    """A local HTTP server that passes every request on to `target` (GET, or POST with a JSON
    body) and sends back its answer; a subclass overrides `respond` to change what passes."""

    def __init__(self, target: str, *, timeout: float = 60, http11: bool = False) -> None:
        self.target = target
        self.timeout = timeout
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if http11 else "HTTP/1.0"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.respond(self, None)

            def do_POST(self) -> None:
                proxy.respond(self, self.rfile.read(int(self.headers.get("Content-Length", 0))))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def forward(self, path: str, body: bytes | None) -> tuple[int, bytes]:
        """The target's status and body for this request (an HTTP error's too)."""
        request = urllib.request.Request(
            self.target + path,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST" if body is not None else "GET",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def respond(self, handler: BaseHTTPRequestHandler, body: bytes | None) -> None:
        """Answer one request (`body` is None for a GET): here, as the target answered."""
        reply(handler, *self.forward(handler.path, body))

    def close(self) -> None:
        self.httpd.shutdown()
