"""Stage 5 (part 1) — the loss the network minimises, and the loss table.

For predictions ``Ŷ`` and targets ``Y``, both ``(n[L], m)``, and weights
``W[1..L]``::

    MSE(Ŷ, Y)   = 1/(2m) Σ (ŷ - y)²                    (the ½ cancels the 2 of the square)
    L2(W, λ, m) = λ/(2m) Σ_l ‖W[l]‖²_F                 (biases are not regularised)
    J           = MSE + L2

and their gradients::

    ∂MSE/∂Ŷ    = (Ŷ - Y) / m
    ∂L2/∂W[l]  = (λ/m) W[l]

RMSE in the target's units is ``sqrt(2 · MSE)``.

For classification, with ``Y`` one-hot ``(K, m)`` and ``A = softmax(Z)``::

    CE(A, Y)    = -1/m Σ_i Σ_k y_ki log a_ki            (cross-entropy)
    ∂CE/∂Z      = (A - Y) / m                           (softmax and CE together)

and for two classes, with ``y ∈ {0, 1}`` ``(1, m)`` and ``a = sigmoid(z)``::

    BCE(a, y)   = -1/m Σ_i [y_i log a_i + (1 - y_i) log(1 - a_i)]
    ∂BCE/∂z     = (a - y) / m

The loss table :data:`LOSSES` (as scikit-learn's ``LOSS_FUNCTIONS``) gives
the network its loss by name. Each :class:`Loss` names the output activation
it pairs with and supplies, in place, what backpropagation starts from: the
output layer's ``dA[L] = ∂J/∂A[L]`` (the network then multiplies by
``g_out'(Z[L])``), or, for a loss that fuses with its activation (softmax
with cross-entropy), ``dZ[L]`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from nnscratch.registry import Registry


def mse_loss(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """``1/(2m) Σ (ŷ - y)²`` over a ``(1, m)`` (or ``(m,)``) batch.

    >>> round(mse_loss(np.array([[1.0, 1.0, 4.0]]), np.array([[1.0, 0.0, 2.0]])), 6)
    0.833333
    """
    Y_hat = np.asarray(Y_hat, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64).reshape(Y_hat.shape)
    m = Y_hat.shape[-1]
    diff = (Y_hat - Y).ravel()
    return float(diff @ diff) / (2 * m)


def mse_gradient(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``∂MSE/∂Ŷ = (Ŷ - Y) / m``, shape of ``Y_hat``."""
    m = Y_hat.shape[-1]
    return (Y_hat - np.asarray(Y).reshape(Y_hat.shape)) / m


def l2_penalty(weights: Sequence[np.ndarray], lmbda: float, m: int) -> float:
    """``λ/(2m) Σ_l ‖W[l]‖²_F``.

    >>> l2_penalty([np.ones((2, 2))] * 4, lmbda=0.1, m=2)
    0.4
    """
    if lmbda == 0:
        return 0.0
    squares = sum(float(np.vdot(W, W)) for W in weights)
    return lmbda / (2 * m) * squares


def rmse_from_mse(mse: float) -> float:
    """RMSE from the ½-convention MSE: ``sqrt(2 · MSE)``."""
    return float(np.sqrt(2.0 * mse))


# --------------------------------------------------------------------------- the table


class Loss:
    """A data loss ``J_data = 1/m Σ_i ℓ(ŷ_i, y_i)`` and where backpropagation starts.

    ``output_activation`` is the activation the loss pairs with by default.
    ``gives_dZ`` is True when :meth:`output_delta` already includes the output
    activation's derivative (a fused pair such as softmax + cross-entropy).
    ``logged`` names what :meth:`validation_logs` returns.
    """

    name: ClassVar[str]
    output_activation: ClassVar[str]
    gives_dZ: ClassVar[bool] = False
    logged: ClassVar[tuple[str, ...]] = ("val_loss",)

    def value(self, Y_hat: np.ndarray, Y: np.ndarray) -> float:
        """``J_data`` for ``(n[L], m)`` predictions and targets, in float64."""
        raise NotImplementedError

    def output_delta(self, A: np.ndarray, Y: np.ndarray, out: np.ndarray) -> float:
        """Fill ``out`` with ``∂J_data/∂A[L]`` (or ``∂J_data/∂Z[L]`` when ``gives_dZ``);
        return ``Σ_i ℓ_i``, the batch's summed loss, as a float."""
        raise NotImplementedError

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """``ℓ_i`` of every column, ``(m,)`` float64."""
        raise NotImplementedError

    def weighted_output_delta(
        self, A: np.ndarray, Y: np.ndarray, out: np.ndarray, weights: np.ndarray
    ) -> float:
        """:meth:`output_delta` of the weighted loss ``J = Σ_i w_i ℓ_i / Σ_i w_i``
        (scikit-learn's, so weight 2 is the row twice): ``out`` gets
        ``w_i (A - Y)_i / Σ w`` (every loss of the table has ``A - Y`` as its delta);
        returns ``Σ_i w_i ℓ_i``. ``weights`` is ``(m,)``."""
        total = float(np.dot(np.asarray(weights, dtype=np.float64), self.per_sample(A, Y)))
        np.subtract(A, Y, out=out)
        out *= (weights * (1.0 / float(np.sum(weights, dtype=np.float64)))).astype(out.dtype)
        return total

    def validation_logs(self, Y_hat: np.ndarray, Y: np.ndarray, scale: float) -> dict[str, float]:
        """What the training loop logs on validation data: ``val_loss`` and friends."""
        return {"val_loss": self.value(Y_hat, Y)}


