"""``nnscratch learn``: the course — build the network yourself, stage by stage
(:mod:`nnscratch.app.learn`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from nnscratch.app.cli.console import HelpFormatter, examples, say
from nnscratch.app.learn import course, history, milestones, watching, workspace
from nnscratch.app.learn.exercises import STAGES, find_stage
from nnscratch.app.runs import default_run_dir, resolve_data
from nnscratch.errors import DataError

DESCRIPTION = """\
Build the network yourself, one stage at a time, as the original project was built:
data → He initialisation → ReLU → forward pass → loss + L2 → backpropagation →
optimizers → training loop, then softmax and cross-entropy for digits (and TabM).

  nnscratch learn start [DIR]     write the workspace (default mynet/): a file a stage,
                                  each function a stub with its math and shapes
  nnscratch learn check [STAGE]   check the stages in order; stop at the first that
                                  fails, with one hint (or check one STAGE)
  nnscratch learn watch           check again on every save
  nnscratch learn status          every stage ✓ / ✗ / not started
  nnscratch learn train           train YOUR network on the Spotify sample beside the
                                  package's engine (after stage 8; digits after 9)

Each stage that passes for the first time is committed to the workspace's git history.
The same exercises are in the notebooks (notebooks/, make lab)."""


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "learn",
        help="the course: write the network yourself, checked stage by stage",
        description=DESCRIPTION,
        formatter_class=HelpFormatter,
        epilog=examples("""
            nnscratch learn start                  # writes mynet/
            nnscratch learn check                  # or: nnscratch learn watch
            nnscratch learn check forward          # one stage
            nnscratch learn status
            nnscratch learn train --data ../shared/data/spotify/tracks.csv
            nnscratch learn train --data digits
        """),
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", help="write a fresh workspace", formatter_class=HelpFormatter
    )
    start.add_argument("folder", nargs="?", default=str(workspace.DEFAULT), help="where")
    start.set_defaults(func=run_start)
    check = actions.add_parser(
        "check", help="check the stages in order (or one)", formatter_class=HelpFormatter
    )
    check.add_argument(
        "stage", nargs="?", help=f"one stage, by name or number ({', '.join(STAGES)})"
    )
    add_workspace_argument(check)
    check.set_defaults(func=run_check)
    watch = actions.add_parser(
        "watch", help="check again on every save", formatter_class=HelpFormatter
    )
    add_workspace_argument(watch)
    watch.set_defaults(func=run_watch)
    status = actions.add_parser(
        "status", help="where you are, stage by stage", formatter_class=HelpFormatter
    )
    add_workspace_argument(status)
    status.set_defaults(func=run_status)
    add_train_parser(actions)


def add_workspace_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        "-w",
        help="the workspace folder (default: the current folder if it is one, else mynet/)",
    )


def add_train_parser(actions: Any) -> None:
    parser = actions.add_parser(
        "train",
        help="train your network beside the package's engine",
        description=milestones.__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--data",
        help="a tracks CSV (default: $NNSCRATCH_DATA, else the built-in synthetic sample), "
        "'digits' (scikit-learn's 8×8 digits) or an MNIST folder",
    )
    parser.add_argument("--out", help="output folder (default: runs/learn-<time>)")
    add_workspace_argument(parser)
    parser.add_argument("--epochs", type=int, help="epochs (default: per data, see above)")
    parser.add_argument("--learning-rate", "--lr", type=float, dest="learning_rate")
    parser.add_argument("--optimizer", choices=["gd", "momentum", "adam"])
    parser.add_argument(
        "--batch-size", type=int, help="mini-batches of this many (default: the full batch)"
    )
    parser.add_argument("--l2", type=float, dest="lmbda", help="λ of the L2 penalty")
    parser.add_argument("--seed", type=int, help="seed of the split, your init and the shuffle")
    parser.set_defaults(func=run_train)


def run_start(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    started = workspace.start(folder)
    if not started.written:
        say(f"{folder}/ is a workspace already, with every stage's file: nothing was changed.")
        return 0
    if started.kept:
        say(f"{folder}/ existed: added only the missing {', '.join(started.written)}")
        say(f"(kept as they were: {', '.join(started.kept)})")
    else:
        say(f"wrote {folder}/: {len(STAGES)} stages, one file each, every function a stub")
        first = history.begin(folder)
        if first:
            say(f"started its git history ({first}); each stage is committed as it passes")
    say("")
    for stage in STAGES.values():
        names = ", ".join(e.name for e in stage.exercises)
        say(f"  {stage.number:>2}. {stage.file:<15} {names}")
    say("")
    say(f"next: open {folder}/data.py, then: nnscratch learn watch -w {folder}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    folder = workspace.find(args.workspace)
    try:
        stages = [find_stage(args.stage)] if args.stage else None
    except ValueError as error:
        raise DataError(str(error)) from None
    report = course.check(folder, stages)
    say(report.render())
    return report.exit_code


def run_watch(args: argparse.Namespace) -> int:
    folder = workspace.find(args.workspace)
    return watching.watch(folder, say, clear=sys.stdout.isatty())


def run_status(args: argparse.Namespace) -> int:
    say(course.status(workspace.find(args.workspace)))
    return 0


def run_train(args: argparse.Namespace) -> int:
    folder = workspace.find(args.workspace)
    source = resolve_data(args.data)
    kind = milestones.kind_of(source)
    needed = milestones.NEEDS[kind]
    report = course.check(folder, [STAGES[name] for name in needed])
    if report.failed is not None:
        say(report.render())
        raise DataError(
            f"learn train needs stages 1 to {STAGES[needed[-1]].number} to pass first; "
            f"{report.failed.stage.label} does not yet"
        )
    settings = milestones.settings_for(
        kind,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        optimizer=args.optimizer,
        batch_size=args.batch_size,
        lmbda=args.lmbda,
        seed=args.seed,
    )
    out = Path(args.out) if args.out else default_run_dir("learn-")
    milestones.run(workspace.Workspace(folder), source, settings, out, say)
    say(f"wrote {out}/: metrics.json, losses.csv, losses.png")
    return 0
