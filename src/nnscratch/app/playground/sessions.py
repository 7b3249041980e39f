"""What a playground session trains: the page's settings, checked; where its data comes
from; and the session itself, a thread that trains while the page watches.

A session's data is one of the package's small sets (:mod:`nnscratch.data.toys`,
trained through ``MLPClassifier``/``MLPRegressor``), or a tracks file as ``nnscratch
train`` reads it (the built-in sample, or the file given to ``nnscratch playground
--data``), trained as ``nnscratch train`` trains it, through its task. The thread waits
for ``start`` or ``step``; its epoch callback publishes the epoch, then stops, pauses
or goes on; its step observer (:class:`LiveView`) reads what the page draws through
the training loop's read-only view.
"""

from __future__ import annotations

import math
import queue
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, fields
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
from nnscratch.tasks.registry import task_for_data

#: Sessions that may train at once; the next is refused (429) until one ends.
MAX_SESSIONS = 4
#: The longest a session trains, in seconds.
MAX_SECONDS = 600.0
#: The decision boundary's grid: GRID × GRID points over [-EXTENT, EXTENT]².
GRID, EXTENT = 48, 1.6
#: The page is drawn at most this often: epochs between two events travel as history.
MIN_EVENT_SECONDS = 0.05
#: An epoch takes at least this long, so that a small problem's learning can be watched
#: (TensorFlow Playground paces its epochs the same way): 300 epochs, 6 s.
MIN_EPOCH_SECONDS = 0.02
#: Weight matrices larger than this many values are not sent (too many to draw).
MAX_DRAWN_WEIGHTS = 16_384
#: What the page is told about a layer, from each telemetry record.
LAYER_KEYS = (
    "layer",
    "act_mean",
    "act_std",
    "dead_fraction",
    "saturated_fraction",
    "grad_rms",
    "update_ratio_log10",
    "hist",
)
#: Where each kind of warning is explained.
WARNING_DOCS = {
    "vanishing": "2-init.md",
    "exploding": "2-init.md",
    "dead": "3-activations.md",
    "saturated": "3-activations.md",
    "large_updates": "optimizers.md",
    "small_updates": "optimizers.md",
}

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu")
#: Tracks data: the built-in sample, and the file ``nnscratch playground --data`` gave.
TRACKS = ("sample", "file")
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
    choices = {
        "data": (*TOY_SETS, *TRACKS),
        "activation": ACTIVATIONS,
        "init": INITS,
        "optimizer": OPTIMIZERS,
    }
    if name in choices:
        return _choice(name, value, choices[name])
    ranges = {
        "noise": (0, 0.5),
        "lr": (1e-6, 10),
        "l2": (0, 1),
        "dropout": (0, 0.9),
        "target_loss": (0, 10),
    }
    if name in ranges:
        return _number(name, value, *ranges[name])
    whole = {"batch": (0, 1000), "epochs": (1, 5000), "seed": (0, 2**31 - 1)}
    return _number(name, value, *whole[name], whole=True)


def estimator_for(settings: Settings, data: ToyData) -> MLPClassifier | MLPRegressor:
    """The estimator the settings describe (no early stopping: the page decides)."""
    params = dict(
        hidden_layer_sizes=settings.hidden,
        activation=settings.activation,
        init=settings.init,
        optimizer=settings.optimizer,
        learning_rate=settings.lr,
        batch_size=settings.batch or None,
        epochs=settings.epochs,
        l2=settings.l2,
        dropout=settings.dropout,
        early_stopping=False,
        random_state=settings.seed,
        dtype="float64",
    )
    if data.classification:
        return MLPClassifier(**params)
    return MLPRegressor(**params)


def boundary_grid() -> np.ndarray:
    """The grid's points ``(GRID², 2)``, row by row from the top left."""
    axis = np.linspace(-EXTENT, EXTENT, GRID)
    xs, ys = np.meshgrid(axis, axis[::-1])
    return np.c_[xs.ravel(), ys.ravel()]


