"""Property tests over random layer configurations, shapes, dtypes and backends.

Hypothesis draws a neuron layer (family, spike, reset and surrogate functions, synapse,
leak, clamp, scalar or per-neuron parameters, trained decay factors), an input shape
and a dtype, and checks

* backend agreement: the fused CPU backend gives the reference's outputs, states and
  recordings bit for bit, and its gradients (in float64) to rounding;
* time splitting: T1 steps then T2 steps with the carried state equal T1 + T2 steps;
* batch independence: each sample's result does not depend on the others;
* causality: the output up to step t does not depend on the input after t.

``make test`` runs a bounded number of examples (the "ci" profile below); before a
release run the long profile: ``python -m pytest tests/robustness/test_fuzz.py -m slow
--hypothesis-profile=release`` (a few thousand examples, about half an hour on two
cores). A failure prints the smallest configuration that fails, and hypothesis keeps it
in its example database (.hypothesis/) to try first next time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "release", max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci")

SURROGATES = [
    sa.SingleExponential(),
    sa.SingleExponential(grad_width=0.3, grad_scale=1.5),
    sa.PeriodicExponential(),
    sa.Heaviside(window=0.4),
    sa.Gaussian(),
    sa.MultiGaussian(),
]


@dataclass
class Case:
    """A drawn layer configuration and its input."""

    family: str
    kwargs: dict[str, Any]
    shape: tuple[int, ...]  # (B, T, *neurons)
    dtype: torch.dtype
    seed: int
    scale: float

    def build(self, backend: str) -> nn.Module:
        kwargs = {
            k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in self.kwargs.items()
        }
        layer = getattr(sl, self.family)(**kwargs, backend=backend)
        return layer.to(self.dtype) if self.dtype != torch.float32 else layer

    def input(self, requires_grad: bool = False) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.seed)
        x = (torch.rand(self.shape, generator=g, dtype=torch.float64) - 0.25) * self.scale
        return x.to(self.dtype).requires_grad_(requires_grad)


@st.composite
def cases(draw: st.DrawFn, dtypes: tuple[torch.dtype, ...] = (torch.float32,)) -> Case:
    family = draw(st.sampled_from(["IAF", "LIF", "ExpLeak", "ALIF"]))
    neurons = draw(st.sampled_from([(1,), (3,), (5,), (2, 3), (70,)]))
    batch = draw(st.integers(1, 3))
    steps = draw(st.integers(1, 7))

    def value(lo: float, hi: float) -> float | torch.Tensor:
        """A scalar or a per-neuron tensor (full neuron shape or broadcast from a
        trailing one) with values in [lo, hi]."""
        kind = draw(st.sampled_from(["scalar", "per-neuron", "trailing"]))
        number = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
        if kind == "scalar":
            return draw(number)
        shape = neurons if kind == "per-neuron" else (neurons[-1],)
        g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    kwargs: dict[str, Any] = {}
    if family in ("LIF", "ExpLeak", "ALIF"):
        kwargs["tau_mem"] = value(1.5, 40.0)
        kwargs["norm_input"] = draw(st.booleans())
        kwargs["train_alphas"] = draw(st.booleans())
    if family in ("IAF", "LIF", "ALIF") and draw(st.booleans()):
        kwargs["tau_syn"] = value(1.5, 20.0)
    if family == "ALIF":
        kwargs["tau_adapt"] = value(2.0, 60.0)
        kwargs["adapt_scale"] = value(0.0, 2.0)
    if family != "ExpLeak":
        threshold = value(0.3, 2.0)
        kwargs["spike_threshold"] = threshold
        kwargs["spike_fn"] = draw(
            st.sampled_from([sa.MultiSpike, sa.SingleSpike, sa.MaxSpike(2), sa.MaxSpike(1)])
        )
        kwargs["reset_fn"] = draw(
            st.sampled_from(
                [sa.MembraneSubtract(), sa.MembraneSubtract(0.5), sa.MembraneReset(-0.2)]
            )
        )
        kwargs["surrogate_grad_fn"] = draw(st.sampled_from(SURROGATES))
        if draw(st.booleans()):
            low = threshold.min().item() if isinstance(threshold, torch.Tensor) else threshold
            kwargs["min_v_mem"] = -draw(st.floats(0.1, 2.0)) if low > 0 else None
    elif draw(st.booleans()):
        kwargs["min_v_mem"] = -draw(st.floats(0.1, 2.0))
    return Case(
        family=family,
        kwargs=kwargs,
        shape=(batch, steps, *neurons),
        dtype=draw(st.sampled_from(dtypes)),
        seed=draw(st.integers(0, 2**31 - 1)),
        scale=draw(st.sampled_from([0.5, 2.0, 8.0])),
    )


def run(layer: nn.Module, x: torch.Tensor) -> dict[str, Any]:
    layer.record_states = True
    out = layer(x)
    return {
        "out": out,
        "states": {k: v for k, v in layer.named_states()},
        "recordings": dict(layer.recordings),
    }


def assert_equal_results(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert torch.equal(a["out"], b["out"])
    for group in ("states", "recordings"):
        assert a[group].keys() == b[group].keys(), group
        for key, value in b[group].items():
            assert torch.equal(a[group][key], value), (group, key)


@settings(max_examples=60)
@given(case=cases(dtypes=(torch.float32, torch.float64)))
def test_fused_cpu_equals_reference(case: Case) -> None:
    x = case.input()
    assert_equal_results(run(case.build("cpu"), x), run(case.build("reference"), x))


@given(case=cases(dtypes=(torch.float64,)))
def test_fused_cpu_gradients_equal_reference(case: Case) -> None:
    grads = []
    for backend in ("cpu", "reference"):
        layer = case.build(backend)
        x = case.input(requires_grad=True)
        result = run(layer, x)
        g = torch.Generator().manual_seed(case.seed + 1)
        loss = (result["out"] * torch.rand(case.shape, generator=g, dtype=x.dtype)).sum()
        for rec in result["recordings"].values():
            loss = loss + rec.as_subclass(torch.Tensor).sum()
        params = [p for p in layer.parameters() if p.requires_grad]
        grads.append(torch.autograd.grad(loss, [x, *params], allow_unused=True))
    for a, b in zip(*grads, strict=True):
        if b is None:
            assert a is None or not a.any()
            continue
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9 * (1 + b.abs().max().item()))


@given(
    case=cases(dtypes=(torch.float32, torch.float64)),
    backend=st.sampled_from(["reference", "cpu"]),
    split=st.integers(0, 7),
)
def test_time_splitting(case: Case, backend: str, split: int) -> None:
    x = case.input()
    split = min(split, x.shape[1])
    whole = case.build(backend)
    expected = run(whole, x)
    parts = case.build(backend)
    first, second = run(parts, x[:, :split]), run(parts, x[:, split:])
    assert torch.equal(torch.cat([first["out"], second["out"]], 1), expected["out"])
    for key, value in expected["states"].items():
        assert torch.equal(second["states"][key], value), key
    for key, value in expected["recordings"].items():
        joined = torch.cat([first["recordings"][key], second["recordings"][key]], 1)
        assert torch.equal(joined, value), key


@given(case=cases(dtypes=(torch.float32,)), backend=st.sampled_from(["reference", "cpu"]))
def test_batch_independence(case: Case, backend: str) -> None:
    x = case.input()
    together = run(case.build(backend), x)
    for b in range(x.shape[0]):
        alone = run(case.build(backend), x[b : b + 1])
        assert torch.equal(alone["out"], together["out"][b : b + 1])
        for key, value in together["states"].items():
            assert torch.equal(alone["states"][key], value[b : b + 1]), key


@given(
    case=cases(dtypes=(torch.float32,)),
    backend=st.sampled_from(["reference", "cpu"]),
    t=st.integers(0, 6),
)
def test_causality(case: Case, backend: str, t: int) -> None:
    x = case.input()
    t = min(t, x.shape[1] - 1)
    changed = x.clone()
    changed[:, t + 1 :] = -changed[:, t + 1 :] * 3 + 1
    out = run(case.build(backend), x)["out"]
    out_changed = run(case.build(backend), changed)["out"]
    assert torch.equal(out[:, : t + 1], out_changed[:, : t + 1])


@pytest.mark.slow
@settings(max_examples=1000)
@given(case=cases(dtypes=(torch.float32, torch.float64)))
def test_fused_cpu_equals_reference_long(case: Case) -> None:
    """The long run of backend agreement (``make test-slow``)."""
    x = case.input()
    assert_equal_results(run(case.build("cpu"), x), run(case.build("reference"), x))
