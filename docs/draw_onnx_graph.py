"""Draw an exported model's ONNX graph, node by node, from the graph itself.

    python docs/draw_onnx_graph.py --model runs/default/model.npz \\
        --out docs/images/export-graph.png

Each node is a box (its operator, and the constants it reads with their
shapes), placed by its depth (the longest path from a graph input); arrows are
the values between nodes. Needs the ``onnx`` extra and matplotlib.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from nnscratch.tasks.registry import load_model


def layout(graph: Any, per_band: int = 13) -> dict[str, tuple[float, float]]:
    """Each node's (x, y): depth = 1 + the deepest node it reads from; depths run left to
    right in bands of ``per_band``, the bands top to bottom, parallel nodes stacked."""
    producer = {out: node.name for node in graph.node for out in node.output}
    depth: dict[str, int] = {}
    for node in graph.node:  # ONNX keeps nodes in topological order
        depth[node.name] = 1 + max(
            (depth[producer[i]] for i in node.input if i in producer), default=-1
        )
    stacked: dict[int, int] = defaultdict(int)
    slot = {}
    for node in graph.node:
        slot[node.name] = stacked[depth[node.name]]
        stacked[depth[node.name]] += 1
    bands = max(depth.values()) // per_band + 1
    band_rows = [max(stacked[d] for d in stacked if d // per_band == b) for b in range(bands)]
    top = [sum(band_rows[:b]) + 0.8 * b for b in range(bands)]
    return {name: (d % per_band, top[d // per_band] + slot[name]) for name, d in depth.items()}


def label(node: Any, shapes: dict[str, tuple[int, ...]]) -> str:
    constants = [
        f"{name}\n{'×'.join(map(str, shapes[name]))}"
        for name in node.input
        if name in shapes and len(shapes[name]) >= 1 and max(shapes[name], default=0) > 3
    ]
    return "\n".join([node.op_type, *constants])


def draw(proto: Any, path: str, title: str) -> None:
    graph = proto.graph
    place = layout(graph)
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    producer = {out: node.name for node in graph.node for out in node.output}
    width = max(d for d, _ in place.values()) + 1
    height = max(r for _, r in place.values()) + 1
    fig, ax = plt.subplots(figsize=(1.25 * width + 1, 1.1 * height + 1.2))
    for node in graph.node:
        x, y = place[node.name]
        for value in node.input:
            if value in producer:
                x0, y0 = place[producer[value]]
                arrow = {"arrowstyle": "->", "color": "0.55", "lw": 0.8}
                ax.annotate("", (x - 0.32, -y), (x0 + 0.32, -y0), arrowprops=arrow)
        ax.text(
            x,
            -y,
            label(node, shapes),
            ha="center",
            va="center",
            fontsize=6.5,
            bbox={"boxstyle": "round,pad=0.3", "fc": "#e8f0fa", "ec": "#4a6fa5"},
        )
    inputs = ", ".join(i.name for i in graph.input)
    outputs = ", ".join(o.name for o in graph.output)
    ax.set_title(
        f"{title}: {len(graph.node)} nodes; inputs {inputs} → outputs {outputs}", fontsize=10
    )
    ax.set_xlim(-0.7, width - 0.3)
    ax.set_ylim(-height + 0.4, 0.6)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = load_model(args.model)
    draw(model.export.to_onnx(), args.out, f"the {model.task} model {Path(args.model).name}")


if __name__ == "__main__":
    main()
