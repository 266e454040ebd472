"""How a layer trains survives a NIR round trip: its surrogate gradient and
``train_threshold`` (sinabs metadata; they change no output, so ``portable=True``
accepts them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
import torch

import sinabs
import sinabs.layers as sl
from sinabs.dynamics.fused.config import SURROGATE_CLASSES

nir = pytest.importorskip("nir", reason="NIR tests need the nir extra (pip install sinabs[nir])")

N = 5


def _non_default(cls: type) -> Any:
    """An instance of surrogate ``cls`` with every setting changed from its default."""
    values = {f.name: float(f.default) * 1.5 + 0.25 for f in dataclasses.fields(cls)}
    return cls(**values)


@pytest.mark.parametrize("cls", list(SURROGATE_CLASSES.values()), ids=lambda c: c.__name__)
def test_every_surrogate_round_trips(cls: type, roundtrip: Callable[..., Any], same_layer) -> None:
    surrogate = _non_default(cls)
    layer = sl.LIF(tau_mem=10.0, surrogate_grad_fn=surrogate)
    graph, imported = roundtrip(layer, torch.rand(2, 4, N))
    meta = graph.nodes[next(k for k in graph.nodes if k not in ("input", "output"))].metadata
    assert meta["sinabs"]["surrogate"] == cls.__name__
    same_layer(layer, imported.model)
    assert imported.model.surrogate_grad_fn == surrogate


@pytest.mark.parametrize(
    "make",
    [
        lambda: sl.LIF(tau_mem=8.0, train_threshold=True),
        lambda: sl.IAF(spike_threshold=torch.linspace(0.5, 1.5, N), train_threshold=True),
        lambda: sl.LIFRecurrent(
            tau_mem=8.0, rec_connect=torch.nn.Linear(N, N, bias=False), train_threshold=True
        ),
    ],
    ids=["LIF", "IAF-per-neuron", "LIFRecurrent"],
)
def test_train_threshold_round_trips_with_its_trained_value(
    make: Callable[[], torch.nn.Module], roundtrip: Callable[..., Any], same_layer
) -> None:
    layer = make()
    with torch.no_grad():  # a threshold moved by training
        layer.spike_threshold.add_(0.125)
    x = torch.rand(3, 20, N) * 2
    _, imported = roundtrip(layer, x)
    model = imported.model
    same_layer(layer, model)
    assert model.train_threshold and model.spike_threshold.requires_grad
    sinabs.reset_states(layer)
    sinabs.reset_states(imported)
    assert torch.equal(layer(x), imported(x))
    # and the imported threshold trains: it receives a gradient
    sinabs.reset_states(imported)
    imported(x).sum().backward()
    assert model.spike_threshold.grad is not None


def test_training_settings_are_portable() -> None:
    layer = sl.LIF(tau_mem=8.0, spike_fn=sinabs.activation.SingleSpike, train_threshold=True)
    layer.reset_fn = sinabs.activation.MembraneReset()
    layer.surrogate_grad_fn = sinabs.activation.ATan(alpha=4.0)
    graph = sinabs.to_nir(layer, torch.rand(1, 3, N), portable=True)
    assert graph is not None


def test_a_surrogate_of_ones_own_warns_and_imports_the_default(tmp_path) -> None:
    def own(v_mem: torch.Tensor, spike_threshold: Any) -> torch.Tensor:
        return torch.ones_like(v_mem)

    layer = sl.LIF(tau_mem=8.0, surrogate_grad_fn=own)
    with pytest.warns(UserWarning, match="surrogate_grad_fn .* cannot be written"):
        graph = sinabs.to_nir(layer, torch.rand(1, 3, N))
    path = tmp_path / "own.nir"
    nir.write(path, graph)
    imported = sinabs.from_nir(path)
    assert imported.model.surrogate_grad_fn == sl.LIF(tau_mem=8.0).surrogate_grad_fn


def test_unknown_or_bad_surrogate_metadata_is_a_named_error() -> None:
    graph = sinabs.to_nir(sl.LIF(tau_mem=8.0), torch.rand(1, 3, N))
    name = next(k for k in graph.nodes if k not in ("input", "output"))
    meta = graph.nodes[name].metadata["sinabs"]
    meta["surrogate"] = "Boxcar"
    with pytest.raises(ValueError, match=rf"{name}.*unknown .*surrogate.*'Boxcar'"):
        sinabs.from_nir(graph)
    meta["surrogate"] = "ATan"
    meta["surrogate.beta"] = 1.0
    with pytest.raises(ValueError, match=rf"{name}.*surrogate ATan settings"):
        sinabs.from_nir(graph)
