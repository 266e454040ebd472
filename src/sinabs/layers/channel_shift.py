"""``ChannelShift``: moves channels to higher indices by prepending empty channels."""

from __future__ import annotations

import torch
from torch import nn


class ChannelAxisError(ValueError, IndexError):
    """A ``channel_axis`` that is not a negative axis index.

    A ``ValueError``; also an ``IndexError``, which is what sinabs 3.x raised.
    """


class ChannelShift(nn.Module):
    r"""Prepends ``channel_shift`` all-zero channels along ``channel_axis``.

    .. math::
        y_{\dots, c + s, \dots} = x_{\dots, c, \dots},\qquad y_{\dots, c, \dots} = 0
        \text{ for } c < s

    Used to place the channels of one branch after those of another before a
    :class:`Merge`. A negative ``channel_shift`` removes channels at the front.

    Args:
        channel_shift: number of zero channels :math:`s` added in front.
        channel_axis: the channel dimension, counted from the end (must be negative;
            -3 for ``(..., C, H, W)``).

    Raises:
        ValueError: ``channel_axis`` is not negative (a ``ChannelAxisError``, which is
            also an ``IndexError``).

    Shape:
        input ``(..., C, H, W)`` (for ``channel_axis=-3``); output ``(..., C + s, H, W)``.

    Example:
        >>> ChannelShift(14)(torch.zeros(1, 10, 5, 5)).shape
        torch.Size([1, 24, 5, 5])
    """

    def __init__(self, channel_shift: int = 0, channel_axis: int = -3) -> None:
        super().__init__()
        if not isinstance(channel_axis, int) or channel_axis >= 0:
            raise ChannelAxisError(
                "channel_axis must be a negative axis index counted from the end "
                f"(e.g. -3 for (N, C, H, W)); got {channel_axis!r}"
            )
        self.channel_shift = channel_shift
        self.channel_axis = channel_axis
        # torch.nn.functional.pad lists (front, back) per axis, last axis first.
        self.padding = [0] * (2 * -channel_axis)
        self.padding[-2] = channel_shift

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() < -self.channel_axis:
            raise ValueError(
                f"input has {input.dim()} dimensions, too few for channel_axis="
                f"{self.channel_axis}; got shape {tuple(input.shape)}"
            )
        return nn.functional.pad(input, self.padding, mode="constant", value=0.0)

    def extra_repr(self) -> str:
        return f"channel_shift={self.channel_shift}, channel_axis={self.channel_axis}"
