"""The neutral form that every fused kernel sees.

A layer call is described by

* ``x``: input, contiguous ``(B, T, N)`` (``N`` = all neuron dimensions flattened);
* ``v0``, ``i0``, ``b0``: initial states ``(B, N)`` (empty tensors when absent);
* ``params``: one ``(P, N)`` tensor, a row per :data:`PARAM_ROWS` entry, each parameter
  broadcast to the neurons (rows a configuration does not use are zero). The custom
  operator takes the rows as separate tensors (so that autograd can tell which
  parameters a loss depends on) and stacks them for the kernels;
* ``config`` (ints) and ``fconfig`` (floats): the static choices, see :class:`KernelConfig`.

:func:`prepare` builds this form from a :class:`~sinabs.dynamics.params.LeakyParams` in
one place, or returns the reason why a configuration cannot be fused.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch

from ...activation import (
    Gaussian,
    Heaviside,
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiGaussian,
    MultiSpike,
    PeriodicExponential,
    SingleExponential,
    SingleSpike,
)
from ...activation.spike_generation import SpikeSpec
from ..params import AdaptiveParams, LeakyParams, SpikingParams

#: rows of the ``params`` tensor
PARAM_ROWS = (
    "alpha_mem",
    "alpha_syn",
    "threshold",
    "min_v_mem",
    "alpha_adapt",
    "adapt_scale",
    "reset_amount",
)
ROW = {name: k for k, name in enumerate(PARAM_ROWS)}

FAMILY = {"leaky": 0, "spiking": 1, "adaptive": 2}
SPIKE_NONE, SPIKE_SINGLE, SPIKE_MULTI, SPIKE_MAX = 0, 1, 2, 3
RESET_NONE, RESET_SUBTRACT, RESET_TO_VALUE = 0, 1, 2
SURROGATE = {
    Heaviside: 0,
    SingleExponential: 1,
    PeriodicExponential: 2,
    Gaussian: 3,
    MultiGaussian: 4,
}
N_FCONFIG = 6


@dataclass(frozen=True)
class KernelConfig:
    """Static configuration of a fused scan (encoded as ``config``/``fconfig`` lists).

    ``config`` ints, in order: family (0 leaky, 1 spiking, 2 adaptive), has_syn,
    has_leak, norm_input, has_min, spike (0 none, 1 single, 2 multi, 3 max), reset
    (0 none, 1 subtract, 2 to value), reset_by_amount (subtract ``reset_amount`` rather
    than the threshold), surrogate (0 Heaviside, 1 SingleExponential, 2
    PeriodicExponential, 3 Gaussian, 4 MultiGaussian), record.

    ``fconfig`` floats: max_spikes (-1: none), then the surrogate's fields in
    declaration order (Heaviside: window; SingleExponential and PeriodicExponential:
    grad_width, grad_scale; Gaussian: mu, sigma, grad_scale; MultiGaussian: mu, sigma,
    h, s, grad_scale), zero-padded to :data:`N_FCONFIG`.
    """

    family: int
    has_syn: bool
    has_leak: bool
    norm_input: bool
    has_min: bool
    spike: int
    reset: int
    reset_by_amount: bool
    surrogate: int
    record: bool
    fconfig: tuple[float, ...]

    def ints(self) -> list[int]:
        return [
            self.family, int(self.has_syn), int(self.has_leak), int(self.norm_input),
            int(self.has_min), self.spike, self.reset, int(self.reset_by_amount),
            self.surrogate, int(self.record),
        ]  # fmt: skip

    @classmethod
    def from_lists(cls, config: list[int], fconfig: list[float]) -> KernelConfig:
        return _from_tuples(tuple(config), tuple(fconfig))


@functools.lru_cache(maxsize=256)
def _from_tuples(config: tuple[int, ...], fconfig: tuple[float, ...]) -> KernelConfig:
    f, syn, leak, norm, mn, spike, reset, amount, sg, rec = config
    return KernelConfig(
        f, bool(syn), bool(leak), bool(norm), bool(mn), spike, reset, bool(amount), sg,
        bool(rec), fconfig,
    )  # fmt: skip


@dataclass(frozen=True)
class Prepared:
    """A call in neutral form (see the module docstring)."""

    x: torch.Tensor
    v0: torch.Tensor
    i0: torch.Tensor
    b0: torch.Tensor
    rows: tuple[torch.Tensor, ...]  # one (N,) tensor per PARAM_ROWS entry
    config: KernelConfig
    neuron_shape: torch.Size


def _spike_kind(spike_fn: object) -> tuple[int, float] | None:
    if isinstance(spike_fn, SpikeSpec):  # what layers pass (torch.compile reads it)
        if spike_fn.kind is None:
            return None
        return int(spike_fn.kind), -1.0 if spike_fn.max_spikes is None else spike_fn.max_spikes
    if spike_fn is SingleSpike or type(spike_fn) is SingleSpike:
        return SPIKE_SINGLE, -1.0
    if spike_fn is MultiSpike or type(spike_fn) is MultiSpike:
        return SPIKE_MULTI, -1.0
    if type(spike_fn) is MaxSpike:
        cap = spike_fn.max_num_spikes_per_bin  # type: ignore[attr-defined]
        return (SPIKE_MULTI, -1.0) if cap is None else (SPIKE_MAX, float(cap))
    return None


def _surrogate(fn: object) -> tuple[int, list[float]] | None:
    kind = SURROGATE.get(type(fn))  # type: ignore[call-overload]
    if kind is None:
        return None
    fields = {
        0: ("window",),
        1: ("grad_width", "grad_scale"),
        2: ("grad_width", "grad_scale"),
        3: ("mu", "sigma", "grad_scale"),
        4: ("mu", "sigma", "h", "s", "grad_scale"),
    }[kind]
    values = [getattr(fn, name) for name in fields]
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return None
    return kind, [float(v) for v in values]


def _row_reason(
    value: object, neuron_shape: torch.Size, name: str, device: torch.device
) -> str | None:
    """Why ``value`` cannot be broadcast to the neurons as a ``(N,)`` row, or None.

    Plain shape arithmetic (no tensors built): it runs for every forward call.
    """
    if not isinstance(value, torch.Tensor):
        return None  # a Python number: one value for every neuron
    if value.device != device:
        return f"{name} is on {value.device}, the input on {device}"
    if value.dim() == 0:
        return None
    shape, neurons = tuple(value.shape), tuple(neuron_shape)
    if len(shape) > len(neurons):
        return f"{name} has a batch dimension (shape {shape})"
    trailing = neurons[len(neurons) - len(shape) :]
    if any(d != 1 and d != n for d, n in zip(shape, trailing, strict=True)):
        return f"{name} of shape {shape} does not broadcast to the neurons {neurons}"
    return None


def _check(
    family: str, x: torch.Tensor, p: LeakyParams
) -> tuple[dict[str, object], KernelConfig] | str:
    """The parameter rows and static configuration of a call, or why it cannot be fused.

    Builds no tensors beyond 0-dim ones for Python numbers: the registry calls it for
    every forward to choose a backend.
    """
    if x.dtype not in (torch.float32, torch.float64):
        return f"dtype {x.dtype} (fused kernels run float32 and float64)"
    if family not in FAMILY:
        return f"unknown family {family!r}"
    neuron_shape = x.shape[2:]
    spike, max_spikes, reset, by_amount, surrogate = SPIKE_NONE, -1.0, RESET_NONE, False, 0
    sg: list[float] = []
    amount: object = 0.0
    threshold: object = 0.0
    if family != "leaky":
        assert isinstance(p, SpikingParams)
        kind = _spike_kind(p.spike_fn)
        if kind is None:
            return f"custom spike_fn {p.spike_fn!r}"
        spike, max_spikes = kind
        if type(p.reset_fn) is MembraneSubtract:
            reset = RESET_SUBTRACT
            if p.reset_fn.subtract_value is not None:
                by_amount, amount = True, p.reset_fn.subtract_value
        elif type(p.reset_fn) is MembraneReset:
            reset, amount = RESET_TO_VALUE, p.reset_fn.reset_value
        else:
            return f"custom reset_fn {p.reset_fn!r}"
        sur = _surrogate(p.surrogate_grad_fn)
        if sur is None:
            return f"custom surrogate_grad_fn {p.surrogate_grad_fn!r}"
        surrogate, sg = sur
        threshold = p.spike_threshold
    rows: dict[str, object] = {
        "alpha_mem": p.alpha_mem if p.alpha_mem is not None else 1.0,
        "alpha_syn": p.alpha_syn if p.alpha_syn is not None else 0.0,
        "threshold": threshold,
        "min_v_mem": p.min_v_mem if p.min_v_mem is not None else 0.0,
        "alpha_adapt": 0.0,
        "adapt_scale": 0.0,
        "reset_amount": amount,
    }
    if family == "adaptive":
        assert isinstance(p, AdaptiveParams)
        rows["alpha_adapt"], rows["adapt_scale"] = p.alpha_adapt, p.adapt_scale
    device = x.device
    for name in PARAM_ROWS:
        reason = _row_reason(rows[name], neuron_shape, name, device)
        if reason is not None:
            return reason
    flags = (
        FAMILY[family],
        p.alpha_syn is not None,
        p.alpha_mem is not None,
        bool(p.norm_input) and p.alpha_mem is not None,
        p.min_v_mem is not None,
        spike,
        reset,
        by_amount,
        surrogate,
        False,  # record: set per call by the backend
    )
    # the cached constructor (a frozen dataclass costs microseconds on every call);
    # dynamo traces the function itself (it warns about caches it looks through)
    fconfig = tuple([max_spikes, *sg] + [0.0] * (N_FCONFIG - 1 - len(sg)))
    make = _from_tuples.__wrapped__ if torch.compiler.is_compiling() else _from_tuples
    config = make(flags, fconfig)
    return rows, config


# The registry checks a call (unsupported_reason) right before the chosen backend
# prepares it with the same arguments: the last result is kept for that second look,
# keyed by the parameter bundle itself (held, so that its id cannot be reused) and the
# input's shape, dtype and device (all that the check reads from it).
_last_check: tuple[object, ...] | None = None


def _checked(
    family: str, x: torch.Tensor, p: LeakyParams
) -> tuple[dict[str, object], KernelConfig] | str:
    global _last_check
    if torch.compiler.is_compiling():  # a global cache would guard and recompile
        return _check(family, x, p)
    key = (family, x.shape, x.dtype, x.device)
    last = _last_check
    if last is not None and last[0] is p and last[1] == key:
        return last[2]  # type: ignore[return-value]
    result = _check(family, x, p)
    _last_check = (p, key, result)
    return result


def unsupported_reason(family: str, x: torch.Tensor, p: LeakyParams) -> str | None:
    """Why a call cannot be fused, or None (no tensors are built)."""
    checked = _checked(family, x, p)
    return checked if isinstance(checked, str) else None


@functools.lru_cache(maxsize=128)
def _constant_row(
    value: float, sign: float, dtype: torch.dtype, device: torch.device, n: int
) -> torch.Tensor:
    """A ``(n,)`` row of ``value`` (a stride-0 view, cached across calls; the kernels only
    read it). ``sign`` is part of the key so that -0.0 and 0.0 stay apart."""
    return torch.tensor(value, dtype=dtype, device=device).expand(n)


#: torch reduces fewer elements than this (its GRAIN_SIZE) on one thread
_SERIAL_SUM = 32768
#: rows summed by one thread each in :func:`sum_fixed_order`
_SUM_BLOCK = 16384


def sum_fixed_order(g: torch.Tensor) -> torch.Tensor:
    """The sum of all elements of ``g`` (0-dim), rounded the same for any thread count.

    torch reduces 32768 elements or more to one number in one part per thread, so the
    rounding of ``g.sum()`` then depends on ``torch.get_num_threads()``. Here the rows of
    a 2-d view are each summed by one thread, and the fewer row sums again on one
    thread: the order depends on the shape alone (zero padding adds nothing). Shorter
    inputs are summed by ``g.sum()`` itself (one thread).
    """
    flat = g.reshape(-1)
    while flat.numel() >= _SERIAL_SUM:
        rows = -(-flat.numel() // _SUM_BLOCK)
        flat = torch.nn.functional.pad(flat, (0, rows * _SUM_BLOCK - flat.numel()))
        flat = flat.view(rows, _SUM_BLOCK).sum(1)
    return flat.sum()


class _SharedRow(torch.autograd.Function):
    """One value for every neuron as a ``(n,)`` row (a view), whose gradient is summed
    by :func:`sum_fixed_order`: autograd's own sum for ``expand`` depends on the thread
    count from 32768 neurons on, and a shared parameter's gradient must not (the
    kernels' per-neuron gradients do not)."""

    @staticmethod
    def forward(ctx: Any, value: torch.Tensor, n: int) -> torch.Tensor:  # type: ignore[override]
        ctx.shape = value.shape
        return value.expand(n)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        return sum_fixed_order(grad).reshape(ctx.shape), None


