"""What a fitted model is to the application: the :class:`FittedModel` protocol every saved
model keeps, and the parts that only some models have.

A fitted model reads a file and predicts it, scores itself on a file, describes itself
and saves itself (:class:`FittedModel`: what ``nnscratch predict``, ``evaluate`` and
``train`` use, whatever the task). A capability only some models have is a class of
its own that those models compose, named by a property:

    serving   a :class:`Servable`: what ``nnscratch serve`` does with the model's requests
              (:mod:`nnscratch.models.serving`)
    export    an :class:`Exportable`: the model as one ONNX graph, for ``nnscratch export``
              (:mod:`nnscratch.models.onnx_export`)

so the application asks ``isinstance(model, ServableModel)`` (or ``ExportableModel``)
and then talks to the part; a model without it is refused in one line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from nnscratch.core.training import History
from nnscratch.errors import RequestError
from nnscratch.models.metrics import Results
from nnscratch.models.values import Predictions, Request


@runtime_checkable
class FittedModel(Protocol):
    """What every trained model does, whatever its task: one file, predictions, scores
    and a description.

    ``predict_file`` and ``evaluate`` read a file (or folder) as ``nnscratch predict``
    and ``evaluate`` do; ``describe`` is what ``GET /model`` and the run's records say.
    """

    task: ClassVar[str]

    @property
    def history(self) -> History: ...

    @property
    def n_members(self) -> int: ...

    def save(self, path: str | os.PathLike[str]) -> Path: ...

    def predict_file(self, source: str) -> Predictions: ...

    def evaluate(self, source: str, model_file: str) -> tuple[Results, list[str]]: ...

    def describe(self) -> dict[str, Any]: ...


@runtime_checkable
class Servable(Protocol):
    """What ``nnscratch serve`` answers a model's requests with (a model's ``serving``).

    A request's JSON body goes to ``json_request``, any other body (a CSV, a PNG) to
    ``body_request`` with its media type, an Open Inference Protocol (KServe V2) request's
    tensors to ``tensor_request``: each gives the network's inputs and how the network's
    outputs (``network_outputs``, which a server may batch over many requests) become the
    answer. ``tensor_inputs`` and ``tensor_outputs`` describe the V2 tensors,
    ``request_schemas`` (by media type) and ``answer_schema`` the JSON Schema of the bodies
    and the answer (:mod:`nnscratch.models.request_schemas`); ``page`` names the served
    page. The answers computed at once, and the reading of many JSON bodies together, are
    the serving code's (:mod:`nnscratch.app.serve.handler`), written once.
    """

    page: ClassVar[str]

    def json_request(self, payload: Any, max_rows: int) -> Request: ...

    def body_request(self, media: str, body: bytes, max_rows: int) -> Request: ...

    def tensor_request(self, tensors: dict[str, np.ndarray], max_rows: int) -> Request: ...

    def network_outputs(self, X: np.ndarray) -> np.ndarray: ...

    def tensor_inputs(self) -> list[dict[str, Any]]: ...

    def tensor_outputs(self) -> list[dict[str, Any]]: ...

    def request_schemas(self, max_rows: int) -> dict[str, dict[str, Any]]: ...

    def answer_schema(self) -> dict[str, Any]: ...


@runtime_checkable
class ReadsJsonTogether(Protocol):
    """A :class:`Servable` that reads many waiting JSON bodies at once, faster than one by
    one: each body's request, or the :class:`RequestError` it gets alone."""

    def json_requests(self, payloads: list[Any], max_rows: int) -> list[Request | RequestError]: ...


@runtime_checkable
class Exportable(Protocol):
    """What ``nnscratch export`` writes of a model (a model's ``export``): the whole model
    as one ONNX graph (``to_onnx``) and what that graph takes (``onnx_inputs``)."""

    def to_onnx(self) -> Any: ...

    def onnx_inputs(self) -> list[dict[str, Any]]: ...


@runtime_checkable
class ServableModel(FittedModel, Protocol):
    """A fitted model ``nnscratch serve`` can serve: its ``serving`` answers requests."""

    @property
    def serving(self) -> Servable: ...


@runtime_checkable
class ExportableModel(FittedModel, Protocol):
    """A fitted model ``nnscratch export`` can write: its ``export`` is the ONNX graph."""

    @property
    def export(self) -> Exportable: ...
