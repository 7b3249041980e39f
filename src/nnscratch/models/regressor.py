"""The regressor: fit, predict, score, save and load like any scikit-learn model.

:class:`MLPRegressor` is :class:`~nnscratch.models.base.MLPBase` with an
identity (or any) output and the squared error loss; ``y`` of shape
``(n_samples,)`` or ``(n_samples, n_outputs)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from nnscratch.models.base import MLPBase
from nnscratch.models.onnx_export import estimator_graph


class MLPRegressor(RegressorMixin, MLPBase):
    """A multi-layer perceptron regressor trained with mini-batch gradient methods.

    Parameters
    ----------
    hidden_layer_sizes : widths of the hidden layers; the default gives the
        seed's ``n_features → 64 → 32 → 16 → n_outputs``.
    activation, output_activation : names from
        :data:`nnscratch.core.activations.ACTIVATIONS` (``output_activation="relu"``
        reproduces the seed).
    init : ``"he"``, ``"glorot"`` or ``"small"`` (:mod:`nnscratch.core.init`).
    optimizer : ``"adam"``, ``"adamw"``, ``"momentum"``, ``"nesterov"`` or ``"gd"``.
    learning_rate : the step size ``η`` (the schedule's starting value).
    lr_schedule : ``"constant"``, ``"step"``, ``"cosine"`` or ``"plateau"``.
    batch_size : samples per update; ``None`` is full-batch gradient descent.
    epochs : passes over the training data (iterations, for full batch).
    max_steps : at most this many optimizer steps, rounded up to whole epochs
        (``None``: no limit). Large data then gets fewer epochs of more steps
        each, so a fit costs about the same number of updates whatever the
        size of the data (``max_steps`` of Hugging Face's and Lightning's
        trainers); the learning-rate schedule spans the epochs planned.
    l2 : ``λ`` of the ``λ/(2m) Σ‖W‖²`` penalty.
    dropout : inverted-dropout rate of every hidden layer while training (0: none).
    weight_decay : decoupled weight decay (AdamW), 0 for none.
    momentum : ``μ`` for the momentum optimizers.
    early_stopping : hold out ``validation_fraction`` of the training rows
        (unless ``fit`` gets an ``eval_set``), stop after ``patience`` epochs
        without a ``min_delta`` improvement of the validation loss, and keep
        the best epoch's weights. On by default (unlike scikit-learn's
        ``MLPRegressor``): on the Spotify data a fixed epoch count ends
        0.1–0.5 RMSE points worse, depending on the seed.
    n_members : train this many networks from different seeds and average
        their predictions (a deep ensemble); ``weights_``, ``history_`` and
        the curves describe the first member, ``networks_`` and
        ``histories_`` all of them, and ``members_`` holds each member whole
        (its network, optimizer, shuffle stream and history).
    k : TabM's ``k``: each network is a BatchEnsemble of ``k`` members that share
        every weight matrix (:mod:`nnscratch.core.batchensemble`), trained on the mean
        of their losses and averaged; 1 is a plain network. No dropout with
        ``k > 1``.
    n_jobs : members trained at once, in threads (scikit-learn's convention:
        ``None`` is 1, ``-1`` every core), each with BLAS on one thread. Where a
        member trained alone would use one BLAS thread too (batches whose
        largest product is under ``ONE_BLAS_THREAD_BELOW`` multiply-adds, e.g.
        the table recipes), it gets the same bits either way; larger networks
        (MNIST's 784-512-256) round some products differently on one BLAS
        thread than on two, by float32's last bits. ``callbacks`` may then be
        called from several threads.
    dtype : float32 (fast) or float64, as a string, a NumPy type or a dtype.
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
        max_steps: int | None = None,
        l2: float = 0.0,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        momentum: float = 0.9,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        patience: int = 10,
        min_delta: float = 0.0,
        n_members: int = 1,
        k: int = 1,
        n_jobs: int | None = None,
        dtype: str | type | np.dtype = "float32",
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
        self.max_steps = max_steps
        self.l2 = l2
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.n_members = n_members
        self.k = k
        self.n_jobs = n_jobs
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ regression

    def _validate_targets(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            y_numeric=True,
            multi_output=True,
            reset=reset,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; "
                "it is raveled to shape (n_samples,).",
                DataConversionWarning,
                stacklevel=4,
            )
            y = y.ravel()
        if reset:
            self._y_ndim = y.ndim
        return X, y

    def _encode(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _head(self) -> tuple[str, str]:
        return self.output_activation, "mse"

    def _extra_metadata(self) -> dict[str, Any]:
        return {"y_ndim": int(self._y_ndim)}

    def _restore_extra(self, meta: dict[str, Any]) -> None:
        self._y_ndim = int(meta.get("y_ndim", 1))

    def partial_fit(self, X: Any, y: Any) -> MLPRegressor:
        """One more epoch on ``(X, y)``, keeping the weights and optimizer state."""
        return self._partial_fit(X, y)

    def predict(self, X: Any, *, block_width: int | None = None) -> np.ndarray:
        """Predictions for ``X`` ``(n_samples, n_features)``.

        Shape ``(n_samples,)`` for a 1-D training target, else ``(n_samples, n_outputs)``.
        ``block_width``: rows go through the networks in blocks of exactly that many, so
        that a row's prediction does not depend on the rows beside it, to the bit.
        """
        y = self.predict_outputs(X, block_width)
        return y.ravel() if self._y_ndim == 1 else y

    def to_onnx(self) -> Any:
        """The fitted networks as an ONNX ``ModelProto``: input ``X`` ``(rows,
        n_features_in_)``, output ``predictions`` (shaped as :meth:`predict`'s); needs the
        ``onnx`` extra (see :mod:`nnscratch.models.onnx_export`)."""
        check_is_fitted(self, "networks_")
        return estimator_graph(self)