class SquaredError(Loss):
    """``ℓ = ½ (ŷ - y)²``, so ``J_data = MSE`` above; ``dA[L] = (Ŷ - Y) / m``."""

    name = "mse"
    output_activation = "identity"
    logged = ("val_loss", "val_rmse")

    def value(self, Y_hat: np.ndarray, Y: np.ndarray) -> float:
        return mse_loss(Y_hat, Y)

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        residual = np.asarray(A, dtype=np.float64) - Y
        return 0.5 * np.einsum("km,km->m", residual, residual)

    def output_delta(self, A: np.ndarray, Y: np.ndarray, out: np.ndarray) -> float:
        np.subtract(A, Y, out=out)  # ŷ - y
        half_sse = 0.5 * float(np.vdot(out, out))  # Σ ½ (ŷ - y)²
        out *= 1.0 / A.shape[-1]  # (ŷ - y) / m
        return half_sse

    def validation_logs(self, Y_hat: np.ndarray, Y: np.ndarray, scale: float) -> dict[str, float]:
        """``val_loss`` (the ½-MSE) and ``val_rmse``, times ``scale`` (target units)."""
        residual = Y_hat - Y
        sse = float(np.vdot(residual, residual))
        return {
            "val_loss": sse / (2 * Y.shape[-1]),
            "val_rmse": math.sqrt(sse / Y.size) * scale,
        }


def _log_clipped(values: np.ndarray) -> np.ndarray:
    """``log`` of probabilities in float64, floored at the smallest normal float64
    (a probability that rounded to 0 costs about 708 nats, not infinity)."""
    return np.log(np.maximum(np.asarray(values, dtype=np.float64), np.finfo(np.float64).tiny))


def _accuracy(correct: np.ndarray) -> float:
    return float(np.mean(correct)) if correct.size else float("nan")


class CrossEntropy(Loss):
    """``ℓ = -Σ_k y_k log a_k`` with a softmax output; ``dZ[L] = (A - Y) / m``."""

    name = "cross_entropy"
    output_activation = "softmax"
    gives_dZ = True
    logged = ("val_loss", "val_accuracy")

    def value(self, Y_hat: np.ndarray, Y: np.ndarray) -> float:
        p_true = np.sum(np.asarray(Y_hat, dtype=np.float64) * Y, axis=0)
        return float(-np.mean(_log_clipped(p_true)))

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return -_log_clipped(np.einsum("km,km->m", A, Y))

    def output_delta(self, A: np.ndarray, Y: np.ndarray, out: np.ndarray) -> float:
        total = -float(np.sum(_log_clipped(np.einsum("km,km->m", A, Y))))
        np.subtract(A, Y, out=out)
        out *= 1.0 / A.shape[-1]  # (A - Y) / m
        return total

    def validation_logs(self, Y_hat: np.ndarray, Y: np.ndarray, scale: float) -> dict[str, float]:
        correct = np.argmax(Y_hat, axis=0) == np.argmax(Y, axis=0)
        return {"val_loss": self.value(Y_hat, Y), "val_accuracy": _accuracy(correct)}


class BinaryCrossEntropy(Loss):
    """``ℓ = -[y log a + (1 - y) log(1 - a)]`` with a sigmoid output; ``dZ[L] = (a - y) / m``."""

    name = "binary_cross_entropy"
    output_activation = "sigmoid"
    gives_dZ = True
    logged = ("val_loss", "val_accuracy")

    @staticmethod
    def _sum(A: np.ndarray, Y: np.ndarray) -> float:
        a = np.asarray(A, dtype=np.float64)
        y = np.asarray(Y, dtype=np.float64)
        return -float(np.sum(y * _log_clipped(a) + (1.0 - y) * _log_clipped(1.0 - a)))

    def value(self, Y_hat: np.ndarray, Y: np.ndarray) -> float:
        return self._sum(Y_hat, Y) / np.asarray(Y_hat).shape[-1]

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        a = np.asarray(A, dtype=np.float64)
        y = np.asarray(Y, dtype=np.float64)
        return -np.sum(y * _log_clipped(a) + (1.0 - y) * _log_clipped(1.0 - a), axis=0)

    def output_delta(self, A: np.ndarray, Y: np.ndarray, out: np.ndarray) -> float:
        total = self._sum(A, Y)
        np.subtract(A, Y, out=out)
        out *= 1.0 / A.shape[-1]  # (a - y) / m
        return total

    def validation_logs(self, Y_hat: np.ndarray, Y: np.ndarray, scale: float) -> dict[str, float]:
        correct = (np.asarray(Y_hat) >= 0.5) == (np.asarray(Y) >= 0.5)
        return {"val_loss": self.value(Y_hat, Y), "val_accuracy": _accuracy(correct)}


#: Losses by name; each knows its output activation (see :class:`Loss`).
LOSSES: Registry[Loss] = Registry("loss")
for _loss in (SquaredError(), CrossEntropy(), BinaryCrossEntropy()):
    LOSSES.add(_loss)


def total_loss(
    Y_hat: np.ndarray,
    Y: np.ndarray,
    weights: Sequence[np.ndarray],
    lmbda: float,
    loss: str | Loss = "mse",
) -> float:
    """``J = J_data + L2`` for one batch of ``m = Y_hat.shape[-1]`` samples."""
    loss = LOSSES.lookup(loss) if isinstance(loss, str) else loss
    return loss.value(Y_hat, Y) + l2_penalty(weights, lmbda, np.asarray(Y_hat).shape[-1])
