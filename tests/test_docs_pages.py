"""The stage pages the playground links to: rendered into the package from docs/ (and
current), served as HTML whose math KaTeX typesets, KaTeX vendored with its licence."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def render_pages():
    pytest.importorskip("markdown_it", reason="markdown-it-py (the dev extra) renders the pages")
    pytest.importorskip("mdit_py_plugins", reason="mdit-py-plugins (the dev extra)")
    spec = importlib.util.spec_from_file_location("render_pages", ROOT / "docs" / "render_pages.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_pages_in_the_package_are_the_docs_as_they_are() -> None:
    """Edited a stage page? ``make pages`` (``python docs/render_pages.py``) renders it again."""
    module = render_pages()
    stale = [
        name
        for name, page in module.rendered().items()
        if not (module.OUT / name).is_file() or (module.OUT / name).read_text("utf-8") != page
    ]
    assert not stale, f"out of date: {stale}; run make pages (python docs/render_pages.py)"
    assert sorted(p.name for p in module.OUT.glob("*.html")) == sorted(module.rendered())


def test_math_is_kept_for_katex_and_links_outside_the_pages_become_text() -> None:
    module = render_pages()
    page = module.render(
        "x.md",
        "# A $b$\n\nInline $\\frac{1}{2}$ and\n\n$$W \\in \\mathbb{R}^{n}$$\n\n"
        "[next](2-init.md#why) · [code](../src/nnscratch/core/init.py) · [web](https://x.org)\n",
    )
    assert '<span class="math inline">\\frac{1}{2}</span>' in page
    assert '<div class="math block">' in page and "\\mathbb{R}^{n}" in page
    assert '<a href="2-init.md#why">next</a>' in page and '<a href="https://x.org">' in page
    assert '<span class="repo-path" title="in the project\'s repository: ' in page
    assert "<title>A b — nnscratch</title>" in page


def test_katex_is_vendored_with_its_licence() -> None:
    katex = ROOT / "src" / "nnscratch" / "app" / "playground" / "vendor" / "katex"
    assert "MIT License" in (katex / "LICENSE").read_text()
    css = (katex / "katex.min.css").read_text()
    fonts = {p.name for p in (katex / "fonts").glob("*.woff2")}
    named = set(re.findall(r"url\(fonts/([\w-]+\.woff2)\)", css))
    assert named and named <= fonts and ".ttf" not in css


def test_the_playground_serves_the_pages_and_katex() -> None:
    pytest.importorskip("starlette", reason="nnscratch[serve] not installed")
    pytest.importorskip("httpx", reason="the web-tests extra (httpx) drives the test client")
    from starlette.testclient import TestClient

    from nnscratch.app.playground.drawing import WARNING_DOCS
    from nnscratch.app.playground.server import build_playground

    client = TestClient(build_playground())
    for name in sorted(set(WARNING_DOCS.values())):
        answer = client.get(f"/docs/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
        assert '<script src="/vendor/katex/katex.min.js">' in answer.text
    assert 'class="math' in client.get("/docs/2-init.md").text
    script = client.get("/vendor/katex/katex.min.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert client.get("/vendor/katex/fonts/KaTeX_Main-Regular.woff2").status_code == 200
    missing = client.get("/docs/layout.md")
    assert missing.status_code == 404 and "not a stage page" in missing.text
    assert client.get("/docs/..%2Fpyproject.toml").status_code == 404
