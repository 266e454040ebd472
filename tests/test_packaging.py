"""The package as users get it: ``python -m build`` makes an sdist and a wheel (built from
the sdist, so a file missing from the sdist fails the wheel), which install into a clean
virtual environment and pass a smoke test, once with the C kernel compiled into the
wheel and once built without a C compiler (``CC=false``: ``setup.py`` marks the kernel
optional), where the fused CPU backend reports itself unsupported (``backend="cpu"``
raises naming the missing kernel) and ``backend="auto"`` runs the reference.

Slow (it compiles the kernel and installs torch into a new environment): run by
``make test-slow``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = (ROOT / "pyproject.toml").read_text()
VERSION = re.search(r'^version = "([^"]+)"$', PYPROJECT, re.MULTILINE)[1]
TORCH = "torch==2.13.0"  # pinned, as the Makefile: never a multi-GB CUDA build

# Run in the clean environment, from a folder without the sources: imports the
# installed package, checks it against the reference backend and reports.
SMOKE = """
import json, warnings
import torch
import sinabs, sinabs.layers as sl
from sinabs.dynamics.fused import cpu_kernel

x = torch.rand(3, 40, 17, generator=torch.Generator().manual_seed(0)) * 0.3
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = sl.LIF(tau_mem=20.0, tau_syn=5.0, norm_input=False, backend="auto")(x)
    try:
        sl.LIF(tau_mem=20.0, tau_syn=5.0, norm_input=False, backend="cpu")(x)
        cpu_error = None
    except ValueError as error:  # BackendError
        cpu_error = str(error)
reference = sl.LIF(tau_mem=20.0, tau_syn=5.0, norm_input=False, backend="reference")
print(json.dumps({
    "version": sinabs.__version__,
    "file": sinabs.__file__,
    "kernel": cpu_kernel.available(),
    "equal": bool(torch.equal(out, reference(x))),
    "spikes": float(out.detach().sum()),
    "cpu_error": cpu_error,
    "warnings": [str(w.message) for w in caught],
}))
"""


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def _smoke(python: Path, cwd: Path) -> dict[str, object]:
    return json.loads(_run([str(python), "-c", SMOKE], cwd).stdout.splitlines()[-1])


def test_sdist_and_wheels_install_and_run(repo_copy: Path, tmp_path: Path) -> None:
    pytest.importorskip("build", reason='needs the build package: pip install -e ".[test]"')
    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(repo_copy)], tmp_path)
    (sdist,) = dist.glob("sinabs-*.tar.gz")
    (wheel,) = dist.glob("sinabs-*.whl")
    assert sdist.name == f"sinabs-{VERSION}.tar.gz"

    with tarfile.open(sdist) as archive:
        names = {Path(n).relative_to(f"sinabs-{VERSION}").as_posix() for n in archive.getnames()}
    for needed in ("LICENSE", "README.md", "pyproject.toml", "setup.py"):
        assert needed in names, needed
    csrc = "src/sinabs/dynamics/fused/csrc"
    assert {f"{csrc}/scan.c", f"{csrc}/scan_kernel.h", f"{csrc}/surrogate.h"} <= names

    with zipfile.ZipFile(wheel) as archive:
        wheel_names = archive.namelist()
    assert any(n.startswith("sinabs/dynamics/fused/_scan") for n in wheel_names)
    assert "sinabs/py.typed" in wheel_names
    assert any(
        n.endswith(".dist-info/licenses/LICENSE") or n.endswith("/LICENSE") for n in wheel_names
    )

    # The same sdist built where there is no C compiler: the kernel is left out.
    unpacked = tmp_path / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    no_cc = tmp_path / "dist-no-cc"
    _run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--outdir",
            str(no_cc),
            str(unpacked / f"sinabs-{VERSION}"),
        ],
        tmp_path,
        CC="false",
    )
    (plain_wheel,) = no_cc.glob("sinabs-*.whl")
    with zipfile.ZipFile(plain_wheel) as archive:
        assert not any("_scan" in n for n in archive.namelist())

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", TORCH], tmp_path)
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()

    _run([str(python), "-m", "pip", "install", "-q", str(wheel)], tmp_path)
    compiled = _smoke(python, run_dir)
    assert compiled["version"] == VERSION
    assert str(venv) in str(compiled["file"])
    assert compiled["kernel"] is True
    assert compiled["equal"] is True and compiled["spikes"] > 0
    assert compiled["warnings"] == [] and compiled["cpu_error"] is None

    _run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--force-reinstall",
            "--no-deps",
            str(plain_wheel),
        ],
        tmp_path,
    )
    fallback = _smoke(python, run_dir)
    assert fallback["version"] == VERSION
    assert fallback["kernel"] is False
    assert fallback["equal"] is True and fallback["spikes"] > 0
    assert fallback["warnings"] == []
    assert "backend 'cpu' cannot run" in fallback["cpu_error"], fallback["cpu_error"]
