"""CPU benchmark of the neuron dynamics backends.

Times the reference (plain PyTorch loop with autograd) and the fused CPU backend for
LIF, IAF, ALIF and ExpLeak, forward and forward+backward, at the sizes of the issue,
and compares them with the memory-bandwidth floor measured in the same run (a large
tensor copy: bytes read plus written per second). Prints a table and writes JSON.

    python benchmarks/bench_cpu.py --out out/bench_cpu.json [--threads 2] [--quick]

Floors: forward reads the input and writes the output (2 tensors of B*T*N); training
additionally reads the output gradient, re-reads the input and writes the input
gradient (5 tensors in all).

PyTorch's allocator returns large blocks to the OS, so every fresh output tensor is
page-faulted in again; transparent huge pages cut that cost, and this script
re-executes itself with ``THP_MEM_ALLOC_ENABLE=1`` unless ``--no-thp`` is given (the
variable is read by PyTorch at start-up; sinabs itself never sets it). The README
recommends the same for training on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

SIZES = [(32, 100, 128), (32, 100, 4096), (8, 1000, 1024), (128, 50, 16384)]
LAYERS = ("LIF", "IAF", "ALIF", "ExpLeak")


def _layer(name: str, backend: str) -> Any:
    import sinabs.layers as sl

    return {
        "LIF": lambda: sl.LIF(tau_mem=20.0, backend=backend),
        "IAF": lambda: sl.IAF(backend=backend),
        "ALIF": lambda: sl.ALIF(tau_mem=20.0, tau_adapt=100.0, backend=backend),
        "ExpLeak": lambda: sl.ExpLeak(tau_mem=20.0, backend=backend),
    }[name]()


def _time(fn: Callable[[], Any], budget_s: float, max_reps: int) -> float:
    """Median wall time of ``fn`` in ms (one warm-up call first)."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < budget_s or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def _bandwidth(torch: Any) -> float:
    """Bytes per second of a large copy (read + write)."""
    src = torch.rand(64 * 2**20 // 4 * 4)  # 256 MiB
    dst = torch.empty_like(src)
    ms = _time(lambda: dst.copy_(src), 2.0, 20)
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


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from sinabs.dynamics.fused import cpu_kernel

    bandwidth = _bandwidth(torch)
    rows = []
    sizes = SIZES[:2] if args.quick else SIZES
    for size in sizes:
        nbytes = 4 * size[0] * size[1] * size[2]
        floor_fwd = 1e3 * 2 * nbytes / bandwidth
        floor_train = 1e3 * 5 * nbytes / bandwidth
        for name in LAYERS:
            torch.manual_seed(0)
            x = torch.rand(*size) * (0.3 if name != "ExpLeak" else 1.0)
            grad = torch.rand(*size)
            row: dict[str, Any] = {"layer": name, "size": list(size)}
            for backend in ("reference", "cpu"):
                layer = _layer(name, backend)
                xg = x.clone().requires_grad_(True)

                def fwd(layer: Any = layer, x: Any = x) -> None:
                    with torch.no_grad():
                        layer(x)
                    layer.reset_states()

                def train(layer: Any = layer, xg: Any = xg, grad: Any = grad) -> None:
                    out = layer(xg)
                    out.backward(grad)
                    layer.reset_states()
                    xg.grad = None

                big = backend == "reference" and nbytes > 40 * 2**20
                budget = 1.0 if big else 2.0
                reps = 3 if big else 50
                row[f"{backend}_fwd_ms"] = _time(fwd, budget, reps)
                row[f"{backend}_train_ms"] = _time(train, budget, reps)
                row[f"{backend}_saved_tensors"] = _saved_tensor_count(
                    torch, layer, x.clone().requires_grad_(True)
                )
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
                f"{row['cpu_saved_tensors']:.2f} vs {row['reference_saved_tensors']:.1f} BTN",
                flush=True,
            )
    return {
        "machine": platform.processor() or platform.machine(),
        "threads": args.threads,
        "torch": torch.__version__,
        "thp": os.environ.get("THP_MEM_ALLOC_ENABLE", "0"),
        "cpu_kernel": cpu_kernel.available(),
        "bandwidth_GBps": bandwidth / 1e9,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/bench_cpu.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    parser.add_argument("--no-thp", action="store_true", help="keep PyTorch's default allocator")
    args = parser.parse_args()
    if not args.no_thp and os.environ.get("THP_MEM_ALLOC_ENABLE") != "1":
        env = {**os.environ, "THP_MEM_ALLOC_ENABLE": "1"}
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))
    warnings.simplefilter("ignore", RuntimeWarning)
    result = run(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"bandwidth {result['bandwidth_GBps']:.1f} GB/s; wrote {args.out}")


if __name__ == "__main__":
    main()
