"""sinabs.synopcounter: SNNAnalyzer and SynOpCounter (synops.md §3-4; quirks Q18, Q19).

Expected numbers are counted by hand: events times the connections they drive, spikes
divided by neurons and time steps.
"""

from __future__ import annotations

import copy
import doctest
import gc
import math
import warnings

import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
import sinabs.synopcounter as synopcounter
from sinabs import SNNAnalyzer, SynOpCounter
from sinabs.hooks import conv_connection_map
from sinabs.layers import NeuromorphicReLU

pytestmark = pytest.mark.filterwarnings("ignore:SNNAnalyzer is deprecated:DeprecationWarning")


def eye_image(batch: int = 1, scale: float = 1.0) -> torch.Tensor:
    return torch.eye(3).reshape(1, 1, 3, 3).repeat(batch, 1, 1, 1) * scale


def hook_counts(model: nn.Module) -> list[int]:
    return [len(m._forward_hooks) for m in model.modules()]


# ---------------------------------------------------------------- deprecation


def test_snn_analyzer_is_deprecated():
    with pytest.warns(DeprecationWarning, match="SNNAnalyzer is deprecated"):
        SNNAnalyzer(nn.Linear(2, 2))


def test_synop_counter_is_deprecated_with_its_own_name():
    # Q19 fixed: sinabs's text named SNNAnalyzer
    model = nn.Sequential(nn.Linear(2, 2), NeuromorphicReLU())
    with pytest.warns(DeprecationWarning, match="SynOpCounter is deprecated"):
        SynOpCounter(model.modules())


# ---------------------------------------------------------------- synops (pinned numbers)


def test_linear_synops():
    model = nn.Linear(3, 5)
    analyzer = SNNAnalyzer(model)
    inp = torch.zeros(2, 3)
    inp[0, 0], inp[1, 2] = 3, 5
    model(inp)
    # (3 + 5) events / 2 samples * 5 outputs
    assert analyzer.get_model_statistics()["synops"] == 20
    assert analyzer.get_layer_statistics()["parameter"][""]["synops"] == 20


def test_linear_synops_across_batches():
    model = nn.Linear(3, 5)
    analyzer = SNNAnalyzer(model)
    model(torch.tensor([[3.0, 0.0, 0.0]]))
    batch1 = analyzer.get_model_statistics(average=False)["synops"]
    model(torch.tensor([[6.0, 0.0, 0.0]]))
    batch2 = analyzer.get_model_statistics(average=False)["synops"]
    assert 2 * batch1 == batch2 == 30
    # (3 + 6) / 2 events * 5 outputs
    assert analyzer.get_model_statistics(average=True)["synops"] == 22.5
    assert analyzer.get_layer_statistics(average=True)["parameter"][""]["synops"] == 22.5


def test_conv_synops():
    model = nn.Conv2d(1, 5, kernel_size=2)
    analyzer = SNNAnalyzer(model)
    model(eye_image(batch=2))
    # pixels (0,0), (1,1), (2,2) feed 1, 4 and 1 windows, 5 channels each
    assert analyzer.get_model_statistics(average=True)["synops"] == 30
    assert analyzer.get_layer_statistics(average=True)["parameter"][""]["synops"] == 30


def test_conv_synops_across_batches():
    model = nn.Conv2d(1, 5, kernel_size=2)
    analyzer = SNNAnalyzer(model)
    model(eye_image(batch=2))
    batch1 = analyzer.get_model_statistics()["synops"]
    model(eye_image(batch=2, scale=2))
    batch2 = analyzer.get_model_statistics()["synops"]
    assert 2 * batch1 == batch2
    assert analyzer.get_model_statistics(average=True)["synops"] == 45  # (30 + 60) / 2
    assert analyzer.get_layer_statistics(average=True)["parameter"][""]["synops"] == 45


