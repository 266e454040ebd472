"""sinabs.hooks (synops.md §1-2; quirks Q20, Q21, Part B 30-31).

Expected synops are counted from first principles: every input event times the number
of connections it drives (brute-force loops over a convolution's taps, ``out_features``
for a linear layer).
"""

from __future__ import annotations

import dataclasses
import doctest
import io
import pickle
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn

import sinabs.layers as sl
from sinabs import hooks

# ---------------------------------------------------------------- helpers


def brute_force_fanout(conv: nn.Conv2d, height: int, width: int) -> torch.Tensor:
    """(C_in, H, W): for each input pixel, how many (output channel, position) pairs it feeds."""
    kh, kw = conv.kernel_size
    sh, sw = conv.stride
    ph, pw = conv.padding
    dh, dw = conv.dilation
    out_h = (height + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    out_w = (width + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    in_per_group = conv.in_channels // conv.groups
    out_per_group = conv.out_channels // conv.groups
    count = torch.zeros(conv.in_channels, height, width)
    for o in range(conv.out_channels):
        group = o // out_per_group
        for k in range(out_h):
            for col in range(out_w):
                for di in range(kh):
                    for dj in range(kw):
                        i, j = k * sh - ph + di * dh, col * sw - pw + dj * dw
                        if 0 <= i < height and 0 <= j < width:
                            count[group * in_per_group : (group + 1) * in_per_group, i, j] += 1
    return count


def forward_hook_counts(model: nn.Module) -> list[int]:
    return [len(m._forward_hooks) for m in model.modules()]


def models_with_hook_data(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if "hook_data" in vars(m)]


# ---------------------------------------------------------------- small helpers


def test_extract_single_input():
    x = torch.zeros(1)
    assert hooks._extract_single_input((x,)) is x
    with pytest.raises(ValueError, match="multiple inputs not supported"):
        hooks._extract_single_input((x, x))


def test_get_hook_data_dict_creates_once():
    layer = nn.Linear(2, 2)
    data = hooks.get_hook_data_dict(layer)
    assert data == {}
    data["x"] = 1
    assert hooks.get_hook_data_dict(layer) is data
    assert layer.hook_data is data


# ---------------------------------------------------------------- connection maps


CONV_CASES = {
    "k2": dict(in_channels=1, out_channels=5, kernel_size=2),
    "k3-s2-p1": dict(in_channels=2, out_channels=3, kernel_size=3, stride=2, padding=1),
    "k3x2-dil2": dict(in_channels=1, out_channels=2, kernel_size=(3, 2), dilation=2),
    "groups2": dict(in_channels=4, out_channels=6, kernel_size=2, groups=2, padding=(1, 0)),
    "k5-s2-p2": dict(in_channels=3, out_channels=5, kernel_size=5, stride=2, padding=2),
}


@pytest.mark.parametrize("config", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_connection_map_counts_every_connection(config):
    conv = nn.Conv2d(**config, bias=False)
    height, width = 9, 8
    output_shape = conv(torch.zeros(1, conv.in_channels, height, width)).shape[1:]
    fanout = hooks.conv_connection_map(conv, (conv.in_channels, height, width), output_shape)
    assert fanout.shape == (1, conv.in_channels, height, width)
    assert not fanout.requires_grad
    assert torch.equal(fanout[0], brute_force_fanout(conv, height, width))


def test_connection_map_pinned_example():
    # Conv2d(1 -> 5, k=2) on 3x3: corners 1, edges 2, centre 4, times 5 channels
    fanout = hooks.conv_connection_map(nn.Conv2d(1, 5, 2), (1, 3, 3), (5, 2, 2))
    expected = 5 * torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    assert torch.equal(fanout[0, 0], expected)


@pytest.mark.parametrize(
    ("padding", "kernel_size"), [("valid", 3), ("same", 3)], ids=["valid", "same"]
)
def test_connection_map_string_padding(padding, kernel_size):
    conv = nn.Conv2d(1, 2, kernel_size, padding=padding)
    numeric = nn.Conv2d(1, 2, kernel_size, padding=0 if padding == "valid" else 1)
    out_shape = conv(torch.zeros(1, 1, 6, 6)).shape[1:]
    fanout = hooks.conv_connection_map(conv, (1, 6, 6), out_shape)
    assert torch.equal(fanout[0], brute_force_fanout(numeric, 6, 6))


def test_connection_map_uneven_same_padding_raises():
    conv = nn.Conv2d(1, 2, 2, padding="same")
    with pytest.raises(ValueError, match="padding='same'"):
        hooks.conv_connection_map(conv, (1, 6, 6), (2, 6, 6))


def test_connection_map_draws_random_numbers_like_a_conv_transpose():
    # The map is built from a default-initialised ConvTranspose2d, as in sinabs, so
    # seeded random streams after it stay the same.
    conv = nn.Conv2d(2, 3, 3, stride=2)
    torch.manual_seed(0)
    hooks.conv_connection_map(conv, (2, 7, 7), (3, 3, 3))
    after_map = torch.rand(4)
    torch.manual_seed(0)
    nn.ConvTranspose2d(3, 2, 3, stride=2, bias=False)
    assert torch.equal(after_map, torch.rand(4))


# ---------------------------------------------------------------- layer synops hooks


def test_linear_synops_pinned():
    model = nn.Linear(3, 5)
    inp = torch.zeros(2, 3)
    inp[0, 0], inp[1, 2] = 3, 5
    model.register_forward_hook(hooks.linear_layer_synops_hook)
    model(inp)
    assert model.hook_data["layer_synops_per_timestep"] == (3 + 5) / 2 * 5


def test_linear_synops_with_time_axis_sums_time():
    # (B=2, T=3, 4): mean over the batch only, then everything else is summed
    model = nn.Linear(4, 3, bias=False)
    model.register_forward_hook(hooks.linear_layer_synops_hook)
    inp = torch.zeros(2, 3, 4)
    inp[0, 0, 0] = 2  # sample 0: 2 events
    inp[1, :, 1] = 1  # sample 1: 3 events
    model(inp)
    assert model.hook_data["layer_synops_per_timestep"] == (2 + 3) / 2 * 3


def test_conv_synops_pinned_eye_example():
    model = nn.Conv2d(1, 5, kernel_size=2)
    model.register_forward_hook(hooks.conv_layer_synops_hook)
    model(torch.eye(3).reshape(1, 1, 3, 3).repeat(2, 1, 1, 1))
    # pixels (0,0), (1,1), (2,2) feed 1, 4 and 1 windows of 5 channels each
    assert model.hook_data["layer_synops_per_timestep"] == (1 + 4 + 1) * 5


@pytest.mark.parametrize("config", CONV_CASES.values(), ids=CONV_CASES.keys())
def test_conv_synops_equal_events_times_fanout(config):
    conv = nn.Conv2d(**config)
    conv.register_forward_hook(hooks.conv_layer_synops_hook)
    generator = torch.Generator().manual_seed(2)
    spikes = torch.randint(0, 3, (4, conv.in_channels, 9, 8), generator=generator).float()
    conv(spikes)
    fanout = brute_force_fanout(conv, 9, 8)
    per_sample = [(s * fanout).sum() for s in spikes]
    expected = sum(per_sample) / 4
    assert torch.allclose(conv.hook_data["layer_synops_per_timestep"], expected, rtol=1e-6)


def test_conv_synops_map_is_cached_and_rebuilt_for_new_sizes():
    conv = nn.Conv2d(1, 2, 3)
    conv.register_forward_hook(hooks.conv_layer_synops_hook)
    conv(torch.ones(2, 1, 5, 5))
    first_map = conv.hook_data["connection_map"]
    conv(torch.ones(7, 1, 5, 5))  # other batch size: same map
    assert conv.hook_data["connection_map"] is first_map
    conv(torch.ones(1, 1, 6, 4))  # other image size: new map
    assert conv.hook_data["connection_map"].shape == (1, 1, 6, 4)
    assert conv.hook_data["layer_synops_per_timestep"] == brute_force_fanout(conv, 6, 4).sum()


# ---------------------------------------------------------------- firing rates


def test_firing_rate_hook_is_output_mean():
    layer = sl.IAF()
    layer.register_forward_hook(hooks.firing_rate_hook)
    inp = torch.zeros(2, 4, 3)
    inp[0, 1, 2] = 1.0  # one spike
    inp[1, 3, 0] = 2.0  # two spikes
    layer(inp)
    assert layer.hook_data["firing_rate"] == 3 / 24


def test_firing_rate_per_neuron_hook_unsqueezed():
    layer = sl.IAF()
    layer.register_forward_hook(hooks.firing_rate_per_neuron_hook)
    inp = torch.zeros(2, 4, 3)
    inp[:, :, 0] = 1.0  # neuron 0 spikes at every step
    inp[0, 0, 2] = 1.0  # neuron 2 once in 8 steps
    layer(inp)
    assert torch.equal(layer.hook_data["firing_rate_per_neuron"], torch.tensor([1.0, 0.0, 0.125]))


def test_firing_rate_per_neuron_hook_squeezed():
    layer = sl.IAFSqueeze(batch_size=2)
    layer.register_forward_hook(hooks.firing_rate_per_neuron_hook)
    inp = torch.zeros(2 * 4, 2, 2)
    inp[:, 1, 1] = 1.0
    layer(inp)
    expected = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    assert torch.equal(layer.hook_data["firing_rate_per_neuron"], expected)


# ---------------------------------------------------------------- input_diff_hook


def test_input_diff_linear_without_bias():
    layer = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0]]))
    layer.register_forward_hook(hooks.input_diff_hook)
    layer(torch.tensor([[3.0, 1.0]]))
    # |W| x = 3 + 2 = 5, |W x| = |3 - 2| = 1
    assert torch.equal(layer.hook_data["diff_output"], torch.tensor([[4.0]]))


