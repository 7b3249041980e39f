"""The HTTP application of ``nnscratch serve``: routes, body limits, batching, answers.

What a request means and how it is checked is the served fitted model's
business (:class:`nnscratch.app.serving.ServedModel`): it turns a body into the
network's inputs and the network's outputs into the answer. This module reads
bodies within their limits, parses JSON within its own (depth, digits), hands
the parsed bodies of concurrent requests to one
:class:`~nnscratch.app.batching.MicroBatcher`, and turns a
:class:`~nnscratch.errors.RequestError` into its 4xx answer. Every malformed
body is a 4xx that names the problem; a 5xx is a bug.

FastAPI is an optional extra, imported when an app is built, not when this
module is: the command line imports it on every start. (No ``from __future__
import annotations`` here: FastAPI reads the routes' annotations, which must
be the classes themselves.)
"""

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from nnscratch import __version__
from nnscratch.app.answers import json_requests
from nnscratch.app.batching import MicroBatcher
from nnscratch.app.inference_protocol import output_tensors, read_tensors
from nnscratch.app.monitoring import CountRequests, ServerMetrics
from nnscratch.errors import RequestError

#: A body over the limit is read (and dropped) up to this many bytes before the 413, so
#: that a client sending it in one go gets the answer instead of a reset connection.
DRAIN_BYTES = 256 * 1024 * 1024


