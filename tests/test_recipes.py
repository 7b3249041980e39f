"""A recipe says what it is: its description follows the fields a flag overrides."""

from __future__ import annotations

import pytest

from nnscratch.models.recipes import DEFAULT_RECIPE, DIGITS_PRESETS


@pytest.mark.parametrize("name", sorted(DIGITS_PRESETS))
def test_a_digits_recipe_says_the_epochs_it_trains(name: str) -> None:
    recipe = DIGITS_PRESETS[name]
    shorter = recipe.with_overrides(epochs=recipe.epochs - 1)
    if f"{recipe.epochs} epochs" in recipe.description:
        assert f"{recipe.epochs - 1} epochs" in shorter.description
        assert f"{recipe.epochs} epochs" not in shorter.description
    else:  # a recipe whose notes give no epochs never gains a wrong count
        assert shorter.description == recipe.description


def test_the_default_recipe_says_its_networks() -> None:
    assert "two TabM networks" in DEFAULT_RECIPE.description
    assert "two plain networks" in DEFAULT_RECIPE.with_overrides(k=1).description
