"""What NIR cannot say raises, naming the layer and the setting; unsupported nodes and
malformed graphs or files raise, naming the node, instead of failing deep inside."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import MembraneReset, MembraneSubtract, SingleSpike

nir = pytest.importorskip("nir", reason="NIR tests need the nir extra (pip install sinabs[nir])")
h5py = pytest.importorskip("h5py", reason="nir's file format is HDF5 (nir depends on h5py)")

X = torch.rand(2, 10, 4)
IMAGES = torch.rand(2, 1, 5, 5)
PORTABLE = {"spike_fn": SingleSpike, "reset_fn": MembraneReset()}


class CustomSpike(SingleSpike):
    """A user's own spike function: NIR has no way to say what it does."""


# ---- export ------------------------------------------------------------------------------


def test_alif_names_the_layer_and_the_adaptation() -> None:
    net = nn.Sequential(nn.Linear(4, 3), sl.ALIF(tau_mem=10.0, tau_adapt=50.0))
    with pytest.raises(NotImplementedError, match=r"'1' \(ALIF\).*tau_adapt and adapt_scale"):
        sinabs.to_nir(net, X)


def test_module_without_nir_node() -> None:
    with pytest.raises(NotImplementedError, match=r"layer '1': ReLU has no NIR equivalent"):
        sinabs.to_nir(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), X.flatten(0, 1))


@pytest.mark.parametrize(
    ("layer", "setting"),
    [
        (sl.IAF(), "spike_fn=MultiSpike"),
        (sl.IAF(spike_fn=SingleSpike, reset_fn=MembraneSubtract()), "reset_fn=MembraneSubtract"),
        (sl.LIF(tau_mem=5.0, min_v_mem=-1.0, **PORTABLE), "min_v_mem"),
        (sl.LIFRecurrent(tau_mem=5.0, rec_connect=nn.Linear(3, 3), **PORTABLE), "rec_connect bias"),
    ],
    ids=["multi-spike", "subtract-reset", "min_v_mem", "recurrent-bias"],
)
def test_portable_export_refuses_sinabs_only_settings(layer: nn.Module, setting: str) -> None:
    net = nn.Sequential(nn.Linear(4, 3), layer)
    graph = sinabs.to_nir(net, X)  # by default the setting is kept in metadata
    assert graph.nodes["1"].metadata["sinabs"]
    with pytest.raises(ValueError, match=rf"layer '1' \({type(layer).__name__}\) has .*{setting}"):
        sinabs.to_nir(net, X, portable=True)


def test_portable_export_of_nir_neurons_has_no_sinabs_metadata() -> None:
    net = nn.Sequential(nn.Linear(4, 3), sl.LIF(tau_mem=5.0, tau_syn=3.0, **PORTABLE))
    graph = sinabs.to_nir(net, X, portable=True)
    assert "spike_fn" in graph.nodes["1"].metadata["sinabs"]  # >= vs >: documented, kept
    net[1].spike_fn = sinabs.nir._modules.StrictSpike
    assert sinabs.to_nir(net, X, portable=True).nodes["1"].metadata == {}


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (sl.LIF(tau_mem=5.0, spike_fn=CustomSpike), "spike_fn"),
        (sl.LIF(tau_mem=5.0, reset_fn=lambda s, st, th: st), "reset_fn"),
        (sl.LIF(tau_mem=float("inf")), "no leak"),
    ],
    ids=["custom-spike_fn", "custom-reset_fn", "no-leak-LIF"],
)
def test_neuron_settings_without_nir_form(module: nn.Module, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sinabs.to_nir(nn.Sequential(nn.Linear(4, 3), module), X)


@pytest.mark.parametrize(
    ("net", "sample", "message"),
    [
        (nn.Sequential(nn.Flatten(0)), X, "batch/time axes"),
        (nn.Sequential(nn.Linear(10, 3)), torch.rand(2, 4, 10), "1-D inputs"),
        (nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect"), IMAGES, "padding_mode"),
        (sl.SumPool2d(2, ceil_mode=True), IMAGES, "ceil_mode"),
    ],
    ids=["flatten-batch", "linear-2d", "conv-reflect", "pool-ceil"],
)
def test_stateless_layers_without_nir_form(
    net: nn.Module, sample: torch.Tensor, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        sinabs.to_nir(net, sample)


def test_forward_with_operations_nir_cannot_express() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.fc(x)) * 2

    with pytest.raises(ValueError, match="cannot express call_function relu"):
        sinabs.to_nir(Net(), X)


def test_a_module_called_twice() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.fc(x))

    with pytest.raises(ValueError, match="'fc' is called more than once"):
        sinabs.to_nir(Net(), X)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"dt": 0.0}, ValueError),
        ({"dt": float("nan")}, ValueError),
        ({"dt": "1"}, TypeError),
        ({"discretization": "rk4"}, ValueError),
        ({"portable": "yes"}, TypeError),
    ],
)
def test_bad_export_arguments(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(kwargs))):
        sinabs.to_nir(nn.Linear(4, 3), X, **kwargs)
    with pytest.raises(TypeError, match="sample_data"):
        sinabs.to_nir(nn.Linear(4, 3), [1.0])


