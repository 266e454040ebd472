"""State life cycle of the neuron layers.

Covers the facts sinabs's tests pin (quirks.md Part B, items 1-8) with our batch-size
policy (row i of a new batch continues old row i mod B_old), resetting, ``zero_grad``,
``detach_states`` and truncated BPTT, copying (deepcopy, pickle, ``state_dict``, legacy
sinabs 3.x pickles), ``.to(dtype)`` and recordings.
"""

from __future__ import annotations

import copy
import io
import pickle
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import MembraneSubtract, MultiSpike, SingleExponential, SingleSpike
from sinabs.layers.alif import ALIFSqueeze

T = 4
N = 3


def linear_feedback(n: int = N) -> nn.Linear:
    g = torch.Generator().manual_seed(3)
    layer = nn.Linear(n, n)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n, n, generator=g) * 0.6)
        layer.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return layer


class Roll(nn.Module):
    """Elementwise recurrent connection: works for any neuron shape and batch size."""

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return 0.5 * spikes.roll(1, dims=-1)


R = {"record_states": True}

#: fresh layers with a recurrent nn.Linear (copying tests)
LAYERS: dict[str, Callable[[], nn.Module]] = {
    "IAF": lambda: sl.IAF(**R),
    "IAF-syn-min": lambda: sl.IAF(tau_syn=5.0, min_v_mem=-1.0, **R),
    "LIF": lambda: sl.LIF(tau_mem=10.0, **R),
    "LIF-syn": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, **R),
    "LIF-train-alphas": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, train_alphas=True, **R),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0, min_v_mem=-0.5, **R),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, **R),
    "ALIF-syn-min": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, min_v_mem=-1.0, **R),
    "ALIF-train-alphas": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, train_alphas=True, **R),
    "IAFRecurrent": lambda: sl.IAFRecurrent(rec_connect=linear_feedback(), **R),
    "LIFRecurrent-syn": lambda: sl.LIFRecurrent(
        tau_mem=10.0, rec_connect=linear_feedback(), tau_syn=5.0, **R
    ),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=20.0, rec_connect=linear_feedback(), **R
    ),
    "IAFSqueeze": lambda: sl.IAFSqueeze(num_timesteps=T, tau_syn=5.0, **R),
    "LIFSqueeze": lambda: sl.LIFSqueeze(batch_size=2, tau_mem=10.0, **R),
    "ExpLeakSqueeze": lambda: sl.ExpLeakSqueeze(num_timesteps=T, tau_mem=10.0, **R),
    "ALIFSqueeze": lambda: ALIFSqueeze(num_timesteps=T, tau_mem=10.0, tau_adapt=20.0, **R),
}
LAYER_IDS = list(LAYERS)

#: fresh layers whose neuron shape may change (elementwise recurrent connection)
RESHAPEABLE: dict[str, Callable[[], nn.Module]] = {
    "IAF-syn": lambda: sl.IAF(tau_syn=5.0, **R),
    "LIF-syn-min": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0, **R),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0, **R),
    "ALIF-syn": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, **R),
    "IAFRecurrent": lambda: sl.IAFRecurrent(rec_connect=Roll(), **R),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=Roll(), **R),
    "ALIFRecurrent-syn": lambda: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=20.0, rec_connect=Roll(), tau_syn=5.0, **R
    ),
    "IAFSqueeze": lambda: sl.IAFSqueeze(num_timesteps=T, **R),
    "ALIFSqueeze": lambda: ALIFSqueeze(num_timesteps=T, tau_mem=10.0, tau_adapt=20.0, **R),
}


