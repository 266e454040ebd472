"""``sinabs bench``: the neuron layers' backends timed at a small size, as a table;
``sinabs bench --network``: a training step of whole networks against their ReLU twins
and the installed peer frameworks.

Each layer of :data:`sinabs.benchmarking.layers.LAYERS` runs on the reference backend (the plain
PyTorch time loop) and on the fused backend of the device (the C kernel on the CPU,
Triton on CUDA), forward only and forward+backward, in this process. For the full CPU
benchmark (every size, a fresh process per measurement, the memory-bandwidth floor)
see ``benchmarks/bench_cpu.py``. With ``--network``, each network (an SHD-like MLP, an
N-MNIST-like conv net, a recurrent net) trains in sinabs, with ReLU in place of its
neurons, and in snnTorch, SpikingJelly and Norse where installed (``pip install
"sinabs[bench]"``), each in a fresh process on the CPU, rounds interleaved
(:mod:`sinabs.benchmarking`; ``benchmarks/bench_network.py`` has every setting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from sinabs.benchmarking.layers import LAYERS, time_layer

from ._common import (
    CLIError,
    Stopwatch,
    check_backend,
    format_table,
    prepare_out,
    resolve_device,
    say,
    torch_threads,
    write_results,
)
from ._config import DeviceConfig, option, plain, positive_int

COMMAND = "bench"
HELP = "time the reference and fused backends of the neuron layers"
DESCRIPTION = plain(__doc__)
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


@dataclass(frozen=True)
class BenchConfig(DeviceConfig):
    """``sinabs bench``'s settings (device, backend and threads: :class:`DeviceConfig`)."""

    size: tuple[int, int, int] = option(
        DEFAULT_SIZE,
        "batch, time steps and neurons",
        nargs=3,
        metavar=("B", "T", "N"),
        type=positive_int,
    )
    layers: tuple[str, ...] = option(LAYERS, "layers to time", nargs="+", choices=LAYERS, type=str)
    budget: float = option(0.3, "seconds per measurement")
    network: bool = option(
        False,
        "time a training step of whole networks (against their ReLU twins and the "
        "installed peers, each in a fresh process, CPU) instead of single layers",
    )
    rounds: int = option(3, "interleaved rounds of --network")
    quick: bool = option(
        False, "--network at a smoke size (batch 2, a few steps): checks the set-up"
    )


Config = BenchConfig


def run(out: str, config: BenchConfig | None = None, quiet: bool = False) -> dict[str, Any]:
    """Times the layers and writes the table into ``<out>/bench``.

    With ``config.network``, :func:`network_results` times whole networks instead.

    Args:
        out: the output folder.
        config: the settings (default: ``BenchConfig()``).
        quiet: nothing printed.

    Returns:
        The results (also written to ``<out>/bench/results.json``).

    Raises:
        sinabs.cli._common.CLIError: a bad device, backend or output folder.
    """
    config = config or BenchConfig()
    if config.network:
        return network_results(out, config, quiet)
    size, threads = config.size, config.threads
    clock = Stopwatch()
    torch_device = resolve_device(config.device)
    fused = check_backend(fused_backend(config.backend, torch_device), torch_device)
    folder = prepare_out(out, COMMAND)
    with torch_threads(threads):
        info = kernel_info(fused, threads)
        say(
            quiet,
            f"bench: {len(config.layers)} layers at (batch, time, neurons) = {size} on "
            f"{torch_device}; {info}",
        )
        columns, rows = layer_table(size, config.layers, fused, torch_device, config.budget)
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


def network_results(out: str, config: BenchConfig, quiet: bool = False) -> dict[str, Any]:
    """``sinabs bench --network``: :func:`sinabs.benchmarking.run_network_benchmark` with
    this command's threads, budget and rounds; the report goes to
    ``<out>/bench/network.json`` and its table into the results.

    Raises:
        sinabs.cli._common.CLIError: a device other than the CPU, a backend other than
            ``auto`` or ``cpu``, or a bad output folder.
    """
    from sinabs.benchmarking import run_network_benchmark

    if config.device.split(":")[0] != "cpu":
        raise CLIError(f"--network runs on the CPU; got --device {config.device}")
    if config.backend not in ("auto", "cpu"):
        raise CLIError(
            f"--network times sinabs's fused CPU backend; got --backend {config.backend}"
        )
    clock = Stopwatch()
    folder = prepare_out(out, COMMAND)
    say(quiet, f"bench --network: {config.rounds} rounds, {config.threads} threads, CPU")
    report = run_network_benchmark(
        rounds=config.rounds,
        out=folder / "network.json",
        quiet=quiet,
        threads=config.threads,
        budget_s=0.0 if config.quick else config.budget,
        quick=config.quick,
    )
    columns = ["network", "framework", "median ms", "min ms", "max ms", "ratio"]
    rows: list[list[Any]] = []
    for key, entry in report["results"].items():
        network, framework = key.split("/")
        ratios = report["ratios"][network]
        ratio = ratios.get("sinabs_over_relu") if framework == "sinabs" else None
        ratio = ratios.get(f"{framework}_over_sinabs", ratio)
        rows.append([network, framework, entry["median_ms"], entry["min_ms"], entry["max_ms"],
                     "" if ratio is None else f"{ratio:.2f}"])  # fmt: skip
    results = {
        "command": COMMAND,
        "title": "Whole networks: a training step against the ReLU twin and the peers",
        "description": (
            f"Median milliseconds of a training step (forward, backward, Adam), float32, "
            f"CPU, {config.threads} thread(s), {config.rounds} interleaved rounds, each in "
            "a fresh process. Ratio: sinabs over its ReLU twin; a peer over sinabs."
            + "".join(f" {peer}: {why}." for peer, why in report["unavailable"].items())
        ),
        "config": {"device": "cpu", "backend": "cpu", "rounds": config.rounds},
        "summary": {name: target["ratio"] for name, target in report["targets"].items()},
        "figures": [],
        "tables": [{"title": "Training step, median ms", "columns": columns, "rows": rows}],
        "seconds": clock.seconds(),
    }
    write_results(folder, results)
    say(quiet, format_table(columns, rows), f"results in {folder}")
    return results