# ---- import ------------------------------------------------------------------------------


def lif(n: int = 3, **changes: Any) -> Any:
    fields = {
        "tau": np.full(n, 5.0), "r": np.ones(n), "v_leak": np.zeros(n),
        "v_threshold": np.ones(n), "v_reset": np.zeros(n),
    }  # fmt: skip
    fields.update(changes)
    return nir.LIF(**fields)


def graph_of(*nodes: Any, **kwargs: Any) -> Any:
    return nir.NIRGraph.from_list(*nodes, **kwargs)


@pytest.mark.parametrize(
    "node",
    [
        nir.Delay(np.ones(3)),
        nir.Threshold(np.ones(3)),
        nir.I(np.ones(3)),
        nir.CubaLI(np.full(3, 2.0), np.full(3, 5.0), np.ones(3), np.zeros(3)),
    ],
    ids=lambda n: type(n).__name__,
)
def test_unsupported_nodes(node: Any) -> None:
    name = type(node).__name__.lower()
    with pytest.raises(NotImplementedError, match=rf"NIR node '{name}': {type(node).__name__}"):
        sinabs.from_nir(graph_of(node))


def test_field_of_the_wrong_shape_names_node_and_field() -> None:
    graph = graph_of(lif())
    graph.nodes["lif"].v_threshold = np.ones(4)
    with pytest.raises(ValueError, match=r"NIR node 'lif' \(LIF\): field 'v_threshold' has shape"):
        sinabs.from_nir(graph)


def test_missing_field_of_a_graph_object() -> None:
    graph = graph_of(lif())
    graph.nodes["lif"].tau = None
    with pytest.raises(ValueError, match=r"NIR node 'lif' \(LIF\): field 'tau' is missing"):
        sinabs.from_nir(graph)


def write_and_edit(tmp_path: Path, edit: Any) -> Path:
    path = tmp_path / "bad.nir"
    nir.write(path, graph_of(nir.Affine(np.ones((3, 2)), np.zeros(3)), lif()))
    with h5py.File(path, "r+") as handle:
        edit(handle["node/nodes"])
    return path


