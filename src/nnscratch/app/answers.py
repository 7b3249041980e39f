"""How a served model answers requests, written once for every :class:`Servable` model.

A model says what a body means (``json_request``, ``body_request``,
``tensor_request``: the network's inputs and how their outputs become the answer)
and computes ``network_outputs``; these functions put the two together. A server
batches many requests' inputs into one network call instead
(:mod:`nnscratch.app.batching`); the answer is the same to the bit.
"""

from __future__ import annotations

from typing import Any

from nnscratch.errors import RequestError
from nnscratch.models.values import Request
from nnscratch.tasks.base import ReadsJsonTogether, Servable


def json_requests(
    model: Servable, payloads: list[Any], max_rows: int
) -> list[Request | RequestError]:
    """Each of many JSON bodies (a server's waiting requests) as its request, or the error
    it would raise alone: read together where the model can (:class:`ReadsJsonTogether`),
    else one by one."""
    if isinstance(model, ReadsJsonTogether):
        return model.json_requests(payloads, max_rows)
    results: list[Request | RequestError] = []
    for payload in payloads:
        try:
            results.append(model.json_request(payload, max_rows))
        except RequestError as exc:
            results.append(exc)
    return results


def answer(model: Servable, request: Request) -> dict[str, Any]:
    """The answer to one checked request, computed now."""
    return request.answer(model.network_outputs(request.X))


def answer_json(model: Servable, payload: Any, max_rows: int) -> dict[str, Any]:
    """The answer to a JSON body (see ``json_request``), computed now."""
    return answer(model, model.json_request(payload, max_rows))


def answer_body(model: Servable, media: str, body: bytes, max_rows: int) -> dict[str, Any]:
    """The answer to another body (a CSV, a PNG; see ``body_request``), computed now."""
    return answer(model, model.body_request(media, body, max_rows))
