"""``sinabs bench``: the neuron layers' backends timed at a small size, as a table.

Each layer of :data:`sinabs.benchmark.LAYERS` runs on the reference backend (the plain
PyTorch time loop) and on the fused backend of the device (the C kernel on the CPU,
Triton on CUDA), forward only and forward+backward, in this process. For the full CPU
benchmark (every size, a fresh process per measurement, the memory-bandwidth floor)
see ``benchmarks/bench_cpu.py``.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch

from sinabs.benchmark import LAYERS, time_layer

from ._common import (
    CLIError,
    Stopwatch,
    check_backend,
    format_table,
    positive_int,
    prepare_out,
    resolve_device,
    say,
    torch_threads,
    write_results,
)

COMMAND = "bench"
DEFAULT_SIZE = (32, 100, 128)


def fused_backend(backend: str, device: torch.device) -> str:
    """The fused backend to compare with the reference: ``auto`` picks the device's.

    Raises:
        CLIError: ``backend`` is the reference (nothing to compare).
    """
    if backend == "reference":
        raise CLIError(
            "--backend reference: bench compares the reference with a fused backend; "
            "choose auto, cpu or triton"
        )
    if backend == "auto":
        return "triton" if device.type == "cuda" else "cpu"
    return backend


def kernel_info(fused: str, threads: int) -> str:
    """One line on what the fused backend runs (the compiled kernel or its fallback)."""
    if fused != "cpu":
        return f"fused backend: {fused}"
    from sinabs.dynamics.fused import cpu_kernel

    if cpu_kernel.available():
        return (
            f"fused backend: cpu, compiled C kernel ({cpu_kernel.isa()}, "
            f"{threads} thread{'s' if threads > 1 else ''})"
        )
    return f"fused backend: cpu, plain PyTorch fallback ({cpu_kernel.unavailable_reason()})"


def layer_table(
    size: tuple[int, int, int],
    layers: tuple[str, ...],
    fused: str,
    device: torch.device,
    budget_s: float,
) -> tuple[list[str], list[list[Any]]]:
    """Times every layer on the reference and on ``fused``; returns columns and rows."""
    columns = [
        "layer",
        "reference fwd ms",
        f"{fused} fwd ms",
        "fwd speed-up",
        "reference train ms",
        f"{fused} train ms",
        "train speed-up",
    ]
    rows: list[list[Any]] = []
    for name in layers:
        ref = time_layer(name, "reference", size, device=device, budget_s=budget_s)
        fast = time_layer(name, fused, size, device=device, budget_s=budget_s)
        rows.append(
            [
                name,
                ref["fwd_ms"],
                fast["fwd_ms"],
                ref["fwd_ms"] / fast["fwd_ms"],
                ref["train_ms"],
                fast["train_ms"],
                ref["train_ms"] / fast["train_ms"],
            ]
        )
    return columns, rows


def run(
    out: str,
    *,
    device: str = "cpu",
    backend: str = "auto",
    size: tuple[int, int, int] = DEFAULT_SIZE,
    layers: tuple[str, ...] = LAYERS,
    budget_s: float = 0.3,
    threads: int = 1,
    quiet: bool = False,
) -> dict[str, Any]:
    """Times the layers and writes the table into ``<out>/bench``.

    A later ``--network`` benchmark (a whole network instead of single layers) is
    another table function next to :func:`layer_table`, chosen here.

    Returns:
        The results (also written to ``<out>/bench/results.json``).

    Raises:
        sinabs.cli._common.CLIError: a bad device, backend or output folder.
    """
    clock = Stopwatch()
    torch_device = resolve_device(device)
    fused = check_backend(fused_backend(backend, torch_device), torch_device)
    folder = prepare_out(out, COMMAND)
    with torch_threads(threads):
        info = kernel_info(fused, threads)
        say(
            quiet,
            f"bench: {len(layers)} layers at (batch, time, neurons) = {size} on "
            f"{torch_device}; {info}",
        )
        columns, rows = layer_table(size, layers, fused, torch_device, budget_s)
    results = {
        "command": COMMAND,
        "title": "Backends of the neuron layers: reference against fused",
        "description": (
            f"Median times per call at (batch, time, neurons) = {tuple(size)}, float32, "
            f"{torch_device}; {info}. Training = forward + backward."
        ),
        "config": {"device": str(torch_device), "backend": fused, "size": list(size)},
        "summary": {
            "min_train_speedup": min(row[-1] for row in rows),
            "max_train_speedup": max(row[-1] for row in rows),
        },
        "figures": [],
        "tables": [
            {
                "title": f"Median milliseconds per call at {tuple(size)}",
                "columns": columns,
                "rows": rows,
            }
        ],
        "seconds": clock.seconds(),
    }
    write_results(folder, results)
    say(quiet, format_table(columns, rows), f"results in {folder}")
    return results


def add_parser(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        COMMAND,
        parents=parents,
        help="time the reference and fused backends of the neuron layers",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument(
        "--size",
        type=positive_int,
        nargs=3,
        default=DEFAULT_SIZE,
        metavar=("B", "T", "N"),
        help="batch, time steps and neurons (%(default)s)",
    )
    parser.add_argument(
        "--layers", nargs="+", choices=LAYERS, default=LAYERS, help="layers to time (all)"
    )
    parser.add_argument(
        "--budget", type=float, default=0.3, help="seconds per measurement (%(default)s)"
    )
    parser.set_defaults(
        handler=lambda a: run(
            a.out,
            device=a.device,
            backend=a.backend,
            size=tuple(a.size),
            layers=tuple(a.layers),
            budget_s=a.budget,
            threads=a.threads,
            quiet=a.quiet,
        )
    )
