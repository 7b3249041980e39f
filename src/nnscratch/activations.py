"""Stage 3 — activation functions and their derivatives.

Each activation ``g`` comes in three forms:

* ``function(z)`` and ``derivative(z)`` return new arrays: the math, for
  reading, testing and the analysis lab;
* ``apply_inplace(Z, scratch)`` and ``backward_inplace(A, dA, scratch)``
  work in buffers the network owns, so the hot path allocates nothing:
  ``Z ← g(Z)`` (the buffer then holds ``A``) and ``dA ← dA ⊙ g'(Z)`` (``dA``
  becomes ``dZ``). ``scratch`` is a same-shaped buffer in which the forward
  leaves what the backward needs: ReLU its 0/1 mask, leaky ReLU its slope.
  Sigmoid and tanh get their derivative from ``A`` itself. So no derivative
  needs ``Z`` after the forward pass, and the network never keeps it;
* ``predict_inplace(Z, scratch, zeros)`` is ``Z ← g(Z)`` when no backward
  pass follows, so nothing need be kept: ReLU is then one
  ``np.maximum(Z, zeros)`` against ``zeros``, a read-only array of zeros
  shaped like ``Z``. NumPy's ``maximum`` runs about 4× faster on two arrays
  than on an array and the scalar 0 (0.10 against 0.38 ns per float32
  element, measured; see ``docs/performance.md``).

========== ============================== ===================================
name       g(z)                           g'(z)
========== ============================== ===================================
relu       max(z, 0)                      1 if z > 0 else 0 (as in the seed)
identity   z                              1
sigmoid    1 / (1 + e^-z)                 g(z) (1 - g(z))
tanh       tanh z                         1 - tanh² z
leaky_relu z if z > 0 else 0.01 z         1 if z > 0 else 0.01
========== ============================== ===================================

The sigmoid is computed as ``(1 + tanh(z/2)) / 2``, which is the same
function but never overflows, whatever the size of ``z``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

LEAKY_SLOPE = 0.01


# -- the math: new arrays -----------------------------------------------------------


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(np.result_type(z, np.float32))


def identity(z: np.ndarray) -> np.ndarray:
    return np.array(z, copy=True)


def identity_derivative(z: np.ndarray) -> np.ndarray:
    return np.ones_like(z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    return np.tanh(z)


def tanh_derivative(z: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(z) ** 2


def leaky_relu(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def leaky_relu_derivative(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z)
    return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(np.result_type(z, np.float32))


# -- the hot path: into buffers -----------------------------------------------------


def _relu_inplace(Z: np.ndarray, scratch: np.ndarray) -> None:
    # z · [z > 0]: faster than np.maximum here, and the mask is g'(z) for backward.
    np.greater(Z, 0, out=scratch)
    Z *= scratch


def _relu_backward(A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
    dA *= scratch  # the mask [z > 0] left by the forward pass


def _relu_predict(Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
    np.maximum(Z, zeros, out=Z)  # no mask needed: max(z, 0), array against array


def _identity_inplace(Z: np.ndarray, scratch: np.ndarray) -> None:
    return None


def _identity_backward(A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
    return None


def _identity_predict(Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
    return None


def _sigmoid_inplace(Z: np.ndarray, scratch: np.ndarray) -> None:
    Z *= 0.5
    np.tanh(Z, out=Z)
    Z += 1
    Z *= 0.5


def _sigmoid_predict(Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
    _sigmoid_inplace(Z, scratch)  # keeps nothing extra anyway


def _sigmoid_backward(A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
    np.subtract(1, A, out=scratch)
    scratch *= A  # σ'(z) = σ(z)(1 - σ(z)) = A(1 - A)
    dA *= scratch


def _tanh_inplace(Z: np.ndarray, scratch: np.ndarray) -> None:
    np.tanh(Z, out=Z)


def _tanh_predict(Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
    np.tanh(Z, out=Z)


def _tanh_backward(A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
    np.square(A, out=scratch)
    np.subtract(1, scratch, out=scratch)  # tanh'(z) = 1 - A²
    dA *= scratch


def _leaky_relu_inplace(Z: np.ndarray, scratch: np.ndarray) -> None:
    np.greater(Z, 0, out=scratch)
    scratch *= 1 - LEAKY_SLOPE
    scratch += LEAKY_SLOPE  # the slope g'(z): 1 or 0.01, kept for backward
    Z *= scratch


def _leaky_relu_backward(A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
    dA *= scratch


def _leaky_relu_predict(Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
    np.multiply(Z, LEAKY_SLOPE, out=scratch)
    np.maximum(Z, scratch, out=Z)  # max(z, 0.01 z) is z for z > 0, else 0.01 z


@dataclass(frozen=True)
class Activation:
    """An activation ``g`` with its derivative, in all three forms (see module docs)."""

    name: str
    function: Callable[[np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray], np.ndarray]
    apply_inplace: Callable[[np.ndarray, np.ndarray], None]
    backward_inplace: Callable[[np.ndarray, np.ndarray, np.ndarray], None]
    predict_inplace: Callable[[np.ndarray, np.ndarray, np.ndarray], None]


#: Activations by name, in the style of scikit-learn's ``ACTIVATIONS`` table.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("relu", relu, relu_derivative, _relu_inplace, _relu_backward, _relu_predict),
        Activation(
            "identity",
            identity,
            identity_derivative,
            _identity_inplace,
            _identity_backward,
            _identity_predict,
        ),
        Activation(
            "sigmoid",
            sigmoid,
            sigmoid_derivative,
            _sigmoid_inplace,
            _sigmoid_backward,
            _sigmoid_predict,
        ),
        Activation(
            "tanh",
            tanh,
            tanh_derivative,
            _tanh_inplace,
            _tanh_backward,
            _tanh_predict,
        ),
        Activation(
            "leaky_relu",
            leaky_relu,
            leaky_relu_derivative,
            _leaky_relu_inplace,
            _leaky_relu_backward,
            _leaky_relu_predict,
        ),
    )
}


def get_activation(name: str) -> Activation:
    """Look an activation up by name, with a clear error for unknown names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}"
        ) from None
