"""The HTTP application of ``nnscratch serve``: its routes, assembled.

What a request means and how it is checked is the served fitted model's
business (:class:`nnscratch.app.serve.server.ServedModel`); reading a body within
its limits and answering it in a batch is the
:class:`~nnscratch.app.serve.handler.RequestHandler`'s; what each route reads and
answers, as the OpenAPI document and ``/docs`` show it, is
:mod:`nnscratch.app.serve.openapi`'s. This module lays out the routes (the page and
the descriptions, ``/predict``, the Open Inference Protocol's) and turns a
:class:`~nnscratch.errors.RequestError` into its 4xx answer. Every malformed body is
a 4xx that names the problem; a 5xx is a bug.

FastAPI is an optional extra, imported when an app is built, not when this
module is: the command line imports it on every start. (No ``from __future__
import annotations`` here: FastAPI reads the routes' annotations, which must
be the classes themselves.)
"""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from nnscratch import __version__
from nnscratch.app.serve.handler import RequestHandler
from nnscratch.app.serve.inference_protocol import EXTENSIONS, HEADER_LENGTH, response_body
from nnscratch.app.serve.metrics import CountRequests, ServerMetrics
from nnscratch.app.serve.openapi import (
    TAGS,
    add_docs_page,
    infer_doc,
    model_metadata_doc,
    model_ready_doc,
    predict_doc,
    protocol_docs,
    reading_docs,
)
from nnscratch.errors import RequestError


def build_app(served: Any, *, max_body_bytes: int, max_rows: int, batching: dict) -> Any:
    """A FastAPI app over ``served`` (a :class:`nnscratch.app.serve.server.ServedModel`):
    ``/``, ``/health``, ``/model``, ``/predict``, ``/metrics``, the Open Inference
    Protocol's routes, ``/openapi.json`` and ``/docs``. ``batching`` gives the batcher's
    ``max_rows`` and ``max_wait_s``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    limits = {"max_body_bytes": max_body_bytes, "max_rows": max_rows}
    metrics = ServerMetrics(served.name, served.version, served.model.task, __version__)
    handler = RequestHandler(served.serving, max_body_bytes, max_rows, batching, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        handler.close()

    app = FastAPI(
        title=f"nnscratch serve: {served.name}",
        version=__version__,
        description=f"A {served.model.task} model ({served.path.name}) behind a JSON API, "
        "its page, its metrics, and the Open Inference Protocol (KServe V2).",
        lifespan=lifespan,
        openapi_tags=TAGS,
        docs_url=None,  # served from the package's own Swagger UI: add_docs_page
        redoc_url=None,
    )
    add_error_answers(app)
    add_reading_routes(app, served.page(), served.describe(limits), metrics)

    async def predict(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        return JSONResponse(await handler.answer(request, lambda body: handler.job(media, body)))

    # Requests take a plain Starlette route: the body is read by hand, so FastAPI's
    # parameter handling (about 30 µs a request, 8 % of the throughput under load) has
    # nothing to do. The FastAPI route after it is never reached: it puts /predict, its
    # bodies and its answers in the OpenAPI document.
    app.router.add_route("/predict", predict, methods=["POST"])
    app.post("/predict", **predict_doc(served.serving, max_rows, max_body_bytes))(predict)

    add_inference_protocol(app, served, handler)
    add_docs_page(app, "nnscratch serve")
    app.add_middleware(CountRequests, metrics=metrics)
    return app


def is_protocol_path(path: str) -> bool:
    """Whether ``path`` is the Open Inference Protocol's (its errors are ``{"error"}``)."""
    return path == "/v2" or path.startswith("/v2/")


def add_error_answers(app: Any) -> None:
    """A :class:`RequestError` as its status and ``{"detail": message}``, or on the Open
    Inference Protocol's routes ``{"error": message}``, as are their 404s and 405s."""
    from fastapi.exception_handlers import http_exception_handler
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        key = "error" if is_protocol_path(request.url.path) else "detail"
        return JSONResponse({key: exc.message}, status_code=exc.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Any:
        if not is_protocol_path(request.url.path):
            return await http_exception_handler(request, exc)
        message = f"{exc.detail}: {request.method} {request.url.path}"
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


def add_reading_routes(app: Any, page: str, description: dict, metrics: Any) -> None:
    """``GET /`` (the page), ``/health``, ``/model`` (``description``) and ``/metrics``."""
    from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response

    _, metrics_type = metrics.exposition()
    docs = reading_docs(description, metrics_type)

    @app.get("/", response_class=HTMLResponse, **docs["/"])
    async def index() -> str:
        return page

    @app.get("/health", **docs["/health"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/model", **docs["/model"])
    async def model_info() -> JSONResponse:
        return JSONResponse(description)

    @app.get("/metrics", response_class=PlainTextResponse, **docs["/metrics"])
    async def scrape() -> Response:
        body, media_type = metrics.exposition()
        return Response(body, media_type=media_type)


def add_inference_protocol(app: Any, served: Any, handler: RequestHandler) -> None:
    """The Open Inference Protocol's routes (:mod:`nnscratch.app.serve.inference_protocol`):
    the server's, and the model's, each with and without ``/versions/{version}``."""
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response

    serving, name, version = served.serving, served.name, served.version
    metadata = {
        "name": name,
        "versions": [version],
        "platform": "nnscratch",
        "inputs": serving.tensor_inputs(),
        "outputs": serving.tensor_outputs(),
    }

    def known(request: Request) -> None:
        """404 naming what this server serves, for another model or version."""
        asked, asked_version = (
            request.path_params["model_name"],
            request.path_params.get("model_version", version),
        )
        if asked != name:
            raise RequestError(404, f"no model {asked!r}; this server serves {name!r}")
        if asked_version != version:
            served = f"it serves version {version!r}"
            raise RequestError(404, f"model {name!r} has no version {asked_version!r}; {served}")

    docs = protocol_docs()

    @app.get("/v2/health/live", **docs["/v2/health/live"])
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready", **docs["/v2/health/ready"])
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/v2", **docs["/v2"])
    async def server_metadata() -> dict[str, Any]:
        return {"name": "nnscratch", "version": __version__, "extensions": EXTENSIONS}

    async def model_metadata(request: Request) -> JSONResponse:
        known(request)
        return JSONResponse(metadata)

    async def model_ready(request: Request) -> JSONResponse:
        known(request)
        return JSONResponse({"name": name, "ready": True})

    async def infer(request: Request) -> Response:
        known(request)
        parsed = None

        def make(body: bytes) -> Any:
            nonlocal parsed
            job, parsed = handler.tensor_job(body, request.headers.get(HEADER_LENGTH))
            return job

        answer = await handler.answer(request, make)
        head: dict[str, Any] = {"model_name": name, "model_version": version}
        if parsed.id is not None:
            head["id"] = parsed.id
        body, json_length = response_body(head, answer, parsed.outputs)
        if json_length is None:
            return Response(body, media_type="application/json")
        headers = {HEADER_LENGTH: str(json_length)}
        return Response(body, media_type="application/octet-stream", headers=headers)

    for path, asked in (("", None), ("/versions/{model_version}", version)):
        model = "/v2/models/{model_name}" + path
        app.get(model, **model_metadata_doc(name, asked, metadata))(model_metadata)
        app.get(model + "/ready", **model_ready_doc(name, asked))(model_ready)
        app.post(model + "/infer", **infer_doc(name, asked, serving))(infer)
