"""Shape arithmetic for convolution and pooling layers."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "compute_padding",
    "compute_same_padding_size",
    "conv_output_size",
    "infer_output_shape",
]


def conv_output_size(image_length: int, kernel_length: int, stride: int) -> int:
    """Length of a valid (unpadded) convolution or pooling output along one axis.

    .. math::
        L_{out} = \\left\\lfloor \\frac{L_{in} - k}{s} + 1 \\right\\rfloor

    (true division, then truncation towards zero).

    Args:
        image_length: input length :math:`L_{in}`.
        kernel_length: kernel length :math:`k`.
        stride: stride :math:`s`.

    Returns:
        The output length.

    Raises:
        ValueError: ``image_length`` is smaller than ``kernel_length``.

    Example:
        >>> conv_output_size(10, 3, 2)
        4
    """
    if image_length < kernel_length:
        raise ValueError(
            f"Image dimension {image_length} smaller than kernel dimension {kernel_length}"
        )
    return int((image_length - kernel_length) / stride + 1)


def compute_same_padding_size(kernel_length: int) -> tuple[int, int]:
    """Padding before and after an axis that keeps its length for stride 1.

    Args:
        kernel_length: kernel length :math:`k`.

    Returns:
        ``(k // 2, k // 2)`` for odd ``k``, ``(k // 2, k // 2 - 1)`` for even ``k``.
    """
    start = kernel_length // 2
    stop = start - 1 if kernel_length % 2 == 0 else start
    return start, stop


def compute_padding(
    kernel_shape: Sequence[int], input_shape: Sequence[int], mode: str = "valid"
) -> tuple[int, int, int, int]:
    """Padding ``(left, right, top, bottom)`` of a 2-D kernel for a padding mode.

    Args:
        kernel_shape: ``(height, width)`` of the kernel.
        input_shape: shape of the input (unused; kept for the sinabs signature).
        mode: ``"valid"`` (no padding) or ``"same"`` (output as large as the input at
            stride 1).

    Returns:
        ``(left, right, top, bottom)``, the order of :class:`torch.nn.ZeroPad2d`.

    Raises:
        NotImplementedError: ``mode`` is neither ``"valid"`` nor ``"same"``.
    """
    if mode == "valid":
        return (0, 0, 0, 0)
    if mode == "same":
        left, right = compute_same_padding_size(kernel_shape[1])
        top, bottom = compute_same_padding_size(kernel_shape[0])
        return (left, right, top, bottom)
    raise NotImplementedError(f"Unknown padding mode {mode!r}; use 'valid' or 'same'")


def infer_output_shape(torch_layer: nn.Module, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Output shape (without batch) of a layer, found by running it once.

    The layer is run under ``torch.no_grad`` on ``torch.rand((1, *input_shape))``; this
    draws from the global random number generator.

    Args:
        torch_layer: the layer.
        input_shape: input shape without the batch dimension.

    Returns:
        The output shape without the batch dimension.
    """
    with torch.no_grad():
        out = torch_layer(torch.rand((1, *input_shape)))
    return tuple(out.shape)[1:]