def rand_input(batch: int, steps: int = T, n: int | tuple[int, ...] = N, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    trail = (n,) if isinstance(n, int) else n
    return torch.randn(batch, steps, *trail, generator=g) * 2 + 0.5


def feed(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Calls ``layer`` on ``x`` (B, T, ...) and returns (B, T, ...), for Squeeze layers too."""
    if isinstance(layer, sl.SqueezeMixin):
        return layer(x.flatten(0, 1)).reshape(x.shape)
    return layer(x)


def own_states(layer: nn.Module) -> dict[str, torch.Tensor]:
    """The layer's states (not those of its submodules)."""
    return dict(layer.named_states())


def assert_identical(actual: torch.Tensor, expected: torch.Tensor, what: str = "") -> None:
    actual = actual.detach().as_subclass(torch.Tensor)
    expected = expected.detach().as_subclass(torch.Tensor)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert torch.equal(actual, expected), f"{what}: max diff {(actual - expected).abs().max()}"


def assert_same_layer_state(actual: nn.Module, expected: nn.Module) -> None:
    """Equal (but distinct) parameters and buffers, in the same order."""
    params_a, params_e = dict(actual.named_parameters()), dict(expected.named_parameters())
    assert list(params_a) == list(params_e)
    for name, p in params_e.items():
        assert torch.equal(params_a[name], p), name
        assert params_a[name].requires_grad == p.requires_grad, name
    bufs_a = {**dict(actual.named_buffers()), **dict(actual.named_states())}
    bufs_e = {**dict(expected.named_buffers()), **dict(expected.named_states())}
    assert list(bufs_a) == list(bufs_e)
    for name, b in bufs_e.items():
        assert_identical(bufs_a[name], b, name)


# ---- Part B 1-3: fresh layers -----------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [lambda: sl.LIF(tau_mem=10.0, min_v_mem=-2), lambda: sl.IAF(min_v_mem=-2)],
    ids=["LIF", "IAF"],
)
def test_state_dict_has_threshold_and_min_v_mem(build: Callable[[], nn.Module]) -> None:
    layer = build()
    keys = set(layer.state_dict())
    assert {"spike_threshold", "min_v_mem", "v_mem"} <= keys
    params = dict(layer.named_parameters())
    assert not params["spike_threshold"].requires_grad
    assert not params["min_v_mem"].requires_grad
    assert "spike_threshold" not in dict(layer.named_buffers())
    assert "spike_threshold" not in dict(layer.named_states())


def test_iaf_has_no_tau_mem_parameter() -> None:
    assert "tau_mem" not in dict(sl.IAF().named_parameters())
    assert "tau_mem" not in sl.IAF().state_dict()


@pytest.mark.parametrize(
    ("build", "spikes"),
    [
        (lambda: sl.LIF(tau_mem=10.0), True),
        (lambda: sl.IAF(), True),
        (lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0), True),
        (lambda: sl.IAFRecurrent(rec_connect=Roll()), True),
        (lambda: sl.ExpLeak(tau_mem=10.0), False),
        (lambda: sl.ExpLeakSqueeze(tau_mem=10.0, batch_size=2), False),
    ],
    ids=["LIF", "IAF", "ALIF", "IAFRecurrent", "ExpLeak", "ExpLeakSqueeze"],
)
def test_does_spike(build: Callable[[], nn.Module], spikes: bool) -> None:
    assert build().does_spike is spikes


@pytest.mark.parametrize("name", LAYER_IDS)
def test_fresh_layer_is_uninitialised(name: str) -> None:
    layer = LAYERS[name]()
    states = own_states(layer)
    assert states, "no state buffers"
    for state_name, value in states.items():
        assert value.shape == (0,), state_name
    assert not layer.is_state_initialised()
    assert layer.shape is None
    layer.reset_states()
    layer.reset_states(randomize=True)
    assert not layer.is_state_initialised()
    assert layer.v_mem.sum() == 0


@pytest.mark.parametrize("name", LAYER_IDS)
def test_shape_argument_initialises_zeros(name: str) -> None:
    template = LAYERS[name]()
    layer = type(template)(**{**template._param_dict, "shape": (2, N)})
    assert layer.is_state_initialised()
    assert layer.shape == (2, N)
    for state_name, value in own_states(layer).items():
        assert value.shape == (2, N), state_name
        assert torch.count_nonzero(value) == 0, state_name


