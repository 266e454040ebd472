"""Build of the optional C kernel; the package metadata lives in pyproject.toml.

``sinabs.dynamics.fused._scan`` is plain C (no Python or torch headers) that
``sinabs.dynamics.fused.cpu_kernel`` loads with ctypes. It is optional: when it cannot
be compiled, installation still succeeds and the CPU backend reports itself unsupported
(``backend="auto"`` then runs the reference).

The kernel is several translation units: ``scan.c`` (threads, entry points) and one
per instruction set and scalar type (``variant_*.c``), which take most of the build.
setuptools compiles the sources of an extension one after the other (its ``parallel``
option only builds several extensions at once), so :class:`ParallelBuildExt` compiles
them on a thread pool, one compiler process per source (measured on 2 cores: about 63
CPU seconds in all, the largest unit, AVX-512 float32, 18 s).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.errors import CompileError

CSRC = "src/sinabs/dynamics/fused/csrc"
#: the declarations of the neuron families, from which the C header is written
FAMILIES_PY = "src/sinabs/dynamics/families.py"
#: the header the C sources include for the layout and codes (generated, git-ignored)
LAYOUT_H = f"{CSRC}/layout.h"
# the largest units first, so that the pool does not end waiting for one of them
VARIANTS = [f"variant_{isa}_{t}.c" for t in ("f32", "f64") for isa in ("avx512", "avx2", "default")]
# Flags for one unit, where the compiler takes them: GCC's register-pressure-aware
# scheduling for the AVX-512 float32 kernels, whose backward (bwd_slot) needs more than
# the 32 vector registers. Measured on this 2-core Zen 5, bare kernel on one thread,
# interleaved with the single-unit build of before: ALIF backward at (8, 1000, 1024)
# 10.7 ms as before (11.3 without the flags, since the variants are units of their
# own), 0.52 instead of 0.56-0.60 ms at (2, 1000, 256) in cache, forward unchanged.
# (On AVX2 it made the forward 6% slower: not there.)
UNIT_FLAGS = {"variant_avx512_f32.c": ["-fschedule-insns", "-fsched-pressure"]}


def write_layout_header() -> None:
    """Writes :data:`LAYOUT_H` from ``families.c_header()``.

    families.py is loaded by its path: the build cannot import sinabs (nor torch). The
    file is rewritten only when its text changes, so that an unchanged header does not
    make the build recompile every unit.
    """
    spec = importlib.util.spec_from_file_location("_sinabs_families", FAMILIES_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # registered while it runs: its dataclasses look their module up by name
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        text = module.c_header()
    finally:
        del sys.modules[spec.name]
    try:
        with open(LAYOUT_H) as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(LAYOUT_H, "w") as f:
        f.write(text)


def _jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class ParallelBuildExt(build_ext):
    """build_ext that compiles the sources of an extension in parallel (and adds
    :data:`UNIT_FLAGS` where the compiler accepts them)."""

    def _accepts(self, flags: list[str]) -> bool:
        """Whether the compiler takes ``flags`` without a warning."""
        with tempfile.TemporaryDirectory() as tmp:
            probe = os.path.join(tmp, "probe.c")
            with open(probe, "w") as f:
                f.write("int sinabs_probe(void) { return 0; }\n")
            try:
                self.compiler.compile([probe], output_dir=tmp, extra_postargs=[*flags, "-Werror"])
            except CompileError:
                return False
        return True

    def build_extension(self, ext: Extension) -> None:
        write_layout_header()
        compiler = self.compiler
        serial = compiler.compile
        order = {src: k for k, src in enumerate(ext.sources)}
        unit_flags = {name: flags for name, flags in UNIT_FLAGS.items() if self._accepts(flags)}

        def compile_parallel(sources: list[str], *args: Any, **kwargs: Any) -> list[str]:
            def one(src: str) -> list[str]:
                start = time.perf_counter()
                extra = unit_flags.get(os.path.basename(src), [])
                options = {**kwargs, "extra_postargs": [*kwargs.get("extra_postargs", []), *extra]}
                objects = serial([src], *args, **options)
                seconds = time.perf_counter() - start
                self.announce(f"compiled {os.path.basename(src)} in {seconds:.0f} s", logging.INFO)
                return objects

            ordered = sorted(sources, key=lambda s: order.get(s, len(order)))
            jobs = min(_jobs(), len(ordered))
            self.announce(f"compiling {len(ordered)} C sources on {jobs} threads", logging.INFO)
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                by_source = dict(zip(ordered, pool.map(one, ordered), strict=True))
            # the objects in the order of the sources given (the link order)
            return [obj for src in sources for obj in by_source[src]]

        compiler.compile = compile_parallel  # type: ignore[method-assign]
        try:
            super().build_extension(ext)
        finally:
            del compiler.compile  # the class's method again


scan = Extension(
    "sinabs.dynamics.fused._scan",
    sources=[f"{CSRC}/{name}" for name in [*VARIANTS, "scan.c"]],
    depends=[
        *(
            f"{CSRC}/{name}"
            for name in ("scan_common.h", "scan_variant.h", "scan_kernel.h", "surrogate.h")
        ),
        FAMILIES_PY,
    ],
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

setup(ext_modules=[scan], cmdclass={"build_ext": ParallelBuildExt})
