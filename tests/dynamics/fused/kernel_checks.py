"""Cases and checks shared by the kernel tests (``test_cpu_kernel``, ``test_triton_kernel``).

A :class:`Case` is one configuration of the fused scan. Each kernel is checked in
neutral form against :mod:`torch_impl` (the oracle next to this file) and in layer form
(through :func:`~sinabs.dynamics.fused.config.prepare`) against
:func:`~sinabs.dynamics.reference.reference_scan`: outputs, final states and
recordings bit-identical; gradients w.r.t. the input, the initial states and every
parameter within ``rtol=1e-5`` (``atol=1e-5 * max|reference|``).

(Not a test module: pytest finds it through ``pythonpath`` in pyproject.toml, and the
Triton test's interpreter subprocess, which runs that file as a script, next to it.)
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch_impl  # the neutral-form oracle, next to this file

from sinabs.activation import (
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
from sinabs.dynamics.families import STATES
from sinabs.dynamics.fused.config import KernelConfig, prepare
from sinabs.dynamics.models import AdExParams, IzhikevichParams, ResonateParams
from sinabs.dynamics.params import AdaptiveParams, LeakyParams, SpikingParams
from sinabs.dynamics.reference import reference_scan

BATCH = 2
SPIKE_FNS = {"single": SingleSpike, "multi": MultiSpike, "max": MaxSpike(2)}
SURROGATES = {
    "heaviside": Heaviside(window=0.4),
    "exp": SingleExponential(grad_width=0.5, grad_scale=1.3),
    "periodic": PeriodicExponential(grad_width=0.4, grad_scale=0.9),
    "gaussian": Gaussian(mu=0.1, sigma=0.4, grad_scale=1.2),
    "multigaussian": MultiGaussian(mu=0.05, sigma=0.5, h=0.15, s=4.0, grad_scale=1.1),
}
#: snnTorch's surrogates (parameters that keep them away from their defaults)
SNNTORCH_SURROGATES = {
    "atan": ATan(alpha=2.5),
    "fastsigmoid": FastSigmoid(slope=5.0),
    "sigmoid": Sigmoid(slope=4.0),
    "triangle": Triangle(width=0.7),
    "straight": StraightThrough(),
}
#: every surrogate the kernels run (the sinabs ones take turns in option_cases' sweep of
#: spike functions and resets)
ALL_SURROGATES = {**SURROGATES, **SNNTORCH_SURROGATES}
#: Izhikevich's surrogates: widths on its scale (v_peak = 30 mV)
IZH_SURROGATES = {
    "gaussian5": Gaussian(sigma=5.0),  # the layer's default
    "exp": SingleExponential(grad_width=0.2, grad_scale=1.3),
    "multigaussian": MultiGaussian(mu=0.5, sigma=4.0, h=0.15, s=2.0, grad_scale=1.1),
    "atan": ATan(alpha=0.3),
    "triangle": Triangle(width=12.0),
}
#: AdEx's surrogates: widths on its scale (V_peak = 20 mV)
ADEX_SURROGATES = {
    "gaussian5": Gaussian(sigma=5.0),  # the layer's default
    "exp": SingleExponential(grad_width=2.0, grad_scale=0.8),
    "triangle": Triangle(width=15.0),
}

#: resonate-and-fire's surrogates (threshold 1)
RF_SURROGATES = {
    "exp": SingleExponential(grad_width=0.5, grad_scale=1.3),
    "gaussian": Gaussian(mu=0.1, sigma=0.4, grad_scale=1.2),
    "atan": ATan(alpha=2.5),
    "triangle": Triangle(width=0.7),
}
RESONATE_FAMILIES = ("resonate", "resonate_balanced")
OUTPUTS = ("out", "v", "i", "b", "u", "rec_v", "rec_i", "rec_b", "rec_u", "out_sum")
GRADIENTS = ("g_x", "g_v0", "g_i0", "g_b0", "g_u0", "g_params")

#: a kernel's forward and backward in neutral form (torch_impl's signatures)
Kernel = Callable[..., tuple[torch.Tensor, ...]]


@dataclass(frozen=True)
class Case:
    """One configuration; ``id`` names the fields that differ from the defaults.

    The test modules subclass it to set their own default ``neurons``.
    """

    family: str  # leaky | spiking | adaptive | izhikevich | adex | resonate | resonate_balanced
    spike: str = "single"  # single | multi | max (MaxSpike(2))
    reset: str = "subtract"  # subtract (the threshold) | amount | to_value | own (Izhikevich, AdEx)
    surrogate: str = "exp"
    syn: bool = False
    norm: bool = False
    leak: bool = True
    min_v: bool = False
    per_neuron: bool = False
    record: bool = False
    upstream: str = "all"  # all | out: only the output has a gradient (absent state grads)
    train: bool = False  # train_threshold: the threshold's gradient through the spike
    steps: int = 8
    neurons: tuple[int, ...] = (6,)
    block: int = 16  # neurons per Triton program (the CPU kernel ignores it)
    dtype: str = "f64"

    @property
    def id(self) -> str:
        parts = [self.family]
        if self.family != "leaky":
            parts += [self.spike, self.reset, self.surrogate]
        defaults = type(self)(self.family)
        for field in dataclasses.fields(self):
            if field.name in ("family", "spike", "reset", "surrogate", "dtype"):
                continue
            value = getattr(self, field.name)
            if value != getattr(defaults, field.name):
                if isinstance(value, bool):
                    parts.append(field.name if value else f"no_{field.name}")
                elif isinstance(value, tuple):
                    parts.append(f"{field.name}={'x'.join(map(str, value))}")
                else:
                    parts.append(f"{field.name}={value}")
        return "-".join([*parts, self.dtype])

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float32 if self.dtype == "f32" else torch.float64


def option_cases(case: type[Case]) -> list[Case]:
    """Every leaky option set, every spike function x reset (the surrogates taking
    turns), every surrogate and the other options of the spiking families."""
    leaky = [
        {},
        {"norm": True},
        {"syn": True},
        {"syn": True, "norm": True},
        {"min_v": True},
        {"leak": False},
        {"leak": False, "syn": True, "min_v": True},
        {"syn": True, "norm": True, "min_v": True, "per_neuron": True, "record": True},
        {"syn": True, "record": True, "upstream": "out"},
    ]
    cases = [case("leaky", **opts) for opts in leaky]  # type: ignore[arg-type]
    surrogates = list(SURROGATES)
    for family in ("spiking", "adaptive"):
        for k, (spike, reset) in enumerate(
            (s, r) for s in SPIKE_FNS for r in ("subtract", "amount", "to_value")
        ):
            cases.append(case(family, spike, reset, surrogates[k % len(surrogates)]))
        cases += [case(family, surrogate=s) for s in ALL_SURROGATES]
        options = [
            {"syn": True},
            {"norm": True},
            {"leak": False},  # IAF
            {"min_v": True},
            {"per_neuron": True},
            {"record": True},
            {"record": True, "upstream": "out"},
            {"syn": True, "norm": True, "min_v": True, "per_neuron": True, "record": True},
            {"syn": True, "leak": False, "min_v": True, "spike": "multi", "reset": "amount"},
        ]
        cases += [case(family, **opts) for opts in options]  # type: ignore[arg-type]
        cases += train_cases(case, family)
    return cases + izhikevich_cases(case) + adex_cases(case) + resonate_cases(case)


def train_cases(case: type[Case], family: str) -> list[Case]:
    """``train_threshold`` in ``family``: every surrogate, every spike function and
    reset (the threshold's gradient then comes through the spike function alone, or
    also through the reset), per-neuron thresholds, the options of the general code,
    recordings and only the output's gradient."""
    cases = [case(family, surrogate=s, train=True) for s in ALL_SURROGATES]
    cases += [
        case(family, spike, reset, "atan", train=True)
        for spike in SPIKE_FNS
        for reset in ("subtract", "amount", "to_value")
    ]
    options: list[dict[str, Any]] = [
        {"per_neuron": True},
        {"per_neuron": True, "surrogate": "sigmoid", "record": True},
        {"syn": True, "norm": True, "min_v": True, "per_neuron": True, "record": True},
        {"leak": False, "surrogate": "triangle"},
        {"record": True, "upstream": "out", "surrogate": "fastsigmoid"},
    ]
    return cases + [case(family, train=True, **opts) for opts in options]


