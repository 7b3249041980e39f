"""Every ``python`` block in docs/ runs, in order, page by page: the docs cannot rot."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
PAGES = sorted(p for p in DOCS.glob("*.md") if BLOCK.search(p.read_text()))


def test_pages_with_code_exist() -> None:
    names = {p.name for p in PAGES}
    assert {"1-data.md", "2-init.md", "5-loss-backprop.md", "6-training.md"} <= names


#: ``<!-- needs: MODULE -->`` at the top of a page: its code needs an optional extra.
NEEDS = re.compile(r"^<!-- needs: ([\w.]+) -->")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    needs = NEEDS.match(page.read_text())
    if needs:
        pytest.importorskip(needs.group(1), reason=f"{page.name} needs {needs.group(1)}")
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for number, code in enumerate(BLOCK.findall(page.read_text()), start=1):
            exec(compile(code, f"{page.name} block {number}", "exec"), namespace)
    finally:
        os.chdir(cwd)


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    """The README's Python examples, run as written on a synthetic tracks.csv."""
    from nnscratch.data.synthetic import make_tracks

    make_tracks(1500, seed=4).to_csv(tmp_path / "tracks.csv", index=False)
    blocks = BLOCK.findall((DOCS.parent / "README.md").read_text())
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "readme"}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for number, code in enumerate(blocks, start=1):
            exec(compile(code, f"README.md block {number}", "exec"), namespace)
    finally:
        os.chdir(cwd)
    points = namespace["points"]
    assert len(points) > 100 and points.min() >= 0 and points.max() <= 100  # type: ignore[attr-defined]
    assert (tmp_path / "model.npz").is_file() and (tmp_path / "popularity.npz").is_file()


def test_docs_link_to_files_that_exist() -> None:
    root = DOCS.parent
    for page in [*DOCS.glob("*.md"), root / "README.md"]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
