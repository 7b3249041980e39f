"""Per-layer telemetry: what each layer does while the network learns.

:class:`Telemetry` is a step observer (:mod:`nnscratch.core.observe`). Every
``every`` optimizer steps it runs a fixed **probe batch** through the network
as it is now (so the figures are comparable over time) and records, for every
layer ``l``::

    z_mean, z_std          of Z[l] on the probe
    act_mean, act_std      of A[l] on the probe
    dead_fraction          share of units whose A is 0 on every probe sample (dead ReLUs)
    saturated_fraction     share of a sigmoid's or tanh's Z[l] entries with |Z| > 4
    hist                   counts of A[l] in the fixed bins HIST_EDGES (outside: the end bins)
    weight_rms             RMS of W[l]
    grad_rms               RMS of dW[l] on the training batch
    update_ratio_log10     log10(RMS(ΔW[l]) / RMS(W[l])), ΔW the optimizer's actual step
                           (about -3 is healthy; None where there was no step)

A TabM network's members are pooled (``"k": None``); with ``per_member`` each of
its ``K`` members also gets its own record (``"k": 0..K-1``). ``"member"`` is
the estimator's ensemble member, where several train. Records are plain
dicts of JSON values, one per layer per observed step.

It records the first optimizer step and the last one of every run, whatever
the cadence (the two a user most needs). A run too short for ``every`` to take
:data:`MIN_RECORDS` records (the default cadence never fires in a run of fewer
than 100 steps) is recorded evenly instead, about :data:`MIN_RECORDS` times, and
the telemetry says so (``notes``, and ``say`` where given).

The probe is given in the user layout ``(m, n[0])`` (transposed once, at the
network's entrance), or, by default, the first ``probe_rows`` samples of the run's
first batch (a full batch: never an epoch's short last one), kept from then on.

What the records say, in plain words and with a cause, is :mod:`nnscratch.core.diagnosis`'s
(``diagnose``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from nnscratch.core.network import to_network_layout
from nnscratch.core.observe import LayerView, StepView

#: The histogram's fixed bin edges: 32 bins over [-4, 4].
HIST_EDGES = np.linspace(-4.0, 4.0, 33)
#: Steps between records by default: on the default recipe (two TabM networks of k = 16,
#: batch 256) a record costs about one training step, so recording every 100th step cost a
#: median 2.5 % of the wall time (``benchmarks/telemetry_overhead.py``; 2-core AMD EPYC,
#: OpenBLAS SkylakeX kernels).
DEFAULT_EVERY = 100
#: A run whose cadence would take fewer records than this is recorded evenly instead.
MIN_RECORDS = 10
#: Activations whose |Z| > SATURATION leaves a gradient under 2 % of its largest.
SATURATING = ("sigmoid", "tanh")
SATURATION = 4.0

#: The keys every record has, in order.
KEYS = (
    "step",
    "epoch",
    "member",
    "k",
    "layer",
    "activation",
    "loss",
    "z_mean",
    "z_std",
    "act_mean",
    "act_std",
    "dead_fraction",
    "saturated_fraction",
    "hist",
    "weight_rms",
    "grad_rms",
    "update_ratio_log10",
)


def rms(a: np.ndarray | None) -> float:
    """Root mean square, in float64 (0 for an empty array)."""
    if a is None or a.size == 0:
        return 0.0
    flat = np.asarray(a, dtype=np.float64).ravel()
    return float(math.sqrt(np.dot(flat, flat) / flat.size))


def update_ratio_log10(update: np.ndarray | None, W: np.ndarray) -> float | None:
    """``log10(RMS(ΔW) / RMS(W))``, or None where it is not a finite number."""
    step, weights = rms(update), rms(W)
    if update is None or step == 0 or weights == 0:
        return None
    return math.log10(step / weights)


def activation_figures(Z: np.ndarray, A: np.ndarray, activation: str) -> dict[str, Any]:
    """The probe's figures for one layer (or one TabM member of it). ``Z`` and ``A`` are
    ``(n, m)`` or ``(n, K, m)``: samples last."""
    Z64, A64 = np.asarray(Z, dtype=np.float64), np.asarray(A, dtype=np.float64)
    saturated = float(np.mean(np.abs(Z64) > SATURATION)) if activation in SATURATING else 0.0
    hist, _ = np.histogram(np.clip(A64, HIST_EDGES[0], HIST_EDGES[-1]), bins=HIST_EDGES)
    return {
        "z_mean": float(Z64.mean()),
        "z_std": float(Z64.std()),
        "act_mean": float(A64.mean()),
        "act_std": float(A64.std()),
        "dead_fraction": float(np.mean(np.all(A64 == 0, axis=-1))),
        "saturated_fraction": saturated,
        "hist": hist.tolist(),
    }


class Telemetry:
    """A step observer that records every layer's figures every ``every`` steps, and at
    each run's first and last step (see the module docs). ``records`` holds them;
    ``on_records(list)``, if given, is called with each step's records as they are made
    (a live page streams them). ``notes`` holds what it said about its cadence, also
    passed to ``say`` where given. Thread-safe: members trained side by side may share
    one."""

    #: shown each run's first and last step, whatever the cadence (see StepObserver)
    ends = True

    def __init__(
        self,
        every: int = DEFAULT_EVERY,
        *,
        probe: np.ndarray | None = None,
        probe_rows: int = 256,
        per_member: bool = False,
        on_records: Callable[[list[dict[str, Any]]], None] | None = None,
        say: Callable[[str], None] | None = None,
    ) -> None:
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        if probe_rows < 1:
            raise ValueError(f"probe_rows must be >= 1, got {probe_rows}")
        self.every, self.probe_rows, self.per_member = every, probe_rows, per_member
        self.on_records, self.say = on_records, say
        self.records: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self._user_probe = None if probe is None else np.asarray(probe)
        self._probes: dict[int | None, np.ndarray] = {}  # per member: the probe, network layout
        self._lock = threading.Lock()

    def cadence(self, steps: int, member: int | None) -> int:
        """Steps between two records in a run of ``steps`` optimizer steps: ``every``, or,
        where that takes fewer than :data:`MIN_RECORDS` records, the run's steps evenly
        (and a note that says so, once)."""
        if steps // self.every >= MIN_RECORDS:
            return self.every
        even = max(1, steps // MIN_RECORDS)
        note = (
            f"telemetry: every {self.every} steps would record {steps // self.every} time(s) "
            f"in this run of {steps} steps; recording every {even} step(s) instead, the "
            "first and the last included"
        )
        with self._lock:
            if note in self.notes:
                return even
            self.notes.append(note)
        if self.say is not None:
            self.say(note)
        return even

    def in_order(self) -> list[dict[str, Any]]:
        """The records by ensemble member, step, layer, then TabM member (pooled first):
        members trained side by side record in the order their threads reach a step."""
        with self._lock:
            records = list(self.records)
        return sorted(
            records,
            key=lambda r: (
                r["member"] or 0,
                r["step"],
                r["layer"],
                -1 if r["k"] is None else r["k"],
            ),
        )

    def probe_for(self, view: StepView) -> np.ndarray:
        """The probe of ``view``'s member in the network layout: the one given, or the first
        ``probe_rows`` samples of the first batch it is asked for (kept from then on)."""
        probe = self._probes.get(view.member)
        if probe is None:
            dtype = view.inputs.dtype
            if self._user_probe is not None:
                probe = to_network_layout(self._user_probe, dtype)
            else:
                probe = np.array(view.inputs[:, : self.probe_rows], dtype=dtype)
            self._probes[view.member] = probe
        return probe

    def on_step(self, view: StepView) -> None:
        traced = view.trace(self.probe_for(view))
        made = []
        for layer, (Z, A) in zip(view.layers, traced, strict=True):
            made += self._layer_records(view, layer, Z, A)
        with self._lock:
            self.records.extend(made)
        if self.on_records is not None:
            self.on_records(made)

    def _layer_records(
        self, view: StepView, layer: LayerView, Z: np.ndarray, A: np.ndarray
    ) -> list[dict[str, Any]]:
        """The layer's pooled record, then (TabM, ``per_member``) one per member."""
        shared = {
            "weight_rms": rms(layer.W),
            "grad_rms": rms(layer.dW),
            "update_ratio_log10": update_ratio_log10(layer.update, layer.W),
        }
        place = {"step": view.step, "epoch": view.epoch, "member": view.member}
        figures = activation_figures(Z, A, layer.activation)
        out = [
            {
                **place,
                "k": None,
                "layer": layer.index,
                "activation": layer.activation,
                "loss": view.loss,
                **figures,
                **shared,
            }
        ]
        if self.per_member and Z.ndim == 3:
            for k in range(Z.shape[1]):
                figures = activation_figures(Z[:, k], A[:, k], layer.activation)
                out.append({**out[0], "k": k, **figures})
        return [{key: record[key] for key in KEYS} for record in out]