def test_synops_without_time_axis_have_infinite_rate():
    model = nn.Linear(3, 5)
    analyzer = SNNAnalyzer(model)
    model(torch.tensor([[3.0, 0.0, 0.0]]))
    stats = analyzer.get_layer_statistics()["parameter"][""]
    assert stats["num_timesteps"] == 0
    assert stats["time_window"] == 0
    assert stats["synops/s"] == math.inf
    assert stats["SynOps/s"] == math.inf


def test_synops_per_second_with_time_axis():
    model = nn.Linear(3, 4, bias=False)
    analyzer = SNNAnalyzer(model, dt=10)
    model(torch.ones(5, 10, 3) * 10)
    stats = analyzer.get_layer_statistics()["parameter"][""]
    # per sample: 10 steps * 3 inputs * 10 events = 300 events, 4 outputs each
    assert stats["synops"] == 1200
    assert stats["num_timesteps"] == 10
    assert stats["time_window"] == 100
    assert stats["synops"] == stats["synops/s"] * 10 * 10 / 1000


@pytest.mark.parametrize("batch_size", [5, 10], ids=["batch5", "batch10"])
def test_synops_do_not_depend_on_batch_size(batch_size):
    model = nn.Linear(3, 4, bias=False)
    analyzer = SNNAnalyzer(model)
    model(torch.ones(batch_size, 10, 3) * 10)
    assert analyzer.get_model_statistics(average=True)["synops"] == 1200


def test_conv_map_is_per_sample_and_not_rebuilt_for_a_new_batch_size():
    # Q18 fixed: sinabs built a map per batch row and rebuilt it (drawing random
    # numbers) whenever the batch size changed
    model = nn.Conv2d(1, 5, kernel_size=2)
    analyzer = SNNAnalyzer(model)
    model(eye_image(batch=2))
    state = torch.get_rng_state()
    model(eye_image(batch=7))
    assert torch.equal(torch.get_rng_state(), state)
    assert analyzer.get_model_statistics()["synops"] == 30


# ---------------------------------------------------------------- firing rates (pinned)


def test_spiking_layer_firing_rate():
    layer = sl.IAF()
    inp = torch.eye(4).reshape(1, 1, 4, 4)
    analyzer = SNNAnalyzer(layer)
    out = layer(inp)
    model_stats = analyzer.get_model_statistics(average=True)
    layer_stats = analyzer.get_layer_statistics(average=True)["spiking"][""]
    assert torch.equal(out, inp)
    # 4 spikes over 16 neurons and 1 step
    assert model_stats["firing_rate"] == 0.25
    assert model_stats["n_spiking_neurons"] == 16
    assert layer_stats["firing_rate"] == 0.25
    assert layer_stats["firing_rate_per_neuron"].shape == (4, 4)
    assert layer_stats["firing_rate_per_neuron"].mean() == 0.25
    assert layer_stats["n_neurons"] == 16


def test_spiking_layer_firing_rate_across_batches():
    layer = sl.IAF()
    inp = torch.eye(4).reshape(1, 1, 4, 4)
    analyzer = SNNAnalyzer(layer)
    layer(inp)
    batch1 = analyzer.get_model_statistics()["firing_rate"]
    sinabs.reset_states(layer)
    out = layer(2 * inp)
    batch2 = analyzer.get_model_statistics()["firing_rate"]
    assert torch.equal(out, 2 * inp)
    assert 2 * batch1 == batch2
    # (4 + 8) spikes / 16 neurons / 2 batches
    assert analyzer.get_model_statistics(average=True)["firing_rate"] == 0.375
    layer_stats = analyzer.get_layer_statistics(average=True)["spiking"][""]
    assert layer_stats["firing_rate"] == 0.375
    assert layer_stats["firing_rate_per_neuron"].mean() == 0.375


