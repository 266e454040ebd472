r"""Spike generation functions.

``SingleSpike`` and ``MultiSpike`` are :class:`torch.autograd.Function` classes and are
passed to layers **as classes**; ``MaxSpike`` is a dataclass passed as an instance. A
layer calls ``spike_fn.apply(*[state[n] for n in spike_fn.required_states],
spike_threshold, surrogate_grad_fn)``.

Forward (``v`` membrane potential, ``θ`` threshold):

* ``SingleSpike``: :math:`s = [v - \theta \ge 0]`
* ``MultiSpike``: :math:`s = \lfloor v/\theta \rfloor` for :math:`v > 0`, else 0
  (truncating division, so ``v == θ`` gives one spike)
* ``MaxSpike(n)``: ``MultiSpike`` clamped to at most ``n`` spikes per step

Backward (all of them): ``grad_v = grad_s * surrogate_grad_fn(v, θ)``; the threshold
receives no gradient through the spike function (a layer with ``train_threshold=True``
adds :math:`\partial s / \partial \theta = -g(v, \theta)` by feeding it
``v + (θ.detach() - θ)``: see :func:`sinabs.dynamics.reference.threshold_path`).
Spikes have the dtype of ``v`` and never contain ``-0.0`` (differences Q26, Q27).

A membrane potential that is not finite (NaN, or ±inf from an infinite input) gives a
NaN spike output, as any torch operation propagates NaN (sinabs 3.x emits 0 spikes, so
a NaN that reached a neuron stayed invisible downstream while its state stayed NaN).
Every backend does the same: the spikes are ``s + (v - v)``, which adds +0 to every
finite count.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

Surrogate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _nan_where_not_finite(spikes: torch.Tensor, v_mem: torch.Tensor) -> torch.Tensor:
    """``spikes`` with NaN where ``v_mem`` is NaN or infinite (``v - v`` is +0 for
    every finite ``v``, so the other counts keep their bits)."""
    return spikes + (v_mem - v_mem)


def _multi_spike(v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
    count = torch.div(v_mem, spike_threshold, rounding_mode="trunc")
    # where() rather than a product with the mask: a product gives -0.0 for v < 0.
    return torch.where(v_mem > 0, count, torch.zeros((), dtype=count.dtype, device=count.device))


class BackwardClass:
    """Shared context and backward of the spike functions: incoming gradient times the
    surrogate. In the ``setup_context`` form (forward without ``ctx``) with a generated
    vmap rule, so that ``torch.func`` transforms (grad, vjp, vmap, ...) compose with
    them."""

    generate_vmap_rule = True

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        v_mem, *extra, spike_threshold, surrogate_grad_fn = inputs
        threshold_is_tensor = isinstance(spike_threshold, torch.Tensor)
        if threshold_is_tensor:
            ctx.save_for_backward(v_mem, spike_threshold)
        else:
            ctx.save_for_backward(v_mem)
            ctx.spike_threshold = spike_threshold
        ctx.threshold_is_tensor = threshold_is_tensor
        ctx.surrogate_grad_fn = surrogate_grad_fn
        ctx.n_extra = len(extra) + 2

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if ctx.threshold_is_tensor:
            v_mem, spike_threshold = ctx.saved_tensors
        else:
            (v_mem,) = ctx.saved_tensors
            spike_threshold = ctx.spike_threshold
        grad = grad_output * ctx.surrogate_grad_fn(v_mem, spike_threshold)
        return (grad,) + (None,) * ctx.n_extra


class MultiSpike(BackwardClass, torch.autograd.Function):
    """Emits ``floor(v / θ)`` spikes per step for positive ``v`` (0 otherwise)."""

    required_states: list[str] = ["v_mem"]  # noqa: RUF012 - protocol attribute

    @staticmethod
    def forward(  # type: ignore[override]
        v_mem: torch.Tensor, spike_threshold: Any, surrogate_grad_fn: Surrogate
    ) -> torch.Tensor:
        spikes = _multi_spike(v_mem, spike_threshold).to(v_mem.dtype)
        return _nan_where_not_finite(spikes, v_mem)


class SingleSpike(BackwardClass, torch.autograd.Function):
    """Emits one spike per step where ``v - θ >= 0``."""

    required_states: list[str] = ["v_mem"]  # noqa: RUF012 - protocol attribute

    @staticmethod
    def forward(  # type: ignore[override]
        v_mem: torch.Tensor, spike_threshold: Any, surrogate_grad_fn: Surrogate
    ) -> torch.Tensor:
        spikes = ((v_mem - spike_threshold) >= 0).to(v_mem.dtype)
        return _nan_where_not_finite(spikes, v_mem)


class MaxSpikeInner(BackwardClass, torch.autograd.Function):
    """``MultiSpike`` clamped to ``max_num_spikes_per_bin`` (None: no limit)."""

    required_states: list[str] = ["v_mem", "max_num_spikes_per_bin"]  # noqa: RUF012

    @staticmethod
    def forward(  # type: ignore[override]
        v_mem: torch.Tensor,
        max_num_spikes_per_bin: int | None,
        spike_threshold: Any,
        surrogate_grad_fn: Surrogate,
    ) -> torch.Tensor:
        spikes = _multi_spike(v_mem, spike_threshold)
        if max_num_spikes_per_bin is not None:
            spikes = torch.clamp(spikes, max=max_num_spikes_per_bin)
        return _nan_where_not_finite(spikes.to(v_mem.dtype), v_mem)


@dataclass
class MaxSpike:
    """Multi-spike generation with at most ``max_num_spikes_per_bin`` spikes per step.

    Example:
        >>> layer = sinabs.layers.IAF(spike_fn=MaxSpike(3))
    """

    max_num_spikes_per_bin: int | None = None

    @property
    def required_states(self) -> list[str]:
        return ["v_mem"]

    def apply(
        self, v_mem: torch.Tensor, spike_threshold: Any, surrogate_grad_fn: Surrogate
    ) -> torch.Tensor:
        return MaxSpikeInner.apply(
            v_mem, self.max_num_spikes_per_bin, spike_threshold, surrogate_grad_fn
        )


class SpikeKind(enum.IntEnum):
    """The built-in spike functions (the fused kernels' encoding)."""

    SINGLE = 1
    MULTI = 2
    MAX = 3


@dataclass(frozen=True)
class SpikeSpec:
    """A spike function resolved once, when a layer stores it.

    It follows the spike-function protocol itself (``required_states``, ``apply``), so
    the dynamics run it like the function it wraps, and it says what the function is
    without inspecting it on every call: ``torch.compile`` cannot read attributes of an
    ``autograd.Function`` class or compare it by identity, and the fused backends only
    need ``kind`` and ``max_spikes``.

    Attributes:
        fn: the spike function as given (a class such as ``MultiSpike``, or an instance).
        kind: which built-in function it is, or None for a custom one.
        max_spikes: ``MaxSpike``'s cap (None: no cap).
        required_states: the states ``apply`` takes, before the threshold.
    """

    fn: Any
    kind: SpikeKind | None
    max_spikes: float | None
    required_states: tuple[str, ...]

    def apply(self, *args: Any) -> torch.Tensor:
        return self.fn.apply(*args)


def resolve_spike_fn(spike_fn: Any) -> SpikeSpec:
    """The :class:`SpikeSpec` of a spike function (a class or an instance)."""
    if isinstance(spike_fn, SpikeSpec):
        return spike_fn
    kind: SpikeKind | None = None
    cap: float | None = None
    if spike_fn is SingleSpike or type(spike_fn) is SingleSpike:
        kind = SpikeKind.SINGLE
    elif spike_fn is MultiSpike or type(spike_fn) is MultiSpike:
        kind = SpikeKind.MULTI
    elif type(spike_fn) is MaxSpike:
        limit = spike_fn.max_num_spikes_per_bin
        kind, cap = (SpikeKind.MULTI, None) if limit is None else (SpikeKind.MAX, float(limit))
    return SpikeSpec(spike_fn, kind, cap, tuple(spike_fn.required_states))
