"""What the playground shows a learner is right, read from the page in Chromium: the
warnings name the cause (every setup of docs/playground.md), the charts are readable at
800, 1024 and 1400 px (bounding boxes, decade ticks), a "why" link opens the rendered
stage page in a tab of its own while the run goes on, and the network is drawn as
TensorFlow Playground draws it (a map per hidden unit, an edge per weight).

One server and one browser for the module; screenshots go to ``test-artifacts/``
(those of docs/playground.md are copies of them).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serving import ARTIFACTS, playground_in_thread
from test_serve_browser import browser  # noqa: F401 (the fixture)

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip("sse_starlette", reason="nnscratch[serve] not installed (sse-starlette)")
pytest.importorskip("playwright.sync_api", reason="playwright not installed")

from nnscratch.app.playground.server import Sessions

DOCS = Path(__file__).resolve().parents[1] / "docs"
MOONS = "data=moons&hidden=8,8&activation=relu&init=he&optimizer=adam&lr=0.03&batch=10"
STAGE_3 = "data=moons&hidden=8,8,8,8,8,8&activation=sigmoid&init=small&optimizer=adam&lr=0.03"
RATE_TOO_LARGE = "data=xor&hidden=8,8&optimizer=gd&lr=5&batch=10"


def docs_setups() -> list[str]:
    """Every setup docs/playground.md links to, and each 'then …' variant of it."""
    text = (DOCS / "playground.md").read_text()
    setups = []
    for line in text.splitlines():
        found = re.search(r"<http://127\.0\.0\.1:8000/#([^>]+)>(?:, then `([^`]+)`)?", line)
        if found:
            setups.append(found[1])
            if found[2]:
                changed = dict(p.split("=") for p in found[1].split("&"))
                changed |= dict(p.split("=") for p in found[2].split("&"))
                setups.append("&".join(f"{k}={v}" for k, v in changed.items()))
    return setups


@pytest.fixture(scope="module")
def playground():
    with playground_in_thread(Sessions(limit=4)) as url:
        yield url


@pytest.fixture
def page(browser, playground):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


#: Where the page keeps its tab's session (page.html's ``STORED``).
SESSION_KEY = "nnscratch.playground.session"


def open_fresh(page, url: str, setup: str) -> None:
    """The page on ``setup`` with a session of its own (a tab keeps its session across
    loads of the same address, and a new hash alone resets it while the old one ends)."""
    page.goto("about:blank")
    page.goto(f"{url}/#{setup}")
    # the page resumes the tab's session (or makes one) after it loads, and writes its id
    # to sessionStorage when it connects: clear it only after that, or a resume that ends
    # late puts the old session back and the reload resumes it (paused, never "ready")
    page.wait_for_function(f"() => sessionStorage.getItem({json.dumps(SESSION_KEY)}) !== null")
    page.evaluate("() => sessionStorage.clear()")
    page.reload()
    page.wait_for_selector("#status[data-state=ready]")


def run_to_done(page, url: str, setup: str, epochs: int) -> None:
    open_fresh(page, url, f"{setup}&epochs={epochs}")
    page.click("#start")
    page.wait_for_selector("#status[data-state=done]", timeout=60_000)


def warnings(page) -> list[dict[str, str]]:
    return page.evaluate(
        "() => [...document.querySelectorAll('#warnings li[data-kind]')].map("
        "(li) => ({kind: li.dataset.kind, layer: li.dataset.layer,"
        " text: li.querySelector('span').textContent}))"
    )


def test_the_rate_too_large_warns_about_the_rate_not_initialisation(page, playground) -> None:
    run_to_done(page, playground, RATE_TOO_LARGE, 20)
    said = warnings(page)
    assert [w["kind"] for w in said] == ["learning_rate"], said
    assert said[0]["text"].startswith("learning rate too large")
    assert "units died" in said[0]["text"] and "initialisation" not in said[0]["text"]


def test_stage_3_warns_that_the_signal_vanished_after_start_as_after_step(page, playground):
    """Step once, and Start to the end (the network learns in the end): both say the
    gradient vanished, with the naive small initialisation named."""
    page.goto(f"{playground}/#{STAGE_3}&epochs=60")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#step")
    page.wait_for_selector("#warnings li[data-kind=vanishing]", timeout=15_000)
    after_step = warnings(page)
    run_to_done(page, playground, STAGE_3, 60)
    after_start = warnings(page)
    for said in (after_step, after_start):
        assert [w["kind"] for w in said] == ["vanishing"], said
        assert "naive small initialisation" in said[0]["text"]


def test_no_setup_of_the_docs_tells_a_layer_two_things(page, playground) -> None:
    setups = docs_setups()
    assert len(setups) == 8, setups
    for setup in setups:
        run_to_done(page, playground, setup, 25)
        said = warnings(page)
        layers = Counter(w["layer"] for w in said if w["layer"])
        assert all(n == 1 for n in layers.values()), (setup, said)
        assert all("Try" in w["text"] for w in said), (setup, said)


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


def test_the_layout_reflows_and_the_charts_are_readable(page, playground) -> None:
    """At 1400, 1024 and 800 px no chart overlaps another or the settings, and none runs
    off the page; the log axes tick at distinct decades; the epoch axis says 1 after one
    epoch. A screenshot at each width (docs/playground.md shows them)."""
    page.goto(f"{playground}/#{MOONS}&epochs=40")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#step")
    page.wait_for_function(
        "() => run.history.length === 1 && document.querySelector('#loss').dataset.xticks"
    )
    assert json.loads(page.get_attribute("#loss", "data-xticks"))[-1] == "1"
    page.click("#start")
    page.wait_for_selector("#status[data-state=done]", timeout=30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1400, 1024, 800):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(200)  # redrawn at the new width
        boxes = page.evaluate(
            """() => [document.querySelector('#settings-panel'),
                      ...document.querySelectorAll('main canvas')]
                .filter((e) => e.offsetParent !== null)
                .map((e) => { const r = e.getBoundingClientRect();
                              return {id: e.id || e.className, x: r.x, y: r.y + scrollY,
                                      width: r.width, height: r.height}; })"""
        )
        assert len(boxes) >= 8
        for i, a in enumerate(boxes):
            assert a["x"] >= 0 and a["x"] + a["width"] <= width, (width, a)
            for b in boxes[i + 1 :]:
                assert not overlaps(a, b), (width, a, b)
        for chart in ("loss", "grad", "ratio"):
            ticks = json.loads(page.get_attribute(f"#{chart}", "data-yticks"))
            assert len(ticks) >= 2 and len(set(ticks)) == len(ticks), (chart, ticks)
            assert all(re.fullmatch(r"1e-?\d+", t) for t in ticks), (chart, ticks)
        page.screenshot(path=str(ARTIFACTS / f"playground-{width}.png"), full_page=True)


def test_a_why_link_opens_the_rendered_page_in_a_new_tab_and_the_run_goes_on(
    page, playground
) -> None:
    page.goto(f"{playground}/#{STAGE_3}&epochs=5000")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#start")
    link = page.locator("#warnings li[data-kind=vanishing] a")
    link.wait_for(timeout=15_000)
    # the message grows as the run goes on ("still so at epoch 99", "… 100"): the link
    # stays where it was, or a click aimed at it lands on the message
    where = page.evaluate(
        """() => { const li = document.querySelector('#warnings li[data-kind=vanishing]');
                   const box = () => li.querySelector('a').getBoundingClientRect();
                   const before = box();
                   li.querySelector('span').textContent += ' and then some more'.repeat(12);
                   const after = box();
                   return [[before.x, before.y], [after.x, after.y]]; }"""
    )
    assert where[0] == where[1], where
    with page.context.expect_page() as opened:
        link.click()
    docs = opened.value
    docs.wait_for_selector("body[data-typeset]", timeout=15_000)
    assert urlsplit(docs.url).path == "/docs/2-init.md"
    assert docs.evaluate("() => document.contentType") == "text/html"
    assert docs.locator(".katex").count() > 5
    prose = docs.evaluate(  # the text a reader sees: no code, no KaTeX's MathML for readers
        """() => { const body = document.body.cloneNode(true);
                   body.querySelectorAll('pre, code, .katex-mathml').forEach((e) => e.remove());
                   return body.textContent; }"""
    )
    assert "$" not in prose and "\\mathcal" not in prose
    before = page.evaluate("() => run.history.length")
    page.wait_for_function(f"() => run.history.length > {before + 5}", timeout=15_000)
    assert page.get_attribute("#status", "data-state") == "running"
    docs.close()
    page.click("#reset")


def test_the_neuron_view_and_the_network_diagram(page, playground) -> None:
    """Two moons, 2 × 8 ReLU: 16 unit maps, which change as it learns; a small net's
    diagram has an edge per weight."""
    page.goto(f"{playground}/#{MOONS}&epochs=60")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#step")
    page.wait_for_function("() => document.querySelector('#network').dataset.units === '16'")
    early = page.locator("#network").screenshot()
    page.click("#start")
    page.wait_for_selector("#status[data-state=done]", timeout=30_000)
    assert page.get_attribute("#network", "data-units") == "16"
    assert page.get_attribute("#network", "data-outputs") == "1"  # the sigmoid's P(class 1)
    assert page.evaluate("() => run.last.output_maps") is None  # drawn from the boundary
    assert page.locator("#network").screenshot() != early
    small = MOONS.replace("hidden=8,8", "hidden=3,2")
    open_fresh(page, playground, f"{small}&epochs=3")
    page.click("#step")
    page.wait_for_function("() => document.querySelector('#network').dataset.edges !== '0'")
    weights = page.evaluate(
        "() => run.last.weights.reduce((n, W) => n + W.length * W[0].length, 0)"
    )
    assert weights == 2 * 3 + 3 * 2 + 2 * 1
    assert int(page.get_attribute("#network", "data-edges")) == weights
    page.check("#show-test")
    assert page.get_attribute("#boundary", "data-points") == "600"  # 300 + 300 test points
