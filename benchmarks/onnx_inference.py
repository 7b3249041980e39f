"""Inference: ONNX Runtime (one thread) running an exported model against nnscratch itself.

One process, one model (``--model``, a popularity model written by ``nnscratch
train``; the default recipe's unless you pass another), the same rows for both:

* **bulk**: ``--rows`` synthetic tracks (``make_tracks(600000, seed=11)``), cleaned
  once; nnscratch's ``predict_points`` (scaling, encodings, networks, points:
  what ``nnscratch predict`` runs after reading the file) against
  ``InferenceSession.run`` on the same rows' ONNX inputs (``onnx_feeds``), in
  blocks of 65,536 rows for both;
* **single rows**: ``--single`` rows one at a time through the same two calls.

ONNX Runtime runs with ``intra_op_num_threads=1`` (one core), nnscratch as it
runs by default (its prediction threads, BLAS on one thread each); the machine's
cores are named in the result. Rows per second, best of ``--repeats``; the answers
are compared (largest relative difference). Informative: no threshold.

    python benchmarks/onnx_inference.py --model runs/default/model.npz

Writes ``benchmarks/results/onnx_inference.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from results_io import write_results  # benchmarks/, beside this script
from threadpoolctl import threadpool_info

from nnscratch.data.synthetic import make_tracks
from nnscratch.errors import RequestError
from nnscratch.tasks.registry import load_model

HERE = Path(__file__).resolve().parent
BLOCK = 65_536


def best_seconds(work: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def one_thread_session(proto: Any) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def bulk_rates(model: Any, session: Any, cleaned: Any, repeats: int) -> tuple[dict, float]:
    """Rows per second on every row of ``cleaned``, and the largest relative difference."""
    feeds = model.export.onnx_feeds(cleaned)

    def ort_bulk() -> np.ndarray:
        parts = []
        for start in range(0, len(cleaned), BLOCK):
            block = {name: a[start : start + BLOCK] for name, a in feeds.items()}
            parts.append(session.run(["predictions"], block)[0])
        return np.concatenate(parts)

    ours, theirs = model.predict_points(cleaned), ort_bulk()
    difference = float(np.max(np.abs(theirs - ours) / np.maximum(np.abs(ours), 1.0)))
    rows = len(cleaned)
    return {
        "nnscratch": rows / best_seconds(lambda: model.predict_points(cleaned), repeats),
        "onnxruntime": rows / best_seconds(ort_bulk, repeats),
    }, difference


def single_rates(model: Any, session: Any, cleaned: Any, frame: Any, n: int, repeats: int) -> dict:
    """Rows per second one row at a time: a cleaned frame's row, a JSON row, ORT's inputs."""
    feeds = model.export.onnx_feeds(cleaned.iloc[:n])
    singles = [cleaned.iloc[[i]] for i in range(n)]
    single_feeds = [{name: a[i : i + 1] for name, a in feeds.items()} for i in range(n)]
    requests = []  # the first rows a request may send as they are (the file has bad ones)
    for row in frame.dropna().to_dict("records"):
        if len(requests) == n:
            break
        try:
            model.serving.json_request({"rows": [row]}, 1)
            requests.append({"rows": [row]})
        except RequestError:
            continue

    def ours_single() -> None:
        for row in singles:
            model.predict_points(row)

    serving = model.serving

    def ours_json() -> None:  # what `nnscratch serve` runs for a row sent as JSON
        for payload in requests:
            request = serving.json_request(payload, 1)
            request.answer(serving.network_outputs(request.X))

    def ort_single() -> None:
        for row in single_feeds:
            session.run(["predictions"], row)

    return {
        "nnscratch": n / best_seconds(ours_single, repeats),
        "nnscratch_json": n / best_seconds(ours_json, repeats),
        "onnxruntime": n / best_seconds(ort_single, repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="a popularity model.npz")
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--single", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(HERE / "results" / "onnx_inference"))
    args = parser.parse_args()

    model = load_model(args.model)
    proto = model.export.to_onnx()
    session = one_thread_session(proto)
    frame = make_tracks(args.rows, seed=11)
    with tempfile.TemporaryDirectory() as tmp:  # read as `nnscratch predict` reads a file
        csv = Path(tmp) / "tracks.csv"
        frame.to_csv(csv, index=False)
        cleaned, _, _ = model.read_rows(str(csv), with_target=False)
    bulk, difference = bulk_rates(model, session, cleaned, args.repeats)
    single = single_rates(model, session, cleaned, frame, args.single, args.repeats)
    blas = sorted(
        {
            f"{i['internal_api']} {i.get('architecture')}"
            for i in threadpool_info()
            if i["internal_api"] == "openblas"
        }
    )
    report: dict[str, Any] = {
        "model": args.model,
        "layer_sizes": list(model.estimator.network_.layer_sizes),
        "networks": model.n_members,
        "k": int(getattr(model.estimator, "k", 1)),
        "onnx_nodes": len(proto.graph.node),
        "onnx_bytes": len(proto.SerializeToString()),
        "npz_bytes": os.path.getsize(args.model),
        "rows": args.rows,
        "single_rows": args.single,
        "cores": os.cpu_count(),
        "blas": blas,
        "onnxruntime_version": ort.__version__,
        "bulk_rows_per_s": bulk,
        "single_rows_per_s": single,
        "max_relative_difference": difference,
    }
    write_results(args.out, report, markdown(report))


def markdown(r: dict[str, Any]) -> str:
    bulk, single = r["bulk_rows_per_s"], r["single_rows_per_s"]
    sizes = " → ".join(str(n) for n in r["layer_sizes"])
    return "\n".join(
        [
            f"Model `{r['model']}`: {sizes}, {r['networks']} network(s) of k={r['k']}; ONNX graph "
            f"{r['onnx_nodes']} nodes, {r['onnx_bytes'] / 1e3:,.0f} kB (model.npz "
            f"{r['npz_bytes'] / 1e3:,.0f} kB). ONNX Runtime {r['onnxruntime_version']} on one "
            f"thread; nnscratch as by default ({r['cores']} cores; BLAS: {', '.join(r['blas'])}).",
            "",
            "| rows per second | nnscratch | ONNX Runtime (1 thread) | ONNX Runtime ÷ nnscratch |",
            "|---|---:|---:|---:|",
            f"| {r['rows']:,} rows, in blocks of {BLOCK:,} | {bulk['nnscratch']:,.0f} | "
            f"{bulk['onnxruntime']:,.0f} | {bulk['onnxruntime'] / bulk['nnscratch']:.2f}× |",
            f"| one row at a time ({r['single_rows']:,} rows): a cleaned frame's row | "
            f"{single['nnscratch']:,.0f} | {single['onnxruntime']:,.0f} | "
            f"{single['onnxruntime'] / single['nnscratch']:.2f}× |",
            f"| one row at a time: a JSON row (`json_request` and its answer, what `serve` runs; "
            f"ONNX Runtime "
            f"from its inputs) | {single['nnscratch_json']:,.0f} | {single['onnxruntime']:,.0f} | "
            f"{single['onnxruntime'] / single['nnscratch_json']:.2f}× |",
            "",
            f"Largest relative difference between the two answers: "
            f"{r['max_relative_difference']:.1e}.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
