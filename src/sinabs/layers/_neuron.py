"""Helpers shared by the neuron-layer modules (not public API)."""

from __future__ import annotations

from typing import Any

import torch

from ..activation import MembraneSubtract, SingleExponential


def cast(value: Any, dtype: torch.dtype) -> Any:
    """``value`` in the compute dtype when it is a tensor (keeps it in the graph)."""
    if isinstance(value, torch.Tensor) and value.dtype != dtype:
        return value.to(dtype)
    return value


def decay(tau: torch.Tensor) -> torch.Tensor:
    """``exp(-1 / tau)``, in the graph: the bits and gradient of ``torch.exp(-1.0 / tau)``
    (``-1.0 / tau`` is ``tau.reciprocal() * -1.0``), without ``Tensor.__rdiv__``'s
    Python wrapper, on every forward call of a layer with time constants."""
    return torch.exp(tau.reciprocal().neg())


def check_spike_fn(spike_fn: Any) -> Any:
    """Validates a spike function: a class such as ``MultiSpike`` or an instance."""
    if spike_fn is not None and not (
        hasattr(spike_fn, "apply") and hasattr(spike_fn, "required_states")
    ):
        raise TypeError(
            "spike_fn must be a spike function such as MultiSpike, SingleSpike or "
            f"MaxSpike(n) (with .apply and .required_states); got {spike_fn!r}"
        )
    return spike_fn


def default_reset(reset_fn: Any) -> Any:
    if reset_fn is None:
        return MembraneSubtract()
    if not callable(reset_fn):
        raise TypeError(f"reset_fn must be callable (spikes, state, threshold); got {reset_fn!r}")
    return reset_fn


def default_surrogate(surrogate_grad_fn: Any) -> Any:
    if surrogate_grad_fn is None:
        return SingleExponential()
    if not callable(surrogate_grad_fn):
        raise TypeError(
            "surrogate_grad_fn must be callable (v_mem, spike_threshold); "
            f"got {surrogate_grad_fn!r}"
        )
    return surrogate_grad_fn
