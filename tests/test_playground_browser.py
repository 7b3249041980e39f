"""The playground page in a real browser: Playwright driving the system Chromium.

Skipped with a reason where Playwright or Chromium is missing (``.ci/run`` installs
both). Every request the browser makes is recorded: the page fetches nothing from
anywhere but its own server. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import urlsplit

import pytest
from serving import ARTIFACTS, free_port, playground_in_thread
from test_serve_browser import browser  # noqa: F401 (the fixture)

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
pytest.importorskip("sse_starlette", reason="nnscratch[serve] not installed (sse-starlette)")
pytest.importorskip("playwright.sync_api", reason="playwright not installed")

from nnscratch.app.playground.server import Sessions, Settings

MOONS = "data=moons&hidden=8,8&activation=relu&init=he&optimizer=adam&lr=0.03&batch=10"
VANISHING = "data=moons&hidden=8,8,8,8,8,8&activation=sigmoid&init=small&optimizer=adam&lr=0.03"


@pytest.fixture(scope="module")
def playground():
    with playground_in_thread(Sessions(limit=4)) as url:
        yield url


@pytest.fixture
def page(browser, playground):  # noqa: F811
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.requests = []  # type: ignore[attr-defined]
    page.on("request", lambda r: page.requests.append(r.url))  # type: ignore[attr-defined]
    page.responses = []  # type: ignore[attr-defined]
    page.on("response", lambda r: page.responses.append((r.url, r.status)))  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def wait_for(page, predicate, seconds: float) -> float:
    """Poll ``predicate(page)`` until true; the seconds it took (fails after ``seconds``)."""
    started = time.monotonic()
    while not predicate(page):
        assert time.monotonic() - started < seconds, "timed out"
        page.wait_for_timeout(100)
    return time.monotonic() - started


def accuracy(page) -> float:
    value = page.get_attribute("#score", "data-value")
    return float(value) if value else 0.0


def test_two_moons_learns_past_97_percent_and_the_boundary_moves(page, playground) -> None:
    """(a) The URL-hash setup of two moons, 2 × 8 ReLU, He, Adam: ≥ 97 % validation
    accuracy on the page within 20 s, and the boundary canvas changes as it learns."""
    page.goto(f"{playground}/#{MOONS}&epochs=300")
    page.wait_for_selector("#status[data-state=ready]")
    page.wait_for_function("document.querySelector('#view-title').textContent.includes('boundary')")
    page.click("#start")
    wait_for(page, lambda p: p.get_attribute("#score", "data-value"), 10)
    early = page.locator("#boundary").screenshot()
    took = wait_for(page, lambda p: accuracy(p) >= 0.97, 20)
    page.wait_for_timeout(400)
    later = page.locator("#boundary").screenshot()
    assert early != later
    assert accuracy(page) >= 0.97 and took < 20
    page.wait_for_selector("#status[data-state=done]", timeout=20_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground-moons.png"), full_page=True)
    assert page.locator("#confusion").count() == 1
    assert page.get_attribute("#download", "aria-disabled") == "false"


def test_six_sigmoid_layers_with_the_seeds_init_show_the_vanishing_warning(
    page, playground
) -> None:
    """(b) The same data, 6 sigmoid layers, the naive small initialisation 0.01·N(0, 1):
    after one step the warnings say the signal has vanished, and link to the page on
    initialisation."""
    page.goto(f"{playground}/#{VANISHING}&epochs=50")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#step")
    page.wait_for_selector("#warnings li[data-kind=vanishing]", timeout=10_000)
    first = page.locator("#warnings li[data-kind=vanishing]").first
    assert "layer 1's was" in first.text_content()
    assert "the gradient vanished" in first.text_content()
    assert first.locator("a").get_attribute("href") == "/docs/2-init.md"
    page.screenshot(path=str(ARTIFACTS / "playground-vanishing.png"), full_page=True)


def test_the_hash_holds_every_setting_and_a_reload_keeps_them(page, playground) -> None:
    """(c) A setting changed on the page goes into the address; reloading it gives the same
    settings (and so the same run: same seed, same curves)."""
    page.goto(f"{playground}/#{MOONS}&seed=7")
    page.wait_for_selector("#status[data-state=ready]")
    page.select_option("#f-activation", "tanh")
    page.fill("#f-hidden", "16,4,2")
    page.dispatch_event("#f-hidden", "change")
    assert "activation=tanh" in page.url and "hidden=16%2C4%2C2" in page.url
    names = [f.name for f in dataclasses.fields(Settings)]  # every one the address holds
    before = {n: page.input_value(f"#f-{n}") for n in names}
    page.reload()
    page.wait_for_selector("#status[data-state=ready]")
    after = {n: page.input_value(f"#f-{n}") for n in names}
    assert after == before and after["seed"] == "7" and after["hidden"] == "16,4,2"


def test_the_page_makes_no_request_outside_its_server(page, playground) -> None:
    """(d) Every request the browser made, through a whole run: the page's own server."""
    page.goto(f"{playground}/#{MOONS}&epochs=20")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#start")
    page.wait_for_selector("#status[data-state=done]", timeout=20_000)
    page.hover("#weights canvas")
    assert page.locator("#tip").text_content().startswith("W1[")
    origins = {urlsplit(url).netloc for url in page.requests}  # type: ignore[attr-defined]
    assert origins == {urlsplit(playground).netloc}, origins
    assert len(page.requests) >= 3  # type: ignore[attr-defined]


