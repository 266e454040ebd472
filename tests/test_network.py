"""sinabs.network.Network: shapes, activation comparison, state handling, synops."""

from __future__ import annotations

import sys
from typing import Any

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.from_torch import from_model
from sinabs.network import Network

matplotlib.use("Agg")
import matplotlib.pyplot as plt

T = 20


def conv_ann() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 2, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * 2 * 2, 3),
        nn.ReLU(),
    )


def converted(**kwargs: Any) -> Network:
    """The conv ANN converted for batch 1 (input ``(T, 1, 10, 10)``)."""
    return from_model(conv_ann(), input_shape=(1, 10, 10), batch_size=1, **kwargs)


def spike_input(seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(T, 1, 10, 10, generator=generator) < 0.3).float()


def test_both_models_are_registered() -> None:
    net = converted()
    names = [name for name, _ in net.named_children()]
    assert names == ["spiking_model", "analog_model"]
    params = {id(p) for p in net.parameters()}
    assert {id(p) for p in net.analog_model.parameters()} <= params
    assert {id(p) for p in net.spiking_model.parameters()} <= params
    assert {k.split(".")[0] for k in net.state_dict()} == {"spiking_model", "analog_model"}


def test_layers_and_forward() -> None:
    net = converted()
    assert [name for name, _ in net.layers] == [str(i) for i in range(8)]
    net.reset_states()
    x = spike_input()
    out = net(x)
    sinabs.reset_states(net)
    assert torch.equal(out, net.spiking_model(x))


def test_compute_shapes_records_out_shapes_and_removes_hooks() -> None:
    net = converted()
    shapes = {name: tuple(m.out_shape) for name, m in net.spiking_model.named_modules()}
    assert shapes["0"] == (4, 8, 8)
    assert shapes["1"] == (4, 8, 8)
    assert shapes["2"] == (4, 4, 4)
    assert shapes["5"] == (8,)
    assert shapes[""] == (3,)
    assert all(not m._forward_hooks for m in net.modules())


def test_compute_shapes_without_parameters() -> None:
    net = Network(None, nn.Sequential(sl.IAFSqueeze(batch_size=2)), input_shape=(3,), batch_size=2)
    assert tuple(net.spiking_model[0].out_shape) == (3,)


def test_input_shape_that_does_not_fit() -> None:
    with pytest.raises(ValueError, match=r"input_shape=\(1, 4, 4\) does not fit"):
        from_model(conv_ann(), input_shape=(1, 4, 4), batch_size=1)


@pytest.mark.parametrize("names", [None, ["Input", "1", "4"]], ids=["default", "explicit"])
@pytest.mark.parametrize("compute_rate", [False, True], ids=["counts", "rates"])
def test_compare_activations(names: list[str] | None, compute_rate: bool) -> None:
    net = converted()
    net.reset_states()
    analog, spiking, name_list = net.compare_activations(
        spike_input(), name_list=names, compute_rate=compute_rate
    )
    assert name_list == ["Input", "1", "4", "7"] if names is None else names
    assert len(analog) == len(spiking) == len(name_list)
    for a, s in zip(analog, spiking, strict=True):
        assert a.squeeze().shape == s.squeeze().shape


def test_compare_activations_respects_name_order() -> None:
    net = converted()
    net.reset_states()
    analog, spiking, _ = net.compare_activations(spike_input(), name_list=["4", "Input", "1"])
    assert [a.shape[1:] for a in analog] == [(2, 2, 2), (1, 10, 10), (4, 8, 8)]
    assert [s.shape for s in spiking] == [(2, 2, 2), (1, 10, 10), (4, 8, 8)]


def test_compare_activations_tracks_the_analog_activations() -> None:
    """Rates of the first spiking layer follow the ReLU activations they replace."""
    net = converted()
    net.reset_states()
    x = torch.rand(1, 1, 10, 10).expand(200, -1, -1, -1)  # constant input current
    analog, rates, _ = net.compare_activations(x, name_list=["1"], compute_rate=True)
    # rates are in Hz for 1 ms steps: activation 1 = one spike per step = 1000 Hz
    assert np.allclose(rates[0] / 1000, analog[0][0], atol=0.02)


