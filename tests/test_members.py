"""Ensemble members: each one's network, optimizer, random streams and history, trained
one after another or side by side, and kept (or dropped) together."""

from __future__ import annotations

import signal
import threading

import numpy as np
import pytest

from nnscratch.models.regressor import MLPRegressor


def problem(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.normal(size=n)


def ctrl_c_at(call: int):
    """An epoch callback that presses Ctrl-C at its ``call``-th call (1-based), from whichever
    member's thread makes it: it runs the SIGINT handler the fit installed, as the signal
    would, but at a known point (a signal raised in a worker thread reaches the handler only
    once the main thread wakes)."""
    calls = []
    lock = threading.Lock()

    def press(epoch: int, logs: dict[str, float]) -> None:
        with lock:
            calls.append(epoch)
            if len(calls) == call:
                signal.getsignal(signal.SIGINT)(signal.SIGINT, None)

    return press


@pytest.mark.parametrize("n_jobs", [None, 2], ids=["one after another", "side by side"])
def test_ctrl_c_keeps_every_part_of_the_members_that_trained_and_only_theirs(
    ctrl_c_reaches_python, n_jobs: int | None
) -> None:
    X, y = problem()
    model = MLPRegressor(
        hidden_layer_sizes=(8,),
        n_members=3,
        epochs=6,
        batch_size=32,
        n_jobs=n_jobs,
        early_stopping=False,
        random_state=0,
    )
    model.fit(X, y, callbacks=(ctrl_c_at(2),), handle_interrupts=True)
    kept = len(model.networks_)
    assert 1 <= kept < 3 and any(h.interrupted for h in model.histories_)
    assert len(model.members_) == len(model.histories_) == kept
    assert len({id(m.optimizer) for m in model.members_}) == kept  # each its own, kept whole
    assert len({id(m.shuffle) for m in model.members_}) == kept
    epochs = [h.n_epochs for h in model.histories_]
    model.partial_fit(X, y)  # the members kept go on, each with its own optimizer and stream
    assert [h.n_epochs for h in model.histories_] == [n + 1 for n in epochs]


@pytest.mark.parametrize("k", [1, 4], ids=["plain networks", "TabM"])
def test_members_side_by_side_predict_their_validation_split_on_their_own_thread(
    monkeypatch: pytest.MonkeyPatch, k: int
) -> None:
    """While members train side by side each predicts its validation split on its own
    thread (one batch's buffers a member, not one a thread of a pool of its own), with the
    bits of predicting it on several threads, as members trained one after another do."""
    from nnscratch.core.batchensemble import BatchEnsembleNetwork
    from nnscratch.core.network import Network

    network = BatchEnsembleNetwork if k > 1 else Network
    calls: list[tuple[bool, int | None]] = []
    original = network._predict_batches

    def spy(self, m, fill, batch_size, n_threads=None):
        calls.append((threading.current_thread() is threading.main_thread(), n_threads))
        return original(self, m, fill, batch_size, n_threads)

    monkeypatch.setattr(network, "_predict_batches", spy)
    X, y = problem(40_000, seed=3)  # validation: more batches than one thread takes alone
    fits = {}
    for n_jobs in (None, 2):
        model = MLPRegressor(
            hidden_layer_sizes=(8,),
            k=k,
            epochs=1,
            batch_size=512,
            n_members=2,
            n_jobs=n_jobs,
            random_state=0,
        )
        calls.clear()
        fits[n_jobs] = model.fit(X[:4_000], y[:4_000], eval_set=(X[4_000:], y[4_000:]))
        on_main = {n_threads for main, n_threads in calls if main}
        in_members = {n_threads for main, n_threads in calls if not main}
        assert (on_main, in_members) == (({None}, set()) if n_jobs is None else (set(), {1}))
    for a, b in zip(fits[None].histories_, fits[2].histories_, strict=True):
        assert a.val_loss == b.val_loss