# ---- Part B 4-6: shapes follow the input --------------------------------------------------


def test_lif_state_shapes_follow_input_and_reset() -> None:
    layer = sl.LIF(tau_mem=30.0, tau_syn=10.0)
    layer(torch.rand(2, 3, 4))
    assert layer.v_mem.shape == (2, 4) and layer.i_syn.shape == (2, 4)
    assert layer.shape == (2, 4)
    layer(torch.rand(5, 3, 4))
    assert layer.v_mem.shape == (5, 4) and layer.i_syn.shape == (5, 4)
    layer.reset_states()
    assert torch.count_nonzero(layer.v_mem) == 0 and torch.count_nonzero(layer.i_syn) == 0
    layer.reset_states(randomize=True)
    assert torch.count_nonzero(layer.v_mem) > 0
    layer.reset_states(randomize=True, value_ranges={"v_mem": (-5.0, -3.0)})
    assert (layer.v_mem >= -5).all() and (layer.v_mem < -3).all()
    assert (layer.i_syn >= 0).all() and (layer.i_syn < 1).all()


@pytest.mark.parametrize(("first", "second"), [(3, 5), (5, 3)], ids=["grow", "shrink"])
def test_iaf_batch_change_carries_state(first: int, second: int) -> None:
    layer = sl.IAF(spike_threshold=50)
    layer(torch.ones(first, 10, 1, 28, 28))
    v_first = layer.v_mem.detach().clone()
    layer(torch.ones(second, 10, 1, 28, 28))
    for name, value in own_states(layer).items():
        assert value.shape == (second, 1, 28, 28), name
    rows = min(first, second)
    assert (layer.v_mem[:rows] - v_first[:rows]).sum() > 0
    layer(torch.ones(second, 10, 1, 26, 26))
    for name, value in own_states(layer).items():
        assert value.shape == (second, 1, 26, 26), name


@pytest.mark.parametrize("name", list(RESHAPEABLE))
def test_batch_change_repeats_rows_without_random_numbers(name: str) -> None:
    build = RESHAPEABLE[name]
    x1, x2 = rand_input(2, seed=1), rand_input(5, seed=2)
    layer = build()
    feed(layer, x1)
    rng = torch.get_rng_state()
    out = feed(layer, x2)
    assert torch.equal(torch.get_rng_state(), rng)
    twin = build()
    feed(twin, x1[torch.tensor([0, 1, 0, 1, 0])])
    assert_identical(out, feed(twin, x2), "output")
    for state_name, value in own_states(twin).items():
        assert_identical(own_states(layer)[state_name], value, state_name)


@pytest.mark.parametrize("name", list(RESHAPEABLE))
def test_neuron_shape_change_restarts_from_zeros(name: str) -> None:
    build = RESHAPEABLE[name]
    layer = build()
    feed(layer, rand_input(2, seed=3))
    x = rand_input(2, n=(2, 4), seed=4)
    out = feed(layer, x)
    fresh = build()
    assert_identical(out, feed(fresh, x), "output")
    for state_name, value in own_states(fresh).items():
        assert_identical(own_states(layer)[state_name], value, state_name)


def test_squeeze_wrong_batch_then_set_batch_size() -> None:
    layer = sl.IAFSqueeze(batch_size=2)
    with pytest.raises(RuntimeError):
        layer(torch.rand(5 * 13, N))
    sinabs.set_batch_size(layer, 5)
    out = layer(torch.rand(5 * 13, N))
    assert out.shape == (65, N)
    assert layer.v_mem.shape == (5, N)


# ---- Part B 7-8: recordings and firing rate ----------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_recordings_have_output_shape_and_state_names(name: str) -> None:
    layer = LAYERS[name]()
    x = rand_input(2, seed=5)
    out = feed(layer, x)
    names = set(own_states(layer))
    assert set(layer.recordings) == names
    for rec_name, rec in layer.recordings.items():
        assert rec.reshape(out.shape).shape == out.shape, rec_name
        assert rec.numel() == out.numel(), rec_name
        assert isinstance(rec, sinabs.Recording), rec_name


