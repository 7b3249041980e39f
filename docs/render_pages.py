"""The stage pages as HTML, for the playground's "why" links: docs/*.md rendered into
the package (``src/nnscratch/app/playground/pages/``), so that an installed package
serves them too, without the docs folder and without a Markdown renderer.

    python docs/render_pages.py          # write the pages (after editing one of PAGES)
    python docs/render_pages.py --check  # exit 1 if any written page is out of date

Markdown by markdown-it-py (CommonMark with tables, heading anchors, and ``$…$`` /
``$$…$$`` math kept as ``<span class="math inline">`` / ``<div class="math block">``),
which the page typesets in the browser with the vendored KaTeX
(``/vendor/katex/``). Links between rendered pages stay links; links to anything
else in the repository (other docs, source files) become plain text that names the
path. ``tests/test_docs_pages.py`` checks the pages are current.
"""

from __future__ import annotations

import html
import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS.parent / "src" / "nnscratch" / "app" / "playground" / "pages"
#: The pages a learner reaches from the playground: the stages and what they point to.
PAGES = (
    "index.md",
    "1-data.md",
    "2-init.md",
    "3-activations.md",
    "4-forward.md",
    "5-loss-backprop.md",
    "6-training.md",
    "7-classification.md",
    "optimizers.md",
)

TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — nnscratch</title>
<link rel="stylesheet" href="/vendor/katex/katex.min.css">
<style>
  body {{ margin: 0 auto; max-width: 860px; padding: 18px 24px 60px;
         font: 16px/1.6 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; }}
  nav {{ font-size: 13px; color: #667085; border-bottom: 1px solid #d9dee7;
         padding-bottom: 8px; }}
  a {{ color: #2f6fde; }}
  code {{ font: 13px/1.5 ui-monospace, "SFMono-Regular", Menlo, monospace;
          background: #f2f4f7; padding: 1px 4px; border-radius: 4px; }}
  pre {{ background: #f6f7f9; border: 1px solid #d9dee7; border-radius: 6px; padding: 10px 12px;
         overflow-x: auto; }}
  pre code {{ background: none; padding: 0; }}
  table {{ border-collapse: collapse; margin: 12px 0; }}
  th, td {{ border: 1px solid #d9dee7; padding: 4px 8px; text-align: left; vertical-align: top; }}
  .math.block {{ overflow-x: auto; margin: 12px 0; }}
  .repo-path {{ color: #475467; border-bottom: 1px dotted #98a2b3; }}
</style>
</head>
<body>
<nav>nnscratch · <a href="/docs/index.md">the stage pages</a> · rendered from
<code>docs/{name}</code></nav>
{body}
<script src="/vendor/katex/katex.min.js"></script>
<script>
"use strict";
for (const el of document.querySelectorAll(".math")) {{
  katex.render(el.textContent, el, {{ displayMode: el.classList.contains("block"),
                                      throwOnError: false }});
}}
document.body.dataset.typeset = "true";
</script>
</body>
</html>
"""


def renderer():
    """markdown-it-py: CommonMark, tables, heading anchors, dollar math."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin
    from mdit_py_plugins.dollarmath import dollarmath_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.use(dollarmath_plugin, allow_space=True, double_inline=True)
    md.use(anchors_plugin, max_level=3)
    return md


def unlink_outside(tokens, pages: tuple[str, ...]) -> None:
    """Links to anything but a rendered page (or the web) become text naming the path."""
    for token in tokens:
        opened: list[bool] = []  # for each open link: whether it became text
        for child in token.children or []:
            if child.type == "link_open":
                href = str(child.attrs.get("href", ""))
                target = href.split("#")[0]
                outside = bool(target) and not re.match(r"[a-z]+:", href) and target not in pages
                if outside:
                    child.tag = "span"
                    child.attrs = {
                        "class": "repo-path",
                        "title": f"in the project's repository: {target}",
                    }
                opened.append(outside)
            elif child.type == "link_close" and opened.pop():
                child.tag = "span"


def render(name: str, text: str, pages: tuple[str, ...] = PAGES) -> str:
    """The HTML page of ``docs/NAME``'s Markdown ``text``."""
    md = renderer()
    tokens = md.parse(text)
    unlink_outside(tokens, pages)
    body = md.renderer.render(tokens, md.options, {})
    heading = re.search(r"^# (.+)$", text, re.MULTILINE)
    title = heading.group(1) if heading else name
    title = re.sub(r"[`$\\]", "", title)
    return TEMPLATE.format(title=html.escape(title), name=html.escape(name), body=body)


def rendered() -> dict[str, str]:
    """Every page's file name in the package and its HTML, from the docs as they are."""
    return {
        name.removesuffix(".md") + ".html": render(name, (DOCS / name).read_text("utf-8"))
        for name in PAGES
    }


def main(argv: list[str]) -> int:
    pages = rendered()
    if "--check" in argv:
        stale = [
            n
            for n, page in pages.items()
            if not (OUT / n).is_file() or (OUT / n).read_text("utf-8") != page
        ]
        for name in stale:
            print(f"{OUT / name} is out of date: python docs/render_pages.py")
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.html"):
        if old.name not in pages:
            old.unlink()
    for name, page in pages.items():
        (OUT / name).write_text(page, "utf-8")
    print(f"wrote {len(pages)} pages to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
