"""``Merge``: adds two tensors, zero-padding the smaller one."""

from __future__ import annotations

import torch
from torch import nn


class Merge(nn.Module):
    r"""Element-wise sum of two inputs of the same rank but possibly different sizes.

    Each input is zero-padded at the **end** of every dimension (the batch included) to
    the element-wise maximum of the two shapes, then

    .. math::
        y = \mathrm{pad}(a) + \mathrm{pad}(b)

    so the total of the output equals the total of both inputs. Inputs of equal shape
    are simply added.

    Shape:
        ``data1`` and ``data2`` of equal rank; output ``max(data1.shape, data2.shape)``
        per dimension.

    Raises:
        ValueError: the inputs have different numbers of dimensions.

    Example:
        >>> Merge()(torch.ones(1, 1, 5, 6), torch.ones(1, 10, 5, 5)).shape
        torch.Size([1, 10, 5, 6])
    """

    def forward(self, data1: torch.Tensor, data2: torch.Tensor) -> torch.Tensor:
        if data1.shape == data2.shape:
            return data1 + data2
        if data1.dim() != data2.dim():
            raise ValueError(
                "Merge needs inputs with the same number of dimensions; got data1 of "
                f"shape {tuple(data1.shape)} and data2 of shape {tuple(data2.shape)}"
            )
        size = [max(a, b) for a, b in zip(data1.shape, data2.shape, strict=True)]
        return _pad_end(data1, size) + _pad_end(data2, size)


def _pad_end(data: torch.Tensor, size: list[int]) -> torch.Tensor:
    """``data`` with zeros appended along every dimension up to ``size``."""
    padding: list[int] = []
    for have, want in zip(reversed(data.shape), reversed(size), strict=True):  # last dim first
        padding += [0, want - have]
    return nn.functional.pad(data, padding)
