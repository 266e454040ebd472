"""Golden vectors from sinabs 3.1.3 (72 neuron-layer configurations).

``data/sinabs-3.1.3-golden.pt`` holds, per case, the input, the output, the recordings,
the final state and the gradients that real sinabs 3.1.3 produced (fields changed by
DECISIONS.md are left out, see ``case["absent"]``).

What is compared bitwise is only what is bitwise on every x86 processor: the forward
values (additions, multiplications, comparisons) and the decay factors ``exp(-1/τ)``.
torch's float32 ``exp`` runs MKL's vendor-dispatched code and is one ulp off for some
time constants on some processors (on an Intel CPU without AVX-512, τ = 9 and τ = 20 of
these cases; ``tools/mkl_as_intel`` reproduces that here), so the layers take the
exponential in float64 and round it once (``sinabs.layers._neuron.decay``): the
correctly rounded factors, which are the ones sinabs stored
(``test_sinabs_decay_factors_were_correctly_rounded``), on every processor.

Gradients are never bitwise: the surrogates' ``exp`` and torch's reductions round
differently from one CPU to another (on an Intel Xeon the reference's ``tau_syn``
gradient of ``iaf_two_calls_tau_syn`` is 2.4e-6 off, relative, from the value sinabs gave
on the machine that wrote the file), and a fused backend sums gradient contributions in
its own order. So every backend's gradients, the reference's included, must agree with
sinabs's within ``rtol=1e-5, atol=1e-6·max|golden|`` (the golden README's
recommendation) plus sinabs's own float32 error, measured against the same case run in
float64. (That error is not negligible for gradients that result from cancellation: in
``alif_no_norm_tau_syn`` the scalar ``tau_mem`` gradient is -2.39647e-4 in float64,
sinabs's float32 value is 7.1e-6 off (relative) on one side and the fused CPU backend's
5.6e-6 off on the other, so the two differ by 1.3e-5.)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl
import sinabs.layers.alif
from sinabs.layers._neuron import decay

DATA = Path(__file__).parent / "data" / "sinabs-3.1.3-golden.pt"
SHA256 = "23f63ce9d6832e45dc7df46e932c8ffee22344d9be5c538d4046257359b414c1"
CASES = torch.load(DATA, weights_only=True)
FN_KEYS = ("spike_fn", "reset_fn", "surrogate_grad_fn")
GRAD_RTOL = 1e-5
GRAD_ATOL_SCALE = 1e-6


def build_fn(spec: dict):
    spec = dict(spec)
    cls = getattr(sa, spec.pop("name"))
    return cls if cls in (sa.SingleSpike, sa.MultiSpike) else cls(**spec)


def build_layer(case: dict, backend: str = "auto") -> nn.Module:
    kwargs = {"backend": backend}
    for key, value in case["kwargs"].items():
        if key in FN_KEYS:
            kwargs[key] = build_fn(value)
        elif isinstance(value, list):
            kwargs[key] = torch.tensor(value, dtype=torch.float32)
        else:
            kwargs[key] = value
    if "rec_weight" in case:
        n = case["rec_weight"].shape[0]
        linear = nn.Linear(n, n, bias=False)
        with torch.no_grad():
            linear.weight.copy_(case["rec_weight"])
        kwargs["rec_connect"] = linear
    if case["layer"] == "ALIFSqueeze":
        cls = sinabs.layers.alif.ALIFSqueeze
    else:
        cls = getattr(sl, case["layer"])
    return cls(**kwargs)


def plain(tensor: torch.Tensor) -> torch.Tensor:
    """Detached plain tensor (recordings are a ``sinabs.Recording`` subclass)."""
    return tensor.detach().as_subclass(torch.Tensor)


def run_case(case: dict, backend: str = "auto", dtype: torch.dtype = torch.float32) -> dict:
    layer = build_layer(case, backend).to(dtype)
    got: dict = {
        "params_at_construction": {
            name: p.detach().clone() for name, p in layer.named_parameters() if p.requires_grad
        }
    }
    wrt = {}
    x = case["input"].clone().requires_grad_(True)
    wrt["input"] = x
    if "warmup_input" in case:
        xw = case["warmup_input"].clone().requires_grad_(True)
        wrt["warmup_input"] = xw
        got["warmup_output"] = layer(xw)
        got["initial_state"] = {
            k: getattr(layer, k).detach().clone() for k in case["initial_state"]
        }
    out = layer(x)
    got["output"] = out
    got["recordings"] = dict(getattr(layer, "recordings", {}) or {})
    got["final_state"] = {k: getattr(layer, k) for k in case["final_state"]}
    loss = torch.zeros(())
    if "w_out" in case:
        loss = loss + (out * case["w_out"]).sum()
    for k, w in case.get("w_rec", {}).items():
        loss = loss + (got["recordings"][k] * w).sum()
    for name, p in layer.named_parameters():
        if p.requires_grad:
            wrt[name] = p
    grads = torch.autograd.grad(loss, list(wrt.values()), allow_unused=True)
    got["grads"] = dict(zip(wrt, grads, strict=True))
    return got


def float64_grads(case: dict) -> dict | None:
    """Gradients of ``case`` computed in float64 by the reference, or None when float64
    spikes differently from sinabs's float32 (then it is no estimate of the truth)."""

    def f64(value):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.double()
        if isinstance(value, dict):
            return {k: f64(v) for k, v in value.items()}
        return value

    got = run_case(f64(case), "reference", dtype=torch.float64)
    # spikes differ by whole units; ExpLeak's continuous output by rounding only
    if "output" in case and not torch.allclose(
        plain(got["output"]).float(), case["output"], rtol=1e-4, atol=1e-6
    ):
        return None
    return got["grads"]


