"""sinabs.utils: state handling at any depth, batch/time sizes, activations, weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.utils import (
    collapse_pair,
    expand_to_pair,
    get_activations,
    get_batch_size,
    get_network_activations,
    get_new_index,
    get_num_timesteps,
    get_smallest_compatible_time_dimension,
    normalize_weights,
    set_batch_size,
)

B, T, N = 2, 6, 3


class Deep(nn.Module):
    """Neuron layers at several depths, recurrent and adaptive ones included."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(N, N)
        self.block = nn.Sequential(
            sl.IAF(),
            nn.Sequential(sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(N, N))),
        )
        self.alif = sl.ALIFRecurrent(tau_mem=10.0, tau_adapt=20.0, rec_connect=nn.Linear(N, N))
        self.leak = sl.ExpLeak(tau_mem=5.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        current = self.inp(x) * 4
        return self.block(current) + self.alif(current) + self.leak(current)


def run(model: nn.Module) -> list[sl.StatefulLayer]:
    torch.manual_seed(0)
    model(torch.rand(B, T, N))
    layers = [m for m in model.modules() if isinstance(m, sl.StatefulLayer)]
    assert len(layers) == 4
    for layer in layers:
        assert layer.v_mem.grad_fn is not None
        assert layer.v_mem.abs().sum() > 0
    return layers


def test_reset_states_reaches_every_depth() -> None:
    model = Deep()
    layers = run(model)
    sinabs.reset_states(model)
    for layer in layers:
        assert layer.v_mem.grad_fn is None
        assert layer.v_mem.sum() == 0


def test_zero_grad_reaches_every_depth() -> None:
    model = Deep()
    layers = run(model)
    values = [layer.v_mem.clone() for layer in layers]
    sinabs.zero_grad(model)
    for layer, value in zip(layers, values, strict=True):
        assert layer.v_mem.grad_fn is None
        assert torch.equal(layer.v_mem, value)


@pytest.mark.parametrize(
    "make",
    [
        lambda: sl.IAF(),
        lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(N, N)),
    ],
    ids=["IAF", "LIFRecurrent"],
)
def test_reset_states_of_a_bare_layer(make: Callable[[], sl.StatefulLayer]) -> None:
    layer = make()
    layer(torch.rand(B, T, N) * 4)
    assert layer.v_mem.abs().sum() > 0
    sinabs.reset_states(layer)
    assert layer.v_mem.sum() == 0


# ---------------------------------------------------------------------------------------
# batch size and time steps


def squeeze_model(batch_sizes: list[int | None], num_timesteps: list[int | None]) -> nn.Module:
    return nn.Sequential(
        *[
            nn.Sequential(nn.Identity(), sl.IAFSqueeze(batch_size=b, num_timesteps=t))
            for b, t in zip(batch_sizes, num_timesteps, strict=True)
        ]
    )


@pytest.mark.parametrize(
    ("batch_sizes", "num_timesteps", "expected"),
    [
        ([4, 4], [None, None], (4, -1, 4)),
        ([None, None], [5, 5], (-1, 5, 5)),
        ([4, None], [None, 5], (4, 5, 20)),
        ([3, 3], [7, 7], (3, 7, 21)),
    ],
    ids=["batch", "time", "mixed", "both"],
)
def test_batch_size_and_num_timesteps(
    batch_sizes: list[int | None], num_timesteps: list[int | None], expected: tuple[int, ...]
) -> None:
    model = squeeze_model(batch_sizes, num_timesteps)
    assert (
        get_batch_size(model),
        get_num_timesteps(model),
        get_smallest_compatible_time_dimension(model),
    ) == expected


def test_no_squeeze_layers() -> None:
    model = nn.Sequential(nn.Linear(2, 2), sl.IAF())
    assert get_batch_size(model) == -1
    assert get_num_timesteps(model) == -1
    assert get_smallest_compatible_time_dimension(model) == 1


