"""How the default digits recipe was chosen: candidate networks scored on validation.

Each candidate is one network (an ``MLPClassifier``'s parameters and a seed) trained
on MNIST's training images less the default 5,000-image validation hold-out (split
seed 0), one BLAS thread each and ``--workers`` at a time, as the recipe's members
train side by side. Each reports validation accuracy (what chooses), test accuracy
(reported, never used to choose) and its seconds; pairs of candidates are then
scored as two-network ensembles (probabilities averaged), the recipe's shape.

    python benchmarks/digits_recipe_search.py --data ../shared/data/mnist
    python benchmarks/digits_recipe_search.py --only affine-d0.1-s10 affine-d0.1-s11

Writes ``benchmarks/results/digits_recipe_search.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from results_io import write_results  # benchmarks/, beside this script
from threadpoolctl import threadpool_limits

from nnscratch import MLPClassifier
from nnscratch.data.images import load_mnist
from nnscratch.tasks.digits import holdout_split

HERE = Path(__file__).resolve().parent
BASE = {
    "hidden_layer_sizes": (800, 800),
    "lr_schedule": "cosine",
    "batch_size": 256,
    "learning_rate": 2e-3,
    "epochs": 28,
    "early_stopping": False,
}


def candidate(seed: int, **changes: Any) -> dict[str, Any]:
    return {**BASE, "random_state": seed, **changes}


#: name → the network's parameters (the old default, 512-256 without augmentation, first)
CANDIDATES = {
    "old-512-256-d0.2-s10": candidate(
        10,
        hidden_layer_sizes=(512, 256),
        dropout=0.2,
        batch_size=128,
        learning_rate=1e-3,
        epochs=20,
    ),
    "shift-d0.2-bs128-s0": candidate(
        0, dropout=0.2, augment="shift", batch_size=128, learning_rate=1e-3, epochs=30
    ),
    "shift-1024-d0.2-bs128-s0": candidate(
        0,
        hidden_layer_sizes=(1024, 1024),
        dropout=0.2,
        augment="shift",
        batch_size=128,
        learning_rate=1e-3,
        epochs=22,
    ),
    "shift-d0.2-s0": candidate(0, dropout=0.2, augment="shift", epochs=30),
    "affine-d0.2-s10": candidate(10, dropout=0.2, augment="affine"),
    "affine-d0.2-s11": candidate(11, dropout=0.2, augment="affine"),
    "elastic-d0.2-s10": candidate(10, dropout=0.2, augment="elastic"),
    "affine-d0.1-s10": candidate(10, dropout=0.1, augment="affine"),
    "affine-d0.1-s11": candidate(11, dropout=0.1, augment="affine"),
    "elastic-d0.1-s11": candidate(11, dropout=0.1, augment="elastic"),
}


def train_one(args: tuple[str, dict[str, Any], str]) -> dict[str, Any]:
    """Train candidate ``name``; its validation and test probabilities and seconds."""
    name, params, data = args
    images = load_mnist(data)
    train, val = holdout_split(len(images.y_train), 0)
    with threadpool_limits(1, user_api="blas"):
        started = time.perf_counter()
        model = MLPClassifier(**params).fit(images.X_train[train], images.y_train[train])
        seconds = time.perf_counter() - started
        return {
            "name": name,
            "seconds": seconds,
            "val": model.predict_proba(images.X_train[val]),
            "test": model.predict_proba(images.X_test),
        }


def accuracy(proba: np.ndarray, y: np.ndarray) -> float:
    return float((proba.argmax(axis=1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(HERE.parent.parent / "shared/data/mnist"))
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), help="these candidates")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "digits_recipe_search"))
    args = parser.parse_args()
    names = args.only or list(CANDIDATES)
    images = load_mnist(args.data)
    _, val = holdout_split(len(images.y_train), 0)
    y_val, y_test = images.y_train[val], images.y_test
    jobs = [(name, CANDIDATES[name], args.data) for name in names]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = {r["name"]: r for r in pool.map(train_one, jobs)}
    singles = [
        {
            "candidate": n,
            "params": json.loads(json.dumps(CANDIDATES[n], default=list)),
            "val": accuracy(runs[n]["val"], y_val),
            "test": accuracy(runs[n]["test"], y_test),
            "seconds": runs[n]["seconds"],
        }
        for n in names
    ]
    pairs = [
        {
            "members": [a, b],
            "val": accuracy(runs[a]["val"] + runs[b]["val"], y_val),
            "test": accuracy(runs[a]["test"] + runs[b]["test"], y_test),
        }
        for a, b in combinations(names, 2)
    ]
    report = {"data": args.data, "singles": singles, "pairs": pairs}
    write_results(args.out, report, markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "**Digits recipe candidates** (one network each, MNIST less 5,000 validation "
        "images; 800-800 hidden, Adam 2e-3 cosine, batch 256, 28 epochs unless named)",
        "",
        "| candidate | val accuracy | test accuracy | seconds (one core) |",
        "|---|---:|---:|---:|",
    ]
    for s in report["singles"]:
        lines.append(
            f"| {s['candidate']} | {s['val']:.2%} | {s['test']:.2%} | {s['seconds']:.0f} |"
        )
    lines += [
        "",
        "**Two-network ensembles** (probabilities averaged)",
        "",
        "| members | val accuracy | test accuracy |",
        "|---|---:|---:|",
    ]
    for p in sorted(report["pairs"], key=lambda p: -p["val"]):
        lines.append(f"| {' + '.join(p['members'])} | {p['val']:.2%} | {p['test']:.2%} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
