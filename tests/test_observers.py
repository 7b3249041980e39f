"""The training loop's seams: epoch callbacks (every epoch, every one, the last too) and
per-step observers that read each layer through the networks' public read-only view."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.network import Network
from nnscratch.core.observe import StepObserver, StepView
from nnscratch.core.optimizers import Adam, GradientDescent
from nnscratch.core.training import EpochObserver, EpochView, TrainConfig, train
from nnscratch.models.regressor import MLPRegressor

SIZES = [3, 6, 5, 1]


def problem(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3, n))
    return X, (np.sin(X[0]) + X[1] * X[2])[None, :]


def rms(a: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(a, dtype=np.float64) ** 2)))


class RecordRMS:
    """A test observer: the RMS of each layer's A, dW and Z every ``every`` steps, read
    through the public view only."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.records: dict[int, dict[str, list[float]]] = {}
        self.members: set[int | None] = set()
        self.lock = threading.Lock()

    def on_step(self, view: StepView) -> None:
        with self.lock:
            self.members.add(view.member)
            self.records[view.step] = {
                "A": [rms(layer.A) for layer in view.layers],
                "dW": [rms(layer.dW) for layer in view.layers],
                "Z": [rms(layer.Z) for layer in view.layers],
                "update": [rms(layer.update) for layer in view.layers],
            }


# ------------------------------------------------------------- hand computations (float64)


def plain_by_hand(weights: list[np.ndarray], biases: list[np.ndarray], X, Y):
    """Z, A and dW of every layer of a ReLU network with a linear output and MSE."""
    A, Zs, As = X, [], [X]
    for l, (W, b) in enumerate(zip(weights, biases, strict=True), start=1):
        Z = W @ A + b
        A = Z if l == len(weights) else np.maximum(Z, 0)
        Zs.append(Z)
        As.append(A)
    m = X.shape[1]
    dZ = (A - Y) / m
    dWs = []
    for l in range(len(weights), 0, -1):
        dWs.insert(0, dZ @ As[l - 1].T)
        if l > 1:
            dZ = (weights[l - 1].T @ dZ) * (Zs[l - 2] > 0)
    return Zs, As[1:], dWs


def tabm_by_hand(state: dict[str, np.ndarray], L: int, k: int, X, Y):
    """Z, A and dW of every layer of a TabM network (K members, ReLU, linear output, the
    mean of the members' MSE), written from the module's formulas."""
    A_prev = np.broadcast_to(X[:, None, :], (X.shape[0], k, X.shape[1]))
    Us, Zs, As = [], [], [A_prev]
    for l in range(1, L + 1):
        W, R, S, B = (state[f"{name}{l}"] for name in "WRSB")
        U = R[:, :, None] * As[-1]
        Z = S[:, :, None] * np.einsum("ji,ikm->jkm", W, U) + B[:, :, None]
        Us.append(U)
        Zs.append(Z)
        As.append(Z if l == L else np.maximum(Z, 0))
    m = X.shape[1]
    dZ = (As[-1] - Y[:, None, :]) / (k * m)
    dWs = []
    for l in range(L, 0, -1):
        W, R, S = (state[f"{name}{l}"] for name in "WRS")
        dP = S[:, :, None] * dZ
        dWs.insert(0, np.einsum("jkm,ikm->ji", dP, Us[l - 1]))
        if l > 1:
            dZ = R[:, :, None] * np.einsum("ji,jkm->ikm", W, dP) * (Zs[l - 2] > 0)
    return Zs, As[1:], dWs


def expect(record: dict[str, list[float]], Zs, As, dWs) -> None:
    np.testing.assert_allclose(record["A"], [rms(a) for a in As], rtol=1e-12)
    np.testing.assert_allclose(record["Z"], [rms(z) for z in Zs], rtol=1e-12)
    np.testing.assert_allclose(record["dW"], [rms(d) for d in dWs], rtol=1e-12)


# ------------------------------------------------------------------------------- tests


