"""How long the course's milestones take: ``nnscratch learn train`` with the reference answers.

Each milestone — the shared Spotify sample with the defaults (13-64-32-16-1, full-batch
gradient descent, 1,000 epochs) and the 8×8 digits (64-64-32-16-10, momentum on
mini-batches of 32, 60 epochs) — runs the learner's network (``notebooks/answers/``,
the reference workspace) and the engine from the same weights, as a learner's command
line does, ``--rounds`` times; the table gives each run's wall time (data, both sides,
outputs), each side's training seconds, the scores and the largest relative difference
between the two runs' per-epoch losses. Both sides hold BLAS to one thread.

    python benchmarks/learn_milestones.py --data ../shared/data/spotify/tracks.csv

Writes ``benchmarks/results/learn_milestones.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import threadpoolctl
from results_io import write_results  # benchmarks/, beside this script

from nnscratch.app.cli.main import main
from nnscratch.app.learn.workspace import start

HERE = Path(__file__).resolve().parent
ANSWERS = HERE.parent / "notebooks" / "answers"


def milestone(workspace: Path, data: str, out: Path) -> dict[str, Any]:
    """One ``nnscratch learn train`` run: its metrics and its wall time."""
    started = time.perf_counter()
    code = main(["learn", "train", "-w", str(workspace), "--data", data, "--out", str(out)])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"learn train --data {data} exited {code}")
    return {"wall_seconds": round(seconds, 1), **json.loads((out / "metrics.json").read_text())}


def table(runs: list[dict[str, Any]], kernel: str) -> str:
    lines = [
        "| milestone | wall s | yours s | engine s | your score | the engine's "
        "| max relative difference |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        metric = "test_accuracy" if "yours_test_accuracy" in run else "test_rmse"
        fmt = "{:.2%}" if metric == "test_accuracy" else "{:.3f}"
        lines.append(
            f"| {run['kind']} ({run['training_samples']:,} training samples) | "
            f"{run['wall_seconds']} | {run['yours_seconds']} | {run['engine_seconds']} | "
            f"{fmt.format(run['yours_' + metric])} | {fmt.format(run['engine_' + metric])} | "
            f"{run['max_relative_difference']:.1e} |"
        )
    return "\n".join(lines) + f"\n\nBLAS: {kernel}\n"


def main_(args: argparse.Namespace) -> None:
    kernel = ", ".join(
        f"{i['internal_api']} {i['version']} ({i.get('architecture')})"
        for i in threadpoolctl.threadpool_info()
        if i["user_api"] == "blas"
    )
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "mynet"
        start(workspace)
        for path in ANSWERS.glob("*.py"):
            shutil.copy(path, workspace / path.name)
        for round_ in range(args.rounds):
            for data in (args.data, "digits"):
                out = Path(folder) / f"run-{round_}-{Path(data).stem}"
                runs.append(milestone(workspace, data, out))
    write_results(args.out, {"runs": runs, "blas": kernel}, table(runs, kernel))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", default=str(HERE.parent.parent / "shared/data/spotify/tracks.csv")
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "learn_milestones"))
    main_(parser.parse_args())
