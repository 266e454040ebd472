"""Mixed precision: which dtype a call of the dynamics computes in.

Neuron layers (and the functional API) take float16 and bfloat16 inputs, as
``torch.autocast`` produces them, but never integrate a membrane in half precision: an
8-bit (bfloat16) or 11-bit (float16) mantissa swallows inputs small against the
membrane. A half-precision input is upcast to float32 (exactly) before the dynamics
run, on every backend alike; states, recordings and the arithmetic are float32 (or
float64 where the states already are), and the output is returned in the input's dtype.
Spike counts are small integers, exact in half precision (up to 256 in bfloat16, 2048
in float16); a leaky layer's output, its membrane, is rounded once to the input's dtype.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

__all__ = ["HALF_DTYPES", "compute_dtype", "output_dtype", "widen"]

#: input dtypes that the dynamics compute in float32
HALF_DTYPES: frozenset[torch.dtype] = frozenset({torch.float16, torch.bfloat16})


def compute_dtype(input_dtype: torch.dtype, state_dtype: torch.dtype | None = None) -> torch.dtype:
    """The dtype the dynamics compute in for an input of ``input_dtype`` and kept states
    of ``state_dtype`` (None: new states): their promotion, at least float32.

    float32 inputs with float32 states compute in float32, anything with float64 in
    float64, and a half-precision input or state never lowers the precision below float32.
    """
    dtype = torch.promote_types(input_dtype, torch.float32)
    if state_dtype is not None:
        dtype = torch.promote_types(dtype, state_dtype)
    return dtype


def output_dtype(input_dtype: torch.dtype, dtype: torch.dtype) -> torch.dtype:
    """The dtype of a layer's output: the input's for a half-precision input, otherwise
    the compute dtype ``dtype`` (float32 inputs with float64 states give float64, as
    before mixed precision was supported)."""
    return input_dtype if input_dtype in HALF_DTYPES else dtype


def widen(
    x: torch.Tensor, state: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.dtype]:
    """``x`` and the floating-point ``state`` tensors in their compute dtype (the
    promotion of all of them, at least float32; exact casts in the graph), and the
    dtype of the output (:func:`output_dtype`). For callers that are handed their
    states, such as the functional API."""
    dtype = compute_dtype(x.dtype)
    for value in state.values():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            dtype = torch.promote_types(dtype, value.dtype)
    wide = {
        name: value.to(dtype)
        if isinstance(value, torch.Tensor) and value.is_floating_point()
        else value
        for name, value in state.items()
    }
    return x.to(dtype), wide, output_dtype(x.dtype, dtype)