def test_no_i_syn_recording_without_synapse() -> None:
    layer = sl.LIF(tau_mem=10.0, record_states=True)
    layer(torch.rand(2, 5, 3))
    assert set(layer.recordings) == {"v_mem"}
    assert getattr(layer, "i_syn", None) is None


def test_recordings_empty_when_not_recording() -> None:
    layer = sl.LIF(tau_mem=10.0, tau_syn=5.0)
    layer(torch.rand(2, 5, 3))
    assert layer.recordings == {}


@pytest.mark.parametrize(
    ("build", "key", "param"),
    [
        (lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, record_states=True), "v_mem", "tau_mem"),
        (lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, record_states=True), "i_syn", "tau_syn"),
        (lambda: sl.ExpLeak(tau_mem=10.0, record_states=True), "v_mem", "tau_mem"),
        (
            lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, record_states=True),
            "b",
            "tau_adapt",
        ),
        (
            lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=Roll(), record_states=True),
            "v_mem",
            "tau_mem",
        ),
    ],
    ids=["LIF-v_mem", "LIF-i_syn", "ExpLeak-v_mem", "ALIF-b", "LIFRecurrent-v_mem"],
)
def test_backward_from_recordings(build: Callable, key: str, param: str) -> None:
    layer = build()
    layer(rand_input(2, steps=8, seed=6) * 5)
    layer.recordings[key].sum().backward()
    grad = getattr(layer, param).grad
    assert grad is not None and grad.abs().sum() > 0


def test_alif_i_syn_recording_without_norm_input_skips_tau_mem() -> None:
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, norm_input=False, record_states=True)
    out = layer(rand_input(2, steps=8, seed=7))
    assert layer.recordings["spike_threshold"].shape == out.shape
    layer.recordings["i_syn"].sum().backward()
    assert layer.tau_syn.grad is not None
    assert layer.tau_mem.grad is None


#: zero input keeps these at rest (the recurrent connection maps zero spikes to zero)
AT_REST = {**{k: v for k, v in LAYERS.items() if "Recurrent" not in k}, **RESHAPEABLE}


@pytest.mark.parametrize("name", list(AT_REST))
def test_recordings_are_causal_after_silence(name: str) -> None:
    layer = AT_REST[name]()
    x = rand_input(2, steps=8, seed=8)
    x[:, :5] = 0
    out = feed(layer, x)
    v_mem = layer.recordings["v_mem"].reshape(out.shape)
    assert torch.count_nonzero(v_mem[:, :5]) == 0


@pytest.mark.parametrize(
    "build",
    [lambda: sl.LIF(tau_mem=10.0), lambda: sl.IAF(), lambda: sl.ALIF(tau_mem=10.0, tau_adapt=5.0)],
    ids=["LIF", "IAF", "ALIF"],
)
def test_firing_rate(build: Callable[[], nn.Module]) -> None:
    layer = build()
    spikes = layer(rand_input(3, steps=7, n=5, seed=9) * 3)
    assert layer.firing_rate == spikes.sum() / (3 * 7 * 5)


# ---- reset_states ------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_reset_states_zeroes_and_detaches(name: str) -> None:
    layer = LAYERS[name]()
    x = rand_input(2, seed=10).requires_grad_()
    feed(layer, x)
    shapes = {k: v.shape for k, v in own_states(layer).items()}
    layer.reset_states()
    for state_name, value in own_states(layer).items():
        assert value.shape == shapes[state_name], state_name
        assert torch.count_nonzero(value) == 0, state_name
        assert value.grad_fn is None and not value.requires_grad, state_name


