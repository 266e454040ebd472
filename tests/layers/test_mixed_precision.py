"""Mixed precision: float16 and bfloat16 inputs computed in float32 (issue 16, item 5).

A half-precision input is upcast to float32 (exactly) before the dynamics run, on every
backend; states and recordings are float32, the output returns in the input's dtype
(:mod:`sinabs.dynamics.precision`). Checks, for IAF, LIF (with a synapse), ALIF
(with a synapse), ExpLeak and Izhikevich on the reference and the fused CPU kernel (and
Triton on a CUDA device):

* (a) the output equals the float32 layer fed the same rounded input, cast to the input's
  dtype (spikes exactly: the same float32 computation), states and recordings float32;
* (b) under ``torch.autocast("cpu", dtype=torch.bfloat16)`` a Linear -> LIF -> Linear
  network takes a training step on the fused kernel, with finite loss and gradients,
  spikes equal to the float32 layer fed the same rounded Linear output;
* (c) the input gradient is the float32 layer's gradient cast to half precision;
* (d) the fused CPU kernel gives the reference's bits on half inputs (outputs, states,
  recordings) and its gradients within 1e-5;
* ``auto`` runs the CPU kernel on a bfloat16 input; the membrane integrates inputs too
  small for a bfloat16 membrane; recurrent connections in float32 or in the input's
  dtype; Squeeze layers, the functional API, empty calls and ``state_dict``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import sinabs.layers as sl
from sinabs.layers import functional as F

HALF = [torch.bfloat16, torch.float16]
B, T, N = 2, 12, 5
FUSED = ["cpu"] + (["triton"] if torch.cuda.is_available() else [])

#: name -> (factory taking the backend and record_states, input scale)
LAYERS: dict[str, tuple[Callable[[str, bool], nn.Module], float]] = {
    "IAF": (lambda b, r: sl.IAF(backend=b, record_states=r), 0.7),
    "LIF-syn": (lambda b, r: sl.LIF(10.0, tau_syn=5.0, backend=b, record_states=r), 1.5),
    "ALIF-syn": (
        lambda b, r: sl.ALIF(10.0, 20.0, tau_syn=5.0, backend=b, record_states=r),
        1.5,
    ),
    "ExpLeak": (lambda b, r: sl.ExpLeak(10.0, backend=b, record_states=r), 1.0),
    "Izhikevich": (
        lambda b, r: sl.Izhikevich.from_preset("FS", backend=b, record_states=r),
        30.0,
    ),
}


def build(name: str, backend: str, record: bool = True) -> nn.Module:
    return LAYERS[name][0](backend, record)


def device_of(backend: str) -> str:
    return "cuda" if backend == "triton" else "cpu"


def rand_input(name: str, dtype: torch.dtype, seed: int = 0, device: str = "cpu") -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, T, N, generator=g) - 0.1) * LAYERS[name][1]
    return x.to(dtype).to(device)


def upstream(shape: torch.Size, seed: int = 1, device: str = "cpu") -> torch.Tensor:
    """An output gradient exact in float16 and bfloat16 (multiples of 1/16 up to 1)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(-16, 17, tuple(shape), generator=g) / 16).to(device)


def states(layer: nn.Module) -> dict[str, torch.Tensor]:
    return {name: s.detach() for name, s in layer.named_states()}


# ---- (a) the output of the float32 computation, in the input's dtype ----------------------


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("backend", ["reference", *FUSED])
@pytest.mark.parametrize("name", list(LAYERS))
def test_half_input_gives_the_float32_result_in_its_dtype(
    name: str, backend: str, dtype: torch.dtype
) -> None:
    device = device_of(backend)
    x = rand_input(name, dtype, device=device)
    layer = build(name, backend).to(device)
    out = layer(x)
    assert out.dtype == dtype
    oracle = build(name, backend).to(device)
    expected = oracle(x.float())
    assert expected.dtype == torch.float32
    assert torch.equal(out, expected.to(dtype))
    if name != "ExpLeak":  # spike counts: exact in half precision
        assert torch.equal(out.float(), expected)
    assert int(expected.count_nonzero()) > 0
    for state_name, value in states(layer).items():
        assert value.dtype == torch.float32, state_name
        assert torch.equal(value, states(oracle)[state_name]), state_name
    assert layer.recordings.keys() == oracle.recordings.keys()
    for rec_name, rec in layer.recordings.items():
        assert rec.dtype == torch.float32, rec_name
        assert torch.equal(rec, oracle.recordings[rec_name]), rec_name
    assert torch.equal(layer.firing_rate, oracle.firing_rate)


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_a_second_call_carries_float32_states(dtype: torch.dtype) -> None:
    layer, oracle = build("LIF-syn", "auto"), build("LIF-syn", "auto")
    for seed in (3, 4):
        x = rand_input("LIF-syn", dtype, seed)
        assert torch.equal(layer(x), oracle(x.float()).to(dtype))
    assert all(s.dtype == torch.float32 for s in states(layer).values())
    assert torch.equal(layer.v_mem, oracle.v_mem)


