"""The warnings name the cause: a signal that vanished through depth is told apart from
units killed by a blow-up, judged on the run's history (so what is drawn, and when, does
not change the verdict), at most one warning a layer, each saying what to try."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from nnscratch.app.playground.drawing import LiveView
from nnscratch.app.playground.settings import Settings
from nnscratch.app.playground.sources import ToySource
from nnscratch.core.diagnosis import RunDiagnosis, diagnose

#: The setups of docs/playground.md (and two of a learner's own), few epochs each.
RATE_TOO_LARGE = dict(data="xor", hidden=(8, 8), optimizer="gd", lr=5.0, batch=10)
STAGE_3 = dict(
    data="moons", hidden=(8,) * 6, activation="sigmoid", init="small", optimizer="adam", lr=0.03
)
STAGE_2 = dict(
    data="spirals", hidden=(16,) * 6, activation="relu", init="small", optimizer="adam", lr=0.01
)
MOONS_LR_10 = dict(data="moons", lr=10.0)
HEALTHY = dict(data="moons", hidden=(8, 8), optimizer="adam", lr=0.03, batch=10)


def warnings_by_epoch(setup: dict[str, Any], epochs: int, drawn=lambda e: True) -> dict:
    """Train ``setup`` through the page's observer; the warnings of every drawn epoch."""
    source = ToySource(Settings(**setup, epochs=epochs))
    view = LiveView(source.steps_per_epoch(), source.data, source.probe(), drawn)
    said: dict[int, list[dict[str, Any]]] = {}

    def on_epoch(epoch: int, logs: dict[str, float]) -> None:
        view.epoch_ended(epoch, logs)
        if view.figures is not None:
            said[epoch + 1] = view.figures["warnings"]
            view.figures = None

    source.fit((view, on_epoch))
    return said


def kinds(warnings: list[dict[str, Any]]) -> list[str]:
    return [w["kind"] for w in warnings]


def test_a_rate_too_large_is_named_and_initialisation_is_not() -> None:
    """XOR, GD at rate 5: the ReLUs die within the first epoch after an update the size
    of the weights. The warning names the rate, the units that died, and what to try;
    nothing says the signal vanished (the gradients are 0 because the units are dead)."""
    said = warnings_by_epoch(RATE_TOO_LARGE, 4)
    for epoch, warnings in said.items():
        assert kinds(warnings) == ["learning_rate"], (epoch, warnings)
    message = said[4][0]["message"]
    assert message.startswith("learning rate too large: an update at epoch 1 moved layer")
    assert "% of layer 1's units died" in message and "Try a learning rate 10× smaller" in message
    assert said[4][0]["doc"] == "optimizers.md"


def test_a_loss_that_blows_up_is_quoted() -> None:
    """Two moons, Adam at rate 10 (full batch): the loss rises hundreds of times, units
    die, and the warning says by how much and when."""
    said = warnings_by_epoch(MOONS_LR_10, 6)
    assert kinds(said[6]) == ["learning_rate"]
    assert "the loss rose" in said[6][0]["message"] and "× at epoch" in said[6][0]["message"]


def test_a_vanished_signal_is_named_with_its_cause_and_never_beside_a_rate() -> None:
    """Six sigmoid layers, the naive small initialisation: the gradient vanishes through
    depth (Adam's steps on tiny weights look large, but they are not the cause)."""
    said = warnings_by_epoch(STAGE_3, 3)
    for warnings in said.values():
        assert kinds(warnings) == ["vanishing"]
    message = said[1][0]["message"]
    assert message.startswith("layers 1–") and "layer 1's was" in message
    assert "naive small initialisation" in message and "sigmoid's slope" in message
    assert "Try He initialisation" in message
    relu = warnings_by_epoch(STAGE_2, 3)  # ReLUs that look dead are part of the story
    assert all(kinds(w) == ["vanishing"] for w in relu.values())


def test_the_verdict_is_the_runs_not_the_drawings() -> None:
    """The same run drawn every epoch (Step after Step) and drawn at its end only (Start):
    the same warnings at the end; and a signal that vanished, then recovered, is still
    told at the end of a run that learned."""
    every = warnings_by_epoch(STAGE_3, 30)
    at_end = warnings_by_epoch(STAGE_3, 30, drawn=lambda e: e == 29)
    assert list(at_end) == [30] and at_end[30] == every[30]
    assert kinds(at_end[30]) == ["vanishing"]


@pytest.mark.parametrize("setup", [RATE_TOO_LARGE, STAGE_3, STAGE_2, MOONS_LR_10, HEALTHY], ids=str)
def test_no_layer_is_told_two_things(setup) -> None:
    for warnings in warnings_by_epoch(setup, 5).values():
        layers = Counter(w["layer"] for w in warnings if w["layer"] is not None)
        assert max(layers.values(), default=0) <= 1, warnings
        assert all("Try" in w["message"] for w in warnings)


def test_a_healthy_run_is_not_warned_about() -> None:
    said = warnings_by_epoch(HEALTHY, 20)
    assert said[20] == []


def test_diagnose_judges_a_list_of_records_as_a_run() -> None:
    """``diagnose`` of a run's records: dead units after an update the size of the weights
    are the rate's doing; the same dead units with no large update are their own warning."""
    record = {"step": 1, "epoch": 0, "member": None, "k": None, "loss": 0.7, "grad_rms": 0.1}
    record |= {"weight_rms": 0.5, "dead_fraction": 0.0, "saturated_fraction": 0.0}
    step1 = [
        record | {"layer": l, "activation": a, "update_ratio_log10": -1.5}
        for l, a in ((1, "relu"), (2, "identity"))
    ]
    after = {"step": 9, "epoch": 3, "update_ratio_log10": None, "grad_rms": 0.0}
    later = [r | after for r in step1]
    later[0]["dead_fraction"] = 1.0
    assert kinds(diagnose(step1 + later)) == ["dead"]
    blown = [r | {"update_ratio_log10": 0.2} for r in step1]
    assert kinds(diagnose(blown + later)) == ["learning_rate"]
    diagnosis = RunDiagnosis()
    diagnosis.add(step1)
    assert diagnosis.warnings() == []
