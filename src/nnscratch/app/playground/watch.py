"""``nnscratch train --watch [PORT]``: a command-line run, streamed live to the playground's
page in a read-only view (as TensorBoard users watch a long fit).

The run's :class:`~nnscratch.core.telemetry.Telemetry` and an epoch observer feed a
:class:`WatchedRun`, whose :class:`~nnscratch.app.playground.stream.EventLog` keeps
the run so that a page opened late (or reloaded) sees it from its start; a small
server in a thread of its own serves the page and the events (``GET
/api/watch/events``, the playground's server-sent events) while training runs in the
main thread, and stops a moment after the run ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from nnscratch.app.playground.drawing import LAYER_KEYS, WARNING_DOCS
from nnscratch.app.playground.server import SHUTDOWN_SECONDS, page
from nnscratch.app.playground.stream import EventLog, event_response, require_sse
from nnscratch.core.diagnosis import RunDiagnosis
from nnscratch.core.telemetry import Telemetry
from nnscratch.core.training import EpochView


class WatchedRun:
    """What a watched run says, in order: ``epoch`` events (with the newest telemetry of
    the first member), then ``done``; a page's stream opens with :meth:`hello`. An epoch
    observer (told each epoch's member), with its telemetry among the run's callbacks.
    Safe from many threads."""

    def __init__(self, title: str, every: int, say: Callable[[str], None] | None = None) -> None:
        self.title = title
        self.log = EventLog()
        self._lock = threading.Lock()
        self._layers: dict[str, Any] = {}
        self.telemetry = Telemetry(every=every, on_records=self._on_records, say=say)
        self.diagnosis = RunDiagnosis()  # the first member's run, judged as a whole

    def hello(self) -> dict[str, Any]:
        """What a page is told first (the stream adds the run so far)."""
        return {
            "watch": True,
            "title": self.title,
            "classes": None,
            "points": None,
            "n_features": 0,
            "settings": {},
        }

    def _on_records(self, records: list[dict[str, Any]]) -> None:
        if not records or records[0]["member"] not in (None, 0):
            return  # members side by side: the page follows the first
        pooled = [r for r in records if r["k"] is None]
        with self._lock:
            self.diagnosis.add(pooled)
            warnings = self.diagnosis.warnings()
            self._layers = {
                "layers": [{k: r[k] for k in LAYER_KEYS} for r in pooled],
                "warnings": [w | {"doc": WARNING_DOCS[w["kind"]]} for w in warnings],
            }

    def on_epoch(self, view: EpochView) -> None:
        """An epoch observer: publish the first member's epoch, with the newest telemetry
        (never stops training)."""
        if view.member not in (None, 0):
            return
        epoch = view.epoch + 1
        event = {"type": "epoch", "epoch": epoch, "history": [{"epoch": epoch, **view.logs}]}
        with self._lock:
            self.log.append(event | self._layers)
            self._layers = {}

    def done(self, reason: str) -> None:
        with self._lock:
            self.log.append({"type": "done", "reason": reason, "seconds": 0})


def watch_app(run: WatchedRun) -> Any:
    """The page (read-only) and the run's events (Starlette, the ``serve`` extra)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page().replace("<body>", '<body data-watch="1">', 1))

    async def events(request: Request) -> Response:
        return event_response(run.log, request.headers.get("last-event-id"), run.hello)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "events": run.log.newest})

    return Starlette(
        routes=[Route("/", index), Route("/api/watch/events", events), Route("/health", health)]
    )


@contextmanager
def watching(run: WatchedRun, host: str, port: int, linger: float = 2.0) -> Iterator[str]:
    """Serve ``run`` on ``host:port`` in a thread while the block runs (the training), then
    ``linger`` seconds more, so that open pages receive the end; the URL."""
    require_sse()
    import uvicorn

    config = uvicorn.Config(
        watch_app(run),
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="nnscratch-watch", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not server.started:
        raise OSError(f"could not serve the watch page on {host}:{port}")
    try:
        yield f"http://{host}:{port}/"
    finally:
        time.sleep(linger)
        server.should_exit = True
        thread.join(10)
