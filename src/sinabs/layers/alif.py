"""Adaptive leaky integrate-and-fire neurons: ``ALIF``, ``ALIFRecurrent``, ``ALIFSqueeze``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..activation import SingleSpike
from ..dynamics.params import AdaptiveParams
from ..dynamics.registry import check_backend_name
from ._neuron import cast, check_spike_fn, decay, default_reset, default_surrogate
from .reshape import squeeze_variant
from .stateful_layer import (
    StatefulLayer,
    check_input,
    decay_factor,
    float_tensor,
    frozen,
    lower_bound,
    threshold_tensor,
    time_constant,
)


class ALIF(StatefulLayer):
    r"""LIF neurons with an adaptive threshold.

    The synapse and membrane update is exactly :class:`LIF`'s; then

    .. math::
        \theta_t &= b_0 + \beta\, b_{t-1}\\
        s_t &= \text{spike\_fn}(v_t, \theta_t), \quad
            v_t \leftarrow \text{reset\_fn}(v_t, s_t, \theta_t)\\
        b_t &= \alpha_{adapt} b_{t-1} + (1 - \alpha_{adapt})\, s_t\\
        v_t &\leftarrow \mathrm{relu}(v_t - m) + m \quad (\text{with min\_v\_mem } m)

    so the subtractive reset removes the *adaptive* threshold and ``b`` is not reset.
    The state ``spike_threshold`` holds :math:`b_0 + \beta b_t` after each step.

    Args:
        tau_mem: membrane time constant, scalar or per neuron.
        tau_adapt: time constant of the adaptation variable ``b``.
        tau_syn: synaptic time constant, or None.
        adapt_scale: β, the weight of ``b`` in the threshold.
        spike_threshold: the base threshold :math:`b_0` (stored as parameter ``b0``).
        spike_fn: ``SingleSpike`` (default), ``MultiSpike`` or ``MaxSpike(n)``.
        reset_fn: as :class:`LIF`.
        surrogate_grad_fn: as :class:`LIF`.
        min_v_mem: as :class:`LIF`.
        shape: as :class:`LIF`.
        train_alphas: as :class:`LIF`.
        norm_input: as :class:`LIF`.
        record_states: as :class:`LIF`.
        backend: as :class:`LIF`.

    Shape:
        input ``(B, T, *neurons)``; output the same; states ``v_mem``, [``i_syn``],
        ``b``, ``spike_threshold`` of shape ``(B, *neurons)``.

    Example:
        >>> alif = ALIF(tau_mem=20.0, tau_adapt=100.0, record_states=True)
        >>> spikes = alif(torch.rand(2, 50, 8))
        >>> sorted(alif.recordings)
        ['b', 'spike_threshold', 'v_mem']
    """

    _parameter_labels = {"b0": "spike_threshold"}  # noqa: RUF012 - read-only class table

    def __init__(
        self,
        tau_mem: float | torch.Tensor,
        tau_adapt: float | torch.Tensor,
        tau_syn: float | torch.Tensor | None = None,
        adapt_scale: float | torch.Tensor = 1.8,
        spike_threshold: float | torch.Tensor = 1.0,
        spike_fn: Any = SingleSpike,
        reset_fn: Any = None,
        surrogate_grad_fn: Any = None,
        min_v_mem: float | torch.Tensor | None = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        train_alphas: bool = False,
        norm_input: bool = True,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        synapse = ["i_syn"] if tau_syn is not None else []
        super().__init__(["v_mem", *synapse, "b", "spike_threshold"])
        if train_alphas:
            self.alpha_mem = nn.Parameter(decay_factor(tau_mem, "tau_mem"))
            self.alpha_adapt = nn.Parameter(decay_factor(tau_adapt, "tau_adapt"))
            self.alpha_syn = (
                nn.Parameter(decay_factor(tau_syn, "tau_syn")) if tau_syn is not None else None
            )
        else:
            self.tau_mem = nn.Parameter(time_constant(tau_mem, "tau_mem"))
            self.tau_adapt = nn.Parameter(time_constant(tau_adapt, "tau_adapt"))
            self.tau_syn = (
                nn.Parameter(time_constant(tau_syn, "tau_syn")) if tau_syn is not None else None
            )
        self.b0 = frozen(threshold_tensor(spike_threshold))
        self.adapt_scale = frozen(float_tensor(adapt_scale, "adapt_scale"))
        self.spike_fn = check_spike_fn(spike_fn)
        if spike_fn is None:
            raise TypeError("spike_fn of an ALIF layer cannot be None")
        self.reset_fn = default_reset(reset_fn)
        self.surrogate_grad_fn = default_surrogate(surrogate_grad_fn)
        self.min_v_mem = None if min_v_mem is None else frozen(lower_bound(min_v_mem, self.b0))
        self.train_alphas = train_alphas
        self.norm_input = norm_input
        self.record_states = record_states
        self.backend = check_backend_name(backend)
        if shape:
            self.init_state_with_shape(shape)

    @property
    def alpha_mem_calculated(self) -> torch.Tensor:
        return self.alpha_mem if self.train_alphas else decay(self.tau_mem)

    @property
    def alpha_adapt_calculated(self) -> torch.Tensor:
        return self.alpha_adapt if self.train_alphas else decay(self.tau_adapt)

    @property
    def alpha_syn_calculated(self) -> torch.Tensor | None:
        if self.train_alphas:
            return self.alpha_syn
        return None if self.tau_syn is None else decay(self.tau_syn)

    def _tau(self, name: str) -> torch.Tensor | None:
        if not self.train_alphas:
            return getattr(self, f"tau_{name}")
        alpha = getattr(self, f"alpha_{name}")
        return None if alpha is None else -1.0 / torch.log(alpha)

    def _dynamics_params(self, dtype: torch.dtype) -> AdaptiveParams:
        alpha_syn = self.alpha_syn_calculated
        return AdaptiveParams(
            alpha_mem=cast(self.alpha_mem_calculated, dtype),
            alpha_syn=None if alpha_syn is None else cast(alpha_syn, dtype),
            norm_input=self.norm_input,
            min_v_mem=cast(self.min_v_mem, dtype),
            spike_threshold=cast(self.b0, dtype),
            spike_fn=self._spike_spec,
            reset_fn=self.reset_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
            alpha_adapt=cast(self.alpha_adapt_calculated, dtype),
            adapt_scale=cast(self.adapt_scale, dtype),
        )

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Runs the neurons over ``input_data`` ``(B, T, ...)``; returns spikes."""
        x = check_input(input_data)
        return self._run_dynamics("adaptive", x, self._dynamics_params)

    def _live_config(self) -> dict[str, Any]:
        def current(name: str) -> torch.Tensor | None:
            tau = self._tau(name)
            return None if tau is None else tau.detach().clone()

        return {
            "tau_mem": current("mem"),
            "tau_adapt": current("adapt"),
            "tau_syn": current("syn"),
            "adapt_scale": self.adapt_scale,
            "spike_threshold": self.b0,
            "spike_fn": self.spike_fn,
            "reset_fn": self.reset_fn,
            "surrogate_grad_fn": self.surrogate_grad_fn,
            "min_v_mem": self.min_v_mem,
            "train_alphas": self.train_alphas,
            "norm_input": self.norm_input,
            "record_states": self.record_states,
            "shape": self.shape,
            "backend": self.backend,
        }

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: Any, strict: bool,
        missing_keys: list[str], *args: Any, **kwargs: Any,
    ) -> None:  # fmt: skip
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, *args, **kwargs
        )
        # sinabs 3.x kept b0, adapt_scale and min_v_mem out of the state_dict: a state_dict
        # saved there lacks them, and loading it keeps the constructor's values.
        for name in ("b0", "adapt_scale", "min_v_mem"):
            if prefix + name in missing_keys:
                missing_keys.remove(prefix + name)


