"""The default network's first layer: the dense product against the structured gather.

The piecewise-linear encoding of a value is 1 for every bin below its bin,
the fraction inside its bin, 0 above. So for one feature the first layer's
``V · x`` is a prefix sum of ``V``'s columns up to the bin plus a fraction of
the next column: with the prefix sums ``C`` formed once a step, 2 columns a
feature per sample instead of a dot product over all of the feature's bins,
about 6× fewer multiply-adds for the default encoding. This script measures
whether NumPy can cash that in, at the default shape (TabM k=16, 64 units,
the shared sample's encoding: 27 features, 286 bins, 313 inputs), batch 256,
one thread, float32, best of ``--repeats`` rounds of 200 calls:

* **dense forward**: ``V = W ⊙ r`` (the members' weights), then ``P = V · X``,
  as :class:`~nnscratch.core.batchensemble.BatchEnsembleNetwork` does;
* **gather forward**: the prefix sums ``C`` of ``V`` per feature (a cumulative
  sum a step), then per feature a gather of ``C`` at each sample's bin and of
  ``V`` at the bin above, times the fraction, added up (checked equal to the
  dense ``P`` within float32 rounding);
* **dense backward**: ``G = dP · Xᵀ`` and the two reductions to ``dW`` and
  ``dr``. (The structured backward needs a scatter-add of ``dP``'s columns by
  bin, which NumPy does as a product with the one-hot bins — the dense
  product again — or with ``np.add.at``, slower still.)

    python benchmarks/ple_first_layer.py --data ../shared/data/spotify/tracks.csv

Writes ``benchmarks/results/ple_first_layer.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from results_io import write_results  # benchmarks/, beside this script
from threadpoolctl import threadpool_info, threadpool_limits

from nnscratch.data.features import RECIPE_FEATURES
from nnscratch.data.preprocessing import prepare
from nnscratch.data.tracks import load_tracks
from nnscratch.models.recipes import DEFAULT_RECIPE

HERE = Path(__file__).resolve().parent


def per_call_ms(work: Callable[[], object], repeats: int, calls: int = 200) -> float:
    work()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            work()
        best = min(best, (time.perf_counter() - start) / calls)
    return best * 1e3


def bin_codes(X: np.ndarray, column: np.ndarray) -> list[tuple[Any, ...]]:
    """The structure of encoded inputs ``X`` ``(n0, m)``: per feature (its bins' ``start``,
    ``stop`` rows), each sample's count of full bins, the bin it is inside and the fraction
    of that bin (0 where every bin is full)."""
    m = X.shape[1]
    starts = np.r_[0, np.flatnonzero(np.diff(column)) + 1]
    stops = np.r_[starts[1:], len(column)]
    codes = []
    for start, stop in zip(starts, stops, strict=True):
        e = X[start:stop]  # (T, m): ones, then the fraction, then zeros
        full = (e >= 1).sum(axis=0)  # bins wholly below the value
        inside = np.minimum(full, stop - start - 1)
        frac = np.where(full < stop - start, e[inside, np.arange(m)], 0).astype(np.float32)
        codes.append((start, stop, full, inside, frac))
    return codes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default="../shared/data/spotify/tracks.csv")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "ple_first_layer"))
    args = parser.parse_args()

    frame = load_tracks(args.data, features=RECIPE_FEATURES)
    data = prepare(frame, RECIPE_FEATURES, seed=0)
    encoder = DEFAULT_RECIPE.preprocessing(data).encoder
    m, k, units = args.batch, DEFAULT_RECIPE.k, DEFAULT_RECIPE.hidden[0]
    scaled = data.X_train[:m].astype(np.float32)
    X = np.ascontiguousarray(encoder.transform(scaled).T)  # (n0, m), the network layout
    n0 = X.shape[0]
    rng = np.random.default_rng(0)
    W = rng.normal(size=(units, n0)).astype(np.float32)
    R = rng.choice([-1.0, 1.0], size=(n0, k)).astype(np.float32)
    V = np.empty((units, k, n0), np.float32)
    P = np.empty((units * k, m), np.float32)

    def dense_forward() -> np.ndarray:
        np.multiply(W[:, None, :], R.T[None], out=V)
        return np.matmul(V.reshape(-1, n0), X, out=P)

    column = encoder.bin_table(np.float32)[0]
    codes = bin_codes(X, column)
    values = X[len(column) :]  # the scaled values the encoding appends

    def gather_forward() -> np.ndarray:
        """Rows gathered from contiguous tables (NumPy's fastest gather), ``(m, n1·k)``."""
        np.multiply(W[:, None, :], R.T[None], out=V)
        rows = np.ascontiguousarray(V.reshape(-1, n0).T)  # (n0, n1·k): a row per input
        out = values.T @ rows[len(column) :]
        zero = np.zeros((1, rows.shape[1]), np.float32)
        for start, stop, full, inside, frac in codes:
            prefix = np.concatenate([zero, np.cumsum(rows[start:stop], axis=0)])  # C[t]
            out += np.take(prefix, full, axis=0)
            out += np.take(rows, start + inside, axis=0) * frac[:, None]
        return out.T

    dP = rng.normal(size=(units * k, m)).astype(np.float32)
    G = np.empty((units, k, n0), np.float32)
    dW, dR = np.empty_like(W), np.empty_like(R)

    def dense_backward() -> None:
        np.matmul(dP, X.T, out=G.reshape(-1, n0))
        np.einsum("jki,ik->ji", G, R, out=dW)
        np.einsum("jki,ji->ik", G, W, out=dR)

    with threadpool_limits(1):
        dense = dense_forward().copy()
        gathered = gather_forward()
        difference = float(np.max(np.abs(gathered - dense)) / np.max(np.abs(dense)))
        times = {
            "dense_forward": per_call_ms(dense_forward, args.repeats),
            "gather_forward": per_call_ms(gather_forward, args.repeats),
            "dense_backward": per_call_ms(dense_backward, args.repeats),
        }
    dense_macs = units * k * n0 * m
    gather_macs = units * k * (2 * len(codes) + len(values)) * m
    blas = sorted(
        {
            f"{i['internal_api']} {i.get('architecture')}"
            for i in threadpool_info()
            if i["internal_api"] == "openblas"
        }
    )
    report: dict[str, Any] = {
        "batch": m,
        "k": k,
        "units": units,
        "inputs": n0,
        "bins": len(column),
        "features": len(codes),
        "blas": blas,
        "ms_per_call": times,
        "multiply_adds": {"dense": dense_macs, "gather": gather_macs},
        "max_relative_difference": difference,
    }
    write_results(args.out, report, markdown(report))


def markdown(r: dict[str, Any]) -> str:
    t, macs = r["ms_per_call"], r["multiply_adds"]
    return "\n".join(
        [
            f"First layer of the default network: {r['inputs']} inputs ({r['features']} features, "
            f"{r['bins']} bins) → {r['units']} units × k={r['k']}, batch {r['batch']}, float32, "
            f"one thread ({', '.join(r['blas'])}); best of the rounds, 200 calls each.",
            "",
            "| first layer | multiply-adds | ms a call | GFLOP/s |",
            "|---|---:|---:|---:|",
            f"| dense forward (`V = W ⊙ r`, `P = V · X`) | {macs['dense'] / 1e6:.1f} M | "
            f"{t['dense_forward']:.2f} | {2 * macs['dense'] / t['dense_forward'] / 1e6:.0f} |",
            f"| gather forward (prefix sums, 2 columns a feature) | {macs['gather'] / 1e6:.1f} M | "
            f"{t['gather_forward']:.2f} | {2 * macs['gather'] / t['gather_forward'] / 1e6:.0f} |",
            f"| dense backward (`G = dP · Xᵀ`, `dW`, `dr`) | {macs['dense'] / 1e6:.1f} M | "
            f"{t['dense_backward']:.2f} | {2 * macs['dense'] / t['dense_backward'] / 1e6:.0f} |",
            "",
            f"Gather ÷ dense forward: **{t['gather_forward'] / t['dense_forward']:.2f}×** the time "
            f"for {macs['gather'] / macs['dense']:.2f}× the multiply-adds. Largest difference "
            f"between the two forwards: {r['max_relative_difference']:.1e} of the largest value.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