def test_small_inputs_are_integrated_that_a_bfloat16_membrane_would_swallow() -> None:
    # 2^-10 per step: a bfloat16 membrane (8-bit mantissa) stops growing at 0.25, where
    # 0.25 + 2^-10 rounds back to 0.25; in float32 it reaches the threshold at step 1024
    x = torch.full((1, 1100, 1), 2.0**-10, dtype=torch.bfloat16)
    for backend in ("reference", "cpu"):
        out = sl.IAF(backend=backend)(x)
        assert out.dtype == torch.bfloat16
        assert out.sum().item() == 1.0
        assert out[0, 1023, 0].item() == 1.0
    naive = torch.zeros((), dtype=torch.bfloat16)
    for _ in range(1100):  # what computing in the input's dtype would do
        naive = naive + x[0, 0, 0]
    assert naive.item() == 0.25


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_float64_states_compute_in_float64(dtype: torch.dtype) -> None:
    layer = sl.LIF(10.0, tau_syn=5.0).double()
    layer(torch.zeros(B, 1, N, dtype=torch.float64))
    x = rand_input("LIF-syn", dtype)
    out = layer(x)
    assert out.dtype == dtype
    assert layer.v_mem.dtype == torch.float64
    oracle = sl.LIF(10.0, tau_syn=5.0).double()
    oracle(torch.zeros(B, 1, N, dtype=torch.float64))
    assert torch.equal(out, oracle(x.double()).to(dtype))


# ---- (b) training a step under autocast ---------------------------------------------------


def test_autocast_bfloat16_training_step_on_the_cpu_kernel(spy_backend_choice) -> None:
    chosen = spy_backend_choice()
    torch.manual_seed(0)
    lin1, lif, lin2 = nn.Linear(8, N), sl.LIF(10.0, tau_syn=5.0), nn.Linear(N, 3)
    x = torch.rand(B, T, 8) * 3
    target = torch.randint(0, 3, (B,))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        h = lin1(x)
        h.retain_grad()
        spikes = lif(h)
        logits = lin2(spikes).sum(1)
    assert chosen == ["cpu"]
    assert h.dtype == torch.bfloat16 and spikes.dtype == torch.bfloat16
    assert lif.v_mem.dtype == torch.float32 and lif.i_syn.dtype == torch.float32
    loss = nn.functional.cross_entropy(logits.float(), target)
    loss.backward()
    assert bool(torch.isfinite(loss))
    assert h.grad is not None and h.grad.dtype == torch.bfloat16  # autograd: h's dtype
    for module in (lin1, lif, lin2):
        for pname, param in module.named_parameters():
            if param.requires_grad:
                assert param.grad is not None, pname
                assert param.grad.dtype == param.dtype, pname
                assert bool(torch.isfinite(param.grad).all()), pname
    assert bool(lin1.weight.grad.abs().sum() > 0)
    oracle = sl.LIF(10.0, tau_syn=5.0)
    assert torch.equal(spikes.float(), oracle(h.detach().float()))
    torch.optim.SGD([*lin1.parameters(), *lif.parameters(), *lin2.parameters()], lr=0.1).step()
    assert all(bool(torch.isfinite(p).all()) for p in lif.parameters())


# ---- (c) gradients: the float32 layer's, cast to the input's dtype ------------------------


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("backend", ["reference", *FUSED])
@pytest.mark.parametrize("name", list(LAYERS))
def test_input_gradient_is_the_float32_gradient_in_half(
    name: str, backend: str, dtype: torch.dtype
) -> None:
    device = device_of(backend)
    x = rand_input(name, dtype, device=device).requires_grad_()
    layer = build(name, backend, record=False).to(device)
    out = layer(x)
    grad_out = upstream(out.shape, device=device)
    out.backward(grad_out.to(dtype))
    assert x.grad is not None and x.grad.dtype == dtype
    x32 = x.detach().float().requires_grad_()
    oracle = build(name, backend, record=False).to(device)
    oracle(x32).backward(grad_out)
    assert x32.grad is not None
    # the same float32 computation: the gradient is the float32 one rounded once
    assert torch.equal(x.grad, x32.grad.to(dtype))
    tolerance = 2.0**-7 if dtype == torch.bfloat16 else 2.0**-10  # half an ulp, relative
    torch.testing.assert_close(x.grad.float(), x32.grad, rtol=tolerance, atol=1e-6)
    assert bool(x32.grad.abs().sum() > 0)
    for (pname, p), (_, q) in zip(layer.named_parameters(), oracle.named_parameters(), strict=True):
        if p.requires_grad:
            assert p.grad is not None and q.grad is not None, pname
            assert torch.equal(p.grad, q.grad), pname


