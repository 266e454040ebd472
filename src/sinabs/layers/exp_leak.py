"""Leaky integrators without spikes: ``ExpLeak``, ``ExpLeakSqueeze``."""

from __future__ import annotations

import torch

from .lif import LIF
from .reshape import squeeze_variant


class ExpLeak(LIF):
    r"""Exponential leaky integrator: :class:`LIF` without spiking.

    .. math::
        v_t = \alpha v_{t-1} + u_t,\quad u_t = (1-\alpha) x_t \text{ if norm\_input else } x_t,
        \quad v_t \leftarrow \mathrm{relu}(v_t - m) + m

    The output is the membrane potential :math:`v_t` (after the clamp, equal to what is
    stored and recorded).

    Args:
        tau_mem: time constant, scalar or per neuron.
        shape: state shape to initialise now.
        train_alphas: learn :math:`\alpha` instead of ``tau_mem``.
        min_v_mem: lower bound of the membrane potential, or None.
        norm_input: scale the input by :math:`1 - \alpha`.
        record_states: keep recordings of ``v_mem``.

    Example:
        >>> leak = ExpLeak(tau_mem=10.0)
        >>> trace = leak(torch.rand(4, 50, 16))
    """

    def __init__(
        self,
        tau_mem: float | torch.Tensor,
        shape: torch.Size | tuple[int, ...] | None = None,
        train_alphas: bool = False,
        min_v_mem: float | torch.Tensor | None = None,
        norm_input: bool = False,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            tau_mem=tau_mem,
            tau_syn=None,
            spike_threshold=None,
            spike_fn=None,
            reset_fn=None,
            surrogate_grad_fn=None,
            min_v_mem=min_v_mem,
            train_alphas=train_alphas,
            shape=shape,
            norm_input=norm_input,
            record_states=record_states,
            backend=backend,
        )


ExpLeakSqueeze = squeeze_variant(ExpLeak, __name__)
