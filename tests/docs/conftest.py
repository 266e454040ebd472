"""The documentation site, built once per test session from a copy of the working tree."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class DocsBuild:
    """A finished ``sphinx-build`` of ``docs/``: its HTML folder and its output."""

    html: Path
    returncode: int
    output: str


@pytest.fixture(scope="session")
def docs_build(
    tmp_path_factory: pytest.TempPathFactory, copy_repo: Callable[[Path], Path]
) -> DocsBuild:
    """Builds the site as ``make docs`` does (warnings are errors), in a temporary copy.

    The copy keeps the build from writing into the checkout (the gallery writes its
    pages next to the sources) and from reusing an earlier build: every example runs.
    """
    pytest.importorskip("sphinx", reason='building the docs needs pip install -e ".[docs]"')
    repo = copy_repo(tmp_path_factory.mktemp("docs") / "repo")
    html = repo / "docs" / "_build" / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "docs", html],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return DocsBuild(html, result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="session")
def docs_html(docs_build: DocsBuild) -> Path:
    """The built site's HTML folder; fails the test if the build failed."""
    if docs_build.returncode != 0:
        pytest.fail(f"the docs build failed:\n{docs_build.output}")
    return docs_build.html
