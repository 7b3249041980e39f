"""``nnscratch playground``: train the from-scratch network live, settings in hand.

A page (``web/playground.html``, plain JavaScript drawing on canvases, nothing
fetched from elsewhere) sends its settings; the server makes a :class:`Session`
that trains the real estimator in a thread of its own, off the event loop, and
streams what happens over server-sent events, one event an epoch::

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
import math
import queue
import re
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from nnscratch.core.network import to_network_layout
from nnscratch.core.observe import StepView
from nnscratch.core.telemetry import Telemetry, diagnose
from nnscratch.data.toys import TOY_SETS, ToyData, make_toy
from nnscratch.errors import RequestError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.regressor import MLPRegressor

#: Sessions that may train at once; the next is refused (429) until one ends.
MAX_SESSIONS = 4
#: The longest a session trains, in seconds.
MAX_SECONDS = 600.0
#: The decision boundary's grid: GRID × GRID points over [-EXTENT, EXTENT]².
GRID, EXTENT = 48, 1.6
#: The page is drawn at most this often: epochs between two events travel as history.
MIN_EVENT_SECONDS = 0.05
#: How often a stream asks whether its page is still there.
CHECK_SECONDS = 0.25
#: An epoch takes at least this long, so that a small problem's learning can be watched
#: (TensorFlow Playground paces its epochs the same way): 300 epochs, 6 s.
MIN_EPOCH_SECONDS = 0.02
#: Weight matrices larger than this many values are not sent (too many to draw).
MAX_DRAWN_WEIGHTS = 16_384
#: Where each kind of warning is explained.
WARNING_DOCS = {
    "vanishing": "2-init.md", "exploding": "2-init.md", "dead": "3-activations.md",
    "saturated": "3-activations.md", "large_updates": "optimizers.md",
    "small_updates": "optimizers.md",
}  # fmt: skip

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
INITS = ("he", "glorot", "small")
OPTIMIZERS = ("gd", "momentum", "adam", "adamw")


@dataclass(frozen=True)
class Settings:
    """What the page sets (and its URL hash holds). ``batch`` 0 is full-batch gradient
    descent, as the seed; ``target_loss`` 0 means none."""

    data: str = "moons"
    noise: float = 0.1
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 0.03
    batch: int = 0
    l2: float = 0.0
    dropout: float = 0.0
    epochs: int = 300
    target_loss: float = 0.0
    seed: int = 0

    @classmethod
    def parse(cls, raw: Any) -> Settings:
        """Checked settings from a JSON object; a 422 that names the first bad field."""
        if not isinstance(raw, dict):
            raise RequestError(422, "settings must be a JSON object")
        known = {f.name for f in fields(cls)}
        for name in raw:
            if name not in known:
                raise RequestError(422, f"{name}: unknown setting; known: {', '.join(known)}")
        values = {name: _field(name, raw[name]) for name in raw}
        return cls(**values)


def _number(name: str, value: Any, low: float, high: float, *, whole: bool = False) -> Any:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if ok and whole:
        ok = float(value).is_integer()
    if not ok or not math.isfinite(value) or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise RequestError(422, f"{name}: must be {kind} from {low:g} to {high:g}, not {value!r}")
    return int(value) if whole else float(value)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise RequestError(422, f"{name}: must be one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _field(name: str, value: Any) -> Any:
    """One setting, checked."""
    if name == "hidden":
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
            value = [int(v) if v.strip().isdigit() else v for v in value]
        if not isinstance(value, list) or not 1 <= len(value) <= 8:
            raise RequestError(422, f"hidden: 1 to 8 layer widths, not {value!r}")
        return tuple(_number("hidden", v, 1, 256, whole=True) for v in value)
    choices = {"data": TOY_SETS, "activation": ACTIVATIONS, "init": INITS,
               "optimizer": OPTIMIZERS}  # fmt: skip
    if name in choices:
        return _choice(name, value, choices[name])
    ranges = {"noise": (0, 0.5), "lr": (1e-6, 10), "l2": (0, 1), "dropout": (0, 0.9),
              "target_loss": (0, 10)}  # fmt: skip
    if name in ranges:
        return _number(name, value, *ranges[name])
    whole = {"batch": (0, 1000), "epochs": (1, 5000), "seed": (0, 2**31 - 1)}
    return _number(name, value, *whole[name], whole=True)


def estimator_for(settings: Settings, data: ToyData) -> MLPClassifier | MLPRegressor:
    """The estimator the settings describe (no early stopping: the page decides)."""
    params = dict(
        hidden_layer_sizes=settings.hidden, activation=settings.activation,
        init=settings.init, optimizer=settings.optimizer, learning_rate=settings.lr,
        batch_size=settings.batch or None, epochs=settings.epochs, l2=settings.l2,
        dropout=settings.dropout, early_stopping=False, random_state=settings.seed,
        dtype="float64",
    )  # fmt: skip
    if data.classification:
        return MLPClassifier(**params)
    return MLPRegressor(**params)


def boundary_grid() -> np.ndarray:
    """The grid's points ``(GRID², 2)``, row by row from the top left."""
    axis = np.linspace(-EXTENT, EXTENT, GRID)
    xs, ys = np.meshgrid(axis, axis[::-1])
    return np.c_[xs.ravel(), ys.ravel()]