def test_observer_sees_plain_layers_as_a_hand_computed_pass() -> None:
    """Every 5 full-batch steps, the observer's RMS of A, Z and dW equal a float64 forward
    and backward pass by hand from the weights the batch went forward with."""
    X, Y = problem()
    observer = RecordRMS(every=5)
    net = Network(SIZES, dtype=np.float64, rng=3)
    train(net, X, Y, GradientDescent(0.05), config=TrainConfig(epochs=12), callbacks=(observer,))
    assert sorted(observer.records) == [5, 10]
    for step, record in observer.records.items():
        replay = Network(SIZES, dtype=np.float64, rng=3)  # the same net, stopped before `step`
        if step > 1:
            train(replay, X, Y, GradientDescent(0.05), config=TrainConfig(epochs=step - 1))
        weights = [w.copy() for w in replay.params.weights]
        biases = [b.copy() for b in replay.params.biases]
        expect(record, *plain_by_hand(weights, biases, X, Y))
        # GD's step is -η dW: the update the observer saw is that, for every layer
        _, _, dWs = plain_by_hand(weights, biases, X, Y)
        np.testing.assert_allclose(record["update"], [0.05 * rms(d) for d in dWs], rtol=1e-10)


def test_observer_sees_tabm_layers_as_a_hand_computed_pass() -> None:
    X, Y = problem()
    k, observer = 4, RecordRMS(every=5)

    def network() -> BatchEnsembleNetwork:
        return BatchEnsembleNetwork(SIZES, k, dtype=np.float64, rng=5)

    net = network()
    train(net, X, Y, GradientDescent(0.05), config=TrainConfig(epochs=10), callbacks=(observer,))
    assert sorted(observer.records) == [5, 10]
    for step, record in observer.records.items():
        replay = network()
        train(replay, X, Y, GradientDescent(0.05), config=TrainConfig(epochs=step - 1))
        state = {name: a.copy() for name, a in replay.state_dict().items()}
        expect(record, *tabm_by_hand(state, len(SIZES) - 1, k, X, Y))


def test_view_is_read_only_and_costs_nothing_when_unobserved() -> None:
    X, Y = problem()
    seen: list[StepView] = []

    class Keep:
        every = 1

        def on_step(self, view: StepView) -> None:
            seen.append(view)
            with pytest.raises(ValueError, match="read-only"):
                view.layers[0].A[...] = 0
            with pytest.raises(ValueError, match="read-only"):
                view.layers[0].W[...] = 0

    assert isinstance(Keep(), StepObserver)
    a = Network(SIZES, dtype=np.float64, rng=1)
    b = Network(SIZES, dtype=np.float64, rng=1)
    config = TrainConfig(epochs=3, batch_size=16)
    train(a, X, Y, Adam(0.01), config=config, rng=2, callbacks=(Keep(),))
    train(b, X, Y, Adam(0.01), config=config, rng=2)
    assert [v.step for v in seen] == list(range(1, 10))  # 3 batches an epoch, 3 epochs
    assert [v.epoch for v in seen] == [0] * 3 + [1] * 3 + [2] * 3
    assert [v.batch_weight for v in seen[:3]] == [16, 16, 8]
    np.testing.assert_array_equal(a.params.flat, b.params.flat)  # observed: the same bits


