"""Side-by-side timing of two builds of the C kernel (for kernel changes).

On a shared machine the speed of a process drifts (memory bandwidth, neighbours), so
comparing one run before a change with one after says little. This script times two
builds of the compiled kernel, ``--a`` and ``--b`` (paths of ``_scan*.so`` files, for
example a copy of the installed one before a change and the rebuilt one), alternately
in fresh processes, ``--rounds`` times each, and reports per layer and size the
median fused forward and forward+backward times of both, their ratio b/a, and the
floors of ``bench_cpu.py`` (the memory-bandwidth floor measured in each process).

    python benchmarks/ab_cpu.py --a /tmp/before.so --b src/sinabs/dynamics/fused/_scan*.so \\
        --out out/ab_cpu.json [--sizes 8x1000x1024 1x100000x256] [--layers ALIF LIF]

Each timing runs :func:`bench_cpu._measure_time` (same inputs, same allocator settings)
with the chosen library loaded in place of the installed one.

``--interleaved REPS`` times the bare kernel instead (``cpu_kernel.scan_forward`` and
``scan_backward`` on the layer's neutral arguments), both builds loaded in one process
and called alternately REPS times: on a machine shared with other jobs the two see the
same interference, and the minimum over the repetitions estimates the undisturbed time.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import types
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_cpu  # noqa: E402  (next to this file)

DEFAULT_SIZES = ["32x100x4096", "8x1000x1024", "128x50x16384", "32x100x128"]


class _WithoutReport:
    """A build from before ``sinabs_scan_backward_ex``: its plain backward serves."""

    def __init__(self, lib: Any) -> None:
        self._lib = lib

    def __getattr__(self, name: str) -> Any:
        return getattr(self._lib, name)

    def sinabs_scan_backward_ex(self, *args: Any) -> int:
        code = self._lib.sinabs_scan_backward(*args[:-2])  # no segments, no report
        return int(code)


_LOADERS: list[Any] = []  # cpu_kernel's own loader, kept when it is replaced


def _use_library(path: str) -> None:
    """Make sinabs's CPU kernel load the library at ``path``."""
    from sinabs.dynamics.fused import cpu_kernel

    if not _LOADERS:
        _LOADERS.append(cpu_kernel._library.__wrapped__)  # the loader, without its cache
    real = importlib.util.find_spec
    importlib.util.find_spec = lambda name, package=None: types.SimpleNamespace(origin=path)  # type: ignore[assignment]
    try:
        lib: Any = _LOADERS[0]()
    finally:
        importlib.util.find_spec = real
    if isinstance(lib, str) and "sinabs_scan_backward_ex" in lib:
        lib = ctypes.CDLL(path)
        lib.sinabs_scan_forward.argtypes = cpu_kernel._FORWARD_ARGS
        lib.sinabs_scan_backward.argtypes = cpu_kernel._BACKWARD_ARGS
        lib.sinabs_scan_threading.argtypes = [ctypes.c_int]
        lib = _WithoutReport(lib)
    if isinstance(lib, str):
        raise RuntimeError(lib)
    cpu_kernel._library = lambda: lib  # type: ignore[assignment]


def _child(
    path: str, name: str, size: tuple[int, int, int], threads: int, budget_s: float
) -> dict[str, Any]:
    _use_library(path)
    return bench_cpu._measure_time(name, "cpu", size, threads, budget_s)


