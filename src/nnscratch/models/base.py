"""The estimators' shared base: networks, training, files, like any scikit-learn model.

:class:`MLPBase` takes ``(n_samples, n_features)`` arrays or DataFrames, as
every scikit-learn estimator does, and transposes them once, at the network's
entrance (:func:`nnscratch.core.network.to_network_layout`). Everything behind
that door is the from-scratch NumPy network of stages 2–6. The regressor
(:mod:`nnscratch.models.regressor`) and the classifier
(:mod:`nnscratch.models.classifier`) add what their targets need.

What each ensemble member is and how the members train lives in
:mod:`nnscratch.models.members` (a fitted estimator's ``members_``: each one's
network, optimizer, shuffle stream and history, kept together); what a model file
holds, and ``save`` and ``load``, in :mod:`nnscratch.models.model_schema`
(:class:`~nnscratch.models.model_schema.ModelFileMixin`), on the generic reader and
writer of :mod:`nnscratch.models.persistence`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from nnscratch.core.network import InputExpansion
from nnscratch.core.observe import StepObserver
from nnscratch.core.training import BatchTransform, Callback, TrainConfig
from nnscratch.models.members import (
    Architecture,
    OptimizerSettings,
    member_jobs,
    member_streams,
    new_members,
    train_members,
)
from nnscratch.models.model_schema import ModelFileMixin, as_float_dtype


class MLPBase(ModelFileMixin, BaseEstimator):
    """What the regressor and the classifier share: networks, training, files.

    A subclass says how targets become the network's outputs
    (:meth:`_validate_targets`, :meth:`_encode`), which output activation and
    loss its networks get (:meth:`_head`), and what it adds to the model file
    (:meth:`_extra_metadata`, :meth:`_restore_extra`).

    Fitted, ``members_`` holds each ensemble member
    (:class:`~nnscratch.models.members.Member`); ``networks_`` and ``histories_`` list
    their networks and histories, ``network_`` and ``history_`` (and the curves) are the
    first member's.
    """

    def _validate_targets(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Targets as the network's ``(n_samples, n_outputs)`` float64 outputs."""
        raise NotImplementedError

    def _head(self) -> tuple[str, str]:
        """``(output activation, loss)`` of every network."""
        raise NotImplementedError

    def _batch_transform(self) -> BatchTransform | None:
        """What rewrites each training batch's rows (augmentation), or ``None``."""
        return None

    def _monitor(self) -> str:
        """What early stopping watches on the validation data (see ``TrainConfig.monitor``)."""
        return "val_loss"

    # ------------------------------------------------------------------ helpers

    def _check_params(self) -> None:
        sizes = tuple(self.hidden_layer_sizes)
        if any(not isinstance(n, numbers.Integral) or n < 1 for n in sizes):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None, got {self.batch_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        steps = self.max_steps
        if steps is not None and (not isinstance(steps, numbers.Integral) or steps < 1):
            raise ValueError(f"max_steps must be a positive integer or None, got {steps}")
        if self.l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not isinstance(self.n_members, numbers.Integral) or self.n_members < 1:
            raise ValueError(f"n_members must be a positive integer, got {self.n_members}")
        k = self.k
        if not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k}")
        if k > 1 and self.dropout:
            raise ValueError(f"dropout is not offered with k > 1; got dropout={self.dropout}")
        as_float_dtype(self.dtype)
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction}"
            )

    def _member_design(
        self, layer_sizes: list[int], output: str, loss: str, dtype: np.dtype | None = None
    ) -> tuple[Architecture, OptimizerSettings]:
        """Every member's network (these layer sizes, output activation and loss, and the
        hyperparameters: activations, init, ``k``, dropout, the dtype unless given) and
        optimizer."""
        architecture = Architecture(
            tuple(layer_sizes),
            self.activation,
            output,
            loss,
            self.init,
            as_float_dtype(self.dtype) if dtype is None else dtype,
            k=self.k,
            dropout=self.dropout,
        )
        settings = OptimizerSettings(
            self.optimizer, self.learning_rate, self.momentum, self.weight_decay
        )
        return architecture, settings

    def _start(self, n_features: int, n_outputs: int) -> np.random.Generator:
        """Fresh members (networks, optimizers, random streams) for a new fit; the
        validation split's stream."""
        self._check_params()
        split, streams = member_streams(self.random_state, self.n_members)
        self.n_outputs_ = n_outputs
        sizes = [n_features, *self.hidden_layer_sizes, n_outputs]
        self.members_ = new_members(*self._member_design(sizes, *self._head()), streams)
        self._sync_fitted_attributes()
        return split

    def _sync_fitted_attributes(self) -> None:
        """The fitted attributes derived from ``members_``, refreshed after every change."""
        self.networks_ = [member.network for member in self.members_]
        self.histories_ = [member.history for member in self.members_]
        self.network_ = self.networks_[0]
        self.history_ = h = self.histories_[0]
        self.loss_curve_ = list(h.train_loss)
        self.validation_loss_curve_ = list(h.val_loss)
        self.validation_rmse_curve_ = list(h.val_rmse)
        self.validation_accuracy_curve_ = list(h.val_accuracy)
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
        sample_weight: Any = None,
        *,
        eval_set: tuple[Any, Any] | None = None,
        rmse_scale: float = 1.0,
        callbacks: tuple[Callback | StepObserver, ...] = (),
        handle_interrupts: bool = False,
        expand: InputExpansion | None = None,
    ) -> Any:
        """Train from scratch on ``X`` ``(n_samples, n_features)`` and ``y`` ``(n_samples,)``.

        ``eval_set=(X_val, y_val)`` gives the validation data for the curves
        and, with ``early_stopping``, for stopping (instead of holding out
        ``validation_fraction``).
        ``rmse_scale`` multiplies the reported validation RMSE, e.g. by the
        target scaler's range to show it in original units. ``sample_weight``
        ``(n_samples,)`` weighs each sample's loss as scikit-learn's MLPs do
        (``J = (Σ w ℓ + λ/2 ‖W‖²) / Σ w``: weight 2 is the row twice, weight 0 the row
        absent, so a mini-batch whose rows all weigh 0 makes no update; all-zero weights
        are refused); the validation loss is not weighted.

        ``expand`` (:class:`~nnscratch.core.network.InputExpansion`: a table's encoding)
        makes the network's inputs from ``X``'s rows a batch at a time, and the
        ``eval_set``'s likewise: ``X`` (an array, or a memory-mapped store, never copied
        whole) holds the compact rows, the expanded table is never held, and the fit is the
        one on the expanded rows, to the bit. ``n_features_in_`` is then the expansion's
        width: what ``predict`` takes.
        """
        X, y = self._validate_targets(X, y, reset=True)
        if expand is not None:  # predict takes the expanded inputs
            self.n_features_in_ = expand.width
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        weights = self._sample_weights(X, y, sample_weight)
        Y = self._encode(y)
        split = self._start(self.n_features_in_, Y.shape[1])
        validation = None
        if eval_set is not None:
            X_val = self._eval_rows(eval_set[0], X, expand)
            y_val = np.asarray(eval_set[1])
            validation = (X_val, self._encode(y_val), self._validation_weights(y, y_val))
        elif self.early_stopping:
            n_val = max(1, round(len(X) * self.validation_fraction))
            if len(X) - n_val < 1:
                raise ValueError(
                    "early_stopping needs at least 2 samples to hold out a validation set; "
                    f"got {len(X)} sample{'s' if len(X) != 1 else ''}"
                )
            order = split.permutation(len(X))
            val, tr = order[:n_val], order[n_val:]
            held_out = None if weights is None else weights[val]
            X, Y, validation = X[tr], Y[tr], (X[val], Y[val], held_out)
            weights = None if weights is None else weights[tr]
        self._run(
            X,
            Y,
            sample_weight=weights,
            validation=validation,
            epochs=self.planned_epochs(len(X)),
            patience=self.patience if self.early_stopping else None,
            rmse_scale=rmse_scale,
            callbacks=callbacks,
            handle_interrupts=handle_interrupts,
            expand=expand,
        )
        self._after_fit(validation, expand)
        return self

    def _eval_rows(self, X_val: Any, X: np.ndarray, expand: InputExpansion | None) -> np.ndarray:
        """An ``eval_set``'s inputs, checked: the network's inputs, or with ``expand`` rows
        like ``X``'s."""
        if expand is None:
            return validate_data(self, X_val, reset=False, dtype=[np.float64, np.float32])
        X_val = check_array(X_val, dtype=[np.float64, np.float32])
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"eval_set has {X_val.shape[1]} columns, X has {X.shape[1]}")
        return X_val

    def _after_fit(
        self,
        validation: tuple[np.ndarray, np.ndarray, Any] | None,
        expand: InputExpansion | None = None,
    ) -> None:
        """What a subclass fits on the validation data ``(X, Y, weights)`` once the networks
        are trained (``None``: there was none; ``expand``: how its inputs become the
        network's)."""
        return None

    def _sample_weights(
        self, X: np.ndarray, y: np.ndarray, sample_weight: Any
    ) -> np.ndarray | None:
        """The checked sample weights (None where every weight is 1: the unweighted fit,
        to the bit)."""
        if sample_weight is None:
            return None
        weights = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        return None if np.all(weights == 1.0) else weights

    def _validation_weights(self, y: np.ndarray, y_val: np.ndarray) -> np.ndarray | None:
        """Weights of an ``eval_set``'s rows (its loss is then weighted as training's):
        none here; a classifier's class weights (see ``class_weight``)."""
        return None

    def planned_epochs(self, n_samples: int) -> int:
        """Epochs ``fit`` plans for ``n_samples`` training rows: ``epochs``, or fewer where
        ``max_steps`` optimizer steps fill fewer whole epochs (at least one)."""
        if self.max_steps is None:
            return int(self.epochs)
        batch = n_samples if self.batch_size is None else min(int(self.batch_size), n_samples)
        steps_per_epoch = math.ceil(n_samples / max(batch, 1))
        return max(1, min(int(self.epochs), math.ceil(int(self.max_steps) / steps_per_epoch)))

    def _partial_fit(self, X: Any, y: Any) -> Any:
        """One more epoch on ``(X, y)``, keeping the weights and optimizer state."""
        first = not hasattr(self, "members_")
        X, y = self._validate_targets(X, y, reset=first)
        Y = self._encode(y)
        if first:
            self._start(X.shape[1], Y.shape[1])
        self._run(X, Y, epochs=1)
        return self

    def predict_outputs(
        self,
        X: Any,
        block_width: int | None = None,
        check_input: bool = True,
        *,
        expand: InputExpansion | None = None,
    ) -> np.ndarray:
        """The members' mean output, ``(n_samples, n_outputs)`` float64.

        With ``block_width`` the rows go through the networks in blocks of exactly that
        many (the last one padded with zeros), so every row meets the same BLAS kernels
        whatever rows share its call: a row's output is then the same to the bit alone,
        in a batch of others, or in a file (see ``docs/serve.md``). ``check_input=False``
        skips the checks of ``X`` (as scikit-learn's trees spell it): for a caller that
        made ``X`` itself, a 2-D float array of ``n_features_in_`` finite columns.
        ``expand``: ``X`` holds a source's rows, expanded a batch at a time (see ``fit``)."""
        check_is_fitted(self, "networks_")
        if check_input and expand is None:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        n = len(X)
        batch: dict[str, Any] = {} if expand is None else {"expand": expand}
        if block_width is not None:
            padding = -n % block_width
            if padding:
                X = np.vstack([X, np.zeros((padding, X.shape[1]), dtype=X.dtype)])
            batch["batch_size"] = block_width
        out = self.networks_[0].predict_samples(X, **batch)  # transposed batch by batch
        y = out.T.astype(np.float64)
        for net in self.networks_[1:]:  # an ensemble averages its members
            y += net.predict_samples(X, **batch).T
        y /= len(self.networks_)
        return y[:n]

    def _run(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        epochs: int,
        patience: int | None = None,
        rmse_scale: float = 1.0,
        handle_interrupts: bool = False,
        **data: Any,
    ) -> None:
        """Train every member on ``(X, Y)`` in the user layout for ``epochs`` (``data``:
        ``sample_weight``, ``validation``, ``callbacks``; see
        :func:`nnscratch.models.members.train_members`)."""
        config = TrainConfig(
            epochs=epochs,
            batch_size=self.batch_size,
            lmbda=self.l2,
            patience=patience,
            min_delta=self.min_delta,
            progress=bool(self.verbose),
            rmse_scale=rmse_scale,
            handle_interrupts=handle_interrupts,
            monitor=self._monitor(),
        )
        try:
            train_members(
                self.members_,
                X,
                Y,
                config,
                lr_schedule=self.lr_schedule,
                n_planned=self.n_members,
                jobs=member_jobs(self.n_jobs, len(self.members_)),
                batch_transform=self._batch_transform(),
                **data,
            )
        finally:
            self._sync_fitted_attributes()

    def describe(self) -> dict[str, Any]:
        """The fitted networks' shape and how training ended (``GET /model``)."""
        check_is_fitted(self, "networks_")
        history = self.history_
        return {
            "layer_sizes": list(self.network_.layer_sizes),
            "k": self.k,  # TabM members per network (1: a plain network)
            "n_members": len(self.networks_),
            "training": {
                "epochs": history.n_epochs,
                "best_epoch": history.best_epoch,
                "best_validation_loss": min(history.val_loss) if history.val_loss else None,
            },
        }

    def display_name(self) -> str:
        """How results tables name the fitted model: its layer sizes, TabM's ``k`` and the
        ensemble size, e.g. ``nnscratch MLP 313-64-32-16-1 k=16 ×2``."""
        check_is_fitted(self, "networks_")
        name = "nnscratch MLP " + "-".join(map(str, self.network_.layer_sizes))
        if self.k > 1:
            name += f" k={self.k}"
        n_members = len(self.networks_)
        return name + (f" ×{n_members}" if n_members > 1 else "")

    @property
    def weights_(self) -> list[np.ndarray]:
        """``W[l]`` for ``l = 1..L``, each ``(n[l], n[l-1])`` (views into the network; with
        ``k > 1`` the shared matrices)."""
        return self.network_.params.weights

    @property
    def biases_(self) -> list[np.ndarray]:
        """``b[l]`` for ``l = 1..L``, each ``(n[l], 1)`` (views into the network; with
        ``k > 1``, ``(n[l], k)``: one column per member)."""
        return self.network_.params.biases
