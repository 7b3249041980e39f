"""What the playground page draws of an epoch, read through the training loop's
read-only view (:class:`LiveView`, a step observer): every layer's telemetry and its
warnings, the weights (the network diagram's edges), and for a small set its validation
points' outcome (the decision boundary or the curve, the confusion matrix or predicted
against actual); for points in the plane also every hidden unit's output over the plane
(the neuron view: what each unit has learned to respond to).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnscratch.core.diagnosis import RunDiagnosis
from nnscratch.core.network import to_network_layout
from nnscratch.core.observe import StepView
from nnscratch.core.telemetry import Telemetry
from nnscratch.data.toys import ToyData

#: The decision boundary's grid: GRID × GRID points over [-EXTENT, EXTENT]².
GRID, EXTENT = 48, 1.6
#: Weight matrices larger than this many values are not sent (too many to draw).
MAX_DRAWN_WEIGHTS = 16_384
#: Each hidden unit's map: its output on UNIT_GRID × UNIT_GRID points of the plane.
UNIT_GRID = 20
#: A network with more hidden units than this gets no neuron view (too many to draw).
MAX_DRAWN_UNITS = 128
#: A unit's map is sent as whole numbers from -UNIT_LEVELS to UNIT_LEVELS, times its scale.
UNIT_LEVELS = 100
#: A unit's map is drawn about its activation's neutral output (sigmoid's 1/2, 0 for the
#: others), on a scale of at least UNIT_FLOOR: a unit whose output hardly changes over the
#: plane (a vanished signal) is drawn pale, not stretched into a pattern.
UNIT_FLOOR = 0.1
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
    "learning_rate": "optimizers.md",
    "exploding": "2-init.md",
    "dead": "3-activations.md",
    "saturated": "3-activations.md",
    "large_updates": "optimizers.md",
    "small_updates": "optimizers.md",
}


def boundary_grid(size: int = GRID) -> np.ndarray:
    """The grid's points ``(size², 2)``, row by row from the top left."""
    axis = np.linspace(-EXTENT, EXTENT, size)
    xs, ys = np.meshgrid(axis, axis[::-1])
    return np.c_[xs.ravel(), ys.ravel()]


def unit_maps(
    traced: list[tuple[np.ndarray, np.ndarray]], activations: list[str]
) -> list[dict[str, Any]] | None:
    """Every hidden layer's units over the plane, from the network traced on the unit grid:
    per layer, each unit's ``scale`` (its output's largest distance from the activation's
    neutral value, at least :data:`UNIT_FLOOR`) and its ``map``, that distance over the
    scale in whole steps of 1/:data:`UNIT_LEVELS` (row by row from the top left). None
    where the network has more than :data:`MAX_DRAWN_UNITS` hidden units."""
    hidden = [A for _, A in traced[:-1]]
    if sum(len(A) for A in hidden) > MAX_DRAWN_UNITS:
        return None
    layers = []
    for A, activation in zip(hidden, activations, strict=False):
        moved = A - (0.5 if activation == "sigmoid" else 0.0)
        scale = np.maximum(np.abs(moved).max(axis=1), UNIT_FLOOR)
        level = np.round(moved / scale[:, None] * UNIT_LEVELS)
        layers.append({"scale": np.round(scale, 4).tolist(), "maps": level.astype(int).tolist()})
    return layers


def probability_maps(probabilities: np.ndarray) -> list[list[int]]:
    """Each class's probability ``(K, g²)`` over the unit grid, in whole steps of
    1/:data:`UNIT_LEVELS` (row by row from the top left): the softmax output units' maps."""
    return np.round(probabilities * UNIT_LEVELS).astype(int).tolist()


class LiveView:
    """A session's step observer: at the last step of an epoch that ``due(epoch)`` says is
    drawn, what the page draws, read through the training loop's view (the network as it
    is after the step), kept in ``figures`` for the session's epoch callback to send. For
    a small set also its validation points' outcome, and the boundary or the curve.

    Its telemetry probes a fixed batch: the source's ``probe`` rows, or, where it gives
    none, the run's first batch (a full one), taken at the run's first step (``ends``).
    The warnings are judged on the whole run, whatever is drawn: its diagnosis
    (:class:`~nnscratch.core.diagnosis.RunDiagnosis`) sees every step's update sizes,
    the telemetry of the first step and of every epoch's last, and every epoch's loss
    (:meth:`epoch_ended`), so a run watched with Step and one run with Start give the
    same verdict at the same epoch.
    """

    ends = True
    #: called at every step: the diagnosis sees every update (two norms a layer)
    every = 1

    def __init__(
        self,
        steps_per_epoch: int,
        data: ToyData | None,
        probe: np.ndarray | None,
        due: Callable[[int], bool],
    ) -> None:
        self.steps_per_epoch, self.data, self.due = steps_per_epoch, data, due
        self.telemetry = Telemetry(every=1, probe=probe)
        self.diagnosis = RunDiagnosis()
        self.figures: dict[str, Any] | None = None
        if data is not None:
            self.X_val = to_network_layout(data.X_val, np.float64)
            plane = data.n_features == 2
            self.grid = to_network_layout(boundary_grid()) if plane else None
            self.unit_grid = to_network_layout(boundary_grid(UNIT_GRID)) if plane else None
            self.curve = np.linspace(-EXTENT, EXTENT, 121)[None, :]

    def on_step(self, view: StepView) -> None:
        self.diagnosis.step(view)
        if view.step == 1:
            self.telemetry.probe_for(view)  # fixed from the first batch on
        epoch_end = view.step % self.steps_per_epoch == 0 or view.last
        if not (epoch_end or view.step == 1):
            return
        self.telemetry.records.clear()
        self.telemetry.on_step(view)
        records = self.telemetry.records
        self.diagnosis.add(records)
        if not epoch_end or not self.due(view.epoch):
            return
        figures: dict[str, Any] = {
            "layers": [{k: r[k] for k in LAYER_KEYS} for r in records],
            "weights": [
                np.round(v.W, 4).tolist() if v.W.size <= MAX_DRAWN_WEIGHTS else None
                for v in view.layers
            ],
        }
        if self.data is not None:
            figures |= self.outcome(view, self.data)
        self.figures = figures

    def epoch_ended(self, epoch: int, logs: dict[str, float]) -> None:
        """The epoch's training loss, for the diagnosis's history of the loss; the warnings
        of a drawn epoch, judged with it."""
        self.diagnosis.epoch(epoch, logs.get("train_loss"))
        if self.figures is not None:
            self.figures["warnings"] = self.warnings()

    def warnings(self) -> list[dict[str, Any]]:
        """The diagnosis's warnings so far, each with the page that explains it."""
        return [w | {"doc": WARNING_DOCS[w["kind"]]} for w in self.diagnosis.warnings()]

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
            grid_out = view.trace(self.grid)[-1][1]  # two classes: P(class 1), one row or two
            out["boundary"] = np.round(
                grid_out[-1] if len(grid_out) <= 2 else grid_out.argmax(axis=0), 3
            ).tolist()
            activations = [layer.activation for layer in view.layers]
            traced = view.trace(self.unit_grid)
            out["units"] = unit_maps(traced, activations)
            if len(traced[-1][1]) > 1:  # softmax: each output unit is a class's probability
                out["output_maps"] = probability_maps(traced[-1][1])
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
