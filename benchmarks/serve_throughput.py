"""Serving under load: ``nnscratch serve`` against FastAPI + scikit-learn and FastAPI's floor.

The same client load goes to each server in turn (``--rounds`` times, 1 by
default; with more the table gives each server's medians, since the machine's
load moves every server's figures), on this machine: ``--clients`` keep-alive
connections (16) send ``--requests`` (1,600) POSTs of 1–5 rows — tracks of
the shared Spotify sample as JSON rows for a popularity model, MNIST test
images as pixels for a digits model — as fast as the answers come. The
client is an asyncio loop in a process of its own. For each server: requests
per second, p50 and p99 latency, errors (anything but a 200) and wrong
answers: every ``nnscratch serve`` answer is compared with what ``nnscratch
predict`` writes for the same rows, to the last digit.

Servers:

* ``nnscratch serve`` with the default batching (``--max-wait-ms 2``), with
  batching off (``--max-wait-ms 0 --max-batch-rows 1``), and with ``--workers 2``;
  and ``--workers 2`` serving a ``--preset fast`` popularity model, which separates
  the server's own cost per request from the default model's arithmetic;
* FastAPI + a scikit-learn pipeline (pydantic rows → DataFrame →
  HistGradientBoosting on the seed's 13 features; for digits, pixels →
  LogisticRegression), ``benchmarks/serve_apps.py``, on the same uvicorn;
* FastAPI answering a constant after reading the body: the framework's floor;
* with ``--before SRC``, ``nnscratch serve`` (defaults) run from another version's
  ``src`` folder (``git archive REF src | tar -x -C DIR``), in the same rounds, so a
  change's before and after meet the same load on the same machine.

Each server's resident memory (its processes together) is read after the load.

    python benchmarks/serve_throughput.py --data ../shared/data/spotify/tracks.csv \\
        --mnist ../shared/data/mnist

Trains a default model of each kind first unless ``--popularity-model`` and
``--digits-model`` name them. Writes ``benchmarks/results/serve_throughput.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from results_io import write_results  # benchmarks/, beside this script

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def nnscratch(*args: str, timeout: float = 1800) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nnscratch", *args], capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr)


def train(kind: str, data: str, out: Path, train_args: list[str]) -> str:
    """A model of ``kind`` trained on ``data`` (into ``out``); its file."""
    print(f"training a {kind.split(' (')[0]} {' '.join(train_args)} on {data} …", flush=True)
    nnscratch("train", "--data", data, "--out", str(out), "--quiet", *train_args)
    return str(out / "model.npz")


# --------------------------------------------------------------------------- the load


def table_load(data: str, model: Path, n: int, seed: int, folder: Path) -> dict[str, Any]:
    """Request bodies of 1–5 tracks each (JSON rows), and what ``nnscratch predict``
    writes for every row: the answers each body must get."""
    rows = pd.read_csv(data).sample(400, random_state=seed).reset_index(drop=True)
    csv = folder / "rows.csv"
    rows.to_csv(csv, index=False)
    nnscratch("predict", "--model", str(model), "--data", str(csv), "--out", str(folder / "p.csv"))
    by_id = pd.read_csv(folder / "p.csv").set_index("id")["predicted_popularity"]
    records = json.loads(rows.to_json(orient="records"))
    rng = np.random.default_rng(seed)
    bodies, expected = [], []
    for _ in range(n):
        chosen = rng.choice(len(records), size=rng.integers(1, 6))
        bodies.append(json.dumps({"rows": [records[i] for i in chosen]}).encode())
        expected.append({"predictions": [float(by_id[records[i]["id"]]) for i in chosen]})
    return {"bodies": bodies, "expected": expected}


def digits_load(mnist: str, model: Path, n: int, seed: int, folder: Path) -> dict[str, Any]:
    """Bodies of 1–5 MNIST test images each (pixels), and ``nnscratch predict``'s labels
    and probabilities for every image."""
    from nnscratch.data.images import load_images

    images = load_images(mnist)
    nnscratch("predict", "--model", str(model), "--data", mnist, "--out", str(folder / "d.csv"))
    predicted = pd.read_csv(folder / "d.csv")
    columns = [f"p{c}" for c in range(10)]
    rng = np.random.default_rng(seed)
    bodies, expected = [], []
    for _ in range(n):
        chosen = rng.integers(0, 400, size=rng.integers(1, 6))
        pixels = images.X_test[chosen].astype(np.float64).tolist()
        bodies.append(json.dumps({"images": pixels}).encode())
        expected.append(
            {
                "predictions": predicted["label"].to_numpy()[chosen].tolist(),
                "probabilities": predicted[columns].to_numpy()[chosen].tolist(),
            }
        )
    return {"bodies": bodies, "expected": expected}


async def _client_loop(
    port: int, bodies: list[bytes], expected: list[dict] | None, clients: int
) -> dict[str, Any]:
    latencies = np.zeros(len(bodies))
    errors = wrong = 0
    next_index = iter(range(len(bodies)))

    async def one_client() -> None:
        nonlocal errors, wrong
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for k in next_index:
            body = bodies[k]
            head = (
                "POST /predict HTTP/1.1\r\nHost: localhost\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            status_and_headers = await reader.readuntil(b"\r\n\r\n")
            length = int(status_and_headers.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            answer = await reader.readexactly(length)
            latencies[k] = time.perf_counter() - started
            if not status_and_headers.startswith(b"HTTP/1.1 200"):
                errors += 1
            elif expected is not None:
                got = json.loads(answer)
                if any(got[key] != value for key, value in expected[k].items()):
                    wrong += 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    return {
        "requests": len(bodies),
        "seconds": seconds,
        "requests_per_second": len(bodies) / seconds,
        "p50_ms": float(np.percentile(latencies, 50) * 1000),
        "p99_ms": float(np.percentile(latencies, 99) * 1000),
        "errors": errors,
        "wrong": wrong if expected is not None else None,
    }


def _client_process(port: int, load: dict, check: bool, clients: int, results: Any) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    expected = load["expected"] if check else None
    results.put(asyncio.run(_client_loop(port, load["bodies"], expected, clients)))


def run_load(port: int, load: dict, check: bool, clients: int) -> dict[str, Any]:
    """The load from a client process of its own; its figures."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_client_process, args=(port, load, check, clients, results))
    process.start()
    figures = results.get(timeout=600)
    process.join()
    return figures


