"""Leaky integrate-and-fire neurons: ``LIF``, ``LIFRecurrent``, ``LIFSqueeze``."""

from __future__ import annotations

from typing import Any

import torch

from ..activation import MultiSpike
from ..dynamics.params import LeakyParams, SpikingParams
from ..dynamics.registry import check_backend_name
from ._neuron import (
    TimeConstants,
    cast,
    check_spike_fn,
    check_train_threshold,
    default_reset,
    default_surrogate,
    trainable,
)
from .recurrent import recurrent_variant
from .reshape import squeeze_variant
from .stateful_layer import StatefulLayer, check_input, frozen, lower_bound, threshold_tensor


class LIF(TimeConstants, StatefulLayer):
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
        train_threshold: learn θ: ``spike_threshold`` becomes a trainable parameter
            whose gradient flows through the spike function,
            :math:`\partial s_t / \partial \theta = -g(v_t, \theta)` with ``g`` the
            surrogate, and through the subtractive reset (:math:`-s_t`). Scalar or per
            neuron, as given. The fused backends give θ both gradients (``"auto"``
            runs them as without it).

    Shape:
        input ``(B, T, *neurons)``, output (spikes) the same; states ``(B, *neurons)``.

    Example:
        >>> lif = LIF(tau_mem=20.0, record_states=True)
        >>> spikes = lif(torch.rand(8, 100, 32))
        >>> lif.recordings["v_mem"].shape
        torch.Size([8, 100, 32])
    """

    _time_constants = ("mem", "syn")
    _repr_keys = ("tau_mem", "tau_syn", "spike_threshold", "min_v_mem", "norm_input")
    _repr_flags = ("train_threshold",)
    # the class default for objects pickled by sinabs 3.x (no such attribute)
    train_threshold: bool = False

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
        train_threshold: bool = False,
    ) -> None:
        super().__init__(["v_mem", "i_syn"] if tau_syn is not None else ["v_mem"])
        # tau_mem=None: no leak (IAF keeps a None entry named tau_mem, as sinabs)
        self._init_time_constants(train_alphas, mem=tau_mem, syn=tau_syn)
        self.spike_fn = check_spike_fn(spike_fn)
        spiking = spike_fn is not None
        self.reset_fn = default_reset(reset_fn) if spiking else reset_fn
        self.surrogate_grad_fn = (
            default_surrogate(surrogate_grad_fn) if spiking else surrogate_grad_fn
        )
        self.norm_input = norm_input
        self.record_states = record_states
        self.backend = check_backend_name(backend)
        self.train_threshold = check_train_threshold(
            train_threshold, spiking and spike_threshold is not None
        )
        threshold = None if spike_threshold is None else threshold_tensor(spike_threshold)
        self.spike_threshold = (
            None if threshold is None else trainable(threshold, self.train_threshold)
        )
        self.min_v_mem = (
            None
            if min_v_mem is None
            else frozen(lower_bound(min_v_mem, threshold if spiking else None))
        )
        if shape:
            self.init_state_with_shape(shape)

    # ---- time constants (sinabs's names) ------------------------------------------------

    @property
    def _leak_free(self) -> bool:
        return not self.train_alphas and self.tau_mem is None

    @property
    def alpha_mem_calculated(self) -> torch.Tensor:
        """Membrane decay factor :math:`e^{-1/\\tau_{mem}}` (1 without leak)."""
        alpha = self._decay("mem")
        return torch.tensor(1.0) if alpha is None else alpha

    @property
    def alpha_syn_calculated(self) -> torch.Tensor | None:
        """Synaptic decay factor, or None without synaptic state."""
        return self._decay("syn")

    @property
    def tau_mem_calculated(self) -> torch.Tensor | None:
        return self._tau("mem")

    @property
    def tau_syn_calculated(self) -> torch.Tensor | None:
        return self._tau("syn")

    # ---- forward ------------------------------------------------------------------------

    def _dynamics_params(self, dtype: torch.dtype) -> LeakyParams:
        alpha_syn = self._decay("syn")
        leaky = LeakyParams(
            alpha_mem=None if self._leak_free else cast(self._decay("mem"), dtype),
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
            train_threshold=self.train_threshold,
        )

    @property
    def _family(self) -> str:
        return "leaky" if self._spike_spec is None else "spiking"

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Runs the neurons over ``input_data`` ``(B, T, ...)``; returns spikes ``(B, T, ...)``."""
        x = check_input(input_data)
        return self._run_dynamics(self._family, x, self._dynamics_params)


LIFRecurrent = recurrent_variant(LIF, __name__, after="tau_mem")
LIFSqueeze = squeeze_variant(LIF, __name__)
