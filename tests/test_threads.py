"""A fitted model may be called from many threads at once, and answers as if alone.

Each test fits a model, computes every input's prediction alone (one after
another), then makes the same calls from 32 threads at once, 50 calls each (16 for
a table model, whose calls clean and encode their rows), and requires every result
to be bitwise equal to the one computed alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from nnscratch.core.blas import one_blas_thread
from nnscratch.data.cleaning import clean
from nnscratch.data.features import RECIPE_FEATURES
from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import tracks_from_frame
from nnscratch.models.recipes import DEFAULT_RECIPE
from nnscratch.models.regressor import MLPRegressor

THREADS = 32
CALLS = 50


def inputs(n_features: int, sizes: list[int], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((size, n_features)) for size in sizes]


def hammer(predict: Callable[[object], np.ndarray], cases: list[object], calls: int = CALLS) -> int:
    """Call ``predict`` on ``cases`` from THREADS threads, ``calls`` times each; count results
    that differ from alone."""
    alone = [predict(case) for case in cases]
    start = threading.Barrier(THREADS)

    def worker(k: int) -> int:
        start.wait()  # all threads call at once
        wrong = 0
        for i in range(calls):
            index = (k * calls + i) % len(cases)
            if not np.array_equal(predict(cases[index]), alone[index]):
                wrong += 1
        return wrong

    with ThreadPoolExecutor(THREADS) as pool:
        return sum(pool.map(worker, range(THREADS)))


@pytest.fixture(scope="module")
def regressor() -> MLPRegressor:
    X = np.random.default_rng(0).random((600, 6))
    return MLPRegressor(epochs=3, random_state=0).fit(X, X @ np.arange(6.0))


@pytest.fixture(scope="module")
def ensemble() -> MLPRegressor:
    X = np.random.default_rng(1).random((600, 6))
    return MLPRegressor(epochs=3, n_members=3, random_state=0).fit(X, X[:, 0] * X[:, 1])


EQUAL_SIZES = [100] * THREADS
MIXED_SIZES = [1, 2, 7, 31, 100, 257, 1000, 4095, 4096, 4097, 9000] * 3


@pytest.mark.parametrize("sizes", [EQUAL_SIZES, MIXED_SIZES], ids=["equal", "mixed"])
def test_one_model_many_threads(regressor: MLPRegressor, sizes: list[int]) -> None:
    assert hammer(regressor.predict, inputs(6, sizes, seed=len(sizes))) == 0


@pytest.mark.parametrize("sizes", [EQUAL_SIZES, MIXED_SIZES], ids=["equal", "mixed"])
def test_ensemble_many_threads(ensemble: MLPRegressor, sizes: list[int]) -> None:
    assert hammer(ensemble.predict, inputs(6, sizes, seed=len(sizes) + 1)) == 0


def test_popularity_model_many_threads() -> None:
    frame = tracks_from_frame(make_tracks(1200, seed=2), features=RECIPE_FEATURES)
    data = prepare(frame, RECIPE_FEATURES, seed=0)
    model = DEFAULT_RECIPE.with_overrides(epochs=2, n_members=2).fit(data, seed=0)
    cleaned, _ = clean(frame, RECIPE_FEATURES)
    rng = np.random.default_rng(3)
    cases = [cleaned.iloc[rng.choice(len(cleaned), size=n)] for n in (1, 13, 100, 700) * 8]
    # a table's every call cleans and encodes its rows: 16 calls a thread still overlap all
    # 32 threads' calls, and each case is called by 16 threads at once
    assert hammer(model.predict_points, cases, calls=16) == 0


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_overlapping_blas_holds_restore_the_original_limit() -> None:
    """Holds that overlap across threads keep BLAS at one thread until the last one ends."""
    before = blas_threads()
    inside_first, inside_second = threading.Event(), threading.Event()
    first_done = threading.Event()
    seen: list[list[int]] = []

    def first() -> None:
        with one_blas_thread():
            inside_first.set()
            inside_second.wait(10)
        first_done.set()

    def second() -> None:
        inside_first.wait(10)
        with one_blas_thread():
            inside_second.set()
            first_done.wait(10)
            seen.append(blas_threads())  # the first hold has ended; this one has not

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen and all(n == 1 for n in seen[0])
    assert blas_threads() == before
