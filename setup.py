"""Build of the optional C kernel; the package metadata lives in pyproject.toml.

``sinabs.dynamics.fused._scan`` is plain C (no Python or torch headers) that
``sinabs.dynamics.fused.cpu_kernel`` loads with ctypes. It is optional: when it cannot
be compiled, installation still succeeds and the fused backend runs its plain PyTorch
implementation with a warning.
"""

from setuptools import Extension, setup

CSRC = "src/sinabs/dynamics/fused/csrc"

scan = Extension(
    "sinabs.dynamics.fused._scan",
    sources=[f"{CSRC}/scan.c"],
    depends=[f"{CSRC}/scan_kernel.h"],
    # -ffp-contract=off: no FMA contraction, the forward reproduces torch bit for bit;
    # never -ffast-math. -fno-math-errno only lets floor/trunc inline (same results).
    extra_compile_args=["-std=c11", "-O3", "-ffp-contract=off", "-fno-math-errno", "-pthread"],
    extra_link_args=["-pthread"],
    libraries=["m"],
    optional=True,
)

setup(ext_modules=[scan])
