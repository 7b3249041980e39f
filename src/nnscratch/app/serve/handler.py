"""How ``nnscratch serve`` handles a request's body: read within its limits, parsed, made
into a *job* the served model understands, and answered in a batch with the others.

A model's ``serving`` part says what a body means (``json_request``,
``body_request``, ``tensor_request``: the network's inputs and how their outputs
become the answer) and computes ``network_outputs``; :class:`RequestHandler` puts the two together
through one :class:`~nnscratch.app.serve.batching.MicroBatcher`, so that the
network inputs of concurrent requests run as one call, with the answer a request
would get alone, to the bit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nnscratch.app.serve.batching import MicroBatcher
from nnscratch.app.serve.inference_protocol import InferenceRequest, read_request, split_body
from nnscratch.errors import RequestError
from nnscratch.models.fitted import ReadsJsonTogether, Servable
from nnscratch.models.values import Request

#: A body over the limit is read (and dropped) up to this many bytes before the 413, so
#: that a client sending it in one go gets the answer instead of a reset connection.
DRAIN_BYTES = 256 * 1024 * 1024


class RequestHandler:
    """What a request means and how it is answered: the served model's reading of a body
    within the server's limits, and one :class:`~nnscratch.app.serve.batching.MicroBatcher`
    that answers the requests of many clients in batches."""

    def __init__(
        self, serving: Servable, max_body_bytes: int, max_rows: int, batching: dict, metrics: Any
    ) -> None:
        self.serving, self.max_body_bytes, self.max_rows = serving, max_body_bytes, max_rows
        self.output_names = [tensor["name"] for tensor in serving.tensor_outputs()]
        self.batcher = MicroBatcher(
            serving.network_outputs, prepare=self.prepare, on_batch=metrics.batch, **batching
        )

    def close(self) -> None:
        self.batcher.close()

    def prepare(self, jobs: list[Any]) -> list[Any]:
        """A batch's jobs as requests: the JSON rows of ``/predict`` read together by the
        model (each body's own request or error); the others were made as they came."""
        bodies = [job.payload for job in jobs if isinstance(job, JsonRows)]
        read = iter(json_requests(self.serving, bodies, self.max_rows) if bodies else ())
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
            return self.serving.body_request("text/csv", body, self.max_rows)
        if media == "image/png":
            return self.serving.body_request(media, body, self.max_rows)
        raise RequestError(
            415,
            f"unsupported content type {media!r}: send application/json, text/csv "
            "(tables) or image/png (digits)",
        )

    def tensor_job(self, body: bytes, header_length: str | None) -> tuple[Any, InferenceRequest]:
        """An Open Inference Protocol body as the model's request, and the inference request
        (its id, the outputs it wants); ``header_length``: its
        ``Inference-Header-Content-Length``, where binary data follows the JSON."""
        head, binary = split_body(body, header_length)
        request = read_request(parse_json(head), binary, self.output_names, self.max_rows * 10_000)
        return self.serving.tensor_request(request.tensors, self.max_rows), request


def json_requests(
    serving: Servable, payloads: list[Any], max_rows: int
) -> list[Request | RequestError]:
    """Each of many JSON bodies (a server's waiting requests) as its request, or the error
    it would raise alone: read together where the model can (:class:`ReadsJsonTogether`),
    else one by one."""
    if isinstance(serving, ReadsJsonTogether):
        return serving.json_requests(payloads, max_rows)
    results: list[Request | RequestError] = []
    for payload in payloads:
        try:
            results.append(serving.json_request(payload, max_rows))
        except RequestError as exc:
            results.append(exc)
    return results


@dataclass
class JsonRows:
    """A ``/predict`` JSON body, parsed: read by the model with its batch's others."""

    payload: Any

    @property
    def rows(self) -> int:
        """How many rows it says it holds (for the batch's row cap; checked later): a list
        of records, or an object's ``"rows"``."""
        payload = self.payload
        rows = payload.get("rows") if isinstance(payload, dict) else payload
        return len(rows) if isinstance(rows, list) and rows else 1


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
