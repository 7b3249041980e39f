"""Same-run throughput benchmark: nnscratch vs scikit-learn vs PyTorch (CPU).

All competitors train the same 13-64-32-16-1 ReLU network with Adam
(lr 1e-3, no L2, no early stopping) on the same split, batch size and number
of epochs, in this one process, in alternating order; each figure is the best
of ``--repeats`` runs. The machine is shared and noisy: read the ratios, not
the absolute times.

Every timed run starts after a pause of ``SETTLE_S``: OpenBLAS and OpenMP
worker threads busy-wait for a while after a parallel call (OpenBLAS: 2^28
cycles, about 0.1 s), and in one process they would take a core from
whichever competitor runs next. Measured on this 2-core machine: nnscratch's
600k-row prediction took 75 ms right after scikit-learn's and 49 ms after a
pause, while scikit-learn's own time did not change (104–106 ms).

    python benchmarks/train_throughput.py --data ../shared/data/spotify/tracks.csv

Writes ``benchmarks/results/train_throughput.{md,json}`` (or ``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from results_io import write_results  # benchmarks/, beside this script

from nnscratch.data.preprocessing import prepare
from nnscratch.data.synthetic import make_tracks
from nnscratch.data.tracks import load_tracks, tracks_from_frame
from nnscratch.models.metrics import test_rmse
from nnscratch.models.regressor import MLPRegressor

HIDDEN = (64, 32, 16)
HERE = Path(__file__).resolve().parent
SETTLE_S = 0.3


def settle() -> None:
    """Let the previous run's spinning BLAS/OpenMP threads go idle (see above)."""
    time.sleep(SETTLE_S)


# --------------------------------------------------------------------------- competitors


def fit_nnscratch(X, y, batch_size, epochs, dtype, seed):
    model = MLPRegressor(
        hidden_layer_sizes=HIDDEN,
        batch_size=batch_size,
        epochs=epochs,
        learning_rate=1e-3,
        dtype=np.dtype(dtype).name,
        random_state=seed,
    )
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, model.predict


def fit_sklearn(X, y, batch_size, epochs, dtype, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor as SkMLP

    model = SkMLP(
        hidden_layer_sizes=HIDDEN,
        solver="adam",
        learning_rate_init=1e-3,
        alpha=0.0,
        batch_size=batch_size,
        max_iter=epochs,
        n_iter_no_change=epochs + 1,
        tol=0.0,
        shuffle=True,
        random_state=seed,
    )
    X, y = X.astype(dtype), y.astype(dtype)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return time.perf_counter() - start, lambda Z: model.predict(Z.astype(dtype))


def fit_torch(X, y, batch_size, epochs, dtype, seed):
    import torch

    torch.manual_seed(seed)
    tdtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    layers, sizes = [], [X.shape[1], *HIDDEN, 1]
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).to(tdtype)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xt = torch.tensor(X, dtype=tdtype)
    yt = torch.tensor(y, dtype=tdtype).reshape(-1, 1)
    n = len(Xt)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = 0.5 * torch.mean((net(Xt[idx]) - yt[idx]) ** 2)
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start

    def predict(Z):
        with torch.no_grad():
            return net(torch.tensor(Z, dtype=tdtype)).numpy().ravel()

    return seconds, predict


COMPETITORS = {"nnscratch": fit_nnscratch, "scikit-learn": fit_sklearn, "PyTorch": fit_torch}


# --------------------------------------------------------------------------- sections


def rmse_points(data, predict) -> float:
    return test_rmse(data, predict(data.X_test))


