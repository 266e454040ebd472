"""The reference dynamics: plain PyTorch time loops, the oracle for every backend.

Each family is written once as a single-step function; :func:`scan` runs any of them
over time. Shapes: input ``(B, T, ...)``, state tensors ``(B, ...)``, outputs and
recordings ``(B, T, ...)``. The order of floating-point operations is part of the
contract (it reproduces sinabs 3.1.3 bit for bit), so keep expressions as written:
``a_syn * (i + x)``, ``(1 - a_mem) * i``, ``a_mem * v + u``, ``relu(v - m) + m``.

The loop iterates with ``unbind`` rather than ``x[:, t]``: indexing makes the backward
pass cost grow with T squared (each index backward writes a full-size zero tensor).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..activation.reset_mechanism import State
from .models import MODEL_STEPS
from .params import AdaptiveParams, LeakyParams, SpikingParams, add_derived, kernel_states

Step = Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]
RecConnect = Callable[[torch.Tensor], torch.Tensor]


def integrate(x: torch.Tensor, state: State, p: LeakyParams) -> State:
    """Synaptic current and membrane update of one step (shared by every family)."""
    new = dict(state)
    if p.alpha_syn is not None:
        current = p.alpha_syn * (state["i_syn"] + x)
        new["i_syn"] = current
    else:
        current = x
    if p.alpha_mem is None:  # no leak: v + u (sinabs multiplies by exactly 1.0)
        drive = current
        new["v_mem"] = state["v_mem"] + drive
    else:
        drive = (1 - p.alpha_mem) * current if p.norm_input else current
        new["v_mem"] = p.alpha_mem * state["v_mem"] + drive
    return new


def clamp(state: State, p: LeakyParams) -> State:
    """``v <- relu(v - m) + m``: literally this form (not ``clamp``), for exactness."""
    if p.min_v_mem is None:
        return state
    new = dict(state)
    new["v_mem"] = torch.relu(state["v_mem"] - p.min_v_mem) + p.min_v_mem
    return new


def threshold_path(v_mem: torch.Tensor, trained: Any) -> torch.Tensor:
    r"""``v_mem`` with a gradient path to the trained threshold: ``v + (θ' - θ)`` with
    ``θ'`` the detached θ.

    Its value is ``v + 0``, which is ``v`` (a spike function cannot tell ``-0.0`` from
    ``+0.0``), so spikes and states keep their bits; a spike function then sends
    ``-grad_v`` into θ, which is :math:`\partial s / \partial \theta = -g(v, \theta)`
    for a spike that is a function of :math:`v - \theta`. The spike functions
    themselves give the threshold no gradient (sinabs 3.x), so this path exists only
    where ``train_threshold`` asks for it.
    """
    if not (isinstance(trained, torch.Tensor) and trained.requires_grad):
        return v_mem
    return v_mem + (trained.detach() - trained)


def fire(state: State, threshold: Any, p: SpikingParams) -> tuple[torch.Tensor, State]:
    """Spike from the current state and apply the reset.

    With ``p.train_threshold`` the spike function also back-propagates into
    ``p.spike_threshold`` (ALIF's base threshold ``b0``, not the adaptation): see
    :func:`threshold_path`. The reset receives the threshold itself, so a subtractive
    reset adds its own gradient :math:`-s` to it.
    """
    inputs = [state[name] for name in p.spike_fn.required_states]
    if p.train_threshold:
        inputs = [
            threshold_path(value, p.spike_threshold) if name == "v_mem" else value
            for name, value in zip(p.spike_fn.required_states, inputs, strict=True)
        ]
    spikes = p.spike_fn.apply(*inputs, threshold, p.surrogate_grad_fn)
    assert p.reset_fn is not None
    return spikes, p.reset_fn(spikes, state, threshold)


def leaky_step(x: torch.Tensor, state: State, p: LeakyParams) -> tuple[torch.Tensor, State]:
    """ExpLeak: integrate and clamp; the output is the (clamped) membrane potential."""
    state = clamp(integrate(x, state, p), p)
    return state["v_mem"].clone(), state


def spiking_step(x: torch.Tensor, state: State, p: SpikingParams) -> tuple[torch.Tensor, State]:
    """IAF / LIF: integrate, fire, reset, then clamp."""
    state = integrate(x, state, p)
    spikes, state = fire(state, p.spike_threshold, p)
    return spikes, clamp(state, p)


def adaptive_step(x: torch.Tensor, state: State, p: AdaptiveParams) -> tuple[torch.Tensor, State]:
    """ALIF: the spiking step with threshold ``b0 + adapt_scale * b``, then adapt ``b``.

    (The layer's ``spike_threshold`` state is derived from ``b`` by the registry, for
    every backend: :meth:`~sinabs.dynamics.params.AdaptiveParams.derive`.)
    """
    state = integrate(x, state, p)
    b = state["b"]
    spikes, state = fire(state, p.threshold(b), p)
    assert p.alpha_adapt is not None
    state["b"] = p.alpha_adapt * b + (1 - p.alpha_adapt) * spikes
    return spikes, clamp(state, p)


STEPS: dict[str, Callable[[torch.Tensor, State, Any], tuple[torch.Tensor, State]]] = {
    "leaky": leaky_step,
    "spiking": spiking_step,
    "adaptive": adaptive_step,
    **MODEL_STEPS,  # Izhikevich, AdEx, resonate-and-fire (sinabs.dynamics.models)
}


def scan(
    step: Step,
    x: torch.Tensor,
    state: State,
    *,
    record: bool = False,
    rec_connect: RecConnect | None = None,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """Runs ``step`` over the time axis (dim 1) of ``x``.

    Args:
        step: ``(x_t, state) -> (output_t, state)``.
        x: input ``(B, T, ...)``.
        state: state tensors ``(B, ...)`` by name; every name is recorded.
        record: stack the post-step state of every step into the recordings.
        rec_connect: recurrent connection; its output for the spikes of step t,
            reshaped to ``(B, ...)``, is added to the input of step t+1.

    Returns:
        ``(output (B, T, ...), final state, recordings {name: (B, T, ...)})``.
    """
    names = list(state)
    outputs: list[torch.Tensor] = []
    recorded: dict[str, list[torch.Tensor]] = {name: [] for name in names}
    feedback = torch.zeros_like(x[:, 0]) if rec_connect is not None else None
    for x_t in x.unbind(1):
        if feedback is not None:
            x_t = x_t + feedback
        out_t, state = step(x_t, state)
        outputs.append(out_t)
        if record:
            for name in names:
                recorded[name].append(state[name].clone())
        if rec_connect is not None:
            feedback = rec_connect(out_t).reshape(out_t.shape)
    if not outputs:  # T == 0
        return x.clone(), state, ({n: x.clone() for n in names} if record else {})
    recordings = {n: torch.stack(v, 1) for n, v in recorded.items()} if record else {}
    return torch.stack(outputs, 1), state, recordings


def kernel_scan(
    family: str,
    x: torch.Tensor,
    state: State,
    params: LeakyParams,
    *,
    record: bool = False,
    rec_connect: RecConnect | None = None,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """The reference time loop of ``family`` over its kernel states only (``state``
    holds no derived state; the reference backend runs this)."""
    step = STEPS[family]
    return scan(
        lambda x_t, s: step(x_t, s, params), x, state, record=record, rec_connect=rec_connect
    )


def reference_scan(
    family: str,
    x: torch.Tensor,
    state: State,
    params: LeakyParams,
    *,
    record: bool = False,
    rec_connect: RecConnect | None = None,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """The reference implementation of ``family`` (a key of ``STEPS``), with the
    layer's states: the kernel states, and those the family derives from
    them (``sinabs.dynamics.params.add_derived``)."""
    out, new_state, recordings = kernel_scan(
        family, x, kernel_states(family, state), params, record=record, rec_connect=rec_connect
    )
    add_derived(family, params, new_state, recordings)
    return out, new_state, recordings
