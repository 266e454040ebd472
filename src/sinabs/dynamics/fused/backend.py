"""The fused backends: the neutral form in, layer-shaped outputs and states back out."""

from __future__ import annotations

import torch

from ...activation.reset_mechanism import State
from ..params import AdaptiveParams, LeakyParams
from ..reference import RecConnect
from . import ops
from .config import prepare, unsupported_reason

# torch.func transforms (grad, vjp, vmap, ...) cannot see into the kernels (they read
# storage that functorch's wrapped tensors do not have, and torch.library operators
# get no functorch rules): under a transform the reference runs, whose spike
# functions have the setup_context form and a generated vmap rule.
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


def fused_unsupported(
    device_type: str, family: str, x: torch.Tensor, params: LeakyParams, recurrent: bool
) -> str | None:
    """Why the fused backend for ``device_type`` cannot run this call, or None."""
    if x.device.type != device_type:
        return f"the input is on {x.device.type}, this backend runs on {device_type}"
    if recurrent:
        return "recurrent layers (rec_connect is an arbitrary module) run on the reference"
    if _functorch_active():
        return "torch.func transforms (grad, vjp, vmap, ...) run on the reference backend"
    if _threshold_is_trained(params):
        return (
            "train_threshold=True (the fused kernels give the threshold no gradient "
            "through the spike function; they run it only where no gradient reaches it)"
        )
    return unsupported_reason(family, x, params)


def _threshold_is_trained(params: LeakyParams) -> bool:
    """A threshold that receives a gradient through the spike function in this call."""
    threshold = getattr(params, "spike_threshold", None)
    return (
        bool(getattr(params, "train_threshold", False))
        and isinstance(threshold, torch.Tensor)
        and threshold.requires_grad
        and torch.is_grad_enabled()
    )


def fused_scan(
    family: str,
    x: torch.Tensor,
    state: State,
    params: LeakyParams,
    *,
    record: bool = False,
    rec_connect: RecConnect | None = None,
) -> tuple[torch.Tensor, State, dict[str, torch.Tensor], torch.Tensor]:
    """:func:`sinabs.dynamics.reference.reference_scan`'s results and the sum of the output.

    The sum (0-dim, in the graph) comes from the kernel, which accumulates it while
    writing the output, so a layer's ``firing_rate`` costs no further pass.
    """
    if rec_connect is not None:
        raise ValueError("the fused scan does not run recurrent layers")
    prepared = prepare(family, x, state, params)
    if isinstance(prepared, str):
        raise ValueError(f"the fused scan cannot run this call: {prepared}")
    cfg = prepared.config
    ints = cfg.ints()
    ints[-1] = int(record)  # KernelConfig.ints(): record comes last
    out, v, i, b, rec_v, rec_i, rec_b, out_sum = ops.scan(
        prepared.x, prepared.v0, prepared.i0, prepared.b0, prepared.rows, ints, list(cfg.fconfig)
    )
    batch, steps = x.shape[:2]
    neurons = prepared.neuron_shape
    flat = len(neurons) == 1  # the kernel's (B, T, N) and (B, N) are the layer's shapes

    def as_state(t: torch.Tensor) -> torch.Tensor:
        return t if flat else t.reshape(batch, *neurons)

    def as_seq(t: torch.Tensor) -> torch.Tensor:
        return t if flat else t.reshape(batch, steps, *neurons)

    new_state: State = {"v_mem": as_state(v)}
    recordings: dict[str, torch.Tensor] = {"v_mem": as_seq(rec_v)} if record else {}
    if cfg.has_syn:
        new_state["i_syn"] = as_state(i)
        if record:
            recordings["i_syn"] = as_seq(rec_i)
    if family == "adaptive":
        assert isinstance(params, AdaptiveParams)
        new_state["b"] = as_state(b)
        new_state["spike_threshold"] = params.spike_threshold + params.adapt_scale * new_state["b"]
        if record:
            recordings["b"] = as_seq(rec_b)
            recordings["spike_threshold"] = (
                params.spike_threshold + params.adapt_scale * recordings["b"]
            )
    return as_seq(out), new_state, recordings, out_sum
