"""Adaptive leaky integrate-and-fire neurons: ``ALIF``, ``ALIFRecurrent``, ``ALIFSqueeze``."""

from __future__ import annotations

from typing import Any

import torch

from ..activation import SingleSpike
from ..dynamics.params import AdaptiveParams
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
from .stateful_layer import (
    StatefulLayer,
    check_input,
    float_tensor,
    frozen,
    lower_bound,
    threshold_tensor,
)


class ALIF(TimeConstants, StatefulLayer):
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
        train_threshold: learn the base threshold :math:`b_0` (parameter ``b0``, scalar
            or per neuron): its gradient flows through the spike function,
            :math:`\partial s_t / \partial b_0 = -g(v_t, \theta_t)`, through the
            subtractive reset and through the ``spike_threshold`` state. The
            adaptation ``b`` keeps sinabs's gradients (none through the spike
            function). Fused backends: as :class:`LIF`.

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
    _time_constants = ("mem", "adapt", "syn")
    _repr_keys = (
        "tau_mem", "tau_syn", "tau_adapt", "adapt_scale", "spike_threshold", "min_v_mem",
        "norm_input",
    )  # fmt: skip
    _repr_flags = ("train_threshold",)
    # the class default for objects pickled by sinabs 3.x (no such attribute)
    train_threshold: bool = False
    _family = "adaptive"

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
        train_threshold: bool = False,
    ) -> None:
        synapse = ["i_syn"] if tau_syn is not None else []
        super().__init__(["v_mem", *synapse, "b", "spike_threshold"])
        self._init_time_constants(train_alphas, mem=tau_mem, adapt=tau_adapt, syn=tau_syn)
        self.train_threshold = check_train_threshold(train_threshold, spiking=True)
        self.b0 = trainable(threshold_tensor(spike_threshold), self.train_threshold)
        self.adapt_scale = frozen(float_tensor(adapt_scale, "adapt_scale"))
        self.spike_fn = check_spike_fn(spike_fn)
        if spike_fn is None:
            raise TypeError("spike_fn of an ALIF layer cannot be None")
        self.reset_fn = default_reset(reset_fn)
        self.surrogate_grad_fn = default_surrogate(surrogate_grad_fn)
        self.min_v_mem = None if min_v_mem is None else frozen(lower_bound(min_v_mem, self.b0))
        self.norm_input = norm_input
        self.record_states = record_states
        self.backend = check_backend_name(backend)
        if shape:
            self.init_state_with_shape(shape)

    @property
    def alpha_mem_calculated(self) -> torch.Tensor | None:
        return self._decay("mem")

    @property
    def alpha_adapt_calculated(self) -> torch.Tensor | None:
        return self._decay("adapt")

    @property
    def alpha_syn_calculated(self) -> torch.Tensor | None:
        return self._decay("syn")

    def _dynamics_params(self, dtype: torch.dtype) -> AdaptiveParams:
        alpha_syn = self._decay("syn")
        return AdaptiveParams(
            alpha_mem=cast(self._decay("mem"), dtype),
            alpha_syn=None if alpha_syn is None else cast(alpha_syn, dtype),
            norm_input=self.norm_input,
            min_v_mem=cast(self.min_v_mem, dtype),
            spike_threshold=cast(self.b0, dtype),
            spike_fn=self._spike_spec,
            reset_fn=self.reset_fn,
            surrogate_grad_fn=self.surrogate_grad_fn,
            alpha_adapt=cast(self._decay("adapt"), dtype),
            adapt_scale=cast(self.adapt_scale, dtype),
            train_threshold=self.train_threshold,
        )

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Runs the neurons over ``input_data`` ``(B, T, ...)``; returns spikes."""
        x = check_input(input_data)
        return self._run_dynamics(self._family, x, self._dynamics_params)

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


ALIFRecurrent = recurrent_variant(ALIF, __name__, after="tau_adapt")
ALIFSqueeze = squeeze_variant(ALIF, __name__)