@pytest.mark.parametrize(
    ("batch_sizes", "num_timesteps", "getter", "message"),
    [
        ([3, 2], [None, None], get_batch_size, "different batch sizes: 2, 3."),
        ([None, None], [4, 9], get_num_timesteps, "different numbers of time steps: 4, 9."),
    ],
    ids=["batch", "time"],
)
def test_conflicting_sizes_have_a_readable_message(
    batch_sizes: list[int | None],
    num_timesteps: list[int | None],
    getter: Callable[[nn.Module], int],
    message: str,
) -> None:
    model = squeeze_model(batch_sizes, num_timesteps)
    with pytest.raises(ValueError) as info:
        getter(model)
    assert str(info.value) == f"The model contains layers with {message}"


def test_set_batch_size_reaches_nested_layers() -> None:
    model = squeeze_model([2, 2], [None, None])
    set_batch_size(model, 5)
    assert get_batch_size(model) == 5
    out = model(torch.rand(5 * 13, 4))  # a batch of 5 now splits
    assert out.shape == (65, 4)


# ---------------------------------------------------------------------------------------
# small helpers


@pytest.mark.parametrize(
    ("existing", "expected"),
    [([0, 1, 2, 3], 4), ([0, 1, 3], 2), ([], 0), ([3, 1, 2], 0), ([5, 0, 0, 1], 2), ([-1], 0)],
    ids=["full", "gap", "empty", "no-zero", "duplicates", "negative"],
)
def test_get_new_index(existing: list[int], expected: int) -> None:
    assert get_new_index(existing) == expected


def test_expand_to_pair() -> None:
    assert expand_to_pair(3) == (3, 3)
    assert expand_to_pair((2, 5)) == (2, 5)


@pytest.mark.parametrize(
    ("pair", "expected"),
    [((3, 3), 3), ([4, 4, 4], 4), (7, 7), (2.5, 2.5)],
    ids=["tuple", "list", "int", "float"],
)
def test_collapse_pair(pair: Any, expected: Any) -> None:
    assert collapse_pair(pair) == expected


@pytest.mark.parametrize(
    ("pair", "match"),
    [((3, 4), "All elements of `pair` must be the same"), ((), "must not be empty")],
    ids=["different", "empty"],
)
def test_collapse_pair_errors(pair: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        collapse_pair(pair)


# ---------------------------------------------------------------------------------------
# activations


def ann() -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Dropout(0.5), nn.Linear(5, 2), nn.ReLU())


def test_get_activations_default_names() -> None:
    model = ann()
    x = torch.rand(3, 4)
    acts = get_activations(model, x)
    assert len(acts) == 6
    np.testing.assert_array_equal(acts[0], x.numpy())
    model.eval()
    with torch.no_grad():
        np.testing.assert_array_equal(acts[2], model[:2](x).numpy())
        np.testing.assert_array_equal(acts[5], model(x).numpy())


def test_get_activations_restores_training_mode_and_removes_hooks() -> None:
    model = ann()
    model[3].eval()
    x = torch.rand(3, 4)
    first = get_activations(model, x, ["4"])
    assert model.training and model[2].training and not model[3].training
    assert all(not m._forward_hooks for m in model.modules())
    # dropout was off (eval mode) during the pass: repeatable
    np.testing.assert_array_equal(first[0], get_activations(model, x, ["4"])[0])


def test_get_activations_in_name_order() -> None:
    model = ann()
    acts = get_activations(model, torch.rand(3, 4), ["3", "Input", "0"])
    assert [a.shape for a in acts] == [(3, 2), (3, 4), (3, 5)]


def snn() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(4, 5), sl.IAFSqueeze(batch_size=1), nn.Linear(5, 2))


@pytest.mark.parametrize("rate", [False, True], ids=["counts", "rates"])
def test_get_network_activations(rate: bool) -> None:
    model = snn()
    x = (torch.rand(T, 4) < 0.5).float()
    acts = get_network_activations(model, x, ["Input", "1"], bRate=rate)
    sinabs.reset_states(model)
    with torch.no_grad():
        spikes = model[:2](x)
    scale = 1000 / T if rate else 1.0
    np.testing.assert_allclose(acts[0], x.sum(0).numpy() * scale)
    np.testing.assert_allclose(acts[1], spikes.sum(0).numpy() * scale)