def izhikevich_cases(case: type[Case]) -> list[Case]:
    """Izhikevich (SingleSpike, its own reset): its surrogates, per-neuron parameters,
    recordings, only the output's gradient, more neurons than a slot, longer runs."""
    izh = [case("izhikevich", reset="own", surrogate=s) for s in IZH_SURROGATES]
    options = [
        {"per_neuron": True},
        {"record": True},
        {"record": True, "upstream": "out"},
        {"per_neuron": True, "record": True, "neurons": (70,)},
        {"steps": 40, "neurons": (3, 5)},
    ]
    izh += [
        case("izhikevich", reset="own", surrogate="gaussian5", **opts)  # type: ignore[arg-type]
        for opts in options
    ]
    return izh


def adex_cases(case: type[Case]) -> list[Case]:
    """AdEx (SingleSpike, its own reset) at dt = 0.1: its surrogates, per-neuron
    parameters, recordings, only the output's gradient, full and partial slots, a
    longer run; float32 too (float32_variants)."""
    cases = [case("adex", reset="own", surrogate=s) for s in ADEX_SURROGATES]
    options = [
        {"per_neuron": True},
        {"record": True},
        {"record": True, "upstream": "out"},
        {"per_neuron": True, "record": True, "neurons": (70,)},
        {"record": True, "steps": 40, "neurons": (3, 5)},
    ]
    cases += [
        case("adex", reset="own", surrogate="gaussian5", **opts)  # type: ignore[arg-type]
        for opts in options
    ]
    return cases


