"""Where a small layer's time goes on a GPU: per-step phases and a torch.profiler table.

    PYTHONPATH=src python benchmarks/gpu_profile.py out/profile [--size 32 100 128]

On an H200 the layers at (32, 100, 128) took 0.3 to 0.6 ms (forward) and 1.3 to 1.8 ms
(forward+backward) more than their Triton kernels (``benchmarks/results/
gpu_check_h200.json``). This script measures, for LIF and ALIF with ``backend="triton"``:

* per training step, the wall time of the forward call, of the backward call and of
  the two together, each with a device synchronisation (medians of ``--steps`` steps);
* the same steps under :mod:`torch.profiler` (CPU and CUDA activities): a table of the
  operators by self CPU time (``<layer>_ops.txt``) and a Chrome trace
  (``<layer>_trace.json``, open in https://ui.perfetto.dev).

It writes ``summary.json`` and the files above into the output folder. ``--smoke``
runs it on the CPU with the fused CPU backend (checks the script, not the GPU).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _layer(name: str, backend: str) -> Any:
    import sinabs.layers as sl

    if name == "LIF":
        return sl.LIF(tau_mem=20.0, backend=backend)
    return sl.ALIF(tau_mem=20.0, tau_adapt=100.0, backend=backend)


def profile_layer(
    torch: Any, name: str, device: str, backend: str, size: tuple[int, int, int], steps: int
) -> tuple[dict[str, Any], str, Any]:
    """Phase timings, the profiler's operator table and the profiler object."""
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    layer = _layer(name, backend).to(device)
    gen = torch.Generator(device=device).manual_seed(0)
    x = (torch.rand(size, generator=gen, device=device) * 0.3).requires_grad_(True)
    grad = torch.rand(size, generator=gen, device=device)
    phases: dict[str, list[float]] = {"forward": [], "backward": [], "step": []}

    def step(record: bool) -> None:
        sync()
        t0 = time.perf_counter()
        out = layer(x)
        sync()
        t1 = time.perf_counter()
        out.backward(grad)
        sync()
        t2 = time.perf_counter()
        layer.reset_states()
        x.grad = None
        if record:
            phases["forward"].append(t1 - t0)
            phases["backward"].append(t2 - t1)
            phases["step"].append(t2 - t0)

    for _ in range(20):  # compiles the kernels, warms the allocator
        step(False)
    for _ in range(steps):
        step(True)
    summary = {f"{k}_ms": 1e3 * statistics.median(v) for k, v in phases.items()}
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(10):
            step(False)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=40)
    return summary, table, prof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--size", type=int, nargs=3, default=[32, 100, 128])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="on the CPU (fused CPU backend)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    device, backend = ("cpu", "cpu") if args.smoke else ("cuda", "triton")
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device (use --smoke to check the script on the CPU)")
    args.out.mkdir(parents=True, exist_ok=True)
    size = tuple(args.size)
    report: dict[str, Any] = {"device": device, "torch": torch.__version__, "size": list(size)}
    for name in ("LIF", "ALIF"):
        summary, table, prof = profile_layer(torch, name, device, backend, size, args.steps)
        report[name] = summary
        (args.out / f"{name}_ops.txt").write_text(table)
        prof.export_chrome_trace(str(args.out / f"{name}_trace.json"))
        cells = ", ".join(f"{k} {v:.3f}" for k, v in summary.items())
        print(f"{name} {size}: {cells}", flush=True)
        print(table, flush=True)
    (args.out / "summary.json").write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
