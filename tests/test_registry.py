"""The one registry idiom: activations, losses, optimizers, schedules, experiments, tasks."""

from __future__ import annotations

import pytest

from nnscratch.core.activations import ACTIVATIONS
from nnscratch.core.losses import LOSSES
from nnscratch.core.optimizers import OPTIMIZERS
from nnscratch.core.schedules import SCHEDULES
from nnscratch.registry import Registry


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


def test_entries_by_name_in_the_order_added() -> None:
    things: Registry[Named] = Registry("thing")
    first = things.add(Named("b"))
    things.add(Named("a"))
    things.add(first, "alias")
    assert list(things) == ["b", "a", "alias"] and len(things) == 3
    assert things.lookup("alias") is first and things["b"] is first and "a" in things


def test_unknown_names_list_the_choices_and_duplicates_are_refused() -> None:
    things: Registry[Named] = Registry("thing")
    things.add(Named("b"))
    things.add(Named("a"))
    with pytest.raises(ValueError, match=r"unknown thing 'c'; choose from a, b"):
        things.lookup("c")
    with pytest.raises(KeyError):
        things["c"]
    with pytest.raises(ValueError, match="registered already"):
        things.add(Named("a"))
    with pytest.raises(ValueError, match="needs a name"):
        things.add(object())
    things.remove("a")
    assert list(things) == ["b"]


def test_the_package_tables_are_registries() -> None:
    for table, kind in (
        (ACTIVATIONS, "activation"),
        (LOSSES, "loss"),
        (OPTIMIZERS, "optimizer"),
        (SCHEDULES, "schedule"),
    ):
        assert isinstance(table, Registry) and table.kind == kind
    assert OPTIMIZERS.lookup("adam")(0.01).learning_rate == 0.01
    assert SCHEDULES.lookup("cosine")(10).rate(10, 1.0, None) == pytest.approx(0.0)
    assert LOSSES.lookup("mse").output_activation == "identity"
