"""The classifier: the same from-scratch network with a softmax (or sigmoid) output.

:class:`MLPClassifier` is :class:`~nnscratch.models.regressor.MLPRegressor`'s sibling,
as in scikit-learn. Labels of any type become one-hot targets ``Y``
``(K, m)`` in the network layout; the output layer is softmax with
cross-entropy for ``K ≥ 3`` classes, one sigmoid unit with binary
cross-entropy for two, both from the loss table
(:data:`nnscratch.core.losses.LOSSES`), where ``dZ[L] = (A - Y) / m``.

``predict_proba`` averages the members' probabilities; ``predict`` is the
most probable class; ``score`` is accuracy. Model files record the classes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nnscratch.core.network import InputExpansion
from nnscratch.core.training import BatchTransform
from nnscratch.data.augment import AUGMENTATIONS, augmentation
from nnscratch.models.base import MLPBase
from nnscratch.models.onnx_export import estimator_graph

#: dtypes a class label may have in a model file (JSON holds the values).
#: ``scoring`` → what the training loop monitors for early stopping.
_MONITORS = {"loss": "val_loss", "accuracy": "val_accuracy"}

_LABEL_KINDS = {"i": "int64", "u": "int64", "b": "bool", "f": "float64", "U": "str", "O": "str"}


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_samples,)`` integer labels ``0..K-1`` → ``(n_samples, K)`` one-hot float64 rows.

    >>> one_hot(np.array([2, 0]), 3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def most_probable(
    proba: np.ndarray, classes: np.ndarray, threshold: float | None = None
) -> np.ndarray:
    """The class of each row's highest probability, ``(n,)`` (the first one on ties); with
    a ``threshold`` (two classes), the second class where its probability is ``≥ threshold``."""
    if threshold is not None:
        return np.asarray(classes)[(np.asarray(proba)[:, 1] >= threshold).astype(np.intp)]
    return np.asarray(classes)[np.argmax(proba, axis=1)]


def f1_threshold(p: np.ndarray, positive: np.ndarray) -> float:
    """The threshold on the second class's probability ``p`` ``(n,)`` that maximises the
    macro-F1 of ``p ≥ threshold`` against ``positive`` ``(n,)`` (bool): every distinct
    ``p`` is a candidate; the threshold is halfway to the next lower one."""
    order = np.argsort(-p, kind="stable")
    p, positive = p[order], positive[order].astype(np.float64)
    last = np.r_[p[1:] != p[:-1], True]  # the last row of each run of equal p
    tp, fp = np.cumsum(positive)[last], np.cumsum(1 - positive)[last]
    fn, tn = positive.sum() - tp, (1 - positive).sum() - fp
    with np.errstate(invalid="ignore", divide="ignore"):
        f1_pos = np.nan_to_num(2 * tp / (2 * tp + fp + fn))
        f1_neg = np.nan_to_num(2 * tn / (2 * tn + fn + fp))
    best = int(np.argmax(f1_pos + f1_neg))
    values = p[last]
    below = values[best + 1] if best + 1 < len(values) else values[best]
    return float((values[best] + below) / 2)


class MLPClassifier(ClassifierMixin, MLPBase):
    """A multi-layer perceptron classifier trained with mini-batch gradient methods.

    Parameters are :class:`~nnscratch.models.regressor.MLPRegressor`'s (``k`` and
    ``n_jobs`` included), less ``output_activation`` (softmax for three or more classes, sigmoid for
    two), plus ``scoring``: what early stopping watches on the validation
    data, ``"loss"`` (the log-loss, lower is better; the default) or
    ``"accuracy"`` (higher is better), as in scikit-learn's
    ``HistGradientBoostingClassifier``. Either way the best epoch's weights
    are restored.

    ``class_weight`` weighs each class's samples as scikit-learn spells it: ``None``
    (every sample 1), ``"balanced"`` (``n_samples / (n_classes · count(class))``, so
    every class weighs the same in the loss) or a dict ``{class: weight}``; it
    multiplies any ``sample_weight`` given to :meth:`fit`.

    ``threshold`` (two classes only) decides the label from the second class's probability
    ``p``: ``None`` (the most probable class: ``p > 0.5``), a number (``p ≥ threshold``),
    or ``"tuned"``: the threshold that maximises macro-F1 on the validation data, as
    scikit-learn's ``TunedThresholdClassifierCV`` does on its folds. With
    ``class_weight="balanced"`` the probabilities are those of a balanced world, so the
    plain rule over-predicts the rare class; tuning puts the cut where it pays.

    ``augment`` distorts each training batch afresh every epoch when the rows are images
    with pixels in [0, 1]: ``"none"`` (the default), ``"shift"``, ``"affine"`` or
    ``"elastic"`` (:mod:`nnscratch.data.augment`, sizes set for 28 × 28 and scaled with
    the image). The images are ``image_shape`` ``(rows, cols)``, or squares the size of
    the features when it is ``None``. Validation data and predictions are never distorted.

    Fitted attributes: ``classes_`` (sorted, any label type), ``n_outputs_``
    (``K`` for ``K ≥ 3`` classes, 1 for two), ``threshold_`` (the threshold used, or
    ``None`` for the most probable class) and the regressor's.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (64, 32, 16),
        activation: str = "relu",
        init: str = "he",
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        lr_schedule: str = "constant",
        batch_size: int | None = 256,
        epochs: int = 200,
        max_steps: int | None = None,
        l2: float = 0.0,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        min_delta: float = 0.0,
        scoring: str = "loss",
        class_weight: dict[Any, float] | str | None = None,
        threshold: float | str | None = None,
        n_members: int = 1,
        k: int = 1,
        n_jobs: int | None = None,
        dtype: str | type | np.dtype = "float32",
        random_state: int | None = None,
        verbose: bool = False,
        augment: str = "none",
        image_shape: tuple[int, int] | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.max_steps = max_steps
        self.l2 = l2
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.scoring = scoring
        self.class_weight = class_weight
        self.threshold = threshold
        self.n_members = n_members
        self.k = k
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose
        self.augment = augment
        self.image_shape = image_shape

    # ------------------------------------------------------------------ classification

    def _check_params(self) -> None:
        super()._check_params()
        if self.scoring not in _MONITORS:
            raise ValueError(
                f"scoring must be {' or '.join(map(repr, _MONITORS))}, got {self.scoring!r}"
            )
        t = self.threshold
        if not (t is None or t == "tuned" or (isinstance(t, float | int) and 0 < t < 1)):
            raise ValueError(f"threshold must be None, 'tuned' or in (0, 1), got {t!r}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(
                f"augment must be one of {', '.join(AUGMENTATIONS)}, got {self.augment!r}"
            )

    def _batch_transform(self) -> BatchTransform | None:
        """The augmentation of each training batch (``augment``) for images of
        ``image_shape``, or of a square the size of the features when it is ``None``."""
        if self.augment == "none":
            return None
        shape = self.image_shape
        if shape is None:
            side = math.isqrt(self.n_features_in_)
            if side * side != self.n_features_in_:
                raise ValueError(
                    f"augment={self.augment!r} needs image_shape: {self.n_features_in_} "
                    "features are not a square image"
                )
            shape = (side, side)
        elif int(shape[0]) * int(shape[1]) != self.n_features_in_:
            raise ValueError(
                f"image_shape {tuple(shape)} has {int(shape[0]) * int(shape[1])} pixels, "
                f"but X has {self.n_features_in_} features"
            )
        return augmentation(self.augment, (int(shape[0]), int(shape[1])))

    def _after_fit(
        self,
        validation: tuple[np.ndarray, np.ndarray, Any] | None,
        expand: InputExpansion | None = None,
    ) -> None:
        """``threshold_``: ``threshold`` as given, or tuned on the validation data."""
        self.threshold_ = None
        if self.threshold is None:
            return
        if self.threshold != "tuned":
            self.threshold_ = float(self.threshold)
            return
        if validation is None:
            raise ValueError("threshold='tuned' needs validation data: eval_set or early_stopping")
        X_val, Y_val, _ = validation
        p = self.predict_outputs(X_val, expand=expand)[:, 0]
        self.threshold_ = f1_threshold(p, Y_val[:, 0] == 1)

    def _monitor(self) -> str:
        return _MONITORS[self.scoring]

    def _sample_weights(
        self, X: np.ndarray, y: np.ndarray, sample_weight: Any
    ) -> np.ndarray | None:
        """``sample_weight`` times the weight of each sample's class (``class_weight``)."""
        if self.class_weight is None:
            return super()._sample_weights(X, y, sample_weight)
        by_class = compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            by_class = by_class * _check_sample_weight(sample_weight, X, dtype=np.float64)
        return super()._sample_weights(X, y, by_class)

    def _validate_targets(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], reset=reset)
        check_classification_targets(y)
        if reset and not getattr(self, "_classes_given", False):
            self.classes_ = np.unique(y)
        self._classes_given = False
        if len(self.classes_) < 2:
            raise ValueError(
                f"MLPClassifier needs at least 2 classes; got 1 class: {self.classes_.tolist()}"
            )
        if self.threshold is not None and len(self.classes_) != 2:  # before any training
            raise ValueError(
                f"threshold applies to two classes; the target has {len(self.classes_)}"
            )
        if self.augment != "none" and len(X) and (X.min() < 0 or X.max() > 1):
            raise ValueError(
                f"augment={self.augment!r} distorts pixels in [0, 1]; X holds values from "
                f"{X.min():g} to {X.max():g} (divide by the largest pixel value first)"
            )
        return X, y

    def _encode(self, y: np.ndarray) -> np.ndarray:
        labels = np.searchsorted(self.classes_, y)
        labels = np.clip(labels, 0, len(self.classes_) - 1)
        unknown = self.classes_[labels] != y
        if np.any(unknown):
            raise ValueError(
                f"labels {np.unique(np.asarray(y)[unknown]).tolist()[:5]} are not among "
                f"the classes {self.classes_.tolist()}"
            )
        if len(self.classes_) == 2:
            return labels.reshape(-1, 1).astype(np.float64)
        return one_hot(labels, len(self.classes_))

    def _head(self) -> tuple[str, str]:
        binary = len(self.classes_) == 2
        return ("sigmoid", "binary_cross_entropy") if binary else ("softmax", "cross_entropy")

    def _extra_metadata(self) -> dict[str, Any]:
        kind = _LABEL_KINDS.get(self.classes_.dtype.kind, "str")
        values = self.classes_.astype(kind).tolist() if kind != "str" else self.classes_.astype(str)
        threshold = getattr(self, "threshold_", None)
        return {"classes": list(values), "classes_dtype": kind, "threshold": threshold}

    def _restore_extra(self, meta: dict[str, Any]) -> None:
        kind = meta.get("classes_dtype", "str")
        if kind not in set(_LABEL_KINDS.values()):
            raise ValueError(f"unknown label type {kind!r}")
        self.classes_ = np.asarray(meta["classes"], dtype=kind)
        threshold = meta.get("threshold")  # files before thresholds: the most probable class
        self.threshold_ = None if threshold is None else float(threshold)

    # ------------------------------------------------------------------ public API

    def _validation_weights(self, y: np.ndarray, y_val: np.ndarray) -> np.ndarray | None:
        """The class weights the training labels ``y`` give, on the validation labels."""
        if self.class_weight is None:
            return None
        by_class = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
        position = np.clip(np.searchsorted(self.classes_, y_val), 0, len(self.classes_) - 1)
        return by_class[position]

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> MLPClassifier:
        """One more epoch on ``(X, y)``; the first call needs every class in ``classes``."""
        if not hasattr(self, "networks_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            self.classes_ = np.unique(np.asarray(classes))
            self._classes_given = True
        return self._partial_fit(X, y)

    def predict_proba(self, X: Any, *, block_width: int | None = None) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order
        (``block_width``: as :meth:`MLPRegressor.predict`'s)."""
        return self.proba_from_outputs(self.predict_outputs(X, block_width))

    def proba_from_outputs(self, outputs: np.ndarray) -> np.ndarray:
        """Class probabilities from the networks' mean outputs ``(n, n_outputs)``: the
        softmax's as they are, one sigmoid unit's as ``(1 - p, p)``."""
        return np.hstack([1.0 - outputs, outputs]) if len(self.classes_) == 2 else outputs

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log`` of :meth:`predict_proba` (``-inf`` where a probability is 0, as
        scikit-learn's classifiers give it)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row (or the class ``threshold_`` picks),
        ``(n_samples,)``, of ``classes_``'s type."""
        return self.labels_from_proba(self.predict_proba(X))

    def labels_from_proba(self, proba: np.ndarray) -> np.ndarray:
        """The labels :meth:`predict` gives for class probabilities ``(n, n_classes)``."""
        return most_probable(proba, self.classes_, self.decision_threshold)

    def display_name(self) -> str:
        """The base name, and the decision threshold where there is one."""
        t = self.decision_threshold
        return super().display_name() + ("" if t is None else f" (threshold {t:.2f})")

    @property
    def decision_threshold(self) -> float | None:
        """The threshold labels are decided by: ``threshold_`` after :meth:`fit`; a number
        given as ``threshold`` also for a model trained by ``partial_fit`` only (which has no
        validation data to tune on); otherwise ``None``, the most probable class."""
        if hasattr(self, "threshold_"):
            return self.threshold_
        return None if self.threshold in (None, "tuned") else float(self.threshold)

    def to_onnx(self) -> Any:
        """The fitted networks as an ONNX ``ModelProto``: input ``X`` ``(rows,
        n_features_in_)``, outputs ``label`` and ``probabilities``; needs the ``onnx``
        extra (see :mod:`nnscratch.models.onnx_export`)."""
        check_is_fitted(self, "networks_")
        return estimator_graph(self, classes=self.classes_)
