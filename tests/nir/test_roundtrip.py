"""Export, write the ``.nir`` file, read it, import: the same layers, bit for bit.

Every supported layer and a multi-layer network (synaptic currents, resets, min_v_mem),
for dt = 1 and another dt, with both discretisations: same parameters and bitwise the
same outputs on random input."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import MaxSpike, MembraneReset, MembraneSubtract, SingleSpike

pytest.importorskip("nir", reason="NIR tests need the nir extra (pip install sinabs[nir])")

N = 6
SETTINGS = [(1.0, "euler"), (1e-3, "euler"), (1.0, "exact"), (2.5e-4, "exact")]
SETTING_IDS = [f"dt={dt}-{d}" for dt, d in SETTINGS]

NEURONS: dict[str, Callable[[], nn.Module]] = {
    "IAF": lambda: sl.IAF(),
    "IAF-single-reset": lambda: sl.IAF(spike_fn=SingleSpike, reset_fn=MembraneReset()),
    "IAF-tau_syn-min_v_mem": lambda: sl.IAF(tau_syn=5.0, min_v_mem=-0.5),
    "IAF-per-neuron-threshold": lambda: sl.IAF(spike_threshold=torch.linspace(0.5, 1.5, N)),
    "LIF": lambda: sl.LIF(tau_mem=20.0),
    "LIF-per-neuron-tau-reset": lambda: sl.LIF(
        tau_mem=torch.linspace(3.0, 30.0, N),
        norm_input=False,
        spike_fn=SingleSpike,
        reset_fn=MembraneReset(-0.1),
    ),
    "LIF-tau_syn-min_v_mem": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0),
    "LIF-tau_syn-no-norm": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, norm_input=False),
    "LIF-train_alphas": lambda: sl.LIF(tau_mem=10.0, tau_syn=4.0, train_alphas=True),
    "LIF-MaxSpike-subtract-value": lambda: sl.LIF(
        tau_mem=8.0, spike_fn=MaxSpike(3), reset_fn=MembraneSubtract(0.5)
    ),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=15.0),
    "ExpLeak-norm-min_v_mem": lambda: sl.ExpLeak(tau_mem=15.0, norm_input=True, min_v_mem=0.0),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(N, N)),
    "LIFRecurrent-train_alphas": lambda: sl.LIFRecurrent(
        tau_mem=10.0, tau_syn=3.0, rec_connect=nn.Linear(N, N, bias=False), train_alphas=True
    ),
    "IAFRecurrent-tau_syn": lambda: sl.IAFRecurrent(
        rec_connect=nn.Linear(N, N, bias=False), tau_syn=3.0
    ),
}


def drive(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator) * 3 - 0.5


def run_both(a: nn.Module, b: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    sinabs.reset_states(a)
    sinabs.reset_states(b)
    return a(x), b(x)


@pytest.mark.parametrize(("dt", "discretization"), SETTINGS, ids=SETTING_IDS)
@pytest.mark.parametrize("kind", list(NEURONS))
def test_neuron_layer_round_trip(
    kind: str, dt: float, discretization: str, roundtrip: Callable[..., Any], same_layer: Any
) -> None:
    torch.manual_seed(0)
    layer = NEURONS[kind]()
    x = drive(3, 30, N)
    graph, imported = roundtrip(layer, x, dt=dt, discretization=discretization)
    assert sorted(graph.nodes)[:1] == ["input"] or "input" in graph.nodes
    same_layer(layer, imported.model)
    expected, got = run_both(layer, imported, x)
    assert expected.sum() > 0
    assert torch.equal(expected, got)
    # the states carry on across calls in both
    y = drive(3, 10, N, seed=1)
    assert torch.equal(layer(y), imported(y))
    assert torch.equal(layer.v_mem, imported.model.v_mem)


@pytest.mark.parametrize("kind", ["IAFSqueeze", "LIFSqueeze", "ExpLeakSqueeze"])
def test_squeeze_layers_round_trip(
    kind: str, roundtrip: Callable[..., Any], same_layer: Any
) -> None:
    B, T = 2, 12
    layer = {
        "IAFSqueeze": lambda: sl.IAFSqueeze(batch_size=B, tau_syn=4.0),
        "LIFSqueeze": lambda: sl.LIFSqueeze(tau_mem=6.0, batch_size=B, min_v_mem=-1.0),
        "ExpLeakSqueeze": lambda: sl.ExpLeakSqueeze(tau_mem=6.0, batch_size=B),
    }[kind]()
    x = drive(B * T, N)
    graph, imported = roundtrip(layer, x, batch_size=B)
    assert list(graph.nodes["input"].input_type["input"]) == [N]
    same_layer(layer, imported.model)
    expected, got = run_both(layer, imported, x)
    assert torch.equal(expected, got)


STATELESS: dict[str, Callable[[], nn.Module]] = {
    "Linear": lambda: nn.Linear(48, 5),
    "Linear-no-bias": lambda: nn.Linear(48, 5, bias=False),
    "Conv2d": lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
    "Conv2d-groups-dilation-no-bias": lambda: nn.Conv2d(
        3, 6, (3, 2), dilation=(1, 2), groups=3, bias=False
    ),
    "SumPool2d": lambda: sl.SumPool2d(2),
    "AvgPool2d": lambda: nn.AvgPool2d(2, stride=1, padding=1),
    "Flatten": lambda: nn.Flatten(),
}


@pytest.mark.parametrize("kind", list(STATELESS))
def test_stateless_layer_round_trip(
    kind: str, roundtrip: Callable[..., Any], same_layer: Any
) -> None:
    torch.manual_seed(0)
    layer = STATELESS[kind]()
    x = drive(10, 3, 4, 4).flatten(1) if kind.startswith("Linear") else drive(10, 3, 4, 4)
    _, imported = roundtrip(layer, x, batch_size=2, nir_type_check="groups" not in kind)
    same_layer(layer, imported.model)
    assert torch.equal(layer(x), imported(x))


def test_conv1d_round_trip(roundtrip: Callable[..., Any], same_layer: Any) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv1d(2, 3, 3, stride=2, padding=1, dilation=1), sl.IAFSqueeze(batch_size=2)
    )
    x = drive(2 * 8, 2, 11)
    graph, imported = roundtrip(net, x, batch_size=2)
    assert type(graph.nodes["0"]).__name__ == "Conv1d"
    same_layer(net[0], imported.get_submodule("0"))
    expected, got = run_both(net, imported, x)
    assert torch.equal(expected, got)


def multilayer(B: int) -> nn.Sequential:
    """Conv, pooling, flatten, synaptic currents, both resets, min_v_mem, a leaky readout."""
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=B, tau_syn=3.0, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Conv2d(4, 4, 3, bias=False),
        sl.LIFSqueeze(
            tau_mem=torch.linspace(4.0, 12.0, 4)[:, None, None],
            batch_size=B,
            spike_fn=SingleSpike,
            reset_fn=MembraneReset(0.0),
        ),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4, 10),
        sl.LIFSqueeze(tau_mem=20.0, tau_syn=8.0, batch_size=B, min_v_mem=-0.5),
        nn.Linear(10, 3),
        sl.ExpLeakSqueeze(tau_mem=30.0, batch_size=B),
    )


@pytest.mark.parametrize(("dt", "discretization"), SETTINGS, ids=SETTING_IDS)
def test_multilayer_network_round_trip(
    dt: float, discretization: str, roundtrip: Callable[..., Any], same_layer: Any
) -> None:
    B, T = 2, 40
    net = multilayer(B)
    x = drive(B * T, 2, 8, 8)
    graph, imported = roundtrip(net, x, dt=dt, discretization=discretization, batch_size=B)
    assert len(graph.nodes) == len(net) + 3  # input, output, the IAF's synapse node
    for name, layer in net.named_children():
        same_layer(layer, imported.get_submodule(name))
    expected, got = run_both(net, imported, x)
    assert torch.equal(expected, got)
    # the spiking layers did spike, so the resets and clamps were exercised
    assert net[1].v_mem.min() == -1.0
    assert imported.get_submodule("4").spike_threshold is not None


def test_unsqueezed_network_round_trip(roundtrip: Callable[..., Any]) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(5, N),
        sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0),
        sl.LIFRecurrent(tau_mem=12.0, rec_connect=nn.Linear(N, N), train_alphas=True),
        nn.Linear(N, 2),
        sl.ExpLeak(tau_mem=5.0),
    )
    x = drive(4, 50, 5)
    graph, imported = roundtrip(net, x, dt=1e-3)
    assert {"1", "2", "2.rec"} <= set(graph.nodes)
    assert ("2", "2.rec") in graph.edges and ("2.rec", "2") in graph.edges
    expected, got = run_both(net, imported, x)
    assert torch.equal(expected, got)
    # the same graph for (B*T, ...) inputs: Squeeze layers, the recurrent one wrapped
    squeezed = sinabs.from_nir(graph, batch_size=4, dt=1e-3)
    assert type(squeezed.get_submodule("1")).__name__ == "LIFSqueeze"
    sinabs.reset_states(net)
    assert torch.equal(squeezed(x.flatten(0, 1)), net(x).flatten(0, 1))


@pytest.mark.parametrize("join", ["add", "Merge"])
def test_residual_network_round_trip(join: str, roundtrip: Callable[..., Any]) -> None:
    """Branches and a sum (``+`` or ``sl.Merge``): NIR adds the inputs of a node; the
    import runs any DAG."""

    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Linear(4, N)
            self.a = sl.LIF(tau_mem=5.0)
            self.b = nn.Linear(N, N)
            self.c = nn.Linear(4, N)
            self.out = sl.IAF()
            self.merge = sl.Merge()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            left, right = self.b(self.a(self.inp(x))), self.c(x)
            return self.out(left + right if join == "add" else self.merge(left, right))

    torch.manual_seed(1)
    net = Residual()
    x = drive(2, 30, 4)
    graph, imported = roundtrip(net, x)
    assert ("b", "out") in graph.edges and ("c", "out") in graph.edges
    assert ("input", "inp") in graph.edges and ("input", "c") in graph.edges
    expected, got = run_both(net, imported, x)
    assert expected.sum() > 0
    assert torch.equal(expected, got)
