"""Options several commands share: the data and its task, and a recipe's flags.

``train``, ``tune`` and ``experiment`` read data the same way (``--data``,
``--task``, ``--target``); ``train`` and ``tune`` start from the same recipes
(``--preset`` or ``--recipe``), and ``train`` overrides them flag by flag.
"""

from __future__ import annotations

import argparse
import dataclasses

from nnscratch.app.runs import resolve_data
from nnscratch.data.augment import AUGMENTATIONS
from nnscratch.errors import DataError
from nnscratch.models.recipes import Recipe
from nnscratch.tasks.base import Task
from nnscratch.tasks.registry import TASKS, task_for_data


def add_data_arguments(parser: argparse.ArgumentParser, what: str = "a tracks CSV") -> None:
    """``--data``, ``--task`` and ``--target``."""
    parser.add_argument(
        "--data",
        help=f"{what}, or images: an MNIST folder (its four IDX files), 'digits' "
        "(scikit-learn's bundled 8×8 digits) or an .npz of X and y; default: "
        "$NNSCRATCH_DATA, else the built-in synthetic tracks",
    )
    parser.add_argument(
        "--target",
        help="the column to predict, by the file's own name or the package's (default: "
        "popularity, or the file's name for it in a known schema)",
    )
    parser.add_argument(
        "--keep-input",
        action="append",
        metavar="COLUMN",
        help="an input the leakage guard would leave out because alone it predicts the target "
        "almost perfectly; keep it anyway (repeat for more)",
    )
    kinds = "; ".join(f"{task.name}: {task.summary}" for task in TASKS.values())
    parser.add_argument(
        "--task",
        choices=list(TASKS),
        help=f"the kind of work (default: from the data: images are classified, a table's "
        f"--target predicted as a number): {kinds}",
    )


def task_from_args(args: argparse.Namespace) -> tuple[Task, str | None]:
    """The task for ``--data`` / ``--task`` / ``--target``, and the data's source."""
    source = resolve_data(args.data)
    return task_for_data(source, args.task, args.target, tuple(args.keep_input or ())), source