def statuses(page, path: str) -> list[int]:
    """The statuses of the page's responses to requests whose path ends with ``path``."""
    return [status for url, status in page.responses if urlsplit(url).path.endswith(path)]  # type: ignore[attr-defined]


def test_four_tabs_run_to_done_and_stay_open_and_a_fifth_trains(browser) -> None:  # noqa: F811
    """Slots count training threads, not open pages: four tabs whose runs have finished
    (their pages still open) keep nobody out; a fifth opens its session (201) and trains.
    Each tab closes its stream on "done"."""
    sessions = Sessions(limit=4)
    with playground_in_thread(sessions) as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        tabs = []
        for k in range(5):
            tab = context.new_page()
            tab.responses = []  # type: ignore[attr-defined]
            tab.on("response", lambda r, tab=tab: tab.responses.append((r.url, r.status)))
            tab.goto(f"{url}/#{MOONS}&epochs=15&seed={k}")
            tab.wait_for_selector("#status[data-state=ready]")
            tabs.append(tab)
        for tab in tabs[:4]:
            tab.click("#start")
        for tab in tabs[:4]:
            tab.wait_for_selector("#status[data-state=done]", timeout=30_000)
        for tab in tabs[:4]:  # the stream is closed by the page, and the server saw it go
            assert tab.evaluate("() => source === null")
        deadline = time.monotonic() + 10
        while any(s.status()["pages"] for s in sessions.sessions() if s.state == "done"):
            assert time.monotonic() < deadline, "a finished page kept its stream open"
            time.sleep(0.1)
        assert sessions.slots_used == 0 and len(sessions) == 5
        fifth = tabs[4]
        fifth.click("#start")
        fifth.wait_for_selector("#status[data-state=done]", timeout=30_000)
        assert statuses(fifth, "/api/sessions") == [201]
        assert statuses(fifth, "/start") == [200]
        assert fifth.locator("#error").text_content() == ""
        context.close()


def test_a_tab_reloaded_mid_run_resumes_its_charts(page, playground) -> None:
    """Reloaded mid-run, the tab finds its session (kept in the tab's sessionStorage) and
    its stream starts over with the run so far: the same epochs, once each, and on to done."""
    page.goto(f"{playground}/#{MOONS}&epochs=200&seed=3")
    page.wait_for_selector("#status[data-state=ready]")
    page.click("#start")
    wait_for(page, lambda p: p.evaluate("() => run.history.length") >= 40, 20)
    before = page.evaluate("() => ({id: session, epochs: run.history.length})")
    page.reload()
    wait_for(
        page, lambda p: p.evaluate("() => (run && run.history.length) || 0") >= before["epochs"], 10
    )
    after = page.evaluate("() => ({id: session, layers: Object.keys(run.layers).length})")
    assert after["id"] == before["id"] and after["layers"] == 3  # its per-layer charts too
    page.wait_for_selector("#status[data-state=done]", timeout=30_000)
    epochs = page.evaluate("() => run.history.map((h) => h.epoch)")
    assert epochs == list(range(1, 201))
    assert page.get_attribute("#score", "data-value")
    assert page.locator("#loss").screenshot() != b""


def test_a_session_gone_from_the_server_is_said_on_the_page(browser) -> None:  # noqa: F811
    """The stream's onerror: the server restarts under a training page; the browser
    reconnects, the session is no longer there (404), and the page says so and what to
    do, instead of waiting forever."""
    port = free_port()
    context = browser.new_context()
    page = context.new_page()
    first = Sessions()
    with playground_in_thread(first, port=port, timeout_graceful_shutdown=0.2) as url:
        page.goto(f"{url}/#{MOONS}&epochs=5000")
        page.wait_for_selector("#status[data-state=ready]")
        page.click("#start")
        page.wait_for_selector("#status[data-state=running]")
        sid = page.evaluate("() => session")
    first.close_all()  # its training thread stops (the server that had it has gone)
    with playground_in_thread(Sessions(), port=port, timeout_graceful_shutdown=0.2):
        page.wait_for_selector("#status[data-state=error]", timeout=15_000)
        assert "press Reset" in page.locator("#error").text_content()
        page.click("#reset")
        page.wait_for_selector("#status[data-state=ready]")
        assert page.evaluate("() => session") not in (sid, None)
    context.close()