def test_input_diff_linear_bias_can_make_it_negative():
    # Q21 kept: the |W| path has no bias while the real output does
    layer = nn.Linear(1, 1)
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.fill_(10.0)
    layer.register_forward_hook(hooks.input_diff_hook)
    layer(torch.tensor([[1.0]]))
    assert torch.equal(layer.hook_data["diff_output"], torch.tensor([[1.0 - 11.0]]))


@pytest.mark.parametrize(
    "config",
    [
        dict(kernel_size=3, stride=2, padding=1),
        dict(kernel_size=2, groups=2),
        dict(kernel_size=3, dilation=2),
        dict(kernel_size=3, padding=1, padding_mode="circular"),
    ],
    ids=["stride-padding", "groups", "dilation", "circular"],
)
def test_input_diff_conv(config):
    conv = nn.Conv2d(2, 4, bias=False, **config)
    conv.register_forward_hook(hooks.input_diff_hook)
    x = torch.rand(3, 2, 9, 9)
    out = conv(x)
    reference = nn.Conv2d(2, 4, bias=False, **config)
    with torch.no_grad():
        reference.weight.copy_(conv.weight.abs())
    assert torch.allclose(conv.hook_data["diff_output"], reference(x) - out.abs())
    assert (conv.hook_data["diff_output"] >= -1e-6).all()  # triangle inequality


