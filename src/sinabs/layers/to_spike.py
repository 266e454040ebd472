"""Rate coding of images and signals: ``Img2SpikeLayer`` and ``Sig2SpikeLayer``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class Img2SpikeLayer(nn.Module):
    r"""Turns an image into a Bernoulli spike raster of ``tw`` time steps.

    With uniform random numbers :math:`r_{t} \sim U[0, 1)` drawn independently for every
    time step and pixel, the spike probability per step is

    .. math::
        p = \frac{x}{\text{norm}} \cdot \frac{\text{max\_rate}}{1000},\qquad
        y_t = [r_t < p]

    so a pixel of value ``norm`` fires with probability ``max_rate / 1000`` per step (a
    rate of ``max_rate`` Hz for 1 ms steps). With ``negative_spikes`` the probability
    uses :math:`|x|` and spikes carry the sign of :math:`x`:
    :math:`y_t = \mathrm{sign}(x) \cdot [r_t < |x| / \text{norm} \cdot \text{max\_rate}/1000]`.

    The random numbers come from torch's global CPU generator and are then moved to the
    image's device, so a seed gives the same raster on every device.

    After a forward call ``spikes_number`` holds the number of spikes (sum of ``|y|``).

    Args:
        image_shape: accepted for compatibility and ignored.
        tw: number of time steps.
        max_rate: rate (Hz, with 1 ms steps) of a pixel at ``norm``.
        norm: pixel value that maps to ``max_rate``.
        squeeze: remove all singleton dimensions of the image first.
        negative_spikes: encode negative values as negative spikes.

    Shape:
        input ``img`` of any shape ``S`` (no time axis); output ``(tw, *S)``, time first.

    Example:
        >>> to_spikes = Img2SpikeLayer(image_shape=(2, 64, 64), tw=10)
        >>> to_spikes(torch.full((2, 64, 64), 255.0)).shape
        torch.Size([10, 2, 64, 64])
    """

    spikes_number: torch.Tensor

    def __init__(
        self,
        image_shape: Any,
        tw: int = 100,
        max_rate: float = 1000,
        norm: float = 255.0,
        squeeze: bool = False,
        negative_spikes: bool = False,
    ) -> None:
        super().__init__()
        self.tw = tw
        self.max_rate = max_rate
        self.norm = norm
        self.squeeze = squeeze
        self.negative_spikes = negative_spikes

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        if self.squeeze:
            img = img.squeeze()
        random = torch.rand((self.tw, *img.shape)).to(img.device)  # CPU stream (see above)
        if not self.negative_spikes:
            probability = (img / self.norm) * (self.max_rate / 1000)
            spikes = (random < probability).float()
        else:
            probability = (img.abs() / self.norm) * (self.max_rate / 1000)
            # "+ 0.0" turns the -0.0 of negative pixels without a spike into +0.0
            spikes = (random < probability).float() * torch.sign(img) + 0.0
        self.spikes_number = spikes.abs().sum()
        self.tw = len(spikes)
        return spikes

    def get_output_shape(self, input_shape: Sequence[int]) -> Sequence[int]:
        """Returns ``input_shape`` unchanged (the time axis is not included).

        Args:
            input_shape: shape of one image.

        Returns:
            ``input_shape``.
        """
        return input_shape

    def extra_repr(self) -> str:
        return (
            f"tw={self.tw}, max_rate={self.max_rate}, norm={self.norm}, "
            f"squeeze={self.squeeze}, negative_spikes={self.negative_spikes}"
        )


class Sig2SpikeLayer(nn.Module):
    r"""Turns a multi-channel signal into a Bernoulli spike raster, time first.

    Each sample of the ``(C, T)`` signal :math:`s` is held for ``tw`` consecutive steps
    (:math:`s'_{k} = s_{\lfloor k / tw \rfloor}`), the result is transposed to
    ``(T·tw, C)``, and with :math:`r_k \sim U[0, 1)`

    .. math::
        y_{k, c} = [\, r_{k, c} \cdot \text{norm\_level} < s'_{c, k} \,]

    so a value of ``norm_level`` spikes at every step. With ``spk_out=False`` the held
    and transposed signal itself is returned. Random numbers come from torch's global
    CPU generator and are moved to the signal's device.

    After a forward call ``spikes_number`` holds the sum of ``|y|``.

    Args:
        channels_in: accepted for compatibility and ignored.
        tw: number of steps each sample is held for.
        norm_level: signal value that spikes with probability 1.
        spk_out: emit spikes (True) or the resampled signal (False).

    Shape:
        input ``(C, T)``; output ``(T·tw, C)``.

    Example:
        >>> Sig2SpikeLayer(channels_in=4, tw=5)(torch.rand(4, 3)).shape
        torch.Size([15, 4])
    """

    spikes_number: torch.Tensor

    def __init__(
        self, channels_in: Any, tw: int = 1, norm_level: float = 1, spk_out: bool = True
    ) -> None:
        super().__init__()
        self.tw = tw
        self.norm_level = norm_level
        self.spk_out = spk_out

    def forward(self, signal: torch.Tensor) -> torch.Tensor:
        if signal.dim() != 2:
            raise ValueError(f"signal must have shape (channels, time); got {tuple(signal.shape)}")
        if self.tw != 1:
            signal = signal.repeat_interleave(self.tw, dim=1)  # (C, T*tw), each sample tw times
        signal = signal.transpose(0, 1)  # (T*tw, C)
        if self.spk_out:
            random = torch.rand(tuple(signal.shape)).to(signal.device) * self.norm_level
            output = (random < signal).float()
        else:
            output = signal
        self.spikes_number = output.abs().sum()
        return output

    def get_output_shape(self, input_shape: Sequence[int]) -> tuple[int, int]:
        """Output shape for a signal of shape ``(channels, time_steps)``.

        Args:
            input_shape: ``(channels, time_steps)``.

        Returns:
            ``(tw * time_steps, channels)``.
        """
        channels, time_steps = input_shape
        return self.tw * time_steps, channels

    def extra_repr(self) -> str:
        return f"tw={self.tw}, norm_level={self.norm_level}, spk_out={self.spk_out}"
