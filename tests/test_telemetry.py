"""Per-layer telemetry: its figures against a hand computation, and what it shows about
initialisation (the Stage 2 argument, measured)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from test_cli import check_png, run
from test_observers import SIZES, plain_by_hand, problem, rms

from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.diagnosis import diagnose
from nnscratch.core.network import Network
from nnscratch.core.optimizers import Adam, GradientDescent
from nnscratch.core.telemetry import HIST_EDGES, KEYS, Telemetry
from nnscratch.core.training import TrainConfig, train
from nnscratch.models.classifier import MLPClassifier


def replay(step: int, X: np.ndarray, Y: np.ndarray) -> Network:
    """The test network after ``step`` full-batch GD steps."""
    net = Network(SIZES, dtype=np.float64, rng=3)
    if step:
        train(net, X, Y, GradientDescent(0.05), config=TrainConfig(epochs=step))
    return net


def test_every_figure_equals_a_hand_computation_in_float64() -> None:
    X, Y = problem(60)
    probe = np.random.default_rng(9).normal(size=(25, 3))  # user layout (m, n[0])
    telemetry = Telemetry(every=2, probe=probe)
    train(
        replay(0, X, Y),
        X,
        Y,
        GradientDescent(0.05),
        config=TrainConfig(epochs=4),
        callbacks=(telemetry,),
    )
    # 4 steps: too few for every 2nd to make 10 records, so every step is recorded
    assert [r["step"] for r in telemetry.records] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert all(tuple(r) == KEYS for r in telemetry.records)
    for step in (1, 2, 3, 4):
        now, before = replay(step, X, Y), replay(step - 1, X, Y)
        W = [w.copy() for w in now.params.weights]
        b = [v.copy() for v in now.params.biases]
        Zs, As, _ = plain_by_hand(W, b, probe.T, np.zeros((1, 25)))  # the probe, as it is now
        _, _, dWs = plain_by_hand(
            [w.copy() for w in before.params.weights],
            [v.copy() for v in before.params.biases],
            X,
            Y,
        )
        records = [r for r in telemetry.records if r["step"] == step]
        for l, r in enumerate(records):
            assert r["layer"] == l + 1 and r["k"] is None and r["member"] is None
            assert r["z_mean"] == pytest.approx(Zs[l].mean(), rel=1e-12, abs=1e-15)
            assert r["z_std"] == pytest.approx(Zs[l].std(), rel=1e-12)
            assert r["act_mean"] == pytest.approx(As[l].mean(), rel=1e-12, abs=1e-15)
            assert r["act_std"] == pytest.approx(As[l].std(), rel=1e-12)
            assert r["dead_fraction"] == np.mean(np.all(As[l] == 0, axis=1))
            hist, _ = np.histogram(np.clip(As[l], -4, 4), bins=HIST_EDGES)
            assert r["hist"] == hist.tolist() and sum(r["hist"]) == As[l].size
            assert r["weight_rms"] == pytest.approx(rms(W[l]), rel=1e-12)
            assert r["grad_rms"] == pytest.approx(rms(dWs[l]), rel=1e-10)
            step_rms = rms(W[l] - before.params.weights[l])  # GD: 0.05 · dW
            assert step_rms == pytest.approx(0.05 * rms(dWs[l]), rel=1e-8)
            assert r["update_ratio_log10"] == pytest.approx(
                math.log10(step_rms / rms(W[l])), abs=1e-9
            )
            assert r["saturated_fraction"] == 0.0  # ReLU and identity do not saturate


def deep_gradients(init: str, hidden: str = "relu", depth: int = 10) -> list[float]:
    """Every layer's gradient RMS at the first step of a ``depth``-layer net, width 64."""
    rng = np.random.default_rng(0)
    X = rng.random((16, 512))
    Y = X[:3].sum(axis=0, keepdims=True)
    telemetry = Telemetry(every=1)
    net = Network(
        [16] + [64] * (depth - 1) + [1],
        hidden_activation=hidden,
        init=init,
        dtype=np.float64,
        rng=0,
    )
    train(net, X, Y, GradientDescent(0.01), config=TrainConfig(epochs=1), callbacks=(telemetry,))
    return [r["grad_rms"] for r in telemetry.records]