def resonate_cases(case: type[Case]) -> list[Case]:
    """Resonate-and-fire, plain and balanced (SingleSpike, the plain form's own reset):
    its surrogates, per-neuron parameters, recordings, only the output's gradient,
    more neurons than a slot (70: a full and a partial float32 slot, three float64
    slots), longer runs; each also in float32."""
    cases = []
    for family in RESONATE_FAMILIES:
        cases += [case(family, reset="own", surrogate=s) for s in RF_SURROGATES]
        options: list[dict[str, Any]] = [
            {"per_neuron": True},
            {"record": True},
            {"record": True, "upstream": "out"},
            {"per_neuron": True, "record": True, "neurons": (70,)},
            {"per_neuron": True, "record": True, "neurons": (3, 5), "surrogate": "atan"},
            {"steps": 40, "neurons": (70,)},
        ]
        cases += [case(family, reset="own", **opts) for opts in options]
    return cases + [dataclasses.replace(c, dtype="f32") for c in cases]


def float32_variants(cases: Sequence[Case]) -> list[Case]:
    """The main configurations again in float32 (bit-identical spikes; the CPU kernel's
    fast specializations run only for float32: no min_v_mem, reset by the threshold)."""
    f32 = [c for c in cases if c.family == "leaky" or not (c.syn or c.norm or c.min_v)]
    f32 += [c for c in cases if c.per_neuron and c.record]
    return [dataclasses.replace(c, dtype="f32") for c in f32]


def unique(cases: Sequence[Case]) -> list[Case]:
    return list({c.id: c for c in cases}.values())  # the sweeps overlap