def test_reset_forgets_earlier_batches():
    layer = sl.IAF()
    inp = 2 * torch.eye(4).reshape(1, 1, 4, 4)
    analyzer = SNNAnalyzer(layer)
    layer(inp)
    layer(inp)
    sinabs.reset_states(layer)
    analyzer.reset()
    assert hook_counts(layer) == [1]  # not registered twice
    out = layer(inp)
    assert torch.equal(out, inp)
    assert analyzer.get_model_statistics(average=True)["firing_rate"] == 0.5
    layer_stats = analyzer.get_layer_statistics(average=True)["spiking"][""]
    assert layer_stats["firing_rate"] == 0.5
    assert layer_stats["firing_rate_per_neuron"].mean() == 0.5


def test_non_spiking_layers_are_not_listed():
    model = nn.Sequential(sl.ExpLeak(tau_mem=5.0), sl.IAF())
    analyzer = SNNAnalyzer(model)
    model(torch.rand(2, 3, 4))
    assert set(analyzer.get_layer_statistics()["spiking"]) == {"1"}


def test_squeezed_model_statistics():
    batch_size, num_timesteps = 3, 10
    model = nn.Sequential(
        nn.Conv2d(1, 2, kernel_size=2, padding=3, stride=2, bias=False),
        sl.IAFSqueeze(batch_size=batch_size),
        nn.Conv2d(2, 3, kernel_size=2, bias=False),
        sl.IAFSqueeze(batch_size=batch_size),
    )
    analyzer = SNNAnalyzer(model)
    inp = (
        torch.rand(
            (batch_size, num_timesteps, 1, 16, 16), generator=torch.Generator().manual_seed(0)
        )
        * 100
    )
    out = model(inp.flatten(0, 1))
    spiking = analyzer.get_layer_statistics(average=True)["spiking"]
    parameter = analyzer.get_layer_statistics(average=True)["parameter"]
    model_stats = analyzer.get_model_statistics(average=True)

    assert spiking["3"]["input"].shape == (batch_size, num_timesteps, 3, 10, 10)
    assert spiking["3"]["firing_rate"] == out.mean()
    rates = torch.cat(
        (
            spiking["1"]["firing_rate_per_neuron"].ravel(),
            spiking["3"]["firing_rate_per_neuron"].ravel(),
        )
    )
    assert rates.mean() == model_stats["firing_rate"]
    assert model_stats["n_spiking_neurons"] == 2 * 11 * 11 + 3 * 10 * 10
    assert parameter["0"]["num_timesteps"] == parameter["2"]["num_timesteps"] == num_timesteps
    assert model_stats["synops"] == parameter["0"]["synops"] + parameter["2"]["synops"]
    # layer 0: every event times its fan-out, summed over time, averaged over the batch
    fanout = conv_connection_map(model[0], (1, 16, 16), (2, 11, 11))
    expected = (inp.sum(1) * fanout).sum() / batch_size
    assert torch.allclose(parameter["0"]["synops"], expected, rtol=1e-5)


def test_squeeze_layer_read_at_call_time():
    # sinabs froze (batch_size, num_timesteps) at construction
    model = nn.Sequential(nn.Linear(2, 2, bias=False), sl.IAFSqueeze(batch_size=2))
    analyzer = SNNAnalyzer(model)
    sinabs.set_batch_size(model, 4)
    model(torch.ones(4 * 5, 2))
    assert analyzer.get_layer_statistics()["parameter"]["0"]["num_timesteps"] == 5
    assert analyzer.get_model_statistics()["synops"] == 5 * 2 * 2


# ---------------------------------------------------------------- AvgPool scaling (Q18)


def pooled_model() -> nn.Sequential:
    return nn.Sequential(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4, 3, bias=False))


def test_avgpool_scales_layer_and_model_synops_alike():
    # Q18 fixed: sinabs left the scale out of the model total
    model = pooled_model()
    analyzer = SNNAnalyzer(model)
    model(torch.ones(2, 1, 4, 4))
    # 16 input events, each reaching 3 outputs
    assert analyzer.get_layer_statistics()["parameter"]["2"]["synops"] == 48
    assert analyzer.get_model_statistics()["synops"] == 48


