"""An ensemble of fitted models of one kind: the weighted mean of their network outputs.

``nnscratch tune`` picks the members and their weights (greedy ensemble selection over
the search's out-of-fold predictions) and saves them here, in one model file that
``predict``, ``evaluate``, ``serve`` and ``export`` take as they take any model::

    PopularityEnsemble    PopularityModel members     rows in, points out
    ClassifierEnsemble    TabularClassifier members   rows in, labels and probabilities out
    DigitEnsemble         DigitModel members          images in, digits out

An ensemble *is* a model of its members' kind: it reads a file or a request as they do,
and answers as they do (its ``serving`` is theirs), from network outputs it takes from
its members instead of from one estimator::

    outputs(X) = Σᵢ wᵢ · outputsᵢ(Xᵢ)            wᵢ ≥ 0,  Σᵢ wᵢ = 1

``X`` is what the kind reads before anything a member chose for itself: a table's
scaled rows (before each member's piecewise-linear encoding, its ``Xᵢ``), or an image's
pixels (each member's own test-time augmentation happens inside its ``outputsᵢ``). A
number's outputs are averaged before the clip to the target's range; classes' outputs
are probabilities, and their mean is one. The first member lends what they all share
and must share (checked): the features, scalers and one-hot levels, the classes and the
decision threshold, the image shape, the dtype.

File: each member's arrays under ``member<i>.``, and in the metadata under
``"ensemble"``: the weights and each member's own metadata, so each member is read back
by its own kind's :meth:`~nnscratch.models.wraps_estimator.WrapsEstimator.from_arrays`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from nnscratch.core.training import History
from nnscratch.errors import ModelFileError
from nnscratch.models.digit_model import DigitModel
from nnscratch.models.onnx_export import EnsembleExport
from nnscratch.models.persistence import ArraySpec, read_model_file, write_model_file
from nnscratch.models.popularity_model import PopularityModel
from nnscratch.models.table_classifier import TabularClassifier

#: How far the weights may sum from 1 before they are refused (rather than rescaled).
WEIGHT_TOLERANCE = 1e-6


@dataclass
class Ensemble:
    """Fitted models of one kind and their weights: what the three kinds of ensemble share
    (see the module doc). A subclass is also a model of its members' kind, which comes
    after this class among its bases, so that these methods come first."""

    members: list[Any] = field(kw_only=True)
    weights: np.ndarray = field(kw_only=True)

    #: the kind of model the members are
    member_type: ClassVar[Any]

    @classmethod
    def of(cls, members: list[Any], weights: Any) -> Any:
        """The ensemble of ``members`` (of :attr:`member_type`) with ``weights`` (one per
        member, at least 0, summing to 1); ``ValueError`` saying what is wrong."""
        w = np.asarray(weights, dtype=np.float64)
        if not members or w.shape != (len(members),):
            raise ValueError(f"{len(members)} member(s) need as many weights, got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1) > WEIGHT_TOLERANCE:
            raise ValueError(f"weights must be at least 0 and sum to 1, got {w.tolist()}")
        kinds = {type(m).__name__ for m in members} - {cls.member_type.__name__}
        if kinds:
            raise ValueError(f"an ensemble of {cls.member_type.__name__}s, not {sorted(kinds)}")
        return cls._head(members, w / w.sum())

    @classmethod
    def _head(cls, members: list[Any], weights: np.ndarray) -> Any:
        """The ensemble, its first member lending what they share (checked)."""
        raise NotImplementedError

    def member_inputs(self, member: Any, X: np.ndarray) -> np.ndarray:
        """A member's network inputs from what the ensemble reads (the same, unless the
        member encodes them its own way)."""
        return X

    def network_outputs(self, X: np.ndarray) -> np.ndarray:
        """``Σᵢ wᵢ · outputsᵢ(Xᵢ)`` ``(n, n_outputs)`` float64 (see the module doc)."""
        total = np.zeros(0)
        for i, (w, member) in enumerate(zip(self.weights, self.members, strict=True)):
            outputs = w * member.network_outputs(self.member_inputs(member, X))
            total = outputs if i == 0 else total + outputs
        return total

    @property
    def history(self) -> History:
        """The training history of the member with the largest weight."""
        return self.members[int(np.argmax(self.weights))].history

    @property
    def n_members(self) -> int:
        """Every network of every member."""
        return sum(member.n_members for member in self.members)

    @property
    def export(self) -> EnsembleExport:
        """The members' graphs in one: their networks' outputs weighted and summed."""
        return EnsembleExport([m.export for m in self.members], self.weights.tolist())

    def describe(self) -> dict[str, Any]:
        """The first member's description, then the ensemble: each member's weight and
        networks."""
        described = super().describe()  # type: ignore[misc]
        members = [
            {"weight": float(w), **member.estimator.describe()}
            for w, member in zip(self.weights, self.members, strict=True)
        ]
        return described | {"ensemble": {"members": members}}

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Every member's arrays and metadata in one model file (atomic, no pickle)."""
        arrays: dict[str, np.ndarray] = {}
        section: dict[str, Any] = {"weights": self.weights.tolist(), "members": []}
        for i, member in enumerate(self.members):
            member_arrays, member_meta = member.to_arrays()
            arrays |= {f"member{i}.{name}": a for name, a in member_arrays.items()}
            section["members"].append(member_meta)
        return write_model_file(path, arrays, {"task": self.members[0].task, "ensemble": section})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read an ensemble written by :meth:`save`, each member checked by its own kind."""
        arrays, meta = read_model_file(path, cls._expected_arrays)
        section = meta["ensemble"]
        members = []
        for i, member_meta in enumerate(section["members"]):
            prefix = f"member{i}."
            own = {k.removeprefix(prefix): a for k, a in arrays.items() if k.startswith(prefix)}
            members.append(cls.member_type.from_arrays(own, member_meta, f"{path}: member {i}"))
        try:
            return cls.of(members, section["weights"])
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from exc

    @classmethod
    def _expected_arrays(cls, meta: dict[str, Any]) -> dict[str, ArraySpec]:
        """Every member's arrays, as its estimator's class expects them, under its prefix."""
        members = meta["ensemble"]["members"]
        if not isinstance(members, list) or not members:
            raise ValueError("an ensemble's file lists no members")
        expected = cls.member_type.estimator_class.expected_arrays
        return {
            f"member{i}.{name}": spec
            for i, member_meta in enumerate(members)
            for name, spec in expected(member_meta).items()
        }


def _same_rows(members: list[Any]) -> Any:
    """The first member's feature stage without its encoding, which every member's must
    match: the features, scalers and one-hot levels (each then encodes its own way)."""
    pre = members[0].preprocessing
    for i, member in enumerate(members[1:], start=1):
        other = member.preprocessing
        same = (
            other.features == pre.features
            and other.target == pre.target
            and np.array_equal(other.x_scaler.scale_, pre.x_scaler.scale_)
            and np.array_equal(other.x_scaler.min_, pre.x_scaler.min_)
            and [c.to_dict() for c in other.categories] == [c.to_dict() for c in pre.categories]
        )
        if not same:
            raise ValueError(f"member {i} reads its rows otherwise than member 0")
    return replace(pre, encoder=None)


@dataclass
class PopularityEnsemble(Ensemble, PopularityModel):
    """Popularity models (or of any number in a table) averaged."""

    member_type = PopularityModel

    @classmethod
    def _head(cls, members: list[Any], weights: np.ndarray) -> PopularityEnsemble:
        head = members[0]
        pre = replace(_same_rows(members), y_scaler=head.preprocessing.y_scaler)
        for i, member in enumerate(members[1:], start=1):
            scaler = member.preprocessing.y_scaler
            if not np.array_equal(scaler.scale_, pre.y_scaler.scale_):
                raise ValueError(f"member {i} scales the target otherwise than member 0")
        return cls(pre, head.estimator, members=members, weights=weights)

    def member_inputs(self, member: Any, X: np.ndarray) -> np.ndarray:
        return member.preprocessing.encode(X)

    def predict_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """``Σᵢ wᵢ`` · member i's scaled outputs ``(n,)``, before the clip."""
        total = np.zeros(len(X_scaled))
        for w, member in zip(self.weights, self.members, strict=True):
            total += w * member.predict_scaled(X_scaled)
        return total