def test_decay_factors_are_correctly_rounded_here():
    # the layers' decay factors: float64 exp of the float32 -1/τ, rounded once, whatever
    # this processor's float32 exp gives
    for tau in torch.arange(1.0, 200.0, 0.25):
        exact = torch.exp(tau.reciprocal().neg().double()).float()
        assert torch.equal(decay(tau), exact), tau.item()


def test_sinabs_decay_factors_were_correctly_rounded():
    # from the file itself: the trainable decay factors sinabs stored are the correctly
    # rounded exp(-1/τ), which the layers compute on every processor
    checked = 0
    for case in CASES:
        for name, value in case["initial_params"].items():
            if name.startswith("alpha_"):
                tau = torch.tensor(case["kwargs"]["tau_" + name[len("alpha_") :]])
                exact = torch.exp(tau.reciprocal().neg().double()).float()
                assert torch.equal(value, exact.expand_as(value)), (case["name"], name)
                checked += 1
    assert checked >= 10


def test_golden_file_is_intact():
    assert hashlib.sha256(DATA.read_bytes()).hexdigest() == SHA256
    assert len(CASES) == 72
    assert len({c["name"] for c in CASES}) == 72


# "auto" is what users get; "reference" is the oracle every backend is checked against.
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_golden_case(case, backend):
    got = run_case(case, backend)
    absent = case["absent"]

    # constructor: the trainable parameters and their initial values
    initial = case["initial_params"]
    assert set(got["params_at_construction"]) == set(initial)
    for name, value in initial.items():
        assert torch.equal(got["params_at_construction"][name], value), ("initial_params", name)

    # forward values: bitwise
    for key in ("warmup_output", "output"):
        if key in case:
            assert got[key].dtype == torch.float32, key
            assert torch.equal(plain(got[key]), case[key]), key
    assert ("output" in case) == ("output" not in absent)
    assert tuple(got["output"].shape) == tuple(case["input"].shape)

    expected_recorded = {
        *case.get("recordings", {}),
        *(k.split(".", 1)[1] for k in absent if k.startswith("recordings.")),
    }
    assert set(got["recordings"]) == expected_recorded
    for group in ("initial_state", "final_state", "recordings"):
        for k, v in case.get(group, {}).items():
            g = got[group][k]
            assert g.dtype == v.dtype, (group, k)
            assert torch.equal(plain(g), v), (group, k)

    # gradients: same set of tensors, each within float32 rounding of sinabs's (not
    # bitwise: their last bits depend on the processor, see the module docstring)
    assert set(got["grads"]) == set(case["grads"])
    truth = float64_grads(case)
    for k, v in case["grads"].items():
        g = got["grads"][k]
        if v is None:
            assert g is None or not g.any(), k
        else:
            assert g is not None, k
            assert g.shape == v.shape, k
            atol = GRAD_ATOL_SCALE * v.abs().max().item()
            # sinabs's own float32 error (zero when float64 spikes differently)
            own_error = 0.0 if truth is None else (v.double() - truth[k]).abs()
            diff = (plain(g) - v).double().abs()
            allowed = GRAD_RTOL * v.double().abs() + atol + own_error
            assert bool((diff <= allowed).all()), (k, diff.max().item())
