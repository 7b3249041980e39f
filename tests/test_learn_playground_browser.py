"""``nnscratch playground --engine``: the learner's own network trained live on the page,
in a real browser (Playwright driving the system Chromium, as the playground's tests).

With the reference workspace as its engine the page reaches 97 % on two moons; with a
workspace whose He draw is the naive small initialisation ``0.01 · N(0, 1)``, the page warns
that the
signal has vanished. Screenshots go to ``test-artifacts/`` (docs/learn.md shows them).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from serving import ARTIFACTS, playground_in_thread
from test_playground_browser import accuracy, page, wait_for  # noqa: F401 (fixtures)
from test_serve_browser import browser  # noqa: F401 (the fixture)

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip("sse_starlette", reason="nnscratch[serve] not installed (sse-starlette)")
pytest.importorskip("playwright.sync_api", reason="playwright not installed")

from nnscratch.app.learn.live import LearnerSources
from nnscratch.app.learn.workspace import Workspace, start
from nnscratch.app.playground.server import Sessions

ANSWERS = Path(__file__).resolve().parents[1] / "notebooks" / "answers"
MOONS = "data=moons&hidden=8,8&activation=relu&init=he&optimizer=adam&lr=0.03&batch=10"
DEEP = "data=moons&hidden=8,8,8,8,8,8&activation=relu&init=he&optimizer=adam&lr=0.03"


@pytest.fixture(scope="module")
def naive(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The reference answers, but he_weights drawing the naive 0.01 · N(0, 1)."""
    folder = tmp_path_factory.mktemp("naive") / "mynet"
    start(folder)
    for path in ANSWERS.glob("*.py"):
        shutil.copy(path, folder / path.name)
    init = folder / "init.py"
    init.write_text(init.read_text().replace("* np.sqrt(2.0 / n_in)", "* 0.01", 1))
    return Workspace(folder)


def server(workspace: Workspace):
    return playground_in_thread(Sessions(limit=2, sources=LearnerSources(workspace)))


@pytest.fixture(scope="module")
def playground(naive):
    """Two servers: the reference workspace's network, and the naive one's."""
    with server(Workspace(ANSWERS)) as answers, server(naive) as weak:
        yield {"answers": answers, "naive": weak}


def test_the_learners_network_learns_two_moons_on_the_page(page, playground) -> None:  # noqa: F811
    page.goto(f"{playground['answers']}/#{MOONS}&epochs=300")
    page.wait_for_selector("#status[data-state=ready]")
    page.wait_for_function(
        "document.querySelector('#view-title').textContent.includes('your network')"
    )
    page.click("#start")
    took = wait_for(page, lambda p: accuracy(p) >= 0.97, 60)
    page.wait_for_selector("#status[data-state=done]", timeout=60_000)
    assert accuracy(page) >= 0.97
    # the softmax's two output units, each drawn as its class's probability over the plane
    assert page.get_attribute("#network", "data-outputs") == "2"
    maps = page.evaluate("() => run.last.output_maps")
    assert len(maps) == 2 and len(maps[0]) == len(maps[1]) == 20 * 20
    assert all(abs(a + b - 100) <= 1 for a, b in zip(*maps, strict=True))  # they sum to 1
    assert min(maps[1]) <= 5 and max(maps[1]) >= 95  # each class somewhere, and not there
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "learn-playground-moons.png"), full_page=True)
    print(f"97 % after {took:.1f} s")


def test_the_naive_small_init_in_a_workspace_shows_the_vanishing_warning(
    page,  # noqa: F811
    playground,
) -> None:
    page.goto(f"{playground['naive']}/#{DEEP}&epochs=50")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#step")
    page.wait_for_selector("#warnings li[data-kind=vanishing]", timeout=30_000)
    first = page.locator("#warnings li[data-kind=vanishing]").first
    assert "layer 1's was" in first.text_content()
    assert "the gradient vanished" in first.text_content()
    assert first.locator("a").get_attribute("href") == "/docs/2-init.md"
    page.wait_for_selector("#status[data-state=paused]", timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "learn-playground-vanishing.png"), full_page=True)
