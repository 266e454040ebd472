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
    depends=[f"{CSRC}/scan_kernel.h", f"{CSRC}/surrogate.h"],
    # -ffp-contract=off: no FMA contraction, the forward reproduces torch bit for bit;
    # never -ffast-math. -fno-math-errno lets floor/trunc inline and -fno-trapping-math
    # lets the selects of the lane loops vectorize; neither changes any result.
    # -g0: no debug information (Python's default CFLAGS add -g; 4x the library size).
    extra_compile_args=[
        "-std=c11",
        "-O3",
        "-g0",
        "-ffp-contract=off",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-pthread",
    ],
    extra_link_args=["-pthread"],
    libraries=["m"],
    optional=True,
)

setup(ext_modules=[scan])