def _replace(group: Any, key: str, value: Any) -> None:
    del group[key]
    group.create_dataset(key, data=value)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda g: g["lif"].__delitem__("tau"), r"'lif' in .* \(LIF\): .*missing .*'tau'"),
        (lambda g: _replace(g["lif"], "r", np.ones(4)), r"'lif' in .* \(LIF\): .*same shape"),
        (lambda g: _replace(g["lif"], "type", "Spiky"), r"'lif' in .* \(Spiky\): unknown"),
        (lambda g: _replace(g["affine"], "weight", np.ones((3, 2, 2))), r"node 'affine'"),
    ],
    ids=["missing-field", "wrong-shape", "unknown-type", "weight-3d"],
)
def test_malformed_files(tmp_path: Path, edit: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sinabs.from_nir(write_and_edit(tmp_path, edit))


def test_not_a_nir_file(tmp_path: Path) -> None:
    path = tmp_path / "text.nir"
    path.write_text("hello")
    with pytest.raises(ValueError, match="cannot read NIR file"):
        sinabs.from_nir(path)


def test_edges_and_shapes() -> None:
    nodes = {"input": nir.Input(np.array([2])), "lif": lif(), "output": nir.Output(np.array([3]))}
    with pytest.raises(
        ValueError, match=r"edge \('input', 'lif'\).*gives shape \(2,\).*takes \(3,\)"
    ):
        sinabs.from_nir(
            nir.NIRGraph(nodes, [("input", "lif"), ("lif", "output")], type_check=False)
        )
    with pytest.raises(ValueError, match="refers to a node 'nowhere'"):
        sinabs.from_nir(nir.NIRGraph(nodes, [("input", "nowhere")], type_check=False))
    with pytest.raises(ValueError, match=r"'lif' .*receives no input"):
        sinabs.from_nir(nir.NIRGraph(nodes, [("lif", "output")], type_check=False))


def test_cycles_other_than_a_recurrent_layer() -> None:
    nodes = {
        "input": nir.Input(np.array([3])), "a": lif(), "b": lif(),
        "output": nir.Output(np.array([3])),
    }  # fmt: skip
    edges = [("input", "a"), ("a", "b"), ("b", "a"), ("b", "output")]
    with pytest.raises(ValueError, match="cycle through nodes 'a', 'b'"):
        sinabs.from_nir(nir.NIRGraph(nodes, edges, type_check=False))


def test_forward_euler_needs_dt_below_tau() -> None:
    graph = graph_of(lif(tau=np.full(3, 1e-3)))
    with pytest.raises(ValueError, match=r"NIR node 'lif' \(LIF\): forward Euler with dt=0.002"):
        sinabs.from_nir(graph, dt=2e-3)
    sinabs.from_nir(graph, dt=2e-3, discretization="exact")  # decays by e^-2 per step


def test_cubalif_leak_voltage_is_refused() -> None:
    node = nir.CubaLIF(
        tau_syn=np.full(3, 2.0), tau_mem=np.full(3, 5.0), r=np.ones(3), v_leak=np.full(3, 0.1),
        v_threshold=np.ones(3),
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"'cubalif' \(CubaLIF\): v_leak != 0"):
        sinabs.from_nir(graph_of(node))


def test_sumpool_padding_is_refused() -> None:
    graph = graph_of(
        nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([1, 1])), type_check=False
    )
    graph.nodes["input"] = nir.Input(np.array([1, 4, 4]))
    graph.nodes["output"] = nir.Output(np.array([1, 3, 3]))
    with pytest.raises(ValueError, match="padding"):
        sinabs.from_nir(graph)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"batch_size": 0}, TypeError, "batch_size"),
        ({"num_timesteps": 2.5}, TypeError, "num_timesteps"),
        ({"dt": -1.0}, ValueError, "dt"),
        ({"discretization": "Euler"}, ValueError, "discretization"),
    ],
)
def test_bad_import_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        sinabs.from_nir(graph_of(lif()), **kwargs)
    with pytest.raises(TypeError, match="source"):
        sinabs.from_nir(42)


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nir", None)  # makes `import nir` raise ImportError
    with pytest.raises(ImportError, match=r'pip install "sinabs\[nir\]"'):
        sinabs.to_nir(nn.Linear(4, 3), X)
    with pytest.raises(ImportError, match=r'pip install "sinabs\[nir\]"'):
        sinabs.from_nir("model.nir")
