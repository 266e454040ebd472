"""sinabs 3.x functional API for adaptive LIF dynamics (see :class:`sinabs.layers.ALIF`).

Every function takes ``train_threshold`` (keyword, default False): with it a
``b0`` tensor that requires grad receives its exact gradient through the spike
function (and the reset), as the layers' ``train_threshold=True`` gives it.
"""

from __future__ import annotations

from typing import Any

import torch

from ...activation.reset_mechanism import State
from ...dynamics.params import AdaptiveParams
from ...dynamics.reference import RecConnect
from . import _mixed


def _params(
    alpha_mem: Any,
    alpha_adapt: Any,
    alpha_syn: Any,
    adapt_scale: Any,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    b0: Any,
    norm_input: bool,
    train_threshold: bool = False,
) -> AdaptiveParams:
    def tensor(value: Any) -> torch.Tensor | None:
        return None if value is None else torch.as_tensor(value)

    return AdaptiveParams(
        alpha_mem=tensor(alpha_mem),
        alpha_syn=tensor(alpha_syn),
        norm_input=norm_input,
        min_v_mem=tensor(min_v_mem),
        spike_threshold=b0,
        spike_fn=spike_fn,
        reset_fn=reset_fn,
        surrogate_grad_fn=surrogate_grad_fn,
        alpha_adapt=tensor(alpha_adapt),
        adapt_scale=adapt_scale,
        train_threshold=train_threshold,
    )


def alif_forward_single(
    input_data: torch.Tensor,
    alpha_mem: Any,
    alpha_adapt: Any,
    alpha_syn: Any,
    adapt_scale: Any,
    state: State,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    b0: Any,
    norm_input: bool,
    *,
    train_threshold: bool = False,
) -> tuple[torch.Tensor, State]:
    """One ALIF time step on ``input_data`` ``(B, ...)``; returns ``(spikes, new state)``."""
    params = _params(
        alpha_mem, alpha_adapt, alpha_syn, adapt_scale, spike_fn, reset_fn,
        surrogate_grad_fn, min_v_mem, b0, norm_input, train_threshold,
    )  # fmt: skip
    spikes, new_state = _mixed.step("adaptive", input_data, state, params)
    new_state.update(params.derive(new_state))  # the layer's spike_threshold
    return spikes, new_state


def alif_forward(
    input_data: torch.Tensor,
    alpha_mem: Any,
    alpha_adapt: Any,
    alpha_syn: Any,
    adapt_scale: Any,
    state: State,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    b0: Any,
    norm_input: bool,
    record_states: bool = False,
    *,
    train_threshold: bool = False,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """All time steps of ``input_data`` ``(B, T, ...)``; returns spikes, state, recordings."""
    params = _params(
        alpha_mem, alpha_adapt, alpha_syn, adapt_scale, spike_fn, reset_fn,
        surrogate_grad_fn, min_v_mem, b0, norm_input, train_threshold,
    )  # fmt: skip
    return _mixed.scan("adaptive", input_data, state, params, record=record_states)


def alif_recurrent(
    input_data: torch.Tensor,
    alpha_mem: Any,
    alpha_adapt: Any,
    alpha_syn: Any,
    adapt_scale: Any,
    state: State,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    rec_connect: RecConnect,
    b0: Any,
    norm_input: bool,
    record_states: bool = False,
    *,
    train_threshold: bool = False,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """As :func:`alif_forward`, with ``rec_connect(spikes_t)`` added to the input of t+1."""
    params = _params(
        alpha_mem, alpha_adapt, alpha_syn, adapt_scale, spike_fn, reset_fn,
        surrogate_grad_fn, min_v_mem, b0, norm_input, train_threshold,
    )  # fmt: skip
    return _mixed.scan(
        "adaptive", input_data, state, params, record=record_states, rec_connect=rec_connect
    )