def test_default_names_skip_layers_without_analog_counterpart() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    net = from_model(model, add_spiking_output=True, batch_size=1)
    analog, rates, names = net.compare_activations(torch.rand(T, 4))
    assert names == ["Input", "1"]  # not "spike_output": the ANN has no such module
    assert len(analog) == len(rates) == 2


def test_compare_activations_returns_the_callers_name_list() -> None:
    # sinabs hands back name_list itself: code that appends to it afterwards sees it
    net = converted()
    requested = ["Input", "1"]
    _, _, names = net.compare_activations(spike_input(), name_list=requested)
    assert names is requested
    requested.append("4")
    assert list(names) == ["Input", "1", "4"]


def test_compare_activations_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    net = converted()
    net.compare_activations(spike_input(), verbose=True)
    assert "Input, 1, 4, 7" in capsys.readouterr().out


def test_plot_comparison() -> None:
    net = converted()
    net.reset_states()
    analog, rates = net.plot_comparison(spike_input())
    n_spiking = sum(isinstance(m, sl.StatefulLayer) for m in net.spiking_model.modules())
    assert len(analog) == len(rates) == n_spiking + 1
    axes = plt.gca()
    assert axes.get_xlabel() == "# Spike count"
    assert axes.get_ylabel() == "Analog activations"
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["Input", "1", "4", "7"]
    plt.close("all")


def test_plot_comparison_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    net = converted()
    with pytest.raises(ImportError, match=r'pip install "sinabs\[plot\]"'):
        net.plot_comparison(spike_input())


def run(net: Network) -> None:
    net(spike_input())


def stateful(net: Network) -> list[sl.StatefulLayer]:
    return [m for m in net.modules() if isinstance(m, sl.StatefulLayer)]


def test_reset_states_with_value_ranges() -> None:
    net = converted()
    run(net)
    ranges = [{"v_mem": (-4.0, -2.0)}, {"v_mem": (1.0, 3.0)}, None]
    net.reset_states(randomize=True, value_ranges=ranges)
    layers = stateful(net)
    assert ((layers[0].v_mem >= -4) & (layers[0].v_mem <= -2)).all()
    assert ((layers[1].v_mem >= 1) & (layers[1].v_mem <= 3)).all()
    assert ((layers[2].v_mem >= 0) & (layers[2].v_mem <= 1)).all()
    assert layers[2].v_mem.abs().sum() > 0
    assert all(layer.v_mem.grad_fn is None for layer in layers)


def test_reset_states_to_zero() -> None:
    net = converted()
    run(net)
    net.reset_states()
    assert all(layer.v_mem.abs().sum() == 0 for layer in stateful(net))


def test_reset_states_value_ranges_of_wrong_length() -> None:
    net = converted()
    with pytest.raises(TypeError, match="value_ranges has 1 entries but the network has 3"):
        net.reset_states(randomize=True, value_ranges=[{"v_mem": (0.0, 1.0)}])


class Nested(nn.Module):
    """A non-iterable spiking model with a stateful layer inside a container."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(3, 4), sl.IAFSqueeze(batch_size=2))
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(x))


@pytest.mark.parametrize("set_to_none", [True, False], ids=["to-none", "to-zero"])
def test_zero_grad_detaches_nested_states(set_to_none: bool) -> None:
    net = Network(None, Nested())
    net(torch.rand(2 * 5, 3)).sum().backward()
    layer = net.spiking_model.block[1]
    values = layer.v_mem.clone()
    assert layer.v_mem.grad_fn is not None
    net.zero_grad(set_to_none=set_to_none)
    assert layer.v_mem.grad_fn is None
    assert torch.equal(layer.v_mem, values)
    grad = net.spiking_model.out.weight.grad
    assert grad is None if set_to_none else (grad is not None and grad.abs().sum() == 0)


def test_get_synops() -> None:
    with pytest.warns(DeprecationWarning):
        net = converted(synops=True)
    net.reset_states()
    run(net)
    synops = net.get_synops()
    assert list(synops) == ["0", "3", "6"]
    for stats in synops.values():
        assert stats["num_timesteps"] == T
        assert stats["synops"] >= 0
    with pytest.warns(UserWarning, match="num_evs_in is ignored"):
        net.get_synops(num_evs_in=5)


def test_get_synops_without_counter() -> None:
    with pytest.raises(RuntimeError, match="synops=True"):
        converted().get_synops()


def test_top_level_export() -> None:
    assert sinabs.Network is Network
