"""CPU benchmark of the neuron dynamics backends.

Times the reference (plain PyTorch loop with autograd) and the fused CPU backend for
LIF, IAF, ALIF and ExpLeak, forward and forward+backward, at the sizes of the issue,
and compares them with the memory-bandwidth floor measured in the same run (a large
tensor copy: bytes read plus written per second). Prints a table and writes JSON.

    python benchmarks/bench_cpu.py --out out/bench_cpu.json [--threads 2] [--quick]

Every (layer, size, backend) is timed in a fresh process, with the bandwidth measured
in that process right before the timings (the machine's bandwidth drifts, and a backend
timed after another one in one process inherits its heap). Peak memory per training
step is measured in one more process each (see ``_measure_peak``).

Floors: forward reads the input and writes the output (2 tensors of B*T*N); training
additionally reads the output gradient, re-reads the input and writes the input
gradient (5 tensors in all).

Memory: PyTorch's CPU allocator takes large blocks from glibc's malloc, which maps
every block above its mmap threshold (at most 32 MiB) fresh from the OS and unmaps it
on free, so each new output tensor would be page-faulted in (and zeroed by the kernel)
again. sinabs tunes glibc on the kernel's first use (:mod:`sinabs.allocator`), so by
default (``--allocator default``) this script measures what a user gets without setting
anything. The other set-ups, each applied by re-executing this script:

* ``--allocator untuned``: ``SINABS_NO_ALLOCATOR_TUNING=1``, glibc's own behaviour;
* ``--allocator tuned``: the variables the README used to recommend, read at process
  start-up (:data:`ALLOCATOR_ENV`): ``GLIBC_TUNABLES`` with 4 GiB mmap and trim
  thresholds, and ``THP_MEM_ALLOC_ENABLE=1`` (large blocks on transparent huge pages);
* ``--allocator thp``: only ``THP_MEM_ALLOC_ENABLE=1``, untuned.

``benchmarks/bench_cpu_env.py`` compares them side by side with the peers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import warnings
from typing import Any

from sinabs.benchmarking.layers import LAYERS, bench_inputs, make_layer, median_ms, time_layer

#: environment of ``--allocator tuned``; 4 GiB thresholds: blocks up to that size come
#: from the heap and are kept there after free
ALLOCATOR_ENV = {
    "GLIBC_TUNABLES": (
        "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
    ),
    "THP_MEM_ALLOC_ENABLE": "1",
}
#: the variable that keeps sinabs from tuning the allocator (sinabs.allocator)
OPT_OUT = "SINABS_NO_ALLOCATOR_TUNING"
#: what each ``--allocator`` sets (the variables of the others are removed)
ALLOCATOR_SETUPS: dict[str, dict[str, str]] = {
    "default": {},
    "untuned": {OPT_OUT: "1"},
    "tuned": ALLOCATOR_ENV,
    "thp": {OPT_OUT: "1", "THP_MEM_ALLOC_ENABLE": "1"},
}
SIZES = [(32, 100, 128), (32, 100, 4096), (8, 1000, 1024), (128, 50, 16384)]


def parse_size(text: str) -> tuple[int, int, int]:
    """A size ``BxTxN`` given on a command line (for argparse)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"a size is BxTxN with positive integers, got {text!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def _bandwidth(torch: Any, budget_s: float = 2.0) -> float:
    """Bytes per second of a large copy (read + write)."""
    src = torch.rand(64 * 2**20 // 4 * 4)  # 256 MiB
    dst = torch.empty_like(src)
    ms = median_ms(lambda: dst.copy_(src), budget_s, 20)
    return 2 * src.numel() * 4 / (ms / 1e3)


def _saved_tensor_count(torch: Any, layer: Any, x: Any) -> float:
    """Bytes kept for backward by one forward call, in units of one (B, T, N) tensor."""
    saved: dict[int, int] = {}

    def pack(t: Any) -> Any:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        layer(x)
    layer.reset_states()
    total = sum(saved.values()) - x.untyped_storage().nbytes() * (
        x.untyped_storage().data_ptr() in saved
    )
    return total / (x.numel() * x.element_size())


def _measure_time(
    name: str, backend: str, size: tuple[int, int, int], threads: int, budget_s: float = 2.0
) -> dict[str, Any]:
    """Times one layer on one backend (in a process of its own, see _in_child); each
    timing repeats for about ``budget_s`` seconds."""
    import torch

    torch.set_num_threads(threads)
    big = backend == "reference" and math.prod(size) * 4 > 40 * 2**20
    budget, reps = (min(1.0, budget_s), 3) if big else (budget_s, 400)
    bandwidth = _bandwidth(torch, budget_s)  # the floor, measured right before the timings
    timings = time_layer(name, backend, size, budget_s=budget, max_reps=reps)
    x, _ = bench_inputs(name, size)
    saved = _saved_tensor_count(torch, make_layer(name, backend), x.requires_grad_(True))
    return {"bandwidth": bandwidth, **timings, "saved_tensors": saved}


def _measure_peak(
    name: str, backend: str, size: tuple[int, int, int], threads: int
) -> dict[str, Any]:
    """Peak resident memory added by one training step (forward + backward), in units of
    one (B, T, N) tensor: the output and the input gradient alone make 2. Run with
    glibc's default allocator (large blocks go back to the OS when freed, so the
    resident size follows the live tensors); None where Linux's /proc/self/clear_refs
    is unavailable."""
    if not os.path.exists("/proc/self/clear_refs"):
        return {"peak_btn": None}
    import torch

    torch.set_num_threads(threads)
    x, grad = bench_inputs(name, size)
    layer = make_layer(name, backend)
    small = x[:1, :2].clone().requires_grad_(True)  # first-call set-up, at a tiny size
    layer(small).sum().backward()
    layer.reset_states()
    x.requires_grad_(True)

    def status(key: str) -> int:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

    rss = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # the peak (VmHWM) restarts from the current resident size
    layer(x).backward(grad)
    return {"peak_btn": (status("VmHWM") - rss) * 1024 / (x.numel() * x.element_size())}


_CHILD_MEASUREMENTS = {"time": _measure_time, "peak": _measure_peak}


def _in_child(
    what: str, name: str, backend: str, size: tuple[int, int, int], threads: int
) -> dict[str, Any]:
    """A measurement in a fresh process. Timings: a backend timed after another one in
    the same process inherits its heap (measured: the fused forward at (128, 50, 16384)
    took 42 ms after the reference and 28 ms before it), so each gets a clean one.
    Peak memory: with glibc's own allocator settings (a tuned one keeps freed memory)."""
    command = [sys.executable, os.path.abspath(__file__), "--child", what, name, backend]
    command += [str(d) for d in size] + ["--threads", str(threads)]
    env = dict(os.environ)
    if what == "peak":
        env = {k: v for k, v in env.items() if k not in ALLOCATOR_ENV}
        env[OPT_OUT] = "1"
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    import sinabs
    from sinabs.dynamics.fused import cpu_kernel

    bandwidth = _bandwidth(torch)
    rows = []
    sizes = SIZES[:2] if args.quick else SIZES
    for size in sizes:
        nbytes = 4 * size[0] * size[1] * size[2]
        for name in LAYERS:
            row: dict[str, Any] = {"layer": name, "size": list(size)}
            for backend in ("cpu", "reference"):
                measured = _in_child("time", name, backend, size, args.threads)
                row[f"{backend}_bandwidth_GBps"] = measured["bandwidth"] / 1e9
                row[f"{backend}_fwd_ms"] = measured["fwd_ms"]
                row[f"{backend}_train_ms"] = measured["train_ms"]
                row[f"{backend}_saved_tensors"] = measured["saved_tensors"]
                if not args.no_memory:
                    peak = _in_child("peak", name, backend, size, args.threads)
                    row[f"{backend}_peak_train_btn"] = peak["peak_btn"]
            # the floors at the bandwidth measured in the fused backend's own process
            floor_fwd = 1e3 * 2 * nbytes / (row["cpu_bandwidth_GBps"] * 1e9)
            floor_train = 1e3 * 5 * nbytes / (row["cpu_bandwidth_GBps"] * 1e9)
            row["floor_fwd_ms"] = floor_fwd
            row["floor_train_ms"] = floor_train
            row["speedup_fwd"] = row["reference_fwd_ms"] / row["cpu_fwd_ms"]
            row["speedup_train"] = row["reference_train_ms"] / row["cpu_train_ms"]
            row["cpu_fwd_over_floor"] = row["cpu_fwd_ms"] / floor_fwd
            row["cpu_train_over_floor"] = row["cpu_train_ms"] / floor_train
            rows.append(row)
            print(
                f"{name:8s} {size!s:18s} fwd {row['cpu_fwd_ms']:8.2f} ms "
                f"(ref {row['reference_fwd_ms']:8.1f}, x{row['speedup_fwd']:6.1f}, "
                f"{row['cpu_fwd_over_floor']:4.2f} floor)  train {row['cpu_train_ms']:8.2f} ms "
                f"(ref {row['reference_train_ms']:8.1f}, x{row['speedup_train']:6.1f}, "
                f"{row['cpu_train_over_floor']:4.2f} floor)  saved "
                f"{row['cpu_saved_tensors']:.2f} vs {row['reference_saved_tensors']:.1f} BTN"
                + _peak_text(row)
                + f"  [{row['cpu_bandwidth_GBps']:.0f} GB/s]",
                flush=True,
            )
    return {
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "torch": torch.__version__,
        "allocator": args.allocator,
        "thp": os.environ.get("THP_MEM_ALLOC_ENABLE", "0"),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "allocator_tuning": sinabs.allocator_tuning(),
        "cpu_thread_pool": cpu_kernel.thread_pool() if cpu_kernel.available() else None,
        "cpu_kernel": cpu_kernel.available(),
        "bandwidth_GBps": bandwidth / 1e9,
        "rows": rows,
    }


def _peak_text(row: dict[str, Any]) -> str:
    cpu, ref = row.get("cpu_peak_train_btn"), row.get("reference_peak_train_btn")
    if cpu is None or ref is None:
        return ""
    return f"; peak {cpu:.2f} vs {ref:.2f} BTN"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/bench_cpu.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory runs (a process each)"
    )
    parser.add_argument(
        "--allocator",
        choices=tuple(ALLOCATOR_SETUPS),
        default="default",
        help="default: what a user gets (sinabs tunes glibc itself); untuned: "
        f"{OPT_OUT}=1; tuned: the README's start-up variables (GLIBC_TUNABLES, "
        "THP_MEM_ALLOC_ENABLE); thp: huge pages only, untuned",
    )
    parser.add_argument(
        "--child", nargs=6, metavar=("WHAT", "LAYER", "BACKEND", "B", "T", "N"),
        help=argparse.SUPPRESS,
    )  # fmt: skip
    args = parser.parse_args()
    if args.child:
        what, name, backend, *dims = args.child
        size = (int(dims[0]), int(dims[1]), int(dims[2]))
        warnings.simplefilter("ignore", RuntimeWarning)
        print(json.dumps(_CHILD_MEASUREMENTS[what](name, backend, size, args.threads)))
        return
    env_needed = ALLOCATOR_SETUPS[args.allocator]
    variables = {OPT_OUT, *ALLOCATOR_ENV}
    current = {k: os.environ[k] for k in variables if k in os.environ}
    if current != env_needed:
        env = {k: v for k, v in os.environ.items() if k not in variables}
        sys.exit(subprocess.call([sys.executable, *sys.argv], env={**env, **env_needed}))
    warnings.simplefilter("ignore", RuntimeWarning)
    result = run(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"bandwidth {result['bandwidth_GBps']:.1f} GB/s; wrote {args.out}")


if __name__ == "__main__":
    main()