# ---- (d) the fused kernel against the reference on half inputs --------------------------


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("backend", FUSED)
@pytest.mark.parametrize("name", list(LAYERS))
def test_fused_matches_the_reference_on_half_inputs(
    name: str, backend: str, dtype: torch.dtype
) -> None:
    device = device_of(backend)
    runs = {}
    for which in ("reference", backend):
        x = rand_input(name, dtype, seed=5, device=device).requires_grad_()
        layer = build(name, which).to(device)
        out = layer(x)
        out.backward(upstream(out.shape, device=device).to(dtype))
        grads = {n: p.grad for n, p in layer.named_parameters() if p.requires_grad}
        runs[which] = (out, states(layer), dict(layer.recordings), x.grad, grads)
    (out, st, rec, gx, gp), (f_out, f_st, f_rec, f_gx, f_gp) = runs["reference"], runs[backend]
    assert f_out.dtype == dtype and torch.equal(f_out, out)
    assert st.keys() == f_st.keys() and rec.keys() == f_rec.keys()
    for key in st:
        assert torch.equal(f_st[key], st[key]), key
    for key in rec:
        assert torch.equal(f_rec[key], rec[key]), key
    assert gx is not None and f_gx is not None and f_gx.dtype == dtype
    torch.testing.assert_close(f_gx.float(), gx.float(), rtol=1e-5, atol=1e-5)
    assert gp.keys() == f_gp.keys()
    for key, g in gp.items():
        assert g is not None and f_gp[key] is not None, key
        scale = float(g.abs().max())
        torch.testing.assert_close(f_gp[key], g, rtol=1e-5, atol=1e-5 * max(scale, 1e-30))


@pytest.mark.skipif(torch.cuda.is_available(), reason="runs where there is no CUDA device")
def test_triton_needs_a_cuda_device_for_half_inputs_too() -> None:
    # (the Triton checks above run on a CUDA device; here the layer says why it cannot)
    from sinabs.dynamics import BackendError

    with pytest.raises(BackendError, match="cuda"):
        sl.LIF(10.0, backend="triton")(torch.zeros(1, 2, 3, dtype=torch.bfloat16))


# ---- auto, recurrent, squeeze, functional, empty calls, state_dict ------------------------


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_auto_runs_the_cpu_kernel_on_half_inputs(dtype: torch.dtype, spy_backend_choice) -> None:
    chosen = spy_backend_choice()
    for name in LAYERS:
        build(name, "auto")(rand_input(name, dtype))
    assert chosen == ["cpu"] * len(LAYERS)


