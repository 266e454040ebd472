"""Session setup shared by every test module.

* torch.compile's cache (``TORCHINDUCTOR_CACHE_DIR``, by default one folder per user in
  the system's temporary directory) does not tell CPU capabilities apart: a process that
  loads kernels compiled under another ``ATEN_CPU_CAPABILITY`` (or on another machine
  sharing the folder) corrupts its heap. So the suite compiles into a fresh folder of
  its own, removed at the end, unless the user chose one explicitly. Inductor keeps its
  Triton kernels below that folder too; Triton's own cache (``TRITON_CACHE_DIR``) is
  keyed by GPU and compiler version and is left alone.
* ``--kernel-isa=avx2`` (or ``baseline``) runs the compiled CPU kernel as on a CPU
  without the higher instruction sets: calls without an explicit ``isa_name`` run that
  one, and higher ones are refused as the library refuses them there.
  (``ATEN_CPU_CAPABILITY`` does the same for torch's own kernels.)
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_CACHE = "TORCHINDUCTOR_CACHE_DIR"
_created: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kernel-isa",
        choices=("baseline", "avx2", "avx512"),
        default=None,
        help="run the compiled CPU kernel on this instruction set at best",
    )


def pytest_configure(config: pytest.Config) -> None:
    # before any test module is imported (and so before torch compiles anything);
    # subprocesses started by tests inherit it
    if _CACHE not in os.environ:
        path = tempfile.mkdtemp(prefix="sinabs-tests-inductor-")
        _created.append(path)
        os.environ[_CACHE] = path
    isa = config.getoption("--kernel-isa")
    if isa is not None:
        _limit_kernel_isa(isa)


def _limit_kernel_isa(name: str) -> None:
    from sinabs.dynamics.fused import cpu_kernel

    if not cpu_kernel.available():
        raise pytest.UsageError(f"--kernel-isa: {cpu_kernel.unavailable_reason()}")
    isas, best = cpu_kernel.ISAS, cpu_kernel.isa()
    level = isas.index(name)
    if level > isas.index(best):
        raise pytest.UsageError(f"--kernel-isa={name}: this CPU runs {best} at best")

    def isa_level(isa_name: str | None) -> int:
        wanted = level if isa_name is None else isas.index(isa_name)
        return wanted if wanted <= level else len(isas)  # the library refuses it

    cpu_kernel._isa_level = isa_level  # type: ignore[assignment]
    cpu_kernel.isa = lambda: name  # type: ignore[assignment]


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
