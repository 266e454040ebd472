"""Small modules that imported NIR graphs need besides sinabs's layers."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..activation.spike_generation import BackwardClass, Surrogate
from ..layers.reshape import SqueezeMixin


class StrictSpike(BackwardClass, torch.autograd.Function):
    r"""One spike where :math:`v > \theta` (strictly), NIR's spike condition.

    sinabs's own ``SingleSpike`` and ``MultiSpike`` also fire at :math:`v = \theta`;
    imported NIR neurons use this one so that a membrane potential exactly at the
    threshold does not fire, as NIR's equations say. The backward pass is the
    surrogate gradient, as for every sinabs spike function.
    """

    required_states: list[str] = ["v_mem"]  # noqa: RUF012 - protocol attribute

    @staticmethod
    def forward(  # type: ignore[override]
        v_mem: torch.Tensor, spike_threshold: Any, surrogate_grad_fn: Surrogate
    ) -> torch.Tensor:
        return (v_mem > spike_threshold).to(v_mem.dtype)


class Scale(nn.Module):
    r"""Element-wise :math:`y = s \odot x + b` over the trailing (neuron) dimensions.

    Used for NIR ``Scale`` nodes and, in front of an imported neuron layer, for the
    input gain and leak voltage that the layer's own step does not contain.

    Args:
        scale: per-neuron gain ``s`` (broadcast from the right), or None for 1.
        bias: per-neuron offset ``b``, or None for 0.
    """

    def __init__(self, scale: torch.Tensor | None, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.scale = None if scale is None else nn.Parameter(scale, requires_grad=False)
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale is not None:
            x = x * self.scale
        if self.bias is not None:
            x = x + self.bias
        return x


class Squeezed(nn.Module, SqueezeMixin):
    """Feeds a ``(B, T, ...)`` module (a recurrent neuron layer, a scaled neuron) with
    ``(B*T, ...)`` inputs, like sinabs's Squeeze layers.

    Args:
        module: the module that takes ``(B, T, ...)``.
        batch_size: B, or None when ``num_timesteps`` is given.
        num_timesteps: T, or None when ``batch_size`` is given.
    """

    def __init__(
        self, module: nn.Module, batch_size: int | None, num_timesteps: int | None
    ) -> None:
        super().__init__()
        self.module = module
        self.squeeze_init(batch_size, num_timesteps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.squeeze_forward(x, self.module)

    def extra_repr(self) -> str:
        return f"batch_size={self.batch_size}, num_timesteps={self.num_timesteps}"


class ScaledNeuron(nn.Module):
    """A neuron layer preceded by a :class:`Scale` (``input_transform``).

    Args:
        input_transform: the gain and offset applied to the input.
        neuron: the sinabs neuron layer.
    """

    def __init__(self, input_transform: Scale, neuron: nn.Module) -> None:
        super().__init__()
        self.input_transform = input_transform
        self.neuron = neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.input_transform(x))
