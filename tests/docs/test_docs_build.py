"""The documentation site builds without warnings and covers what it must.

The build itself (``make docs``: ``sphinx-build -W --keep-going``) runs once per session
in a copy of the working tree (``docs_build`` in ``conftest.py``); it executes every
gallery example, so an example that stops working fails here.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .conftest import DocsBuild

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GALLERY = ROOT / "examples" / "gallery"


def _api_modules() -> list[str]:
    """The modules listed in ``docs/api/index.rst``'s autosummary (one per line)."""
    text = (DOCS / "api" / "index.rst").read_text()
    block = text.split(".. autosummary::", 1)[1]
    return [
        line.strip()
        for line in block.splitlines()
        if line.strip() and not line.strip().startswith(":")
    ]


def test_build_has_no_warnings(docs_build: DocsBuild) -> None:
    assert docs_build.returncode == 0, docs_build.output
    assert "WARNING" not in docs_build.output and "ERROR" not in docs_build.output


def test_every_gallery_example_ran_and_drew(docs_html: Path) -> None:
    scripts = sorted(GALLERY.glob("plot_*.py"))
    assert scripts, "no gallery examples"
    for script in scripts:
        page = docs_html / "auto_examples" / f"{script.stem}.html"
        assert page.is_file(), f"{script.name} has no page"
        figures = re.findall(rf'src="[^"]*sphx_glr_{script.stem}_\d+\.png"', page.read_text())
        assert figures, f"{script.name} drew no figure"
        for figure in set(re.findall(rf"sphx_glr_{script.stem}_\d+\.png", page.read_text())):
            assert (docs_html / "_images" / figure).stat().st_size > 1000, figure


def test_tutorial_has_its_six_figures(docs_html: Path) -> None:
    page = (docs_html / "auto_examples" / "plot_choosing_a_neuron_model.html").read_text()
    figures = set(re.findall(r"sphx_glr_plot_choosing_a_neuron_model_\d+\.png", page))
    assert len(figures) == 6


def _public_names(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} has no __all__"
    # submodules are listed in a module's table and have pages of their own;
    # ``__version__`` is a string described in getting started
    return [
        n
        for n in names
        if not isinstance(getattr(module, n), ModuleType) and not n.startswith("__")
    ]


@pytest.mark.parametrize("module_name", _api_modules())
def test_api_reference_documents_every_public_name(docs_html: Path, module_name: str) -> None:
    module = importlib.import_module(module_name)
    page = docs_html / "api" / "generated" / f"{module_name}.html"
    assert page.is_file(), f"no API page for {module_name}"
    anchors = set(re.findall(r'id="([^"]+)"', page.read_text()))
    missing = [n for n in _public_names(module) if f"{module_name}.{n}" not in anchors]
    assert not missing, f"{module_name}: undocumented public names {missing}"


def test_api_reference_covers_the_required_modules() -> None:
    required = {"sinabs", "sinabs.layers", "sinabs.activation", "sinabs.synopcounter"}
    required |= {"sinabs.hooks", "sinabs.utils"}
    assert required <= set(_api_modules())


def test_every_markdown_page_is_built(docs_html: Path) -> None:
    for page in DOCS.rglob("*.md"):
        relative = page.relative_to(DOCS)
        if relative.parts[0].startswith("_"):
            continue
        assert (docs_html / relative.with_suffix(".html")).is_file(), relative


def test_differences_page_is_in_the_site(docs_html: Path) -> None:
    html = (docs_html / "differences.html").read_text()
    assert "Differences from sinabs 3.x" in html
    assert "differences.html" in (docs_html / "index.html").read_text()


def test_performance_tables_come_from_the_reports(docs_html: Path) -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        tables = importlib.import_module("benchmark_tables")
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    html = (docs_html / "performance.html").read_text()
    cells = re.findall(r"<td><p>([^<]*)</p></td>", html)
    reports = (
        ("cpu_bench_2core.json", "cpu"),
        ("cpu_default_env_2core.json", "cpu_env"),
        ("gpu_check_h200.json", "gpu"),
        ("network_cpu_2core.json", "network"),
    )
    for name, kind in reports:
        report = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
        _, rows = tables.table_rows(report, kind)
        assert rows
        for row in rows:
            assert " ".join(row) in " ".join(cells), (name, row)
