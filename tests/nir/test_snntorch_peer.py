"""A real peer: snnTorch writes NIR, we read it (and the reverse), and both simulations
agree on the same input.

snnTorch's neurons are forward-Euler steps of NIR's equations with dt = 1e-4, a value
its files do not state (tau = dt/(1-beta), r = 1/(1-beta), w_in = 1/(1-alpha)); its
export writes v_reset = 0 whatever the reset mechanism, so the networks here reset to
zero, without delay (reset_delay=False: the step a neuron fires in ends at 0).

Agreement: at least 99% identical spikes, and the membrane within 1e-5 (relative to its
range) for every neuron whose spike train is identical."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import MembraneReset, SingleSpike

pytest.importorskip("nir", reason="NIR tests need the nir extra (pip install sinabs[nir])")
snn = pytest.importorskip("snntorch", reason="the peer tests need snntorch (the test extra)")
pytest.importorskip("nirtorch", reason="snnTorch's NIR support needs nirtorch")

SNNTORCH_DT = 1e-4
T, B = 100, 4


def agree(ours: np.ndarray, theirs: np.ndarray, v_ours: np.ndarray, v_theirs: np.ndarray) -> None:
    """(B, T, N) spikes and membranes."""
    assert theirs.sum() > 0, "no spikes: the comparison would say nothing"
    assert (ours == theirs).mean() >= 0.99
    same = (ours == theirs).all(axis=1)  # (B, N) identical spike trains
    assert same.mean() >= 0.9
    scale = max(1.0, float(np.abs(v_theirs).max()))
    diff = np.abs(v_ours - v_theirs).transpose(0, 2, 1)[same]
    assert diff.max() <= 1e-5 * scale


def snntorch_network() -> nn.Sequential:
    """Leaky, Synaptic and a recurrent RLeaky, per-neuron parameters (snnTorch's export
    needs arrays of the layer size)."""
    torch.manual_seed(0)
    kw = {"init_hidden": True, "reset_mechanism": "zero", "reset_delay": False}
    net = nn.Sequential(
        nn.Linear(5, 8),
        snn.Leaky(beta=torch.linspace(0.8, 0.95, 8), threshold=torch.full((8,), 0.8), **kw),
        nn.Linear(8, 6),
        snn.Synaptic(
            alpha=torch.linspace(0.6, 0.9, 6),
            beta=torch.full((6,), 0.85),
            threshold=torch.full((6,), 0.5),
            **kw,
        ),
        nn.Linear(6, 4),
        snn.RLeaky(beta=0.9, linear_features=4, all_to_all=True, **kw),
    )
    for index in (0, 2, 4):  # enough drive for every layer to spike
        net[index].weight.data *= 2
        net[index].bias.data += 0.2
    return net


def run_snntorch(net: nn.Module, x: torch.Tensor, probes: list[int]) -> tuple[Any, ...]:
    """Runs snnTorch's hidden-state network step by step on ``x`` (B, T, N)."""
    spikes, membranes = [], {p: [] for p in probes}
    with torch.no_grad():
        for t in range(x.shape[1]):
            out = net(x[:, t])
            spikes.append(out)
            for p in probes:
                membranes[p].append(net[p].mem.clone())
    return torch.stack(spikes, 1), {p: torch.stack(m, 1) for p, m in membranes.items()}


def neuron(module: nn.Module) -> nn.Module:
    return getattr(module, "neuron", module)


def test_snntorch_export_imports_and_agrees() -> None:
    from snntorch.export_nir import export_to_nir

    net = snntorch_network()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch's legacy tracer
        graph = export_to_nir(net, torch.rand(1, 5), ignore_dims=[0])
    assert {"1", "3", "5.lif", "5.w_rec"} <= set(graph.nodes)
    model = sinabs.from_nir(graph, dt=SNNTORCH_DT)
    layers = {p: neuron(model.get_submodule(k)) for p, k in ((1, "1"), (3, "3"), (5, "5_lif"))}
    assert isinstance(layers[5], sl.LIFRecurrent)
    assert isinstance(layers[3], sl.LIF) and layers[3].tau_syn is not None
    for layer in layers.values():
        layer.record_states = True

    x = (torch.rand(B, T, 5, generator=torch.Generator().manual_seed(1)) < 0.4).float() * 2
    theirs, their_mem = run_snntorch(net, x, list(layers))
    with torch.no_grad():
        ours = model(x)
    agree(ours.numpy(), theirs.numpy(), layers[5].recordings["v_mem"].numpy(), their_mem[5].numpy())
    # the hidden layers: their membranes (0 after each spike) agree step by step
    for p in (1, 3):
        ours_v, theirs_v = layers[p].recordings["v_mem"].numpy(), their_mem[p].numpy()
        assert (theirs_v == 0).mean() > 0.05  # they spiked
        close = np.abs(ours_v - theirs_v) <= 1e-5 * max(1.0, float(np.abs(theirs_v).max()))
        assert close.mean() >= 0.99


def sinabs_network() -> nn.Sequential:
    """What snnTorch's importer can read: LIF and LIF with a synaptic current in the
    form r = tau/dt (norm_input=False), single spikes, reset to zero, one threshold per
    layer (it folds r * dt / tau into the threshold). No recurrent layer: snnTorch 1.0's
    importer wires the input of a recurrent cycle into its feedback weight
    (``import_nir._create_rnn_subgraph``), which computes something else."""
    torch.manual_seed(2)
    kw = {"spike_fn": SingleSpike, "reset_fn": MembraneReset(0.0), "norm_input": False}
    net = nn.Sequential(
        nn.Linear(5, 8),
        sl.LIF(tau_mem=torch.linspace(5.0, 20.0, 8), spike_threshold=0.8, **kw),
        nn.Linear(8, 6),
        # one tau_syn: snnTorch folds w_in * dt / tau_syn into one threshold per layer
        sl.LIF(tau_mem=torch.linspace(8.0, 16.0, 6), tau_syn=5.0, spike_threshold=0.5, **kw),
    )
    for index in (0, 2):  # enough drive for both layers to spike
        net[index].weight.data *= 2
        net[index].bias.data += 0.3
    return net


def test_snntorch_imports_our_export_and_agrees() -> None:
    from snntorch.import_nir import import_from_nir

    net = sinabs_network()
    x = (torch.rand(B, T, 5, generator=torch.Generator().manual_seed(3)) < 0.4).float() * 2
    graph = sinabs.to_nir(net, x, dt=SNNTORCH_DT, portable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs_net = import_from_nir(graph)
    spikes, state = [], None
    with torch.no_grad():
        ours = net(x)
        for t in range(T):  # nirtorch's module returns (output, state) per step
            out, state = theirs_net(x[:, t], state)
            spikes.append(out)
    theirs = torch.stack(spikes, 1)
    assert theirs.sum() > 0 and net[1](net[0](x)).sum() > 0  # both layers spike
    assert (ours.numpy() == theirs.numpy()).mean() >= 0.99
    same = (ours == theirs).all(dim=1)
    assert same.float().mean() >= 0.9
