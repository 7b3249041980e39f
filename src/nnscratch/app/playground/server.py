"""``nnscratch playground``: train the from-scratch network live, settings in hand.

A page (``page.html``, plain JavaScript drawing on canvases, nothing
fetched from elsewhere) sends its settings; the server makes a session
(:mod:`nnscratch.app.playground.sessions`) that trains the real estimator in a thread
of its own, off the event loop, and streams what happens over server-sent events,
one event an epoch::

    POST /api/sessions                 settings → {"id"} (422 naming a bad field,
                                       429 when MAX_SESSIONS are running)
    GET  /api/sessions/{id}/events     the stream: "epoch" events, then "done"
    POST /api/sessions/{id}/{action}   start | pause | step (one epoch)
    GET  /api/sessions/{id}/model      the trained model as a model file

Each epoch's event carries the losses, the accuracy (or RMSE), the decision
boundary of 2-D points (the network's output on a grid, through the training
loop's read-only view), the confusion matrix (or predicted against actual), the
weight matrices, the per-layer telemetry (:mod:`nnscratch.core.telemetry`) and
its plain-language warnings. A session stops through its epoch callback: when
its page closes the stream (within an epoch), when it reaches its epochs or
target loss, or after :data:`MAX_SECONDS`.
"""

from __future__ import annotations

import asyncio
import json
import queue
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from nnscratch.app.playground.sessions import (
    MAX_SECONDS,
    MAX_SESSIONS,
    WARNING_DOCS,
    Session,
    Sessions,
    Settings,
)
from nnscratch.errors import RequestError

__all__ = [
    "MAX_SECONDS",
    "MAX_SESSIONS",
    "WARNING_DOCS",
    "Sessions",
    "Settings",
    "build_playground",
]

#: How often a stream asks whether its page is still there.
CHECK_SECONDS = 0.25


async def event_stream(
    sessions: Sessions, session: Session, gone: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """The session's events as server-sent events; the session closes with the stream,
    when ``gone()`` says the page has left (asked about every :data:`CHECK_SECONDS`)."""
    session.streaming = True
    checked = time.monotonic()
    try:
        yield sse(session.opening())
        while True:
            try:
                yield sse(session.events.get_nowait())
                continue
            except queue.Empty:
                await asyncio.sleep(0.03)
            if time.monotonic() - checked >= CHECK_SECONDS:
                if await gone():
                    return
                checked = time.monotonic()
                yield ": still here\n\n"  # a comment: a closed connection shows on writing
    finally:
        sessions.close(session.id)


def sse(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


#: The project's docs, beside the package in a source checkout (the warnings link there).
DOCS = Path(__file__).resolve().parents[4] / "docs"


def docs_page(name: str) -> tuple[str, int, None, str]:
    """A stage page of the docs as plain text, or a 404 that says where the docs are."""
    path = DOCS / name
    if re.fullmatch(r"[\w.-]+\.md", name) and path.is_file():
        return path.read_text(encoding="utf-8"), 200, None, "text/plain; charset=utf-8"
    return f"{name}: the docs are in the project's docs/ folder", 404, None, "text/plain"


def page() -> str:
    return resources.files("nnscratch.app.playground").joinpath("page.html").read_text("utf-8")


def build_playground(sessions: Sessions | None = None) -> Any:
    """The playground's app: Starlette routes (installed with FastAPI, the ``serve`` extra)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    sessions = Sessions() if sessions is None else sessions

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page())

    async def open_session(request: Request) -> JSONResponse:
        try:
            raw = json.loads(await request.body())
        except ValueError:
            raise RequestError(400, "the body is not valid JSON") from None
        session = sessions.open(Settings.parse(raw))
        return JSONResponse({"id": session.id}, status_code=201)

    async def events(request: Request) -> StreamingResponse:
        session = sessions.get(request.path_params["id"])
        stream = event_stream(sessions, session, request.is_disconnected)
        return StreamingResponse(
            stream, media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def control(request: Request) -> JSONResponse:
        sessions.get(request.path_params["id"]).control(request.path_params["action"])
        return JSONResponse({"ok": True})

    async def model(request: Request) -> Response:
        body = sessions.get(request.path_params["id"]).model_file()
        return Response(
            body,
            media_type="application/octet-stream",
            headers={"Content-Disposition": 'attachment; filename="model.npz"'},
        )

    async def docs(request: Request) -> Response:
        return Response(*docs_page(request.path_params["name"]))

    async def request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestError)
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/sessions", open_session, methods=["POST"]),
            Route("/api/sessions/{id}/events", events),
            Route("/api/sessions/{id}/model", model),
            Route("/api/sessions/{id}/{action}", control, methods=["POST"]),
            Route("/docs/{name}", docs),
        ],
        exception_handlers={RequestError: request_error},
    )
    app.state.sessions = sessions
    return app
