"""The estimators' shared base: networks, training, files, like any scikit-learn model.

:class:`MLPBase` takes ``(n_samples, n_features)`` arrays or DataFrames, as
every scikit-learn estimator does, and transposes them once, at the network's
entrance (:func:`nnscratch.core.network.to_network_layout`). Everything behind
that door is the from-scratch NumPy network of stages 2–6. The regressor
(:mod:`nnscratch.models.regressor`) and the classifier
(:mod:`nnscratch.models.classifier`) add what their targets need.

Model files: :meth:`MLPBase.save` hands the networks' named arrays (``W1..WL``,
``b1..bL``, ``m2.W1``… for ensemble members 2, 3, …) and JSON metadata
(architecture, dtype, hyperparameters, feature names, training curves) to the
generic writer in :mod:`nnscratch.models.persistence`; :meth:`MLPBase.load`
tells the reader which arrays the metadata implies, then rebuilds the
networks from them.
"""

from __future__ import annotations

import math
import numbers
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from tqdm.auto import tqdm

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.batchensemble import BatchEnsembleNetwork
from nnscratch.core.blas import one_blas_thread
from nnscratch.core.network import Network, to_network_layout
from nnscratch.core.optimizers import OPTIMIZERS, Optimizer
from nnscratch.core.schedules import SCHEDULES
from nnscratch.core.training import (
    Callback,
    History,
    StopFlag,
    TrainConfig,
    stop_on_interrupt,
    train,
)
from nnscratch.errors import ModelFileError, RequestError
from nnscratch.models.persistence import ArraySpec, read_model_file, write_model_file

_DTYPES = ("float32", "float64")


def as_float_dtype(dtype: Any) -> np.dtype:
    """``np.dtype`` for ``"float32"``, ``np.float32`` or ``np.dtype("float32")`` (or float64)."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def _generator(random_state: Any) -> np.random.Generator:
    """A Generator from ``random_state``: None, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    return np.random.default_rng(random_state)


#: Rows a fitted model's networks see at a time when it predicts for people (``nnscratch
#: predict``, ``evaluate``, ``serve``): exactly this many, the last block padded with
#: zeros, so a row's answer does not depend on the rows beside it (MLPBase.predict_outputs).
#: A server's batches are small (a few requests of a few rows), and every block costs its
#: full width: the default popularity model took 1.35 ms for 24 rows in blocks of 32
#: against 2.13 ms in blocks of 64 (1.28 against 2.04 ms for one row), for 12 % more on
#: 192 rows (6.76 against 6.02 ms); large files share their blocks over threads and ran
#: at the same rows/s either way (AMD EPYC, OpenBLAS SkylakeX).
PREDICT_BLOCK = 32


@dataclass
class Request:
    """A checked request: the network's inputs ``X`` ``(n, n_inputs)`` and how the network's
    outputs for them ``(n, n_outputs)`` become the answer (a server may batch many
    requests' ``X`` into one network call and hand each its own outputs)."""

    X: np.ndarray
    answer: Callable[[np.ndarray], dict[str, Any]]


@dataclass
class Predictions:
    """What ``nnscratch predict`` writes and says: ``frame`` (one row per input scored),
    how many inputs were ``read``, the ``report`` said before and the ``notes`` after."""

    frame: pd.DataFrame
    read: int
    unit: str = "rows"
    report: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class WrapsEstimator:
    """What a fitted model that wraps a fitted estimator says of its training, and its
    network outputs for people (in :data:`PREDICT_BLOCK` rows)."""

    estimator: Any

    def network_outputs(self, X: np.ndarray) -> np.ndarray:
        """The members' mean output ``(n, n_outputs)`` float64 for network inputs ``X``."""
        return self.estimator.predict_outputs(X, PREDICT_BLOCK, check_input=False)

    def json_requests(self, payloads: list[Any], max_rows: int) -> list[Request | RequestError]:
        """``json_request`` for each of many JSON bodies (a server's waiting requests): its
        request, or the error it would raise. A model may read them together, faster;
        each result is the one the body gets alone."""
        results: list[Request | RequestError] = []
        for payload in payloads:
            try:
                results.append(self.json_request(payload, max_rows))  # type: ignore[attr-defined]
            except RequestError as exc:
                results.append(exc)
        return results

    def answer_json(self, payload: Any, max_rows: int) -> dict[str, Any]:
        """The answer to a JSON body (see ``json_request``), computed now."""
        request = self.json_request(payload, max_rows)  # type: ignore[attr-defined]
        return request.answer(self.network_outputs(request.X))

    def answer_body(self, media: str, body: bytes, max_rows: int) -> dict[str, Any]:
        """The answer to another body (see ``body_request``), computed now."""
        request = self.body_request(media, body, max_rows)  # type: ignore[attr-defined]
        return request.answer(self.network_outputs(request.X))

    @property
    def history(self) -> History:
        """The first member's training history."""
        return self.estimator.history_

    @property
    def n_members(self) -> int:
        return len(self.estimator.networks_)


