"""The torch.library operators: opcheck, torch.compile, fallback warning."""

from __future__ import annotations

import os
import warnings

import pytest
import torch
from torch._inductor.runtime.cache_dir_utils import cache_dir, default_cache_dir

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.dynamics.families import STATES
from sinabs.dynamics.fused import config, ops


def _prepared(family: str, record: bool, dtype: torch.dtype = torch.float64):
    from sinabs.dynamics.models import ResonateParams
    from sinabs.dynamics.params import AdaptiveParams, LeakyParams, SpikingParams

    torch.manual_seed(1)
    x = torch.randn(2, 6, 3, dtype=dtype) * 2
    common = dict(
        alpha_mem=torch.tensor([0.9, 0.8, 0.95], dtype=dtype),
        alpha_syn=torch.tensor(0.7, dtype=dtype),
        norm_input=True,
        min_v_mem=torch.tensor(-0.5, dtype=dtype),
    )
    spiking = dict(
        spike_threshold=torch.tensor(1.0, dtype=dtype),
        spike_fn=sa.MultiSpike,
        reset_fn=sa.MembraneSubtract(),
        surrogate_grad_fn=sa.SingleExponential(),
    )
    if family.startswith("resonate"):
        balanced = family == "resonate_balanced"
        params = ResonateParams(
            omega=torch.tensor([9.0, 11.0, 14.0], dtype=dtype),
            b=None if balanced else torch.tensor(-1.0, dtype=dtype),
            dt=0.05,
            spike_threshold=torch.tensor(1.0, dtype=dtype),
            x_reset=None if balanced else torch.tensor(0.1, dtype=dtype),
            y_reset=None if balanced else torch.tensor(-0.2, dtype=dtype),
            b_offset=torch.tensor(0.5, dtype=dtype) if balanced else None,
            gamma=torch.tensor(0.8, dtype=dtype) if balanced else None,
            spike_fn=sa.SingleSpike,
            surrogate_grad_fn=sa.SingleExponential(),
        )
        x = x.abs() * 10
    elif family == "leaky":
        params = LeakyParams(**common)
    elif family == "spiking":
        params = SpikingParams(**common, **spiking)
    else:
        params = AdaptiveParams(
            **common, **spiking, alpha_adapt=torch.tensor(0.9, dtype=dtype), adapt_scale=1.5
        )
    state = {name: torch.rand(2, 3, dtype=dtype) for name in params.state_names}
    prepared = config.prepare(family, x, state, params)
    assert not isinstance(prepared, str)
    import dataclasses

    cfg = dataclasses.replace(prepared.config, record=record)
    return prepared, cfg