# ---------------------------------------------------------------- ModelSynopsHook


def pool_linear_model(*middle: nn.Module) -> nn.Sequential:
    """AvgPool2d(2) · middle · Flatten · Linear(4 -> 3): the pooled input of a 4x4 image."""
    linear = nn.Linear(4, 3, bias=False)
    return nn.Sequential(nn.AvgPool2d(2), *middle, nn.Flatten(), linear)


def test_model_hook_scales_by_the_average_pool_area():
    model = pool_linear_model()
    hooks.register_synops_hooks(model)
    model(torch.ones(2, 1, 4, 4))
    # each of the 16 input events reaches the 3 outputs (the pool averages 4 pixels,
    # event-driven hardware forwards all 4): 16 * 3 = 48 synops per sample
    assert model[2].hook_data["layer_synops_per_timestep"] == 12
    assert model[2].hook_data["synops_per_timestep"] == 48
    assert model.hook_data["synops_per_timestep"] == {2: 48}
    assert model.hook_data["total_synops_per_timestep"] == 48
    assert "synops_per_second" not in model.hook_data


def test_model_hook_two_pools_multiply():
    model = nn.Sequential(
        nn.AvgPool2d(2), nn.AvgPool2d((2, 2), stride=2), nn.Flatten(), nn.Linear(1, 2)
    )
    hooks.register_synops_hooks(model)
    model(torch.ones(1, 1, 4, 4))
    assert model.hook_data["synops_per_timestep"][3] == 16 * 2