def test_every_epoch_callback_runs_every_epoch_including_the_one_that_stops() -> None:
    """All callbacks are called (no short-circuit), on every finished epoch, the one that
    triggers early stopping too, before the stop decision."""
    X, Y = problem(80)
    Xv, Yv = problem(40, seed=1)
    calls: dict[str, list[int]] = {"first": [], "second": []}

    def first(epoch: int, logs: dict[str, float]) -> bool:
        calls["first"].append(epoch)
        return epoch == 1  # asks to stop at epoch 1

    def second(epoch: int, logs: dict[str, float]) -> None:
        calls["second"].append(epoch)

    net = Network(SIZES, dtype=np.float64, rng=0)
    history = train(
        net,
        X,
        Y,
        GradientDescent(0.01),
        config=TrainConfig(epochs=9),
        validation=(Xv, Yv),
        callbacks=(first, second),
    )
    assert calls == {"first": [0, 1], "second": [0, 1]} and history.n_epochs == 2
    # early stopping with patience 1 on a rate that only gets worse: stops at epoch 1
    calls = {"first": [], "second": []}
    net = Network(SIZES, dtype=np.float64, rng=0)
    history = train(
        net,
        X,
        Y,
        GradientDescent(50.0),
        config=TrainConfig(epochs=9, patience=1),
        validation=(Xv, Yv),
        callbacks=(second,),
    )
    assert history.stopped_early
    assert calls["second"] == list(range(history.n_epochs))


def test_members_side_by_side_tell_the_observer_their_index() -> None:
    X, Y = problem(200)
    observer = RecordRMS(every=2)
    model = MLPRegressor(
        hidden_layer_sizes=(8,), epochs=2, batch_size=50, n_members=2, n_jobs=2, random_state=0
    )
    model.fit(X.T, Y[0], callbacks=(observer,))
    assert observer.members == {0, 1}
    lone = RecordRMS(every=2)
    MLPRegressor(hidden_layer_sizes=(8,), epochs=2, batch_size=50, random_state=0).fit(
        X.T, Y[0], callbacks=(lone,)
    )
    assert lone.members == {None} and sorted(lone.records) == [2, 4, 6, 8]


def test_bad_observers_are_refused() -> None:
    X, Y = problem()

    class Never:
        every = 0

        def on_step(self, view: StepView) -> None:  # pragma: no cover - never called
            raise AssertionError

    net = Network(SIZES, dtype=np.float64)
    with pytest.raises(ValueError, match="every must be a positive integer"):
        train(net, X, Y, GradientDescent(0.1), config=TrainConfig(epochs=1), callbacks=(Never(),))
    with pytest.raises(TypeError, match="a callback is a function"):
        train(net, X, Y, GradientDescent(0.1), config=TrainConfig(epochs=1), callbacks=(3,))


def test_epoch_observers_are_told_their_member_and_plain_callbacks_keep_epoch_and_logs() -> None:
    """An object with ``on_epoch`` gets an ``EpochView`` naming its member (members side by
    side, from their own threads); a plain function still gets ``(epoch, logs)``."""
    X, Y = problem(200)

    class Epochs:
        def __init__(self) -> None:
            self.seen: list[tuple[int | None, int, float]] = []
            self.lock = threading.Lock()

        def on_epoch(self, view: EpochView) -> None:
            with self.lock:
                self.seen.append((view.member, view.epoch, view.logs["train_loss"]))

    observer, plain = Epochs(), []
    assert isinstance(observer, EpochObserver)
    model = MLPRegressor(
        hidden_layer_sizes=(8,), epochs=3, batch_size=50, n_members=2, n_jobs=2, random_state=0
    )
    model.fit(X.T, Y[0], callbacks=(observer, lambda epoch, logs: plain.append(epoch)))
    for k in (0, 1):
        mine = [(epoch, loss) for member, epoch, loss in observer.seen if member == k]
        assert mine == [(e, model.histories_[k].train_loss[e]) for e in range(3)]
    assert sorted(plain) == [0, 0, 1, 1, 2, 2]
    lone = Epochs()
    MLPRegressor(hidden_layer_sizes=(8,), epochs=2, random_state=0).fit(
        X.T, Y[0], callbacks=(lone,)
    )
    assert [(m, e) for m, e, _ in lone.seen] == [(None, 0), (None, 1)]


