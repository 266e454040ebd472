r"""Reference dynamics of the point-neuron models: Izhikevich, AdEx, resonate-and-fire.

Each model is a parameter bundle and a single-step function ``(x_t, state, params) ->
(spikes_t, state)`` that the reference scan (``sinabs.dynamics.reference.scan``) runs
over time, like the leaky, spiking and adaptive families. Izhikevich and
resonate-and-fire are also fused families (:data:`sinabs.dynamics.families.FAMILIES`:
the kernels run :func:`izhikevich_step` and :func:`resonate_step` in their order of
operations; the two forms of resonate-and-fire are the families ``resonate`` and
``resonate_balanced``, one step function); AdEx runs on the reference backend only,
the fused backends report it as an unknown family.

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..activation.reset_mechanism import State

__all__ = [
    "ADEX_EXP_CAP",
    "MODEL_STEPS",
    "AdExParams",
    "IzhikevichParams",
    "ResonateParams",
    "adex_step",
    "divergence_boundary",
    "izhikevich_step",
    "resonate_step",
]

#: the largest exponent AdEx passes to ``exp``: e^80 ≈ 5.5e34, finite in float32
ADEX_EXP_CAP = 80.0


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
    where :math:`s`. The exponent is also capped at :data:`ADEX_EXP_CAP`.

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
    # resets), and finite for any V: the exponent is at most (V_peak - V_T) / Delta_T
    exponent = ((torch.minimum(v, p.V_peak) - p.V_T) / p.Delta_T).clamp(max=ADEX_EXP_CAP)
    dv = (-p.g_L * (v - p.E_L) + p.g_L * p.Delta_T * torch.exp(exponent) - w + x) / p.C
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
