"""Pooling layers for spikes: ``SumPool2d`` and ``SpikingMaxPooling2dLayer``."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..cnnutils import conv_output_size


def _pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    pair = tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints; got {value!r}")
    return pair  # type: ignore[return-value]


class SumPool2d(nn.LPPool2d):
    r"""Sums each pooling window: :math:`y = \sum_{(i, j) \in \text{window}} x_{ij}`.

    It is :class:`torch.nn.LPPool2d` with ``norm_type=1``, and keeps its numerics: the sum
    is computed as ``avg_pool2d(x) * kernel area`` (not bit-identical to adding the window
    directly) and its gradient is zero wherever a window sums to exactly 0.

    Args:
        kernel_size: window size, int or ``(kh, kw)``.
        stride: window step; None (kept as None) means the kernel size.
        ceil_mode: use ``ceil`` instead of ``floor`` for the output size.

    Shape:
        input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, H_out, W_out)``.

    Example:
        >>> SumPool2d(2)(torch.ones(1, 1, 4, 4))
        tensor([[[[4., 4.],
                  [4., 4.]]]])
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__(1, kernel_size, stride, ceil_mode)


class SpikingMaxPooling2dLayer(nn.Module):
    r"""Max pooling of spike trains: each window passes the spikes of its most active pixel.

    Input is a spike raster ``(T, C, H, W)`` with **time on dimension 0** (no batch).
    With :math:`P` = zero padding followed by max pooling and :math:`c_t` the running
    spike count :math:`c_t = \sum_{t' \le t} x_{t'}`, the output is

    .. math::
        y_t = [P(c_t \cdot [x_t > 0]) \ge P(c_t)] \cdot P(x_t)

    i.e. a window emits the current spikes of its pixels when a pixel that spikes now
    has the highest running count in the window.

    After a forward call ``spikes_number`` holds the number of output spikes and ``tw``
    the number of time steps.

    Args:
        pool_size: pooling window ``(kh, kw)`` (or int).
        strides: window step; None means ``pool_size``.
        padding: zero padding ``(left, right, top, bottom)``; all zeros means none.

    Shape:
        input ``(T, C, H, W)``; output ``(T, C, H_out, W_out)``.

    Example:
        >>> pool = SpikingMaxPooling2dLayer((2, 2))
        >>> pool(torch.ones(5, 2, 4, 4)).shape
        torch.Size([5, 2, 2, 2])
    """

    spikes_number: torch.Tensor | None
    tw: int

    def __init__(
        self,
        pool_size: int | tuple[int, int],
        strides: int | tuple[int, int] | None = None,
        padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    ) -> None:
        super().__init__()
        _pair(pool_size, "pool_size")
        if strides is None:
            strides = pool_size
        _pair(strides, "strides")
        if len(tuple(padding)) != 4:
            raise ValueError(
                f"padding must have four entries (left, right, top, bottom); got {padding!r}"
            )
        self.padding = padding
        self.pool_size = pool_size
        self.strides = strides
        # A list of zeros is no padding either (sinabs compared with the tuple only).
        self.pad = None if tuple(padding) == (0, 0, 0, 0) else nn.ZeroPad2d(tuple(padding))  # type: ignore[arg-type]
        self.pool = nn.MaxPool2d(kernel_size=pool_size, stride=strides)
        self.spikes_number = None

    def _pad_pool(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x if self.pad is None else self.pad(x))

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        if binary_input.dim() not in (3, 4):
            raise ValueError(
                "binary_input must be a spike raster (time, channels, height, width); "
                f"got shape {tuple(binary_input.shape)}"
            )
        count = torch.cumsum(binary_input, dim=0)  # (T, C, H, W) running spike count
        max_count = self._pad_pool(count)
        count_where_spiking = count * (binary_input > 0).float()
        max_count_spiking = self._pad_pool(count_where_spiking)
        max_input = self._pad_pool(binary_input)
        output = (max_count_spiking >= max_count).float() * max_input
        self.spikes_number = output.abs().sum()
        self.tw = len(output)
        return output.float()

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int, int]:
        r"""Output shape ``(C, H_out, W_out)`` for an input of shape ``(C, H, W)``.

        Args:
            input_shape: ``(channels, height, width)`` of one time step.

        Returns:
            ``(channels, H_out, W_out)`` with
            :math:`H_{out} = \lfloor (H + p_{top} + p_{bottom} - k_h) / s_h \rfloor + 1`.
        """
        channels, height, width = input_shape
        left, right, top, bottom = self.padding
        pool = _pair(self.pool_size, "pool_size")
        strides = _pair(self.strides, "strides")
        return (
            channels,
            conv_output_size(height + top + bottom, pool[0], strides[0]),
            conv_output_size(width + left + right, pool[1], strides[1]),
        )

    def extra_repr(self) -> str:
        return f"pool_size={self.pool_size}, strides={self.strides}, padding={self.padding}"
