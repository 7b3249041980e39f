"""The learner's network behind the engine's seams: the package's training loop, its step
observers and telemetry, and the live page's source, driving the learner's own stages."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nnscratch.app.learn.live import LearnerSource, LearnerSources
from nnscratch.app.learn.network import (
    CLASS_FUNCTIONS,
    NETWORK_FUNCTIONS,
    LearnerNetwork,
    LearnerOptimizer,
    learner_functions,
)
from nnscratch.app.learn.workspace import Workspace, start
from nnscratch.core.diagnosis import diagnose
from nnscratch.core.network import Network, to_network_layout
from nnscratch.core.optimizers import Adam, GradientDescent, Momentum
from nnscratch.core.telemetry import Telemetry
from nnscratch.core.training import TrainConfig, train
from nnscratch.data.toys import make_toy
from nnscratch.errors import DataError, RequestError

ANSWERS = Path(__file__).resolve().parents[1] / "notebooks" / "answers"


def workspace_of(folder: Path, changes: dict[str, tuple[str, str]] | None = None) -> Workspace:
    """A workspace of the reference answers, with ``changes`` (file → (old, new) text)."""
    start(folder)
    for path in ANSWERS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    for name, (old, new) in (changes or {}).items():
        text = (folder / name).read_text()
        assert old in text
        (folder / name).write_text(text.replace(old, new))
    return Workspace(folder)


@pytest.fixture(scope="module")
def answers() -> Workspace:
    return Workspace(ANSWERS)


def functions_of(workspace: Workspace, *extra: str) -> dict:
    with workspace.importable():
        return learner_functions(workspace, [*NETWORK_FUNCTIONS, *CLASS_FUNCTIONS, *extra])


def moons() -> tuple[np.ndarray, np.ndarray]:
    data = make_toy("moons", 0.1, 0)
    return to_network_layout(data.X_train, np.float64), np.eye(2)[:, data.y_train]


@pytest.mark.parametrize(
    "step, package",
    [("gd", GradientDescent(0.5)), ("momentum", Momentum(0.1)), ("adam", Adam(0.01))],
)
def test_the_loop_trains_the_learners_network_as_the_engine(answers, step, package) -> None:
    """The package's loop, observers included, on the learner's stages and on the engine
    from the same weights: the same losses and the same per-layer telemetry."""
    functions = functions_of(answers, f"{step}_step")
    X, Y = moons()
    sizes = [2, 8, 8, 2]
    theirs = LearnerNetwork(sizes, functions, classes=True, rng=3)
    ours = Network(sizes, output_activation="softmax", loss="cross_entropy", dtype=np.float64)
    ours.params.flat[...] = theirs.params.flat
    config = TrainConfig(epochs=6, batch_size=50, lmbda=0.01)
    seen = {}
    for name, net, optimizer in (
        ("yours", theirs, LearnerOptimizer(step, package.learning_rate, functions[f"{step}_step"])),
        ("engine", ours, package),
    ):
        telemetry = Telemetry(every=3, probe=X[:, :64].T)
        history = train(net, X, Y, optimizer, config=config, rng=1, callbacks=[telemetry])
        seen[name] = (history.train_loss, telemetry.records, net.params.flat.copy())
    tolerance = 1e-5 if step == "adam" else 1e-10  # Adam: the package folds its correction
    np.testing.assert_allclose(seen["yours"][0], seen["engine"][0], rtol=tolerance)
    np.testing.assert_allclose(seen["yours"][2], seen["engine"][2], rtol=tolerance, atol=1e-12)
    assert len(seen["yours"][1]) == len(seen["engine"][1]) >= 3 * 12  # layers × observed steps
    for mine, package_record in zip(seen["yours"][1], seen["engine"][1], strict=True):
        assert mine["layer"] == package_record["layer"] and mine["hist"] == package_record["hist"]
        for key in ("z_std", "act_mean", "dead_fraction", "grad_rms", "weight_rms"):
            assert mine[key] == pytest.approx(package_record[key], rel=tolerance * 10, abs=1e-12)


def test_a_derivative_left_out_shows_in_the_gradients_the_observers_read(tmp_path) -> None:
    workspace = workspace_of(
        tmp_path / "mynet",
        {"backprop.py": ("return dA * relu_derivative(Z)", "return dA.copy()")},
    )
    X, Y = moons()
    right = LearnerNetwork([2, 8, 2], functions_of(Workspace(ANSWERS)), classes=True, rng=0)
    wrong = LearnerNetwork([2, 8, 2], functions_of(workspace), classes=True, rng=0)
    grads = []
    for net in (right, wrong):
        net.forward(X)
        net.backward(Y)
        grads.append([v.dW.copy() for v in net.layer_views()])
    np.testing.assert_array_equal(grads[0][1], grads[1][1])  # the top layer is the same
    assert not np.allclose(grads[0][0], grads[1][0])  # layer 1's gradient is not


def test_the_naive_small_init_in_a_workspace_vanishes_on_the_page(tmp_path) -> None:
    workspace = workspace_of(
        tmp_path / "mynet",
        {"init.py": ("* np.sqrt(2.0 / n_in)", "* 0.01")},
    )
    X, Y = moons()
    net = LearnerNetwork([2, 8, 8, 8, 8, 8, 8, 2], functions_of(workspace), classes=True, rng=0)
    telemetry = Telemetry(every=1, probe=X[:, :64].T)
    optimizer = LearnerOptimizer("gd", 0.1, functions_of(workspace, "gd_step")["gd_step"])
    train(net, X, Y, optimizer, config=TrainConfig(epochs=1), callbacks=[telemetry])
    kinds = {(w["layer"], w["kind"]) for w in diagnose(telemetry.records)}
    assert (1, "vanishing") in kinds


@dataclass(frozen=True)
class PageSettings:
    """What the playground's page sets (the fields a source reads)."""

    data: str = "moons"
    noise: float = 0.1
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "relu"
    init: str = "he"
    optimizer: str = "adam"
    lr: float = 0.03
    batch: int = 10
    l2: float = 0.0
    dropout: float = 0.0
    epochs: int = 30
    seed: int = 0