# --------------------------------------------------------------------------- the servers


def start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command}: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{command} did not start")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its children, theirs, and so on."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def resident_mb(pid: int) -> float:
    """The resident memory of ``pid`` and its children, MB."""
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
            )
        except (OSError, StopIteration):
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) ``pid`` and its children have used so far."""
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    servers: list[tuple[str, list[str], dict]], env: dict, clients: int, rounds: int
) -> list[dict[str, Any]]:
    """Start every server, warm each up, then ``rounds`` times send each its load in
    turn; every server's figures per round (``rounds``) and their medians."""
    running = []
    try:
        for name, command, load, check in servers:
            port = free_port()
            process = start([*command, "--port", str(port)], port, env)
            running.append((name, process, port, load, check))
            warm = {"bodies": load["bodies"][:200], "expected": load["expected"][:200]}
            run_load(port, warm, check, clients)
        per_round: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in running}
        for round_number in range(rounds):
            for name, process, port, load, check in running:
                time.sleep(0.5)
                cpu = cpu_seconds(process.pid)
                figures = run_load(port, load, check, clients)
                figures["server_cpu_ms"] = (
                    1000 * (cpu_seconds(process.pid) - cpu) / len(load["bodies"])
                )
                per_round[name].append(figures)
                print(
                    f"  {name} (round {round_number + 1}): "
                    f"{figures['requests_per_second']:,.0f} requests/s, p50 "
                    f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, errors "
                    f"{figures['errors']}, wrong {figures['wrong']}, server CPU "
                    f"{figures['server_cpu_ms']:.2f} ms a request",
                    flush=True,
                )
        results = []
        for name, process, *_ in running:
            figures = per_round[name]
            medians = ("requests_per_second", "p50_ms", "p99_ms", "server_cpu_ms")
            summary = {key: float(np.median([f[key] for f in figures])) for key in medians}
            summary["errors"] = sum(f["errors"] for f in figures)
            checked = [f["wrong"] for f in figures if f["wrong"] is not None]
            summary["wrong"] = sum(checked) if checked else None
            summary["resident_mb"] = resident_mb(process.pid)
            results.append({"server": name, **summary, "rounds": figures})
        return results
    finally:
        for _, process, *_ in running:
            process.terminate()
            process.wait(timeout=30)


def servers(
    model: Path, small: Path | None, before: Path | None = None
) -> list[tuple[str, list[str], Path | None]]:
    """Each server to measure: its name, its command, and the model its answers are
    checked against (None: not checked). ``before``: another version's ``src`` folder,
    whose ``nnscratch serve`` (defaults) is measured beside this one's."""
    serve = [sys.executable, "-m", "nnscratch", "serve", "--model", str(model)]
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "--app-dir",
        str(HERE),
        "--log-level",
        "warning",
    ]
    rows = [
        ("nnscratch serve (defaults: 1 worker, batching 2 ms)", serve, model),
        (
            "nnscratch serve, batching off",
            [*serve, "--max-wait-ms", "0", "--max-batch-rows", "1"],
            model,
        ),
        ("nnscratch serve --workers 2", [*serve, "--workers", "2"], model),
    ]
    if before is not None:  # `env` replaces itself with the server: its pid is the server's
        rows.insert(
            1,
            ("nnscratch serve (defaults), before", ["env", f"PYTHONPATH={before}", *serve], model),
        )
    if small is not None:  # the server's own cost, with little arithmetic in the network
        rows.append(
            (
                "nnscratch serve --workers 2, a `--preset fast` model",
                [
                    sys.executable,
                    "-m",
                    "nnscratch",
                    "serve",
                    "--model",
                    str(small),
                    "--workers",
                    "2",
                ],
                small,
            )
        )
    return [
        *rows,
        ("FastAPI + scikit-learn", [*uvicorn, "serve_apps:sklearn_app"], None),
        ("FastAPI constant (the floor)", [*uvicorn, "serve_apps:constant_app"], None),
    ]


