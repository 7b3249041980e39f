"""Helpers for the serving tests: trained models, a real server on loopback, artifacts."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from test_cli import SCRIPT

#: Where tests leave what a person may want to look at (screenshots, load-test figures).
ARTIFACTS = Path(
    os.environ.get("NNSCRATCH_ARTIFACTS", Path(__file__).parents[1] / "test-artifacts")
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(model: Path, *extra: str, start_timeout: float = 60) -> Iterator[str]:
    """``nnscratch serve --model model`` in a subprocess on a free loopback port; its URL."""
    port = free_port()
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nnscratch"]
    process = subprocess.Popen(
        [*command, "serve", "--model", str(model), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                status, _ = request(url, "GET", "/health", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health in {start_timeout} s")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = "application/json",
    timeout: float = 30,
) -> tuple[int, dict]:
    """One HTTP request on a fresh connection: (status, parsed JSON answer)."""
    host = url.removeprefix("http://")
    connection = http.client.HTTPConnection(host, timeout=timeout)
    try:
        headers = {"content-type": content_type} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()