def test_get_network_activations_removes_hooks_and_has_default_names() -> None:
    model = snn()
    x = torch.rand(T, 4)
    first = get_network_activations(model, x)
    assert len(first) == 4  # Input, 0, 1, 2
    assert all(not m._forward_hooks for m in model.modules())
    sinabs.reset_states(model)
    second = get_network_activations(model, x)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


class WithUnused(nn.Module):
    """A model with a submodule that its forward never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.net = snn()
        self.unused = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


@pytest.mark.parametrize(
    "function",
    [get_activations, get_network_activations],
    ids=["analog", "spiking"],
)
@pytest.mark.parametrize(
    ("names", "match"),
    [(["Input", "nope"], "'nope' is not a submodule"), (["unused"], "not called")],
    ids=["unknown-name", "never-called"],
)
def test_activation_names_must_be_used_modules(
    function: Callable[..., Any], names: list[str], match: str
) -> None:
    model = WithUnused()
    with pytest.raises(ValueError, match=match):
        function(model, torch.rand(T, 4), names)
    assert all(not m._forward_hooks for m in model.modules())


# ---------------------------------------------------------------------------------------
# weight normalisation


def test_normalize_weights_scales_by_the_percentile() -> None:
    model = ann().eval()
    x = torch.rand(50, 4)
    with torch.no_grad():
        # the percentile of the float64 outputs: the same number under numpy 1.x and 2.x
        scale = float(np.percentile(model[:2](x).double().numpy(), 90))
    weight, bias = model[0].weight.clone(), model[0].bias.clone()
    normalize_weights(model, x, ["1"], ["0"], percentile=90)
    # the same float32 multiplication on both sides: bitwise
    assert torch.equal(model[0].weight, weight * (1 / scale))
    assert torch.equal(model[0].bias, bias * (1 / scale))
    with torch.no_grad():
        assert np.percentile(model[:2](x).numpy(), 90) == pytest.approx(1.0, rel=1e-5)


def test_normalize_weights_layer_by_layer() -> None:
    """Each pass sees the earlier rescalings; nested names work."""
    torch.manual_seed(4)
    model = nn.Sequential(
        nn.Sequential(nn.Linear(4, 6), nn.ReLU()),
        nn.Linear(6, 3, bias=False),
        nn.ReLU(),
    )
    x = torch.rand(40, 4) * 5
    normalize_weights(model, x, ["0.1", "2"], ["0.0", "1"], percentile=99)
    with torch.no_grad():
        assert np.percentile(model[0](x).numpy(), 99) == pytest.approx(1.0, rel=1e-5)
        assert np.percentile(model(x).numpy(), 99) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"output_layers": ["1", "4"], "param_layers": ["0"]}, "same length"),
        ({"output_layers": ["9"], "param_layers": ["0"]}, r"output_layers names \['9'\]"),
        ({"output_layers": ["1"], "param_layers": ["x"]}, r"param_layers names \['x'\]"),
        ({"percentile": 120}, "percentile must be in"),
    ],
    ids=["length-mismatch", "unknown-output", "unknown-param", "bad-percentile"],
)
def test_normalize_weights_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    arguments: dict[str, Any] = {"output_layers": ["1"], "param_layers": ["0"], **kwargs}
    with pytest.raises(ValueError, match=match):
        normalize_weights(ann(), torch.rand(5, 4), **arguments)


def test_normalize_weights_silent_layer() -> None:
    model = ann()
    with torch.no_grad():
        model[0].bias.fill_(-100.0)
    before = model[0].weight.clone()
    with pytest.raises(ValueError, match="percentile of the output of '1' is 0"):
        normalize_weights(model, torch.rand(5, 4), ["1"], ["0"])
    assert torch.equal(model[0].weight, before)