def _in_child(
    path: str, name: str, size: tuple[int, int, int], args: argparse.Namespace
) -> dict[str, Any]:
    command = [sys.executable, os.path.abspath(__file__), "--child", path, name]
    command += [str(d) for d in size]
    command += ["--threads", str(args.threads), "--budget", str(args.budget)]
    env = {**os.environ, **bench_cpu.ALLOCATOR_ENV}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_interleaved(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The bare kernel of both builds, called alternately in this process."""
    import time

    import segments_cpu
    import torch

    from sinabs.dynamics.families import STATES
    from sinabs.dynamics.fused import cpu_kernel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    libs = {}
    for key in ("a", "b"):
        _use_library(getattr(args, key))
        libs[key] = cpu_kernel._library()
    rows = []
    for size in args.sizes:
        for name in args.layers:
            neutral = segments_cpu._neutral_args(name, size)
            x = neutral[0]
            grads = (torch.rand_like(x), *[x.new_empty(0)] * (2 * len(STATES)))
            times: dict[str, list[float]] = {f"{k}_{w}": [] for k in libs for w in ("fwd", "bwd")}
            for rep in range(args.interleaved + 1):  # the first round warms up
                for key, lib in libs.items():
                    cpu_kernel._library = lambda lib=lib: lib  # type: ignore[misc]
                    t0 = time.perf_counter()
                    cpu_kernel.scan_forward(*neutral)
                    t1 = time.perf_counter()
                    cpu_kernel.scan_backward(*grads, *neutral)
                    t2 = time.perf_counter()
                    if rep:
                        times[f"{key}_fwd"].append(1e3 * (t1 - t0))
                        times[f"{key}_bwd"].append(1e3 * (t2 - t1))
            row: dict[str, Any] = {"layer": name, "size": list(size)}
            for label, values in times.items():
                row[f"{label}_min_ms"] = min(values)
                row[f"{label}_median_ms"] = statistics.median(values)
            for what in ("fwd", "bwd"):
                for stat in ("min", "median"):
                    a, b = row[f"a_{what}_{stat}_ms"], row[f"b_{what}_{stat}_ms"]
                    row[f"{what}_{stat}_b_over_a"] = b / a
            rows.append(row)
            print(
                f"{name:8s} {size!s:20s} bare fwd min a {row['a_fwd_min_ms']:8.3f} "
                f"b {row['b_fwd_min_ms']:8.3f} ms (b/a min {row['fwd_min_b_over_a']:.3f}, "
                f"median {row['fwd_median_b_over_a']:.3f})  bwd min a {row['a_bwd_min_ms']:8.3f} "
                f"b {row['b_bwd_min_ms']:8.3f} ms (b/a min {row['bwd_min_b_over_a']:.3f}, "
                f"median {row['bwd_median_b_over_a']:.3f})",
                flush=True,
            )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.interleaved:
        rows = run_interleaved(args)
    else:
        rows = run_processes(args)
    return {
        "a": args.a,
        "b": args.b,
        "mode": f"interleaved bare kernel, {args.interleaved} repetitions"
        if args.interleaved
        else f"layers in fresh processes, {args.rounds} rounds",
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "allocator_env": bench_cpu.ALLOCATOR_ENV,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "rows": rows,
    }


def run_processes(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Layers timed by bench_cpu in fresh processes, the builds alternating."""
    rows = []
    for size in args.sizes:
        nbytes = 4 * size[0] * size[1] * size[2]
        for name in args.layers:
            runs: dict[str, list[dict[str, Any]]] = {"a": [], "b": []}
            for _ in range(args.rounds):
                for key in ("a", "b"):
                    runs[key].append(_in_child(getattr(args, key), name, size, args))
            row: dict[str, Any] = {"layer": name, "size": list(size)}
            for key in ("a", "b"):
                for what in ("fwd_ms", "train_ms"):
                    row[f"{key}_{what}"] = statistics.median(r[what] for r in runs[key])
                    row[f"{key}_{what}_all"] = [r[what] for r in runs[key]]
                bandwidth = statistics.median(r["bandwidth"] for r in runs[key])
                row[f"{key}_bandwidth_GBps"] = bandwidth / 1e9
                row[f"{key}_fwd_over_floor"] = row[f"{key}_fwd_ms"] / (2e3 * nbytes / bandwidth)
                row[f"{key}_train_over_floor"] = row[f"{key}_train_ms"] / (5e3 * nbytes / bandwidth)
            row["fwd_b_over_a"] = row["b_fwd_ms"] / row["a_fwd_ms"]
            row["train_b_over_a"] = row["b_train_ms"] / row["a_train_ms"]
            rows.append(row)
            print(
                f"{name:8s} {size!s:20s} fwd a {row['a_fwd_ms']:9.3f} b {row['b_fwd_ms']:9.3f} ms"
                f" (b/a {row['fwd_b_over_a']:.3f}; floor x{row['b_fwd_over_floor']:.2f})"
                f"  train a {row['a_train_ms']:9.3f} b {row['b_train_ms']:9.3f} ms"
                f" (b/a {row['train_b_over_a']:.3f}; floor x{row['b_train_over_floor']:.2f})"
                f"  [{row['a_bandwidth_GBps']:.0f}/{row['b_bandwidth_GBps']:.0f} GB/s]",
                flush=True,
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", help="the first build (path of a _scan*.so)")
    parser.add_argument("--b", help="the second build")
    parser.add_argument("--out", default="out/ab_cpu.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4, help="processes per build and row")
    parser.add_argument(
        "--budget", type=float, default=2.0, help="seconds each timing repeats (bench_cpu's)"
    )
    parser.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="REPS",
        help="time the bare kernel of both builds alternately in one process, REPS times",
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=bench_cpu.parse_size,
        default=[bench_cpu.parse_size(s) for s in DEFAULT_SIZES],
    )
    parser.add_argument("--layers", nargs="+", default=list(bench_cpu.LAYERS))
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        path, name, *dims = args.child
        size = (int(dims[0]), int(dims[1]), int(dims[2]))
        print(json.dumps(_child(path, name, size, args.threads, args.budget)))
        return
    for key in ("a", "b"):
        path = getattr(args, key)
        if not path or not os.path.isfile(path):
            parser.error(f"--{key} must be the path of a built library, got {path!r}")
    unknown = set(args.layers) - set(bench_cpu.LAYERS)
    if unknown:
        parser.error(f"unknown layers {sorted(unknown)}; choose from {bench_cpu.LAYERS}")
    result = run(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
