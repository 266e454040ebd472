"""Makes the MKL inside torch take its Intel code paths on an AMD processor (tests only).

torch's CPU build links MKL statically; MKL picks its kernels by CPU vendor: on AMD it
runs a generic path (its float32 ``exp`` is ``mkl_vml_kernel_sExp_EXHAynn`` whatever
``MKL_ENABLE_INSTRUCTIONS`` says), on Intel the AVX-512 (``Z0``) or AVX2 (``L9``) one,
which round differently (float32 ``exp`` differs in 0.5% and 0.45% of all arguments;
``sgemm`` blocks differently). MKL caches its vendor check in two ints; set to 1 before
MKL's first call, they make an AMD processor with AVX-512 run what an Intel one runs:
``MKL_ENABLE_INSTRUCTIONS=AVX2`` then selects the path of an Intel CPU without AVX-512.

Use: ``PYTHONPATH=tools/mkl_as_intel python -m pytest ...`` (``sitecustomize`` imports
this module in every Python process, the tests' subprocesses included). Needs ``nm``
(binutils) to find the two cells in ``libtorch_cpu.so``; raises if they are missing or
MKL has already answered.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import torch

_CELLS = ("mkl_serv_intel_cpu.cached", "mkl_serv_intel_cpu_true.cached")


def pretend_intel() -> None:
    """Sets MKL's cached vendor check to "Intel" (call before MKL's first use)."""
    maps = [line for line in open("/proc/self/maps") if "libtorch_cpu.so" in line]
    if not maps:
        raise RuntimeError(f"libtorch_cpu.so is not loaded (torch {torch.__version__})")
    base = min(int(line.split("-")[0], 16) for line in maps)
    library = maps[0].split()[-1]
    nm = shutil.which("nm")
    if nm is None:
        raise RuntimeError("needs nm (binutils) to read libtorch_cpu.so's symbol table")
    symbols = subprocess.run([nm, library], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in symbols.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in _CELLS:
            found[parts[2]] = base + int(parts[0], 16)
    if set(found) != set(_CELLS):
        raise RuntimeError(f"{library} has no {sorted(set(_CELLS) - set(found))}")
    for name, address in found.items():
        cell = ctypes.c_int.from_address(address)
        if cell.value != -1:  # -1: not asked yet
            raise RuntimeError(f"MKL has already checked the vendor ({name} = {cell.value})")
        cell.value = 1