@pytest.mark.parametrize("name", LAYER_IDS)
def test_states_are_saved_moved_and_not_buffers(name: str) -> None:
    # states are not module buffers (DistributedDataParallel would broadcast rank 0's
    # states to every process), but state_dict saves them and .to() moves them, after
    # forward, reset_states and detach_states alike
    layer = LAYERS[name]()
    names = set(layer.state_names)
    assert names and not names & set(dict(layer.named_buffers(recurse=False)))
    for step in ("forward", "reset_states", "detach_states"):
        if step == "forward":
            feed(layer, rand_input(2, seed=11))
        else:
            getattr(layer, step)()
        saved = layer.state_dict()
        for state_name in names:
            assert torch.equal(saved[state_name], getattr(layer, state_name)), (step, state_name)
            assert saved[state_name].grad_fn is None, (step, state_name)
    layer.double()
    for state_name, value in layer.named_states():
        assert value.dtype == torch.float64, state_name
    layer.v_mem = torch.ones_like(layer.v_mem)  # assignment replaces the state
    assert torch.equal(layer.state_dict()["v_mem"], torch.ones_like(layer.v_mem))
    with pytest.raises(TypeError, match="v_mem"):
        layer.v_mem = 1.0


def test_load_state_dict_reports_missing_and_unexpected_states() -> None:
    layer = sl.LIF(tau_mem=10.0, tau_syn=5.0)
    saved = layer.state_dict()
    del saved["i_syn"]
    saved["w_mem"] = torch.zeros(0)
    result = layer.load_state_dict(saved, strict=False)
    assert result.missing_keys == ["i_syn"] and result.unexpected_keys == ["w_mem"]
    with pytest.raises(RuntimeError, match="i_syn"):
        layer.load_state_dict(saved)


@pytest.mark.parametrize("name", LAYER_IDS)
def test_reset_states_randomize_with_value_ranges(name: str) -> None:
    layer = LAYERS[name]()
    feed(layer, rand_input(2, seed=11).requires_grad_())
    names = list(own_states(layer))
    ranges = {"v_mem": (-5.0, -3.0)}
    if len(names) > 1:
        ranges[names[-1]] = (10.0, 12.0)
    torch.manual_seed(0)
    layer.reset_states(randomize=True, value_ranges=ranges)
    values = {k: v.clone() for k, v in own_states(layer).items()}
    for state_name, value in values.items():
        lo, hi = ranges.get(state_name, (0.0, 1.0))
        assert (value >= lo).all() and (value < hi).all(), state_name
        assert value.grad_fn is None, state_name
        assert value.unique().numel() > 1, state_name
    # seeded: the same draw again
    torch.manual_seed(0)
    layer.reset_states(randomize=True, value_ranges=ranges)
    for state_name, value in own_states(layer).items():
        assert torch.equal(value, values[state_name]), state_name


def test_value_ranges_ignored_without_randomize() -> None:
    layer = sl.LIF(tau_mem=10.0)
    layer(torch.rand(2, 3, 4))
    layer.reset_states(randomize=False, value_ranges={"v_mem": (-5.0, -3.0)})
    assert torch.count_nonzero(layer.v_mem) == 0


def test_sinabs_reset_states_reaches_nested_layers() -> None:
    model = nn.Sequential(
        nn.Linear(N, N), nn.Sequential(sl.LIFRecurrent(tau_mem=10.0, rec_connect=Roll()))
    )
    model(torch.rand(2, T, N) * 5)
    sinabs.reset_states(model)
    assert torch.count_nonzero(model[1][0].v_mem) == 0
    assert model[1][0].v_mem.grad_fn is None


# ---- zero_grad, detach_states, truncated BPTT --------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_zero_grad_detaches_and_keeps_values(name: str) -> None:
    layer = LAYERS[name]()
    x = rand_input(2, seed=12).requires_grad_()
    feed(layer, x).sum().backward()
    values = {k: v.detach().clone() for k, v in own_states(layer).items()}
    layer.zero_grad()
    for p_name, p in layer.named_parameters():
        assert p.grad is None, p_name
    for state_name, value in own_states(layer).items():
        assert value.grad_fn is None, state_name
        assert_identical(value, values[state_name], state_name)


