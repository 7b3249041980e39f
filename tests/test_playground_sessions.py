"""Playground sessions as a state machine under random interleavings (Hypothesis's stateful
testing), against a fake clock: no sleeps, every wait a wait on the sessions' lock.

Each session trains a tiny network for real, in its own thread, through a source that
stops at every epoch's end until the test lets it go on (``Gated``), so the test knows
where every thread is after each step: parked (paused), at its gate (running), or
finished. A page is modelled by what a stream would have sent it
(:func:`~nnscratch.app.playground.stream.next_messages`, the function the server's stream
runs), with drops, reconnections (``Last-Event-ID``) and reloads.

After every step: the slots used are the sessions training; no thread holds the BLAS
setting; a page has every published epoch once; and every session has ended within its
caps. Every download holds the weights of the last finished epoch, nothing else.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from nnscratch.app.playground.sessions import TRAINING, Caps, Session, Sessions, State
from nnscratch.app.playground.settings import Settings
from nnscratch.app.playground.sources import ToySource
from nnscratch.app.playground.stream import FIGURES, next_messages
from nnscratch.core import blas
from nnscratch.errors import RequestError
from nnscratch.models.classifier import MLPClassifier
from nnscratch.models.regressor import MLPRegressor

CAPS = Caps(running=10.0, paused=6.0, detached=4.0, kept=30.0)
LIMIT = 2
#: The longest the test waits for a thread to reach its next stop (real seconds).
SETTLE_SECONDS = 30.0


class FakeClock:
    """Time that moves only when the test says. Waits on the lock are real (a notify ends
    them), bounded so that a missed notify shows as a failure, not a hang."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        """Pacing between epochs: none under a fake clock."""

    def wait(self, condition: threading.Condition, seconds: float) -> None:
        condition.wait(1.0)


class Gated:
    """A small set trained for real, whose training stops at every epoch's end (before the
    session's own epoch callback) until the test lets one more epoch through; it keeps
    every finished epoch's weights."""

    def __init__(self, settings: Settings, lock: threading.Condition) -> None:
        self.inner = ToySource(settings)
        self.data = self.inner.data
        self.lock = lock
        self.session: Session | None = None
        self.weights: list[list[np.ndarray]] = []
        self.at_gate, self.passes = False, 0

    def hello(self) -> dict:
        return self.inner.hello()

    def load(self) -> None:
        self.inner.load()

    def steps_per_epoch(self) -> int:
        return self.inner.steps_per_epoch()

    def probe(self) -> np.ndarray | None:
        return self.inner.probe()

    def save(self, path: Path) -> None:
        self.inner.save(path)

    def fit(self, callbacks: tuple) -> None:
        self.inner.fit((self.gate, *callbacks))

    def gate(self, epoch: int, logs: dict) -> None:
        net = self.inner.estimator.networks_[0]
        weights = [w.copy() for w in (*net.params.weights, *net.params.biases)]
        with self.lock:
            self.weights.append(weights)
            self.at_gate = True
            self.lock.notify_all()
            while self.passes == 0 and self.session.state is not State.CLOSED:  # type: ignore[union-attr]
                self.lock.wait(1.0)
            self.passes = max(0, self.passes - 1)
            self.at_gate = False


@dataclass
class Page:
    """What a page has received: the epochs of its history, the last event's number."""

    connected: bool = False
    last: int | None = None
    epochs: list[int] = field(default_factory=list)
    done: bool = False

    def receive(self, number: int, event: dict) -> None:
        self.last = number
        if event["type"] == "hello":  # starting over: the run so far
            self.epochs, self.done = [], False
            for e in event["catchup"]:
                self.receive_one(e)
            assert event["figures"] is None or any(k in event["figures"] for k in FIGURES)
        else:
            self.receive_one(event)

    def receive_one(self, event: dict) -> None:
        if event["type"] == "epoch":
            self.epochs += [h["epoch"] for h in event["history"]]
        elif event["type"] == "done":
            self.done = True


@dataclass
class Model:
    """What the test knows of a session: its page, and the clock times its caps run from."""

    session: Session
    source: Gated
    page: Page
    ran: float = 0.0  # training seconds so far
    paused_at: float | None = None
    detached_at: float | None = None
    done_at: float | None = None
    epochs_at_cap: int | None = None  # the epochs it had when its time cap passed
    pauses: int = 0  # "paused" state events seen


