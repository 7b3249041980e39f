"""``nnscratch playground``: a live training page (:mod:`nnscratch.app.playground.server`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.learn import course, workspace
from nnscratch.app.learn.exercises import STAGES
from nnscratch.app.learn.live import LearnerSources
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
            nnscratch playground --engine mynet  # YOUR network, from the course's workspace
        """),
    )
    parser.add_argument(
        "--engine",
        metavar="WORKSPACE",
        help="train your own network instead of the package's: the stages of a course "
        "workspace (nnscratch learn start) — your initialisation, forward pass, softmax, "
        "cost, backward pass and optimizer step — on the small sets, as they are (a stage "
        "that does not pass yet is said, and trained all the same: watch your bug)",
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
    sources = None if args.engine is None else learner_sources(args.engine, args.data)
    app = build_playground(
        Sessions(args.max_sessions, args.max_seconds, args.data, sources=sources)
    )
    say(f"playground on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    serve(app, args.host, args.port)
    say("playground stopped")
    return 0


#: The stages the learner's network runs on the page (their loop is not used: the page's is).
ENGINE_STAGES = ("init", "activations", "forward", "loss", "backprop", "optimizers", "softmax")


def learner_sources(folder: str, data: str | None) -> LearnerSources:
    """The playground's sources for ``--engine``: the course workspace ``folder``, whose
    stages are checked first and any that fail said (the page trains them as they are)."""
    if data is not None:
        raise DataError(
            "--engine trains your network on the playground's small sets; --data is a "
            "tracks file for the package's network (nnscratch learn train trains yours on it)"
        )
    path = workspace.find(folder)
    report = course.check(path, [STAGES[name] for name in ENGINE_STAGES])
    failed = report.failed
    if failed is None:
        say(f"your network: {path}/ (stages {', '.join(ENGINE_STAGES)} pass)")
    else:
        say(f"your network: {path}/ — {failed.stage.label} does not pass yet:")
        say(failed.render())
        say("the page trains your code as it is: watch what it does")
    return LearnerSources(workspace.Workspace(path))