def test_an_epoch_callback_that_waits_holds_no_blas_setting() -> None:
    """BLAS is held to one thread (a process-wide setting) for an epoch's batches only: a
    step observer runs inside the hold, an epoch callback (a paused page) outside it."""
    from nnscratch.core.blas import one_blas_thread_holds

    X, Y = problem(64)
    holders: dict[str, list[int]] = {"step": [], "epoch": []}

    class Steps:
        every = 1

        def on_step(self, view: StepView) -> None:
            holders["step"].append(one_blas_thread_holds())

    def epoch_end(epoch: int, logs: dict[str, float]) -> None:
        holders["epoch"].append(one_blas_thread_holds())

    net = Network(SIZES, dtype=np.float64, rng=0)
    config = TrainConfig(epochs=2, batch_size=16)
    train(net, X, Y, Adam(0.01), config=config, callbacks=(Steps(), epoch_end))
    assert holders["step"] == [1] * 8 and holders["epoch"] == [0, 0]


class Ends(RecordRMS):
    """A test observer of the run's first and last steps too."""

    ends = True

    def on_step(self, view: StepView) -> None:
        super().on_step(view)
        self.records[view.step]["last"] = view.last  # type: ignore[assignment]
        self.records[view.step]["no update"] = all(l.update is None for l in view.layers)  # type: ignore[assignment]


def test_an_observer_of_the_ends_sees_the_first_and_the_last_step_once() -> None:
    X, Y = problem(40)
    observer = Ends(every=4)
    net = Network(SIZES, dtype=np.float64, rng=0)
    train(net, X, Y, Adam(0.01), config=TrainConfig(epochs=3, batch_size=16), callbacks=(observer,))
    assert sorted(observer.records) == [1, 4, 8, 9]  # 3 batches an epoch, 9 steps
    assert [observer.records[s]["last"] for s in (1, 4, 8, 9)] == [False, False, False, True]
    assert not observer.records[9]["no update"]  # the planned last step: its update is known
    plain = RecordRMS(every=4)
    train(
        Network(SIZES, dtype=np.float64, rng=0),
        X,
        Y,
        Adam(0.01),
        config=TrainConfig(epochs=3, batch_size=16),
        callbacks=(plain,),
    )
    assert sorted(plain.records) == [4, 8]  # without ends: the cadence alone
    once = Ends(every=1)
    train(
        Network(SIZES, dtype=np.float64, rng=0),
        X,
        Y,
        Adam(0.01),
        config=TrainConfig(epochs=1),
        callbacks=(once,),
    )
    assert sorted(once.records) == [1] and once.records[1]["last"] is True


def test_a_run_stopped_early_shows_its_last_step_after_it_stops() -> None:
    """Stopped by a callback after epoch 2 of 9 (steps 1–6 of 27): the observer of the ends
    sees step 6 when training has stopped, the weights after it and no update."""
    X, Y = problem(40)
    observer = Ends(every=100)
    net = Network(SIZES, dtype=np.float64, rng=0)
    weights: list[np.ndarray] = []

    class Keep(Ends):
        def on_step(self, view: StepView) -> None:
            super().on_step(view)
            weights.append(np.array(view.layers[0].W))

    keep = Keep(every=100)
    train(
        net,
        X,
        Y,
        Adam(0.01),
        config=TrainConfig(epochs=9, batch_size=16),
        callbacks=(observer, keep, lambda epoch, logs: epoch == 1),
    )
    assert sorted(observer.records) == [1, 6]
    assert observer.records[6]["last"] is True and observer.records[6]["no update"]
    np.testing.assert_array_equal(weights[-1], net.params.weights[0])


def test_an_observer_may_choose_its_cadence_from_the_runs_length() -> None:
    X, Y = problem(40)
    planned: list[tuple[int, int | None]] = []

    class Tenth(RecordRMS):
        def cadence(self, steps: int, member: int | None) -> int:
            planned.append((steps, member))
            return max(1, steps // 10)

    observer = Tenth(every=1000)
    net = Network(SIZES, dtype=np.float64, rng=0)
    train(
        net, X, Y, Adam(0.01), config=TrainConfig(epochs=10, batch_size=16), callbacks=(observer,)
    )
    assert planned == [(30, None)] and sorted(observer.records) == list(range(3, 31, 3))
