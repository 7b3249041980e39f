"""The HTTP application of ``nnscratch serve``: its routes, assembled.

What a request means and how it is checked is the served fitted model's
business (:class:`nnscratch.app.serve.server.ServedModel`); reading a body within
its limits and answering it in a batch is the
:class:`~nnscratch.app.serve.handler.RequestHandler`'s. This module only lays out
the routes (the page and the descriptions, ``/predict``, the Open Inference
Protocol's) and turns a :class:`~nnscratch.errors.RequestError` into its 4xx
answer. Every malformed body is a 4xx that names the problem; a 5xx is a bug.

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
from nnscratch.app.serve.inference_protocol import output_tensors
from nnscratch.app.serve.metrics import CountRequests, ServerMetrics
from nnscratch.errors import RequestError


def build_app(served: Any, *, max_body_bytes: int, max_rows: int, batching: dict) -> Any:
    """A FastAPI app over ``served`` (a :class:`nnscratch.app.serve.server.ServedModel`):
    ``/``, ``/health``, ``/model``, ``/predict``, ``/metrics`` and the Open Inference
    Protocol's routes. ``batching`` gives the batcher's ``max_rows`` and ``max_wait_s``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    limits = {"max_body_bytes": max_body_bytes, "max_rows": max_rows}
    metrics = ServerMetrics(served.name, served.version, served.model.task, __version__)
    handler = RequestHandler(served.serving, max_body_bytes, max_rows, batching, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        handler.close()

    app = FastAPI(title="nnscratch", version=__version__, lifespan=lifespan)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        key = "error" if request.url.path.startswith("/v2/") else "detail"  # V2's own form
        return JSONResponse({key: exc.message}, status_code=exc.status)

    add_reading_routes(app, served.page(), served.describe(limits), metrics)

    async def predict(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        return JSONResponse(await handler.answer(request, lambda body: handler.job(media, body)))

    # Requests take a plain Starlette route: the body is read by hand, so FastAPI's
    # parameter handling (about 30 µs a request, 8 % of the throughput under load) has
    # nothing to do. The FastAPI route after it is never reached: it shows /predict in /docs.
    app.router.add_route("/predict", predict, methods=["POST"])
    app.post("/predict", summary="Predict: JSON rows, a CSV body, or a PNG (digits)")(predict)

    add_inference_protocol(app, served, handler)
    app.add_middleware(CountRequests, metrics=metrics)
    return app


def add_reading_routes(app: Any, page: str, description: dict, metrics: Any) -> None:
    """``GET /`` (the page), ``/health``, ``/model`` (``description``) and ``/metrics``."""
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/model")
    async def model_info() -> JSONResponse:
        return JSONResponse(description)

    @app.get("/metrics")
    async def scrape() -> Response:
        body, media_type = metrics.exposition()
        return Response(body, media_type=media_type)


def add_inference_protocol(app: Any, served: Any, handler: RequestHandler) -> None:
    """The Open Inference Protocol's routes (:mod:`nnscratch.app.serve.inference_protocol`)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    serving, name, version = served.serving, served.name, served.version
    metadata = {
        "name": name,
        "versions": [version],
        "platform": "nnscratch",
        "inputs": serving.tensor_inputs(),
        "outputs": serving.tensor_outputs(),
    }

    def known(model_name: str) -> None:
        if model_name != name:
            raise RequestError(404, f"no model {model_name!r}; this server serves {name!r}")

    @app.get("/v2/health/live")
    async def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    async def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/v2")
    async def server_metadata() -> dict[str, Any]:
        return {"name": "nnscratch", "version": __version__, "extensions": []}

    @app.get("/v2/models/{model_name}")
    async def model_metadata(model_name: str) -> JSONResponse:
        known(model_name)
        return JSONResponse(metadata)

    @app.post("/v2/models/{model_name}/infer")
    async def infer(model_name: str, request: Request) -> JSONResponse:
        known(model_name)
        request_id = None

        def make(body: bytes) -> Any:
            nonlocal request_id
            job, request_id = handler.tensor_job(body)
            return job

        result = await handler.answer(request, make)
        response: dict[str, Any] = {"model_name": name, "model_version": version}
        if request_id is not None:
            response["id"] = request_id
        response["outputs"] = output_tensors(result)
        return JSONResponse(response)
