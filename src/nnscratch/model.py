"""The estimator: fit, predict, score, save and load like any scikit-learn model.

:class:`MLPRegressor` takes ``(n_samples, n_features)`` arrays or DataFrames,
as every scikit-learn estimator does, and transposes them once, at the
network's entrance (:func:`nnscratch.data.to_network_layout`). Everything
behind that door is the from-scratch NumPy network of stages 2–6.
"""

from __future__ import annotations

import numbers
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from nnscratch.data import to_network_layout
from nnscratch.network import Network
from nnscratch.optimizers import Optimizer, make_optimizer, make_schedule
from nnscratch.training import Callback, History, train

_DTYPES = {"float32": np.float32, "float64": np.float64}


def _generator(random_state: Any) -> np.random.Generator:
    """A Generator from ``random_state``: None, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


class MLPRegressor(RegressorMixin, BaseEstimator):
    """A multi-layer perceptron regressor trained with mini-batch gradient methods.

    Parameters
    ----------
    hidden_layer_sizes : widths of the hidden layers; the default gives the
        seed's ``n_features → 64 → 32 → 16 → n_outputs``.
    activation, output_activation : names from
        :data:`nnscratch.activations.ACTIVATIONS` (``output_activation="relu"``
        reproduces the seed).
    init : ``"he"``, ``"glorot"`` or ``"small"`` (:mod:`nnscratch.init`).
    optimizer : ``"adam"``, ``"adamw"``, ``"momentum"``, ``"nesterov"`` or ``"gd"``.
    learning_rate : the step size ``η`` (the schedule's starting value).
    lr_schedule : ``"constant"``, ``"step"``, ``"cosine"`` or ``"plateau"``.
    batch_size : samples per update; ``None`` is full-batch gradient descent.
    epochs : passes over the training data (iterations, for full batch).
    l2 : ``λ`` of the ``λ/(2m) Σ‖W‖²`` penalty.
    weight_decay : decoupled weight decay (AdamW), 0 for none.
    momentum : ``μ`` for the momentum optimizers.
    early_stopping : hold out ``validation_fraction`` of the training rows
        (unless ``fit`` gets an ``eval_set``), stop after ``patience`` epochs
        without a ``min_delta`` improvement of the validation loss, and keep
        the best epoch's weights.
    dtype : ``"float32"`` (fast) or ``"float64"``.
    random_state : seed for initialisation, validation split and shuffling.
    verbose : show a progress bar.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (64, 32, 16),
        activation: str = "relu",
        output_activation: str = "identity",
        init: str = "he",
        optimizer: str = "adam",
        learning_rate: float = 1e-3,
        lr_schedule: str = "constant",
        batch_size: int | None = 256,
        epochs: int = 200,
        l2: float = 0.0,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        patience: int = 10,
        min_delta: float = 0.0,
        dtype: str = "float32",
        random_state: int | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output_activation = output_activation
        self.init = init
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.epochs = epochs
        self.l2 = l2
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ helpers

    def _np_dtype(self) -> type:
        try:
            return _DTYPES[str(self.dtype)]
        except KeyError:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}") from None

    def _check_params(self) -> None:
        sizes = tuple(self.hidden_layer_sizes)
        if any(not isinstance(n, numbers.Integral) or n < 1 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {self.batch_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )

    def _make_optimizer(self) -> Optimizer:
        extra: dict[str, float] = {}
        if self.optimizer in ("momentum", "nesterov"):
            extra["momentum"] = self.momentum
        if self.optimizer in ("adam", "adamw") and self.weight_decay:
            extra["weight_decay"] = self.weight_decay
        return make_optimizer(self.optimizer, self.learning_rate, **extra)

    @staticmethod
    def _column_vector_to_1d(y: np.ndarray) -> np.ndarray:
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; "
                "it is raveled to shape (n_samples,).",
                DataConversionWarning,
                stacklevel=3,
            )
            return y.ravel()
        return y

    @staticmethod
    def _validate_y(y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _start(self, n_features: int, y: np.ndarray) -> None:
        """Fresh network, optimizer and random streams for a new fit."""
        self._check_params()
        rng = _generator(self.random_state)
        init_rng, self._split_rng, self._shuffle_rng = rng.spawn(3)
        self._y_ndim = y.ndim
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        sizes = [n_features, *self.hidden_layer_sizes, self.n_outputs_]
        self.network_ = Network(
            sizes,
            self.activation,
            self.output_activation,
            self.init,
            dtype=self._np_dtype(),
            rng=init_rng,
        )
        self._optimizer = self._make_optimizer()
        self.history_ = History()

    def _sync_fitted_attributes(self) -> None:
        h = self.history_
        self.loss_curve_ = list(h.train_loss)
        self.validation_loss_curve_ = list(h.val_loss)
        self.validation_rmse_curve_ = list(h.val_rmse)
        self.best_epoch_ = h.best_epoch
        self.n_iter_ = self.n_epochs_ = h.n_epochs
        self.best_loss_ = (
            min(h.val_loss) if h.val_loss else (min(h.train_loss) if h.train_loss else None)
        )

    # ------------------------------------------------------------------ public API

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        eval_set: tuple[Any, Any] | None = None,
        rmse_scale: float = 1.0,
        callbacks: tuple[Callback, ...] = (),
        handle_interrupts: bool = False,
    ) -> MLPRegressor:
        """Train from scratch on ``X`` ``(n_samples, n_features)`` and ``y`` ``(n_samples,)``.

        ``eval_set=(X_val, y_val)`` gives the validation data for the curves
        and, with ``early_stopping``, for stopping (instead of holding out
        ``validation_fraction``).
        ``rmse_scale`` multiplies the reported validation RMSE, e.g. by the
        target scaler's range to show it in original units.
        """
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], y_numeric=True, multi_output=True
        )
        y = self._column_vector_to_1d(y)
        self._start(X.shape[1], y)
        Y = self._validate_y(y)
        X_val = Y_val = None
        if eval_set is not None:
            X_val = validate_data(self, eval_set[0], reset=False, dtype=[np.float64, np.float32])
            Y_val = self._validate_y(eval_set[1])
        elif self.early_stopping:
            n_val = max(1, round(len(X) * self.validation_fraction))
            if len(X) - n_val < 1:
                raise ValueError(
                    f"early_stopping needs at least 2 samples to hold out a validation set, "
                    f"got {len(X)}"
                )
            order = self._split_rng.permutation(len(X))
            val, tr = order[:n_val], order[n_val:]
            X, Y, X_val, Y_val = X[tr], Y[tr], X[val], Y[val]
        patience = self.patience if self.early_stopping else None
        self._run(
            X, Y, X_val, Y_val, self.epochs, patience, rmse_scale, callbacks, handle_interrupts
        )
        return self

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One more epoch on ``(X, y)``, keeping the weights and optimizer state."""
        first = not hasattr(self, "network_")
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=True,
            multi_output=True,
            reset=first,
        )
        y = self._column_vector_to_1d(y)
        if first:
            self._start(X.shape[1], y)
        self._run(X, self._validate_y(y), None, None, 1, None, 1.0, (), False)
        return self

    def _run(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        X_val: np.ndarray | None,
        Y_val: np.ndarray | None,
        epochs: int,
        patience: int | None,
        rmse_scale: float,
        callbacks: tuple[Callback, ...],
        handle_interrupts: bool,
    ) -> None:
        dtype = self.network_.dtype
        has_val = X_val is not None and Y_val is not None
        try:
            train(
                self.network_,
                to_network_layout(X, dtype),
                to_network_layout(Y, dtype),
                self._optimizer,
                epochs=epochs,
                batch_size=self.batch_size,
                lmbda=self.l2,
                rng=self._shuffle_rng,
                X_val=to_network_layout(X_val, dtype) if has_val else None,
                Y_val=to_network_layout(Y_val, dtype) if has_val else None,
                patience=patience,
                min_delta=self.min_delta,
                schedule=make_schedule(self.lr_schedule, epochs),
                progress=bool(self.verbose),
                callbacks=callbacks,
                rmse_scale=rmse_scale,
                handle_interrupts=handle_interrupts,
                history=self.history_,
            )
        finally:
            self._sync_fitted_attributes()

    def predict(self, X: Any) -> np.ndarray:
        """Predictions for ``X`` ``(n_samples, n_features)``.

        Shape ``(n_samples,)`` for a 1-D training target, else ``(n_samples, n_outputs)``.
        """
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        out = self.network_.predict_samples(X)  # batches transposed into the network layout
        y = out.T.astype(np.float64)
        return y.ravel() if self._y_ndim == 1 else y

    @property
    def weights_(self) -> list[np.ndarray]:
        """``W[l]`` for ``l = 1..L``, each ``(n[l], n[l-1])`` (views into the network)."""
        return self.network_.params.weights

    @property
    def biases_(self) -> list[np.ndarray]:
        """``b[l]`` for ``l = 1..L``, each ``(n[l], 1)`` (views into the network)."""
        return self.network_.params.biases

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` (``.npz``, no pickle, atomic)."""
        from nnscratch.persistence import save_model

        check_is_fitted(self, "network_")
        return save_model(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> MLPRegressor:
        """Read a model written by :meth:`save`, validating everything."""
        from nnscratch.persistence import load_model

        return load_model(path)

    def _restore(
        self,
        meta: dict[str, Any],
        sizes: list[int],
        weights: list[np.ndarray],
        biases: list[np.ndarray],
    ) -> None:
        """Set fitted state from a validated model file (see :mod:`nnscratch.persistence`)."""
        arch = meta["architecture"]
        self.network_ = Network(
            sizes,
            arch["hidden_activation"],
            arch["output_activation"],
            dtype=_DTYPES[meta["dtype"]],
            rng=0,
        )
        self.network_.params.load_(weights, biases)
        self.n_features_in_ = int(meta["n_features_in"])
        if meta.get("feature_names"):
            self.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
        self.n_outputs_ = int(meta["n_outputs"])
        self._y_ndim = int(meta.get("y_ndim", 1))
        training = meta.get("training") or {}
        self.history_ = History(
            train_loss=list(training.get("train_loss", [])),
            val_loss=list(training.get("val_loss", [])),
            val_rmse=list(training.get("val_rmse", [])),
            learning_rate=list(training.get("learning_rate", [])),
            best_epoch=training.get("best_epoch"),
            stopped_early=bool(training.get("stopped_early", False)),
            interrupted=bool(training.get("interrupted", False)),
        )
        self.preprocessing_ = meta.get("preprocessing")
        rng = _generator(self.random_state)
        _, self._split_rng, self._shuffle_rng = rng.spawn(3)
        self._optimizer = self._make_optimizer()
        self._sync_fitted_attributes()
