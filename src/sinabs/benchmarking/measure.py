"""One measurement: a framework's training step on one network, timed in this process.

:func:`measure` is what each fresh process of the runner executes (see
:mod:`sinabs.benchmarking.runner`); it can also be called directly.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .networks import NetworkSpec, Workload, build_sinabs, check_network, inputs

#: the frameworks: sinabs, its ReLU twin, and the peers (sinabs.benchmarking.peers)
FRAMEWORKS: tuple[str, ...] = ("relu", "sinabs", "snntorch", "spikingjelly", "norse")


def check_framework(name: str) -> str:
    """``name`` if it is a known framework; ValueError naming the known ones otherwise."""
    if name not in FRAMEWORKS:
        raise ValueError(f"framework must be one of {list(FRAMEWORKS)}; got {name!r}")
    return name


def build(framework: str, spec: NetworkSpec, quick: bool, seed: int = 0) -> Workload:
    """The workload of ``framework`` on ``spec``."""
    check_framework(framework)
    if framework in ("sinabs", "relu"):
        return build_sinabs(spec, quick, relu=framework == "relu", seed=seed)
    from .peers import build_peer

    return build_peer(framework, spec, quick, seed)


def training_step(
    workload: Workload, target: torch.Tensor, optimizer: torch.optim.Optimizer
) -> Callable[[], float]:
    """One training step: zero gradients, reset states, forward, cross-entropy of the
    output summed over time, backward, optimiser step. Returns a function giving the
    step's loss."""
    model, x, axis, reset = workload.model, workload.x, workload.time_axis, workload.reset

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        reset()
        out = model(x)
        loss = nn.functional.cross_entropy(out.sum(axis), target)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    return step


def activity(workload: Workload) -> list[float]:
    """Per neuron layer, the fraction of nonzero outputs in one forward pass (no
    gradient): the spike rate per neuron and step for single spikes."""
    counts: list[list[float]] = [[0.0, 0.0] for _ in workload.neurons]

    def hook(index: int) -> Callable[..., None]:
        def record(module: nn.Module, args: Any, output: Any) -> None:
            spikes = output[0] if isinstance(output, tuple) else output
            counts[index][0] += float((spikes != 0).sum())
            counts[index][1] += spikes.numel()

        return record

    _forward_with_hooks(workload, [(m, hook(i)) for i, m in enumerate(workload.neurons)])
    return [nonzero / total if total else float("nan") for nonzero, total in counts]


def _forward_with_hooks(
    workload: Workload, hooks: list[tuple[nn.Module, Callable[..., None]]]
) -> None:
    """One forward pass without gradient, from and back to reset states, with each
    ``(module, hook)`` registered as a forward hook for its duration."""
    handles = [module.register_forward_hook(hook) for module, hook in hooks]
    try:
        workload.reset()
        with torch.no_grad():
            workload.model(workload.x)
        workload.reset()
    finally:
        for handle in handles:
            handle.remove()


def copy_bandwidth() -> float:
    """GB/s of a 64 MiB copy (bytes read plus written), the best of 5."""
    src = torch.rand(16 * 2**20)
    dst = torch.empty_like(src)
    best = float("inf")
    for _ in range(6):
        t0 = time.perf_counter()
        dst.copy_(src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.numel() * 4 / best / 1e9


def _sinabs_backends(workload: Workload) -> list[str]:
    """The dynamics backend each sinabs neuron layer runs on, for the report."""
    from ..dynamics import registry
    from ..layers import StatefulLayer

    seen: list[str] = []

    def record(module: Any, args: Any, output: Any) -> None:
        x = args[0]
        if getattr(module, "batch_size", None) is not None:
            x = x.reshape(module.batch_size, -1, *x.shape[1:])  # a Squeeze layer's view
        chosen = registry.select(
            module._family,
            x,
            module._dynamics_params(x.dtype),
            recurrent=getattr(module, "rec_connect", None) is not None,
            backend=module.backend,
            rec_connect=getattr(module, "rec_connect", None),
        )
        seen.append(chosen.name)

    layers = [m for m in workload.neurons if isinstance(m, StatefulLayer)]
    _forward_with_hooks(workload, [(m, record) for m in layers])
    return seen


def measure(
    network: str,
    framework: str,
    *,
    quick: bool = False,
    threads: int = 2,
    warmup: int = 3,
    budget_s: float = 3.0,
    min_steps: int = 5,
    max_steps: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Times training steps of ``framework`` on ``network`` in this process.

    Args:
        network: a name of :data:`sinabs.benchmarking.networks.NETWORKS`.
        framework: a name of :data:`FRAMEWORKS`.
        quick: the smoke size (batch 2, a few steps).
        threads: ``torch.set_num_threads``.
        warmup: untimed steps first (allocations, first-call set-up).
        budget_s: time steps until this many seconds have passed ...
        min_steps: ... but at least this many ...
        max_steps: ... and at most this many.
        seed: weights and inputs.

    Returns:
        ``times_ms`` (every timed step), ``median_ms``, the loss before and after,
        ``activity`` per neuron layer, the copy bandwidth, the load average, and what
        the framework runs (``info``).

    Raises:
        ImportError: a peer that is not installed.
    """
    spec = check_network(network)
    torch.set_num_threads(threads)
    workload = build(framework, spec, quick, seed)
    _, target = inputs(spec, quick, seed)
    info = dict(workload.info)
    if framework == "sinabs":
        info["backends"] = _sinabs_backends(workload)
    rates = activity(workload)
    optimizer = torch.optim.Adam(workload.model.parameters(), lr=1e-3)
    step = training_step(workload, target, optimizer)
    first_loss = step()
    for _ in range(max(warmup - 1, 0)):
        step()
    bandwidth = copy_bandwidth()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_steps and (
        time.perf_counter() - start < budget_s or len(times) < min_steps
    ):
        t0 = time.perf_counter()
        last_loss = step()
        times.append(1e3 * (time.perf_counter() - t0))
    ordered = sorted(times)
    return {
        "network": network,
        "framework": framework,
        "times_ms": times,
        "median_ms": ordered[len(ordered) // 2],
        "loss_first": first_loss,
        "loss_last": last_loss,
        "activity": rates,
        "bandwidth_GBps": bandwidth,
        "load_1min": load,
        "threads": torch.get_num_threads(),
        "info": info,
    }
