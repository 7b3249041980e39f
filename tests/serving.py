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
from typing import Any

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
    with running_command(
        "serve", "--model", str(model), *extra, start_timeout=start_timeout
    ) as url:
        yield url


@contextlib.contextmanager
def running_command(
    *args: str, start_timeout: float = 60, health: str = "/health"
) -> Iterator[str]:
    """``nnscratch ARGS --port P`` in a subprocess on a free loopback port, once ``health``
    answers 200; its URL."""
    process, url = launched(*args, health=health, start_timeout=start_timeout)
    try:
        yield url
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, so that a server stops its own worker processes; SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def raw_status(url: str, path: str) -> int:
    """The status of ``GET path`` (the body is not read as JSON)."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=2)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        answer.read()
        return answer.status
    finally:
        connection.close()


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


@contextlib.contextmanager
def app_in_thread(
    app: object, start_timeout: float = 30, port: int | None = None, **config: object
) -> Iterator[str]:
    """An ASGI ``app`` served by uvicorn on a free loopback port (or ``port``) in a thread of
    this process (so a test can look at the app's own objects); its URL. ``config``: more
    of uvicorn's settings."""
    import threading

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port or free_port(),
            log_level="warning",
            lifespan="off",
            **config,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def playground_in_thread(sessions: Any, **config: object) -> Iterator[str]:
    """The playground of ``sessions`` served as :func:`app_in_thread` serves an app; its URL.
    On leaving, every session is closed and its training thread has finished, so that no
    run goes on training into the next test (BLAS's thread count is the process's)."""
    from nnscratch.app.playground.server import build_playground

    try:
        with app_in_thread(build_playground(sessions), **config) as url:
            yield url
    finally:
        sessions.close_all()
        with sessions.lock:
            assert sessions.lock.wait_for(lambda: sessions.slots_used == 0, 30), "still training"


def launched(*args: str, health: str, start_timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """``nnscratch ARGS --port P`` started on a free loopback port, once ``health`` answers
    200: the process (the caller stops it) and its URL."""
    port = free_port()
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "nnscratch"]
    process = subprocess.Popen(
        [*command, *args, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    while True:
        try:
            if raw_status(url, health) == 200:
                return process, url
        except OSError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"nnscratch {' '.join(args)} exited: {process.stdout.read()}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            stop(process)
            raise RuntimeError(f"nnscratch {' '.join(args)} did not answer {health}")
        time.sleep(0.1)
