"""Why a network won't learn: the telemetry's records judged over the run's history.

A warning names a *cause*, not a symptom, and says what to try. The same symptom
has different causes, and the order of events tells them apart:

* **the signal vanished through depth** — the gradient that reaches the first
  layers is a tiny share of the largest layer's (under ``1e-3`` of it), or tiny
  outright (under ``1e-6``) while the loss is not yet small, *before* anything blew
  up. Each layer multiplies the gradient on its way back by its weights and by the
  activation's slope: weights drawn too small (the naive small initialisation
  ``0.01·N(0, 1)``) or a slope that is at most 1/4 (sigmoid) shrink it layer after
  layer. ReLU units of such a network may also look dead: the signal that reaches
  them is nearly the same for every sample. One warning says so, naming the layers;
* **the learning rate is too large** — an update at least :data:`LARGE_STEP` of the
  weights it moves (``ΔW``'s RMS against ``W``'s), and then the loss rose
  :data:`BLOW_UP` times above its lowest, or the loss stopped being a number, or the
  ReLU units of a layer died (0 on every probe sample, so no gradient passes them
  again). One warning says so, with the rise and the units that died;
* what is left is judged on the newest observation, at most one warning a layer:
  an exploding gradient, dead ReLUs, saturated sigmoid or tanh units, updates far
  from the healthy ``1e-3`` of the weights.

So no layer is told two contradictory things (a signal that has vanished and an
update too large, say), and the verdict depends on the run, not on when it was
looked at: a run watched epoch by epoch and one run to its end say the same.

:class:`RunDiagnosis` keeps what it needs as the records come (a few numbers per
layer, whatever the run's length): feed it the telemetry's records
(:meth:`~RunDiagnosis.add`), and, where you have them, every step's update sizes
(:meth:`~RunDiagnosis.step`, a step observer's view) and each epoch's training loss
(:meth:`~RunDiagnosis.epoch`). :func:`diagnose` judges a list of records at once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nnscratch.core.observe import StepView
from nnscratch.core.telemetry import update_ratio_log10

#: A gradient under this share of the largest layer's has vanished.
VANISHED_SHARE = 1e-3
#: ... and one under this while the loss is above :data:`LEARNED`.
VANISHED_RMS = 1e-6
#: A loss at or below this has been learned: small gradients are then fine.
LEARNED = 1e-3
#: log10 of an update : weight ratio that is a blow-up's step (half the weights).
LARGE_STEP = math.log10(0.5)
#: A loss this many times above its lowest so far has blown up.
BLOW_UP = 10.0
#: A share of dead or saturated units worth a warning.
MOST = 0.5
#: A gradient RMS above this has exploded.
EXPLODED = 1e3
#: The healthy update : weight ratio's log10 lies between these (about -3 is typical).
UPDATES_HIGH, UPDATES_LOW = -1.0, -5.0
#: Weights whose RMS is under this are drawn too small for any usual width.
TINY_WEIGHTS = 0.03


@dataclass
class _Layer:
    """What the run has shown of one layer."""

    activation: str = ""
    output: bool = False
    newest: dict[str, Any] = field(default_factory=dict)
    # the gradient's vanishing: first and last epoch, and the worst observation
    vanished_from: int | None = None
    vanished_until: int | None = None
    vanished_now: bool = False
    worst: tuple[float, float, int] | None = None  # (share of the largest, RMS, epoch)
    first_weight_rms: float | None = None
    # dead units: the largest share, its epoch, and whether that came after a large step
    died: tuple[float, int] | None = None
    dead_before_large: float = 0.0


def _epoch(record: dict[str, Any]) -> int:
    """The record's epoch, counted from 1 as a person counts."""
    return int(record.get("epoch") or 0) + 1


def _layers_text(layers: list[int]) -> str:
    if len(layers) == 1:
        return f"layer {layers[0]}"
    if layers == list(range(layers[0], layers[-1] + 1)):
        return f"layers {layers[0]}–{layers[-1]}"
    return "layers " + ", ".join(map(str, layers))


