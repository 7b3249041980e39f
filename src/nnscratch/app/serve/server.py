"""Serving a trained model (``nnscratch serve``): a JSON API and a page for people.

::

    GET  /          the page for the model's task (plain HTML + JS from the package;
                    no build step, no CDN, works offline)
    GET  /health    {"status": "ok"}
    GET  /model     task, inputs (with ranges), classes, training metrics, version
    POST /predict   tables: {"rows": [{column: value, ...}, ...]} or a CSV body
                    digits: {"pixels": [...]} or {"images": [[...], ...]}, or a PNG body
    GET  /metrics   Prometheus's text format (:mod:`nnscratch.app.serve.metrics`)
    /v2/...         the Open Inference Protocol (:mod:`nnscratch.app.serve.inference_protocol`)

The model file is read and validated once, at start, by the task that trained
it (:func:`nnscratch.tasks.registry.load_model`). Every request is checked
before anything is computed; a malformed one gets a 4xx answer ``{"detail":
"..."}`` that names what is wrong (the row, the column, the value), and the
server goes on serving. What a request means is the fitted model's business
(its ``serving`` part: ``json_request``, ``body_request``, ``tensor_request``); the network
inputs of concurrent requests run as one call (:mod:`nnscratch.app.serve.batching`),
and every row's answer is the number ``nnscratch predict`` writes for it, to
the bit, whatever it was batched with. ``--workers N`` runs N processes, each
with the model loaded once.

FastAPI and uvicorn are an optional extra: ``pip install 'nnscratch[serve]'``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from nnscratch.app.serve.api import build_app
from nnscratch.app.serve.batching import MAX_BATCH_ROWS, MAX_WAIT_MS
from nnscratch.errors import NNScratchError
from nnscratch.models.fitted import Servable, ServableModel
from nnscratch.tasks.registry import load_model

#: Default limits: request body size, and rows (or images) per request.
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_ROWS = 10_000


@dataclass
class ServedModel:
    """A model loaded for serving, and the training run's ``metrics.json`` beside it."""

    path: Path
    model: ServableModel
    metadata: dict[str, Any] = field(default_factory=dict)
    #: the model's name in the Open Inference Protocol's routes, and its version
    name: str = "model"
    version: str = "1"
    #: what answers the model's requests (its ``serving`` part)
    serving: Servable = field(init=False)

    def __post_init__(self) -> None:
        self.serving = self.model.serving

    @classmethod
    def load(cls, path: str | os.PathLike[str], name: str | None = None) -> ServedModel:
        """Read and validate ``path`` (a file written by ``nnscratch train``); ``name``
        defaults to the file's stem, or its folder's name for ``model.npz``."""
        path = Path(path)
        model = load_model(path)
        if not isinstance(model, ServableModel):
            raise NNScratchError(f"{path}: a {model.task} model cannot be served")
        metrics_file = path.with_name("metrics.json")
        metadata: dict[str, Any] = {}
        if metrics_file.is_file():  # written beside model.npz by `nnscratch train`
            try:
                metadata = json.loads(metrics_file.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                metadata = {}
        default = path.parent.name if path.stem in ("model", "checkpoint") else path.stem
        return cls(path, model, metadata, name or default or "model")

    def describe(self, limits: dict[str, int]) -> dict[str, Any]:
        """The answer to ``GET /model``: the model's own description, its file, the
        training run's scores, the server's limits."""
        results = self.metadata.get("results") or {}
        return self.model.describe() | {
            "model_file": self.path.name,
            "metrics": self.metadata.get("results"),
            "test_scores": next(
                (s.get("test") for name, s in results.items() if name.startswith("nnscratch")),
                None,
            ),
            "limits": limits,
        }

    def page(self) -> str:
        """The page for the model's task, from this folder's ``pages``."""
        pages = resources.files("nnscratch.app.serve").joinpath("pages")
        return pages.joinpath(self.serving.page).read_text(encoding="utf-8")


def create_app(
    model_path: str | os.PathLike[str],
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_rows: int = MAX_ROWS,
    max_batch_rows: int = MAX_BATCH_ROWS,
    max_wait_ms: float = MAX_WAIT_MS,
    name: str | None = None,
) -> Any:
    """The FastAPI application serving ``model_path`` (loaded and validated here, once);
    its routes are in :mod:`nnscratch.app.serve.api`."""
    require_serve_extra()
    served = ServedModel.load(model_path, name)
    batching = {"max_rows": max_batch_rows, "max_wait_s": max_wait_ms / 1000}
    return build_app(served, max_body_bytes=max_body_bytes, max_rows=max_rows, batching=batching)


#: How ``nnscratch serve --workers N`` hands its settings to each worker process.
SETTINGS_VARIABLE = "NNSCRATCH_SERVE_SETTINGS"


def app_from_environment() -> Any:
    """The app for one of ``--workers N`` processes (uvicorn's factory): the settings
    ``nnscratch serve`` put in :data:`SETTINGS_VARIABLE` as JSON."""
    settings = json.loads(os.environ[SETTINGS_VARIABLE])
    return create_app(settings.pop("model_path"), **settings)


def require_serve_extra() -> None:
    """:class:`NNScratchError` in one line where FastAPI or uvicorn is missing."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise NNScratchError(
            "serve needs FastAPI and uvicorn: pip install 'nnscratch[serve]'"
        ) from None
