"""Large data: the default recipe against the configuration it replaced, on ~600k rows.

The file a user downloads has ~600,000 tracks. This benchmark generates that
many synthetic rows (``make_tracks(600000, seed=7)``, the schema of
``tracks.csv``), prepares and encodes them once, and then, in this one
process and in alternating order, trains

* **before**: five plain 64-32-16 networks one after another (``n_jobs=1``),
  the default recipe until the TabM layer replaced it, and
* **default**: :data:`nnscratch.models.recipes.DEFAULT_RECIPE` as it is now,

each for ``--epochs`` epochs without early stopping (best of ``--repeats``).
It reports samples per second per ensemble pass (training rows × epochs /
seconds: every member has seen every row once per pass) and per member
(× the number of members: plain networks, or TabM's ``k`` per network), and
the ratio of the two configurations. The machine is shared and noisy: read
the ratios, not the absolute times.

With ``--end-to-end`` it also writes the rows to a CSV and times
``nnscratch train --data FILE`` with defaults in a child process (wall
seconds, the child's peak RSS, the command's own timing lines and the
network's test RMSE). ``--compare-with DIR`` times the same command from an
earlier checkout of the project too (its ``src/`` first on ``PYTHONPATH``), in
the same run, first, on the same file: before and after a change.

``--memory-budget SIZE`` times ``nnscratch train --memory-budget SIZE`` on the same
file too (out of core); ``--parquet-parts N`` writes the rows as N Parquet parts in a
folder instead of one CSV (each part generated apart, so the parent never holds the
table); ``--end-to-end-only`` leaves out the throughput section; and
``--end-to-end-repeats R`` runs each command R times, alternating the order.

    python benchmarks/large_data.py --end-to-end
    git worktree add /tmp/before <commit>
    python benchmarks/large_data.py --end-to-end --compare-with /tmp/before --epochs 1
    python benchmarks/large_data.py --end-to-end-only --compare-with /tmp/before \
        --memory-budget 256MB --out benchmarks/results/large_data_600k
    python benchmarks/large_data.py --end-to-end-only --rows 5000000 --parquet-parts 10 \
        --out benchmarks/results/large_data_5m

Writes ``benchmarks/results/large_data.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from results_io import write_results  # benchmarks/, beside this script

from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import TracksFile
from nnscratch.models.recipes import DEFAULT_RECIPE, FAST_RECIPE, Recipe

HERE = Path(__file__).resolve().parent
SETTLE_S = 0.3  # let spinning BLAS threads of the previous run go idle (train_throughput.py)

#: The default recipe before the TabM layer, as it ran then: five plain networks
#: one after another, on quantile bins (``--preset fast`` with both changed).
BEFORE = replace(
    FAST_RECIPE,
    bins="quantile",
    n_jobs=1,
    notes="five plain 64-32-16 networks, one after another",
)

#: The lines of ``nnscratch train``'s output that say what was trained, how long it took,
#: and how well the network did.
TIMING_LINES = ("split (seed", "in memory:", "out of core:", "inputs:", "trained ", "nnscratch MLP")

CONFIGURATIONS: dict[str, Recipe] = {"before": BEFORE, "default": DEFAULT_RECIPE}


def members(recipe: Recipe) -> int:
    """Networks the recipe trains on every row per pass: plain ones, or TabM members."""
    return recipe.n_members * recipe.k


def timed_fit(recipe: Recipe, X: np.ndarray, y: np.ndarray, epochs: int, seed: int) -> float:
    estimator = recipe.build(seed).set_params(epochs=epochs, early_stopping=False)
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def throughput_section(rows: int, seed: int, epochs: int, repeats: int) -> dict[str, Any]:
    r = DEFAULT_RECIPE
    tracks = TracksFile.from_frame(
        make_tracks(rows, seed=seed),
        source="synthetic",
        features=r.features,
        optional=r.optional,
        categoricals=r.categoricals,
    )
    data = prepare(  # as nnscratch train
        tracks.frame, tracks.features, seed=0, categoricals=tracks.categoricals
    )
    X = DEFAULT_RECIPE.preprocessing(data).encode(data.X_train)
    y = data.y_train
    n = len(y)
    best = dict.fromkeys(CONFIGURATIONS, np.inf)
    for r in range(repeats):
        names = list(CONFIGURATIONS) if r % 2 == 0 else list(CONFIGURATIONS)[::-1]
        for name in names:
            seconds = timed_fit(CONFIGURATIONS[name], X, y, epochs, seed=r)
            best[name] = min(best[name], seconds)
            print(json.dumps({"config": name, "repeat": r, "seconds": seconds}), flush=True)
    result: dict[str, Any] = {"training_rows": n, "inputs": X.shape[1], "epochs": epochs}
    for name, recipe in CONFIGURATIONS.items():
        per_pass = n * epochs / best[name]
        result[name] = {
            "recipe": recipe.notes,
            "members": members(recipe),
            "seconds": best[name],
            "seconds_per_pass": best[name] / epochs,
            "samples_per_s_per_pass": per_pass,
            "samples_per_s_per_member": per_pass * members(recipe),
        }
    result["ratio_per_pass"] = (
        result["default"]["samples_per_s_per_pass"] / result["before"]["samples_per_s_per_pass"]
    )
    result["ratio_per_member"] = (
        result["default"]["samples_per_s_per_member"] / result["before"]["samples_per_s_per_member"]
    )
    return result


def write_source(folder: Path, rows: int, seed: int, parquet_parts: int | None) -> Path:
    """``make_tracks(rows, seed)`` as one CSV, or (``parquet_parts``) as a folder of that
    many Parquet parts, each generated apart (``make_tracks(rows / parts, seed * 1000 +
    part)``) so that this process never holds the whole table."""
    if parquet_parts is None:
        csv = folder / f"synthetic_{rows}.csv"
        make_tracks(rows, seed=seed).to_csv(csv, index=False)
        return csv
    parts = folder / f"synthetic_{rows}"
    parts.mkdir()
    for part, chunk in enumerate(np.array_split(np.arange(rows), parquet_parts)):
        frame = typed(make_tracks(len(chunk), seed=seed * 1000 + part))
        frame.to_parquet(parts / f"part-{part:03d}.parquet", index=False)
    return parts


def typed(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns a Parquet file types: a column of numbers with junk text in it (``n/a``
    in ``tempo``) becomes numbers with the junk missing, as a typed store holds it; text
    columns stay text."""
    for column in frame.select_dtypes(include="object").columns:
        numbers = pd.to_numeric(frame[column], errors="coerce")
        if numbers.notna().mean() > 0.5:
            frame[column] = numbers
        else:
            frame[column] = frame[column].astype("string")
    return frame