class RunDiagnosis:
    """The run's warnings, judged on everything it was shown (see the module docs).

    Records of one network: pooled records (``"k": None``) of the first ensemble member
    (or of a lone network); others are ignored. Not thread-safe: one training thread
    feeds it."""

    def __init__(self) -> None:
        self.layers: dict[int, _Layer] = {}
        self.observed = 0  # observations (steps with records)
        self.newest_loss: float | None = None
        self._member: Any = ...
        self._lowest_loss = math.inf
        self.rise: tuple[float, int] | None = None  # (times the lowest, epoch): the worst
        self.non_finite_epoch: int | None = None
        self.large: tuple[float, int, int] | None = None  # (log10 ratio, layer, epoch): first
        self._epoch_losses = False
        self.vanished_first_step: int | None = None
        self.large_step: int | None = None

    # ------------------------------------------------------------------ feeding

    def step(self, view: StepView) -> None:
        """Every optimizer step (cheap: two norms a layer): the first update at least
        :data:`LARGE_STEP` of its weights."""
        if self.large is not None or not self._ours(view.member):
            return
        for layer in view.layers:
            ratio = update_ratio_log10(layer.update, layer.W)
            if ratio is not None and ratio >= LARGE_STEP:
                self.large = (ratio, layer.index, view.epoch + 1)
                self.large_step = view.step
                for state in self.layers.values():
                    state.dead_before_large = (state.newest or {}).get("dead_fraction", 0.0)
                return

    def epoch(self, epoch: int, train_loss: float | None) -> None:
        """Epoch ``epoch`` (0-based) ended with ``train_loss``: the loss's history comes
        from here rather than from the records' batches."""
        self._epoch_losses = True
        self._loss(train_loss, epoch + 1)

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        """Telemetry records (:mod:`nnscratch.core.telemetry`), in the order they were made."""
        by_step: dict[int, list[dict[str, Any]]] = {}
        for r in records:
            if r.get("k") is None and self._ours(r.get("member")):
                by_step.setdefault(r["step"], []).append(r)
        for step in sorted(by_step):
            self._observe(step, by_step[step])

    def _ours(self, member: Any) -> bool:
        if self._member is ...:
            self._member = member
        return member == self._member

    def _loss(self, loss: float | None, epoch: int) -> None:
        if loss is None:
            return
        if not math.isfinite(loss):
            self.non_finite_epoch = self.non_finite_epoch or epoch
            return
        self.newest_loss = loss
        if self._lowest_loss < math.inf and self._lowest_loss > 0:
            times = loss / self._lowest_loss
            if times >= BLOW_UP and (self.rise is None or times > self.rise[0]):
                self.rise = (times, epoch)
        self._lowest_loss = min(self._lowest_loss, loss)

    def _observe(self, step: int, records: list[dict[str, Any]]) -> None:
        self.observed += 1
        if not self._epoch_losses:
            self._loss(records[0].get("loss"), _epoch(records[0]))
        for r in records:  # a large update seen in the records (no step views given)
            ratio = r.get("update_ratio_log10")
            if self.large is None and ratio is not None and ratio >= LARGE_STEP:
                self.large = (ratio, r["layer"], _epoch(r))
                self.large_step = step
        largest = max(r["grad_rms"] for r in records)
        output = max(r["layer"] for r in records)
        learning = self.newest_loss is None or self.newest_loss > LEARNED
        for r in records:
            state = self.layers.setdefault(r["layer"], _Layer())
            state.activation, state.output, state.newest = r["activation"], r["layer"] == output, r
            if state.first_weight_rms is None:
                state.first_weight_rms = r.get("weight_rms")
            grad = r["grad_rms"]
            vanished = (
                largest > 0
                and grad > 0
                and (grad < VANISHED_SHARE * largest or (grad < VANISHED_RMS and learning))
            )
            if grad == 0 and state.vanished_from is not None and learning:
                vanished = True  # from tiny to nothing at all: still the same story
            state.vanished_now = vanished
            if vanished:
                epoch = _epoch(r)
                state.vanished_from = state.vanished_from or epoch
                state.vanished_until = epoch
                share = grad / largest if largest > 0 else 0.0
                if grad > 0 and (state.worst is None or share < state.worst[0]):
                    state.worst = (share, grad, epoch)
                if self.vanished_first_step is None:
                    self.vanished_first_step = step
            dead = r.get("dead_fraction") or 0.0
            after_large = self.large_step is not None and step >= self.large_step
            hidden_relu = not state.output and r["activation"] == "relu"
            if after_large and hidden_relu and (state.died is None or dead > state.died[0]):
                state.died = (dead, _epoch(r))

    # ------------------------------------------------------------------ the verdict

    def vanished(self) -> bool:
        """Whether the run's first trouble is a signal that vanished through depth."""
        if self.vanished_first_step is None:
            return False
        return (
            self.large_step is None
            or self.vanished_first_step <= self.large_step
            or (self._blow_up() is None)
        )

    def _blow_up(self) -> dict[str, Any] | None:
        """What a large step was followed by, or None where nothing came of it."""
        if self.large is None:
            return None
        killed = [
            (state.died[0], layer, state.died[1])
            for layer, state in sorted(self.layers.items())
            if state.died is not None
            and state.died[0] >= MOST
            and state.died[0] - state.dead_before_large >= 0.25
        ]
        if self.rise is None and self.non_finite_epoch is None and not killed:
            return None
        return {"killed": max(killed, default=None, key=lambda k: (k[0], -k[1]))}

    def warnings(self) -> list[dict[str, Any]]:
        """``{"layer", "kind", "message"}`` for each cause found (``layer``: the first
        layer it concerns, None for the whole network), each message ending with what to
        try; at most one warning concerns a layer."""
        if not self.layers:
            return []
        if self.vanished():
            vanishing = self._vanishing()
            covered = set(vanishing.pop("layers"))
            standing = self._standing(explained={"vanishing", "dead", "updates"})
            return [vanishing, *(w for w in standing if w["layer"] not in covered)]
        blow_up = self._blow_up()
        if blow_up is not None:  # one cause for the whole network
            return [self._learning_rate(blow_up)]
        return self._standing(explained=set())

    def _vanishing(self) -> dict[str, Any]:
        layers = [l for l, s in sorted(self.layers.items()) if s.vanished_from is not None]
        first = self.layers[layers[0]]
        share, grad, epoch = first.worst  # type: ignore[misc]
        told = f"{_layers_text(layers)}: the gradient vanished on its way back through the layers"
        told += f" — at epoch {epoch} layer {layers[0]}'s was {grad:.0e}"
        if share < VANISHED_SHARE:
            told += f" ({share:.0e} of the largest layer's)"
        newest = _epoch(first.newest)
        until = max(s.vanished_until or 0 for s in self.layers.values())
        if any(s.vanished_now for s in self.layers.values()):
            if any(s.newest["grad_rms"] == 0 for s in self.layers.values()):
                told += f"; at epoch {newest} no gradient reaches some layers at all"
            elif newest > epoch:
                told += f"; still so at epoch {newest}"
        else:
            told += f"; it recovered after epoch {until}, having barely learned till then"
        causes = []
        tiny = [l for l in layers if (self.layers[l].first_weight_rms or 1.0) < TINY_WEIGHTS]
        if tiny:
            rms = self.layers[tiny[0]].first_weight_rms
            causes.append(
                f"the weights started tiny (RMS {rms:.2g}: the naive small initialisation?)"
            )
        if first.activation in ("sigmoid", "tanh"):
            slope = "1/4" if first.activation == "sigmoid" else "1"
            causes.append(f"{first.activation}'s slope (at most {slope}) shrinks it every layer")
        if first.activation == "relu" and tiny:
            causes.append("ReLUs fed the same tiny signal for every sample look dead")
        if causes:
            told += ". Cause: " + "; ".join(causes)
        told += ". Try He initialisation (ReLU) or Glorot (tanh, sigmoid), ReLU, or fewer layers"
        return {"layer": layers[0], "kind": "vanishing", "message": told, "layers": layers}

    def _learning_rate(self, blow_up: dict[str, Any]) -> dict[str, Any]:
        ratio, layer, epoch = self.large  # type: ignore[misc]
        parts = []
        if self.rise is not None:
            parts.append(f"the loss rose {self.rise[0]:.0f}× at epoch {self.rise[1]}")
        if self.non_finite_epoch is not None:
            parts.append(f"the loss stopped being a number at epoch {self.non_finite_epoch}")
        if not parts:
            parts.append(
                f"an update at epoch {epoch} moved layer {layer}'s weights by "
                f"{10**ratio:.2g}× their size"
            )
        killed = blow_up["killed"]
        if killed is not None:
            share, where, _ = killed
            parts.append(f"{share:.0%} of layer {where}'s units died".replace("%", " %"))
        stuck = all(s.newest["grad_rms"] == 0 for s in self.layers.values())
        told = "learning rate too large: " + " and ".join(parts)
        if stuck:
            told += "; no gradient reaches any layer now"
        told += ". Try a learning rate 10× smaller"
        return {
            "layer": None if killed is None else killed[1],
            "kind": "learning_rate",
            "message": told,
        }

    def _standing(self, explained: set[str]) -> list[dict[str, Any]]:
        """At most one warning a layer, from its newest observation, for what no cause
        above explains."""
        out = []
        learning = self.newest_loss is None or self.newest_loss > LEARNED
        for l, state in sorted(self.layers.items()):
            r = state.newest
            hidden = not state.output
            ratio = r.get("update_ratio_log10")
            dead = r.get("dead_fraction") or 0.0
            saturated = r.get("saturated_fraction") or 0.0
            said = None
            if r["grad_rms"] > EXPLODED:
                said = (
                    "exploding",
                    f"gradient RMS {r['grad_rms']:.0e}: the signal has exploded. "
                    "Try a smaller learning rate, He initialisation, or L2",
                )
            elif "vanishing" not in explained and state.vanished_now:
                pass  # reported by the run's vanishing warning
            elif "dead" not in explained and hidden and state.activation == "relu" and dead >= MOST:
                said = (
                    "dead",
                    f"{dead:.0%} of its ReLUs are dead (0 on every probe sample): they pass "
                    "no gradient and no longer learn. Try leaky ReLU, He initialisation or a "
                    "smaller learning rate",
                )
            elif hidden and saturated >= MOST and "vanishing" not in explained:
                said = (
                    "saturated",
                    f"{saturated:.0%} of its {state.activation} units are saturated (|Z| > 4), "
                    "where the slope is nearly 0. Try Glorot initialisation or ReLU",
                )
            elif "updates" in explained or ratio is None:
                pass
            elif ratio > UPDATES_HIGH:
                said = (
                    "large_updates",
                    f"updates are 10^{ratio:.1f} of the weights (healthy: about 10^-3). "
                    "Try a smaller learning rate",
                )
            elif ratio < UPDATES_LOW and learning and r["grad_rms"] > 0:
                said = (
                    "small_updates",
                    f"updates are 10^{ratio:.1f} of the weights (healthy: about 10^-3): "
                    "barely learning. Try a larger learning rate",
                )
            if said is not None:
                kind, message = said
                message = message.replace("%", " %")
                out.append({"layer": l, "kind": kind, "message": f"layer {l}: {message}"})
        return out


def diagnose(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The warnings for a run's ``records`` judged together (see :class:`RunDiagnosis`)."""
    diagnosis = RunDiagnosis()
    diagnosis.add(records)
    return diagnosis.warnings()