def training_section(data, batch_sizes, dtypes, epochs, repeats, competitors) -> list[dict]:
    rows = []
    n = len(data.y_train)
    for dtype in dtypes:
        X = data.X_train.astype(dtype)
        y = data.y_train.astype(dtype)
        for batch in batch_sizes:
            best: dict[str, float] = {}
            rmse: dict[str, float] = {}
            for r in range(repeats):
                order = competitors if r % 2 == 0 else competitors[::-1]  # alternate
                for name in order:
                    settle()
                    seconds, predict = COMPETITORS[name](X, y, batch, epochs, dtype, seed=r)
                    best[name] = min(best.get(name, np.inf), seconds)
                    if r == 0:
                        rmse[name] = rmse_points(data, predict)
            row = {"dtype": np.dtype(dtype).name, "batch_size": batch, "epochs": epochs}
            for name in competitors:
                row[f"{name} samples/s"] = n * epochs / best[name]
                row[f"{name} test RMSE"] = rmse[name]
            for name in competitors[1:]:
                row[f"nnscratch / {name}"] = best[name] / best["nnscratch"]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def inference_section(data, n_rows, repeats, competitors) -> dict[str, Any]:
    reps = int(np.ceil(n_rows / len(data.X_test)))
    X_big = np.tile(data.X_test, (reps, 1))[:n_rows].astype(np.float32)
    X_train, y_train = data.X_train.astype(np.float32), data.y_train.astype(np.float32)
    predictors = {
        name: COMPETITORS[name](X_train, y_train, 256, 1, np.float32, 0)[1] for name in competitors
    }
    best = dict.fromkeys(competitors, np.inf)
    for r in range(repeats):
        for name in competitors if r % 2 == 0 else competitors[::-1]:  # alternate
            settle()
            start = time.perf_counter()
            predictors[name](X_big)
            best[name] = min(best[name], time.perf_counter() - start)
    result: dict[str, Any] = {"rows": n_rows}
    for name in competitors:
        result[f"{name} rows/s"] = n_rows / best[name]
    for name in competitors[1:]:
        result[f"nnscratch / {name}"] = result["nnscratch rows/s"] / result[f"{name} rows/s"]
    print(json.dumps(result), flush=True)
    return result


