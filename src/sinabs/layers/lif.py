"""Leaky integrate-and-fire neurons: ``LIF``, ``LIFRecurrent``, ``LIFSqueeze``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..activation import MultiSpike
from ..dynamics.params import LeakyParams, SpikingParams
from ..dynamics.registry import check_backend_name
from ._neuron import cast, check_spike_fn, decay, default_reset, default_surrogate
from .reshape import squeeze_variant
from .stateful_layer import (
    StatefulLayer,
    check_input,
    decay_factor,
    frozen,
    lower_bound,
    threshold_tensor,
    time_constant,
)


class LIF(StatefulLayer):
    r"""Leaky integrate-and-fire neurons, with an optional synaptic current.

    Per time step, for input :math:`x_t`:

    .. math::
        i_t &= \alpha_{syn} (i_{t-1} + x_t) \quad (i_t = x_t \text{ without tau\_syn})\\
        v_t &= \alpha_{mem} v_{t-1} + (1 - \alpha_{mem})\, i_t
              \quad (\text{or } + i_t \text{ without norm\_input})\\
        s_t &= \text{spike\_fn}(v_t, \theta), \quad
            v_t \leftarrow \text{reset\_fn}(v_t, s_t, \theta)\\
        v_t &\leftarrow \mathrm{relu}(v_t - m) + m \quad (\text{with min\_v\_mem } m)

    with :math:`\alpha = e^{-1/\tau}`. Note the synaptic decay also applies to the input
    of the step it arrives in, and the clamp comes after spiking and reset.

    Args:
        tau_mem: membrane time constant (time steps), scalar or per neuron.
        tau_syn: synaptic time constant; None for no synaptic state.
        spike_threshold: θ, scalar or per neuron (stored as a non-trainable parameter).
        spike_fn: ``MultiSpike`` (default), ``SingleSpike`` or ``MaxSpike(n)``.
        reset_fn: ``MembraneSubtract()`` (default) or ``MembraneReset()``.
        surrogate_grad_fn: surrogate gradient, default ``SingleExponential()``.
        min_v_mem: lower bound of the membrane potential, or None.
        train_alphas: learn the decay factors :math:`\alpha` instead of the taus.
        shape: state shape (batch included) to initialise to zeros now.
        norm_input: scale the drive by :math:`1 - \alpha_{mem}`.
        record_states: keep ``(B, T, ...)`` recordings of every state in
            ``self.recordings`` after each forward call.
        backend: implementation of the dynamics: ``"auto"`` (the fastest that supports
            the configuration), ``"reference"``, ``"cpu"`` or ``"triton"``; see
            :mod:`sinabs.dynamics.registry`.

    Shape:
        input ``(B, T, *neurons)``, output (spikes) the same; states ``(B, *neurons)``.

    Example:
        >>> lif = LIF(tau_mem=20.0, record_states=True)
        >>> spikes = lif(torch.rand(8, 100, 32))
        >>> lif.recordings["v_mem"].shape
        torch.Size([8, 100, 32])
    """

    def __init__(
        self,
        tau_mem: float | torch.Tensor | None,
        tau_syn: float | torch.Tensor | None = None,
        spike_threshold: float | torch.Tensor | None = 1.0,
        spike_fn: Any = MultiSpike,
        reset_fn: Any = None,
        surrogate_grad_fn: Any = None,
        min_v_mem: float | torch.Tensor | None = None,
        train_alphas: bool = False,
        shape: torch.Size | tuple[int, ...] | None = None,
        norm_input: bool = True,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(["v_mem", "i_syn"] if tau_syn is not None else ["v_mem"])
        if train_alphas:
            self.alpha_mem = nn.Parameter(decay_factor(tau_mem, "tau_mem"))
            self.alpha_syn = (
                nn.Parameter(decay_factor(tau_syn, "tau_syn")) if tau_syn is not None else None
            )
        else:
            # tau_mem=None: no leak (IAF keeps a None entry named tau_mem, as sinabs).
            self.tau_mem = (
                None if tau_mem is None else nn.Parameter(time_constant(tau_mem, "tau_mem"))
            )
            self.tau_syn = (
                nn.Parameter(time_constant(tau_syn, "tau_syn")) if tau_syn is not None else None
            )
        self.spike_fn = check_spike_fn(spike_fn)
        spiking = spike_fn is not None
        self.reset_fn = default_reset(reset_fn) if spiking else reset_fn
        self.surrogate_grad_fn = (
            default_surrogate(surrogate_grad_fn) if spiking else surrogate_grad_fn
        )
        self.train_alphas = train_alphas
        self.norm_input = norm_input
        self.record_states = record_states
        self.backend = check_backend_name(backend)
        threshold = None if spike_threshold is None else threshold_tensor(spike_threshold)
        self.spike_threshold = None if threshold is None else frozen(threshold)
        self.min_v_mem = (
            None
            if min_v_mem is None
            else frozen(lower_bound(min_v_mem, threshold if spiking else None))
        )
        if shape:
            self.init_state_with_shape(shape)

    # ---- time constants ---------------------------------------------------------------

    @property
    def _leak_free(self) -> bool:
        return not self.train_alphas and self.tau_mem is None

    @property
    def alpha_mem_calculated(self) -> torch.Tensor:
        """Membrane decay factor :math:`e^{-1/\\tau_{mem}}` (1 without leak)."""
        if self.train_alphas:
            return self.alpha_mem
        if self.tau_mem is None:
            return torch.tensor(1.0)
        return decay(self.tau_mem)

    @property
    def alpha_syn_calculated(self) -> torch.Tensor | None:
        """Synaptic decay factor, or None without synaptic state."""
        if self.train_alphas:
            return self.alpha_syn
        return None if self.tau_syn is None else decay(self.tau_syn)

    @property
    def tau_mem_calculated(self) -> torch.Tensor | None:
        if self.train_alphas:
            return None if self.alpha_mem is None else -1.0 / torch.log(self.alpha_mem)
        return self.tau_mem

    @property
    def tau_syn_calculated(self) -> torch.Tensor | None:
        if self.train_alphas:
            return None if self.alpha_syn is None else -1.0 / torch.log(self.alpha_syn)
        return self.tau_syn

    # ---- forward ------------------------------------------------------------------------

    def _dynamics_params(self, dtype: torch.dtype) -> LeakyParams:
        alpha_syn = self.alpha_syn_calculated
        leaky = LeakyParams(
            alpha_mem=None if self._leak_free else cast(self.alpha_mem_calculated, dtype),
            alpha_syn=None if alpha_syn is None else cast(alpha_syn, dtype),
            norm_input=self.norm_input,
            min_v_mem=cast(self.min_v_mem, dtype),
        )
        if self._spike_spec is None:
            return leaky
        return SpikingParams(
            **vars(leaky),
            spike_threshold=cast(self.spike_threshold, dtype),
            spike_fn=self._spike_spec,
            reset_fn=self.reset_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
        )

    @property
    def _family(self) -> str:
        return "leaky" if self._spike_spec is None else "spiking"

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Runs the neurons over ``input_data`` ``(B, T, ...)``; returns spikes ``(B, T, ...)``."""
        x = check_input(input_data)
        return self._run_dynamics(self._family, x, self._dynamics_params)

    def _live_config(self) -> dict[str, Any]:
        def current(tau: torch.Tensor | None) -> torch.Tensor | None:
            return None if tau is None else tau.detach().clone()

        return {
            "tau_mem": current(self.tau_mem_calculated) if not self._leak_free else None,
            "tau_syn": current(self.tau_syn_calculated),
            "spike_threshold": self.spike_threshold,
            "min_v_mem": self.min_v_mem,
            "spike_fn": self.spike_fn,
            "reset_fn": self.reset_fn,
            "surrogate_grad_fn": self.surrogate_grad_fn,
            "train_alphas": self.train_alphas,
            "norm_input": self.norm_input,
            "record_states": self.record_states,
            "shape": self.shape,
            "backend": self.backend,
        }