def assert_every_option_is_covered(cases: Sequence[Case]) -> None:
    spiking = [c for c in cases if c.family != "leaky"]
    assert {(c.family, c.spike, c.reset) for c in spiking} >= {
        (f, s, r) for f in ("spiking", "adaptive") for s in SPIKE_FNS
        for r in ("subtract", "amount", "to_value")
    }  # fmt: skip
    assert {(c.family, c.surrogate, c.train) for c in spiking} >= {
        (f, s, t) for f in ("spiking", "adaptive") for s in ALL_SURROGATES for t in (False, True)
    }
    for family in ("leaky", "spiking", "adaptive"):
        mine = [c for c in cases if c.family == family]
        for flag in ("syn", "norm", "min_v", "per_neuron", "record"):
            assert any(getattr(c, flag) for c in mine), (family, flag)
        assert any(not c.leak for c in mine)
        assert any(c.upstream == "out" and c.record for c in mine)
        assert {c.dtype for c in mine} == {"f32", "f64"}
        if family != "leaky":
            trained = [c for c in mine if c.train]
            assert {c.dtype for c in trained} == {"f32", "f64"}, family
            assert any(c.per_neuron for c in trained), family


# ---------------------------------------------------------------- inputs


def build(
    case: Case, device: str = "cpu", widen: bool = False
) -> tuple[torch.Tensor, dict, LeakyParams, list]:
    """Leaf tensors, the state dict and the parameter bundle of ``case``; with
    ``widen`` its values (rounded to the case's dtype) as float64 tensors."""
    dtype = case.torch_dtype
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()))
    pshape = case.neurons if case.per_neuron else ()
    leaves: list[torch.Tensor] = []

    def leaf(lo: float, hi: float, shape: tuple[int, ...] = pshape) -> torch.Tensor:
        t = torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo
        t = t.to(device=device, dtype=dtype)
        t = (t.to(torch.float64) if widen else t).requires_grad_()
        leaves.append(t)
        return t

    if case.family == "izhikevich":
        return _build_izhikevich(case, leaf, leaves)
    if case.family == "adex":
        return _build_adex(case, leaf, leaves)
    if case.family in RESONATE_FAMILIES:
        return _build_resonate(case, leaf, leaves)
    x = leaf(-1.0, 2.0, (BATCH, case.steps, *case.neurons))
    state = {"v_mem": leaf(-0.5, 1.0, (BATCH, *case.neurons))}
    if case.syn:
        state["i_syn"] = leaf(-0.5, 1.0, (BATCH, *case.neurons))
    if case.family == "adaptive":
        state["b"] = leaf(0.0, 0.5, (BATCH, *case.neurons))
    common: dict[str, Any] = {
        "alpha_mem": leaf(0.6, 0.95) if case.leak else None,
        "alpha_syn": leaf(0.5, 0.9) if case.syn else None,
        "norm_input": case.norm,
        "min_v_mem": leaf(-0.5, -0.1) if case.min_v else None,
    }
    if case.family == "leaky":
        return x, state, LeakyParams(**common), leaves
    reset = {
        "subtract": lambda: MembraneSubtract(),
        "amount": lambda: MembraneSubtract(subtract_value=leaf(0.3, 0.8)),
        "to_value": lambda: MembraneReset(reset_value=leaf(-0.2, 0.2)),  # type: ignore[arg-type]
    }[case.reset]()
    spiking: dict[str, Any] = {
        "spike_threshold": leaf(0.5, 1.0),
        "spike_fn": SPIKE_FNS[case.spike],
        "reset_fn": reset,
        "surrogate_grad_fn": ALL_SURROGATES[case.surrogate],
        "train_threshold": case.train,
    }
    if case.family == "spiking":
        return x, state, SpikingParams(**common, **spiking), leaves
    adaptive = {"alpha_adapt": leaf(0.6, 0.95), "adapt_scale": leaf(0.5, 2.0)}
    return x, state, AdaptiveParams(**common, **spiking, **adaptive), leaves


