"""``nnscratch serve``: a trained model behind a JSON API and a page
(:mod:`nnscratch.app.serve.server`)."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.serve.batching import MAX_BATCH_ROWS, MAX_WAIT_MS
from nnscratch.app.serve.server import (
    MAX_BODY_BYTES,
    MAX_ROWS,
    SETTINGS_VARIABLE,
    create_app,
    require_serve_extra,
)
from nnscratch.errors import DataError, ModelFileError

#: Seconds a ``--workers`` process may take to answer uvicorn's health ping (its default,
#: 5, restarts workers over and over on a loaded machine while they are still starting).
WORKER_HEALTHCHECK_S = 60


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve a trained model: a JSON API and a web page",
        description="Load a model written by `nnscratch train` and serve it over HTTP: a page "
        "for people at / (sliders and a CSV upload for a table model, a drawing canvas for "
        "a digits model), POST /predict, GET /model, GET /health, GET /metrics (Prometheus) "
        "and the Open Inference Protocol's /v2 routes. Concurrent requests are run as one "
        "network call. Needs pip install 'nnscratch[serve]'.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch serve --model runs/first/model.npz          # then open http://127.0.0.1:8000
            nnscratch serve --model runs/mnist/model.npz --port 8080
            curl -X POST localhost:8000/predict -H 'content-type: text/csv' --data-binary @new.csv
        """),
    )
    parser.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--max-body", type=int, default=MAX_BODY_BYTES, help="largest request body, in bytes"
    )
    parser.add_argument(
        "--max-rows", type=int, default=MAX_ROWS, help="most rows (or images) per request"
    )
    parser.add_argument(
        "--max-batch-rows",
        type=int,
        default=MAX_BATCH_ROWS,
        help="most rows of concurrent requests run as one network call",
    )
    parser.add_argument(
        "--max-wait-ms",
        type=float,
        default=MAX_WAIT_MS,
        help="longest a request waits for others to join its network call (only while "
        "others are arriving)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes, each with the model loaded once (about 220 MB resident each)",
    )
    parser.add_argument("--name", help="the model's name in /v2/models/NAME (default: its run)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_serve_extra()
    import uvicorn

    if args.workers < 1:
        raise DataError(f"--workers must be at least 1, got {args.workers}")
    settings = {
        "max_body_bytes": args.max_body,
        "max_rows": args.max_rows,
        "max_batch_rows": args.max_batch_rows,
        "max_wait_ms": args.max_wait_ms,
        "name": args.name,
    }
    try:
        app = create_app(args.model, **settings)  # read and checked once, here, in any case
    except FileNotFoundError:
        raise ModelFileError(f"{args.model}: no such model file") from None
    workers = f" with {args.workers} workers" if args.workers > 1 else ""
    say(f"serving {args.model} on http://{args.host}:{args.port}/{workers} (Ctrl-C to stop)")
    if args.workers == 1:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
        return 0
    with tempfile.TemporaryDirectory(prefix="nnscratch-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # /metrics adds up the workers
        os.environ[SETTINGS_VARIABLE] = json.dumps({"model_path": str(args.model), **settings})
        uvicorn.run(
            "nnscratch.app.serve.server:app_from_environment",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            log_level="warning",
            # uvicorn restarts a worker that has not answered its ping in 5 s; on a busy
            # machine a worker still importing NumPy and FastAPI takes longer than that
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
    return 0
