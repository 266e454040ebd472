"""sinabs 3.x functional API for (leaky) integrate-and-fire dynamics.

Thin adapters from sinabs's argument lists to the dynamics core
(:mod:`sinabs.dynamics`); the equations are documented there and on
:class:`sinabs.layers.LIF`.

Every function takes ``train_threshold`` (keyword, default False): with it a
``spike_threshold`` tensor that requires grad receives its exact gradient through the spike
function (and the reset), as the layers' ``train_threshold=True`` gives it.
"""

from __future__ import annotations

from typing import Any

import torch

from ...activation.reset_mechanism import State
from ...dynamics.params import LeakyParams, SpikingParams
from ...dynamics.reference import RecConnect
from . import _mixed


def _as_tensor(value: Any) -> torch.Tensor | None:
    return None if value is None else torch.as_tensor(value)


def _params(
    alpha_mem: Any,
    alpha_syn: Any,
    spike_threshold: Any,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    norm_input: bool,
    train_threshold: bool = False,
) -> tuple[str, LeakyParams]:
    leaky = LeakyParams(
        alpha_mem=_as_tensor(alpha_mem),
        alpha_syn=_as_tensor(alpha_syn),
        norm_input=norm_input,
        min_v_mem=_as_tensor(min_v_mem),
    )
    if not spike_fn:
        return "leaky", leaky
    spiking = SpikingParams(
        **vars(leaky),
        spike_threshold=spike_threshold,
        spike_fn=spike_fn,
        reset_fn=reset_fn,
        surrogate_grad_fn=surrogate_grad_fn,
        train_threshold=train_threshold,
    )
    return "spiking", spiking


def lif_forward_single(
    input_data: torch.Tensor,
    alpha_mem: Any,
    alpha_syn: Any,
    state: State,
    spike_threshold: Any,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    norm_input: bool,
    *,
    train_threshold: bool = False,
) -> tuple[torch.Tensor, State]:
    """One time step on ``input_data`` ``(B, ...)``; returns ``(spikes, new state)``.

    Without ``spike_fn`` (ExpLeak) the first element is the membrane potential.
    """
    family, params = _params(
        alpha_mem, alpha_syn, spike_threshold, spike_fn, reset_fn, surrogate_grad_fn,
        min_v_mem, norm_input, train_threshold,
    )  # fmt: skip
    return _mixed.step(family, input_data, state, params)


def lif_forward(
    input_data: torch.Tensor,
    alpha_mem: Any,
    alpha_syn: Any,
    state: State,
    spike_threshold: Any,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    norm_input: bool,
    record_states: bool = False,
    *,
    train_threshold: bool = False,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """All time steps of ``input_data`` ``(B, T, ...)``.

    Returns:
        ``(spikes (B, T, ...), final state, recordings {state name: (B, T, ...)})``.
    """
    family, params = _params(
        alpha_mem, alpha_syn, spike_threshold, spike_fn, reset_fn, surrogate_grad_fn,
        min_v_mem, norm_input, train_threshold,
    )  # fmt: skip
    return _mixed.scan(family, input_data, state, params, record=record_states)


def lif_recurrent(
    input_data: torch.Tensor,
    alpha_mem: Any,
    alpha_syn: Any,
    state: State,
    spike_threshold: Any,
    spike_fn: Any,
    reset_fn: Any,
    surrogate_grad_fn: Any,
    min_v_mem: Any,
    norm_input: bool,
    rec_connect: RecConnect,
    record_states: bool = False,
    *,
    train_threshold: bool = False,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """As :func:`lif_forward`, with ``rec_connect(spikes_t)`` added to the input of t+1."""
    family, params = _params(
        alpha_mem, alpha_syn, spike_threshold, spike_fn, reset_fn, surrogate_grad_fn,
        min_v_mem, norm_input, train_threshold,
    )  # fmt: skip
    return _mixed.scan(
        family, input_data, state, params, record=record_states, rec_connect=rec_connect
    )