def build_app(served: Any, *, max_body_bytes: int, max_rows: int, batching: dict) -> Any:
    """A FastAPI app over ``served`` (a :class:`nnscratch.app.serving.ServedModel`):
    ``/``, ``/health``, ``/model``, ``/predict``, ``/metrics`` and the Open Inference
    Protocol's routes. ``batching`` gives the batcher's ``max_rows`` and ``max_wait_s``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    limits = {"max_body_bytes": max_body_bytes, "max_rows": max_rows}
    metrics = ServerMetrics(served.name, served.version, served.model.task, __version__)
    answers = Answers(served.model, max_body_bytes, max_rows, batching, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        answers.close()

    app = FastAPI(title="nnscratch", version=__version__, lifespan=lifespan)

    @app.exception_handler(RequestError)
    async def request_error(request: Request, exc: RequestError) -> JSONResponse:
        key = "error" if request.url.path.startswith("/v2/") else "detail"  # V2's own form
        return JSONResponse({key: exc.message}, status_code=exc.status)

    add_reading_routes(app, served.page(), served.describe(limits), metrics)

    async def predict(request: Request) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        return JSONResponse(await answers.answer(request, lambda body: answers.job(media, body)))

    # Requests take a plain Starlette route: the body is read by hand, so FastAPI's
    # parameter handling (about 30 µs a request, 8 % of the throughput under load) has
    # nothing to do. The FastAPI route after it is never reached: it shows /predict in /docs.
    app.router.add_route("/predict", predict, methods=["POST"])
    app.post("/predict", summary="Predict: JSON rows, a CSV body, or a PNG (digits)")(predict)

    add_inference_protocol(app, served, answers)
    app.add_middleware(CountRequests, metrics=metrics)
    return app


class Answers:
    """What a request means and how it is answered: the served model's reading of a body
    within the server's limits, and one :class:`~nnscratch.app.batching.MicroBatcher`
    that answers the requests of many clients in batches."""

    def __init__(
        self, model: Any, max_body_bytes: int, max_rows: int, batching: dict, metrics: Any
    ) -> None:
        self.model, self.max_body_bytes, self.max_rows = model, max_body_bytes, max_rows
        self.batcher = MicroBatcher(
            model.network_outputs, prepare=self.prepare, on_batch=metrics.batch, **batching
        )

    def close(self) -> None:
        self.batcher.close()

    def prepare(self, jobs: list[Any]) -> list[Any]:
        """A batch's jobs as requests: the JSON rows of ``/predict`` read together by the
        model (each body's own request or error); the others were made as they came."""
        bodies = [job.payload for job in jobs if isinstance(job, JsonRows)]
        read = iter(json_requests(self.model, bodies, self.max_rows) if bodies else ())
        return [next(read) if isinstance(job, JsonRows) else job for job in jobs]

    async def answer(self, request: Any, make: Callable[[bytes], Any]) -> Any:
        """The answer to ``request``: its body read and made into a job by ``make(body)``
        (the batcher may wait for it meanwhile), then answered in a batch."""
        with self.batcher.arrival():
            job = make(await read_body(request, self.max_body_bytes))
        return await self.batcher.answer(job, job.rows if isinstance(job, JsonRows) else len(job.X))

    def job(self, media: str, body: bytes) -> Any:
        """A ``/predict`` body as a job, by its media type: JSON rows to be read with the
        batch's others, or the model's request for a CSV or PNG body."""
        if media in ("application/json", ""):
            return JsonRows(parse_json(body))
        if media in ("text/csv", "application/csv", "text/plain"):
            return self.model.body_request("text/csv", body, self.max_rows)
        if media == "image/png":
            return self.model.body_request(media, body, self.max_rows)
        raise RequestError(
            415,
            f"unsupported content type {media!r}: send application/json, text/csv "
            "(tables) or image/png (digits)",
        )

    def tensor_job(self, body: bytes) -> tuple[Any, Any]:
        """An Open Inference Protocol body as the model's request, and the request's id."""
        tensors, request_id = read_tensors(parse_json(body), self.max_rows * 10_000)
        return self.model.tensor_request(tensors, self.max_rows), request_id


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


def add_inference_protocol(app: Any, served: Any, answers: Answers) -> None:
    """The Open Inference Protocol's routes (:mod:`nnscratch.app.inference_protocol`)."""
    from fastapi import Request
    from fastapi.responses import JSONResponse

    model, name, version = served.model, served.name, served.version
    metadata = {
        "name": name,
        "versions": [version],
        "platform": "nnscratch",
        "inputs": model.tensor_inputs(),
        "outputs": model.tensor_outputs(),
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
            job, request_id = answers.tensor_job(body)
            return job

        result = await answers.answer(request, make)
        response: dict[str, Any] = {"model_name": name, "model_version": version}
        if request_id is not None:
            response["id"] = request_id
        response["outputs"] = output_tensors(result)
        return JSONResponse(response)


@dataclass
class JsonRows:
    """A ``/predict`` JSON body, parsed: read by the model with its batch's others."""

    payload: Any

    @property
    def rows(self) -> int:
        """How many rows it says it holds (for the batch's row cap; checked later)."""
        rows = self.payload.get("rows") if isinstance(self.payload, dict) else None
        return len(rows) if isinstance(rows, list) else 1


async def read_body(request: Any, limit: int) -> bytes:
    """The body, or a 413 once it is known to exceed ``limit`` bytes (after reading and
    dropping up to :data:`DRAIN_BYTES` of it, so that the client is there to read it)."""
    declared = request.headers.get("content-length", "")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            if size > DRAIN_BYTES:
                break
            continue  # dropped
        chunks.append(chunk)
    if size > limit:
        if declared.isdigit():
            said = f"the request body is {int(declared):,} bytes; the limit is {limit:,}"
        else:  # streamed without a length: how long it would have been is not known
            said = f"the request body exceeds the limit of {limit:,} bytes"
        raise RequestError(413, f"{said} (nnscratch serve --max-body)")
    body = b"".join(chunks)
    if not body:
        raise RequestError(400, "the request body is empty")
    return body


def parse_json(body: bytes) -> Any:
    """The parsed body, or a 400 that says why not: not JSON, nested deeper than Python
    parses, or a number longer than it converts."""
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError(400, "the body is not valid JSON (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, a 5,000-digit number
        detail = " ".join(str(exc).split())[:200]
        raise RequestError(400, f"the body is not valid JSON ({detail})") from None
