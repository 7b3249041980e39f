"""``nnscratch playground``: train the from-scratch network live, settings in hand.

A page (``page.html``, plain JavaScript drawing on canvases, nothing fetched from
elsewhere) sends its settings; the server opens a session
(:mod:`nnscratch.app.playground.sessions`, an explicit state machine) whose thread
trains the real estimator off the event loop once started, and streams what happens
as server-sent events (:mod:`nnscratch.app.playground.stream`), one event an epoch at
most::

    POST   /api/sessions                 settings → 201 {"id", "state", …} (422 naming a
                                         bad field)
    GET    /api/sessions/{id}            its status: state, epoch, reason
    DELETE /api/sessions/{id}            close it (the page's Reset)
    GET    /api/sessions/{id}/events     the stream: "hello", "epoch" and "state"
                                         events, then "done"; numbered, so a page that
                                         reconnects (Last-Event-ID) or reloads resumes
    POST   /api/sessions/{id}/{action}   start | pause | step (one epoch) → its status
                                         (429 when MAX_SESSIONS are training, 409 done)
    GET    /api/sessions/{id}/model      the model as a model file (paused or done)
    GET    /docs/{name}.md               a stage page, rendered (the warnings' "why" links)
    GET    /vendor/katex/…               KaTeX, which typesets the pages' math

Each epoch's event carries the losses, the accuracy (or RMSE), the decision
boundary of 2-D points (the network's output on a grid, through the training
loop's read-only view), the confusion matrix (or predicted against actual), the
weight matrices, the per-layer telemetry (:mod:`nnscratch.core.telemetry`) and
its plain-language warnings (:mod:`nnscratch.app.playground.drawing`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

from nnscratch.app.playground.drawing import WARNING_DOCS
from nnscratch.app.playground.sessions import MAX_SECONDS, MAX_SESSIONS, Sessions, State
from nnscratch.app.playground.settings import Settings
from nnscratch.app.playground.stream import event_response, require_sse
from nnscratch.errors import RequestError

__all__ = [
    "MAX_SECONDS",
    "MAX_SESSIONS",
    "WARNING_DOCS",
    "Sessions",
    "Settings",
    "build_playground",
    "serve",
]

#: The stage pages, rendered from docs/ into the package (``docs/render_pages.py``).
PAGES = "pages"
#: Seconds uvicorn waits for requests still running once told to stop (the event
#: streams end at once; this bounds anything else).
SHUTDOWN_SECONDS = 1.0


def docs_page(name: str) -> tuple[str, int, None, str]:
    """A stage page (``2-init.md``) as the HTML rendered into the package, or a 404 that
    says where the docs are."""
    here = resources.files("nnscratch.app.playground").joinpath(PAGES)
    if re.fullmatch(r"[\w.-]+\.md", name):
        page = here.joinpath(name.removesuffix(".md") + ".html")
        if page.is_file():
            return page.read_text("utf-8"), 200, None, "text/html; charset=utf-8"
    missing = f"{name}: not a stage page; the docs are in the project's docs/ folder"
    return missing, 404, None, "text/plain; charset=utf-8"


def vendored() -> Path:
    """The folder of the vendored JavaScript (KaTeX), inside the package."""
    return Path(str(resources.files("nnscratch.app.playground").joinpath("vendor")))


def page() -> str:
    return resources.files("nnscratch.app.playground").joinpath("page.html").read_text("utf-8")


def build_playground(sessions: Sessions | None = None) -> Any:
    """The playground's app: Starlette routes (installed with FastAPI, the ``serve`` extra)."""
    import anyio
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    sessions = Sessions() if sessions is None else sessions

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page())

    async def open_session(request: Request) -> JSONResponse:
        try:
            raw = json.loads(await request.body())
        except ValueError:
            raise RequestError(400, "the body is not valid JSON") from None
        session = sessions.open(Settings.parse(raw))
        return JSONResponse(session.status(), status_code=201)

    async def session_status(request: Request) -> Response:
        session = sessions.get(request.path_params["id"])
        if request.method == "DELETE":
            session.close()
            return Response(status_code=204)
        return JSONResponse(session.status())

    async def events(request: Request) -> Response:
        session = sessions.get(request.path_params["id"])
        return event_response(
            session.log,
            request.headers.get("last-event-id"),
            hello=session.opening,
            closed=lambda: session.state is State.CLOSED,
            on_open=session.attach,
            on_close=session.detach,
        )

    async def control(request: Request) -> JSONResponse:
        session = sessions.get(request.path_params["id"])
        return JSONResponse(session.control(request.path_params["action"]))

    async def model(request: Request) -> Response:
        session = sessions.get(request.path_params["id"])
        body = await anyio.to_thread.run_sync(session.model_file)  # waits for the lock
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

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        sessions.close_all()  # the training threads stop at their epoch's end

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/sessions", open_session, methods=["POST"]),
            Route("/api/sessions/{id}", session_status, methods=["GET", "DELETE"]),
            Route("/api/sessions/{id}/events", events),
            Route("/api/sessions/{id}/model", model),
            Route("/api/sessions/{id}/{action}", control, methods=["POST"]),
            Route("/docs/{name}", docs),
            Mount("/vendor", StaticFiles(directory=vendored()), name="vendor"),
        ],
        exception_handlers={RequestError: request_error},
        lifespan=lifespan,
    )
    app.state.sessions = sessions
    return app


def serve(app: Any, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until Ctrl-C (or SIGTERM): open event streams end at once
    (sse-starlette, imported first, hooks uvicorn's exit), anything else within
    :data:`SHUTDOWN_SECONDS`; then return (uvicorn raises the Ctrl-C again once it has
    stopped: here it is how a server is meant to stop, not an interruption)."""
    require_sse()
    import uvicorn

    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        )
