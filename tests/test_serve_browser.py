"""The pages of ``nnscratch serve`` in a real browser: Playwright driving the system Chromium.

Skipped with a reason where Playwright or Chromium is missing (``.ci/run``
installs both). Screenshots go to ``test-artifacts/`` (``NNSCRATCH_ARTIFACTS``).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from serving import ARTIFACTS, running_server
from test_cli import run

from nnscratch.data.synthetic import make_tracks

pytest.importorskip("fastapi", reason="nnscratch[serve] not installed (fastapi, uvicorn)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")

#: Flags for a headless Chromium on a machine without network: no sandbox as root, and no
#: background connections (refused here, many at a time).
CHROMIUM_ARGS = [
    "--headless=new",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for candidate in (os.environ.get("NNSCRATCH_CHROMIUM"), "chromium", "chromium-browser"):
        if candidate and (found := shutil.which(candidate)):
            return found
    pytest.skip("no Chromium found (apt-get install chromium, or set NNSCRATCH_CHROMIUM)")


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    args = [*CHROMIUM_ARGS, *(["--no-sandbox"] if os.geteuid() == 0 else [])]
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=args)
        yield launched
        launched.close()


SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"

#: How each model is trained (briefly: the pages, not the accuracy, are under test).
TRAINING = {
    "mnist": [
        "--data",
        str(SHARED_MNIST),
        "--preset",
        "fast",
        "--epochs",
        "1",
        "--max-rows",
        "10000",
    ],
}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, tracks_model: Path, digits_model: Path):
    root = tmp_path_factory.mktemp("browser")
    trained: dict[str, Path] = {"popularity": tracks_model, "digits": digits_model}

    def model(name: str) -> Path:
        if name == "mnist" and not SHARED_MNIST.is_dir():
            pytest.skip(f"MNIST not found at {SHARED_MNIST}: the MNIST page test is skipped")
        if name not in trained:
            result = run("train", *TRAINING[name], "--out", str(root / name), "--quiet")
            assert result.returncode == 0, result.stderr
            trained[name] = root / name / "model.npz"
        return trained[name]

    return model


def test_popularity_page_slider_and_csv_upload(browser, models, tmp_path: Path) -> None:
    csv = tmp_path / "tracks.csv"
    make_tracks(120, seed=2, junk_fraction=0.05).to_csv(csv, index=False)
    with running_server(models("popularity")) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        assert " k=16 ×2, " in page.locator("#subtitle").inner_text()  # as the CLI names it
        shown = page.locator("#prediction")
        before = float(shown.get_attribute("data-value"))
        assert 0 <= before <= 100

        slider = page.locator("#input-year") if page.locator("#input-year").count() else None
        slider = slider or page.locator("#input-loudness")
        slider.focus()
        slider.press("End")  # the slider to its maximum: an input event, a new prediction
        page.wait_for_function(
            f"document.querySelector('#prediction').dataset.value !== '{before!r}'",
            timeout=15_000,
        )
        after = float(shown.get_attribute("data-value"))
        assert after != before and 0 <= after <= 100
        assert page.locator("#error").inner_text() == ""

        page.locator("#csv").set_input_files(str(csv))
        page.wait_for_selector("#download[href^='blob:']", timeout=30_000)
        summary = page.locator("#csv-summary").inner_text()
        assert "row(s) predicted" in summary and "skipped" in summary
        assert page.locator("#histogram").is_visible()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-popularity.png"), full_page=True)
        assert not errors, errors


@pytest.mark.parametrize("name", ["digits", "mnist"])
def test_digits_page_draws_and_predicts(browser, models, name: str) -> None:
    with running_server(models(name)) as url:
        page = browser.new_page(viewport={"width": 1100, "height": 620})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        box = page.locator("#pad").bounding_box()
        assert box is not None
        x0, y0 = box["x"], box["y"]
        page.mouse.move(x0 + 140, y0 + 40)  # a "1": one stroke down the middle
        page.mouse.down()
        for step in range(1, 21):
            page.mouse.move(x0 + 140, y0 + 40 + step * 10)
        page.mouse.up()
        page.wait_for_function(
            "document.querySelector('#digit').dataset.value !== ''", timeout=15_000
        )
        digit = page.locator("#digit").get_attribute("data-value")
        assert digit in [str(d) for d in range(10)]
        if name == "mnist":  # a straight vertical stroke is a 1 to any MNIST model
            assert digit == "1"
        shares = [
            float(text.rstrip("%")) for text in page.locator("#bars .bar .p").all_inner_texts()
        ]
        assert len(shares) == 10 and abs(sum(shares) - 100) < 1
        best = page.locator("#bars .bar.best").get_attribute("data-label")
        assert best == digit
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"), full_page=True)
        page.locator("#clear").click()
        assert page.locator("#digit").get_attribute("data-value") == ""
        assert not errors, errors


def test_the_api_page_is_swagger_ui_from_the_package_and_fetches_nothing_elsewhere(
    browser, models
) -> None:
    """``GET /docs``: Swagger UI (vendored, not from a CDN) lays out every route of
    ``/openapi.json``, /predict with the model's own media types and statuses; every
    request the page makes goes to the server itself."""
    with running_server(models("digits")) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        paths = set(page.locator(".opblock-summary-path").all_inner_texts())
        assert {
            "/predict",
            "/metrics",
            "/v2/models/{model_name}/ready",
            "/v2/models/{model_name}/versions/{model_version}/infer",
        } <= paths
        page.locator(".opblock-post .opblock-summary-path", has_text="/predict").click()
        body_types = ".opblock.is-open .body-param-content-type select option"
        page.wait_for_selector(body_types, state="attached", timeout=15_000)
        assert page.locator(body_types).all_inner_texts() == ["application/json", "image/png"]
        statuses = page.locator(".opblock.is-open .responses-table .response-col_status")
        assert statuses.all_inner_texts()[1:] == ["200", "400", "413", "415", "422"]
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "serve-docs.png"))
        assert not errors, errors
    assert {f"{url}/openapi.json", f"{url}/docs/assets/swagger-ui-bundle.js"} <= set(requested)
    elsewhere = [u for u in requested if not u.startswith(url + "/") and not u.startswith("data:")]
    assert not elsewhere, elsewhere
