"""The CPU kernel's backward on long sequences: time and scratch by segment length.

For long sequences the backward recomputes the forward in segments from checkpoints
(``csrc/scan_kernel.h``), so that its scratch stays within a few MiB per thread. This
script times the bare backward (``cpu_kernel.scan_backward_report``) of a layer's
configuration at a long size, for the kernel's own choice of segments, one segment
(the whole sequence: scratch ~ T, what the kernel did before segments) and forced
segment lengths, interleaved over ``--rounds`` rounds in one process, and prints the
median times, their ratio to one segment, and the scratch per thread. Writes JSON.

    python benchmarks/segments_cpu.py --out out/segments_cpu.json \\
        [--size 1x100000x256] [--layers LIF ALIF] [--steps 256 1024 4096]

The layer's neutral arguments are taken from one call of the layer on the fused CPU
backend (the kernel's ``scan_forward`` is wrapped to see them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_cpu  # noqa: E402  (next to this file)

#: bench_cpu's layers, and ALIF with a synaptic current (the most rows per step)
LAYERS = (*bench_cpu.LAYERS, "ALIF_syn")


def _layer(name: str) -> Any:
    import sinabs.layers as sl

    if name == "ALIF_syn":
        return sl.ALIF(tau_mem=20.0, tau_adapt=100.0, tau_syn=5.0, backend="cpu")
    return bench_cpu.make_layer(name, "cpu")


def _neutral_args(name: str, size: tuple[int, int, int]) -> tuple[Any, ...]:
    """The neutral-form arguments of the layer's kernel call at ``size``."""
    import torch

    from sinabs.dynamics.fused import cpu_kernel

    captured: list[tuple[Any, ...]] = []
    real = cpu_kernel.scan_forward

    def spy(*args: Any, **kwargs: Any) -> Any:
        captured.append(args)
        return real(*args, **kwargs)

    cpu_kernel.scan_forward = spy  # type: ignore[assignment]
    try:
        with torch.no_grad():
            _layer(name)(torch.rand(*size) * (0.3 if name != "ExpLeak" else 1.0))
    finally:
        cpu_kernel.scan_forward = real  # type: ignore[assignment]
    return captured[-1]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from sinabs.dynamics.families import STATES
    from sinabs.dynamics.fused import cpu_kernel

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    steps_t = args.size[1]
    choices = [("auto", 0), ("one", steps_t)] + [(str(k), k) for k in args.steps]
    rows = []
    for name in args.layers:
        neutral = _neutral_args(name, args.size)
        x = neutral[0]
        g_out, empty = torch.rand_like(x), x.new_empty(0)
        grads = (g_out, *[empty] * (2 * len(STATES)))
        times: dict[str, list[float]] = {label: [] for label, _ in choices}
        reports: dict[str, Any] = {}
        for _ in range(args.rounds):
            for label, steps in choices:
                start = time.perf_counter()
                _, report = cpu_kernel.scan_backward_report(*grads, *neutral, segment_steps=steps)
                times[label].append(1e3 * (time.perf_counter() - start))
                reports[label] = report
        one = statistics.median(times["one"])
        for label, _ in choices:
            ms = statistics.median(times[label])
            report = reports[label]
            row = {
                "layer": name,
                "size": list(args.size),
                "segments": label,
                "segment_steps": report.segment_steps,
                "n_segments": report.segments,
                "scratch_MiB": report.scratch_bytes / 2**20,
                "threads": report.threads,
                "backward_ms": ms,
                "backward_ms_all": times[label],
                "over_one_segment": ms / one,
            }
            rows.append(row)
            print(
                f"{name:8s} {args.size!s:20s} {label:>6s}: {report.segments:5d} x "
                f"{report.segment_steps:6d} steps, scratch {row['scratch_MiB']:8.2f} MiB/thread, "
                f"backward {ms:9.2f} ms (x{row['over_one_segment']:.2f} one segment)",
                flush=True,
            )
    return {
        "machine": platform.processor() or platform.machine(),
        "isa": cpu_kernel.isa(),
        "threads": args.threads,
        "rounds": args.rounds,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/segments_cpu.json")
    parser.add_argument("--size", type=bench_cpu.parse_size, default=(1, 100_000, 256))
    parser.add_argument("--layers", nargs="+", default=["LIF", "ALIF", "ALIF_syn"])
    parser.add_argument("--steps", nargs="+", type=int, default=[256, 1024, 4096])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    unknown = set(args.layers) - set(LAYERS)
    if unknown:
        parser.error(f"unknown layers {sorted(unknown)}; choose from {sorted(LAYERS)}")
    if any(k <= 0 for k in args.steps):
        parser.error("--steps must be positive")
    result = run(args)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