class LIFRecurrent(LIF):
    """LIF neurons with a recurrent connection.

    The spikes of step t pass through ``rec_connect`` (any module mapping
    ``(B, *neurons)`` to something reshapeable to it, e.g.
    ``nn.Sequential(nn.Flatten(), nn.Linear(N, N))``) and are added to the input of
    step t+1.

    Args:
        tau_mem: membrane time constant.
        rec_connect: the recurrent connection module.
        **others: as :class:`LIF`.
    """

    def __init__(
        self,
        tau_mem: float | torch.Tensor | None,
        rec_connect: nn.Module,
        tau_syn: float | torch.Tensor | None = None,
        spike_threshold: float | torch.Tensor | None = 1.0,
        spike_fn: Any = MultiSpike,
        reset_fn: Any = None,
        surrogate_grad_fn: Any = None,
        min_v_mem: float | torch.Tensor | None = None,
        train_alphas: bool = False,
        shape: torch.Size | tuple[int, ...] | None = None,
        norm_input: bool = True,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            tau_mem=tau_mem,
            tau_syn=tau_syn,
            spike_threshold=spike_threshold,
            spike_fn=spike_fn,
            reset_fn=reset_fn,
            surrogate_grad_fn=surrogate_grad_fn,
            min_v_mem=min_v_mem,
            train_alphas=train_alphas,
            shape=shape,
            norm_input=norm_input,
            record_states=record_states,
            backend=backend,
        )
        if not callable(rec_connect):
            raise TypeError(f"rec_connect must be a module or callable; got {rec_connect!r}")
        self.rec_connect = rec_connect

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        x = check_input(input_data)
        return self._run_dynamics(self._family, x, self._dynamics_params, self.rec_connect)


LIFSqueeze = squeeze_variant(LIF, __name__)