def test_model_hook_batchnorm_keeps_the_scale():
    # Q20 fixed: a normalisation layer between pool and linear does not drop the factor
    model = pool_linear_model(nn.BatchNorm2d(1, eps=0.0)).eval()
    hooks.register_synops_hooks(model)
    with torch.no_grad():
        model[1].weight.fill_(2.0)  # doubles the pooled values
    model(torch.ones(1, 1, 4, 4))
    # 4 pooled values of 2 reach 3 outputs, times the pool area 4
    assert model.hook_data["synops_per_timestep"] == {3: 4 * 2 * 3 * 4}


def test_model_hook_unhooked_weight_layer_consumes_the_scale():
    # a Conv1d has synapses but no synops hook: the pending factor is dropped there
    model = nn.Sequential(
        nn.AvgPool2d(2),
        nn.Flatten(2),
        nn.Conv1d(1, 1, 1, bias=False),
        nn.Flatten(),
        nn.Linear(4, 3),
    )
    with torch.no_grad():
        model[2].weight.fill_(1.0)
    hooks.register_synops_hooks(model)
    model(torch.ones(1, 1, 4, 4))
    assert model.hook_data["synops_per_timestep"] == {4: 4 * 3}


def test_model_hook_sumpool_does_not_scale():
    model = nn.Sequential(sl.SumPool2d(2), nn.Flatten(), nn.Linear(4, 3))
    hooks.register_synops_hooks(model)
    model(torch.ones(1, 1, 4, 4))
    assert model.hook_data["synops_per_timestep"][2] == 16 * 3


@pytest.mark.parametrize("dt", [None, 1, 0.1, 2], ids=["no-dt", "dt1", "dt0.1", "dt2"])
def test_model_hook_per_second(dt):
    model = nn.Sequential(
        nn.Conv2d(1, 5, 2, bias=False), sl.IAFSqueeze(batch_size=2), nn.Flatten(), nn.Linear(20, 3)
    )
    hooks.register_synops_hooks(model, dt=dt)
    model(torch.eye(3).reshape(1, 1, 3, 3).repeat(2, 1, 1, 1))
    conv_synops = model[0].hook_data["layer_synops_per_timestep"]
    linear_synops = model[3].hook_data["layer_synops_per_timestep"]
    assert conv_synops == 30
    assert model.hook_data["synops_per_timestep"] == {0: conv_synops, 3: linear_synops}
    assert model.hook_data["total_synops_per_timestep"] == 0.0 + conv_synops + linear_synops
    if dt is None:
        assert "synops_per_second" not in model[0].hook_data
    else:
        for idx in (0, 3):
            per_timestep = model[idx].hook_data["synops_per_timestep"]
            assert model[idx].hook_data["synops_per_second"] == per_timestep / dt
            assert model.hook_data["synops_per_second"][idx] == per_timestep / dt
        total = model.hook_data["total_synops_per_timestep"]
        assert torch.allclose(model.hook_data["total_synops_per_second"], total / dt)


def test_model_hook_without_synaptic_layers_keeps_float_zero():
    model = nn.Sequential(nn.ReLU())
    hooks.register_synops_hooks(model, dt=1.0)
    model(torch.ones(2))
    assert model.hook_data["total_synops_per_timestep"] == 0.0
    assert isinstance(model.hook_data["total_synops_per_timestep"], float)
    assert model.hook_data["synops_per_second"] == {}


def test_model_hook_warns_for_overlapping_pools():
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, 3),
        sl.IAFSqueeze(batch_size=2),
        nn.AvgPool2d(kernel_size=4, stride=2),
        nn.Conv2d(4, 2, 3, 3),
        sl.IAFSqueeze(batch_size=2),
    )
    hooks.register_synops_hooks(model)
    with pytest.warns(UserWarning, match=r"index 2 .*kernel_size=4 but stride=2"):
        model(torch.rand(8, 2, 32, 32))


