"""Bad arguments and inputs raise TypeError or ValueError naming the argument.

After every rejected call the layer still works: it continues exactly like a twin
layer that only ever saw the good inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import sinabs.layers as sl
from sinabs.layers.alif import ALIFSqueeze

T = 4
N = 3


class Roll(nn.Module):
    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return 0.5 * spikes.roll(1, dims=-1)


def linear_feedback() -> nn.Linear:
    layer = nn.Linear(N, N)
    with torch.no_grad():
        layer.weight.copy_(torch.linspace(-0.5, 0.5, N * N).reshape(N, N))
        layer.bias.fill_(0.05)
    return layer


LAYERS: dict[str, Callable[[], nn.Module]] = {
    "IAF": lambda: sl.IAF(tau_syn=5.0),
    "LIF": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0),
    "IAFRecurrent": lambda: sl.IAFRecurrent(rec_connect=Roll()),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear_feedback()),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(tau_mem=10.0, tau_adapt=20.0, rec_connect=Roll()),
    "IAFSqueeze": lambda: sl.IAFSqueeze(batch_size=2),
    "LIFSqueeze": lambda: sl.LIFSqueeze(num_timesteps=T, tau_mem=10.0),
    "ExpLeakSqueeze": lambda: sl.ExpLeakSqueeze(batch_size=2, tau_mem=10.0),
    "ALIFSqueeze": lambda: ALIFSqueeze(num_timesteps=T, tau_mem=10.0, tau_adapt=20.0),
}
LAYER_IDS = list(LAYERS)


def is_squeeze(layer: nn.Module) -> bool:
    return isinstance(layer, sl.SqueezeMixin)


def good_input(layer: nn.Module, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, T, N, generator=g) * 2 + 0.5
    return x.flatten(0, 1) if is_squeeze(layer) else x


def make_pair(name: str) -> tuple[nn.Module, nn.Module]:
    """A layer and its twin, both after one good call."""
    layer, twin = LAYERS[name](), LAYERS[name]()
    layer(good_input(layer, 0))
    twin(good_input(twin, 0))
    return layer, twin


def tensors(layer: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """The layer's states and every buffer (its submodules' included)."""
    return [*layer.named_states(), *layer.named_buffers()]


def assert_still_works(layer: nn.Module, twin: nn.Module) -> None:
    """The layer continues exactly like its twin that never saw the bad input."""
    out, expected = layer(good_input(layer, 1)), twin(good_input(twin, 1))
    assert torch.equal(out, expected)
    for (name, b), (_, b_twin) in zip(tensors(layer), tensors(twin), strict=True):
        assert torch.equal(b, b_twin), name


# ---- the input tensor --------------------------------------------------------------------

NOT_TENSORS = {
    "list": [[[0.5] * N] * T] * 2,
    "numpy": np.ones((2, T, N), dtype=np.float32),
    "float": 1.0,
    "None": None,
}


@pytest.mark.parametrize("value", list(NOT_TENSORS))
@pytest.mark.parametrize("name", LAYER_IDS)
def test_non_tensor_input(name: str, value: str) -> None:
    layer, twin = make_pair(name)
    with pytest.raises(TypeError, match="input_data"):
        layer(NOT_TENSORS[value])
    assert_still_works(layer, twin)


@pytest.mark.parametrize(
    "dtype",
    [torch.int64, torch.int32, torch.uint8, torch.bool, torch.complex64],
    ids=str,
)
@pytest.mark.parametrize("name", LAYER_IDS)
def test_non_float_dtype(name: str, dtype: torch.dtype) -> None:
    layer, twin = make_pair(name)
    bad = torch.ones_like(good_input(layer, 2)).to(dtype)
    with pytest.raises(TypeError, match="input_data"):
        layer(bad)
    assert_still_works(layer, twin)


@pytest.mark.parametrize("shape", [(N,), ()], ids=["1d", "0d"])
@pytest.mark.parametrize("name", [n for n in LAYER_IDS if "Squeeze" not in n])
def test_too_few_dimensions(name: str, shape: tuple[int, ...]) -> None:
    layer, twin = make_pair(name)
    with pytest.raises(ValueError, match="input_data"):
        layer(torch.ones(shape))
    assert_still_works(layer, twin)


@pytest.mark.parametrize("name", [n for n in LAYER_IDS if "Squeeze" in n])
def test_squeeze_zero_dimensional_input(name: str) -> None:
    layer, twin = make_pair(name)
    with pytest.raises(ValueError, match="input_data"):
        layer(torch.tensor(1.0))
    assert_still_works(layer, twin)


@pytest.mark.parametrize("name", [n for n in LAYER_IDS if "Squeeze" not in n])
def test_fresh_layer_rejects_1d_input_and_stays_uninitialised(name: str) -> None:
    layer = LAYERS[name]()
    with pytest.raises(ValueError, match="input_data"):
        layer(torch.ones(N))
    assert not layer.is_state_initialised()


# ---- devices -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_input_on_other_device_than_states(name: str) -> None:
    layer, twin = make_pair(name)
    bad = good_input(layer, 3).to("meta")
    with pytest.raises(ValueError, match="input_data"):
        layer(bad)
    assert_still_works(layer, twin)


@pytest.mark.parametrize("name", LAYER_IDS)
def test_layer_moved_to_other_device_than_input(name: str) -> None:
    layer = LAYERS[name]()
    x = good_input(layer, 4)
    layer(x)
    layer.to("meta")
    with pytest.raises(ValueError, match="input_data"):
        layer(x)
    out = layer(x.to("meta"))  # an input on the layer's device works
    assert out.device.type == "meta"
    assert out.shape == x.shape


# ---- time constants ------------------------------------------------------------------------

TAU_BUILDERS: dict[str, tuple[Callable[[Any], nn.Module], str]] = {
    "LIF-tau_mem": (lambda v: sl.LIF(tau_mem=v), "tau_mem"),
    "LIF-tau_syn": (lambda v: sl.LIF(tau_mem=10.0, tau_syn=v), "tau_syn"),
    "LIF-train-alphas-tau_mem": (lambda v: sl.LIF(tau_mem=v, train_alphas=True), "tau_mem"),
    "LIF-train-alphas-tau_syn": (
        lambda v: sl.LIF(tau_mem=10.0, tau_syn=v, train_alphas=True),
        "tau_syn",
    ),
    "IAF-tau_syn": (lambda v: sl.IAF(tau_syn=v), "tau_syn"),
    "ExpLeak-tau_mem": (lambda v: sl.ExpLeak(tau_mem=v), "tau_mem"),
    "LIFRecurrent-tau_mem": (lambda v: sl.LIFRecurrent(tau_mem=v, rec_connect=Roll()), "tau_mem"),
    "IAFRecurrent-tau_syn": (lambda v: sl.IAFRecurrent(rec_connect=Roll(), tau_syn=v), "tau_syn"),
    "ALIF-tau_mem": (lambda v: sl.ALIF(tau_mem=v, tau_adapt=20.0), "tau_mem"),
    "ALIF-tau_adapt": (lambda v: sl.ALIF(tau_mem=10.0, tau_adapt=v), "tau_adapt"),
    "ALIF-tau_syn": (lambda v: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=v), "tau_syn"),
    "ALIF-train-alphas-tau_adapt": (
        lambda v: sl.ALIF(tau_mem=10.0, tau_adapt=v, train_alphas=True),
        "tau_adapt",
    ),
    "ALIFRecurrent-tau_adapt": (
        lambda v: sl.ALIFRecurrent(tau_mem=10.0, tau_adapt=v, rec_connect=Roll()),
        "tau_adapt",
    ),
    "LIFSqueeze-tau_mem": (lambda v: sl.LIFSqueeze(batch_size=2, tau_mem=v), "tau_mem"),
    "IAFSqueeze-tau_syn": (lambda v: sl.IAFSqueeze(batch_size=2, tau_syn=v), "tau_syn"),
    "ExpLeakSqueeze-tau_mem": (lambda v: sl.ExpLeakSqueeze(batch_size=2, tau_mem=v), "tau_mem"),
    "ALIFSqueeze-tau_adapt": (
        lambda v: ALIFSqueeze(batch_size=2, tau_mem=10.0, tau_adapt=v),
        "tau_adapt",
    ),
}

BAD_TAUS: dict[str, Callable[[], Any]] = {
    "zero": lambda: 0.0,
    "int-zero": lambda: 0,
    "negative": lambda: -5.0,
    "nan": lambda: math.nan,
    "tensor-zero": lambda: torch.tensor(0.0),
    "tensor-one-negative": lambda: torch.tensor([10.0, -1.0, 20.0]),
    "tensor-one-nan": lambda: torch.tensor([10.0, float("nan")]),
}


@pytest.mark.parametrize("bad", list(BAD_TAUS))
@pytest.mark.parametrize("case", list(TAU_BUILDERS))
def test_invalid_time_constant(case: str, bad: str) -> None:
    build, argument = TAU_BUILDERS[case]
    with pytest.raises(ValueError, match=argument):
        build(BAD_TAUS[bad]())


@pytest.mark.parametrize("case", list(TAU_BUILDERS))
def test_non_numeric_time_constant(case: str) -> None:
    build, argument = TAU_BUILDERS[case]
    with pytest.raises((TypeError, ValueError), match=argument):
        build("fast")


@pytest.mark.parametrize("case", list(TAU_BUILDERS))
def test_valid_time_constants_are_accepted(case: str) -> None:
    build, _ = TAU_BUILDERS[case]
    build(0.5)
    build(torch.tensor([2.0, 3.0, 4.0]))
    build(7)  # an integer


# ---- Squeeze layers ------------------------------------------------------------------------

SQUEEZE_CLASSES: dict[str, tuple[type, dict[str, Any]]] = {
    "IAFSqueeze": (sl.IAFSqueeze, {}),
    "LIFSqueeze": (sl.LIFSqueeze, {"tau_mem": 10.0}),
    "ExpLeakSqueeze": (sl.ExpLeakSqueeze, {"tau_mem": 10.0}),
    "ALIFSqueeze": (ALIFSqueeze, {"tau_mem": 10.0, "tau_adapt": 20.0}),
}


@pytest.mark.parametrize(
    "sizes",
    [{}, {"batch_size": None, "num_timesteps": None}, {"batch_size": 0}, {"num_timesteps": 0}],
    ids=["missing", "none", "batch-zero", "time-zero"],
)
@pytest.mark.parametrize("name", list(SQUEEZE_CLASSES))
def test_squeeze_needs_batch_size_or_num_timesteps(name: str, sizes: dict[str, Any]) -> None:
    cls, kwargs = SQUEEZE_CLASSES[name]
    with pytest.raises(TypeError, match="batch_size"):
        cls(**sizes, **kwargs)


@pytest.mark.parametrize(
    ("sizes", "rows"),
    [
        ({"batch_size": 2}, 7),
        ({"num_timesteps": 3}, 7),
        ({"batch_size": 2, "num_timesteps": 3}, 12),
        ({"batch_size": 2, "num_timesteps": 3}, 4),
        ({"batch_size": 2, "num_timesteps": 3}, 7),
    ],
    ids=["batch-not-divisible", "time-not-divisible", "both-more", "both-fewer", "both-odd"],
)
@pytest.mark.parametrize("name", list(SQUEEZE_CLASSES))
def test_squeeze_rows_that_do_not_split(name: str, sizes: dict[str, int], rows: int) -> None:
    cls, kwargs = SQUEEZE_CLASSES[name]
    layer, twin = cls(**sizes, **kwargs), cls(**sizes, **kwargs)
    good = torch.rand(6, N) * 3  # 2 samples x 3 steps fit every configuration
    layer(good)
    twin(good)
    with pytest.raises(ValueError, match="input_data") as info:
        layer(torch.rand(rows, N))
    assert isinstance(info.value, RuntimeError)
    more = torch.rand(6, N) * 3
    assert torch.equal(layer(more), twin(more))
    for (name_b, b), (_, b_twin) in zip(tensors(layer), tensors(twin), strict=True):
        assert torch.equal(b, b_twin), name_b