def _row(value: object, x: torch.Tensor, neuron_shape: torch.Size, n: int) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        number = float(value)  # type: ignore[arg-type]
        row = _constant_row.__wrapped__ if torch.compiler.is_compiling() else _constant_row
        return row(number, math.copysign(1.0, number), x.dtype, x.device, n)
    if value.dtype != x.dtype:
        value = value.to(x.dtype)
    if n >= _SERIAL_SUM and value.numel() == 1 and value.requires_grad:
        # (below that size autograd's sum runs on one thread: no Function's overhead)
        return _SharedRow.apply(value, n)
    if value.dim() == 0:  # the common case (one value for all neurons): one view
        return value.expand(n)
    if value.shape == (n,):  # already a row (a 1-d layer's per-neuron values)
        return value
    # per-channel values: autograd sums each channel's gradient on one thread
    return value.expand(neuron_shape).reshape(-1)


def prepare(
    family: str, x: torch.Tensor, state: dict[str, torch.Tensor], p: LeakyParams
) -> Prepared | str:
    """Builds the neutral form of a call, or returns why it cannot be fused."""
    checked = _checked(family, x, p)
    if isinstance(checked, str):
        return checked
    rows, config = checked
    batch, steps, *trail = x.shape
    neuron_shape = torch.Size(trail)
    n = neuron_shape.numel()
    flat = tuple(_row(rows[name], x, neuron_shape, n) for name in PARAM_ROWS)
    states = []
    for name, present in (
        ("v_mem", True),
        ("i_syn", config.has_syn),
        ("b", config.family == FAMILY["adaptive"]),
    ):
        if not present:
            states.append(x.new_empty(0))
            continue
        s = state[name]
        if s.shape != (batch, *trail):
            return f"state {name} of shape {tuple(s.shape)} for input {tuple(x.shape)}"
        if s.dtype != x.dtype:
            s = s.to(x.dtype)
        states.append(s if len(trail) == 1 else s.reshape(batch, n))
    v0, i0, b0 = states
    flat_x = x if len(trail) == 1 else x.reshape(batch, steps, n)
    return Prepared(flat_x, v0, i0, b0, flat, config, neuron_shape)
