"""The functional API's mixed precision (as the layers': :mod:`sinabs.dynamics.precision`).

A float16 or bfloat16 input computes in float32 from states upcast to float32; the
states and recordings returned are float32, the output has the input's dtype.
"""

from __future__ import annotations

from typing import Any

import torch

from ...activation.reset_mechanism import State
from ...dynamics import reference
from ...dynamics.params import LeakyParams
from ...dynamics.precision import widen
from ...dynamics.reference import RecConnect
from ..stateful_layer import _recurrent_connection


def scan(
    family: str,
    input_data: torch.Tensor,
    state: State,
    params: LeakyParams,
    *,
    record: bool,
    rec_connect: RecConnect | None = None,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor]]:
    """:func:`sinabs.dynamics.reference.reference_scan` on the widened input and state."""
    x, wide, out_dtype = widen(input_data, state)
    connect = rec_connect
    if rec_connect is not None:
        connect = _recurrent_connection(rec_connect, input_data.dtype, x.dtype)
    out, new_state, recordings = reference.reference_scan(
        family, x, wide, params, record=record, rec_connect=connect
    )
    return out.to(out_dtype), new_state, recordings


def step(
    family: str, input_data: torch.Tensor, state: State, params: Any
) -> tuple[torch.Tensor, State]:
    """One step of ``family`` on the widened input and state."""
    x, wide, out_dtype = widen(input_data, state)
    out, new_state = reference.STEPS[family](x, wide, params)
    return out.to(out_dtype), new_state
