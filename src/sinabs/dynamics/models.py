r"""Reference dynamics of the point-neuron models: Izhikevich, AdEx, resonate-and-fire.

Each model is a parameter bundle and a single-step function ``(x_t, state, params) ->
(spikes_t, state)`` that the reference scan (``sinabs.dynamics.reference.scan``) runs
over time, like the leaky, spiking and adaptive families. Izhikevich, AdEx and
resonate-and-fire are also fused families (:data:`sinabs.dynamics.families.FAMILIES`:
the kernels run :func:`izhikevich_step`, :func:`adex_step` and :func:`resonate_step` in
their order of operations; AdEx's exponential is :func:`fixed_exp`, the same bits on
every backend; the two forms of resonate-and-fire are the families ``resonate`` and
``resonate_balanced``, one step function).

Common to the models with a hard reset (Izhikevich, AdEx, plain resonate-and-fire):
each step integrates, then spikes where the spiking variable reaches its threshold,
then resets, so the state after a step is the post-reset state and a spike appears in
the step whose input made the neuron cross. The output is
``spike_fn.apply(v, θ, surrogate)`` (``SingleSpike``: :math:`[v - \theta \ge 0]` with
the surrogate's gradient); the reset is decided by the same comparison
:math:`v \ge \theta`, taken directly, and lets no gradient through the spike (as
:class:`~sinabs.activation.MembraneReset`): the reset values and increments
(``c``, ``d``, ``V_r``, ``b``) receive their gradients, the states are selected with
``torch.where`` so that the values are exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..activation.reset_mechanism import State

__all__ = [
    "ADEX_EXP_CAP",
    "ADEX_EXP_FLOOR",
    "EXP_CONSTANTS",
    "MODEL_STEPS",
    "AdExParams",
    "ExpConstants",
    "IzhikevichParams",
    "ResonateParams",
    "adex_step",
    "divergence_boundary",
    "fixed_exp",
    "izhikevich_step",
    "resonate_step",
]

#: the largest exponent AdEx passes to ``exp``: e^80 ≈ 5.5e34, finite in float32
ADEX_EXP_CAP = 80.0
#: the smallest exponent AdEx passes to ``exp`` (e^-80 ≈ 1.8e-35, a normal float32;
#: the term is then below 1e-34 of g_L Delta_T)
ADEX_EXP_FLOOR = -80.0


# ---------------------------------------------------------------------------------------
# A deterministic exponential


def _round_to(value: float, dtype: torch.dtype) -> float:
    """``value`` rounded to ``dtype`` (a Python float that the dtype holds exactly)."""
    return float(torch.tensor(value, dtype=torch.float64).to(dtype))


@dataclass(frozen=True)
class ExpConstants:
    """The constants of :func:`fixed_exp` for one dtype, each rounded to it.

    Attributes:
        log2e: log2(e).
        ln2_hi: the high part of ln 2 (trailing zero bits, so that ``n * ln2_hi`` is
            exact).
        ln2_lo: ln 2 minus ``ln2_hi``.
        coefficients: the Taylor coefficients 1/k!, highest degree first (the last is
            1/0! = 1).
    """

    log2e: float
    ln2_hi: float
    ln2_lo: float
    coefficients: tuple[float, ...]

    @property
    def values(self) -> tuple[float, ...]:
        """All of them in one tuple (the Triton kernels load them from a tensor)."""
        return (self.log2e, self.ln2_hi, self.ln2_lo, *self.coefficients)


#: log2(e) rounded to a double (the C kernel spells the same literal)
_LOG2E = 1.4426950408889634


def _exp_constants(dtype: torch.dtype, ln2_hi: float, ln2_lo: float, degree: int) -> ExpConstants:
    coefficients = tuple(_round_to(1.0 / math.factorial(k), dtype) for k in range(degree, -1, -1))
    log2e, hi, lo = (_round_to(value, dtype) for value in (_LOG2E, ln2_hi, ln2_lo))
    return ExpConstants(log2e, hi, lo, coefficients)


#: the constants of ``fixed_exp`` by dtype, each already rounded to it. ln2's high
#: parts end in zero bits (float32 9 significant bits, float64 32), so ``n * ln2_hi`` is
#: exact for every ``|n| < 2^15`` (float32) and ``2^21`` (float64); the degrees (7 and
#: 13) leave a truncation error below 0.1 ulp for ``|r| <= ln2 / 2``.
EXP_CONSTANTS: dict[torch.dtype, ExpConstants] = {
    torch.float32: _exp_constants(torch.float32, 0.693359375, -2.12194440e-4, 7),
    torch.float64: _exp_constants(
        torch.float64, 6.93147180369123816490e-01, 1.90821492927058770002e-10, 13
    ),
}


def _fixed_exp_value(x: torch.Tensor) -> torch.Tensor:
    c = EXP_CONSTANTS[x.dtype]
    n = torch.floor(x * c.log2e + 0.5)
    r = (x - n * c.ln2_hi) - n * c.ln2_lo
    first, second, *rest = c.coefficients
    p = r * first + second  # Horner's rule, highest degree first
    for coefficient in rest:
        p = p * r + coefficient
    # 2^n from its bits: the biased exponent n + 127 (float32) or n + 1023 (float64)
    if x.dtype == torch.float32:
        scale = ((n.to(torch.int32) + 127) << 23).view(torch.float32)
    else:
        scale = ((n.to(torch.int64) + 1023) << 52).view(torch.float64)
    return p * scale


class _FixedExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        result = _fixed_exp_value(x)
        ctx.save_for_backward(result)
        return result

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (result,) = ctx.saved_tensors
        return grad * result


def fixed_exp(x: torch.Tensor) -> torch.Tensor:
    r""":math:`e^x` as a fixed sequence of IEEE operations in ``x``'s dtype (float32 or
    float64): the same bits on every backend and processor, where ``torch.exp``, C's
    ``exp`` and Triton's ``exp`` are different implementations. The fused kernels
    evaluate the same operations in the same order (no FMA: the C build uses
    ``-ffp-contract=off``, the Triton launches ``enable_fp_fusion=False``).

    Cody and Waite's reduction: :math:`n = \lfloor x \log_2 e + 1/2 \rfloor`,
    :math:`r = (x - n\,\ln 2_{hi}) - n\,\ln 2_{lo}` (``n ln2_hi`` is exact), then
    :math:`e^r` by Horner's rule on the Taylor polynomial of degree 7 (float32) or 13
    (float64), each operation rounded in the dtype, times :math:`2^n` built from its
    exponent bits (:data:`EXP_CONSTANTS`). Within 2 ulp of :math:`e^x` for
    :math:`|x| \le 80` in both dtypes (tests/dynamics/test_fixed_exp.py); defined for
    that range only, where :math:`2^n` is a normal number in float32 (callers clamp,
    as :func:`adex_step` does). Its gradient is ``grad * fixed_exp(x)``.

    Example:
        >>> x = torch.linspace(-80, 80, 5, dtype=torch.float64)
        >>> torch.allclose(fixed_exp(x), torch.exp(x), rtol=1e-15, atol=0)
        True
    """
    if x.dtype not in EXP_CONSTANTS:
        raise TypeError(f"fixed_exp: x must be float32 or float64, got {x.dtype}")
    result: torch.Tensor = _FixedExp.apply(x)
    return result


def _spike(v: torch.Tensor, threshold: Any, p: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """The output spikes (with the surrogate gradient) and where the neurons fired."""
    spikes = p.spike_fn.apply(v, threshold, p.surrogate_grad_fn)
    return spikes, v >= threshold


# ---------------------------------------------------------------------------------------
# Izhikevich (2003)


@dataclass(frozen=True)
class IzhikevichParams:
    r"""Izhikevich's simple model (IEEE TNN 2003), stepped as the paper's code steps it.

    .. math::
        v &\leftarrow v + \tfrac{\Delta t}{2}(0.04 v^2 + 5 v + 140 - u + I)
            \quad\text{(twice)}\\
        u &\leftarrow u + \Delta t\, a (b v - u)\\
        s &= [v \ge v_{peak}],\quad v \leftarrow c,\ u \leftarrow u + d \text{ where } s

    Attributes:
        a: time scale of the recovery variable (tensors broadcastable to the neurons).
        b: sensitivity of the recovery variable to ``v``.
        c: reset value of ``v``.
        d: increment of ``u`` at a spike.
        dt: the time step (ms); the paper's code uses 1.
        spike_threshold: :math:`v_{peak}`, 30 mV in the paper.
        spike_fn: the spike function (``SingleSpike``).
        surrogate_grad_fn: its surrogate gradient.
    """

    a: torch.Tensor
    b: torch.Tensor
    c: torch.Tensor
    d: torch.Tensor
    dt: float
    spike_threshold: torch.Tensor
    spike_fn: Any
    surrogate_grad_fn: Any

    state_names = ("v_mem", "u")


def izhikevich_step(
    x: torch.Tensor, state: State, p: IzhikevichParams
) -> tuple[torch.Tensor, State]:
    """One step of :class:`IzhikevichParams` (``x`` is the current I)."""
    v, u = state["v_mem"], state["u"]
    half = 0.5 * p.dt
    # the paper's expression, evaluated in its order: 0.04*v.^2+5*v+140-u+I
    v = v + half * (0.04 * (v * v) + 5 * v + 140 - u + x)
    v = v + half * (0.04 * (v * v) + 5 * v + 140 - u + x)
    u = u + p.dt * p.a * (p.b * v - u)
    spikes, fired = _spike(v, p.spike_threshold, p)
    v = torch.where(fired, p.c, v)
    u = torch.where(fired, u + p.d, u)
    return spikes, {"v_mem": v, "u": u}


# ---------------------------------------------------------------------------------------
# Adaptive exponential integrate-and-fire (Brette and Gerstner 2005)


@dataclass(frozen=True)
class AdExParams:
    r"""Adaptive exponential integrate-and-fire (Brette and Gerstner 2005), forward Euler.

    .. math::
        C \dot V &= -g_L (V - E_L) + g_L \Delta_T e^{(\min(V, V_{peak}) - V_T)/\Delta_T}
            - w + I\\
        \tau_w \dot w &= a (V - E_L) - w

    both right-hand sides from the state at the start of the step; then
    :math:`s = [V \ge V_{peak}]`, :math:`V \leftarrow V_r`, :math:`w \leftarrow w + b`
    where :math:`s`. The exponent is also clamped to
    [:data:`ADEX_EXP_FLOOR`, :data:`ADEX_EXP_CAP`] = [-80, 80] and the exponential is
    :func:`fixed_exp` (the same bits on every backend): below -80 the term is under
    1e-34 of :math:`g_L \Delta_T`.

    Attributes:
        C: membrane capacitance (pF).
        g_L: leak conductance (nS).
        E_L: leak reversal potential (mV).
        V_T: threshold potential (mV).
        Delta_T: slope factor (mV).
        tau_w: adaptation time constant (ms).
        a: subthreshold adaptation (nS).
        b: spike-triggered adaptation (pA).
        V_r: reset potential (mV).
        V_peak: spike detection potential (mV).
        dt: time step (ms).
        spike_fn: as :class:`IzhikevichParams`.
        surrogate_grad_fn: as :class:`IzhikevichParams`.
    """

    C: torch.Tensor
    g_L: torch.Tensor
    E_L: torch.Tensor
    V_T: torch.Tensor
    Delta_T: torch.Tensor
    tau_w: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    V_r: torch.Tensor
    V_peak: torch.Tensor
    dt: float
    spike_fn: Any
    surrogate_grad_fn: Any

    state_names = ("v_mem", "w")


def adex_step(x: torch.Tensor, state: State, p: AdExParams) -> tuple[torch.Tensor, State]:
    """One forward-Euler step of :class:`AdExParams` (``x`` is the current I, pA)."""
    v, w = state["v_mem"], state["w"]
    # exact for every state the model reaches (a step that ends at or above V_peak
    # resets), and finite for any V: the exponent is at most (V_peak - V_T) / Delta_T;
    # clamped below so that fixed_exp's 2^n stays a normal number in float32
    exponent = ((torch.minimum(v, p.V_peak) - p.V_T) / p.Delta_T).clamp(
        min=ADEX_EXP_FLOOR, max=ADEX_EXP_CAP
    )
    dv = (-p.g_L * (v - p.E_L) + p.g_L * p.Delta_T * fixed_exp(exponent) - w + x) / p.C
    dw = (p.a * (v - p.E_L) - w) / p.tau_w
    v = v + p.dt * dv
    w = w + p.dt * dw
    spikes, fired = _spike(v, p.V_peak, p)
    v = torch.where(fired, p.V_r, v)
    w = torch.where(fired, w + p.b, w)
    return spikes, {"v_mem": v, "w": w}


# ---------------------------------------------------------------------------------------
# Resonate-and-fire (Izhikevich 2001) and its balanced form (Higuchi et al. 2024)


@dataclass(frozen=True)
class ResonateParams:
    r"""Resonate-and-fire neurons: a complex membrane :math:`z = x + i y`, forward Euler.

    .. math::
        z \leftarrow z + \Delta t\,((b + i\omega) z + I)

    Plain (Izhikevich 2001): :math:`s = [y \ge \vartheta]`, and
    :math:`z \leftarrow x_r + i y_r` where :math:`s`.

    Balanced (Higuchi et al. 2024): the damping is
    :math:`b_t = p(\omega) - b_{offset} - q_{t-1}` with the divergence boundary
    :math:`p(\omega) = (-1 + \sqrt{1 - (\Delta t\,\omega)^2}) / \Delta t`,
    :math:`s = [x \ge \vartheta + q_{t-1}]`, :math:`q_t = \gamma q_{t-1} + s`; no reset.
    (This :math:`p(\omega)` is the boundary derived in :func:`divergence_boundary`; the
    same formula and the same uses of :math:`q_{t-1}` appear in a public port of the
    BRF neuron. The paper's own method section was not at hand to compare with.)

    Attributes:
        omega: angular frequency (rad per unit of time).
        b: damping (plain form), or None.
        dt: time step.
        spike_threshold: :math:`\vartheta`.
        x_reset: reset value of the real part (plain form), or None.
        y_reset: reset value of the imaginary part (plain form), or None.
        b_offset: the balanced form's offset of the damping below the boundary; None for
            the plain form.
        gamma: the balanced form's decay of q per step; None for the plain form.
        spike_fn: as :class:`IzhikevichParams`.
        surrogate_grad_fn: as :class:`IzhikevichParams`.
    """

    omega: torch.Tensor
    b: torch.Tensor | None
    dt: float
    spike_threshold: torch.Tensor
    x_reset: torch.Tensor | None
    y_reset: torch.Tensor | None
    b_offset: torch.Tensor | None
    gamma: torch.Tensor | None
    spike_fn: Any
    surrogate_grad_fn: Any

    @property
    def balanced(self) -> bool:
        return self.b_offset is not None

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("z_re", "z_im", "q") if self.balanced else ("z_re", "z_im")


def divergence_boundary(omega: torch.Tensor, dt: float) -> torch.Tensor:
    r""":math:`p(\omega) = (-1 + \sqrt{1 - (\Delta t\,\omega)^2}) / \Delta t`: the largest
    damping at which an Euler step of :math:`\dot z = (b + i\omega) z` does not grow
    (:math:`|1 + \Delta t (p + i\omega)| = 1`). For :math:`\Delta t\,|\omega| > 1` no
    damping keeps it from growing; the square root's argument is clamped at 0 there."""
    return (-1 + torch.sqrt((1 - (dt * omega) ** 2).clamp(min=0))) / dt


def resonate_step(x: torch.Tensor, state: State, p: ResonateParams) -> tuple[torch.Tensor, State]:
    """One forward-Euler step of :class:`ResonateParams` (``x`` drives the real part)."""
    re, im = state["z_re"], state["z_im"]
    if p.b_offset is None:
        assert p.b is not None and p.x_reset is not None and p.y_reset is not None
        new_re = re + p.dt * (p.b * re - p.omega * im + x)
        new_im = im + p.dt * (p.omega * re + p.b * im)
        spikes, fired = _spike(new_im, p.spike_threshold, p)
        # the input reaches y one step after x: a non-finite x shows in the output at
        # once (NaN, as spikes of a non-finite membrane are), not one step later
        spikes = spikes + (new_re - new_re)
        new_re = torch.where(fired, p.x_reset, new_re)
        new_im = torch.where(fired, p.y_reset, new_im)
        return spikes, {"z_re": new_re, "z_im": new_im}
    assert p.gamma is not None
    q = state["q"]
    b = divergence_boundary(p.omega, p.dt) - p.b_offset - q
    new_re = re + p.dt * (b * re - p.omega * im + x)
    new_im = im + p.dt * (p.omega * re + b * im)
    spikes = p.spike_fn.apply(new_re, p.spike_threshold + q, p.surrogate_grad_fn)
    return spikes, {"z_re": new_re, "z_im": new_im, "q": p.gamma * q + spikes}


#: the step of each model family, by the family's name
MODEL_STEPS: dict[str, Callable[[torch.Tensor, State, Any], tuple[torch.Tensor, State]]] = {
    "izhikevich": izhikevich_step,
    "adex": adex_step,
    "resonate": resonate_step,
    # the balanced form: the same step (the fused kernels take it as a family of its own)
    "resonate_balanced": resonate_step,
}