@pytest.mark.parametrize("record", [False, True], ids=["plain", "record"])
@pytest.mark.parametrize(
    "family", ["leaky", "spiking", "adaptive", "resonate", "resonate_balanced"]
)
def test_opcheck(family: str, record: bool) -> None:
    prepared, cfg = _prepared(family, record)
    args = (
        prepared.x.requires_grad_(True),
        *[
            state.requires_grad_(decl.name in ("v_mem", "i_syn") or cfg.has_state(decl.name))
            for state, decl in zip(prepared.states, STATES, strict=True)
        ],
        *[row.clone().requires_grad_(True) for row in prepared.rows],
        cfg.ints(),
        list(cfg.fconfig),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        torch.library.opcheck(ops.neuron_scan, args)


LAYERS = {
    "iaf": lambda: sl.IAF(tau_syn=4.0, record_states=True, backend="cpu"),
    "lif": lambda: sl.LIF(10.0, min_v_mem=-1.0, record_states=True, backend="cpu"),
    "expleak": lambda: sl.ExpLeak(10.0, backend="cpu"),
    "alif": lambda: sl.ALIF(10.0, 20.0, record_states=True, backend="cpu"),
    "lif_reference": lambda: sl.LIF(10.0, record_states=True, backend="reference"),
    # (the balanced form's check computes its damping row with torch while dynamo traces)
    "resonate": lambda: sl.ResonateAndFire(8.0, dt=0.1, record_states=True, backend="cpu"),
    "resonate_balanced": lambda: sl.ResonateAndFire(
        8.0, dt=0.1, balanced=True, record_states=True, backend="cpu"
    ),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_compiled_equals_eager(name: str) -> None:
    torch._dynamo.reset()
    x = torch.randn(2, 8, 4) * 2
    results = []
    for compiled in (False, True):
        layer = LAYERS[name]()
        fn = torch.compile(layer, backend="aot_eager", fullgraph=False) if compiled else layer
        xx = x.clone().requires_grad_(True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn(xx)
            loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum()
            for rec in layer.recordings.values():
                loss = loss + rec.as_subclass(torch.Tensor).sum()
            params = [p for p in layer.parameters() if p.requires_grad]
            grads = torch.autograd.grad(loss, [xx, *params])
        results.append((out.detach(), grads))
        # dynamo traces our functools caches' wrapped functions (config.py), not the caches
        assert not [w for w in caught if "lru_cache" in str(w.message)]
    (out_e, g_e), (out_c, g_c) = results
    assert torch.equal(out_e, out_c)
    for a, b in zip(g_e, g_c, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_inductor_compiled_layer_equals_eager(suite_inductor_cache: str | None) -> None:
    torch._dynamo.reset()
    written_before = _files_below(cache_dir())
    x = torch.randn(2, 8, 4) * 3
    outs, grads = [], []
    for compiled in (False, True):
        layer = sl.LIF(10.0, tau_syn=3.0, record_states=True, backend="cpu")
        fn = torch.compile(layer) if compiled else layer
        xx = x.clone().requires_grad_(True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = fn(xx)
            (out.sum() + layer.recordings["v_mem"].as_subclass(torch.Tensor).sum()).backward()
        outs.append(out.detach())
        grads.append((xx.grad, layer.tau_mem.grad, layer.tau_syn.grad))
    assert outs[0].sum() > 0
    assert torch.equal(outs[0], outs[1])
    for a, b in zip(grads[0], grads[1], strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    # inductor compiled into the folder the environment names (tests/conftest.py)
    assert cache_dir() == os.path.abspath(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    assert _files_below(cache_dir()) - written_before
    if suite_inductor_cache is not None:  # the session's own fresh folder
        assert cache_dir() == os.path.abspath(suite_inductor_cache) != default_cache_dir()


def _files_below(folder: str) -> set[str]:
    return {os.path.join(root, name) for root, _, names in os.walk(folder) for name in names}


def test_without_compiled_kernel_cpu_is_unsupported_and_auto_runs_the_reference(
    monkeypatch,
) -> None:
    from sinabs import dynamics
    from sinabs.dynamics.fused import cpu_kernel

    x = torch.randn(2, 10, 4) * 3
    expected = sl.LIF(10.0, backend="reference")(x)
    monkeypatch.setattr(cpu_kernel, "available", lambda: False)
    monkeypatch.setattr(cpu_kernel, "unavailable_reason", lambda: "not built here")
    with pytest.raises(dynamics.BackendError, match="compiled CPU kernel is not available"):
        sl.LIF(10.0, backend="cpu")(x)
    layer = sl.LIF(10.0)  # auto: no warning, the next backend in the order
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = layer(x)
    assert torch.equal(first, expected)


# ---------------------------------------------------------------- eager calls


def _layer_run(name: str, monkeypatch, through_operator: bool):
    """Output, firing rate, recordings and gradients of one layer call."""
    if through_operator:
        monkeypatch.setattr(ops, "_plain", lambda tensors: False)
    calls = []
    original = ops.neuron_scan

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(ops, "neuron_scan", counting)
    torch.manual_seed(3)
    layer = LAYERS[name]()
    x = (torch.randn(3, 9, 4) * 2).requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = layer(x)
        recordings = [r.as_subclass(torch.Tensor) for r in layer.recordings.values()]
        loss = (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum() + layer.firing_rate
        loss = loss + sum((r * 0.5).sum() for r in recordings)
        params = [p for p in layer.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss, [x, *params])
    monkeypatch.undo()
    return bool(calls), [out.detach(), layer.firing_rate.detach(), *recordings, *grads]


@pytest.mark.parametrize("name", [n for n in LAYERS if n != "lif_reference"])
def test_eager_calls_skip_the_operator_with_identical_results(name: str, monkeypatch) -> None:
    used_op_eager, eager = _layer_run(name, monkeypatch, through_operator=False)
    used_op, operator = _layer_run(name, monkeypatch, through_operator=True)
    assert not used_op_eager and used_op
    for a, b in zip(eager, operator, strict=True):
        assert torch.equal(a, b)


def test_dispatch_modes_and_subclasses_take_the_operator() -> None:
    from torch.utils._python_dispatch import TorchDispatchMode

    class Passthrough(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))

    x = torch.randn(2, 3, 4)
    assert ops._plain((x,))
    with Passthrough():
        assert not ops._plain((x,))
        out = sl.LIF(10.0, backend="cpu")(x)  # through the operator, under the mode
    assert torch.equal(out, sl.LIF(10.0, backend="cpu")(x))

    class Sub(torch.Tensor):
        pass

    assert not ops._plain((x.as_subclass(Sub),))


def test_functorch_transforms_take_the_operator() -> None:
    seen: list[bool] = []

    def loss(x: torch.Tensor) -> torch.Tensor:
        seen.append(ops._plain((x,)))
        return x.sum()

    torch.func.grad(loss)(torch.rand(3))
    torch.func.vmap(loss)(torch.rand(2, 3))
    assert seen == [False, False]
    assert ops._plain((torch.rand(3),))
