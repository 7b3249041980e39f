"""What per-layer telemetry costs: the default recipe with and without it, alternating.

Each round fits the default recipe (two TabM networks of k = 16 trained side by side,
Adam, batch 256) on the same split for ``--epochs`` epochs (no early stopping, so
both do the same steps), once with :class:`~nnscratch.core.telemetry.Telemetry` at
its default cadence and once without, in alternating order, in this one process.
The table gives each round's seconds and the median overhead; the machine is shared
and noisy, so read the median of the paired ratios.

    python benchmarks/telemetry_overhead.py --data ../shared/data/spotify/tracks.csv

Writes ``benchmarks/results/telemetry_overhead.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from results_io import write_results  # benchmarks/, beside this script

from nnscratch.core.telemetry import DEFAULT_EVERY, Telemetry
from nnscratch.data.preprocessing import prepare
from nnscratch.data.tracks import load_tracks
from nnscratch.models.recipes import DEFAULT_RECIPE

HERE = Path(__file__).resolve().parent


def timed_fit(data: Any, epochs: int, every: int | None) -> tuple[float, int, np.ndarray]:
    """Seconds for one fit, the telemetry records made, and the first network's weights."""
    recipe = replace(DEFAULT_RECIPE, epochs=epochs, patience=None, max_steps=None)
    callbacks = () if every is None else (Telemetry(every=every),)
    started = time.perf_counter()
    model = recipe.fit(data, 0, callbacks=callbacks)
    seconds = time.perf_counter() - started
    records = len(callbacks[0].records) if callbacks else 0
    return seconds, records, model.estimator.network_.params.flat.copy()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(HERE.parent.parent / "shared/data/spotify/tracks.csv")
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY)
    parser.add_argument("--out", default=str(HERE / "results" / "telemetry_overhead"))
    args = parser.parse_args()
    data = prepare(load_tracks(args.data), seed=0)
    timed_fit(data, 1, args.every)  # warm-up: imports, buffers, BLAS threads
    rounds = []
    for r in range(args.rounds):
        order = (None, args.every) if r % 2 == 0 else (args.every, None)
        run = {}
        for every in order:
            seconds, records, weights = timed_fit(data, args.epochs, every)
            run["with" if every else "without"] = {"seconds": seconds, "records": records}
            run.setdefault("weights", []).append(weights)
        same = np.array_equal(*run.pop("weights"))
        rounds.append(
            run
            | {
                "same_weights": same,
                "overhead": run["with"]["seconds"] / run["without"]["seconds"] - 1,
            }
        )
        print(
            f"round {r + 1}: without {run['without']['seconds']:.2f} s, with "
            f"{run['with']['seconds']:.2f} s ({rounds[-1]['overhead']:+.1%}), "
            f"same weights: {same}",
            flush=True,
        )
    report = {
        "data": args.data,
        "epochs": args.epochs,
        "every": args.every,
        "train_rows": len(data.y_train),
        "rounds": rounds,
        "median_overhead": statistics.median(r["overhead"] for r in rounds),
    }
    write_results(args.out, report, markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"**Telemetry overhead**: the default recipe, {report['epochs']} epochs on "
        f"{report['train_rows']:,} training rows, telemetry every {report['every']} steps "
        "(same process, alternating)",
        "",
        "| round | without s | with s | records | overhead | same weights |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for i, r in enumerate(report["rounds"], start=1):
        lines.append(
            f"| {i} | {r['without']['seconds']:.2f} | {r['with']['seconds']:.2f} | "
            f"{r['with']['records']} | {r['overhead']:+.1%} | {r['same_weights']} |"
        )
    lines += ["", f"Median overhead: **{report['median_overhead']:+.1%}**"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