def test_he_init_keeps_the_gradient_and_the_seeds_small_init_collapses_it() -> None:
    """10 layers of ReLU at step 0. He: the gradient RMS of the first and the last hidden
    layer are within 10× of each other (the output layer's own gradient scales with the
    loss, not with depth). The naive small initialisation 0.01·N(0, 1): every layer's
    gradient is more than 1,000× smaller than He's (the signal shrinks ×0.06 a layer on the
    way forward)."""
    he, small = deep_gradients("he"), deep_gradients("small")
    hidden = he[:-1]
    assert max(hidden[0], hidden[-1]) / min(hidden[0], hidden[-1]) < 10
    assert max(hidden) / min(hidden) < 10
    assert all(s * 1_000 < h for s, h in zip(small, he, strict=True))
    # with sigmoids the collapse is along the depth itself: layer 1 gets 1e-6 of layer 9's
    sigmoid = deep_gradients("small", "sigmoid")
    assert sigmoid[0] < 1e-3 * sigmoid[-2]
    messages = [
        w["message"]
        for w in diagnose(
            [
                {
                    "step": 1,
                    "member": None,
                    "k": None,
                    "layer": l + 1,
                    "activation": "sigmoid",
                    "grad_rms": g,
                    "loss": 0.5,
                    "dead_fraction": 0.0,
                    "saturated_fraction": 0.0,
                    "update_ratio_log10": None,
                }
                for l, g in enumerate(sigmoid)
            ]
        )
    ]
    assert len(messages) == 1, messages
    assert messages[0].startswith("layers 1–") and "layer 1's was" in messages[0]
    assert "vanished" in messages[0] and "sigmoid's slope" in messages[0]


def test_dead_relus_and_saturated_units_are_counted() -> None:
    X, Y = problem(64)
    net = Network(SIZES, hidden_activation="relu", dtype=np.float64, rng=0)
    net.params.biases[0][:3] = -100.0  # three of six units can never fire
    telemetry = Telemetry(every=1)
    train(net, X, Y, GradientDescent(1e-9), config=TrainConfig(epochs=1), callbacks=(telemetry,))
    assert telemetry.records[0]["dead_fraction"] == 0.5
    assert any(w["kind"] == "dead" for w in diagnose(telemetry.records))
    net = Network(SIZES, hidden_activation="tanh", init="glorot", dtype=np.float64, rng=0)
    net.params.weights[0][...] *= 100  # |Z| ≫ 4 nearly everywhere
    telemetry = Telemetry(every=1)
    train(net, X, Y, GradientDescent(1e-9), config=TrainConfig(epochs=1), callbacks=(telemetry,))
    assert telemetry.records[0]["saturated_fraction"] > 0.9


def test_tabm_members_are_pooled_and_per_member_on_request() -> None:
    X, Y = problem(48)
    k = 4
    telemetry = Telemetry(every=3, per_member=True, probe_rows=10)
    net = BatchEnsembleNetwork(SIZES, k, dtype=np.float64, rng=1)
    train(
        net,
        X,
        Y,
        Adam(0.01),
        config=TrainConfig(epochs=2, batch_size=16),
        rng=0,
        callbacks=(telemetry,),
    )
    step3 = [r for r in telemetry.records if r["step"] == 3]
    assert len(step3) == 3 * (1 + k)  # per layer: pooled, then each member
    layer1 = [r for r in step3 if r["layer"] == 1]
    assert [r["k"] for r in layer1] == [None, 0, 1, 2, 3]
    pooled, members = layer1[0], layer1[1:]
    # the pooled mean is the mean of the members' means (equal sizes); shared W, one rms
    assert pooled["act_mean"] == pytest.approx(np.mean([r["act_mean"] for r in members]))
    assert len({r["weight_rms"] for r in layer1}) == 1
    assert sum(pooled["hist"]) == 6 * k * 10  # n[1] units × K members × 10 probe samples


def test_a_classifier_ensemble_takes_telemetry_through_fit() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    telemetry = Telemetry(every=5)
    model = MLPClassifier(
        hidden_layer_sizes=(16, 8), epochs=3, batch_size=50, n_members=2, random_state=0
    )
    model.fit(X, y, callbacks=(telemetry,))
    members = {r["member"] for r in telemetry.records}
    assert members == {0, 1}
    steps = sorted({r["step"] for r in telemetry.records if r["member"] == 0})
    # 6 batches an epoch (early-stopping split): 18 steps, too few for every 5th to take 10
    # records, so every step is; said once for both members
    assert steps == list(range(1, 19))
    assert telemetry.notes == [
        "telemetry: every 5 steps would record 3 time(s) in this run of 18 steps; recording "
        "every 1 step(s) instead, the first and the last included"
    ]
    assert {r["activation"] for r in telemetry.records} == {"relu", "sigmoid"}
    assert all(r["update_ratio_log10"] is not None for r in telemetry.records)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Telemetry(every=0)
    with pytest.raises(ValueError, match="probe_rows"):
        Telemetry(probe_rows=0)


