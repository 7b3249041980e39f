"""Backpropagation against central finite differences, for every activation pair.

    python benchmarks/gradient_check.py

Prints the max relative error (see :mod:`nnscratch.core.gradcheck`) for each hidden
× output activation and λ ∈ {0, 0.1} on a random 4-6-5-1 float64 network whose
pre-activations are all at least 1e-2 away from a ReLU kink — the same setup
as ``tests/test_network.py``, which asserts every one is below 1e-6.
"""

from __future__ import annotations

from itertools import product

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.gradcheck import check_gradients, network_away_from_kinks

ACTS = sorted(ACTIVATIONS)
#: softmax normalises over a layer's units: an output activation only
HIDDEN = [name for name in ACTS if ACTIVATIONS[name].elementwise]
#: a one-unit output layer: softmax over one unit is the constant 1
OUTPUT = [name for name in ACTS if name != "softmax"]


def main() -> None:
    rows = []
    for hidden, output, lmbda in product(HIDDEN, OUTPUT, [0.0, 0.1]):
        seed = 10 * ACTS.index(hidden) + ACTS.index(output)
        net, X, Y = network_away_from_kinks([4, 6, 5, 1], hidden, output, m=7, seed=seed)
        rows.append((hidden, output, lmbda, check_gradients(net, X, Y, lmbda)))
    print("| hidden | output | λ | max relative error |")
    print("|---|---|---|---|")
    for hidden, output, lmbda, error in rows:
        print(f"| {hidden} | {output} | {lmbda:g} | {error:.1e} |")
    worst = max(rows, key=lambda r: r[3])
    median = sorted(r[3] for r in rows)[len(rows) // 2]
    print(
        f"\nworst {worst[3]:.1e} ({worst[0]} hidden, {worst[1]} output, λ = {worst[2]:g}); "
        f"median {median:.1e} over {len(rows)} cases"
    )


if __name__ == "__main__":
    main()