class Session:
    """One page's training: the data, the estimator, a thread that trains it, and the
    events it streams. The thread waits for ``start`` or ``step`` before the first epoch
    and after each epoch while paused; ``close`` makes it stop at the end of the epoch."""

    def __init__(self, settings: Settings, max_seconds: float = MAX_SECONDS) -> None:
        self.id = uuid.uuid4().hex
        self.settings, self.max_seconds = settings, max_seconds
        self.data = make_toy(settings.data, settings.noise, settings.seed)
        self.estimator = estimator_for(settings, self.data)
        self.events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.state, self.opened, self.streaming = "ready", time.monotonic(), False
        self._running, self._closed, self._step = threading.Event(), False, False
        self._viz: dict[str, Any] = {}
        self._history: list[dict[str, float]] = []
        n, m = len(self.data.y_train), settings.batch or len(self.data.y_train)
        self._view = LiveView(self, every=math.ceil(n / min(m, n)))
        self._thread = threading.Thread(target=self._train, name=f"playground-{self.id[:8]}",
                                        daemon=True)  # fmt: skip
        self._thread.start()

    # ------------------------------------------------------------ control (any thread)

    def control(self, action: str) -> None:
        if action not in ("start", "pause", "step"):
            raise RequestError(404, f"no action {action!r}: start, pause or step")
        if self.state == "done":
            raise RequestError(409, "this session has finished; start a new one")
        self._step = action == "step"
        if action == "pause":
            self._running.clear()
        else:
            self._running.set()

    def close(self) -> None:
        """Stop at the end of the current epoch (the page has gone)."""
        self._closed = True
        self._running.set()

    def unclaimed_since(self, now: float) -> float:
        """Seconds since the session was opened, while no page has listened to it."""
        return 0.0 if self.streaming else now - self.opened

    @property
    def finished(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return self.finished

    # ------------------------------------------------------------ the training thread

    def _train(self) -> None:
        self._running.wait()
        started, data = time.monotonic(), self.data
        self._deadline = started + self.max_seconds
        reason = "epochs"
        try:
            if not self._closed:
                self.state = "running"
                self.estimator.fit(data.X_train, data.y_train, eval_set=(data.X_val, data.y_val),
                                   callbacks=(self._view, self._on_epoch))  # fmt: skip
            reason = self._reason
        except Exception as exc:  # a diverged or failed fit is the page's news, not a 5xx
            reason = f"stopped: {exc}"
        finally:
            self.state = "done"
            self.events.put({"type": "done", "reason": reason,
                             "seconds": round(time.monotonic() - started, 2)})  # fmt: skip

    _reason = "reached the epochs asked for"

    def due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is drawn: the last one, one before a pause, or
        one at least :data:`MIN_EVENT_SECONDS` after the last drawn."""
        return (epoch + 1 >= self.settings.epochs or self._step or not self._running.is_set()
                or time.monotonic() - self._published >= MIN_EVENT_SECONDS)  # fmt: skip

    _published = _epoch_started = 0.0

    def _on_epoch(self, epoch: int, logs: dict[str, float]) -> bool:
        """Publish the epoch (its figures travel with the next drawn epoch's event, where
        it is not drawn itself); then stop, pause or go on."""
        self._history.append({"epoch": epoch + 1, **logs})
        pause = self._epoch_started + MIN_EPOCH_SECONDS - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._epoch_started = time.monotonic()
        target = self.settings.target_loss
        reached = bool(target) and logs.get("val_loss", math.inf) <= target
        if self._viz or reached or self._closed:
            self.events.put({"type": "epoch", "epoch": epoch + 1, "history": self._history,
                             **self._viz})  # fmt: skip
            self._history, self._viz, self._published = [], {}, time.monotonic()
        if reached:
            self._reason = f"validation loss reached {target:g}"
            return True
        if time.monotonic() > self._deadline:
            self._reason = f"the time cap of {self.max_seconds:g} s"
            return True
        if self._step:
            self._step = False
            self._running.clear()
        if not self._running.is_set():
            self.state = "paused"
        self._running.wait()
        self.state = "running"
        if self._closed:
            self._reason = "the page closed"
        return self._closed

    def model_file(self) -> bytes:
        """The trained model as a model file (the estimator's; the digits' model for
        8×8 digits, which ``nnscratch predict`` and ``serve`` read)."""
        if self.state == "running":
            raise RequestError(409, "pause the training first, then download the model")
        if not hasattr(self.estimator, "networks_"):
            raise RequestError(409, "nothing is trained yet: press Start or Step")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.npz"
            if self.data.name == "digits":
                DigitModel(self.estimator, (8, 8)).save(path)
            else:
                self.estimator.save(path)
            return path.read_bytes()

    def opening(self) -> dict[str, Any]:
        """The stream's first event: the settings and the points to draw."""
        data = self.data
        points = None
        if data.n_features <= 2:
            points = {"X": np.round(data.X_val, 3).tolist(), "y": np.round(data.y_val, 3).tolist()}
        return {"type": "hello", "id": self.id, "settings": vars(self.settings) | {
                    "hidden": list(self.settings.hidden)},
                "classes": None if data.classes is None else data.classes.tolist(),
                "n_features": data.n_features, "points": points, "grid": GRID,
                "extent": EXTENT}  # fmt: skip


class LiveView:
    """The session's step observer: at the last step of each epoch, what the page draws,
    read through the training loop's view (the network as it is after the step)."""

    def __init__(self, session: Session, every: int) -> None:
        self.every, self.session = every, session
        data = session.data
        self.telemetry = Telemetry(every=1, probe=data.X_train[:256])
        self.X_val = to_network_layout(data.X_val, np.float64)
        self.grid = to_network_layout(boundary_grid()) if data.n_features == 2 else None
        self.curve = np.linspace(-EXTENT, EXTENT, 121)[None, :] if data.n_features == 1 else None

    def on_step(self, view: StepView) -> None:
        session, data = self.session, self.session.data
        if not session.due(view.epoch):
            return
        self.telemetry.records.clear()
        self.telemetry.on_step(view)
        records = self.telemetry.records
        viz: dict[str, Any] = {
            "layers": [{k: r[k] for k in ("layer", "act_mean", "act_std", "dead_fraction",
                        "saturated_fraction", "grad_rms", "update_ratio_log10", "hist")}
                       for r in records],
            "warnings": [w | {"doc": WARNING_DOCS[w["kind"]]} for w in diagnose(records)],
            "weights": [np.round(v.W, 4).tolist() if v.W.size <= MAX_DRAWN_WEIGHTS else None
                        for v in view.layers],
        }  # fmt: skip
        outputs = view.trace(self.X_val)[-1][1]
        if data.classification:
            viz["confusion"] = confusion(data, outputs).tolist()
            if self.grid is not None:
                grid_out = view.trace(self.grid)[-1][1]
                viz["boundary"] = np.round(grid_out[-1] if len(grid_out) == 1 else
                                           grid_out.argmax(axis=0), 3).tolist()  # fmt: skip
        else:
            viz["pred_actual"] = np.round(np.c_[data.y_val, outputs[0]], 3).tolist()
            viz["curve"] = np.round(view.trace(self.curve)[-1][1][0], 3).tolist()
        session._viz = viz


def confusion(data: ToyData, outputs: np.ndarray) -> np.ndarray:
    """Counts of (true class, predicted class) on the validation points."""
    assert data.classes is not None
    K = len(data.classes)
    predicted = (outputs[0] >= 0.5).astype(int) if len(outputs) == 1 else outputs.argmax(axis=0)
    truth = np.searchsorted(data.classes, data.y_val)
    matrix = np.zeros((K, K), dtype=int)
    np.add.at(matrix, (truth, predicted), 1)
    return matrix


class Sessions:
    """The sessions alive, at most ``limit`` at once."""

    def __init__(self, limit: int = MAX_SESSIONS, max_seconds: float = MAX_SECONDS) -> None:
        self.limit, self.max_seconds = limit, max_seconds
        self._live: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, settings: Settings) -> Session:
        with self._lock:
            now = time.monotonic()
            for stale in [s for s in self._live.values() if s.unclaimed_since(now) > 30]:
                self._live.pop(stale.id).close()  # opened, but no page ever listened
            if len(self._live) >= self.limit:
                raise RequestError(429, f"{self.limit} sessions are training already (the "
                                   "most at once); close a page or try again later")  # fmt: skip
            session = Session(settings, self.max_seconds)
            self._live[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        session = self._live.get(session_id)
        if session is None:
            raise RequestError(404, f"no session {session_id!r} (closed, or never opened)")
        return session

    def close(self, session_id: str) -> None:
        with self._lock:
            session = self._live.pop(session_id, None)
        if session is not None:
            session.close()

    def __len__(self) -> int:
        return len(self._live)


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
DOCS = Path(__file__).resolve().parents[3] / "docs"


def docs_page(name: str) -> tuple[str, int, None, str]:
    """A stage page of the docs as plain text, or a 404 that says where the docs are."""
    path = DOCS / name
    if re.fullmatch(r"[\w.-]+\.md", name) and path.is_file():
        return path.read_text(encoding="utf-8"), 200, None, "text/plain; charset=utf-8"
    return f"{name}: the docs are in the project's docs/ folder", 404, None, "text/plain"


def page() -> str:
    return resources.files("nnscratch.app.web").joinpath("playground.html").read_text("utf-8")


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
        return StreamingResponse(stream, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})  # fmt: skip

    async def control(request: Request) -> JSONResponse:
        sessions.get(request.path_params["id"]).control(request.path_params["action"])
        return JSONResponse({"ok": True})

    async def model(request: Request) -> Response:
        body = sessions.get(request.path_params["id"]).model_file()
        return Response(body, media_type="application/octet-stream",
                        headers={"Content-Disposition": 'attachment; filename="model.npz"'})

    async def docs(request: Request) -> Response:
        return Response(*docs_page(request.path_params["name"]))

    async def request_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestError)
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    app = Starlette(routes=[
        Route("/", index), Route("/api/sessions", open_session, methods=["POST"]),
        Route("/api/sessions/{id}/events", events), Route("/api/sessions/{id}/model", model),
        Route("/api/sessions/{id}/{action}", control, methods=["POST"]),
        Route("/docs/{name}", docs),
    ], exception_handlers={RequestError: request_error})  # fmt: skip
    app.state.sessions = sessions
    return app