def test_avgpool_int_kernel_tuple_stride_does_not_warn():
    model = pooled_model()
    model[0] = nn.AvgPool2d(kernel_size=2, stride=(2, 2))
    analyzer = SNNAnalyzer(model)
    model(torch.ones(1, 1, 4, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert analyzer.get_layer_statistics()["parameter"]["2"]["synops"] == 48


def test_avgpool_overlapping_windows_warn():
    model = nn.Sequential(nn.AvgPool2d(kernel_size=4, stride=2), nn.Flatten(), nn.Linear(4, 3))
    analyzer = SNNAnalyzer(model)
    model(torch.ones(1, 1, 6, 6))
    with pytest.warns(UserWarning, match=r"'0' has kernel_size=4 but stride=2"):
        analyzer.get_layer_statistics()


# ---------------------------------------------------------------- robustness (fixes)


def test_statistics_before_any_forward():
    model = nn.Sequential(nn.Linear(2, 3), sl.IAF())
    analyzer = SNNAnalyzer(model)
    assert analyzer.get_layer_statistics() == {"spiking": {}, "parameter": {}}
    stats = analyzer.get_model_statistics()
    assert stats["firing_rate"] == 0 and stats["synops"] == 0 and stats["n_spiking_neurons"] == 0


def test_smaller_last_batch():
    layer = sl.IAF()
    analyzer = SNNAnalyzer(layer)
    first = torch.zeros(4, 2, 3)
    first[:, :, 0] = 1.0  # rate 1/3
    layer(first)
    sinabs.reset_states(layer)
    layer(torch.zeros(1, 2, 3))  # rate 0
    stats = analyzer.get_layer_statistics(average=True)["spiking"][""]
    assert stats["firing_rate"] == (1 / 3 + 0) / 2
    assert torch.equal(stats["firing_rate_per_neuron"], torch.tensor([0.5, 0.0, 0.0]))
    assert stats["output"] is None  # element-wise average of differently shaped batches
    assert analyzer.get_model_statistics(average=True)["firing_rate"] == 0.5 / 3


def test_other_neuron_shape_has_no_per_neuron_average():
    layer = sl.IAF()
    analyzer = SNNAnalyzer(layer)
    layer(torch.ones(1, 2, 3))
    layer(torch.ones(1, 2, 5))
    assert analyzer.get_layer_statistics()["spiking"][""]["firing_rate"] == 1
    with pytest.raises(ValueError, match="different neuron shapes"):
        analyzer.get_layer_statistics(average=True)


def test_hooks_without_an_analyzer_raise():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="SNNAnalyzer"):
        synopcounter.synops_hook(layer, (torch.ones(1, 2),), torch.ones(1, 2))
    with pytest.raises(TypeError, match="SNNAnalyzer"):
        synopcounter.spiking_hook(layer, (torch.ones(1, 2),), torch.ones(1, 2))


def test_synops_hook_refuses_multiple_inputs():
    record = synopcounter._SynopsRecord()
    with pytest.raises(ValueError, match="multiple inputs"):
        synopcounter.synops_hook(nn.Linear(2, 2), (torch.ones(1, 2),) * 2, torch.ones(1, 2), record)


# ---------------------------------------------------------------- nothing left behind


def analysed_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 2, 3),
        sl.IAFSqueeze(batch_size=2),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8, 2),
    )


def test_no_attributes_written_onto_the_model():
    model = analysed_model()
    inp = torch.rand(4, 1, 6, 6)
    model(inp)  # the layers' own attributes (states, firing_rate) now exist
    before = {name: set(vars(m)) for name, m in model.named_modules()}
    analyzer = SNNAnalyzer(model)
    model(inp)
    analyzer.get_layer_statistics()
    analyzer.get_model_statistics(average=True)
    assert {name: set(vars(m)) for name, m in model.named_modules()} == before


