"""Helpers for the NIR tests: a round trip through a ``.nir`` file, layer comparison."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import sinabs

NEURON_FIELDS = ("tau_mem", "tau_syn", "alpha_mem", "alpha_syn", "spike_threshold", "min_v_mem")
NEURON_OPTIONS = (
    "norm_input",
    "train_alphas",
    "spike_fn",
    "reset_fn",
    "surrogate_grad_fn",
    "train_threshold",
)


@pytest.fixture
def roundtrip(tmp_path: Path) -> Callable[..., tuple[Any, nn.Module]]:
    """``roundtrip(module, sample, dt=, discretization=, **import_kwargs)``: exports,
    writes the file, imports it with ``from_nir(path)`` and with ``from_nir(nir.read(path))``
    (both must agree); returns ``(graph, imported module)``. ``nir_type_check=False``
    where nir's own type check is wrong (it takes ``weight.shape[1]`` as a convolution's
    input channels, ignoring groups, and ``weight.shape[2]`` as every kernel size)."""
    nir = pytest.importorskip("nir", reason="NIR tests need the nir extra")

    def run(
        module: nn.Module,
        sample: torch.Tensor,
        *,
        dt: float = 1.0,
        discretization: str = "euler",
        nir_type_check: bool = True,
        **import_kwargs: Any,
    ) -> tuple[Any, nn.Module]:
        graph = sinabs.to_nir(module, sample, dt=dt, discretization=discretization)
        path = tmp_path / "net.nir"
        nir.write(path, graph)
        imported = sinabs.from_nir(path, dt=dt, discretization=discretization, **import_kwargs)
        via_read = sinabs.from_nir(
            nir.read(path, type_check=nir_type_check),
            dt=dt,
            discretization=discretization,
            **import_kwargs,
        )
        assert_same_modules(imported, via_read)
        return graph, imported

    return run


def assert_same_layer(a: nn.Module, b: nn.Module) -> None:
    """Same type, same options, bit-identical parameters (neuron fields and weights)."""
    assert type(a) is type(b), (type(a), type(b))
    for key in NEURON_FIELDS:
        x, y = getattr(a, key, None), getattr(b, key, None)
        assert (x is None) == (y is None), key
        if x is not None:
            assert x.shape == y.shape and x.dtype == y.dtype, (key, x, y)
            assert torch.equal(x, y), (key, x, y)
    for key in NEURON_OPTIONS:
        assert getattr(a, key, None) == getattr(b, key, None), key
    for key in ("batch_size", "num_timesteps"):
        assert getattr(a, key, None) == getattr(b, key, None), key
    own_a = dict(a.named_parameters(recurse=False))
    own_b = dict(b.named_parameters(recurse=False))
    assert own_a.keys() == own_b.keys()
    for key in own_a:
        assert torch.equal(own_a[key], own_b[key]), key
    for attr in ("stride", "padding", "dilation", "groups", "kernel_size", "start_dim", "end_dim"):
        assert _canonical(a, attr) == _canonical(b, attr), attr
    if hasattr(a, "rec_connect"):
        assert_same_layer(a.rec_connect, b.rec_connect)


def _canonical(module: nn.Module, attr: str) -> Any:
    """A hyper-parameter with ints as pairs (or 1-tuples for Conv1d) and a pooling
    stride of None as the kernel size, so that equal settings compare equal."""
    value = getattr(module, attr, None)
    if attr == "stride" and value is None:
        value = getattr(module, "kernel_size", None)
    if isinstance(value, int) and attr not in ("groups", "start_dim", "end_dim"):
        return (value,) if isinstance(module, nn.Conv1d) else (value, value)
    return value


def assert_same_modules(a: nn.Module, b: nn.Module) -> None:
    names_a = [n for n, _ in a.named_modules()]
    assert names_a == [n for n, _ in b.named_modules()]
    for (_, x), (_, y) in zip(a.named_modules(), b.named_modules(), strict=True):
        assert type(x) is type(y)


@pytest.fixture
def same_layer() -> Callable[[nn.Module, nn.Module], None]:
    """:func:`assert_same_layer` (a fixture, since test modules cannot import conftest)."""
    return assert_same_layer