class SessionMachine(RuleBasedStateMachine):
    opened = Bundle("opened")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.sources: list[Gated] = []
        self.sessions = Sessions(
            LIMIT, caps=CAPS, clock=self.clock, sources=self.make_source, replay=3, keep=LIMIT + 3
        )
        self.lock = self.sessions.lock
        self.models: list[Model] = []
        self.folder = tempfile.TemporaryDirectory()

    def make_source(self, settings: Settings) -> Gated:
        source = Gated(settings, self.sessions.lock)
        self.sources.append(source)
        return source

    # ------------------------------------------------------------ waiting, not sleeping

    def still(self, model: Model) -> bool:
        """Whether the session's thread is where it stays until the test acts: not started
        or finished, parked (paused), or at its gate (a closed one's goes on, to finish)."""
        session = model.session
        if not session.holds_slot:
            return True
        if session.state is State.PAUSED:
            return session.reason is None  # past its pause cap it wakes, to finish
        return model.source.at_gate and session.state is not State.CLOSED

    def settle(self) -> None:
        with self.lock:
            assert self.lock.wait_for(
                lambda: all(self.still(m) for m in self.models), SETTLE_SECONDS
            ), [(m.session.state, m.session.holds_slot) for m in self.models]
            self.note_transitions()

    def note_transitions(self) -> None:
        """Record the clock time of the transitions the caps run from (time moves only in
        ``advance``, so the time at a settle is the time of any transition before it): a
        pause begins with each "paused" state event."""
        for m in self.models:
            events = m.session.log.catchup()[1]["catchup"]
            pauses = sum(e["type"] == "state" and e["state"] == "paused" for e in events)
            if m.session.state is not State.PAUSED:
                m.paused_at = None
            elif pauses > m.pauses:
                m.paused_at = self.clock.t
            m.pauses = pauses
            if m.session.state is State.DONE and m.done_at is None:
                m.done_at = self.clock.t

    # ------------------------------------------------------------ rules

    @initialize(target=opened, epochs=st.integers(1, 6))
    def a_first_page(self, epochs: int) -> Model:
        return self.open("moons", epochs, 64)

    @precondition(lambda self: len(self.models) < 6)
    @rule(
        target=opened,
        data=st.sampled_from(["moons", "xor", "curve"]),
        epochs=st.integers(1, 6),
        batch=st.sampled_from([0, 64]),
    )
    def open(self, data: str, epochs: int, batch: int) -> Model:
        settings = Settings(data=data, hidden=(3,), epochs=epochs, batch=batch, noise=0.2)
        session = self.sessions.open(settings)  # the oldest idle one may make way
        source = self.sources[-1]
        source.session = session
        model = Model(session, source, Page())
        self.models.append(model)
        self.connect(model)
        return model

    def connect(self, model: Model) -> None:
        model.session.attach()
        model.page.connected, model.detached_at = True, None
        self.read(model)

    @rule(model=opened)
    def start(self, model: Model) -> None:
        self.control(model, "start")

    @rule(model=opened)
    def pause(self, model: Model) -> None:
        self.control(model, "pause")

    @rule(model=opened)
    def step(self, model: Model) -> None:
        self.control(model, "step")

    def control(self, model: Model, action: str) -> None:
        session = model.session
        with self.lock:
            before, full = session.state, self.sessions.slots_used >= LIMIT
        try:
            status = session.control(action)
        except RequestError as error:
            expected = {State.CLOSED: 404, State.DONE: 409}.get(before, 429)
            assert error.status == expected, (before, action, error.message)
            assert expected != 429 or (before is State.CREATED and action != "pause" and full)
            event(f"{action}: {error.status}")
            return
        event(f"{action}: {before} → {status['state']}")
        assert before not in (State.CLOSED, State.DONE)
        if action == "pause":
            assert status["state"] == before
        else:
            assert status["state"] == "running"
        self.settle()

    @rule(model=opened, epochs=st.integers(1, 3))
    def train(self, model: Model, epochs: int) -> None:
        """Let the session's thread through its gate, ``epochs`` times while it stops there."""
        for _ in range(epochs):
            with self.lock:
                if not model.source.at_gate:
                    return
                over_cap = model.epochs_at_cap is not None
                done = len(model.source.weights)
                model.source.passes += 1
                model.source.at_gate = False  # on its way to the next stop
                self.lock.notify_all()
            self.settle()
            if over_cap:  # past its time cap: it ends at that epoch's end, trains no more
                event("ended by its time cap")
                assert model.session.state in (State.DONE, State.CLOSED)
                assert len(model.source.weights) == done
                assert model.session.state is State.CLOSED or "time cap" in model.session.reason

    @rule(model=opened)
    def download(self, model: Model) -> None:
        session = model.session
        with self.lock:
            state = session.state
        try:
            body = session.model_file()
        except RequestError as error:
            expected = {State.CLOSED: 404, State.CREATED: 409, State.RUNNING: 409}[state]
            assert error.status == expected
            return
        assert state in (State.PAUSED, State.DONE)
        event(f"download when {state}")
        path = Path(self.folder.name) / "model.npz"
        path.write_bytes(body)
        kind = MLPRegressor if session.settings.data == "curve" else MLPClassifier
        net = kind.load(path).networks_[0]
        got = [*net.params.weights, *net.params.biases]

        def same(epoch: list[np.ndarray]) -> bool:
            return all(np.array_equal(a, b) for a, b in zip(got, epoch, strict=True))

        # paused: the epoch it paused on, to the bit; done: one epoch's (a diverged run's
        # best, else its last)
        assert same(model.source.weights[-1]) or (
            state is State.DONE and any(same(epoch) for epoch in model.source.weights)
        )

    @rule(model=consumes(opened))
    def close(self, model: Model) -> None:
        self.sessions.close(model.session.id)
        self.settle()
        assert model.session.state is State.CLOSED or model.session.state is State.DONE
        assert not model.session.holds_slot

    @rule(model=opened)
    def drop_the_stream(self, model: Model) -> None:
        if model.page.connected:
            model.session.detach()
            model.page.connected, model.detached_at = False, self.clock.t

    @rule(model=opened, reload=st.booleans())
    def reconnect(self, model: Model, reload: bool) -> None:
        """The browser reconnects by itself (``Last-Event-ID``), or the tab reloads (the
        page starts over)."""
        if model.page.connected or model.session.state is State.CLOSED:
            return
        if reload:
            model.page = Page()
        self.connect(model)

    @rule(model=opened)
    def read(self, model: Model) -> None:
        """The page receives what its stream sends now."""
        page = model.page
        if not page.connected:
            return
        messages, _ = next_messages(model.session.log, page.last, model.session.opening)
        for number, sent in messages:
            assert page.last is None or number > page.last or sent["type"] == "hello"
            if sent["type"] == "hello":
                event("a page started over" if page.last is not None else "a page opened")
            elif page.last is not None and number == messages[0][0]:
                event("a page resumed after Last-Event-ID")
            page.receive(number, sent)
        published = [
            h["epoch"]
            for e in model.session.log.catchup()[1]["catchup"]
            if e["type"] == "epoch"
            for h in e["history"]
        ]
        assert page.epochs == published == list(range(1, len(published) + 1))
        assert page.done == model.session.log.ended

    @rule(seconds=st.sampled_from([0.5, 2.0, 5.0, 11.0]))
    def advance(self, seconds: float) -> None:
        """Time passes (sessions idle at their stops); the caps are applied, as every
        request and a paused thread's own wake-up apply them."""
        with self.lock:
            for m in self.models:
                if m.session.state is State.RUNNING:
                    m.ran += seconds
                    if m.ran >= CAPS.running and m.epochs_at_cap is None:
                        m.epochs_at_cap = len(m.source.weights)
            self.clock.t += seconds
            t = self.clock.t
            ends = [  # (the session, the cap it has reached)
                (m, cap)
                for m in self.models
                for cap, since, limit in (
                    ("no page listens", m.detached_at, CAPS.detached),
                    ("its pause cap", m.paused_at, CAPS.paused),
                    ("kept long enough", m.done_at, CAPS.kept),
                )
                if since is not None and t - since >= limit
            ]
        self.sessions.expire()
        self.settle()
        for m, cap in ends:
            state = m.session.state
            if cap == "kept long enough":
                assert state is State.CLOSED, (state, cap)
            else:
                assert state in (State.DONE, State.CLOSED), (state, cap)
            event(f"a session has ended: {cap}")

    # ------------------------------------------------------------ after every step

    @invariant()
    def slots_count_the_sessions_training(self) -> None:
        with self.lock:
            training = [m for m in self.models if m.session.state in TRAINING]
            holding = [m for m in self.models if m.session.holds_slot]
            assert self.sessions.slots_used == len(training) == len(holding) <= LIMIT
            assert all(m.session.state is not State.CREATED for m in holding)

    @invariant()
    def no_thread_holds_the_blas_setting(self) -> None:
        """Parked, at a gate, or finished: none of these sessions' threads holds BLAS to
        one thread (a process-wide setting; what other tests' threads hold is theirs)."""
        threads = [m.session._thread for m in self.models]
        threads = [t for t in threads if t is not None and t.is_alive()]
        assert [blas.one_blas_thread_holds(t.ident) for t in threads] == [0] * len(threads)

    @invariant()
    def running_time_counts_running_only(self) -> None:
        with self.lock:
            for m in self.models:
                if m.session.state is not State.CLOSED:
                    assert m.session.running_seconds() == pytest.approx(m.ran)

    def teardown(self) -> None:
        epochs = max(m.session.epoch for m in self.models)
        event(f"{len(self.models)} sessions, {epochs} epochs at most")
        self.sessions.close_all()
        with self.lock:
            self.lock.notify_all()
        self.settle()
        assert self.sessions.slots_used == 0
        self.folder.cleanup()


SessionMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessions = SessionMachine.TestCase
