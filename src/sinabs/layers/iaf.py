"""Integrate-and-fire neurons: ``IAF``, ``IAFRecurrent``, ``IAFSqueeze``."""

from __future__ import annotations

from typing import Any

import torch

from ..activation import MultiSpike
from .lif import LIF
from .recurrent import recurrent_variant
from .reshape import squeeze_variant


class IAF(LIF):
    r"""Integrate-and-fire neurons: :class:`LIF` without leak and without input scaling.

    .. math::
        i_t = \alpha_{syn}(i_{t-1} + x_t) \text{ (or } x_t),\quad v_t = v_{t-1} + i_t,\quad
        s_t = \text{spike\_fn}(v_t, \theta),\quad v_t \leftarrow \text{reset\_fn}(v_t, s_t, \theta)

    Args: as :class:`LIF`, without ``tau_mem``, ``train_alphas`` and ``norm_input``
    (``train_threshold=True`` learns θ).

    Example:
        >>> iaf = IAF(spike_threshold=1.0)
        >>> iaf(torch.tensor([[[0.5], [0.7], [0.0], [2.5]]])).flatten()
        tensor([0., 1., 0., 2.])
    """

    def __init__(
        self,
        spike_threshold: float | torch.Tensor | None = 1.0,
        spike_fn: Any = MultiSpike,
        reset_fn: Any = None,
        surrogate_grad_fn: Any = None,
        tau_syn: float | torch.Tensor | None = None,
        min_v_mem: float | torch.Tensor | None = None,
        shape: torch.Size | tuple[int, ...] | None = None,
        record_states: bool = False,
        backend: str = "auto",
        train_threshold: bool = False,
    ) -> None:
        super().__init__(
            tau_mem=None,
            tau_syn=tau_syn,
            spike_threshold=spike_threshold,
            spike_fn=spike_fn,
            reset_fn=reset_fn,
            surrogate_grad_fn=surrogate_grad_fn,
            min_v_mem=min_v_mem,
            train_alphas=False,
            shape=shape,
            norm_input=False,
            record_states=record_states,
            backend=backend,
            train_threshold=train_threshold,
        )


IAFRecurrent = recurrent_variant(IAF, __name__, after=None)
IAFSqueeze = squeeze_variant(IAF, __name__)