def end_to_end_section(
    rows: int,
    seed: int,
    before: str | None = None,
    *,
    parquet_parts: int | None = None,
    memory_budget: str | None = None,
    repeats: int = 1,
) -> dict[str, Any]:
    """The whole command with defaults on ``rows`` rows (a CSV, or Parquet parts); from
    the checkout ``before`` too, and with ``--memory-budget`` too, each in a child process,
    ``repeats`` times, the order alternating between repeats."""
    runs: list[tuple[str, str | None, list[str]]] = [("now", None, [])]
    if before is not None:
        runs.insert(0, ("before", before, []))
    if memory_budget is not None:
        runs.append(("budget", None, ["--memory-budget", memory_budget]))
    with tempfile.TemporaryDirectory() as tmp:
        source = write_source(Path(tmp), rows, seed, parquet_parts)
        timed: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in runs}
        for r in range(repeats):
            for name, checkout, extra in runs if r % 2 == 0 else runs[::-1]:
                out = Path(tmp) / f"{name}-{r}"
                timed[name].append(timed_train(source, out, checkout, extra))
                print(json.dumps({"run": name, "repeat": r} | timed[name][-1]), flush=True)
    result: dict[str, Any] = {}
    for name, checkout, extra in runs:
        best = min(timed[name], key=lambda t: t["wall_seconds"])
        best |= {
            "peak_rss_mb": max(t["peak_rss_mb"] for t in timed[name]),
            "wall_seconds_all": [t["wall_seconds"] for t in timed[name]],
            "arguments": extra,
        }
        if checkout is not None:
            best["checkout"] = checkout
        if name == "now":
            result |= best
        else:
            result[name] = best
    kind = "Parquet parts" if parquet_parts else "CSV"
    result |= {
        "rows": rows,
        "source": f"{source.name} ({kind})",
        "command": f"nnscratch train --data {source.name}",
        "repeats": repeats,
        "seconds_per_million_rows": result["wall_seconds"] / rows * 1e6,
        "load_average": os.getloadavg(),
    }
    return result


