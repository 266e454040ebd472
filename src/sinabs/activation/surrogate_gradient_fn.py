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

    The normaliser :math:`\sqrt{2\pi}` is evaluated in float32, as sinabs does with
    torch's default dtype (here float32 whatever the default is, so that the fused
    kernels, which take it as a constant, agree with it in any session).
    """
    norm = sigma * torch.sqrt(2 * torch.tensor(math.pi, dtype=torch.float32))
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


# ---------------------------------------------------------------------------------------
# The surrogates of snnTorch 1.0 (``snntorch.surrogate``). Each is a function of
# x = v - θ alone, so the threshold gradient of a trainable threshold is -g (see
# sinabs.dynamics.reference.fire).


def _positive(owner: str, name: str, value: object) -> float:
    """``value`` as a float, or an error naming ``owner``'s argument ``name``: a real
    number (not a bool), positive and finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {name} must be a real number; got {value!r}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{owner}: {name} must be positive and finite; got {value!r}")
    return float(value)


@dataclass
class ATan:
    r"""Arctangent surrogate (Fang et al. 2021), snnTorch's default.

    The derivative of the smooth step :math:`S(x) = \frac{1}{\pi}
    \arctan\!\big(\frac{\pi}{2}\alpha x\big)`, :math:`x = v - \theta`:

    .. math:: g = \frac{\alpha / 2}{1 + \big(\frac{\pi}{2} \alpha x\big)^2}

    Peak :math:`\alpha/2` at the threshold, area 1.

    Source: snnTorch 1.0, ``snntorch.surrogate.ATan`` (``alpha`` defaults to 2), after
    W. Fang, Z. Yu, Y. Chen, T. Masquelier, T. Huang, Y. Tian (2021), "Incorporating
    learnable membrane time constants to enhance learning of spiking neural networks",
    ICCV. snnTorch's docstring prints the derivative with a factor :math:`1/\pi` in
    place of :math:`\alpha/2`; that is not the derivative of the :math:`S` it states
    (nor what Fang et al. use), so the derivative of :math:`S` is taken here.

    Args:
        alpha: the steepness α (positive).

    Example:
        >>> ATan()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([1.])
    """

    alpha: float = 2.0

    def __post_init__(self) -> None:
        self.alpha = _positive("ATan", "alpha", self.alpha)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        half = self.alpha / 2
        return half / (1 + (math.pi * half * (v_mem - spike_threshold)) ** 2)


@dataclass
class FastSigmoid:
    r"""Fast-sigmoid surrogate, SuperSpike's (Zenke & Ganguli 2018).

    The derivative of :math:`S(x) = \frac{x}{1 + k|x|}`, :math:`x = v - \theta`:

    .. math:: g = \frac{1}{(1 + k|x|)^2}

    Peak 1 at the threshold.

    Source: snnTorch 1.0, ``snntorch.surrogate.FastSigmoid`` (``slope`` k defaults to
    25), after F. Zenke, S. Ganguli (2018), "SuperSpike: supervised learning in
    multilayer spiking neural networks", Neural Computation 30(6).

    Args:
        slope: k (positive).

    Example:
        >>> FastSigmoid()(torch.tensor([1.0, 1.2]), torch.tensor(1.0))
        tensor([1.0000, 0.0278])
    """

    slope: float = 25.0

    def __post_init__(self) -> None:
        self.slope = _positive("FastSigmoid", "slope", self.slope)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return 1 / (1 + self.slope * torch.abs(v_mem - spike_threshold)) ** 2


@dataclass
class Sigmoid:
    r"""Sigmoid surrogate (Zenke & Ganguli 2018).

    The derivative of the logistic function :math:`S(x) = \sigma(kx)`,
    :math:`x = v - \theta`:

    .. math:: g = \frac{k\, e^{-kx}}{(1 + e^{-kx})^2} = k\, \sigma(kx)\, \sigma(-kx)

    evaluated in the second form, which neither overflows nor cancels far from the
    threshold. Peak :math:`k/4` at the threshold, area 1.

    Source: snnTorch 1.0, ``snntorch.surrogate.Sigmoid`` (``slope`` k defaults to 25),
    after F. Zenke, S. Ganguli (2018), Neural Computation 30(6).

    Args:
        slope: k (positive).

    Example:
        >>> Sigmoid()(torch.tensor([1.0]), torch.tensor(1.0))
        tensor([6.2500])
    """

    slope: float = 25.0

    def __post_init__(self) -> None:
        self.slope = _positive("Sigmoid", "slope", self.slope)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        kx = self.slope * (v_mem - spike_threshold)
        return self.slope * torch.sigmoid(kx) * torch.sigmoid(-kx)


@dataclass
class Triangle:
    r"""Triangular surrogate: a hat of half-width ``w`` and area 1 around the threshold.

    .. math:: g = \frac{1}{w} \max\!\Big(0,\ 1 - \frac{|x|}{w}\Big), \quad x = v - \theta

    With the default ``width = 1`` this is :math:`\max(0, 1 - |v - \theta|)`, the
    piecewise-linear pseudo-derivative of G. Bellec et al. (2018), "Long short-term
    memory and learning-to-learn in networks of spiking neurons", NeurIPS, after S. K.
    Esser et al. (2016), PNAS 113(41). (Bellec et al. use the hat of height 0.3 and
    half-width θ: ``0.3 * θ * Triangle(width=θ)``.)

    snnTorch 1.0 has ``snntorch.surrogate.Triangular(threshold=1)``, whose documented
    backward is :math:`+U_{thr}` below the threshold and :math:`-U_{thr}` above it: a
    step, negative above the threshold, not a triangle. That definition is not
    reproduced (a gradient that changes sign at the threshold teaches neurons above it
    to fire less); ``Triangle`` is the triangle its name describes.

    Args:
        width: w, the distance from the threshold at which the gradient reaches 0
            (absolute, in units of the membrane potential; positive).

    Example:
        >>> Triangle()(torch.tensor([0.0, 0.5, 1.0, 2.5]), torch.tensor(1.0))
        tensor([0.0000, 0.5000, 1.0000, 0.0000])
    """

    width: float = 1.0

    def __post_init__(self) -> None:
        self.width = _positive("Triangle", "width", self.width)

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        w = self.width
        return torch.relu(1 - torch.abs(v_mem - spike_threshold) / w) / w


@dataclass
class StraightThrough:
    r"""Straight-through estimator (Bengio et al. 2013): the spike function's
    derivative is taken to be 1 everywhere.

    .. math:: g = 1

    Source: snnTorch 1.0, ``snntorch.surrogate.StraightThroughEstimator``, after
    Y. Bengio, N. Léonard, A. Courville (2013), "Estimating or propagating gradients
    through stochastic neurons for conditional computation", arXiv:1308.3432.

    Example:
        >>> StraightThrough()(torch.tensor([-3.0, 1.0]), torch.tensor(1.0))
        tensor([1., 1.])
    """

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        # ones of the broadcast shape and promoted dtype of (v - θ), as every surrogate
        return torch.ones_like(v_mem - spike_threshold)