def _eighths(module: nn.Module) -> nn.Module:
    """Weights in eighths: the connection's sums of spike counts are exact in half."""
    with torch.no_grad():
        for weight in module.parameters():
            weight.copy_((weight * 8).round() / 8)
    return module


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_recurrent_connection_in_float32_or_in_the_input_dtype(dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    connect = _eighths(nn.Sequential(nn.Flatten(), nn.Linear(N, N, bias=False)))
    x = rand_input("LIF-syn", dtype)

    def make(rec: nn.Module) -> nn.Module:
        return sl.LIFRecurrent(10.0, rec_connect=rec, tau_syn=5.0, record_states=True)

    expected = make(connect)(x.float())
    in_float32 = make(connect)
    assert torch.equal(in_float32(x), expected.to(dtype))
    assert in_float32.v_mem.dtype == torch.float32
    # the connection in half precision (a model converted with .to(dtype)): it gets the
    # spikes in that dtype and computes there; exact here, so the same spikes
    seen: list[torch.dtype] = []
    half = nn.Sequential(nn.Flatten(), nn.Linear(N, N, bias=False)).to(dtype)
    with torch.no_grad():
        half[1].weight.copy_(connect[1].weight)
    half.register_forward_pre_hook(lambda _m, args: seen.append(args[0].dtype))
    in_half = make(half)
    assert torch.equal(in_half(x), expected.to(dtype))
    assert set(seen) == {dtype}
    assert in_half.v_mem.dtype == torch.float32
    # a connection in neither dtype (or mixed) is refused before any state changes
    mixed = nn.Sequential(nn.Linear(N, N), nn.Flatten()).to(dtype)
    mixed[0].bias.data = mixed[0].bias.data.double()
    for bad in (connect.double(), mixed):
        layer = make(bad)
        with pytest.raises(TypeError, match="rec_connect"):
            layer(x)
        assert not layer.is_state_initialised()


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_recurrent_float64_states_need_a_float64_connection(dtype: torch.dtype) -> None:
    connect = nn.Sequential(nn.Flatten(), nn.Linear(N, N, bias=False))
    layer = sl.IAFRecurrent(rec_connect=connect).double()
    layer(torch.zeros(B, 1, N, dtype=torch.float64))
    assert layer(rand_input("IAF", dtype)).dtype == dtype  # its connection is float64 too
    layer.rec_connect.to(dtype)  # the input's dtype: allowed
    assert layer(rand_input("IAF", dtype)).dtype == dtype
    layer.rec_connect.float()  # neither float64 nor the input's dtype
    with pytest.raises(TypeError, match=r"rec_connect's 1\.weight is torch\.float32"):
        layer(rand_input("IAF", dtype))


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_squeeze_layers(backend: str, dtype: torch.dtype) -> None:
    x = rand_input("LIF-syn", dtype)
    layer = sl.LIFSqueeze(batch_size=B, tau_mem=10.0, tau_syn=5.0, backend=backend)
    out = layer(x.flatten(0, 1))
    assert out.dtype == dtype and layer.v_mem.dtype == torch.float32
    expected = sl.LIF(10.0, tau_syn=5.0)(x.float()).flatten(0, 1)
    assert torch.equal(out, expected.to(dtype))


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_functional_api_computes_half_inputs_in_float32(dtype: torch.dtype) -> None:
    x = rand_input("LIF-syn", dtype)
    layer = sl.LIF(10.0, tau_syn=5.0, record_states=True)
    expected = layer(x.float())
    alpha_mem, alpha_syn = layer.alpha_mem_calculated, layer.alpha_syn_calculated
    args = (layer.spike_threshold, layer.spike_fn, layer.reset_fn, layer.surrogate_grad_fn)
    for state_dtype in (torch.float32, dtype):
        state = {
            "v_mem": torch.zeros(B, N, dtype=state_dtype),
            "i_syn": torch.zeros(B, N, dtype=state_dtype),
        }
        out, new_state, recordings = F.lif_forward(
            x, alpha_mem, alpha_syn, state, *args, None, layer.norm_input, record_states=True
        )
        assert out.dtype == dtype and torch.equal(out, expected.to(dtype))
        assert new_state["v_mem"].dtype == torch.float32
        assert torch.equal(new_state["v_mem"], layer.v_mem)
        assert torch.equal(recordings["v_mem"], layer.recordings["v_mem"])
        spikes, one = F.lif_forward_single(
            x[:, 0], alpha_mem, alpha_syn, state, *args, None, layer.norm_input
        )
        assert spikes.dtype == dtype and one["v_mem"].dtype == torch.float32
        assert torch.equal(spikes, expected[:, 0].to(dtype))


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_functional_alif_computes_half_inputs_in_float32(dtype: torch.dtype) -> None:
    x = rand_input("ALIF-syn", dtype)
    layer = sl.ALIF(10.0, 20.0, tau_syn=5.0)
    expected = layer(x.float())
    state = {name: torch.zeros(B, N, dtype=dtype) for name in ("v_mem", "i_syn", "b")}
    state["spike_threshold"] = torch.ones(B, N, dtype=dtype)
    out, new_state, _ = F.alif_forward(
        x, layer._decay("mem"), layer._decay("adapt"), layer._decay("syn"),
        layer.adapt_scale, state, layer.spike_fn, layer.reset_fn, layer.surrogate_grad_fn,
        None, layer.b0, layer.norm_input,
    )  # fmt: skip
    assert out.dtype == dtype and torch.equal(out, expected.to(dtype))
    assert all(v.dtype == torch.float32 for v in new_state.values())
    assert torch.equal(new_state["b"], layer.b)


@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("shape", [(0, T, N), (B, 0, N)], ids=["no-batch", "no-steps"])
def test_empty_calls(shape: tuple[int, ...], dtype: torch.dtype) -> None:
    layer = sl.LIF(10.0, tau_syn=5.0, record_states=True)
    out = layer(torch.zeros(shape, dtype=dtype))
    assert out.dtype == dtype and out.shape == shape
    assert all(r.dtype == torch.float32 for r in layer.recordings.values())


@pytest.mark.parametrize("dtype", HALF, ids=str)
def test_half_state_dict_loads_as_float32_states(dtype: torch.dtype) -> None:
    source = sl.LIF(10.0, tau_syn=5.0)
    source(rand_input("LIF-syn", dtype))
    saved = {
        k: (v.to(dtype) if k in ("v_mem", "i_syn") else v) for k, v in source.state_dict().items()
    }
    for layer in (sl.LIF(10.0, tau_syn=5.0), source):  # fresh, and with float32 states
        layer.load_state_dict(saved)
        assert layer.v_mem.dtype == torch.float32 and layer.i_syn.dtype == torch.float32
        assert torch.equal(layer.v_mem, saved["v_mem"].float())
