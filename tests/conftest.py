"""Session setup shared by every test module.

torch.compile's cache (``TORCHINDUCTOR_CACHE_DIR``, by default one folder per user in
the system's temporary directory) does not tell CPU capabilities apart: a process that
loads kernels compiled under another ``ATEN_CPU_CAPABILITY`` (or on another machine
sharing the folder) corrupts its heap. So the suite compiles into a fresh folder of its
own, removed at the end, unless the user chose one explicitly. Inductor keeps its
Triton kernels below that folder too; Triton's own cache (``TRITON_CACHE_DIR``) is keyed
by GPU and compiler version and is left alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_CACHE = "TORCHINDUCTOR_CACHE_DIR"
_created: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # before any test module is imported (and so before torch compiles anything);
    # subprocesses started by tests inherit it
    if _CACHE not in os.environ:
        path = tempfile.mkdtemp(prefix="sinabs-tests-inductor-")
        _created.append(path)
        os.environ[_CACHE] = path


@pytest.fixture(scope="session")
def suite_inductor_cache() -> str | None:
    """The compile cache folder this session created, or None when the user set one."""
    return _created[0] if _created else None


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _created:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get(_CACHE) == path:
            del os.environ[_CACHE]
    _created.clear()