@pytest.mark.parametrize("name", LAYER_IDS)
def test_detach_states_cuts_graph_and_keeps_values(name: str) -> None:
    layer = LAYERS[name]()
    x1 = rand_input(2, seed=13).requires_grad_()
    feed(layer, x1)
    assert layer.v_mem.grad_fn is not None
    values = {k: v.detach().clone() for k, v in own_states(layer).items()}
    layer.detach_states()
    for state_name, value in own_states(layer).items():
        assert value.grad_fn is None, state_name
        assert_identical(value, values[state_name], state_name)
    x2 = rand_input(2, seed=14).requires_grad_()
    feed(layer, x2).sum().backward()
    assert x1.grad is None
    assert x2.grad is not None


@pytest.mark.parametrize("cut", ["detach_states", "zero_grad", "sinabs.zero_grad"])
def test_truncated_bptt(cut: str) -> None:
    layer = sl.LIF(tau_mem=10.0, tau_syn=5.0)
    chunks = [rand_input(2, seed=s).mul(5).requires_grad_() for s in range(3)]
    grads = []
    for x in chunks:
        layer(x).sum().backward()  # would raise "backward a second time" without the cut
        grads.append(x.grad.clone())
        if cut == "detach_states":
            layer.detach_states()
        elif cut == "zero_grad":
            layer.zero_grad()
        else:
            sinabs.zero_grad(layer)
    for x, grad in zip(chunks, grads, strict=True):
        assert torch.equal(x.grad, grad)  # no later chunk reached back into it


def test_backward_without_cut_raises() -> None:
    layer = sl.LIF(tau_mem=10.0)
    layer(rand_input(2, seed=15) * 5).sum().backward()
    with pytest.raises(RuntimeError):
        layer(rand_input(2, seed=16) * 5).sum().backward()


# ---- deepcopy ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
@pytest.mark.parametrize("used", [False, True], ids=["fresh", "after-forward"])
def test_deepcopy(name: str, used: bool) -> None:
    layer = LAYERS[name]()
    if used:
        feed(layer, rand_input(2, seed=17).requires_grad_())
    first_param = next(iter(layer.parameters()))
    first_param.requires_grad_(not first_param.requires_grad)
    layer.eval()
    clone = copy.deepcopy(layer)

    assert type(clone) is type(layer)
    assert not clone.training
    assert_same_layer_state(clone, layer)
    for (_, p), (_, p_c) in zip(layer.named_parameters(), clone.named_parameters(), strict=True):
        assert p_c is not p and p_c.data_ptr() != p.data_ptr()
    for (_, b), (_, b_c) in zip(layer.named_states(), clone.named_states(), strict=True):
        assert b_c.numel() == 0 or b_c.data_ptr() != b.data_ptr()
        assert b_c.grad_fn is None
    assert clone._param_dict.keys() == layer._param_dict.keys()
    if used:
        assert layer.v_mem.grad_fn is not None  # the original keeps its graph
        for rec_name, rec in clone.recordings.items():
            assert rec.grad_fn is None, rec_name
            assert_identical(rec, layer.recordings[rec_name], rec_name)
    x = rand_input(2, seed=18)
    assert_identical(feed(clone, x), feed(layer, x), "continuation")


# ---- pickle and state_dict ------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
@pytest.mark.parametrize("used", [False, True], ids=["fresh", "after-forward"])
def test_pickle_round_trip(name: str, used: bool) -> None:
    layer = LAYERS[name]()
    if used:
        feed(layer, rand_input(2, seed=19).requires_grad_())
    restored = pickle.loads(pickle.dumps(layer))
    assert type(restored) is type(layer)
    assert_same_layer_state(restored, layer)
    assert restored._param_dict.keys() == layer._param_dict.keys()
    if used:
        for rec_name, rec in restored.recordings.items():
            assert isinstance(rec, sinabs.Recording), rec_name
            assert_identical(rec, layer.recordings[rec_name], rec_name)
    x = rand_input(2, seed=20)
    assert_identical(feed(restored, x), feed(layer, x), "continuation")