class ToySource:
    """One of the package's small sets (:mod:`nnscratch.data.toys`), trained through the
    estimator the settings describe."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data: ToyData | None = make_toy(settings.data, settings.noise, settings.seed)
        self.estimator = estimator_for(settings, self.data)

    def load(self) -> None:
        """Nothing to read: the points were made with the source."""

    def steps_per_epoch(self) -> int:
        n = len(self.data.y_train)  # type: ignore[union-attr]
        return math.ceil(n / min(self.settings.batch or n, n))

    def fit(self, callbacks: tuple[Any, ...]) -> None:
        data = self.data
        assert data is not None
        self.estimator.fit(
            data.X_train, data.y_train, eval_set=(data.X_val, data.y_val), callbacks=callbacks
        )

    def save(self, path: Path, finished: bool) -> None:
        """The estimator's model file; for 8×8 digits the digits model ``nnscratch predict``
        reads. Paused runs too: the weights as they are."""
        if not hasattr(self.estimator, "networks_"):
            raise RequestError(409, "nothing is trained yet: press Start or Step")
        if self.settings.data == "digits":
            DigitModel(self.estimator, (8, 8)).save(path)
        else:
            self.estimator.save(path)

    def hello(self) -> dict[str, Any]:
        data = self.data
        assert data is not None
        points = None
        if data.n_features <= 2:
            points = {"X": np.round(data.X_val, 3).tolist(), "y": np.round(data.y_val, 3).tolist()}
        classes = None if data.classes is None else data.classes.tolist()
        return {"classes": classes, "n_features": data.n_features, "points": points}


class TracksSource:
    """A tracks file (``None``: the built-in synthetic sample), read, split and trained as
    ``nnscratch train`` does it, through its task, with the settings' network."""

    def __init__(self, settings: Settings, path: str | None) -> None:
        self.settings, self.path = settings, path
        self.task = task_for_data(path)
        self.recipe = (
            self.task.presets["default"]
            .with_overrides(
                hidden=settings.hidden,
                activation=settings.activation,
                init=settings.init,
                optimizer=settings.optimizer,
                learning_rate=settings.lr,
                batch_size=settings.batch or None,
                l2=settings.l2,
                dropout=settings.dropout,
                epochs=settings.epochs,
                lr_schedule="constant",
            )
            .with_overrides(patience=None, max_steps=None, n_members=1, k=1, n_jobs=1)
        )
        self.data: ToyData | None = None  # nothing to draw but the network's own figures
        self.model: Any = None

    def load(self) -> None:
        self.loaded = self.task.load(self.path, self.recipe, self.settings.seed)

    def steps_per_epoch(self) -> int:
        n = len(self.loaded.prepared.y_train)
        return math.ceil(n / min(self.settings.batch or n, n))

    def fit(self, callbacks: tuple[Any, ...]) -> None:
        self.model = self.task.fit(
            self.loaded, self.recipe, self.settings.seed, callbacks=callbacks
        )

    def save(self, path: Path, finished: bool) -> None:
        """The model ``nnscratch train`` would have written: ``predict`` and ``serve`` read it."""
        if self.model is None:
            raise RequestError(409, "a tracks file's model is ready when its run has finished")
        self.model.save(path)

    def hello(self) -> dict[str, Any]:
        return {
            "classes": None,
            "n_features": 0,
            "points": None,
            "source": self.path or "the built-in synthetic sample",
        }


