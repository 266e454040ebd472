"""Reset mechanisms: what happens to the membrane potential after a spike.

A reset is called as ``reset_fn(spikes, state, spike_threshold)`` with the state dict
of the layer; it returns a new dict (a shallow copy) with a new ``"v_mem"`` entry and
never changes the incoming dict or tensors in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

State = dict[str, torch.Tensor]


@dataclass
class MembraneSubtract:
    r"""Subtractive reset: :math:`v \leftarrow v - s \cdot \theta`.

    Gradient flows into ``v`` (factor 1) and through the spikes (factor :math:`-\theta`).

    Args:
        subtract_value: value subtracted per spike instead of the threshold (a number
            or a tensor broadcastable to the state).
    """

    subtract_value: float | torch.Tensor | None = None

    def __call__(self, spikes: torch.Tensor, state: State, threshold: torch.Tensor) -> State:
        amount = threshold if self.subtract_value is None else self.subtract_value
        new_state = dict(state)
        new_state["v_mem"] = state["v_mem"] - spikes * amount
        return new_state


@dataclass
class MembraneReset:
    r"""Reset to a value: neurons that spiked are set to ``reset_value``, others unchanged.

    .. math:: v \leftarrow \begin{cases} r & s > 0 \\ v & s = 0 \end{cases}

    No gradient flows through the spikes. (sinabs 3.x adds ``reset_value`` to every
    neuron; we set only the neurons that spiked, see "Differences from sinabs 3.x", Q7.)
    """

    reset_value: float = 0.0

    def __call__(self, spikes: torch.Tensor, state: State, spike_threshold: torch.Tensor) -> State:
        v = state["v_mem"]
        new_state = dict(state)
        reset = torch.as_tensor(self.reset_value, dtype=v.dtype, device=v.device)
        new_state["v_mem"] = torch.where(spikes.detach() == 0, v, reset)
        return new_state
