"""``nnscratch playground``: a live training page (:mod:`nnscratch.app.playground.server`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.playground.server import (
    MAX_SECONDS,
    MAX_SESSIONS,
    Sessions,
    build_playground,
    serve,
)
from nnscratch.app.serve.server import require_serve_extra
from nnscratch.errors import DataError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "playground",
        help="a page where you train the network live and watch every layer",
        description="Serve a page that trains the from-scratch network while you watch: "
        "two moons, circles, spirals, XOR, blobs, a 1-D curve, the 8×8 digits, the built-in "
        "Spotify sample or your own tracks CSV (--data); layers, "
        "activation, initialisation, optimizer, learning rate, batch size, L2, dropout; "
        "Start, Pause, Step; the losses, the decision boundary, the confusion matrix, each "
        "layer's activations, dead units, gradients and update ratio, the weights, and "
        "warnings when the signal vanishes or ReLUs die. Every setting is in the page's "
        "address, so a link reproduces a run. Works offline. Needs pip install "
        "'nnscratch[serve]'.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch playground                 # then open http://127.0.0.1:8000
            nnscratch playground --port 8080
            nnscratch playground --data ../shared/data/spotify/tracks.csv   # data set 'file'
        """),
    )
    parser.add_argument(
        "--data",
        help="a tracks CSV (any file nnscratch train reads) offered as the data set "
        "'file', trained as nnscratch train trains it",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--max-sessions", type=int, default=MAX_SESSIONS, help="sessions that may train at once"
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=MAX_SECONDS,
        help="longest a session trains (paused time not counted)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_serve_extra()
    if args.max_sessions < 1 or args.max_seconds <= 0:
        raise DataError("--max-sessions must be at least 1 and --max-seconds above 0")
    if args.data is not None and not os.path.exists(args.data):
        raise DataError(f"{args.data}: no such file")
    app = build_playground(Sessions(args.max_sessions, args.max_seconds, args.data))
    say(f"playground on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    serve(app, args.host, args.port)
    say("playground stopped")
    return 0
