"""Timing single neuron layers on each backend: the pieces shared by ``sinabs bench``
and the scripts under ``benchmarks/``.

A measurement runs one layer (LIF, IAF, ALIF or ExpLeak in a fixed configuration) on
one backend, forward only (no autograd) and forward+backward, and takes the median
wall time over repeated calls after a warm-up call. Inputs are seeded, so every
backend sees the same data.

Example:
    >>> from sinabs.benchmarking.layers import time_layer
    >>> row = time_layer("LIF", "reference", (4, 10, 8), budget_s=0.05)
    >>> sorted(row)
    ['fwd_ms', 'train_ms']
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["LAYERS", "bench_inputs", "make_layer", "median_ms", "time_layer"]

#: the layers every benchmark times, in table order
LAYERS = ("LIF", "IAF", "ALIF", "ExpLeak")


def make_layer(name: str, backend: str) -> Any:
    """A fresh benchmark layer: ``name`` from :data:`LAYERS` on ``backend``.

    Args:
        name: ``"LIF"`` (tau_mem 20), ``"IAF"``, ``"ALIF"`` (tau_mem 20, tau_adapt 100)
            or ``"ExpLeak"`` (tau_mem 20).
        backend: any ``backend=`` argument of the layers.

    Returns:
        The layer (on the CPU).

    Raises:
        ValueError: unknown layer name.
    """
    import sinabs.layers as sl

    factories: dict[str, Callable[[], Any]] = {
        "LIF": lambda: sl.LIF(tau_mem=20.0, backend=backend),
        "IAF": lambda: sl.IAF(backend=backend),
        "ALIF": lambda: sl.ALIF(tau_mem=20.0, tau_adapt=100.0, backend=backend),
        "ExpLeak": lambda: sl.ExpLeak(tau_mem=20.0, backend=backend),
    }
    if name not in factories:
        raise ValueError(f"layer name must be one of {', '.join(LAYERS)}; got {name!r}")
    return factories[name]()


def median_ms(
    fn: Callable[[], Any],
    budget_s: float,
    max_reps: int,
    sync: Callable[[], None] | None = None,
) -> float:
    """Median wall time of ``fn`` in milliseconds.

    One warm-up call first, then repeated calls until ``budget_s`` seconds have passed
    (at least 3 calls) or ``max_reps`` calls were timed.

    Args:
        fn: the work to time.
        budget_s: seconds to spend on the timed calls.
        max_reps: most timed calls.
        sync: called after each call before the clock stops (e.g.
            ``torch.cuda.synchronize``); None on the CPU.

    Returns:
        The median in ms.
    """
    sync = sync or (lambda: None)
    fn()
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < budget_s or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1e3 * times[len(times) // 2]


def bench_inputs(
    name: str, size: tuple[int, int, int], device: str | torch.device = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The input and output gradient of a measurement, seeded (0).

    Spiking layers get input uniform in [0, 0.3) (they fire every few steps);
    ExpLeak uniform in [0, 1).
    """
    gen = torch.Generator().manual_seed(0)
    scale = 0.3 if name != "ExpLeak" else 1.0
    x = torch.rand(*size, generator=gen) * scale
    grad = torch.rand(*size, generator=gen)
    return x.to(device), grad.to(device)


def time_layer(
    name: str,
    backend: str,
    size: tuple[int, int, int],
    *,
    device: str | torch.device = "cpu",
    budget_s: float = 0.5,
    max_reps: int = 400,
) -> dict[str, float]:
    """Times one layer on one backend, forward and forward+backward, in this process.

    Args:
        name: a layer of :data:`LAYERS`.
        backend: the backend to time.
        size: ``(batch, time, neurons)`` of the input.
        device: where the layer runs.
        budget_s: seconds per measurement (forward, then training).
        max_reps: most timed calls per measurement.

    Returns:
        ``{"fwd_ms": ..., "train_ms": ...}``: medians in milliseconds.

    Raises:
        sinabs.dynamics.registry.BackendError: the backend cannot run the layer there.
    """
    device = torch.device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    x, grad = bench_inputs(name, size, device)
    layer = make_layer(name, backend).to(device)
    xg = x.clone().requires_grad_(True)

    def fwd() -> None:
        with torch.no_grad():
            layer(x)
        layer.reset_states()

    def train() -> None:
        layer(xg).backward(grad)
        layer.reset_states()
        xg.grad = None

    return {
        "fwd_ms": median_ms(fwd, budget_s, max_reps, sync),
        "train_ms": median_ms(train, budget_s, max_reps, sync),
    }