def _build_izhikevich(
    case: Case, leaf: Callable[..., torch.Tensor], leaves: list
) -> tuple[torch.Tensor, dict, Any, list]:
    """Currents and states that make some neurons spike within a few steps, the
    parameters around the paper's (v_peak, a constant of the layer, is no leaf)."""
    x = leaf(0.0, 20.0, (BATCH, case.steps, *case.neurons))
    state = {
        "v_mem": leaf(-70.0, 25.0, (BATCH, *case.neurons)),
        "u": leaf(-16.0, -8.0, (BATCH, *case.neurons)),
    }
    params = IzhikevichParams(
        a=leaf(0.01, 0.1),
        b=leaf(0.15, 0.3),
        c=leaf(-70.0, -50.0),
        d=leaf(0.5, 8.0),
        dt=0.5 if case.steps > 8 else 1.0,
        spike_threshold=torch.tensor(30.0, dtype=x.dtype, device=x.device),
        spike_fn=SingleSpike,
        surrogate_grad_fn=IZH_SURROGATES[case.surrogate],
    )
    return x, state, params, leaves


def _build_adex(
    case: Case, leaf: Callable[..., torch.Tensor], leaves: list
) -> tuple[torch.Tensor, dict, Any, list]:
    """Currents and states around the paper's regular-spiking cell that make neurons
    spike within a few steps of 0.1 ms (some start above V_peak, in the exponential's
    cap and the min's other branch) and adapt (w jumps by b); every parameter a leaf,
    V_peak too (its gradient comes through min(v, V_peak) only)."""
    x = leaf(0.0, 3000.0, (BATCH, case.steps, *case.neurons))
    state = {
        "v_mem": leaf(-65.0, 25.0, (BATCH, *case.neurons)),
        "w": leaf(0.0, 200.0, (BATCH, *case.neurons)),
    }
    params = AdExParams(
        C=leaf(200.0, 300.0),
        g_L=leaf(20.0, 40.0),
        E_L=leaf(-72.0, -68.0),
        V_T=leaf(-52.0, -48.0),
        Delta_T=leaf(1.5, 2.5),
        tau_w=leaf(100.0, 200.0),
        a=leaf(2.0, 6.0),
        b=leaf(60.0, 100.0),
        V_r=leaf(-72.0, -60.0),
        # per neuron also near V_T, where a state above V_peak steps to just above it:
        # V_peak's gradient through min(v, V_peak) meets a nonzero surrogate
        V_peak=leaf(-46.0, 20.0) if case.per_neuron else leaf(15.0, 20.0),
        dt=0.1,
        spike_fn=SingleSpike,
        surrogate_grad_fn=ADEX_SURROGATES[case.surrogate],
    )
    return x, state, params, leaves


def _build_resonate(
    case: Case, leaf: Callable[..., torch.Tensor], leaves: list
) -> tuple[torch.Tensor, dict, Any, list]:
    """Inputs and states that make some neurons spike within a few steps; every
    parameter the kernels train is a leaf (omega, b or b_offset, the reset values or
    gamma); the threshold (per neuron with ``per_neuron``) and dt are constants."""
    balanced = case.family == "resonate_balanced"
    x = leaf(-5.0 if not balanced else 0.0, 40.0, (BATCH, case.steps, *case.neurons))
    state = {
        "z_re": leaf(-1.0, 2.0, (BATCH, *case.neurons)),
        "z_im": leaf(-0.5, 1.2, (BATCH, *case.neurons)),
    }
    if balanced:
        state["q"] = leaf(0.0, 1.0, (BATCH, *case.neurons))
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 3)
    shape = case.neurons if case.per_neuron else ()
    threshold = (torch.rand(shape, generator=gen, dtype=torch.float64) * 0.4 + 0.8).to(x)
    omega = leaf(2.0, 15.0 if balanced else 8.0)
    params = ResonateParams(
        omega=omega,
        b=None if balanced else leaf(-2.0, -0.5),
        dt=0.05,
        spike_threshold=threshold.detach(),
        x_reset=None if balanced else leaf(-0.3, 0.3),
        y_reset=None if balanced else leaf(-0.5, 0.0),
        b_offset=leaf(0.0, 1.0) if balanced else None,
        gamma=leaf(0.5, 0.95) if balanced else None,
        spike_fn=SingleSpike,
        surrogate_grad_fn=RF_SURROGATES[case.surrogate],
    )
    return x, state, params, leaves