@pytest.mark.parametrize("name", LAYER_IDS)
def test_torch_save_whole_layer(name: str) -> None:
    layer = LAYERS[name]()
    feed(layer, rand_input(2, seed=21).requires_grad_())
    buffer = io.BytesIO()
    torch.save(layer, buffer)
    buffer.seek(0)
    restored = torch.load(buffer, weights_only=False)
    x = rand_input(2, seed=22)
    assert_identical(feed(restored, x), feed(layer, x), "continuation")


@pytest.mark.parametrize("name", LAYER_IDS)
def test_state_dict_round_trip(name: str) -> None:
    layer = LAYERS[name]()
    feed(layer, rand_input(2, seed=23).requires_grad_())
    buffer = io.BytesIO()
    torch.save(layer.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    restored = LAYERS[name]()
    restored.load_state_dict(saved)
    assert_same_layer_state(restored, layer)
    x = rand_input(2, seed=24)
    assert_identical(feed(restored, x), feed(layer, x), "continuation")


def test_state_dict_into_layer_of_other_batch() -> None:
    layer = sl.LIF(tau_mem=10.0, tau_syn=5.0)
    layer(rand_input(2, seed=25))
    other = sl.LIF(tau_mem=10.0, tau_syn=5.0)
    other(rand_input(5, seed=26))
    other.load_state_dict(layer.state_dict())
    assert other.v_mem.shape == (2, N) and other.i_syn.shape == (2, N)
    assert torch.equal(other.v_mem, layer.v_mem)


# ---- legacy sinabs 3.x pickles ------------------------------------------------------------

#: the nn.Module internals a pickle written by an old torch has (newer ones get defaults)
OLD_TORCH_INTERNALS = {
    "training", "_parameters", "_buffers", "_non_persistent_buffers_set", "_backward_hooks",
    "_forward_hooks", "_forward_pre_hooks", "_state_dict_hooks", "_load_state_dict_pre_hooks",
    "_modules",
}  # fmt: skip


def legacy_iaf_squeeze(v_mem: torch.Tensor, internals: str) -> sl.IAFSqueeze:
    """An IAFSqueeze restored the way unpickling a sinabs 3.x model restores it."""
    current = sl.IAFSqueeze(batch_size=4).__getstate__()
    module_keys = set(nn.Module().__dict__)
    if internals == "old-torch":
        module_keys &= OLD_TORCH_INTERNALS
    state = {k: copy.copy(v) for k, v in current.items() if k in module_keys}
    state["_parameters"] = {
        "tau_mem": None,
        "spike_threshold": nn.Parameter(torch.tensor(1.0), requires_grad=False),
    }
    state["_buffers"] = {"v_mem": v_mem.clone()}
    state["_modules"] = {}
    state.update(
        tau_syn=None,
        spike_fn=MultiSpike,
        reset_fn=MembraneSubtract(),
        surrogate_grad_fn=SingleExponential(),
        train_alphas=False,
        norm_input=False,
        record_states=False,
        min_v_mem=None,
        batch_size=4,
        num_timesteps=-1,
        i_syn=None,
        recordings={},
        firing_rate=torch.tensor(0.25),
    )
    layer = sl.IAFSqueeze.__new__(sl.IAFSqueeze)
    layer.__setstate__(state)
    return layer


def iaf_reference(v: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """IAF, MultiSpike, MembraneSubtract, θ = 1 over x (B, T, ...) from v (B, ...)."""
    out = []
    for t in range(x.shape[1]):
        v = v + x[:, t]
        spikes = torch.where(v > 0, torch.trunc(v), torch.zeros_like(v))
        v = v - spikes
        out.append(spikes)
    return torch.stack(out, 1), v


@pytest.mark.parametrize("internals", ["current-torch", "old-torch"])
def test_legacy_pickled_iaf_squeeze_continues_from_v_mem(internals: str) -> None:
    g = torch.Generator().manual_seed(27)
    v_mem = torch.rand(4, 6, 9, 9, generator=g) * 0.9
    layer = legacy_iaf_squeeze(v_mem, internals)
    assert layer.is_state_initialised()
    x = torch.rand(4 * 5, 6, 9, 9, generator=g) * 0.6
    out = layer(x)
    expected_out, expected_v = iaf_reference(v_mem, x.reshape(4, 5, 6, 9, 9))
    assert out.shape == x.shape
    torch.testing.assert_close(out, expected_out.flatten(0, 1))
    torch.testing.assert_close(layer.v_mem.detach(), expected_v)
    assert layer.firing_rate == out.sum() / out.numel()
    assert "IAFSqueeze" in repr(layer)
    again = pickle.loads(pickle.dumps(layer))
    assert torch.equal(again.v_mem, layer.v_mem)
    layer.reset_states()
    assert torch.count_nonzero(layer.v_mem) == 0


# ---- dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
@pytest.mark.parametrize("used", [False, True], ids=["fresh", "after-forward"])
def test_to_float64(name: str, used: bool) -> None:
    layer = LAYERS[name]()
    if used:
        feed(layer, rand_input(2, seed=28))
    layer.to(torch.float64)
    for p_name, p in layer.named_parameters():
        assert p.dtype == torch.float64, p_name
    out = feed(layer, rand_input(2, seed=29).double())
    assert out.dtype == torch.float64
    for state_name, value in layer.named_states():
        assert value.dtype == torch.float64, state_name
    for rec_name, rec in layer.recordings.items():
        assert rec.dtype == torch.float64, rec_name


@pytest.mark.parametrize("name", ["LIF-syn", "ALIF-syn-min", "IAFRecurrent"])
def test_float64_matches_float32_closely(name: str) -> None:
    x = rand_input(2, steps=6, seed=30) * 0.3
    out32 = feed(LAYERS[name](), x)
    out64 = feed(LAYERS[name]().to(torch.float64), x.double())
    torch.testing.assert_close(out64.float(), out32)


# ---- recordings: graph and numpy -------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_recordings_convert_to_numpy_and_keep_graph(name: str) -> None:
    layer = LAYERS[name]()
    x = rand_input(2, seed=31).requires_grad_()
    feed(layer, x)
    for rec_name, rec in layer.recordings.items():
        array = np.asarray(rec)
        assert isinstance(array, np.ndarray), rec_name
        np.testing.assert_array_equal(array, rec.detach().as_subclass(torch.Tensor).numpy())
        assert rec.grad_fn is not None, rec_name
    sum(rec.sum() for rec in layer.recordings.values()).backward()
    assert x.grad is not None


def test_seed_tutorial_plots_without_detach() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layer = sl.ALIF(tau_mem=20.0, tau_adapt=50.0, spike_fn=SingleSpike, record_states=True)
    plain = sl.LIF(tau_mem=20.0, record_states=True)
    x = torch.rand(1, 30, 1)
    layer(x)
    plain(x)
    try:
        plt.plot(layer.recordings["v_mem"].flatten(), label="v_mem")
        plt.plot(layer.recordings["spike_threshold"].flatten(), label="threshold")
        plt.plot([plain.spike_threshold] * 30, label="LIF threshold")
    finally:
        plt.close("all")
    layer.recordings["v_mem"].sum().backward()
    assert layer.tau_mem.grad is not None


def test_assigning_spike_fn_after_construction_takes_effect() -> None:
    # layers resolve spike_fn once when it is set (what torch.compile reads)
    x = rand_input(2, seed=31) * 4
    layer = sl.LIF(tau_mem=10.0)
    layer.spike_fn = SingleSpike
    assert torch.equal(layer(x), sl.LIF(tau_mem=10.0, spike_fn=SingleSpike)(x))
    copied = pickle.loads(pickle.dumps(layer))
    assert copied.spike_fn is SingleSpike
    copied.reset_states()
    layer.reset_states()
    assert torch.equal(copied(x), layer(x))
