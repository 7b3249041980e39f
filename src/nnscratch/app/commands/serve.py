"""``nnscratch serve``: a trained model behind a JSON API and a page
(:mod:`nnscratch.app.serving`)."""

from __future__ import annotations

import argparse
from typing import Any

from nnscratch.app.console import HelpFormatter, examples, say
from nnscratch.app.serving import MAX_BODY_BYTES, MAX_ROWS, create_app, require_serve_extra
from nnscratch.errors import ModelFileError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "serve",
        help="serve a trained model: a JSON API and a web page",
        description="Load a model written by `nnscratch train` and serve it over HTTP: a page "
        "for people at / (sliders and a CSV upload for a table model, a drawing canvas for "
        "a digits model), POST /predict, GET /model and GET /health. Needs pip install "
        "'nnscratch[serve]'.",
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_serve_extra()
    import uvicorn

    try:
        app = create_app(args.model, max_body_bytes=args.max_body, max_rows=args.max_rows)
    except FileNotFoundError:
        raise ModelFileError(f"{args.model}: no such model file") from None
    say(f"serving {args.model} on http://{args.host}:{args.port}/ (Ctrl-C to stop)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