@pytest.mark.parametrize("how", ["remove", "with-block", "del"], ids=lambda v: v)
def test_hooks_are_removed(how):
    model = analysed_model()
    if how == "remove":
        analyzer = SNNAnalyzer(model)
        assert sum(hook_counts(model)) == 3
        analyzer.remove()
    elif how == "with-block":
        with SNNAnalyzer(model) as analyzer:
            model(torch.rand(4, 1, 6, 6))
            assert analyzer.get_model_statistics()["synops"] > 0
    else:
        analyzer = SNNAnalyzer(model)
        del analyzer
        gc.collect()
    assert hook_counts(model) == [0] * len(list(model.modules()))


def test_model_with_analyzer_deep_copies_after_a_forward():
    model = analysed_model()
    analyzer = SNNAnalyzer(model)
    model(torch.rand(4, 1, 6, 6, requires_grad=True))  # records now hold autograd graphs
    model_copy, analyzer_copy = copy.deepcopy((model, analyzer))
    model_copy(torch.rand(4, 1, 6, 6))
    # the copied hooks feed the copied analyzer, the original is untouched
    assert analyzer_copy.get_layer_statistics()["parameter"]["0"]["synops"] > 0
    assert analyzer_copy._synops[model_copy[0]].n_batches == 2
    assert analyzer._synops[model[0]].n_batches == 1
    analyzer_copy.remove()  # takes the copy's hooks off the copy only
    assert sum(hook_counts(model_copy)) == 0
    assert sum(hook_counts(model)) == 3


# ---------------------------------------------------------------- SynOpCounter


class TinyModel(nn.Module):
    def __init__(self, quantize: bool) -> None:
        super().__init__()
        self.linear = nn.Linear(5, 2, bias=False)
        self.relu = NeuromorphicReLU(fanout=2, quantize=quantize)
        with torch.no_grad():
            self.linear.weight.copy_(
                torch.tensor([[1.2, 1.0, 1.0, 3.0, -2.0], [1.2, 1.0, 1.0, 2.0, -10.0]])
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.linear(x))


@pytest.mark.filterwarnings("ignore:SynOpCounter is deprecated:DeprecationWarning")
@pytest.mark.parametrize(
    ("quantize", "expected"),
    # 0.5 * (1.2 + 1 + 1 + 3 - 2) = 2.1 and a negative second unit; times fanout 2
    [(False, 4.2), (True, 4.0)],
    ids=["analog", "quantized"],
)
def test_synop_counter_loss(quantize, expected):
    model = TinyModel(quantize)
    counter = SynOpCounter(model.modules())
    model(torch.full((1, 5), 0.5))
    assert torch.allclose(counter(), torch.tensor(expected))


@pytest.mark.filterwarnings("ignore:SynOpCounter is deprecated:DeprecationWarning")
def test_synop_counter_collects_layers_with_fanout():
    model = nn.Sequential(
        nn.Linear(4, 4), NeuromorphicReLU(), NeuromorphicReLU(fanout=3), nn.Linear(4, 4),
        NeuromorphicReLU(fanout=2), NeuromorphicReLU(fanout=0),
    )  # fmt: skip
    counter = SynOpCounter(model.modules(), sum_activations=False)
    assert len(counter.modules) == 3
    with pytest.raises(RuntimeError, match="has not run yet"):
        counter()
    model(torch.ones(2, 4))
    activities = counter()
    assert isinstance(activities, list) and len(activities) == 3
    assert activities[1] == 3 * activities[0]


@pytest.mark.filterwarnings("ignore:SynOpCounter is deprecated:DeprecationWarning")
def test_synop_counter_without_neuromorphic_relu_raises():
    with pytest.raises(ValueError, match=r"No NeuromorphicReLU found in module list\."):
        SynOpCounter(nn.Sequential(nn.Linear(2, 2), NeuromorphicReLU(fanout=0)).modules())


def test_docstring_examples():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert doctest.testmod(synopcounter).failed == 0
