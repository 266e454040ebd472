"""Release hygiene: the version, the lazy optional modules, the licence and changelog."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sinabs

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text()
VERSION = re.search(r'^version = "([^"]+)"$', PYPROJECT, re.MULTILINE)[1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version_comes_from_the_package_metadata() -> None:
    assert sinabs.__version__ == importlib.metadata.version("sinabs")
    assert sinabs.__version__ == VERSION


def test_version_without_metadata_falls_back() -> None:
    result = _run(
        """
        import importlib.metadata as metadata
        real = metadata.version
        def version(name):
            if name == "sinabs":
                raise metadata.PackageNotFoundError(name)
            return real(name)
        metadata.version = version
        import sinabs
        print(sinabs.__version__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0+unknown"


def test_plotting_is_reachable_after_import_sinabs_without_importing_matplotlib() -> None:
    result = _run(
        """
        import sys
        import sinabs
        assert "matplotlib" not in sys.modules, "import sinabs imported matplotlib"
        assert "sinabs.plotting" not in sys.modules
        plot = sinabs.plotting.plot_dynamics
        assert sys.modules["sinabs.plotting"] is sinabs.plotting
        assert "matplotlib" not in sys.modules, "sinabs.plotting imported matplotlib"
        assert "plotting" in dir(sinabs)
        print(plot.__name__)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "plot_dynamics"


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'sinabs' has no attribute 'plotin'"):
        sinabs.plotin  # noqa: B018
    assert not hasattr(sinabs, "no_such_name")


def test_every_lazy_name_resolves() -> None:
    for name in sinabs._LAZY:
        assert getattr(sinabs, name) is not None
        assert name in sinabs.__all__


def test_licence_file_is_the_agpl_v3() -> None:
    assert re.search(r'^license = .*"AGPL-3.0-or-later"', PYPROJECT, re.MULTILINE)
    text = (ROOT / "LICENSE").read_text()
    assert text.lstrip().startswith("GNU AFFERO GENERAL PUBLIC LICENSE")
    assert "Version 3, 19 November 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_changelog_has_an_entry_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    base = VERSION.split(".dev")[0]
    assert f"## {base}" in changelog or "## Unreleased" in changelog
