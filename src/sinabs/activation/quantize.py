"""Straight-through quantisers used by NeuromorphicReLU and QuantizeLayer."""

from __future__ import annotations

from typing import Any

import torch


class Quantize(torch.autograd.Function):
    """Forward ``floor(x)``; backward passes the gradient through unchanged."""

    @staticmethod
    def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return torch.floor(inp)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad_output.clone()


class StochasticRounding(torch.autograd.Function):
    """Rounds up with probability equal to the fractional part; straight-through backward.

    Random numbers come from the generator of the input's device (``rand_like``).
    """

    @staticmethod
    def forward(ctx: Any, inp: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        floor = torch.floor(inp)
        return floor + (torch.rand_like(inp) < (inp - floor)).to(inp.dtype)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad_output.clone()