def test_a_page_source_trains_the_learners_network_on_two_moons(tmp_path) -> None:
    source = LearnerSources(Workspace(ANSWERS))(PageSettings())
    assert source.hello()["engine"] == "your network (answers/)"
    source.load()
    logs = []
    source.fit((lambda epoch, log: logs.append(log),))
    assert len(logs) == 30 and logs[-1]["val_accuracy"] >= 0.97
    source.save(tmp_path / "weights.npz")
    with np.load(tmp_path / "weights.npz") as saved:
        assert sorted(saved.files) == ["W1", "W2", "W3", "b1", "b2", "b3"]


@pytest.mark.parametrize(
    "change, says",
    [
        ({"activation": "tanh"}, "your relu (stage 3), not tanh"),
        ({"dropout": 0.2}, "dropout: your network has none"),
        ({"data": "sample"}, "the tracks data ('sample') is nnscratch learn train's"),
    ],
)
def test_what_the_learners_network_cannot_do_is_refused(change, says) -> None:
    from dataclasses import replace

    with pytest.raises(RequestError, match=r".*") as refused:
        LearnerSource(replace(PageSettings(), **change), Workspace(ANSWERS))
    assert refused.value.status == 422 and says in str(refused.value)


def test_an_error_in_the_learners_code_shows_their_line(tmp_path) -> None:
    workspace = workspace_of(
        tmp_path / "mynet",
        {"forward.py": ("        cache.append((A, Z))", "        cache.append((A, Z[:, :3]))")},
    )
    net = LearnerNetwork([2, 8, 2], functions_of(workspace), classes=True, rng=0)
    X, Y = moons()
    net.forward(X)
    with pytest.raises(DataError, match=r"your backward failed: your code raised ValueError at"):
        net.backward(Y)


def test_playground_engine_says_which_stage_fails_and_trains_it_as_it_is(tmp_path, capsys) -> None:
    from nnscratch.app.cli.commands.playground import learner_sources

    workspace_of(tmp_path / "mynet", {"init.py": ("* np.sqrt(2.0 / n_in)", "* 0.01")})
    sources = learner_sources(str(tmp_path / "mynet"), None)
    said = capsys.readouterr().out
    assert "stage 2, init (initialisation) does not pass yet" in said
    assert (
        "the naive small initialisation 0.01·N(0, 1)" in said
        and "the page trains your code as it is" in said
    )
    assert isinstance(sources(PageSettings()), LearnerSource)
    with pytest.raises(DataError, match="--engine trains your network on the playground's small"):
        learner_sources(str(tmp_path / "mynet"), "tracks.csv")
