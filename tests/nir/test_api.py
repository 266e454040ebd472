"""sinabs's API and graph layout, the lazy import, the time-step conventions on export."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import MembraneReset, SingleSpike

nir = pytest.importorskip("nir", reason="NIR tests need the nir extra (pip install sinabs[nir])")


def test_import_sinabs_does_not_import_nir() -> None:
    code = (
        "import sys, sinabs; "
        "assert not {'nir', 'nirtorch', 'h5py', 'sinabs.nir'} & set(sys.modules), sys.modules; "
        "assert callable(sinabs.to_nir) and callable(sinabs.from_nir); "
        "assert 'nir' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_names() -> None:
    assert sinabs.to_nir is sinabs.nir.to_nir
    assert sinabs.from_nir is sinabs.nir.from_nir
    assert {"to_nir", "from_nir", "nir"} <= set(sinabs.__all__)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        sinabs.nope  # noqa: B018


@pytest.mark.parametrize(
    ("module", "sample"),
    [
        (sl.IAFSqueeze(batch_size=2), torch.rand(2 * 5, 3)),
        (nn.Conv2d(2, 4, 3), torch.rand(4, 2, 6, 6)),
        (nn.Conv1d(2, 4, 3), torch.rand(4, 2, 6)),
    ],
    ids=["IAFSqueeze", "Conv2d", "Conv1d"],
)
def test_single_module_layout(module: nn.Module, sample: torch.Tensor) -> None:
    graph = sinabs.to_nir(module, sample)
    assert list(graph.nodes) == ["input", "model", "output"]
    assert sorted(graph.edges) == [("input", "model"), ("model", "output")]
    assert list(graph.nodes["input"].input_type["input"]) == list(sample.shape[1:])
    assert list(sinabs.to_nir(module, sample, "mine").nodes) == ["input", "mine", "output"]


def test_sequential_layout_and_node_types() -> None:
    net = nn.Sequential(
        nn.Linear(4, 5),
        sl.ExpLeakSqueeze(tau_mem=5.0, batch_size=2),
        sl.LIFSqueeze(tau_mem=10.0, batch_size=2),
        nn.Linear(5, 2),
    )
    graph = sinabs.to_nir(net, torch.rand(2 * 6, 4))
    assert len(graph.nodes) == 6 and len(graph.edges) == 5
    assert [type(graph.nodes[str(i)]).__name__ for i in range(4)] == [
        "Affine",
        "LI",
        "LIF",
        "Affine",
    ]
    imported = sinabs.from_nir(graph, batch_size=2)
    assert [name for name, _ in imported.named_children()] == [
        "input",
        "0",
        "1",
        "2",
        "3",
        "output",
    ]
    assert type(imported.get_submodule("1")).__name__ == "ExpLeakSqueeze"
    assert imported.get_submodule("2").batch_size == 2
    assert torch.equal(imported.get_submodule("0").weight, net[0].weight)


def test_export_leaves_the_model_alone() -> None:
    layer = sl.LIF(tau_mem=5.0)
    sinabs.to_nir(nn.Sequential(nn.Linear(4, 3), layer), torch.rand(2, 10, 4))
    assert not layer.is_state_initialised()


def test_euler_export_follows_the_snntorch_convention() -> None:
    """tau = dt / (1 - alpha) and, without norm_input, r = tau / dt (= 1 / (1 - alpha))."""
    dt, tau = 1e-4, 20.0
    layer = sl.LIF(tau_mem=tau, norm_input=False, spike_fn=SingleSpike, reset_fn=MembraneReset())
    node = sinabs.to_nir(layer, torch.rand(1, 3, 2), dt=dt).nodes["model"]
    alpha = np.exp(-1 / tau)
    np.testing.assert_allclose(node.tau, dt / (1 - alpha), rtol=1e-12)
    np.testing.assert_allclose(node.r, node.tau / dt, rtol=1e-12)
    exact = sinabs.to_nir(layer, torch.rand(1, 3, 2), dt=dt, discretization="exact").nodes["model"]
    np.testing.assert_allclose(exact.tau, tau * dt, rtol=1e-15)
    iaf = sinabs.to_nir(sl.IAF(), torch.rand(1, 3, 2), dt=dt).nodes["model"]
    np.testing.assert_allclose(iaf.r, 1 / dt)


def test_metadata_states_what_nir_cannot() -> None:
    graph = sinabs.to_nir(sl.IAF(min_v_mem=-1.0), torch.rand(1, 3, 2), dt=0.5)
    meta = graph.nodes["model"].metadata["sinabs"]
    assert meta["spike_fn"] == "MultiSpike" and meta["reset"] == "subtract"
    assert np.all(meta["min_v_mem"] == -1.0)
    assert graph.metadata["sinabs"]["dt"] == 0.5
    assert graph.metadata["sinabs"]["discretization"] == "euler"
    reset = sinabs.to_nir(
        sl.IAF(spike_fn=SingleSpike, reset_fn=MembraneReset(0.25)), torch.rand(1, 3, 2)
    )
    assert np.all(reset.nodes["model"].v_reset == 0.25)


def test_other_settings_than_the_export_warn(tmp_path: object) -> None:
    graph = sinabs.to_nir(sl.LIF(tau_mem=5.0), torch.rand(1, 3, 2), dt=1e-3)
    with pytest.warns(UserWarning, match=r"exported by sinabs with dt=0.001"):
        sinabs.from_nir(graph, dt=2e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sinabs.from_nir(graph, dt=1e-3)


def test_imported_states_carry_on_and_reset() -> None:
    graph = sinabs.to_nir(sl.LIF(tau_mem=5.0), torch.rand(1, 3, 2))
    model = sinabs.from_nir(graph)
    x = torch.rand(2, 8, 2)
    first = model(x)
    assert not torch.equal(model(x), first) or first.sum() == 0
    sinabs.reset_states(model)
    assert torch.equal(model(x), first)


def test_a_single_node_imports() -> None:
    node = nir.LIF(np.full(3, 5.0), np.ones(3), np.zeros(3), np.ones(3))
    model = sinabs.from_nir(node)
    assert isinstance(model.model, sl.LIF)
    assert model(torch.rand(2, 4, 3)).shape == (2, 4, 3)


def test_graph_input_count_is_checked() -> None:
    model = sinabs.from_nir(sinabs.to_nir(nn.Linear(3, 2), torch.rand(4, 3)))
    with pytest.raises(TypeError, match="takes 1 input"):
        model(torch.rand(4, 3), torch.rand(4, 3))
