"""The HTTP application of ``nnscratch serve``: routes, body limits, error answers.

What a request means and how it is checked is the served fitted model's
business (:class:`nnscratch.app.serving.ServedModel`); this module reads bodies
(refusing one over the limit as soon as that is known), picks the reader by content
type, runs prediction in a worker thread, and turns a
:class:`~nnscratch.errors.RequestError` into its 4xx answer.

FastAPI is an optional extra, imported when an app is built, not when this
module is: the command line imports it on every start. (No ``from __future__
import annotations`` here: FastAPI reads the routes' annotations, which must
be the classes themselves.)
"""

import json
from typing import Any

from nnscratch import __version__
from nnscratch.errors import RequestError


def build_app(served: Any, *, max_body_bytes: int, max_rows: int) -> Any:
    """A FastAPI app with ``/``, ``/health``, ``/model`` and ``/predict`` over ``served``
    (a :class:`nnscratch.app.serving.ServedModel`), showing its task's page at ``/``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.concurrency import run_in_threadpool

    limits = {"max_body_bytes": max_body_bytes, "max_rows": max_rows}
    description = served.describe(limits)
    page = served.page()
    model = served.model
    app = FastAPI(title="nnscratch", version=__version__)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/model")
    async def model_info() -> dict[str, Any]:
        return description

    @app.post("/predict")
    async def predict(request: Request) -> dict[str, Any]:
        body = await read_body(request, max_body_bytes)
        if not body:
            raise RequestError(400, "the request body is empty")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media in ("application/json", ""):
            payload = parse_json(body)
            return await run_in_threadpool(model.answer_json, payload, max_rows)
        if media in ("text/csv", "application/csv", "text/plain"):
            return await run_in_threadpool(model.answer_body, "text/csv", body, max_rows)
        if media == "image/png":
            return await run_in_threadpool(model.answer_body, media, body, max_rows)
        raise RequestError(
            415,
            f"unsupported content type {media!r}: send application/json, text/csv "
            "(tables) or image/png (digits)",
        )

    return app


async def read_body(request: Any, limit: int) -> bytes:
    """The body, refused with 413 as soon as it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RequestError(
            413,
            f"the request body is {int(declared):,} bytes; the limit is {limit:,} "
            "(nnscratch serve --max-body)",
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(
                413, f"the request body exceeds the limit of {limit:,} bytes (--max-body)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        detail = " ".join(str(exc).split())[:200]
        raise RequestError(400, f"the body is not valid JSON ({detail})") from None