def times(result: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    """``result``'s requests/s as a multiple of ``baseline``'s (— without one)."""
    if baseline is None:
        return "—"
    return f"{result['requests_per_second'] / baseline['requests_per_second']:.1f}×"


def table(kind: str, results: list[dict[str, Any]]) -> str:
    sklearn = next((r for r in results if r["server"].startswith("FastAPI + scikit")), None)
    floor = next(r for r in results if r["server"].startswith("FastAPI constant"))
    rounds = len(floor["rounds"])
    lines = [
        f"**{kind}**",
        "",
        "| server | requests/s | × scikit-learn | % of floor | p50 ms | p99 ms | errors | "
        "wrong | server CPU ms / request | resident MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        wrong = "—" if r["wrong"] is None else str(r["wrong"])
        share = f"{100 * r['requests_per_second'] / floor['requests_per_second']:.0f}%"
        if rounds > 1 and r is not floor:  # each round's share of that round's floor
            shares = [
                100 * mine["requests_per_second"] / its["requests_per_second"]
                for mine, its in zip(r["rounds"], floor["rounds"], strict=True)
            ]
            share += f" ({min(shares):.0f}–{max(shares):.0f}%)"
        lines.append(
            f"| {r['server']} | {r['requests_per_second']:,.0f} | "
            f"{times(r, sklearn)} | {share} | "
            f"{r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} | {wrong} | "
            f"{r['server_cpu_ms']:.2f} | {r['resident_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE.parents[1] / "shared/data/spotify/tracks.csv"))
    parser.add_argument("--mnist", default=str(HERE.parents[1] / "shared/data/mnist"))
    parser.add_argument("--popularity-model", help="a model.npz (default: train one)")
    parser.add_argument("--digits-model", help="a model.npz (default: train one on --mnist)")
    parser.add_argument(
        "--fast-model", help="a --preset fast popularity model.npz (default: train one)"
    )
    parser.add_argument("--requests", type=int, default=1600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["popularity", "digits"], help="one kind of model")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="loads per server, alternating between the servers; the table gives medians",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="the src folder of another version of the package (e.g. `git archive REF src`) "
        "whose `nnscratch serve` is measured beside this one's, in the same rounds",
    )
    parser.add_argument(
        "--servers",
        metavar="TEXT",
        help="measure only the servers whose name holds TEXT (and the floor), e.g. "
        "'(defaults' with --before: more rounds of a before/after in the same time",
    )
    parser.add_argument("--out", default=str(HERE / "results" / "serve_throughput"))
    args = parser.parse_args()
    report: dict[str, Any] = {
        "requests": args.requests,
        "clients": args.clients,
        "rounds": args.rounds,
    }
    tables = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        kinds = (
            (
                "popularity model (JSON rows of tracks)",
                args.popularity_model,
                args.data,
                table_load,
                [],
            ),
            (
                "digits model (MNIST pixels)",
                args.digits_model,
                args.mnist,
                digits_load,
                ["--epochs", "5"],
            ),
        )
        for kind, model, data, make_load, train_args in kinds:
            if args.only and not kind.startswith(args.only):
                continue
            model = model or train(kind, data, work / kind[:6], train_args)
            small = None
            if make_load is table_load:  # the same kind of model, at a fraction of the cost
                small = args.fast_model or train(kind, data, work / "fast", ["--preset", "fast"])
            loads = {
                Path(m): make_load(data, Path(m), args.requests, args.seed, work)
                for m in (model, small)
                if m is not None
            }
            env = {
                "SERVE_BENCH_DATA": data,
                "SERVE_BENCH_KIND": "digits" if "digits" in kind else "table",
            }
            print(kind, flush=True)
            fast = Path(small) if small else None
            named = [
                (name, command, loads[checked or Path(model)], checked is not None)
                for name, command, checked in servers(Path(model), fast, args.before)
                if args.servers is None or args.servers in name or name.startswith("FastAPI c")
            ]
            results = measure(named, env, args.clients, args.rounds)
            report[kind] = results
            tables.append(table(kind, results))
    runs = (
        "one run each, after a warm-up"
        if args.rounds == 1
        else f"{args.rounds} rounds, each server in turn, after a warm-up; medians (and the "
        "range of each round's share of that round's floor)"
    )
    header = (
        f"{args.requests:,} requests of 1–5 rows, {args.clients} keep-alive clients in a "
        f"process of their own, this machine; {runs}.\n\n"
    )
    write_results(args.out, report, header + "\n".join(tables))


if __name__ == "__main__":
    main()