def parse_int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def parse_name_list(text: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    if not values:
        raise argparse.ArgumentTypeError("expected at least one column name")
    return values


def parse_batch_size(text: str) -> int:
    """An integer ≥ 1, or ``full`` for full-batch gradient descent (0 internally)."""
    if text.lower() in ("full", "none", "all"):
        return 0
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("batch size must be >= 1 or 'full'")
    return value


def base_recipe(args: argparse.Namespace, task: Task) -> Recipe:
    """``--recipe FILE``, else the task's ``--preset``."""
    if args.recipe:
        return Recipe.from_json(args.recipe)
    preset = getattr(args, "preset", "default")
    if preset not in task.presets:
        raise DataError(
            f"--preset {preset}: the {task.name} task has the presets "
            f"{', '.join(sorted(task.presets))}"
        )
    return task.presets[preset]


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """``--preset``, ``--recipe`` and every flag that overrides a recipe's field."""
    presets = sorted({name for task in TASKS.values() for name in task.presets})
    parser.add_argument(
        "--preset",
        choices=presets,
        default="default",
        help="starting configuration; flags below override it",
    )
    parser.add_argument(
        "--recipe",
        help="a JSON recipe (e.g. best.json from `nnscratch tune`) instead of --preset; "
        "flags below override it",
    )
    parser.add_argument("--features", type=parse_name_list, help="comma-separated feature columns")
    parser.add_argument("--hidden", type=parse_int_list, help="hidden layer widths, e.g. 64,32,16")
    parser.add_argument("--activation", help="hidden activation (relu, tanh, sigmoid, leaky_relu)")
    parser.add_argument("--output-activation", help="output activation (identity, relu)")
    parser.add_argument("--optimizer", help="adam, adamw, momentum, nesterov or gd")
    parser.add_argument("--lr", type=float, help="learning rate")
    parser.add_argument("--schedule", help="constant, step, cosine or plateau")
    parser.add_argument("--batch-size", type=parse_batch_size, help="samples per step, or 'full'")
    parser.add_argument("--epochs", type=int, help="passes over the training split")
    parser.add_argument(
        "--k",
        type=int,
        help="TabM members sharing each network's weights (1: plain networks; default recipe: 16)",
    )
    parser.add_argument(
        "--max-steps",
        type=int,
        help="at most this many optimizer steps, in whole epochs (the default recipe: 8000; "
        "large files then get fewer epochs)",
    )
    parser.add_argument("--l2", type=float, help="L2 strength λ in λ/(2m) Σ‖W‖²")
    parser.add_argument("--dropout", type=float, help="dropout rate of every hidden layer")
    parser.add_argument(
        "--patience", type=int, help="early-stopping patience in epochs (0: no early stopping)"
    )
    parser.add_argument(
        "--scoring",
        choices=["loss", "accuracy"],
        help="what early stopping watches on the validation split (accuracy: classifiers only)",
    )
    parser.add_argument(
        "--class-weight",
        choices=["balanced", "none"],
        help="classifiers: 'balanced' weighs each class's rows so that every class counts the "
        "same in the loss (for rare classes; with two classes, add --threshold tuned); 'none' "
        "weighs every row 1",
    )
    parser.add_argument(
        "--threshold",
        help="two-class classifiers: 'tuned' picks the cut on the second class's probability "
        "that maximises macro-F1 on the validation split (use with --class-weight balanced); "
        "a number in (0, 1) sets it; default: the most probable class",
    )
    add_image_arguments(parser)
    parser.add_argument("--max-rows", type=int, help="use a seeded random subset of this many rows")
    parser.add_argument("--dtype", choices=["float32", "float64"], help="training precision")


def add_image_arguments(parser: argparse.ArgumentParser) -> None:
    """``--augment`` and ``--tta``: the recipe's fields that only images take."""
    parser.add_argument(
        "--augment",
        choices=list(AUGMENTATIONS),
        help="digits: distort each training batch afresh every epoch: whole-pixel shifts, "
        "small affine transforms or elastic distortion (sizes set for 28 × 28, scaled with "
        "the image); 'none' trains on the images as they are",
    )
    parser.add_argument(
        "--tta",
        choices=["auto", "on", "off"],
        help="digits: test-time augmentation, every answer averaged over the image and its "
        "copies moved one pixel each way (five passes); 'auto' turns it on only where it "
        "classifies more validation images right",
    )


def parse_threshold(text: str) -> float | str:
    """``--threshold``: ``"tuned"``, or a number in (0, 1)."""
    if text == "tuned":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise DataError(f"--threshold must be 'tuned' or a number in (0, 1), got {text!r}")
    return value


def recipe_from_args(args: argparse.Namespace, task: Task) -> Recipe:
    """The task's preset (or ``--recipe``) with every flag given applied; checked."""
    recipe = base_recipe(args, task).with_overrides(
        features=args.features,
        hidden=args.hidden,
        optimizer=args.optimizer,
        learning_rate=args.lr,
        epochs=args.epochs,
        max_steps=args.max_steps,
        l2=args.l2,
        max_rows=args.max_rows,
        output_activation=args.output_activation,
        activation=args.activation,
        lr_schedule=args.schedule,
        dtype=args.dtype,
        dropout=args.dropout,
        scoring=args.scoring,
        augment=args.augment,
        tta=args.tta,
    )
    if args.batch_size is not None:  # 0 means full batch
        recipe = dataclasses.replace(recipe, batch_size=args.batch_size or None)
    if args.patience is not None:  # 0 means no early stopping
        recipe = dataclasses.replace(recipe, patience=args.patience or None)
    if args.class_weight is not None:
        weight = None if args.class_weight == "none" else args.class_weight
        recipe = dataclasses.replace(recipe, class_weight=weight)
    if args.threshold is not None:
        recipe = dataclasses.replace(recipe, threshold=parse_threshold(args.threshold))
    if args.k is not None:
        if args.k < 1:
            raise DataError(f"--k must be a positive integer, got {args.k}")
        recipe = dataclasses.replace(recipe, k=args.k)
    if recipe.k > 1 and recipe.dropout:
        raise DataError(
            f"--dropout {recipe.dropout} needs plain networks, and this recipe's are TabM "
            f"networks of k={recipe.k} members (which take no dropout): add --k 1, or "
            "--preset fast"
        )
    task.check(recipe)
    return recipe


def describe_recipe(args: argparse.Namespace, recipe: Recipe) -> str:
    """``preset: default (notes)`` or ``recipe: FILE (notes)``."""
    origin = f"recipe: {args.recipe}" if args.recipe else f"preset: {args.preset}"
    return f"{origin} ({recipe.description})" if recipe.notes else origin
