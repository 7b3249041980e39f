"""Scoring a catalogue: ``nnscratch predict`` on a file of millions of rows, whole and
streamed, in one run.

A ``--rows``-row CSV in the 600k ``tracks.csv`` schema (the package's synthetic
generator, written in blocks of 500,000 rows with seeds 0, 1, …; cached under
``--cache``) is scored by a model trained here (``--preset fast``, the built-in
sample, 3 epochs: the arithmetic a row costs is the point, not the model's
quality), each way in a fresh process, one after another: streamed in chunks of
``--chunk-rows``, on a local Dask cluster of ``--workers`` processes
(``--local-workers``), and the whole file in one chunk (the in-memory path). The
table gives wall seconds, rows/s, the peak RSS of the ``nnscratch`` process
itself (for Dask: the client, which takes the partitions' answers and writes
them) and, for Dask, the largest peak RSS of a worker process, each its
``VmHWM`` from ``/proc`` read every 0.2 s while it runs (``wait4``'s
``ru_maxrss`` would count the process's children, the Dask workers, in too). The
first ``--prefix`` rows of the streamed output are checked against the
in-memory path run on those rows alone, byte for byte, and the Dask output
against the streamed one.

    python benchmarks/batch_scoring.py --rows 5000000

Writes ``benchmarks/results/batch_scoring.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from results_io import write_results  # benchmarks/, beside this script
from threadpoolctl import threadpool_info

from nnscratch.data.synthetic import make_tracks

HERE = Path(__file__).resolve().parent
BLOCK = 500_000


def catalogue(rows: int, cache: Path) -> Path:
    """The ``rows``-row CSV, generated once into ``cache``."""
    path = cache / f"catalogue-{rows}.csv"
    if path.is_file():
        return path
    partial = path.with_suffix(".partial")
    with partial.open("w") as fh:
        for seed, start in enumerate(range(0, rows, BLOCK)):
            block = make_tracks(min(BLOCK, rows - start), seed=seed)
            block["id"] = [f"t{start + i}" for i in range(len(block))]
            fh.write(block.to_csv(index=False, header=start == 0))
    partial.replace(path)
    return path


def prefix(path: Path, rows: int) -> Path:
    """The file's header and first ``rows`` rows, beside it."""
    out = path.with_name(f"{path.stem}-first-{rows}.csv")
    if not out.is_file():
        with path.open() as source, out.open("w") as sink:
            sink.writelines(itertools.islice(source, rows + 1))
    return out


def peak_rss_mb(pid: int) -> float:
    """A running process's peak resident memory so far (``VmHWM``), in MB; 0 once gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def descendants(pid: int) -> set[int]:
    """The processes started by ``pid``, and theirs (Dask's nannies and workers)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            new = {int(c) for c in children} - found
            found |= new
            todo += new
    return found


def nnscratch(*args: str) -> dict[str, Any]:
    """Run ``nnscratch ARGS`` in a fresh process: wall seconds, its peak RSS and the largest
    of its children's (the Dask workers) in MB, read from ``/proc`` as it runs."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nnscratch", *args], stdout=log, stderr=subprocess.STDOUT
        )
        own = children = 0.0
        while process.poll() is None:
            own = max(own, peak_rss_mb(process.pid))
            for child in descendants(process.pid):
                children = max(children, peak_rss_mb(child))
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        log.seek(0)
        output = log.read().decode()
    if process.returncode != 0:
        raise RuntimeError(f"nnscratch {' '.join(args)} failed:\n{output}")
    return {
        "seconds": seconds,
        "peak_rss_mb": own,
        "workers_peak_rss_mb": children,
        "output": output,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--prefix", type=int, default=600_000)
    parser.add_argument("--cache", default=tempfile.gettempdir())
    parser.add_argument("--skip-whole", action="store_true", help="no in-memory run")
    parser.add_argument("--workers", type=int, default=2, help="local Dask workers")
    parser.add_argument("--out", default=str(HERE / "results" / "batch_scoring"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="batch-scoring-"))
    data = catalogue(args.rows, Path(args.cache))
    nnscratch("train", "--preset", "fast", "--epochs", "3", "--quiet", "--out", str(work / "m"))
    model = str(work / "m" / "model.npz")
    runs: dict[str, dict[str, Any]] = {}
    ways = {
        "streamed": ["--chunk-rows", str(args.chunk_rows)],
        "dask": ["--local-workers", str(args.workers)],
    }
    if not args.skip_whole:
        ways["whole"] = ["--chunk-rows", str(args.rows + 1)]
    for name, how in ways.items():
        runs[name] = nnscratch(
            "predict",
            "--model",
            model,
            "--data",
            str(data),
            "--out",
            str(work / f"{name}.csv"),
            *how,
        )
        runs[name]["rows_per_s"] = args.rows / runs[name]["seconds"]
        print(
            f"{name}: {runs[name]['seconds']:.1f} s, {runs[name]['peak_rss_mb']:,.0f} MB",
            flush=True,
        )
    head = prefix(data, args.prefix)
    nnscratch(
        "predict",
        "--model",
        model,
        "--data",
        str(head),
        "--out",
        str(work / "head.csv"),
        "--chunk-rows",
        str(args.prefix + 1),
    )
    expected = (work / "head.csv").read_bytes()
    streamed_head = (work / "streamed.csv").read_bytes()[: len(expected)]
    same_as_dask = (work / "streamed.csv").read_bytes() == (work / "dask.csv").read_bytes()
    blas = sorted(
        {
            f"{i['internal_api']} {i.get('architecture')}"
            for i in threadpool_info()
            if i["internal_api"] == "openblas"
        }
    )
    report = {
        "rows": args.rows,
        "file_mb": data.stat().st_size / 1e6,
        "blas": blas,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "chunk_rows": args.chunk_rows,
        "prefix": args.prefix,
        "prefix_identical": streamed_head == expected,
        "dask_identical": same_as_dask,
        "workers": args.workers,
        "runs": {k: {key: v for key, v in r.items() if key != "output"} for k, r in runs.items()},
    }
    write_results(args.out, report, markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"**Batch scoring**: `nnscratch predict` on {report['rows']:,} rows "
        f"({report['file_mb']:,.0f} MB of CSV in the 600k tracks.csv schema), a "
        "`--preset fast` model, each way in a fresh process, one after another "
        f"({report['cores']} cores, {', '.join(report['blas']) or 'BLAS unknown'})",
        "",
        "| way | seconds | rows/s | peak RSS MB | a worker's peak RSS MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, run in report["runs"].items():
        label = {
            "streamed": f"streamed, chunks of {report['chunk_rows']:,}",
            "dask": f"local Dask cluster, {report['workers']} workers (the client)",
            "whole": "whole file in memory",
        }[name]
        workers = f"{run['workers_peak_rss_mb']:,.0f}" if name == "dask" else "–"
        lines.append(
            f"| {label} | {run['seconds']:.1f} | {run['rows_per_s']:,.0f} | "
            f"{run['peak_rss_mb']:,.0f} | {workers} |"
        )
    same = "identical" if report["prefix_identical"] else "NOT identical"
    dask = "identical" if report["dask_identical"] else "NOT identical"
    lines += [
        "",
        f"The streamed output's first {report['prefix']:,} rows are {same}, byte for "
        "byte, to the in-memory path run on those rows alone; the Dask cluster's output "
        f"is {dask} to the streamed one.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
