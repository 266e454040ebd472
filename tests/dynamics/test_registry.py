"""The backend dispatch point: auto order, explicit choices and their errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs import dynamics
from sinabs.dynamics.params import SpikingParams


def _params(**kw) -> SpikingParams:
    base = dict(
        alpha_mem=torch.tensor(0.9),
        spike_threshold=torch.tensor(1.0),
        spike_fn=sa.MultiSpike,
        reset_fn=sa.MembraneSubtract(),
        surrogate_grad_fn=sa.SingleExponential(),
    )
    return SpikingParams(**{**base, **kw})


def test_auto_prefers_fused_cpu_on_cpu() -> None:
    x = torch.zeros(2, 3, 4)
    assert dynamics.select("spiking", x, _params(), recurrent=False).name == "cpu"


@pytest.mark.parametrize(
    "params, x, recurrent",
    [
        # MaxSpike passed as the class, not an instance:
        (_params(spike_fn=sa.MaxSpike), torch.zeros(2, 3, 4), False),
        (_params(surrogate_grad_fn=lambda v, t: v * 0 + 1), torch.zeros(2, 3, 4), False),
        (_params(reset_fn=lambda s, st, t: st), torch.zeros(2, 3, 4), False),
        (_params(), torch.zeros(2, 3, 4, dtype=torch.bfloat16), False),
        (_params(spike_threshold=torch.ones(2, 4)), torch.zeros(2, 3, 4), False),
        (_params(), torch.zeros(2, 3, 4), True),
    ],
    ids=["maxspike-class", "custom-surrogate", "custom-reset", "bfloat16", "batched-threshold",
         "recurrent"],
)  # fmt: skip
def test_auto_falls_back_to_reference_and_explicit_cpu_says_why(params, x, recurrent) -> None:
    assert dynamics.select("spiking", x, params, recurrent=recurrent).name == "reference"
    with pytest.raises(dynamics.BackendError, match="backend 'cpu' cannot run"):
        dynamics.select("spiking", x, params, recurrent=recurrent, backend="cpu")


def test_triton_needs_cuda() -> None:
    with pytest.raises(dynamics.BackendError, match="cuda"):
        dynamics.select(
            "spiking", torch.zeros(1, 2, 3), _params(), recurrent=False, backend="triton"
        )


def test_unknown_backend_name_is_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        sl.LIF(10.0, backend="fast")


def test_layer_with_explicit_cpu_backend_on_recurrent_layer_raises_on_forward() -> None:
    # (a single nn.Linear feedback runs on the kernel: tests/layers/test_recurrent_fused.py)
    rec = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Tanh())
    layer = sl.LIFRecurrent(10.0, rec_connect=rec, backend="cpu")
    with pytest.raises(dynamics.BackendError, match="recurrent layer: rec_connect runs"):
        layer(torch.zeros(1, 4, 3))
    layer.backend = "auto"
    assert layer(torch.zeros(1, 4, 3)).shape == (1, 4, 3)


def test_backend_is_part_of_config_and_repr() -> None:
    layer = sl.IAF(backend="reference")
    assert layer._param_dict["backend"] == "reference"
    assert "backend='reference'" in repr(layer)
    assert type(layer)(**layer._param_dict).backend == "reference"