class Session:
    """One page's training: the data, the estimator, a thread that trains it, and the
    events it streams. The thread waits for ``start`` or ``step`` before the first epoch
    and after each epoch while paused; ``close`` makes it stop at the end of the epoch."""

    def __init__(
        self, settings: Settings, max_seconds: float = MAX_SECONDS, path: str | None = None
    ) -> None:
        self.id = uuid.uuid4().hex
        self.settings, self.max_seconds = settings, max_seconds
        self.source = (
            TracksSource(settings, path if settings.data == "file" else None)
            if settings.data in TRACKS
            else ToySource(settings)
        )
        self.events: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.state, self.opened, self.streaming = "ready", time.monotonic(), False
        self._running, self._closed, self._step = threading.Event(), False, False
        self._viz: dict[str, Any] = {}
        self._history: list[dict[str, float]] = []
        self._thread = threading.Thread(
            target=self._train, name=f"playground-{self.id[:8]}", daemon=True
        )
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
        started = time.monotonic()
        reason = "epochs"
        try:
            self.source.load()
            view = LiveView(self, self.source.steps_per_epoch(), self.source.data)
            self._running.wait()
            started = time.monotonic()
            self._deadline = started + self.max_seconds
            if not self._closed:
                self.state = "running"
                self.source.fit((view, self._on_epoch))
            reason = self._reason
        except Exception as exc:  # a diverged or failed fit is the page's news, not a 5xx
            reason = f"stopped: {exc}"
        finally:
            self.state = "done"
            self.events.put(
                {"type": "done", "reason": reason, "seconds": round(time.monotonic() - started, 2)}
            )

    _reason = "reached the epochs asked for"

    def due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is drawn: the last one, one before a pause, or
        one at least :data:`MIN_EVENT_SECONDS` after the last drawn."""
        return (
            epoch + 1 >= self.settings.epochs
            or self._step
            or not self._running.is_set()
            or time.monotonic() - self._published >= MIN_EVENT_SECONDS
        )

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
            self.events.put(
                {"type": "epoch", "epoch": epoch + 1, "history": self._history, **self._viz}
            )
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
        """The trained model as a model file (see the source's ``save``)."""
        if self.state == "running":
            raise RequestError(409, "pause the training first, then download the model")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.npz"
            self.source.save(path, self.state == "done")
            return path.read_bytes()

    def opening(self) -> dict[str, Any]:
        """The stream's first event: the settings and what to draw."""
        settings = vars(self.settings) | {"hidden": list(self.settings.hidden)}
        return {
            "type": "hello",
            "id": self.id,
            "settings": settings,
            "grid": GRID,
            "extent": EXTENT,
            **self.source.hello(),
        }


class LiveView:
    """The session's step observer: at the last step of each epoch, what the page draws,
    read through the training loop's view (the network as it is after the step). For a
    toy set also its validation points' outcome, and the boundary or the curve."""

    def __init__(self, session: Session, every: int, data: ToyData | None) -> None:
        self.every, self.session, self.data = every, session, data
        self.telemetry = Telemetry(every=1, probe=None if data is None else data.X_train[:256])
        if data is not None:
            self.X_val = to_network_layout(data.X_val, np.float64)
            self.grid = to_network_layout(boundary_grid()) if data.n_features == 2 else None
            self.curve = np.linspace(-EXTENT, EXTENT, 121)[None, :]

    def on_step(self, view: StepView) -> None:
        if not self.session.due(view.epoch):
            return
        self.telemetry.records.clear()
        self.telemetry.on_step(view)
        records = self.telemetry.records
        viz: dict[str, Any] = {
            "layers": [{k: r[k] for k in LAYER_KEYS} for r in records],
            "warnings": [w | {"doc": WARNING_DOCS[w["kind"]]} for w in diagnose(records)],
            "weights": [
                np.round(v.W, 4).tolist() if v.W.size <= MAX_DRAWN_WEIGHTS else None
                for v in view.layers
            ],
        }
        if self.data is not None:
            viz |= self.outcome(view, self.data)
        self.session._viz = viz

    def outcome(self, view: StepView, data: ToyData) -> dict[str, Any]:
        """The confusion matrix and the boundary, or predicted against actual and the curve."""
        outputs = view.trace(self.X_val)[-1][1]
        if not data.classification:
            return {
                "pred_actual": np.round(np.c_[data.y_val, outputs[0]], 3).tolist(),
                "curve": np.round(view.trace(self.curve)[-1][1][0], 3).tolist(),
            }
        out = {"confusion": confusion(data, outputs).tolist()}
        if self.grid is not None:
            grid_out = view.trace(self.grid)[-1][1]
            out["boundary"] = np.round(
                grid_out[-1] if len(grid_out) == 1 else grid_out.argmax(axis=0), 3
            ).tolist()
        return out


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
    """The sessions alive, at most ``limit`` at once; ``data_path`` is the tracks file the
    ``file`` data set names (``nnscratch playground --data``)."""

    def __init__(
        self,
        limit: int = MAX_SESSIONS,
        max_seconds: float = MAX_SECONDS,
        data_path: str | None = None,
    ) -> None:
        self.limit, self.max_seconds, self.data_path = limit, max_seconds, data_path
        self._live: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, settings: Settings) -> Session:
        if settings.data == "file" and self.data_path is None:
            raise RequestError(
                422,
                "data: 'file' is the CSV given to nnscratch playground --data, and none was given",
            )
        with self._lock:
            now = time.monotonic()
            for stale in [s for s in self._live.values() if s.unclaimed_since(now) > 30]:
                self._live.pop(stale.id).close()  # opened, but no page ever listened
            if len(self._live) >= self.limit:
                raise RequestError(
                    429,
                    f"{self.limit} sessions are training already (the "
                    "most at once); close a page or try again later",
                )
            session = Session(settings, self.max_seconds, self.data_path)
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