@dataclass
class ClassifierEnsemble(Ensemble, TabularClassifier):
    """Table classifiers' probabilities averaged."""

    member_type = TabularClassifier

    @classmethod
    def _head(cls, members: list[Any], weights: np.ndarray) -> ClassifierEnsemble:
        head = members[0]
        for i, member in enumerate(members[1:], start=1):
            if not np.array_equal(member.classes_, head.classes_):
                raise ValueError(f"member {i} has other classes than member 0")
        return cls(_same_rows(members), head.estimator, members=members, weights=weights)

    def member_inputs(self, member: Any, X: np.ndarray) -> np.ndarray:
        return member.preprocessing.encode(X)

    def predict_proba_scaled(self, X_scaled: np.ndarray) -> np.ndarray:
        """``Σᵢ wᵢ`` · member i's probabilities ``(n, n_classes)``."""
        total = np.zeros((len(X_scaled), len(self.classes_)))
        for w, member in zip(self.weights, self.members, strict=True):
            total += w * member.predict_proba_scaled(X_scaled)
        return total


@dataclass
class DigitEnsemble(Ensemble, DigitModel):
    """Digit classifiers' probabilities averaged (each with its own test-time
    augmentation)."""

    member_type = DigitModel

    @classmethod
    def _head(cls, members: list[Any], weights: np.ndarray) -> DigitEnsemble:
        head = members[0]
        for i, member in enumerate(members[1:], start=1):
            if member.image_shape != head.image_shape:
                raise ValueError(f"member {i} reads other images than member 0")
            if not np.array_equal(member.classes_, head.classes_):
                raise ValueError(f"member {i} has other classes than member 0")
        return cls(head.estimator, head.image_shape, False, members=members, weights=weights)


#: The ensemble of each kind of fitted model.
ENSEMBLES: dict[Any, Any] = {
    PopularityModel: PopularityEnsemble,
    TabularClassifier: ClassifierEnsemble,
    DigitModel: DigitEnsemble,
}


def ensemble_of(members: list[Any], weights: Any) -> Any:
    """The ensemble of fitted models of one kind, with their weights (summing to 1)."""
    kind = ENSEMBLES.get(type(members[0])) if members else None
    if kind is None:
        raise ValueError(f"no ensemble of {type(members[0]).__name__ if members else 'nothing'}")
    return kind.of(members, weights)
