"""``Cropping2dLayer``: removes rows and columns at the borders of images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def _crop_pair(pair: Sequence[int], which: str) -> tuple[int, int]:
    values = tuple(pair)
    if len(values) != 2 or not all(isinstance(v, int) and v >= 0 for v in values):
        raise ValueError(
            f"cropping must be ((top, bottom), (left, right)) with non-negative ints; "
            f"got {which} {pair!r}"
        )
    return values  # type: ignore[return-value]


class Cropping2dLayer(nn.Module):
    r"""Crops ``top``/``bottom`` rows and ``left``/``right`` columns off every image.

    .. math::
        y = x[:, :, \text{top} : H - \text{bottom}, \text{left} : W - \text{right}]

    The output is a view of the input. After a forward call ``channels_in``,
    ``out_shape`` (``(C, H_out, W_out)``), ``spikes_number`` (sum of ``|y|``) and ``tw``
    (size of dimension 0) describe the last output.

    Args:
        cropping: ``((top, bottom), (left, right))``, numbers of rows/columns removed.

    Shape:
        input ``(N, C, H, W)``; output ``(N, C, H - top - bottom, W - left - right)``.

    Raises:
        ValueError: the cropping removes every row or column of the input.

    Example:
        >>> crop = Cropping2dLayer(((2, 3), (3, 1)))
        >>> crop(torch.zeros(2, 2, 10, 10)).shape
        torch.Size([2, 2, 5, 6])
    """

    channels_in: int
    out_shape: torch.Size
    spikes_number: torch.Tensor
    tw: int

    def __init__(self, cropping: Sequence[Sequence[int]] = ((0, 0), (0, 0))) -> None:
        super().__init__()
        if len(cropping) != 2:
            raise ValueError(f"cropping must be ((top, bottom), (left, right)); got {cropping!r}")
        self.top_crop, self.bottom_crop = _crop_pair(cropping[0], "(top, bottom) =")
        self.left_crop, self.right_crop = _crop_pair(cropping[1], "(left, right) =")

    def forward(self, binary_input: torch.Tensor) -> torch.Tensor:
        if binary_input.dim() != 4:
            raise ValueError(
                "binary_input must have shape (batch, channels, height, width); "
                f"got {tuple(binary_input.shape)}"
            )
        height, width = binary_input.shape[2:]
        self._check_fits(height, width)
        cropped = binary_input[
            :,
            :,
            self.top_crop : height - self.bottom_crop,
            self.left_crop : width - self.right_crop,
        ]
        self.channels_in = binary_input.shape[1]
        self.out_shape = cropped.shape[1:]
        self.spikes_number = cropped.abs().sum()
        self.tw = len(cropped)
        return cropped

    def _check_fits(self, height: int, width: int) -> None:
        for size, first, last, axis in (
            (height, self.top_crop, self.bottom_crop, "height"),
            (width, self.left_crop, self.right_crop, "width"),
        ):
            if first + last >= size:
                cropping = ((self.top_crop, self.bottom_crop), (self.left_crop, self.right_crop))
                raise ValueError(
                    f"cropping {cropping} "
                    f"removes {first} + {last} rows/columns from an input of {axis} {size}: "
                    "nothing would be left"
                )

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int, int]:
        """Output shape for an input of shape ``(C, H, W)``.

        Args:
            input_shape: ``(channels, height, width)``.

        Returns:
            ``(channels, H - top - bottom, W - left - right)``.
        """
        channels, height, width = input_shape
        self._check_fits(height, width)
        return (
            channels,
            height - self.top_crop - self.bottom_crop,
            width - self.left_crop - self.right_crop,
        )

    def extra_repr(self) -> str:
        return (
            f"cropping=(({self.top_crop}, {self.bottom_crop}), "
            f"({self.left_crop}, {self.right_crop}))"
        )
