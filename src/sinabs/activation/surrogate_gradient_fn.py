"""Surrogate gradients: stand-ins for the derivative of the spike function.

Every surrogate is a small frozen-by-convention dataclass called as
``surrogate(v_mem, spike_threshold)``; it returns d(spikes)/d(v_mem), broadcast from
``v_mem`` and ``spike_threshold``. The evaluation order of each formula is part of the
contract (results are reproduced bit for bit), so keep it as written.

Width conventions follow sinabs 3.x (documented difference Q10): ``Heaviside.window``
and ``PeriodicExponential.grad_width`` are absolute, ``SingleExponential.grad_width``
is relative to the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def gaussian(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    r"""Normal density :math:`\exp(-(x-\mu)^2 / 2\sigma^2) / (\sigma\sqrt{2\pi})`.

    The normaliser :math:`\sqrt{2\pi}` is evaluated in float32, as sinabs does.
    """
    norm = sigma * torch.sqrt(2 * torch.tensor(math.pi))
    return torch.exp(-((x - mu) ** 2) / (2 * sigma**2)) / norm


@dataclass
class Heaviside:
    r"""Box surrogate: :math:`g = [v \ge \theta - w] / \theta`.

    Args:
        window: absolute distance below the threshold from which the gradient is on.
    """

    window: float = 1.0

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return (v_mem >= (spike_threshold - self.window)).to(v_mem.dtype) / spike_threshold


@dataclass
class Gaussian:
    r"""Gaussian surrogate: :math:`g = s \cdot \mathcal{N}(v - \theta; \mu, \sigma)`."""

    mu: float = 0.0
    sigma: float = 0.5
    grad_scale: float = 1.0

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return gaussian(v_mem - spike_threshold, self.mu, self.sigma) * self.grad_scale


@dataclass
class MultiGaussian:
    r"""Multi-Gaussian surrogate (Yin et al. 2021).

    .. math::
        g = s\,[(1+h)\,\mathcal{N}(x; \mu, \sigma) - h\,\mathcal{N}(x; \sigma, k\sigma)
            - h\,\mathcal{N}(x; -\sigma, k\sigma)],\quad x = v - \theta

    where ``k`` is the argument ``s`` (width factor of the side lobes) and the leading
    ``s`` is ``grad_scale``.
    """

    mu: float = 0.0
    sigma: float = 0.5
    h: float = 0.15
    s: float = 6
    grad_scale: float = 1.0

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        x = v_mem - spike_threshold
        side = self.s * self.sigma
        return (
            (1 + self.h) * gaussian(x, self.mu, self.sigma)
            - self.h * gaussian(x, self.sigma, side)
            - self.h * gaussian(x, -self.sigma, side)
        ) * self.grad_scale


@dataclass
class SingleExponential:
    r"""Exponential surrogate (Shrestha & Orchard 2018), the default.

    .. math:: g = \frac{s}{w} \exp(-|v - \theta| / w), \quad w = \theta \cdot \text{grad\_width}
    """

    grad_width: float = 0.5
    grad_scale: float = 1.0

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        width = spike_threshold * self.grad_width
        return (self.grad_scale / width) * torch.exp(-torch.abs(v_mem - spike_threshold) / width)


@dataclass
class PeriodicExponential:
    r"""Periodic exponential surrogate (Weidel & Sheik 2021), peaks at every multiple of θ.

    Below the threshold it is :math:`s\exp(-|v-\theta|/w)`; above it the distance to
    the nearest multiple of θ replaces :math:`|v - \theta|`. ``grad_width`` is absolute.
    """

    grad_width: float = 0.5
    grad_scale: float = 1.0

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        n = v_mem / spike_threshold - 0.5
        frac = n - torch.floor(n)
        periodic = spike_threshold * (2 * frac - 1)
        below = (v_mem - spike_threshold) * (v_mem < spike_threshold)
        above = periodic * (v_mem >= spike_threshold)
        return self.grad_scale * torch.exp(-torch.abs(above + below) / self.grad_width)