class ALIFRecurrent(ALIF):
    """ALIF neurons with a recurrent connection (see :class:`sinabs.layers.LIFRecurrent`).

    Args:
        tau_mem, tau_adapt: as :class:`ALIF`.
        rec_connect: module applied to the spikes of step t; its output is added to the
            input of step t+1.
        **others: as :class:`ALIF`.
    """

    def __init__(
        self,
        tau_mem: float | torch.Tensor,
        tau_adapt: float | torch.Tensor,
        rec_connect: nn.Module,
        tau_syn: float | torch.Tensor | None = None,
        adapt_scale: float | torch.Tensor = 1.8,
        spike_threshold: float | torch.Tensor = 1.0,
        spike_fn: Any = SingleSpike,
        reset_fn: Any = None,
        surrogate_grad_fn: Any = None,
        min_v_mem: float | torch.Tensor | None = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        train_alphas: bool = False,
        norm_input: bool = True,
        record_states: bool = False,
        backend: str = "auto",
    ) -> None:
        super().__init__(
            tau_mem=tau_mem,
            tau_adapt=tau_adapt,
            tau_syn=tau_syn,
            adapt_scale=adapt_scale,
            spike_threshold=spike_threshold,
            spike_fn=spike_fn,
            reset_fn=reset_fn,
            surrogate_grad_fn=surrogate_grad_fn,
            min_v_mem=min_v_mem,
            shape=shape,
            train_alphas=train_alphas,
            norm_input=norm_input,
            record_states=record_states,
            backend=backend,
        )
        if not callable(rec_connect):
            raise TypeError(f"rec_connect must be a module or callable; got {rec_connect!r}")
        self.rec_connect = rec_connect

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        x = check_input(input_data)
        return self._run_dynamics("adaptive", x, self._dynamics_params, self.rec_connect)


ALIFSqueeze = squeeze_variant(ALIF, __name__)
