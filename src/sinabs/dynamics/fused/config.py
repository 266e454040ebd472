"""The neutral form that every fused kernel sees.

A layer call is described by

* ``x``: input, contiguous ``(B, T, N)`` (``N`` = all neuron dimensions flattened);
* the initial states ``(B, N)``, one per :data:`~sinabs.dynamics.families.STATES` entry
  (``v0``, ``i0``, ``b0``; empty tensors when a configuration has none);
* ``params``: one ``(P, N)`` tensor, a row per :data:`PARAM_ROWS` entry, each parameter
  broadcast to the neurons (rows a configuration does not use hold their ``unused``
  value, :data:`~sinabs.dynamics.families.ROWS`). The custom operator takes the rows as
  separate tensors (so that autograd can tell which parameters a loss depends on) and
  stacks them for the kernels;
* ``config`` (ints) and ``fconfig`` (floats): the static choices, see :class:`KernelConfig`.

The layout and codes are declared in :mod:`sinabs.dynamics.families`. :func:`check`
says whether a :class:`~sinabs.dynamics.params.LeakyParams` can be fused (and builds
its rows and configuration), :func:`prepare` builds the neutral form from that result;
the surrogate gradients' encoding (:data:`SURROGATE_CLASSES`, :func:`surrogate_object`)
and the constants the kernels derive from it (:func:`surrogate_derived`,
:func:`kernel_constants`) live here only.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import torch

from ...activation import (
    ATan,
    FastSigmoid,
    Gaussian,
    Heaviside,
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiGaussian,
    MultiSpike,
    PeriodicExponential,
    Sigmoid,
    SingleExponential,
    SingleSpike,
    StraightThrough,
    Triangle,
)
from ...activation.spike_generation import SpikeKind, SpikeSpec
from ..families import (
    CONFIG_FIELDS,
    FAMILIES,
    FAMILY_NAMES,
    N_FCONFIG,
    N_KERNEL_CONSTS,
    PARAM_ROWS,
    ROW,
    ROWS,
    STATES,
    SURROGATE_FIELDS,
    Family,
    Reset,
    Spike,
    Surrogate,
)
from ..models import AdExParams, IzhikevichParams, ResonateParams, divergence_boundary
from ..params import AdaptiveParams, LeakyParams, SpikingParams

__all__ = [
    "PARAM_ROWS",
    "ROW",
    "Checked",
    "KernelConfig",
    "Prepared",
    "check",
    "from_checked",
    "kernel_constants",
    "prepare",
    "sum_fixed_order",
    "surrogate_derived",
    "surrogate_object",
]

#: the surrogate classes the kernels run, by their code (the only place that ties
#: :mod:`sinabs.activation`'s classes to :class:`~sinabs.dynamics.families.Surrogate`)
SURROGATE_CLASSES: dict[Surrogate, type] = {
    Surrogate.HEAVISIDE: Heaviside,
    Surrogate.SINGLE_EXPONENTIAL: SingleExponential,
    Surrogate.PERIODIC_EXPONENTIAL: PeriodicExponential,
    Surrogate.GAUSSIAN: Gaussian,
    Surrogate.MULTI_GAUSSIAN: MultiGaussian,
    Surrogate.ATAN: ATan,
    Surrogate.FAST_SIGMOID: FastSigmoid,
    Surrogate.SIGMOID: Sigmoid,
    Surrogate.TRIANGLE: Triangle,
    Surrogate.STRAIGHT_THROUGH: StraightThrough,
}
_SURROGATE_CODES: dict[type, Surrogate] = {cls: code for code, cls in SURROGATE_CLASSES.items()}


@dataclass(frozen=True)
class KernelConfig:
    """Static configuration of a fused scan.

    The fields are :data:`~sinabs.dynamics.families.CONFIG_FIELDS`, in that order (the
    ints the kernels take, :meth:`ints`), and ``fconfig``: the floats, the spike cap
    (MaxSpike's, -1 without one) and then the surrogate's fields
    (:data:`~sinabs.dynamics.families.SURROGATE_FIELDS`), zero-padded to
    :data:`~sinabs.dynamics.families.N_FCONFIG`. ``train_threshold`` (the last of
    the ints) comes after ``fconfig`` so that it can default to False.
    """

    family: Family
    has_syn: bool
    has_leak: bool
    norm_input: bool
    has_min: bool
    spike: Spike
    reset: Reset
    reset_by_amount: bool
    surrogate: Surrogate
    record: bool
    fconfig: tuple[float, ...]
    train_threshold: bool = False

    @property
    def adaptive(self) -> bool:
        """Whether the family carries the adaptation ``b``."""
        return "b" in _FAMILY_STATES[self.family]

    @property
    def spikes(self) -> bool:
        """Whether the family has a spike function, a reset and a surrogate."""
        return _SPIKES[self.family]

    def has_state(self, name: str) -> bool:
        """Whether the kernels carry state ``name`` (a :data:`STATES` name: ``v_mem``,
        ``i_syn``, ``b``, ``u``)."""
        if name == "i_syn":
            return self.has_syn
        return name in _FAMILY_STATES[self.family]

    def layer_name(self, name: str) -> str:
        """The layer's name of kernel state ``name`` (``FamilyDecl.layer_names``)."""
        return _LAYER_NAMES[self.family].get(name, name)

    def ints(self) -> list[int]:
        """The ints of :data:`~sinabs.dynamics.families.CONFIG_FIELDS` (the op schema's
        ``config``)."""
        return [int(getattr(self, name)) for name in CONFIG_FIELDS]

    def with_record(self, record: bool) -> KernelConfig:
        """This configuration with ``record`` set (cached: no new object per call)."""
        if record == self.record:
            return self
        if torch.compiler.is_compiling():
            return dataclasses.replace(self, record=record)
        return _with_record(self, record)

    @classmethod
    def from_lists(cls, config: list[int], fconfig: list[float]) -> KernelConfig:
        """The configuration the op schema's ``config`` and ``fconfig`` encode."""
        return _from_tuples(tuple(config), tuple(fconfig))


# (plain dicts: read on every call, also while torch.compile traces)
_FAMILY_STATES = {code: frozenset(decl.states) for code, decl in FAMILIES.items()}
_SPIKES = {code: decl.spikes for code, decl in FAMILIES.items()}
_LAYER_NAMES = {
    code: {state: decl.layer_name(state) for state in decl.states}
    for code, decl in FAMILIES.items()
}
_CODES = {"family": Family, "spike": Spike, "reset": Reset, "surrogate": Surrogate}
assert tuple(f.name for f in dataclasses.fields(KernelConfig) if f.name != "fconfig") == (
    CONFIG_FIELDS
)


def _make(config: tuple[int, ...], fconfig: tuple[float, ...]) -> KernelConfig:
    values: dict[str, Any] = {
        name: _CODES[name](v) if name in _CODES else bool(v)
        for name, v in zip(CONFIG_FIELDS, config, strict=True)
    }
    return KernelConfig(**values, fconfig=fconfig)


_from_tuples = functools.lru_cache(maxsize=256)(_make)


@functools.lru_cache(maxsize=256)
def _with_record(cfg: KernelConfig, record: bool) -> KernelConfig:
    return dataclasses.replace(cfg, record=record)


# ---------------------------------------------------------------- surrogates


def surrogate_object(cfg: KernelConfig) -> Any:
    """The surrogate gradient object that ``cfg`` encodes (for oracles and checks)."""
    fields = SURROGATE_FIELDS[cfg.surrogate]
    values = dict(zip(fields, cfg.fconfig[1 : 1 + len(fields)], strict=True))
    return SURROGATE_CLASSES[cfg.surrogate](**values)


def _norm(sigma: float) -> float:
    # the normaliser of surrogate_gradient_fn.gaussian, in float32 as it computes it
    return float(sigma * torch.sqrt(2 * torch.tensor(math.pi, dtype=torch.float32)))


@functools.lru_cache(maxsize=256)
def surrogate_derived(cfg: KernelConfig) -> tuple[float, float, float, float]:
    """Constants the kernels' surrogates take from the host, computed in Python floats
    as :mod:`sinabs.activation.surrogate_gradient_fn` does: for the Gaussians ``(2
    sigma^2, norm(sigma), 2 (s sigma)^2, norm(s sigma))`` (MultiGaussian's side lobes
    last), for ATan ``(alpha / 2, pi * alpha / 2, 0, 1)``; 0 and 1 where a surrogate
    has none."""
    f = cfg.fconfig[1:]
    k = [0.0, 1.0, 0.0, 1.0]
    if cfg.surrogate in (Surrogate.GAUSSIAN, Surrogate.MULTI_GAUSSIAN):
        sigma = f[1]
        k[0], k[1] = 2 * sigma**2, _norm(sigma)
    if cfg.surrogate == Surrogate.MULTI_GAUSSIAN:
        side = f[3] * f[1]
        k[2], k[3] = 2 * side**2, _norm(side)
    if cfg.surrogate == Surrogate.ATAN:  # ATan.__call__: half, then math.pi * half
        half = f[0] / 2
        k[0], k[1] = half, math.pi * half
    return k[0], k[1], k[2], k[3]


@functools.lru_cache(maxsize=256)
def kernel_constants(cfg: KernelConfig) -> tuple[float, ...]:
    """The C kernel's constants: the MaxSpike cap (+inf without one), then the
    :data:`~sinabs.dynamics.families.N_KERNEL_CONSTS` surrogate constants as
    ``surrogate.h`` reads them."""
    f = cfg.fconfig[1:]
    derived = surrogate_derived(cfg)
    two_var, norm, two_var_side, norm_side = derived
    if cfg.surrogate == Surrogate.GAUSSIAN:  # mu, sigma, grad_scale
        sg = [f[0], two_var, norm, f[2]]
    elif cfg.surrogate == Surrogate.MULTI_GAUSSIAN:  # mu, sigma, h, s, grad_scale
        mu, sigma, h, _, scale = f[:5]
        sg = [mu, two_var, norm, sigma, two_var_side, norm_side, h, 1 + h, scale]
    elif cfg.surrogate == Surrogate.ATAN:  # alpha / 2, pi * alpha / 2
        sg = list(derived[:2])
    else:  # Heaviside: window; the exponentials: grad_width, grad_scale; the sigmoids:
        # slope; Triangle: width; StraightThrough: none
        sg = list(f[: len(SURROGATE_FIELDS[cfg.surrogate])])
    cap = cfg.fconfig[0] if cfg.spike == Spike.MAX else math.inf
    return (cap, *sg, *[0.0] * (N_KERNEL_CONSTS - len(sg)))


@dataclass(frozen=True)
class Prepared:
    """A call in neutral form (see the module docstring)."""

    x: torch.Tensor
    states: tuple[torch.Tensor, ...]  # one (B, N) tensor per STATES entry (empty: absent)
    rows: tuple[torch.Tensor, ...]  # one (N,) tensor per PARAM_ROWS entry
    config: KernelConfig
    neuron_shape: torch.Size

    @property
    def v0(self) -> torch.Tensor:
        return self.states[STATE_INDEX["v_mem"]]

    @property
    def i0(self) -> torch.Tensor:
        return self.states[STATE_INDEX["i_syn"]]

    @property
    def b0(self) -> torch.Tensor:
        return self.states[STATE_INDEX["b"]]

    @property
    def u0(self) -> torch.Tensor:
        return self.states[STATE_INDEX["u"]]


#: index of each kernel state in :data:`~sinabs.dynamics.families.STATES`
STATE_INDEX: dict[str, int] = {state.name: k for k, state in enumerate(STATES)}

# the layers' spike functions come as SpikeSpec, whose kinds must be the kernels' codes
assert all(Spike[kind.name] == kind for kind in SpikeKind)


def _spike_kind(spike_fn: object) -> tuple[Spike, float] | None:
    if isinstance(spike_fn, SpikeSpec):  # what layers pass (torch.compile reads it)
        if spike_fn.kind is None:
            return None
        cap = -1.0 if spike_fn.max_spikes is None else spike_fn.max_spikes
        return Spike(spike_fn.kind), cap
    if spike_fn is SingleSpike or type(spike_fn) is SingleSpike:
        return Spike.SINGLE, -1.0
    if spike_fn is MultiSpike or type(spike_fn) is MultiSpike:
        return Spike.MULTI, -1.0
    if type(spike_fn) is MaxSpike:
        limit = spike_fn.max_num_spikes_per_bin  # type: ignore[attr-defined]
        return (Spike.MULTI, -1.0) if limit is None else (Spike.MAX, float(limit))
    return None


def _surrogate(fn: object) -> tuple[Surrogate, list[float]] | None:
    kind = _SURROGATE_CODES.get(type(fn))
    if kind is None:
        return None
    values = [getattr(fn, name) for name in SURROGATE_FIELDS[kind]]
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


#: ``(rows by name, configuration)`` of a call that can be fused, or why it cannot
Checked = tuple[dict[str, object], KernelConfig] | str


def check(family: str, x: torch.Tensor, p: LeakyParams) -> Checked:
    """The parameter rows and static configuration of a call, or why it cannot be fused.

    Builds no tensors (but the balanced resonate-and-fire's damping row, one small
    tensor, :func:`_check_resonate`): the registry's backends call it for every forward
    to decide whether they support the call (once per call:
    :class:`sinabs.dynamics.registry.Call` keeps the result for the chosen backend's
    ``prepare``).
    """
    if x.dtype not in (torch.float32, torch.float64):
        # (layers never get here with float16/bfloat16: they compute those in float32)
        return f"dtype {x.dtype} (fused kernels run float32 and float64)"
    code = FAMILY_NAMES.get(family)
    if code is None:
        return f"unknown family {family!r}"
    decl = FAMILIES[code]
    spike, max_spikes, reset, by_amount, surrogate = Spike.NONE, -1.0, Reset.NONE, False, 0
    train = False
    sg: list[float] = []
    # every row at its exact identity, then the family's own
    rows: dict[str, object] = {row.name: row.unused for row in ROWS}
    if code == Family.IZHIKEVICH:
        return _check_izhikevich(x, p, rows)  # type: ignore[arg-type]
    if code == Family.ADEX:
        return _check_adex(x, p, rows)  # type: ignore[arg-type]
    if code in (Family.RESONATE, Family.RESONATE_BALANCED):
        return _check_resonate(code, x, p, rows)  # type: ignore[arg-type]
    rows["alpha_mem"] = p.alpha_mem if p.alpha_mem is not None else rows["alpha_mem"]
    rows["alpha_syn"] = p.alpha_syn if p.alpha_syn is not None else rows["alpha_syn"]
    rows["min_v_mem"] = p.min_v_mem if p.min_v_mem is not None else rows["min_v_mem"]
    if decl.spikes:
        assert isinstance(p, SpikingParams)
        kind = _spike_kind(p.spike_fn)
        if kind is None:
            return f"custom spike_fn {p.spike_fn!r}"
        spike, max_spikes = kind
        if type(p.reset_fn) is MembraneSubtract:
            reset = Reset.SUBTRACT
            if p.reset_fn.subtract_value is not None:
                by_amount, rows["reset_amount"] = True, p.reset_fn.subtract_value
        elif type(p.reset_fn) is MembraneReset:
            reset, rows["reset_amount"] = Reset.TO_VALUE, p.reset_fn.reset_value
        else:
            return f"custom reset_fn {p.reset_fn!r}"
        sur = _surrogate(p.surrogate_grad_fn)
        if sur is None:
            return f"custom surrogate_grad_fn {p.surrogate_grad_fn!r}"
        surrogate, sg = sur
        rows["threshold"] = p.spike_threshold
        # the reference's condition for the threshold's path through the spike
        # function (reference.threshold_path)
        threshold = p.spike_threshold
        train = (
            bool(p.train_threshold)
            and isinstance(threshold, torch.Tensor)
            and threshold.requires_grad
        )
    if "b" in decl.states:
        assert isinstance(p, AdaptiveParams)
        rows["alpha_adapt"], rows["adapt_scale"] = p.alpha_adapt, p.adapt_scale
    neuron_shape, device = x.shape[2:], x.device
    for name in PARAM_ROWS:
        reason = _row_reason(rows[name], neuron_shape, name, device)
        if reason is not None:
            return reason
    flags = (
        int(code),
        p.alpha_syn is not None,
        p.alpha_mem is not None,
        bool(p.norm_input) and p.alpha_mem is not None,
        p.min_v_mem is not None,
        int(spike),
        int(reset),
        by_amount,
        int(surrogate),
        False,  # record: set per call (KernelConfig.with_record)
        train,
    )
    # the cached constructor (a frozen dataclass costs microseconds on every call);
    # dynamo traces the function itself (it warns about caches it looks through)
    fconfig = tuple([max_spikes, *sg] + [0.0] * (N_FCONFIG - 1 - len(sg)))
    make = _make if torch.compiler.is_compiling() else _from_tuples
    return rows, make(flags, fconfig)


# --- the point-neuron models (their own hard reset, SingleSpike only)


def _point_model(
    code: Family, label: str, x: torch.Tensor, p: Any, rows: dict[str, object], own: dict
) -> Checked:
    """:func:`check` for a point-neuron model's bundle ``p``: its spike function must
    be SingleSpike (the reset is the family's own, no ``reset_fn``), its surrogate a
    built-in one; ``own`` are its rows (:data:`~sinabs.dynamics.families.FAMILIES`)."""
    kind = _spike_kind(p.spike_fn)
    if kind is None or kind[0] != Spike.SINGLE:
        return f"{label} with spike_fn {p.spike_fn!r} (the kernels run SingleSpike)"
    sur = _surrogate(p.surrogate_grad_fn)
    if sur is None:
        return f"custom surrogate_grad_fn {p.surrogate_grad_fn!r}"
    rows.update(own)
    for name in PARAM_ROWS:
        reason = _row_reason(rows[name], x.shape[2:], name, x.device)
        if reason is not None:
            return reason
    surrogate, sg = sur
    values = dict.fromkeys(CONFIG_FIELDS, 0)  # every flag it does not use at 0
    values.update(family=int(code), spike=int(Spike.SINGLE), surrogate=int(surrogate))
    flags = tuple(int(values[name]) for name in CONFIG_FIELDS)
    fconfig = tuple([-1.0, *sg] + [0.0] * (N_FCONFIG - 1 - len(sg)))
    make = _make if torch.compiler.is_compiling() else _from_tuples
    return rows, make(flags, fconfig)


def _check_izhikevich(x: torch.Tensor, p: IzhikevichParams, rows: dict[str, object]) -> Checked:
    """Izhikevich: the rows ``izh_a`` to ``izh_d``, ``dt`` and ``threshold`` (v_peak)."""
    own = dict(threshold=p.spike_threshold, izh_a=p.a, izh_b=p.b, izh_c=p.c, izh_d=p.d, dt=p.dt)
    return _point_model(Family.IZHIKEVICH, "Izhikevich", x, p, rows, own)


def _check_adex(x: torch.Tensor, p: AdExParams, rows: dict[str, object]) -> Checked:
    """AdEx: the rows ``adex_C`` to ``adex_V_r``, ``dt`` and ``threshold`` (V_peak)."""
    own = dict(
        threshold=p.V_peak, adex_C=p.C, adex_g_L=p.g_L, adex_E_L=p.E_L, adex_V_T=p.V_T,
        adex_Delta_T=p.Delta_T, adex_tau_w=p.tau_w, adex_a=p.a, adex_b=p.b, adex_V_r=p.V_r,
        dt=p.dt,
    )  # fmt: skip
    return _point_model(Family.ADEX, "AdEx", x, p, rows, own)


def _check_resonate(
    code: Family, x: torch.Tensor, p: ResonateParams, rows: dict[str, object]
) -> Checked:
    """Resonate-and-fire, plain (``code`` RESONATE) or balanced (RESONATE_BALANCED, the
    bundle's ``b_offset`` set): the rows ``rf_*``, ``dt`` and ``threshold``.

    The balanced form's damping row is ``divergence_boundary(omega, dt) - b_offset``,
    computed here with torch in the reference's order (so that the kernels'
    ``damping - q`` is the reference's value bit for bit, and omega and b_offset get
    their gradients through it by autograd; the kernels need no square root).
    """
    if p.balanced != (code == Family.RESONATE_BALANCED):
        form = "balanced" if p.balanced else "plain"
        return f"family {code.name.lower()} with the {form} form's parameters"
    own: dict[str, object] = dict(threshold=p.spike_threshold, dt=p.dt, rf_omega=p.omega)
    if p.balanced:
        assert p.b_offset is not None and p.gamma is not None
        omega = p.omega if isinstance(p.omega, torch.Tensor) else torch.tensor(p.omega)
        own.update(rf_damping=divergence_boundary(omega, p.dt) - p.b_offset, rf_gamma=p.gamma)
    else:
        own.update(rf_damping=p.b, rf_x_reset=p.x_reset, rf_y_reset=p.y_reset)
    return _point_model(code, "resonate-and-fire", x, p, rows, own)


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


#: the indices of the rows each family reads (its declaration's)
_DECLARED_ROWS = {code: tuple(ROW[name] for name in decl.rows) for code, decl in FAMILIES.items()}


@functools.lru_cache(maxsize=128)
def _unused_rows(
    family: Family, dtype: torch.dtype, device: torch.device, n: int
) -> tuple[torch.Tensor, ...]:
    """Every row at its unused value (stride-0 views), as the family's call starts
    from; :func:`from_checked` replaces the family's own rows."""
    return tuple(
        _constant_row(float(row.unused), math.copysign(1.0, row.unused), dtype, device, n)
        for row in ROWS
    )


def prepare(
    family: str, x: torch.Tensor, state: dict[str, torch.Tensor], p: LeakyParams
) -> Prepared | str:
    """The neutral form of a call, or why it cannot be fused (:func:`check`, then
    :func:`from_checked`)."""
    checked = check(family, x, p)
    return checked if isinstance(checked, str) else from_checked(x, state, checked)


def from_checked(
    x: torch.Tensor, state: dict[str, torch.Tensor], checked: tuple[dict[str, object], KernelConfig]
) -> Prepared:
    """Builds the neutral form of a call from :func:`check`'s result.

    Raises:
        ValueError: a state's shape does not match the input.
    """
    rows, config = checked
    batch, steps, *trail = x.shape
    neuron_shape = torch.Size(trail)
    n = neuron_shape.numel()
    if torch.compiler.is_compiling():
        flat = tuple(_row(rows[name], x, neuron_shape, n) for name in PARAM_ROWS)
    else:
        # the rows the family does not read hold their unused value (check leaves them
        # so): one cached tuple of constant rows, then the family's own rows
        flat_list = list(_unused_rows(config.family, x.dtype, x.device, n))
        for k in _DECLARED_ROWS[config.family]:
            value = rows[PARAM_ROWS[k]]
            if value is not ROWS[k].unused:
                flat_list[k] = _row(value, x, neuron_shape, n)
        flat = tuple(flat_list)
    states = []
    for decl in STATES:
        if not config.has_state(decl.name):
            states.append(x.new_empty(0))
            continue
        name = config.layer_name(decl.name)
        s = state[name]
        if s.shape != (batch, *trail):
            raise ValueError(f"state {name} of shape {tuple(s.shape)} for input {tuple(x.shape)}")
        if s.dtype != x.dtype:
            s = s.to(x.dtype)
        states.append(s if len(trail) == 1 else s.reshape(batch, n))
    flat_x = x if len(trail) == 1 else x.reshape(batch, steps, n)
    return Prepared(flat_x, tuple(states), flat, config, neuron_shape)
