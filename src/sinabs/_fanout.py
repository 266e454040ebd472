"""Fan-out arithmetic shared by :mod:`sinabs.hooks` and :mod:`sinabs.synopcounter`.

Kept apart from both so that ``import sinabs`` (which imports the synop counter) does not
import :mod:`sinabs.hooks`, as in sinabs 3.x.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import nn


def _transpose_padding(layer: nn.Conv2d) -> tuple[int, int]:
    """The conv's padding as two ints (``"valid"``/``"same"`` resolved)."""
    padding = layer.padding
    if padding == "valid":
        return 0, 0
    if padding == "same":
        pads = []
        for kernel, dilation in zip(layer.kernel_size, layer.dilation, strict=True):
            total = dilation * (kernel - 1)
            if total % 2:
                raise ValueError(
                    f"cannot build the connection map of {layer}: padding='same' with an "
                    "even effective kernel pads unevenly; give the padding as ints"
                )
            pads.append(total // 2)
        return pads[0], pads[1]
    return padding  # type: ignore[return-value]


def conv_connection_map(
    layer: nn.Conv2d,
    input_shape: Sequence[int],
    output_shape: Sequence[int],
    device: torch.device | str | None = None,
) -> torch.Tensor:
    r"""Number of outgoing connections (fan-out) of every input element of a convolution.

    Entry :math:`(c, i, j)` counts the output units :math:`(o, k, l)` whose receptive
    field contains input :math:`(c, i, j)`; borders, stride, dilation, groups and the
    number of output channels are all accounted for. It is computed by pushing a tensor
    of ones of the output shape through the transposed convolution with all weights 1,

    .. math::
        F = \mathrm{conv\_transpose2d}(\mathbf{1}_{(1, C_{out}, H_{out}, W_{out})},
        \mathbf{1}), \qquad \text{output size } (1, C_{in}, H, W)

    so that the synaptic operations of an input :math:`x` are
    :math:`\sum_{c,i,j} x_{cij} F_{cij}`. Every entry is an exact integer.

    The ``ConvTranspose2d`` is built with torch's default initialisation before its
    weights are set to 1, which draws from the global CPU random generator, exactly as
    sinabs does, so seeded random streams stay the same.

    Args:
        layer: the convolution.
        input_shape: ``(C_in, H, W)`` of one sample.
        output_shape: ``(C_out, H_out, W_out)`` of one sample.
        device: where to put the map; None means the device of ``layer.weight``.

    Returns:
        The map, shape ``(1, C_in, H, W)``, detached, ``requires_grad=False``.

    Example:
        >>> conv = nn.Conv2d(1, 5, kernel_size=2)
        >>> conv_connection_map(conv, (1, 3, 3), (5, 2, 2))[0, 0]
        tensor([[ 5., 10.,  5.],
                [10., 20., 10.],
                [ 5., 10.,  5.]])
    """
    deconvolve = nn.ConvTranspose2d(
        layer.out_channels,
        layer.in_channels,
        kernel_size=layer.kernel_size,  # type: ignore[arg-type]
        padding=_transpose_padding(layer),
        stride=layer.stride,  # type: ignore[arg-type]
        dilation=layer.dilation,  # type: ignore[arg-type]
        groups=layer.groups,
        bias=False,
    )
    target = torch.device(device) if device is not None else layer.weight.device
    deconvolve = deconvolve.to(target)
    with torch.no_grad():
        deconvolve.weight.fill_(1.0)
        ones = torch.ones((1, *output_shape), device=target)
        connection_map = deconvolve(ones, output_size=(1, *input_shape))
    return connection_map.detach().requires_grad_(False)


def _as_pair(value: int | Sequence[int] | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value, value
    return tuple(value)


def avgpool_scale_factor(pool: nn.AvgPool2d, where: str) -> int:
    """Kernel area of an average pooling layer, by which the next layer's synops scale.

    Average pooling divides the summed events of a window by the window area, while the
    next layer on event-driven hardware receives every event, so its synops are
    multiplied by the area. That only holds when windows do not overlap or leave gaps,
    so a ``UserWarning`` is emitted when the kernel size differs from the stride
    (``2`` and ``(2, 2)`` count as equal).

    Args:
        pool: the pooling layer.
        where: how to name the layer in the warning (its index or name).

    Returns:
        ``k**2`` for an int kernel size ``k``, else ``k[0] * k[1]``.
    """
    kernel = pool.kernel_size
    if _as_pair(kernel) != _as_pair(pool.stride):
        warnings.warn(
            f"AvgPool2d layer {where} has kernel_size={kernel} but stride={pool.stride}: "
            "the synops of the following layer are scaled by the kernel area, which is "
            "only exact when the kernel size equals the stride",
            UserWarning,
            stacklevel=3,
        )
    if isinstance(kernel, int):
        return kernel**2
    return math.prod(kernel[:2])
