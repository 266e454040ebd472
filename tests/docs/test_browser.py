"""The documentation site in a real browser: headless Chromium, served over localhost.

Every page loads without console errors or failed requests, no image or internal link
is broken, and the search (JavaScript) finds ``LIF``. Skipped, saying what to install,
where Chromium or Playwright is missing (see ``browse`` in ``tests/conftest.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_every_page_loads_cleanly(browse: Callable[[Path], Any], docs_html: Path) -> None:
    site = browse(docs_html)
    pages = site.pages()
    assert "index.html" in pages and len(pages) > 10
    problems, external = [], set()
    for page in pages:
        report = site.visit(page)
        problems.extend(report.problems)
        external.update(report.external_requests)
    assert not problems, "\n".join(problems)
    # the site is self-contained (MathJax included): it works offline
    assert not external, "requests to other hosts:\n" + "\n".join(sorted(external))


def test_equations_are_typeset(browse: Callable[[Path], Any], docs_html: Path) -> None:
    site = browse(docs_html)
    page = site.open("api/generated/sinabs.layers.html")
    try:
        page.wait_for_selector("mjx-container", timeout=20_000)  # MathJax's output
        typeset = page.locator("mjx-container").count()
        raw = page.locator("div.math:not(:has(mjx-container))").count()
    finally:
        page.close()
    assert typeset > 5
    assert raw == 0


def test_search_finds_lif(browse: Callable[[Path], Any], docs_html: Path) -> None:
    site = browse(docs_html)
    page = site.open("index.html")
    try:
        page.fill("input[name=q]", "LIF")
        page.press("input[name=q]", "Enter")
        page.wait_for_url("**/search.html?q=LIF*")
        results = page.locator("#search-results ul.search li a")
        results.first.wait_for(timeout=15_000)
        hrefs = [results.nth(i).get_attribute("href") for i in range(results.count())]
    finally:
        page.close()
    assert any("sinabs.layers.LIF" in (href or "") for href in hrefs), hrefs


def test_the_checks_catch_what_is_broken(browse: Callable[[Path], Any], tmp_path: Path) -> None:
    """The checker itself: a page with one of each fault reports each of them."""
    png = (Path(__file__).resolve().parents[2] / "docs" / "_static" / "lif_neuron.png").read_bytes()
    (tmp_path / "good.png").write_bytes(png)
    (tmp_path / "other.html").write_text('<html><body><h1 id="here">x</h1></body></html>')
    (tmp_path / "index.html").write_text(
        "<html><head><script src='missing.js'></script></head><body>"
        "<img src='good.png'><img src='broken.png'>"
        "<a href='other.html#here'>ok</a><a href='other.html#gone'>bad anchor</a>"
        "<a href='nowhere.html'>bad page</a><a href='https://example.org/'>external</a>"
        "<script>undefined_function();</script></body></html>"
    )
    report = browse(tmp_path).visit("index.html")
    assert [url.rsplit("/", 1)[1] for url in report.broken_images] == ["broken.png"]
    assert [url.rsplit("/", 1)[1] for url in report.broken_links] == [
        "other.html#gone",
        "nowhere.html",
    ]
    errors = " ".join(report.console_errors)
    assert "404" in errors and "undefined_function" in errors
    assert report.external_requests == []  # a link is not a request