def neutral(case: Case, device: str = "cpu") -> tuple[torch.Tensor | KernelConfig, ...]:
    """The neutral-form arguments (detached) of ``case``: x, v0, i0, b0, u0, params, cfg."""
    x, state, params, _ = build(case, device)
    prepared = prepare(case.family, x.detach(), {k: v.detach() for k, v in state.items()}, params)
    assert not isinstance(prepared, str), prepared
    cfg = dataclasses.replace(prepared.config, record=case.record)
    rows = torch.stack(prepared.rows).detach()
    return prepared.x, prepared.v0, prepared.i0, prepared.b0, prepared.u0, rows, cfg


def upstream(case: Case, outputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Random gradients of the outputs but out_sum (its gradient is folded into g_out by
    the op, ops.py); only g_out when ``case.upstream == "out"``."""
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 1)
    outputs = outputs[: len(OUTPUTS) - 1]
    up = [torch.rand(r.shape, generator=gen, dtype=torch.float64).to(r) * 2 - 1 for r in outputs]
    if case.upstream == "out":
        return [up[0]] + [outputs[0].new_empty(0)] * (len(up) - 1)
    return up


# ---------------------------------------------------------------- comparisons


def grads_close(name: str, got: Any, ref: Any) -> list[str]:
    if ref is None and got is None:
        return []
    ref = torch.zeros_like(got) if ref is None else ref
    got = torch.zeros_like(ref) if got is None else got
    if got.shape != ref.shape:
        return [f"{name}: shape {tuple(got.shape)} != {tuple(ref.shape)}"]
    atol = 1e-5 * ref.abs().max().item() if ref.numel() else 0.0
    if not torch.allclose(got, ref, rtol=1e-5, atol=atol):
        err = (got - ref).abs().max().item()
        return [f"{name}: max error {err:.3g} (max |ref| {ref.abs().max().item():.3g})"]
    return []


def equal(name: str, got: torch.Tensor, ref: torch.Tensor, any_empty: bool = False) -> list[str]:
    if any_empty and got.numel() == ref.numel() == 0:
        return []
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return [f"{name}: {tuple(got.shape)} {got.dtype} != {tuple(ref.shape)} {ref.dtype}"]
    if name == "out_sum":  # a float64 reduction in another order: equal up to rounding
        rtol = 1e-6 if got.dtype == torch.float32 else 1e-12
        if not torch.allclose(got.cpu(), ref.cpu(), rtol=rtol, atol=0.0):
            return [f"{name}: {got.item()} != {ref.item()}"]
        return []
    if not torch.equal(got, ref):
        return [f"{name}: differs at {int((got != ref).sum())} elements"]
    return []


# ---------------------------------------------------------------- the two checks


class KernelScan(torch.autograd.Function):
    """A kernel's forward and backward (neutral form) as an autograd function."""

    @staticmethod
    def forward(ctx: Any, x, v0, i0, b0, u0, params, cfg, forward, backward):  # type: ignore[override]
        ctx.save_for_backward(x, v0, i0, b0, u0, params)
        ctx.cfg, ctx.backward = cfg, backward
        return forward(x, v0, i0, b0, u0, params, cfg)

    @staticmethod
    def backward(ctx: Any, *grads):  # type: ignore[override]
        x, v0, i0, b0, u0, params = ctx.saved_tensors
        *grads, g_sum = grads
        if g_sum is not None:  # out_sum = out.sum(), as ops.py folds it
            grads[0] = g_sum.expand(x.shape) if grads[0] is None else grads[0] + g_sum
        grads = [x.new_empty(0) if g is None else g.contiguous() for g in grads]
        g = ctx.backward(*grads, x, v0, i0, b0, u0, params, ctx.cfg)
        return (*g, None, None, None)


def check_against_torch_impl(
    case: Case, forward: Kernel, backward: Kernel, device: str = "cpu"
) -> list[str]:
    """Neutral form: forward bit-identical, backward within tolerance."""
    args = neutral(case, device)
    got = forward(*args)
    ref = torch_impl.scan_forward(*args)
    # At T = 0 torch_impl returns (0,) recordings where the op's fake (and the
    # reference) say (B, 0, N); the kernels follow the fake.
    errors = [
        e
        for n, g, r in zip(OUTPUTS, got, ref, strict=True)
        for e in equal(n, g, r, any_empty=case.steps == 0)
    ]
    up = upstream(case, ref)
    got_g = backward(*up, *args)
    ref_g = torch_impl.scan_backward(*up, *args)
    for n, g, r in zip(GRADIENTS, got_g, ref_g, strict=True):
        errors += grads_close(n, g, r)
    return [f"torch_impl {e}" for e in errors]


#: the layer's name of the second state of the point-neuron families (the kernels' u)
_SECOND_STATE = {"izhikevich": "u", "adex": "w"}


def _layer_tensors(
    case: Case, out: torch.Tensor, state: dict, rec: dict
) -> list[tuple[str, torch.Tensor]]:
    """The compared tensors of a layer-form run, by name: the output, the final states
    the case has, and its recordings."""
    if case.family in RESONATE_FAMILIES:  # (z_re, z_im, q: the kernels' v, u, b)
        return _resonate_tensors(case, out, state, rec)
    pairs = [("out", out), ("v", state["v_mem"])]
    if case.syn:
        pairs.append(("i", state["i_syn"]))
    if case.family == "adaptive":
        pairs.append(("b", state["b"]))
    second = _SECOND_STATE.get(case.family)
    if second is not None:
        pairs.append((second, state[second]))
    if case.record:
        pairs.append(("rec_v", rec["v_mem"]))
        if case.syn:
            pairs.append(("rec_i", rec["i_syn"]))
        if case.family == "adaptive":
            pairs.append(("rec_b", rec["b"]))
        if second is not None:
            pairs.append((f"rec_{second}", rec[second]))
    return pairs[:1] if case.upstream == "out" else pairs


def _resonate_tensors(
    case: Case, out: torch.Tensor, state: dict, rec: dict
) -> list[tuple[str, torch.Tensor]]:
    names = ["z_re", "z_im", "q"] if case.family == "resonate_balanced" else ["z_re", "z_im"]
    pairs = [("out", out)] + [(n, state[n]) for n in names]
    if case.record:
        pairs += [(f"rec_{n}", rec[n]) for n in names]
    return pairs[:1] if case.upstream == "out" else pairs


def _loss(case: Case, tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    """A random weighted sum of ``tensors``, seeded by the case (the weights rounded to
    the case's dtype, also where the tensors are float64: :func:`_float64_gradients`)."""
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 2)
    total = torch.zeros((), dtype=tensors[0].dtype, device=tensors[0].device)
    for t in tensors:
        w = torch.rand(t.shape, generator=gen, dtype=torch.float64).to(case.torch_dtype)
        total = total + (w.to(t) * t).sum()
    return total


def _float64_gradients(case: Case, device: str) -> tuple[torch.Tensor | None, ...]:
    """The reference's leaf gradients of the same loss, computed in float64 from the
    case's values (float32 cases: their values, rounded to float32)."""
    x, state, params, leaves = build(case, device, widen=True)
    out, new_state, rec = reference_scan(case.family, x, dict(state), params, record=case.record)
    loss = _loss(case, [t for _, t in _layer_tensors(case, out, new_state, rec)])
    return torch.autograd.grad(loss, leaves, allow_unused=True)


def _as_accurate(got: Any, ref: Any, exact: Any) -> bool:
    """Whether a float32 gradient ``got`` is as close to the float64 value ``exact`` as
    the float32 reference ``ref`` is, within 1e-5 of its magnitude: where a gradient
    sums terms that cancel (a trained threshold's reset and spike terms), both are
    farther from ``exact`` than 1e-5 of the small result, in different directions."""
    if exact is None:
        return got is None or not bool(got.any())
    exact = exact.double()
    got_err = (torch.zeros_like(exact) if got is None else got.double() - exact).abs().max()
    ref_err = (torch.zeros_like(exact) if ref is None else ref.double() - exact).abs().max()
    return bool(got_err <= ref_err + 1e-5 * exact.abs().max())


def check_against_reference(
    case: Case, forward: Kernel, backward: Kernel, device: str = "cpu"
) -> list[str]:
    """Layer form through prepare(): forward bit-identical, all leaf gradients close
    (float32 gradients that miss the reference by more than 1e-5 of their size pass
    when they are as close to the float64 gradient as the reference is,
    :func:`_as_accurate`)."""
    x, state, params, leaves = build(case, device)
    ref_out, ref_state, ref_rec = reference_scan(
        case.family, x, dict(state), params, record=case.record
    )
    prepared = prepare(case.family, x, state, params)
    assert not isinstance(prepared, str), prepared
    cfg = dataclasses.replace(prepared.config, record=case.record)
    rows = torch.stack(prepared.rows)  # differentiable: autograd maps row grads to leaves
    got = KernelScan.apply(
        prepared.x,
        prepared.v0,
        prepared.i0,
        prepared.b0,
        prepared.u0,
        rows,
        cfg,
        forward,
        backward,
    )
    seq = (BATCH, case.steps, *case.neurons)
    st = (BATCH, *case.neurons)
    # the kernels' states and recordings (absent ones are empty; at T = 0 the
    # recordings are empty too, and reshape to (B, 0, ...))
    names = [cfg.layer_name(s.name) for s in STATES]  # (AdEx w, resonate z_re, ...)
    got_state = {n: got[1 + j].reshape(st) for j, n in enumerate(names) if got[1 + j].numel()}
    got_rec = {n: got[5 + j] for j, n in enumerate(names)}
    got_rec = {n: t.reshape(seq) for n, t in got_rec.items() if t.numel() or case.steps == 0}
    all_cases = dataclasses.replace(case, upstream="all")
    got_pairs = _layer_tensors(all_cases, got[0].reshape(seq), got_state, got_rec)
    ref_pairs = _layer_tensors(all_cases, ref_out, ref_state, ref_rec)
    errors = [
        e for (n, g), (_, r) in zip(got_pairs, ref_pairs, strict=True) for e in equal(n, g, r)
    ]
    compared = len(_layer_tensors(case, ref_out, ref_state, ref_rec))
    got_loss = _loss(case, [g for _, g in got_pairs[:compared]])
    ref_loss = _loss(case, [r for _, r in ref_pairs[:compared]])
    got_g = torch.autograd.grad(got_loss, leaves, allow_unused=True)
    ref_g = torch.autograd.grad(ref_loss, leaves, allow_unused=True)
    exact: tuple[torch.Tensor | None, ...] | None = None
    for k, (g, r) in enumerate(zip(got_g, ref_g, strict=True)):
        failed = grads_close(f"leaf {k} {tuple(leaves[k].shape)}", g, r)
        if failed and case.dtype == "f32":
            exact = _float64_gradients(case, device) if exact is None else exact
            failed = [] if _as_accurate(g, r, exact[k]) else failed
        errors += failed
    return [f"reference {e}" for e in errors]
