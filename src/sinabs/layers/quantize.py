"""``QuantizeLayer``: rounds activations down to whole numbers."""

from __future__ import annotations

import torch
from torch import nn

from ..activation.quantize import Quantize


class QuantizeLayer(nn.Module):
    r"""Rounds its input down, :math:`y = \lfloor x \rfloor`, with a straight-through gradient.

    The backward pass treats the rounding as the identity
    (:math:`\partial y / \partial x := 1`), so a network can be trained with integer
    activations.

    Args:
        quantize: when False the layer returns its input unchanged (the same object).

    Shape:
        any input shape; the output has the same shape.

    Returns:
        ``floor(input)``, or ``input`` itself when ``quantize`` is False.

    Example:
        >>> QuantizeLayer()(torch.tensor([-0.5, 0.5, 1.7]))
        tensor([-1.,  0.,  1.])
    """

    def __init__(self, quantize: bool = True) -> None:
        super().__init__()
        self.quantize = quantize

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        if self.quantize:
            return Quantize.apply(data)
        return data

    def extra_repr(self) -> str:
        return f"quantize={self.quantize}"
