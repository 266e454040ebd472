"""What a benchmark ran on: processor, instruction sets, versions, threads, and the
environment variables that change PyTorch's or glibc's behaviour, when they are set."""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Mapping
from typing import Any

#: variables that change allocation, threading or kernels; recorded when set
RECORDED_VARIABLES = (
    "GLIBC_TUNABLES",
    "THP_MEM_ALLOC_ENABLE",
    "LD_PRELOAD",
    "MALLOC_ARENA_MAX",
    "MALLOC_MMAP_THRESHOLD_",
    "MALLOC_TRIM_THRESHOLD_",
    "MALLOC_CONF",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OMP_PROC_BIND",
    "OMP_PLACES",
    "KMP_AFFINITY",
    "GOMP_CPU_AFFINITY",
    "ATEN_CPU_CAPABILITY",
    "TORCH_NUM_THREADS",
)
#: instruction-set flags worth knowing for CPU kernels
FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_tile")
PACKAGES = ("torch", "numpy", "sinabs", "snntorch", "spikingjelly", "norse")


def _cpuinfo() -> dict[str, str]:
    """The first processor's entries of /proc/cpuinfo (empty off Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read().split("\n\n")[0]
    except OSError:
        return {}
    entries = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in entries}


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe(threads: int, allocator: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The environment of this process and the settings its measurements run with.

    Args:
        threads: the threads each measurement uses (``torch.set_num_threads``).
        allocator: the allocator setting passed to the measuring processes
            (``"default"``: the environment as it is).
        env: the environment variables of the measuring processes (default: this
            process's).

    Returns:
        A JSON-ready dict: ``cpu_model``, ``cpu_flags`` (each of :data:`FLAGS`: present
        or not), ``avx512``, ``logical_cpus``, ``usable_cpus``, ``platform``, ``python``,
        ``packages`` (versions, None when not installed), ``environment_variables``
        (those of :data:`RECORDED_VARIABLES` that are set), ``transparent_hugepage``
        (the kernel's setting), ``torch_cpu_capability``, ``sinabs_cpu_kernel``,
        ``threads``, ``allocator`` and ``load_average``.
    """
    import torch

    from ..dynamics.fused import cpu_kernel

    env = os.environ if env is None else env
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_model": info.get("model name") or platform.processor() or platform.machine(),
        "cpu_flags": {flag: flag in flags for flag in FLAGS},
        "avx512": "avx512f" in flags,
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "environment_variables": {k: env[k] for k in RECORDED_VARIABLES if k in env},
        "transparent_hugepage": _read("/sys/kernel/mm/transparent_hugepage/enabled"),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "sinabs_cpu_kernel": {
            "built": cpu_kernel.available(),
            "thread_pool": cpu_kernel.thread_pool() if cpu_kernel.available() else None,
        },
        "threads": threads,
        "allocator": allocator,
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
