"""Bare Triton kernels at the issue's sizes: pipeline stages, and optionally a baseline.

    PYTHONPATH=src python benchmarks/gpu_sweep.py out/sweep.json [--stages 4 8]
        [--baseline old_triton_kernel.py] [--time-limit 60]

Times ``scan_forward`` and ``scan_forward`` + ``scan_backward`` (float32, no
recordings; the configurations of ``gpu_check.KERNEL_OF_LAYER``) with each
``--stages`` value, side by side in one process, next to the memory floor of a device
copy. ``--baseline`` loads another version of ``triton_kernel.py`` from a file (for
example ``git show REV:src/sinabs/dynamics/fused/triton_kernel.py > old.py``; its
relative imports, ``from .config`` and ``from ..families``, are made absolute) and
times it first. Every variant's forward must equal the first one's bit for bit, and
its gradients must agree within ``rtol=1e-5``; a mismatch stops the run.
``benchmarks/results/gpu_pipelining_h200.json`` is a report of this script.

``SWEEP_SMOKE=1`` runs one tiny size on the CPU under the Triton interpreter.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SMOKE = bool(os.environ.get("SWEEP_SMOKE"))
if SMOKE:  # before triton is imported
    os.environ["TRITON_INTERPRET"] = "1"


def _load_baseline(path: Path) -> ModuleType:
    # the module's relative imports (.config, ..families), made absolute
    source = re.sub(r"^from \.\.(\w)", r"from sinabs.dynamics.\1", path.read_text(), flags=re.M)
    source = re.sub(r"^from \.(\w)", r"from sinabs.dynamics.fused.\1", source, flags=re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)  # triton.jit needs the source in a file
    spec = importlib.util.spec_from_file_location("baseline_triton_kernel", handle.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="path of the JSON report")
    parser.add_argument("--stages", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--baseline", type=Path, help="another triton_kernel.py to time")
    parser.add_argument("--time-limit", type=float, default=120.0, help="seconds")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import gpu_check as gc
    import torch

    from sinabs.dynamics.families import STATES
    from sinabs.dynamics.fused import triton_kernel as tk

    device = "cpu" if SMOKE else "cuda"
    sync = (lambda: None) if SMOKE else torch.cuda.synchronize
    variants: list[tuple[str, ModuleType, dict[str, Any]]] = []
    if args.baseline is not None:
        variants.append(("baseline", _load_baseline(args.baseline), {}))
    variants += [(f"s{k}", tk, {"stages": k}) for k in args.stages]
    bandwidth = gc._bandwidth(torch, device, sync)
    print(f"bandwidth {bandwidth / 1e9:.0f} GB/s", flush=True)
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for size in [(2, 5, 40)] if SMOKE else gc.SIZES:
        for name in gc.LAYERS:
            if time.perf_counter() - started > args.time_limit:
                break
            config = gc.kernel_configs()[gc.KERNEL_OF_LAYER[name]]
            cfg = dataclasses.replace(config, record=False)
            inputs = (*gc.kernel_inputs(torch, cfg, size, torch.float32, device), cfg)
            x = inputs[0]
            upstream = (torch.rand_like(x), *[x.new_empty(0)] * (2 * len(STATES)))
            row: dict[str, Any] = {"layer": name, "size": list(size)}
            first: Any = None
            for label, module, kw in variants:

                def fwd(
                    module: ModuleType = module, kw: dict[str, Any] = kw, a: Any = inputs
                ) -> Any:
                    return module.scan_forward(*a, **kw)

                def train(
                    module: ModuleType = module, kw: dict[str, Any] = kw, a: Any = inputs,
                    g: Any = upstream,
                ) -> Any:  # fmt: skip
                    module.scan_forward(*a, **kw)
                    return module.scan_backward(*g, *a, **kw)

                result = (fwd()[0], train())
                if first is None:
                    first = result
                else:
                    assert torch.equal(first[0], result[0]), f"{label}: forward differs"
                    for want, got in zip(first[1], result[1], strict=True):
                        ok, _ = gc._close(torch, got, want)
                        assert ok, f"{label}: gradients differ"
                row[f"{label}_fwd_ms"] = gc._time(fwd, sync, 0.25, 20)
                row[f"{label}_train_ms"] = gc._time(train, sync, 0.25, 20)
            nbytes = 4 * size[0] * size[1] * size[2]
            row["floor_fwd_ms"] = 1e3 * 2 * nbytes / bandwidth
            row["floor_train_ms"] = 1e3 * 5 * nbytes / bandwidth
            rows.append(row)
            cells = " ".join(
                f"{label}:{row[f'{label}_fwd_ms']:.3f}/{row[f'{label}_train_ms']:.3f}"
                for label, *_ in variants
            )
            floor = f"{row['floor_fwd_ms']:.3f}/{row['floor_train_ms']:.3f}"
            print(f"{name:8s} {size!s:18s} floor {floor} {cells}", flush=True)
            report = {"bandwidth_GBps": bandwidth / 1e9, "rows": rows}
            Path(args.out).write_text(json.dumps(report, indent=1))
    print(f"done in {time.perf_counter() - started:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