def test_model_hook_int_kernel_and_tuple_stride_do_not_warn():
    # sinabs compared 2 with (2, 2) and warned; equal windows are not a problem
    model = pool_linear_model()
    model[0] = nn.AvgPool2d(kernel_size=2, stride=(2, 2))
    hooks.register_synops_hooks(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(torch.ones(1, 1, 4, 4))
    assert model.hook_data["total_synops_per_timestep"] == 48


def test_model_hook_is_a_dataclass_restorable_from_its_fields():
    assert [f.name for f in dataclasses.fields(hooks.ModelSynopsHook)] == ["dt"]
    # unpickling restores __dict__ without calling __init__
    hook = hooks.ModelSynopsHook.__new__(hooks.ModelSynopsHook)
    hook.__dict__.update({"dt": 0.5})
    model = pool_linear_model()
    model[2].register_forward_hook(hooks.linear_layer_synops_hook)
    model.register_forward_hook(hook)
    model(torch.ones(1, 1, 4, 4))
    assert model.hook_data["synops_per_second"][2] == 48 / 0.5


# ---------------------------------------------------------------- registration and removal


def test_register_and_remove_leaves_nothing_behind():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), sl.IAFSqueeze(batch_size=1), nn.Flatten(), nn.Linear(2 * 4 * 4, 3)
    )
    before = forward_hook_counts(model)
    handle = hooks.register_synops_hooks(model, dt=1.0)
    assert len(handle) == 3  # conv, linear, model
    model(torch.ones(2, 1, 6, 6))
    assert len(models_with_hook_data(model)) == 3
    handle.remove()
    assert forward_hook_counts(model) == before == [0] * len(before)
    assert models_with_hook_data(model) == []
    handle.remove()  # idempotent
    model(torch.ones(2, 1, 6, 6))
    assert models_with_hook_data(model) == []


def test_removal_restores_earlier_hook_data():
    model = pool_linear_model()
    model[2].hook_data = {"mine": 1}
    with hooks.register_synops_hooks(model):
        model(torch.ones(1, 1, 4, 4))
        assert set(model[2].hook_data) == {
            "mine",
            "layer_synops_per_timestep",
            "synops_per_timestep",
        }
    assert model[2].hook_data == {"mine": 1}
    assert "hook_data" not in vars(model)


def test_registering_twice_is_harmless():
    model = pool_linear_model()
    first = hooks.register_synops_hooks(model)
    second = hooks.register_synops_hooks(model)
    model(torch.ones(1, 1, 4, 4))
    assert model.hook_data["total_synops_per_timestep"] == 48
    second.remove()
    first.remove()
    assert forward_hook_counts(model) == [0] * len(list(model.modules()))
    assert models_with_hook_data(model) == []


def test_register_needs_a_sequential():
    with pytest.raises(TypeError, match=r"nn\.Sequential"):
        hooks.register_synops_hooks(nn.Linear(2, 2))


def test_hooked_model_pickles_by_module_path():
    model = pool_linear_model()
    hooks.register_synops_hooks(model, dt=0.1)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    payload = buffer.getvalue()
    for name in (b"ModelSynopsHook", b"linear_layer_synops_hook", b"sinabs.hooks"):
        assert name in payload
    buffer.seek(0)
    copy = torch.load(buffer, weights_only=False)
    copy(torch.ones(1, 1, 4, 4))
    assert copy.hook_data["synops_per_second"][2] == 48 / 0.1
    assert pickle.loads(pickle.dumps(hooks.conv_layer_synops_hook)) is hooks.conv_layer_synops_hook


def test_synops_keep_autograd_history():
    model = pool_linear_model()
    hooks.register_synops_hooks(model)
    x = torch.ones(1, 1, 4, 4, requires_grad=True)
    model(x)
    model.hook_data["total_synops_per_timestep"].backward()
    # d(synops)/dx = 3 outputs * 4 (scale) / 4 (average) per pixel
    assert torch.equal(x.grad, torch.full_like(x, 3.0))


def test_import_sinabs_does_not_import_hooks():
    code = "import sys, sinabs; assert 'sinabs.hooks' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_docstring_examples():
    assert doctest.testmod(hooks).failed == 0