def peak_rss_kb() -> int:
    """This process's peak resident set size in KiB.

    ``/proc/self/status`` VmHWM belongs to this process alone; ``ru_maxrss``
    survives ``exec`` on Linux and would report the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def scaling_child(n_rows: int, csv_path: str | None) -> None:
    """Run in a fresh process: load + prepare + one epoch; print timings and peak RSS."""
    start = time.perf_counter()
    if csv_path:
        frame = load_tracks(csv_path)
    else:
        frame = tracks_from_frame(make_tracks(n_rows, seed=0), source="synthetic")
    data = prepare(frame, seed=0, val_size=0.0, test_size=0.0001)
    load_seconds = time.perf_counter() - start
    model = MLPRegressor(hidden_layer_sizes=HIDDEN, batch_size=256, epochs=1, random_state=0)
    model.fit(data.X_train[:256], data.y_train[:256])  # warm up caches and imports
    start = time.perf_counter()
    model.fit(data.X_train, data.y_train)
    epoch_seconds = time.perf_counter() - start
    peak_kb = peak_rss_kb()
    print(
        json.dumps(
            {
                "rows": len(data.y_train),
                "load_prepare_seconds": load_seconds,
                "epoch_seconds": epoch_seconds,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def scaling_section(sizes: list[int], repeats: int) -> dict[str, Any]:
    rows = []
    for n in sizes:
        best = None
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, __file__, "--scaling-child", str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            if best is None or row["epoch_seconds"] < best["epoch_seconds"]:
                best = row
        rows.append(best)
        print(json.dumps(best), flush=True)
    base = rows[0]["epoch_seconds"]
    for row in rows:
        row["epoch_time_ratio"] = row["epoch_seconds"] / base
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "tracks_600k.csv"
        make_tracks(sizes[-1], seed=1).to_csv(csv, index=False)
        out = subprocess.run(
            [sys.executable, __file__, "--scaling-child", "0", "--csv", str(csv)],
            capture_output=True,
            text=True,
            check=True,
        )
        csv_row = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(csv_row), flush=True)
    return {"synthetic_in_memory": rows, "csv_600k": csv_row}


# --------------------------------------------------------------------------- report


def markdown(report: dict[str, Any]) -> str:
    comps = report["competitors"]
    lines = [f"Machine: {report['machine']}"]
    if "training" in report:
        lines += [
            "",
            "**Training throughput** (samples/s, best of "
            f"{report['repeats']}, {report['epochs']} epochs, Adam, 13-64-32-16-1)",
            "",
        ]
        head = "| dtype | batch | " + " | ".join(f"{c} samples/s" for c in comps)
        head += " | " + " | ".join(f"× {c}" for c in comps[1:]) + " | "
        head += " | ".join(f"{c} test RMSE" for c in comps) + " |"
        lines += [head, "|" + "---|" * (2 + len(comps) * 2 + len(comps) - 1)]
        for r in report["training"]:
            cells = [r["dtype"], str(r["batch_size"])]
            cells += [f"{r[f'{c} samples/s']:,.0f}" for c in comps]
            cells += [f"{r[f'nnscratch / {c}']:.2f}×" for c in comps[1:]]
            cells += [f"{r[f'{c} test RMSE']:.2f}" for c in comps]
            lines.append("| " + " | ".join(cells) + " |")
    inf = report.get("inference")
    if inf:
        lines += [
            "",
            f"**Inference** ({inf['rows']:,} rows, float32, best of "
            f"{report.get('inference_repeats', report['repeats'])}, alternating)",
            "",
            "| "
            + " | ".join(f"{c} rows/s" for c in comps)
            + " | "
            + " | ".join(f"× {c}" for c in comps[1:])
            + " |",
            "|" + "---|" * (2 * len(comps) - 1),
            "| "
            + " | ".join(f"{inf[f'{c} rows/s']:,.0f}" for c in comps)
            + " | "
            + " | ".join(f"{inf[f'nnscratch / {c}']:.2f}×" for c in comps[1:])
            + " |",
        ]
    sc = report.get("scaling")
    if sc:
        lines += [
            "",
            "**Scaling** (nnscratch, batch 256, float32; synthetic rows generated in "
            "memory, prepared, and trained 1 epoch in a fresh process)",
            "",
            "| rows | epoch s | × 30k epoch | generate + prepare s | peak RSS MB |",
            "|---:|---:|---:|---:|---:|",
        ]
        for r in sc["synthetic_in_memory"]:
            lines.append(
                f"| {r['rows']:,} | {r['epoch_seconds']:.2f} | {r['epoch_time_ratio']:.1f} | "
                f"{r['load_prepare_seconds']:.2f} | {r['peak_rss_mb']:.0f} |"
            )
        c = sc["csv_600k"]
        lines.append(
            f"\n`load_tracks` + `prepare` on a {c['rows']:,}-row CSV: "
            f"{c['load_prepare_seconds']:.2f} s (peak RSS with one epoch "
            f"{c['peak_rss_mb']:.0f} MB)"
        )
    return "\n".join(lines) + "\n"


def machine() -> str:
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, "
            f"{i['num_threads']} threads)"
            for i in threadpool_info()
        )
    except ImportError:
        blas = "unknown BLAS"
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__}, {blas}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", default=str(HERE.parent.parent / "shared/data/spotify/tracks.csv")
    )
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-sizes", default="32,256,2048")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--inference-rows", type=int, default=600_000)
    parser.add_argument(
        "--inference-repeats", type=int, default=15, help="predictions are short: take more"
    )
    parser.add_argument("--scaling-sizes", default="30000,150000,600000")
    parser.add_argument(
        "--skip", default="", help="comma list of sections to skip: training,inference,scaling"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "train_throughput"))
    parser.add_argument("--scaling-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scaling_child is not None:
        scaling_child(args.scaling_child, args.csv)
        return

    competitors = ["nnscratch", "scikit-learn"]
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        competitors.append("PyTorch")
    except ImportError:
        print("PyTorch not installed (pip install -e '.[bench]'): comparing with scikit-learn only")
    skip = set(filter(None, args.skip.split(",")))
    data = prepare(load_tracks(args.data), seed=0)
    report: dict[str, Any] = {
        "machine": machine(),
        "data": args.data,
        "epochs": args.epochs,
        "repeats": args.repeats,
        "inference_repeats": args.inference_repeats,
        "competitors": competitors,
        "train_rows": len(data.y_train),
    }
    if "training" not in skip:
        report["training"] = training_section(
            data,
            [int(b) for b in args.batch_sizes.split(",")],
            [np.dtype(d).type for d in args.dtypes.split(",")],
            args.epochs,
            args.repeats,
            competitors,
        )
    if "inference" not in skip:
        report["inference"] = inference_section(
            data, args.inference_rows, args.inference_repeats, competitors
        )
    if "scaling" not in skip:
        report["scaling"] = scaling_section([int(s) for s in args.scaling_sizes.split(",")], 2)
    write_results(args.out, report, markdown(report))


if __name__ == "__main__":
    main()
