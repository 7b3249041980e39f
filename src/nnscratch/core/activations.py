"""Stage 3 — activation functions and their derivatives.

Each activation ``g`` is one class, registered by name in
:data:`ACTIVATIONS`, with the same five methods:

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
  pass follows, so nothing need be kept (by default the forward form).
  ``zeros`` is a read-only array of zeros shaped like ``Z``, which ReLU uses
  (see ``docs/performance.md`` for why an array beats the scalar 0).

========== ============================== ===================================
name       g(z)                           g'(z)
========== ============================== ===================================
relu       max(z, 0)                      1 if z > 0 else 0 (as in the seed)
identity   z                              1
sigmoid    1 / (1 + e^-z)                 g(z) (1 - g(z))
tanh       tanh z                         1 - tanh² z
leaky_relu z if z > 0 else 0.01 z         1 if z > 0 else 0.01
softmax    e^(z_k - max z) / Σ_j e^(z_j - max z)   a_k (δ_jk - a_j)  (a Jacobian)
========== ============================== ===================================

Softmax is the one activation that is not element-wise: it normalises each
column of a ``(classes, m)`` block, so it serves only as an output layer
(``elementwise = False``), and its derivative is a Jacobian, applied in
``backward_inplace`` as the product ``dZ = A ⊙ (dA - Σ_k A_k dA_k)``.
Subtracting each column's maximum first keeps ``e^z`` from overflowing
whatever the logits (the same function, since softmax ignores a shift).

Adding an activation is one class and one line in :data:`ACTIVATIONS`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from nnscratch.registry import Registry

LEAKY_SLOPE = 0.01


class Activation:
    """An activation ``g`` with its derivative, in all three forms (see module docs)."""

    name: ClassVar[str]
    #: applied to each entry alone (every hidden activation must be)
    elementwise: ClassVar[bool] = True
    #: True when the forward pass leaves ``g'(Z)`` itself in ``scratch`` (ReLU's mask)
    derivative_in_scratch: ClassVar[bool] = False

    def function(self, z: np.ndarray) -> np.ndarray:
        """``g(z)`` as a new array."""
        raise NotImplementedError

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``g'(z)`` as a new array."""
        raise NotImplementedError

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        """``Z ← g(Z)``, leaving in ``scratch`` what :meth:`backward_inplace` needs."""
        raise NotImplementedError

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        """``dA ← dA ⊙ g'(Z)``, from ``A = g(Z)`` and the forward pass's ``scratch``."""
        raise NotImplementedError

    def predict_inplace(self, Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
        """``Z ← g(Z)`` with no backward pass to follow."""
        self.apply_inplace(Z, scratch)

    def derivative_from_output(self, A: np.ndarray, out: np.ndarray) -> None:
        """``out ← g'(Z)`` from ``A = g(Z)``, for layers whose ``A`` dropout will change."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


class ReLU(Activation):
    name = "relu"
    derivative_in_scratch = True

    def function(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return (np.asarray(z) > 0).astype(np.result_type(z, np.float32))

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        # z · [z > 0]: faster than np.maximum here, and the mask is g'(z) for backward.
        np.greater(Z, 0, out=scratch)
        Z *= scratch

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        dA *= scratch  # the mask [z > 0] left by the forward pass

    def predict_inplace(self, Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
        np.maximum(Z, zeros, out=Z)  # no mask needed: max(z, 0), array against array


class Identity(Activation):
    name = "identity"

    def function(self, z: np.ndarray) -> np.ndarray:
        return np.array(z, copy=True)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return np.ones_like(z)

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        return None

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        return None

    def derivative_from_output(self, A: np.ndarray, out: np.ndarray) -> None:
        out[...] = 1


class Sigmoid(Activation):
    """Computed as ``(1 + tanh(z/2)) / 2``: the same function, and it never overflows."""

    name = "sigmoid"

    def function(self, z: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))

    def derivative(self, z: np.ndarray) -> np.ndarray:
        s = self.function(z)
        return s * (1.0 - s)

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        Z *= 0.5
        np.tanh(Z, out=Z)
        Z += 1
        Z *= 0.5

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        self.derivative_from_output(A, scratch)
        dA *= scratch

    def derivative_from_output(self, A: np.ndarray, out: np.ndarray) -> None:
        np.subtract(1, A, out=out)
        out *= A  # σ'(z) = σ(z)(1 - σ(z)) = A(1 - A)


class Tanh(Activation):
    name = "tanh"

    def function(self, z: np.ndarray) -> np.ndarray:
        return np.tanh(z)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        return 1.0 - np.tanh(z) ** 2

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        np.tanh(Z, out=Z)

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        self.derivative_from_output(A, scratch)
        dA *= scratch

    def derivative_from_output(self, A: np.ndarray, out: np.ndarray) -> None:
        np.square(A, out=out)
        np.subtract(1, out, out=out)  # tanh'(z) = 1 - A²


class LeakyReLU(Activation):
    name = "leaky_relu"
    derivative_in_scratch = True

    def function(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        return np.where(z > 0, z, LEAKY_SLOPE * z)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z)
        return np.where(z > 0, 1.0, LEAKY_SLOPE).astype(np.result_type(z, np.float32))

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        np.greater(Z, 0, out=scratch)
        scratch *= 1 - LEAKY_SLOPE
        scratch += LEAKY_SLOPE  # the slope g'(z): 1 or 0.01, kept for backward
        Z *= scratch

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        dA *= scratch

    def predict_inplace(self, Z: np.ndarray, scratch: np.ndarray, zeros: np.ndarray) -> None:
        np.multiply(Z, LEAKY_SLOPE, out=scratch)
        np.maximum(Z, scratch, out=Z)  # max(z, 0.01 z) is z for z > 0, else 0.01 z


class Softmax(Activation):
    """Column-wise softmax of a ``(classes, m)`` block; an output activation only."""

    name = "softmax"
    elementwise = False

    def function(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.result_type(z, np.float32))
        e = np.exp(z - z.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """The Jacobian's diagonal ``a_k (1 - a_k)`` (the full Jacobian is ``diag(a) - a aᵀ``)."""
        a = self.function(z)
        return a * (1.0 - a)

    def apply_inplace(self, Z: np.ndarray, scratch: np.ndarray) -> None:
        column = scratch[:1]  # a (1, m) row of the scratch buffer
        np.max(Z, axis=0, keepdims=True, out=column)
        Z -= column  # z - max z: every exponent ≤ 0, nothing overflows
        np.exp(Z, out=Z)
        np.sum(Z, axis=0, keepdims=True, out=column)
        Z /= column

    def backward_inplace(self, A: np.ndarray, dA: np.ndarray, scratch: np.ndarray) -> None:
        np.multiply(A, dA, out=scratch)
        dA -= scratch.sum(axis=0, keepdims=True)  # dA - Σ_k A_k dA_k
        dA *= A


#: Activations by name, in the style of scikit-learn's ``ACTIVATIONS`` table.
ACTIVATIONS: Registry[Activation] = Registry("activation")
for _activation in (ReLU(), Identity(), Sigmoid(), Tanh(), LeakyReLU(), Softmax()):
    ACTIVATIONS.add(_activation)


# The math as plain functions, for reading and for the lab.
relu, relu_derivative = ACTIVATIONS["relu"].function, ACTIVATIONS["relu"].derivative
sigmoid = ACTIVATIONS["sigmoid"].function