class MLPBase(BaseEstimator):
    """What the regressor and the classifier share: networks, training, files.

    A subclass says how targets become the network's outputs
    (:meth:`_validate_targets`, :meth:`_encode`), which output activation and
    loss its networks get (:meth:`_head`), and what it adds to the model file
    (:meth:`_extra_metadata`, :meth:`_restore_extra`).
    """

    def _validate_targets(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _encode(self, y: np.ndarray) -> np.ndarray:
        """Targets as the network's ``(n_samples, n_outputs)`` float64 outputs."""
        raise NotImplementedError

    def _head(self) -> tuple[str, str]:
        """``(output activation, loss)`` of every network."""
        raise NotImplementedError

    def _extra_metadata(self) -> dict[str, Any]:
        return {}

    def _restore_extra(self, meta: dict[str, Any]) -> None:
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

    def _make_optimizer(self) -> Optimizer:
        extra: dict[str, float] = {}
        if self.optimizer in ("momentum", "nesterov"):
            extra["momentum"] = self.momentum
        if self.optimizer in ("adam", "adamw") and self.weight_decay:
            extra["weight_decay"] = self.weight_decay
        return OPTIMIZERS.lookup(self.optimizer)(self.learning_rate, **extra)

    def _start(self, n_features: int, n_outputs: int) -> None:
        """Fresh networks, optimizers and random streams for a new fit."""
        self._check_params()
        rng = _generator(self.random_state)
        self._split_rng, *member_rngs = rng.spawn(1 + self.n_members)
        self.n_outputs_ = n_outputs
        sizes = [n_features, *self.hidden_layer_sizes, n_outputs]
        output, loss = self._head()
        self.networks_ = []
        self._shuffle_rngs = []
        for member_rng in member_rngs:
            init_rng, shuffle_rng, dropout_rng = member_rng.spawn(3)
            self.networks_.append(self._network(sizes, output, loss, init_rng, dropout_rng))
            self._shuffle_rngs.append(shuffle_rng)
        self._optimizers = [self._make_optimizer() for _ in self.networks_]
        self.histories_ = [History() for _ in self.networks_]
        self._sync_fitted_attributes()

    def _network(
        self,
        sizes: list[int],
        output: str,
        loss: str,
        rng: Any,
        dropout_rng: Any,
        dtype: np.dtype | None = None,
    ) -> Network | BatchEnsembleNetwork:
        """One member: a plain network, or with ``k > 1`` a BatchEnsemble of ``k``."""
        dtype = as_float_dtype(self.dtype) if dtype is None else dtype
        k = self.k
        if k > 1:
            return BatchEnsembleNetwork(
                sizes, k, self.activation, output, self.init, loss=loss, dtype=dtype, rng=rng
            )
        return Network(
            sizes,
            self.activation,
            output,
            self.init,
            loss=loss,
            dropout=self.dropout,
            dtype=dtype,
            rng=rng,
            dropout_rng=dropout_rng,
        )

    def _sync_fitted_attributes(self) -> None:
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
        callbacks: tuple[Callback, ...] = (),
        handle_interrupts: bool = False,
    ) -> Any:
        """Train from scratch on ``X`` ``(n_samples, n_features)`` and ``y`` ``(n_samples,)``.

        ``eval_set=(X_val, y_val)`` gives the validation data for the curves
        and, with ``early_stopping``, for stopping (instead of holding out
        ``validation_fraction``).
        ``rmse_scale`` multiplies the reported validation RMSE, e.g. by the
        target scaler's range to show it in original units. ``sample_weight``
        ``(n_samples,)`` weighs each sample's loss as scikit-learn's MLPs do
        (``J = (Σ w ℓ + λ/2 ‖W‖²) / Σ w``: weight 2 is the row twice); the
        validation loss is not weighted.
        """
        X, y = self._validate_targets(X, y, reset=True)
        weights = self._sample_weights(X, y, sample_weight)
        Y = self._encode(y)
        self._start(X.shape[1], Y.shape[1])
        validation = None
        if eval_set is not None:
            X_val = validate_data(self, eval_set[0], reset=False, dtype=[np.float64, np.float32])
            y_val = np.asarray(eval_set[1])
            validation = (X_val, self._encode(y_val), self._validation_weights(y, y_val))
        elif self.early_stopping:
            n_val = max(1, round(len(X) * self.validation_fraction))
            if len(X) - n_val < 1:
                raise ValueError(
                    "early_stopping needs at least 2 samples to hold out a validation set; "
                    f"got {len(X)} sample{'s' if len(X) != 1 else ''}"
                )
            order = self._split_rng.permutation(len(X))
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
        )
        self._after_fit(validation)
        return self

    def _after_fit(self, validation: tuple[np.ndarray, np.ndarray, Any] | None) -> None:
        """What a subclass fits on the validation data ``(X, Y, weights)`` once the networks
        are trained (``None``: there was none)."""
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
        first = not hasattr(self, "networks_")
        X, y = self._validate_targets(X, y, reset=first)
        Y = self._encode(y)
        if first:
            self._start(X.shape[1], Y.shape[1])
        self._run(X, Y, epochs=1)
        return self

    def predict_outputs(
        self, X: Any, block_width: int | None = None, check_input: bool = True
    ) -> np.ndarray:
        """The members' mean output, ``(n_samples, n_outputs)`` float64.

        With ``block_width`` the rows go through the networks in blocks of exactly that
        many (the last one padded with zeros), so every row meets the same BLAS kernels
        whatever rows share its call: a row's output is then the same to the bit alone,
        in a batch of others, or in a file (see ``docs/serve.md``). ``check_input=False``
        skips the checks of ``X`` (as scikit-learn's trees spell it): for a caller that
        made ``X`` itself, a 2-D float array of ``n_features_in_`` finite columns."""
        check_is_fitted(self, "networks_")
        if check_input:
            X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        n = len(X)
        batch = {}
        if block_width is not None:
            padding = -n % block_width
            if padding:
                X = np.vstack([X, np.zeros((padding, X.shape[1]), dtype=X.dtype)])
            batch = {"batch_size": block_width}
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
        sample_weight: np.ndarray | None = None,
        validation: tuple[np.ndarray, ...] | None = None,
        patience: int | None = None,
        rmse_scale: float = 1.0,
        callbacks: tuple[Callback, ...] = (),
        handle_interrupts: bool = False,
    ) -> None:
        """Train every member for ``epochs`` on ``(X, Y)`` in the user layout."""
        dtype = self.networks_[0].dtype
        Y_net = to_network_layout(Y, dtype)
        rows = np.ascontiguousarray(X, dtype=dtype)  # train transposes batches, or all, as needed
        validation_net = None
        if validation is not None:
            validation_net = (
                to_network_layout(validation[0], dtype),
                to_network_layout(validation[1], dtype),
                *([validation[2]] if len(validation) > 2 and validation[2] is not None else []),
            )
        configs = self._train_configs(epochs, patience, rmse_scale, handle_interrupts)

        def fit_member(
            k: int,
            config: TrainConfig,
            stop: StopFlag | None = None,
            extra_callbacks: tuple[Callback, ...] = (),
        ) -> History:
            return train(
                self.networks_[k],
                None,
                Y_net,
                self._optimizers[k],
                config=config,
                validation=validation_net,
                rng=self._shuffle_rngs[k],
                callbacks=(*callbacks, *extra_callbacks),
                history=self.histories_[k],
                rows=rows,
                stop=stop,
                sample_weight=sample_weight,
                member=k if len(self.networks_) > 1 else None,
            )

        try:
            jobs = self._member_jobs()
            if jobs == 1:
                for k in range(len(self.networks_)):
                    if fit_member(k, configs[k]).interrupted:
                        del self.networks_[k + 1 :], self.histories_[k + 1 :]
                        break
            else:
                self._fit_members_side_by_side(fit_member, configs, jobs, handle_interrupts)
        finally:
            self._sync_fitted_attributes()

    def _train_configs(
        self, epochs: int, patience: int | None, rmse_scale: float, handle_interrupts: bool
    ) -> list[TrainConfig]:
        """Each member's :class:`TrainConfig` (its own schedule and progress label)."""
        return [
            TrainConfig(
                epochs=epochs,
                batch_size=self.batch_size,
                lmbda=self.l2,
                patience=patience,
                min_delta=self.min_delta,
                schedule=SCHEDULES.lookup(self.lr_schedule)(epochs),
                progress=bool(self.verbose),
                progress_label=(
                    f"member {k + 1}/{self.n_members}" if self.n_members > 1 else "training"
                ),
                rmse_scale=rmse_scale,
                handle_interrupts=handle_interrupts,
                monitor=self._monitor(),
            )
            for k in range(len(self.networks_))
        ]

    def _member_jobs(self) -> int:
        """Members trained at once: ``n_jobs`` (scikit-learn's convention: ``None`` is 1,
        ``-1`` every core), at most one per member."""
        n_jobs = self.n_jobs
        if n_jobs is None:
            return 1
        cores = os.cpu_count() or 1
        jobs = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
        return max(1, min(jobs, len(self.networks_)))

    def _fit_members_side_by_side(
        self,
        fit_member: Callable[..., History],
        configs: list[TrainConfig],
        jobs: int,
        handle_interrupts: bool,
    ) -> None:
        """Train the members ``jobs`` at a time in threads, each with BLAS on one thread.

        NumPy and BLAS release the GIL, so the threads use that many cores. Each
        member has its own network, optimizer, random streams and buffers and reads
        the training arrays only, so it ends with the bits a sequential fit on one
        BLAS thread gives it (see ``n_jobs``). One progress bar counts all members'
        epochs; Ctrl-C stops every running member after its batch (members not
        started are dropped).
        """
        total = sum(c.epochs for c in configs)
        bar = tqdm(
            total=total,
            desc=f"{len(configs)} members, {jobs} at a time",
            unit="epoch",
            disable=not self.verbose,
            dynamic_ncols=True,
        )
        lock = threading.Lock()

        def count_epoch(epoch: int, logs: dict[str, float]) -> bool:
            with lock:
                bar.update(1)
            return False  # never stops training (early stopping and Ctrl-C do)

        started: list[bool] = [False] * len(configs)
        with bar, stop_on_interrupt(handle_interrupts) as stop:

            def member(k: int) -> History | None:
                if stop.requested:
                    return None  # interrupted before it began: dropped
                started[k] = True
                config = replace(configs[k], progress=False, handle_interrupts=False)
                before = self.histories_[k].n_epochs
                history = fit_member(k, config, stop, extra_callbacks=(count_epoch,))
                with lock:  # a member that stopped early: its epochs not run are done too
                    bar.update(config.epochs - (history.n_epochs - before))
                return history

            with one_blas_thread(), ThreadPoolExecutor(jobs) as pool:
                futures = [pool.submit(member, k) for k in range(len(configs))]
                try:
                    for future in futures:
                        future.result()
                except BaseException:
                    stop.requested = True  # the others stop after their batch
                    raise
        kept = [k for k in range(len(configs)) if started[k]]
        if len(kept) < len(configs):
            self.networks_ = [self.networks_[k] for k in kept]
            self.histories_ = [self.histories_[k] for k in kept]
            self._optimizers = [self._optimizers[k] for k in kept]
            self._shuffle_rngs = [self._shuffle_rngs[k] for k in kept]

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

    # ------------------------------------------------------------------ files

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted model to ``path`` (``.npz`` + JSON, no pickle, atomic)."""
        return write_model_file(path, *self.to_arrays())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Read a model written by :meth:`save`, validating everything."""
        arrays, meta = read_model_file(path, cls.expected_arrays)
        kind = meta.get("estimator", "MLPRegressor")  # format-1 files held regressors only
        if kind != cls.__name__:
            raise ModelFileError(f"{path}: holds an {kind}; load it with {kind}.load")
        try:
            return cls.from_arrays(arrays, meta)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: metadata is incomplete or malformed ({exc})") from exc

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The fitted model as named arrays and JSON-ready metadata (see :meth:`save`)."""
        check_is_fitted(self, "networks_")
        arrays: dict[str, np.ndarray] = {}
        for member, net in enumerate(self.networks_):
            prefix = member_prefix(member)
            arrays.update({prefix + name: array for name, array in net.state_dict().items()})
        hyperparameters = self.get_params(deep=False)
        hyperparameters["dtype"] = as_float_dtype(self.dtype).name
        output, loss = self._head()
        metadata = {
            "estimator": type(self).__name__,
            "architecture": {
                "layer_sizes": list(self.network_.layer_sizes),
                "hidden_activation": self.activation,
                "output_activation": output,
                "loss": loss,
                "init": self.init,
            },
            "dtype": self.network_.dtype.name,
            "hyperparameters": hyperparameters,
            "n_features_in": int(self.n_features_in_),
            "feature_names": (
                [str(f) for f in self.feature_names_in_]
                if hasattr(self, "feature_names_in_")
                else None
            ),
            "n_outputs": int(self.n_outputs_),
            "n_members": len(self.networks_),
            "training": [h.to_dict() for h in self.histories_],
            **self._extra_metadata(),
        }
        return arrays, metadata

    @staticmethod
    def expected_arrays(meta: dict[str, Any]) -> dict[str, ArraySpec]:
        """Every array a model file with metadata ``meta`` must hold; ``ValueError`` if
        the metadata itself is not valid."""
        arch = meta["architecture"]
        sizes = [int(n) for n in arch["layer_sizes"]]
        missing = [k for k in ("hyperparameters", "n_features_in", "n_outputs") if k not in meta]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"invalid layer sizes {sizes}")
        for label in ("hidden", "output"):
            name = arch[f"{label}_activation"]
            if name not in ACTIVATIONS:
                raise ValueError(f"unknown {label} activation {name!r}")
        if meta["dtype"] not in _DTYPES:
            raise ValueError(f"unsupported dtype {meta['dtype']!r}")
        n_members = meta.get("n_members", 1)
        if not isinstance(n_members, int) or n_members < 1:
            raise ValueError(f"invalid number of ensemble members {n_members!r}")
        dtype = np.dtype(meta["dtype"])
        L = len(sizes) - 1
        k = meta["hyperparameters"].get("k", 1)
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"invalid k {k!r}")
        specs: dict[str, ArraySpec] = {}
        for member in range(n_members):
            prefix = member_prefix(member)
            for l in range(1, L + 1):
                specs[f"{prefix}W{l}"] = ArraySpec((sizes[l], sizes[l - 1]), dtype)
                if k == 1:
                    specs[f"{prefix}b{l}"] = ArraySpec((sizes[l], 1), dtype)
                    continue
                specs[f"{prefix}R{l}"] = ArraySpec((sizes[l - 1], k), dtype)
                for name in ("S", "B"):
                    specs[f"{prefix}{name}{l}"] = ArraySpec((sizes[l], k), dtype)
        return specs

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Any:
        """A fitted estimator from :meth:`to_arrays`' output (already validated)."""
        hyperparameters = dict(meta["hyperparameters"])
        if isinstance(hyperparameters.get("hidden_layer_sizes"), list):  # JSON has no tuples
            hyperparameters["hidden_layer_sizes"] = tuple(hyperparameters["hidden_layer_sizes"])
        try:
            model = cls(**hyperparameters)
        except TypeError as exc:
            raise ValueError(f"unknown hyperparameter in metadata ({exc})") from exc
        arch = meta["architecture"]
        sizes = [int(n) for n in arch["layer_sizes"]]
        model.networks_ = []
        n_members = int(meta.get("n_members", 1))
        rng = _generator(model.random_state)
        model._split_rng, *member_rngs = rng.spawn(1 + n_members)
        streams = [r.spawn(3) for r in member_rngs]  # (init, shuffle, dropout) as in _start
        for member in range(n_members):
            net = model._network(
                sizes,
                arch["output_activation"],
                arch.get("loss", "mse"),
                0,
                streams[member][2],
                dtype=np.dtype(meta["dtype"]),
            )
            prefix = member_prefix(member)
            net.load_state_dict({name: arrays[prefix + name] for name in net.state_dict()})
            model.networks_.append(net)
        model.n_features_in_ = int(meta["n_features_in"])
        if meta.get("feature_names"):
            model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
        model.n_outputs_ = int(meta["n_outputs"])
        model._restore_extra(meta)
        trainings = meta.get("training") or [{}]
        if isinstance(trainings, dict):
            trainings = [trainings]
        model.histories_ = [History.from_dict(t) for t in trainings]
        model._shuffle_rngs = [stream[1] for stream in streams]
        model._optimizers = [model._make_optimizer() for _ in model.networks_]
        model._sync_fitted_attributes()
        return model


def member_prefix(member: int) -> str:
    """How a model file names ensemble member ``member``'s arrays (0-based): no prefix
    for the first (format-1 files held one network), ``m2.``, ``m3.``, … after it."""
    return f"m{member + 1}." if member else ""