#: Runs ``argv[2:]`` and writes its peak RSS (KB, from ``wait4``) to ``argv[1]``. A process
#: started straight from this one would report at least this process's own resident memory
#: (Linux keeps a process's peak across ``exec``, and a fork's copy counts the parent's
#: pages: writing the 600k-row CSV left this process at 805 MB, and every child "peaked"
#: there); this small launcher's child starts from the launcher's 13 MB instead.
PEAK_RSS_LAUNCHER = """\
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as fh:
    fh.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_train(
    source: Path, out: Path, checkout: str | None, extra: list[str] | None = None
) -> dict[str, Any]:
    """``nnscratch train`` with defaults (and ``extra`` arguments) in a child process: wall
    seconds, peak RSS (the command's own: see :data:`PEAK_RSS_LAUNCHER`), its timing lines
    and the network's test RMSE."""
    env = os.environ.copy()
    if checkout is not None:
        env["PYTHONPATH"] = str(Path(checkout) / "src")
    command = [sys.executable, "-m", "nnscratch", "train", "--data", str(source)]
    command += ["--out", str(out), *(extra or [])]
    logs = out.parent / f"{out.name}.stdout", out.parent / f"{out.name}.stderr"
    peak = out.parent / f"{out.name}.maxrss"
    launcher = [sys.executable, "-S", "-c", PEAK_RSS_LAUNCHER, str(peak)]
    with logs[0].open("w") as stdout, logs[1].open("w") as stderr:
        start = time.perf_counter()
        code = subprocess.run([*launcher, *command], stdout=stdout, stderr=stderr, env=env)
        wall = time.perf_counter() - start
    if code.returncode != 0:
        raise SystemExit(f"nnscratch train failed:\n{logs[1].read_text()}")
    lines = [line for line in logs[0].read_text().splitlines() if line.strip()]
    network = next((line for line in lines if line.startswith("nnscratch MLP")), "")
    return {
        "wall_seconds": wall,
        "peak_rss_mb": int(peak.read_text()) / 1024,
        "test_rmse": float(network.split()[-3]) if network else None,
        "timing_lines": [line for line in lines if line.lstrip().startswith(TIMING_LINES)],
    }


def markdown(report: dict[str, Any]) -> str:
    lines = throughput_markdown(report) if "throughput" in report else []
    if "end_to_end" in report:
        lines += end_to_end_markdown(report["end_to_end"])
    return "\n".join(lines) + "\n"


def throughput_markdown(report: dict[str, Any]) -> list[str]:
    t = report["throughput"]
    lines = [
        f"Synthetic rows `make_tracks({report['rows']}, seed={report['seed']})`, "
        f"{t['training_rows']:,} training rows × {t['inputs']} encoded inputs; "
        f"{t['epochs']} epochs without early stopping, best of {report['repeats']}, alternating, "
        "one process.",
        "",
        "| configuration | members | s per pass | samples/s per pass | samples/s per member |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in CONFIGURATIONS:
        row = t[name]
        lines.append(
            f"| {name}: {row['recipe']} | {row['members']} | {row['seconds_per_pass']:.2f} | "
            f"{row['samples_per_s_per_pass']:,.0f} | {row['samples_per_s_per_member']:,.0f} |"
        )
    lines += [
        "",
        f"Default ÷ before: **{t['ratio_per_pass']:.2f}×** per ensemble pass, "
        f"**{t['ratio_per_member']:.2f}×** per member.",
        "",
    ]
    return lines


def end_to_end_markdown(e: dict[str, Any]) -> list[str]:
    """The runs of the whole command: a table, the ratio to before, each run's lines."""
    runs = [("now", e)]
    if "before" in e:
        runs.insert(0, (f"before (`{e['before']['checkout']}`)", e["before"]))
    if "budget" in e:
        runs.append((f"now, `{' '.join(e['budget']['arguments'])}`", e["budget"]))
    load = ", ".join(f"{x:.1f}" for x in e["load_average"])
    lines = [
        f"`{e['command']}` — {e['source']}, {e['rows']:,} rows — with defaults, a child "
        f"process each, the same source, best wall time of {e['repeats']} (alternating), "
        f"load average at the end {load}:",
        "",
        "| code | wall s | s per million rows | peak RSS MB | network's test RMSE |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, run in runs:
        lines.append(
            f"| {label} | {run['wall_seconds']:.1f} | "
            f"{run['wall_seconds'] / e['rows'] * 1e6:.1f} | {run['peak_rss_mb']:,.0f} | "
            f"{run['test_rmse']} |"
        )
    if "before" in e:
        ratio = e["wall_seconds"] / e["before"]["wall_seconds"]
        lines += ["", f"Now ÷ before: **{ratio:.2f}×** the wall time."]
    for label, run in runs:
        lines += ["", f"{label}:", "", "```text", *run["timing_lines"], "```"]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument(
        "--end-to-end-only", action="store_true", help="the whole command only, no throughput"
    )
    parser.add_argument(
        "--compare-with",
        metavar="DIR",
        help="with --end-to-end: an earlier checkout whose `nnscratch train` is timed too",
    )
    parser.add_argument(
        "--memory-budget",
        metavar="SIZE",
        help="with --end-to-end: also time `nnscratch train --memory-budget SIZE`",
    )
    parser.add_argument(
        "--parquet-parts",
        type=int,
        metavar="N",
        help="with --end-to-end: write the rows as N Parquet parts in a folder, not one CSV",
    )
    parser.add_argument(
        "--end-to-end-repeats", type=int, default=1, help="runs of each command, alternating"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "large_data"))
    args = parser.parse_args()
    report: dict[str, Any] = {"rows": args.rows, "seed": args.seed, "repeats": args.repeats}
    if not args.end_to_end_only:
        report["throughput"] = throughput_section(args.rows, args.seed, args.epochs, args.repeats)
    if args.end_to_end or args.end_to_end_only:
        report["end_to_end"] = end_to_end_section(
            args.rows,
            args.seed,
            args.compare_with,
            parquet_parts=args.parquet_parts,
            memory_budget=args.memory_budget,
            repeats=args.end_to_end_repeats,
        )
    write_results(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