def test_train_telemetry_on_the_shared_sample_writes_jsonl_and_the_figure(
    real_sample_run,
) -> None:
    """``nnscratch train --telemetry 20``: a record for every layer of every member at the
    first step, every 20th and the last, with the documented keys, in order; and
    layers.png."""
    result, out = real_sample_run  # --epochs 3 --telemetry 20 on the shared sample
    assert result.returncode == 0, result.stderr
    assert "telemetry.jsonl" in result.stdout and "layers.png" in result.stdout
    records = [json.loads(line) for line in (out / "telemetry.jsonl").read_text().splitlines()]
    steps_per_epoch = math.ceil(20719 / 256)
    last = 3 * steps_per_epoch
    steps = [1, *range(20, last, 20), last]
    layers = (1, 2, 3, 4)  # the default recipe's 3 hidden layers and its output
    expected = [(member, step, l) for member in (0, 1) for step in steps for l in layers]
    assert [(r["member"], r["step"], r["layer"]) for r in records] == expected
    required = {
        "step",
        "epoch",
        "layer",
        "act_mean",
        "act_std",
        "dead_fraction",
        "grad_rms",
        "weight_rms",
        "update_ratio_log10",
    }
    assert all(required <= set(r) and r["k"] is None for r in records)
    assert all(math.isfinite(r["grad_rms"]) and r["grad_rms"] > 0 for r in records)
    assert -6 < np.median([r["update_ratio_log10"] for r in records]) < -1
    check_png(out / "layers.png")


@pytest.mark.parametrize(
    ("epochs", "every", "expected"),
    [
        (3, 100, [1, 2, 3, 4, 5, 6, 7, 8, 9]),  # 9 steps: every step
        (10, 100, [1, *range(3, 30, 3), 30]),  # 30 steps: every 3rd, the ends too
        (40, 10, [1, *range(10, 120, 10), 120]),  # 120 steps: 12 records, the cadence kept
    ],
)
def test_every_run_records_its_first_and_last_step_and_a_short_one_evenly(
    epochs: int, every: int, expected: list[int]
) -> None:
    X, Y = problem(40)
    said: list[str] = []
    telemetry = Telemetry(every=every, say=said.append)
    train(
        Network(SIZES, dtype=np.float64, rng=0),
        X,
        Y,
        Adam(0.01),
        config=TrainConfig(epochs=epochs, batch_size=16),
        callbacks=(telemetry,),
    )
    assert sorted({r["step"] for r in telemetry.records}) == expected
    assert len(telemetry.records) == 3 * len(expected)  # every layer, once a step
    assert said == telemetry.notes and len(said) == (0 if expected[1] == every else 1)


def test_a_run_stopped_early_records_its_last_step() -> None:
    X, Y = problem(40)
    telemetry = Telemetry(every=4)
    train(
        Network(SIZES, dtype=np.float64, rng=0),
        X,
        Y,
        Adam(0.01),
        config=TrainConfig(epochs=40, batch_size=16),
        callbacks=(telemetry, lambda e, logs: e == 4),
    )
    assert sorted({r["step"] for r in telemetry.records}) == [1, 4, 8, 12, 15]
    last = [r for r in telemetry.records if r["step"] == 15]
    assert [r["layer"] for r in last] == [1, 2, 3] and all(r["grad_rms"] > 0 for r in last)
    assert all(r["update_ratio_log10"] is None for r in last)  # the step before was not kept


def test_train_telemetry_on_a_three_epoch_run_records_its_ends_and_draws_every_layer(
    tmp_path: Path,
) -> None:
    """``nnscratch train --telemetry --epochs 3`` on the built-in sample, as a new user runs
    it: records for every layer of every member at the first and the last step, a line
    per layer in layers.png, the note about the cadence, and no warning."""
    import matplotlib.image

    out = tmp_path / "run"
    result = run("train", "--telemetry", "--epochs", "3", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr + result.stdout and "warn" not in result.stderr
    assert "telemetry: every 100 steps would record 0 time(s)" in result.stdout
    records = [json.loads(line) for line in (out / "telemetry.jsonl").read_text().splitlines()]
    for member in (0, 1):
        mine = [r for r in records if r["member"] == member]
        first, last = min(r["step"] for r in mine), max(r["step"] for r in mine)
        assert first == 1 and last == 3 * math.ceil(3473 / 256)  # the sample's 3,473 rows
        for step in (first, last):
            assert sorted(r["layer"] for r in mine if r["step"] == step) == [1, 2, 3, 4]
    check_png(out / "layers.png")
    pixels = matplotlib.image.imread(out / "layers.png")[..., :3].reshape(-1, 3)
    tab10 = [(0.12, 0.47, 0.71), (1.0, 0.5, 0.05), (0.17, 0.63, 0.17), (0.84, 0.15, 0.16)]
    for colour in tab10:  # a line in each of the 4 layers' colours, across the panels
        assert np.sum(np.abs(pixels - colour).max(axis=1) < 0.02) > 500, colour


def test_the_layers_figure_of_no_records_says_so_without_a_warning() -> None:
    import warnings

    from nnscratch.tasks.plots import layers_figure

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels" among them
        figure = layers_figure([])
    assert "no telemetry recorded" in [t.get_text() for t in figure.axes[0].texts]
