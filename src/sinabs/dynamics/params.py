"""Parameter bundles for the three dynamics families.

A bundle holds the tensors a scan needs (decay factors, thresholds, clamps) and the
callables that define spiking and reset. Layers build one per forward call from their
parameters; the functional API builds one from its arguments. Backends read them and
never modify them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..activation.reset_mechanism import State
from .families import FAMILIES, FAMILY_NAMES

#: ``reset_fn(spikes, state, threshold) -> new_state``
ResetFn = Callable[[torch.Tensor, State, Any], State]
#: ``surrogate(v_mem, threshold) -> d spikes / d v_mem``
SurrogateFn = Callable[[torch.Tensor, Any], torch.Tensor]


@dataclass(frozen=True)
class LeakyParams:
    r"""Leaky integration with an optional synaptic current.

    .. math::
        i_t &= \alpha_{syn} (i_{t-1} + x_t) \quad\text{(or } i_t = x_t \text{ without synapse)}\\
        v_t &= \alpha_{mem} v_{t-1} + u_t,\quad u_t = (1-\alpha_{mem}) i_t
              \text{ if norm\_input else } i_t\\
        v_t &\leftarrow \mathrm{relu}(v_t - m) + m \quad\text{(if min\_v\_mem is set)}

    Attributes:
        alpha_mem: membrane decay factor; None means no leak (:math:`\alpha_{mem} = 1`).
        alpha_syn: synaptic decay factor; None means no synaptic state.
        norm_input: scale the drive by :math:`1 - \alpha_{mem}`.
        min_v_mem: lower bound ``m`` of the membrane potential, or None.
    """

    alpha_mem: torch.Tensor | None
    alpha_syn: torch.Tensor | None = None
    norm_input: bool = False
    min_v_mem: torch.Tensor | None = None

    @property
    def state_names(self) -> list[str]:
        return ["v_mem", "i_syn"] if self.alpha_syn is not None else ["v_mem"]

    def derive(self, states: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The family's derived states (``FamilyDecl.derived_states``) from its kernel
        states, by name: states ``(B, ...)`` or recordings ``(B, T, ...)`` alike. The
        registry calls it once after any backend ran; this family derives none."""
        return {}


@dataclass(frozen=True)
class SpikingParams(LeakyParams):
    r"""Integrate, fire and reset (IAF, LIF): leaky integration, then per step

    .. math::
        s_t = f(v_t; \theta), \quad v_t \leftarrow \mathrm{reset}(v_t, s_t, \theta)

    and only then the clamp to ``min_v_mem``.

    Attributes:
        spike_threshold: θ, a scalar or a tensor broadcastable to the neurons.
        spike_fn: spike function following the ``required_states``/``apply`` protocol.
        reset_fn: reset mechanism.
        surrogate_grad_fn: surrogate gradient of the spike function.
        train_threshold: also back-propagate into ``spike_threshold`` through the
            spike function, :math:`\partial s / \partial \theta = -g(v, \theta)` (the
            spike regarded as a function of :math:`v - \theta`); without it the
            threshold gets a gradient only through the subtractive reset, as in
            sinabs 3.x. It changes no forward value and no other gradient.
    """

    spike_threshold: Any = 1.0
    spike_fn: Any = None
    reset_fn: ResetFn | None = None
    surrogate_grad_fn: SurrogateFn | None = None
    train_threshold: bool = False


@dataclass(frozen=True)
class AdaptiveParams(SpikingParams):
    r"""Adaptive threshold (ALIF): the spiking step with a threshold that adapts.

    .. math::
        \theta_t &= b_0 + \beta\, b_{t-1}\\
        s_t &= f(v_t; \theta_t), \quad v_t \leftarrow \mathrm{reset}(v_t, s_t, \theta_t)\\
        b_t &= \alpha_{adapt} b_{t-1} + (1 - \alpha_{adapt}) s_t

    The state ``spike_threshold`` stores :math:`b_0 + \beta b_t` after each step.
    ``spike_threshold`` of the base class holds :math:`b_0`.

    Attributes:
        alpha_adapt: decay factor of the adaptation variable ``b``.
        adapt_scale: β, the weight of ``b`` in the threshold.
    """

    alpha_adapt: torch.Tensor | None = None
    adapt_scale: Any = 1.8

    @property
    def state_names(self) -> list[str]:
        return [*super().state_names, "b", "spike_threshold"]

    def threshold(self, b: torch.Tensor) -> torch.Tensor:
        r"""The threshold :math:`b_0 + \beta b` for the adaptation ``b``."""
        return self.spike_threshold + self.adapt_scale * b

    def derive(self, states: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``spike_threshold``, :meth:`threshold` of ``b`` after each step."""
        return {"spike_threshold": self.threshold(states["b"])}


#: each family's derived states, by the family's name
_DERIVED = {name: FAMILIES[code].derived_states for name, code in FAMILY_NAMES.items()}


def kernel_states(family: str, state: Mapping[str, torch.Tensor]) -> State:
    """``state`` without the family's derived states (what every backend carries)."""
    derived = _DERIVED.get(family, ())  # the point-neuron models derive none
    return {name: value for name, value in state.items() if name not in derived}


def add_derived(
    family: str,
    params: LeakyParams,
    state: State,
    recordings: dict[str, torch.Tensor],
) -> None:
    """Adds the family's derived states to ``state`` and, when there are any, to
    ``recordings``: the one place where they are computed from a scan's kernel states
    (:meth:`LeakyParams.derive`), whichever backend ran it."""
    if _DERIVED.get(family):
        state.update(params.derive(state))
        if recordings:
            recordings.update(params.derive(recordings))
