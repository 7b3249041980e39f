"""Stage 5 — the cost the network minimises, and where backpropagation starts.

For predictions Y_hat and targets Y, both (n[L], m), and weights W[1..L]:

    J  = 1/(2m) Σ (ŷ − y)²  +  λ/(2m) Σ_l ‖W[l]‖²     the ½ cancels the square's 2
    ∂J/∂Ŷ = (Ŷ − Y) / m                              the first dZ[L] (a linear output)

Biases are not regularised. The RMSE in the target's units is √(2J) at λ = 0.

Docs: docs/5-loss-backprop.md · notebook: notebooks/05_loss.py
Check: nnscratch learn check loss (or nnscratch learn watch)
"""

import numpy as np


def mse_cost(Y_hat: np.ndarray, Y: np.ndarray) -> float:
    """Exercise 5.1 — the MSE cost.

    The data cost J = 1/(2m) Σ (ŷ − y)², one number.

    Y_hat and Y: (n[L], m); the sum runs over every entry, m = Y.shape[1] samples.
    """
    m = Y.shape[1]
    return float(np.sum((Y_hat - Y) ** 2) / (2 * m))


def l2_penalty(weights: list[np.ndarray], lmbda: float, m: int) -> float:
    """Exercise 5.2 — the L2 penalty.

    The L2 penalty λ/(2m) Σ_l ‖W[l]‖², one number.

    weights [W1..WL]; ‖W‖² is the sum of W's squared entries; m the batch's samples.
    """
    return lmbda / (2 * m) * sum(float(np.sum(W**2)) for W in weights)


def mse_gradient(Y_hat: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Exercise 5.3 — the cost's gradient.

    ∂J/∂Ŷ = (Ŷ − Y) / m, (n[L], m): with a linear output layer, dZ[L].
    """
    return (Y_hat - Y) / Y.shape[1]
