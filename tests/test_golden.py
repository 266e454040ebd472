"""Golden vectors from sinabs 3.1.3 (72 neuron-layer configurations).

``data/sinabs-3.1.3-golden.pt`` holds, per case, the input, the output, the recordings,
the final state and the gradients that real sinabs 3.1.3 produced (fields changed by
DECISIONS.md are left out, see ``case["absent"]``).

What is compared bitwise is only what is bitwise on every x86 processor: the forward
values (additions, multiplications, comparisons) and the decay factors ``exp(-1/τ)`` of
the constructor and the forward, provided that torch's float32 ``exp`` rounds them as it
did on the machine that wrote the file: correctly (``decay_factors_as_sinabs``). It does
for these time constants on AMD processors and on Intel ones with AVX-512, but MKL's
AVX2 code, which torch's ``exp`` runs on an Intel processor without AVX-512, is one ulp
off for τ = 9 and τ = 20 (its float32 ``exp`` differs from the AMD one for 0.45% of all
arguments, the AVX-512 one for 0.5%). There the forward values are compared within
``rtol=1e-5, atol=1e-4·max|golden|``: a one-ulp decay factor moves a potential by up to
about (T + τ)·2^-24 of the largest value it held (``1 - α`` and the resets cancel; 1.2e-5
of the largest value in ``lif_tau_syn_norm``), and no spike moves in these cases.

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
5.6e-6 off on the other, so the two differ by 1.3e-5.) Where the decay factors are
rounded otherwise, the gradients follow another forward pass, with float32 errors of its
own: ``rtol=1e-3`` (the ill-conditioned ``tau_mem`` gradient of ``lif_tau_syn_norm`` is
3.3e-4 off float64, relative, in sinabs and 3.6e-4 on the other side with MKL's AVX2
``exp``, the one of ``alif_no_norm_tau_syn`` 2.5e-5 beyond sinabs's error; all other
gradients stay within 1e-5 of it).
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
# where this machine's exp rounds a decay factor otherwise (see the docstring)
FORWARD_RTOL = 1e-5
FORWARD_ATOL_SCALE = 1e-4
GRAD_RTOL_OTHER_DECAY = 1e-3
TAU_KEYS = ("tau_mem", "tau_syn", "tau_adapt")


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


def decay_factors_as_sinabs(case: dict) -> bool:
    """Whether torch's float32 ``exp`` gives the case's decay factors as on the machine
    that wrote the file: correctly rounded (float64 ``exp`` of the float32 ``-1/τ``)."""
    for key in TAU_KEYS:
        value = case["kwargs"].get(key)
        if value is not None:
            tau = torch.tensor(value, dtype=torch.float32)
            exact = torch.exp(tau.reciprocal().neg().double()).float()
            if not torch.equal(decay(tau), exact):
                return False
    return True


def assert_forward_equal(got: torch.Tensor, expected: torch.Tensor, exact: bool, what) -> None:
    """Bitwise where the decay factors are sinabs's, else within float32 rounding."""
    if exact:
        assert torch.equal(got, expected), what
    else:
        atol = FORWARD_ATOL_SCALE * expected.abs().max().item() if expected.numel() else 0.0
        torch.testing.assert_close(got, expected, rtol=FORWARD_RTOL, atol=atol, msg=str(what))


def test_sinabs_decay_factors_were_correctly_rounded():
    # the premise of decay_factors_as_sinabs, from the file itself: the trainable decay
    # factors sinabs stored are the correctly rounded exp(-1/τ)
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
    exact = decay_factors_as_sinabs(case)

    # constructor: the trainable parameters and their initial values
    initial = case["initial_params"]
    assert set(got["params_at_construction"]) == set(initial)
    for name, value in initial.items():
        what = ("initial_params", name)
        assert_forward_equal(got["params_at_construction"][name], value, exact, what)

    # forward values: bitwise where the decay factors are sinabs's
    for key in ("warmup_output", "output"):
        if key in case:
            assert got[key].dtype == torch.float32, key
            assert_forward_equal(plain(got[key]), case[key], exact, key)
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
            assert_forward_equal(plain(g), v, exact, (group, k))

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
            rtol = GRAD_RTOL if exact else GRAD_RTOL_OTHER_DECAY
            allowed = rtol * v.double().abs() + atol + own_error
            assert bool((diff <= allowed).all()), (k, diff.max().item())
