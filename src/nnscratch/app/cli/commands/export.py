"""``nnscratch export``: a saved model as one ONNX file (:mod:`nnscratch.models.onnx_export`)."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.errors import NNScratchError
from nnscratch.files import atomic_write_bytes
from nnscratch.models.fitted import ExportableModel
from nnscratch.tasks.registry import load_model


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "export",
        help="write a saved model as an ONNX file (ONNX Runtime and others run it)",
        description="Write a model saved by `nnscratch train` as one ONNX graph (opset 17): "
        "the scaling, the piecewise-linear and one-hot encodings, every network and the "
        "answer (popularity points clipped to 0–100, or labels and probabilities). Features "
        "derived from text (name length, artists, release date parts) stay outside: "
        "--print-inputs lists what the graph takes. Needs pip install 'nnscratch[onnx]'.",
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch export --model runs/first/model.npz --out model.onnx
            nnscratch export --model runs/first/model.npz --out model.onnx --print-inputs
        """),
    )
    parser.add_argument("--model", required=True, help="model.npz written by `nnscratch train`")
    parser.add_argument("--out", required=True, help="where to write the .onnx file")
    parser.add_argument(
        "--print-inputs",
        action="store_true",
        help="print the graph's inputs as JSON (names, types, shapes, the feature columns in "
        "order, each categorical column's levels); the same JSON is the file's 'inputs' "
        "metadata",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    model = load_model(args.model)
    if not isinstance(model, ExportableModel):
        raise NNScratchError(f"{args.model}: a {model.task} model has no ONNX export")
    export = model.export
    proto = export.to_onnx()
    data = proto.SerializeToString()
    atomic_write_bytes(args.out, data)
    if args.print_inputs:
        print(json.dumps(export.onnx_inputs(), indent=2, ensure_ascii=False))
        return 0
    npz = os.path.getsize(args.model)
    say(
        f"exported the {model.task} model → {args.out}: {len(proto.graph.node)} nodes, "
        f"{len(data) / 1e3:,.0f} kB ({args.model}: {npz / 1e3:,.0f} kB)"
    )
    for spec in export.onnx_inputs():
        shape = " × ".join(str(n) for n in spec["shape"])
        say(f"  input {spec['name']}: {spec['dtype']} ({shape})")
    outputs = [o.name for o in proto.graph.output]
    say(f"  outputs: {', '.join(outputs)}")
    return 0
