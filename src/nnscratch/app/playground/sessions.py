"""A playground session: an explicit state machine, and the thread that trains while a
page watches.

::

              start, step                 pause asked, at an epoch's end
    created ─────────────► running ◄──────────────────────────────► paused
                              │            start, step                 │
       its epochs, its target │                                        │ its pause cap:
       loss, its time cap, or │                                        │ it ends as it ran
       an error, at an epoch's end                                     │
                              ▼                                        │
                            done ◄─────────────────────────────────────┘

    any state ──► closed: the page's Reset, no page listening for a while, or a finished
                  session kept long enough (its thread stops at the epoch's end)

One condition, the registry's (:attr:`Sessions.lock`), guards every session's state,
the training slots and every control and model download, so no two of them
interleave: a ``start`` is never lost between two of the thread's steps, and a
download is taken while the thread is parked (paused) or finished (done), so it
holds one epoch's weights, never two. A session holds a training slot from its
first ``start`` (or ``step``) until its thread has finished: slots count training
threads, not open pages, so pages left open on finished runs keep nobody out.

A pause is asked for (``pause``; ``step`` is ``start`` with a pause asked) and taken
at the end of an epoch: the step observer (:class:`~.drawing.LiveView`) latches it at
the epoch's last step, so the epoch it pauses on is always drawn. A paused thread
waits on the condition, holding no BLAS setting (the loop holds that for an epoch's
batches only). The time cap counts training time only; a paused session has a cap of
its own.

Every event the page is sent goes into the session's
:class:`~.stream.EventLog` (numbered, a bounded replay window), so a page that
reconnects (``Last-Event-ID``) or reloads resumes where it was. A session whose page
stops listening is closed after :attr:`Caps.detached` seconds, long enough for a
reload. The clock is given (:class:`Clock`): the tests drive sessions with a fake
one, and never sleep.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from nnscratch.app.playground.drawing import EXTENT, GRID, LiveView
from nnscratch.app.playground.settings import Settings
from nnscratch.app.playground.sources import PlaygroundSources, Source
from nnscratch.app.playground.stream import REPLAY_EVENTS, EventLog
from nnscratch.errors import RequestError

#: Sessions that may train at once: starting another is refused (429) until one ends.
MAX_SESSIONS = 4
#: The longest a session trains (paused time not counted), in seconds.
MAX_SECONDS = 600.0
#: The longest a session stays paused before it ends, in seconds.
MAX_PAUSED_SECONDS = 600.0
#: How long a session lives with no page listening (a reload reconnects well within it).
DETACHED_SECONDS = 10.0
#: How long a finished session is kept for its download, in seconds.
KEPT_SECONDS = 3600.0
#: Sessions kept at once, training or not; the oldest idle one makes way for a new one.
MAX_OPEN = 64
#: The page is drawn at most this often: epochs between two events travel as history.
MIN_EVENT_SECONDS = 0.05
#: An epoch takes at least this long, so that a small problem's learning can be watched
#: (TensorFlow Playground paces its epochs the same way): 300 epochs, 6 s.
MIN_EPOCH_SECONDS = 0.02
#: The page's controls.
ACTIONS = ("start", "pause", "step")


class State(StrEnum):
    """Where a session is (see the module's diagram)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    CLOSED = "closed"


#: The states whose thread trains (and holds a slot).
TRAINING = (State.RUNNING, State.PAUSED)


@dataclass(frozen=True)
class Caps:
    """How long a session may do each thing, in seconds (see the module's constants)."""

    running: float = MAX_SECONDS
    paused: float = MAX_PAUSED_SECONDS
    detached: float = DETACHED_SECONDS
    kept: float = KEPT_SECONDS


class Clock(Protocol):
    """Time as the sessions see it: what it is, a pause, and a wait on the lock."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        """Wait on ``condition`` (held) until notified, or for ``seconds`` of this clock."""
        ...


class MonotonicClock:
    """The real clock: ``time.monotonic``."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        condition.wait(None if math.isinf(seconds) else max(0.0, seconds))


class Session:
    """One page's training: its settings and source, its state, its events, and (once
    started) the thread that trains. Made by :meth:`Sessions.open`."""

    def __init__(self, registry: Sessions, settings: Settings, source: Source) -> None:
        self.id = uuid.uuid4().hex
        self.settings, self.source = settings, source
        self.log = EventLog(registry.replay)
        self._registry, self._lock = registry, registry.lock
        self._clock, self._caps = registry.clock, registry.caps
        now = self._clock.now()
        self.state = State.CREATED
        self.reason: str | None = None  # why it stops, once it does
        self.holds_slot = False
        self.pause_asked = False  # a pause asked for, taken at an epoch's end
        self._pause_now = False  # ... latched for the epoch under way (it is drawn)
        self.epoch = 0  # epochs finished
        self._ran, self._run_since, self._paused_since, self._done_at = 0.0, now, now, now
        self._streams, self._detached_since = 0, now
        self.last_used = now
        self._history: list[dict[str, float]] = []
        self._published = self._epoch_started = -math.inf
        self._view: LiveView | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ the page (any thread)

    def control(self, action: str) -> dict[str, Any]:
        """``start``, ``pause`` or ``step`` (one epoch); the session's status after it.
        404 for an unknown action, 409 once done, 429 when every slot is taken."""
        if action not in ACTIONS:
            raise RequestError(404, f"no action {action!r}: start, pause or step")
        with self._lock:
            self._check_open()
            self.last_used = self._clock.now()
            if self.state is State.DONE:
                raise RequestError(409, "this session has finished; start a new one")
            if action == "pause":
                self.pause_asked = self.state is State.RUNNING or self.pause_asked
            elif self.state is State.RUNNING:
                self.pause_asked = action == "step"
                self._pause_now = self._pause_now and action == "step"
            else:
                if self.state is State.CREATED:
                    self._registry._take_slot(self)
                    self._thread = threading.Thread(
                        target=self._train, name=f"playground-{self.id[:8]}", daemon=True
                    )
                    self._thread.start()
                self.pause_asked = action == "step"
                self._enter(State.RUNNING)
            self._lock.notify_all()
            return self.status()

    def close(self) -> None:
        """Close the session (the page has gone): a training thread stops at the end of
        its epoch, or at once if paused."""
        with self._lock:
            self._close("the session was closed")

    def model_file(self) -> bytes:
        """The model as a model file, taken under the lock while the thread is parked
        (paused) or finished (done): one epoch's weights. 409 otherwise."""
        with self._lock:
            self._check_open()
            if self.state is State.CREATED:
                raise RequestError(409, "nothing is trained yet: press Start or Step")
            if self.state is State.RUNNING:
                raise RequestError(409, "pause the training first, then download the model")
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.npz"
                self.source.save(path)
                return path.read_bytes()

    def attach(self) -> None:
        """A page's stream has opened."""
        with self._lock:
            self._streams += 1
            self.last_used = self._clock.now()

    def detach(self) -> None:
        """A page's stream has ended (closed, dropped, or a reload under way)."""
        with self._lock:
            self._streams -= 1
            if self._streams == 0:
                self._detached_since = self.last_used = self._clock.now()
            self._lock.notify_all()  # a paused thread reckons its next wake-up anew

    def status(self) -> dict[str, Any]:
        """What the page is told after a control, and by ``GET /api/sessions/{id}``."""
        return {
            "id": self.id,
            "state": str(self.state),
            "epoch": self.epoch,
            "pausing": self.state is State.RUNNING and (self.pause_asked or self._pause_now),
            "reason": self.reason,
            "pages": self._streams,
        }

    def opening(self) -> dict[str, Any]:
        """What a page is told first on a stream (the ``hello`` event, less the catch-up)."""
        settings = vars(self.settings) | {"hidden": list(self.settings.hidden)}
        return {
            "settings": settings,
            "grid": GRID,
            "extent": EXTENT,
            **self.status(),
            **self.source.hello(),
        }

    def running_seconds(self) -> float:
        """Seconds spent training (paused time not counted)."""
        now = self._clock.now()
        return self._ran + (now - self._run_since if self.state is State.RUNNING else 0.0)

    # ------------------------------------------------------------ transitions (locked)

    def _check_open(self) -> None:
        if self.state is State.CLOSED:
            raise RequestError(404, f"no session {self.id!r} (closed, or never opened)")

    def _enter(self, state: State) -> None:
        """Move to ``state``, keeping the running time, and tell the page."""
        now = self._clock.now()
        if self.state is State.RUNNING:
            self._ran += now - self._run_since
        if state is State.RUNNING:
            self._run_since = now
        elif state is State.PAUSED:
            self._paused_since = now
        elif state is State.DONE:
            self._done_at = now
        self.state = state
        if state in TRAINING and not self.log.ended:
            self.log.append({"type": "state", **self.status()})

    def _close(self, reason: str) -> None:
        if self.state is State.CLOSED:
            return
        self.reason = self.reason or reason
        self._enter(State.CLOSED)
        self._registry._forget(self)
        if not self.holds_slot:  # no thread to end the log
            self._end_log()
        self._lock.notify_all()

    def _expire(self, now: float) -> None:
        """Apply the caps at ``now``: close a session no page listens to (or a finished one
        kept long enough); ask a training one to stop past its time cap or pause cap."""
        if self.state is State.CLOSED:
            return
        detached = self._streams == 0 and now - self._detached_since >= self._caps.detached
        if self.state is State.DONE:
            if now - self._done_at >= self._caps.kept:
                self._close(f"kept {self._caps.kept:g} s after it finished")
        elif detached:
            self._close(f"no page listened for {self._caps.detached:g} s")
        elif self.reason is not None:
            return
        elif self.state is State.RUNNING and self.running_seconds() >= self._caps.running:
            self.reason = f"the time cap of {self._caps.running:g} s of training"
        elif self.state is State.PAUSED and now - self._paused_since >= self._caps.paused:
            self.reason = f"paused for {self._caps.paused:g} s, its cap"
            self._lock.notify_all()

    def _wake_in(self, now: float) -> float:
        """Seconds until a paused session's next cap."""
        paused = self._caps.paused - (now - self._paused_since)
        if self._streams:
            return paused
        return min(paused, self._caps.detached - (now - self._detached_since))

    def _publish(self, figures: dict[str, Any] | None) -> None:
        """Send the epochs not yet sent, with the newest epoch's figures (if drawn)."""
        if self.log.ended or not (self._history or figures):
            return
        event = {"type": "epoch", "epoch": self.epoch, "history": self._history}
        self.log.append(event | (figures or {}))
        self._history, self._published = [], self._clock.now()

    def _end_log(self) -> None:
        if not self.log.ended:
            self.log.append(
                {
                    "type": "done",
                    "reason": self.reason,
                    "epoch": self.epoch,
                    "seconds": round(self.running_seconds(), 2),
                }
            )

    # ------------------------------------------------------------ the training thread

    def _train(self) -> None:
        try:
            self.source.load()
            self._view = LiveView(
                self.source.steps_per_epoch(), self.source.data, self.source.probe(), self._due
            )
            with self._lock:
                go = self.state is not State.CLOSED
            if go:
                self.source.fit((self._view, self._on_epoch))
        except Exception as exc:  # a diverged or failed fit is the page's news, not a 5xx
            with self._lock:
                self.reason = f"stopped: {exc}"
        finally:
            with self._lock:
                self._finish()

    def _finish(self) -> None:
        """The thread's last act: free the slot; done, unless closed; tell the page."""
        self._registry._free_slot(self)
        if self.state is not State.CLOSED:
            self.reason = self.reason or self._ended()
            self._enter(State.DONE)
        self._publish(None)
        self._end_log()
        self._lock.notify_all()

    def _ended(self) -> str:
        """How a fit that the session did not stop ended, as its source tells it (early
        stopping), or by the epochs it ran."""
        ended = getattr(self.source, "ended", None)
        said = ended() if callable(ended) else None
        if said:
            return said
        if self.epoch >= self.settings.epochs:
            return f"reached the {self.settings.epochs} epochs asked for"
        return f"the training loop stopped at epoch {self.epoch} of {self.settings.epochs}"

    def _due(self, epoch: int) -> bool:
        """Whether epoch ``epoch`` (0-based) is drawn: asked at its last step, where a pause
        asked for is latched (the epoch it pauses on is drawn). Also the last epoch, one
        that stops, or one :data:`MIN_EVENT_SECONDS` after the last drawn."""
        with self._lock:
            now = self._clock.now()
            self._pause_now = self._pause_now or self.pause_asked
            self._expire(now)
            return (
                epoch + 1 >= self.settings.epochs
                or self._pause_now
                or self.reason is not None
                or self.state is State.CLOSED
                or now - self._published >= MIN_EVENT_SECONDS
            )

    def _on_epoch(self, epoch: int, logs: dict[str, float]) -> bool:
        """The epoch callback: publish the epoch (its figures, if drawn), then stop, pause
        or go on. Epochs not drawn travel as history with the next drawn one."""
        wait = self._epoch_started + MIN_EPOCH_SECONDS - self._clock.now()
        if wait > 0:
            self._clock.sleep(wait)
        with self._lock:
            self._epoch_started = self._clock.now()
            self.epoch = epoch + 1
            self._history.append({"epoch": epoch + 1, **logs})
            if self._view is not None:
                self._view.epoch_ended(epoch, logs)
            figures = self._view.figures if self._view is not None else None
            if self._view is not None:
                self._view.figures = None
            target = self.settings.target_loss
            if target and self.reason is None and logs.get("val_loss", math.inf) <= target:
                self.reason = f"validation loss reached {target:g}"
            self._expire(self._clock.now())
            stop = self.reason is not None or self.state is State.CLOSED
            if figures is not None or stop or self._pause_now:
                self._publish(figures)
            if stop:
                return True
            return self._pause_now and self._park()

    def _park(self) -> bool:
        """Pause at the epoch's end until ``start``, ``step``, ``close`` or the pause cap;
        whether to stop."""
        self._pause_now = self.pause_asked = False
        self._enter(State.PAUSED)
        self._lock.notify_all()
        while self.state is State.PAUSED and self.reason is None:
            self._clock.wait(self._lock, self._wake_in(self._clock.now()))
            self._expire(self._clock.now())
        if self.state is State.PAUSED:  # woken by its pause cap: it ends as it ran
            self._enter(State.RUNNING)
        return self.reason is not None or self.state is State.CLOSED


class Sessions:
    """The sessions alive: at most ``limit`` training at once (``start`` is refused with a
    429 beyond), at most ``keep`` kept at all (default: :data:`MAX_OPEN`, or ``limit``).
    ``sources(settings)`` makes what a session trains (default:
    :class:`~.sources.PlaygroundSources` of ``data_path``, the tracks file the ``file``
    data set names); ``caps`` (or ``max_seconds``, its ``running``) bound each session;
    ``clock`` is the time they see; ``replay`` the events a reconnecting page can get
    back."""

    def __init__(
        self,
        limit: int = MAX_SESSIONS,
        max_seconds: float = MAX_SECONDS,
        data_path: str | None = None,
        *,
        caps: Caps | None = None,
        keep: int | None = None,
        sources: Callable[[Settings], Source] | None = None,
        clock: Clock | None = None,
        replay: int = REPLAY_EVENTS,
    ) -> None:
        keep = max(MAX_OPEN, limit) if keep is None else keep
        if limit < 1 or keep < limit:
            raise ValueError(f"limit must be at least 1 and keep at least limit ({limit})")
        self.limit, self.keep, self.replay = limit, keep, replay
        self.caps = caps if caps is not None else Caps(running=max_seconds)
        self.sources = sources if sources is not None else PlaygroundSources(data_path)
        self.clock: Clock = clock if clock is not None else MonotonicClock()
        #: guards every session's state, the slots and downloads
        self.lock = threading.Condition()
        self._live: dict[str, Session] = {}
        self._training: set[str] = set()

    def open(self, settings: Settings) -> Session:
        """A new session (created: it trains on ``start``); the oldest idle session makes
        way where ``keep`` are open."""
        source = self.sources(settings)
        with self.lock:
            self._expire()
            if len(self._live) >= self.keep:
                self._make_way()
            session = Session(self, settings, source)
            self._live[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        with self.lock:
            self._expire()
            session = self._live.get(session_id)
        if session is None:
            raise RequestError(404, f"no session {session_id!r} (closed, or never opened)")
        return session

    def close(self, session_id: str) -> None:
        with self.lock:
            session = self._live.get(session_id)
            if session is not None:
                session._close("the session was closed")

    def close_all(self) -> None:
        """Close every session (the server stops)."""
        with self.lock:
            for session in list(self._live.values()):
                session._close("the server stopped")

    def expire(self) -> None:
        """Apply every session's caps now (each call of :meth:`open` and :meth:`get` does;
        a paused thread also wakes for its own)."""
        with self.lock:
            self._expire()

    @property
    def slots_used(self) -> int:
        """Sessions holding a training slot: their thread has started and not finished."""
        return len(self._training)

    def sessions(self) -> list[Session]:
        with self.lock:
            return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)

    # ------------------------------------------------------------ under the lock

    def _expire(self) -> None:
        now = self.clock.now()
        for session in list(self._live.values()):
            session._expire(now)

    def _make_way(self) -> None:
        idle = [s for s in self._live.values() if s.state in (State.CREATED, State.DONE)]
        if not idle:
            raise RequestError(429, f"{len(self._live)} sessions are open; close a page first")
        min(idle, key=lambda s: (s._streams > 0, s.last_used))._close("made way for a new one")

    def _take_slot(self, session: Session) -> None:
        if len(self._training) >= self.limit:
            raise RequestError(
                429,
                f"{self.limit} sessions are training already (the most at once); pause or "
                "close one, or try again when one has finished",
            )
        self._training.add(session.id)
        session.holds_slot = True

    def _free_slot(self, session: Session) -> None:
        self._training.discard(session.id)
        session.holds_slot = False

    def _forget(self, session: Session) -> None:
        self._live.pop(session.id, None)
