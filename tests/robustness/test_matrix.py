"""The bad-input matrix of docs/reliability.md, on every backend that accepts the call.

Each row gives a sound result or a TypeError/ValueError naming the argument; after an
error the layer's states are unchanged and it goes on exactly like a twin that never
saw the bad input. (The rows on non-tensor inputs, integer and bool dtypes, the number of
dimensions, devices, time constants and Squeeze splits are in test_bad_input.py.)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.layers.alif import ALIFSqueeze

T = 5
N = 6
BACKENDS = ["reference", "cpu"] + (["triton"] if torch.cuda.is_available() else [])


def roll() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(N, N, bias=False))


#: name -> (factory taking the backend, whether the fused backends run it)
LAYERS: dict[str, tuple[Callable[[str], nn.Module], bool]] = {
    "IAF": (lambda b: sl.IAF(tau_syn=5.0, backend=b), True),
    "LIF": (lambda b: sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0, backend=b), True),
    "LIF-single-reset": (
        lambda b: sl.LIF(
            tau_mem=10.0, spike_fn=sa.SingleSpike, reset_fn=sa.MembraneReset(), backend=b
        ),
        True,
    ),
    "LIF-maxspike": (lambda b: sl.LIF(tau_mem=10.0, spike_fn=sa.MaxSpike(2), backend=b), True),
    "ExpLeak": (lambda b: sl.ExpLeak(tau_mem=10.0, backend=b), True),
    "ALIF": (lambda b: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, backend=b), True),
    "LIFSqueeze": (lambda b: sl.LIFSqueeze(batch_size=3, tau_mem=10.0, backend=b), True),
    "ALIFSqueeze": (
        lambda b: ALIFSqueeze(num_timesteps=T, tau_mem=10.0, tau_adapt=20.0, backend=b),
        True,
    ),
    "IAFRecurrent": (lambda b: sl.IAFRecurrent(rec_connect=roll(), backend=b), False),
    "LIFRecurrent": (lambda b: sl.LIFRecurrent(tau_mem=10.0, rec_connect=roll(), backend=b), False),
    # the point-neuron models, on the fused kernels too (their recurrent variants with a
    # feedback that is not one nn.Linear on the reference)
    "Izhikevich": (lambda b: sl.Izhikevich.from_preset("FS", backend=b), True),
    "IzhikevichSqueeze": (
        lambda b: sl.IzhikevichSqueeze(batch_size=3, a=0.02, b=0.2, c=-65.0, d=8.0, backend=b),
        True,
    ),
    "AdEx": (lambda b: sl.AdEx(backend=b), True),
    "AdExRecurrent": (lambda b: sl.AdExRecurrent(rec_connect=roll(), backend=b), False),
    # resonate-and-fire, both forms
    "ResonateAndFire": (lambda b: sl.ResonateAndFire(omega=10.0, dt=0.1, backend=b), True),
    "ResonateAndFire-balanced": (
        lambda b: sl.ResonateAndFire(omega=5.0, dt=0.1, balanced=True, backend=b),
        True,
    ),
}
CASES = [
    pytest.param(name, backend, id=f"{name}-{backend}")
    for name, (_, fused) in LAYERS.items()
    for backend in BACKENDS
    if backend == "reference" or fused
]


def build(name: str, backend: str) -> nn.Module:
    torch.manual_seed(0)  # the recurrent weights
    return LAYERS[name][0](backend)


def is_squeeze(layer: nn.Module) -> bool:
    return isinstance(layer, sl.SqueezeMixin)


def sequence(seed: int, batch: int = 3, steps: int = T, neurons: tuple[int, ...] = (N,)):
    """Input (B, T, *neurons) with spikes and sub-threshold steps."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, steps, *neurons, generator=g) * 1.5 - 0.2


def call(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Feeds ``x`` (B, T, ...) in the layer's own layout; returns (B, T, ...)."""
    if is_squeeze(layer):
        return layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
    return layer(x)


def states(layer: nn.Module) -> dict[str, torch.Tensor]:
    return {name: s.detach().clone() for name, s in layer.named_states()}


def assert_same_states(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]):
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name].shape == value.shape, name
        assert torch.equal(actual[name], value), name


def pair(name: str, backend: str) -> tuple[nn.Module, nn.Module]:
    """A layer and its twin after the same good call."""
    layer, twin = build(name, backend), build(name, backend)
    call(layer, sequence(1))
    call(twin, sequence(1))
    return layer, twin


def assert_goes_on_like(layer: nn.Module, twin: nn.Module) -> None:
    x = sequence(2)
    assert torch.equal(call(layer, x), call(twin, x))
    assert_same_states(states(layer), states(twin))


# ---- NaN and inf in the input -------------------------------------------------------------


@pytest.mark.parametrize("poison", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(("name", "backend"), CASES)
def test_non_finite_input_is_visible_and_stays_in_its_row(
    name: str, backend: str, poison: float
) -> None:
    """A non-finite input makes that neuron's output NaN (or ±inf for ExpLeak, whose
    output is the membrane), from its step on while its membrane stays non-finite; the
    other batch rows are bitwise what they are without it."""
    clean = sequence(3)
    bad = clean.clone()
    bad[1, 2, 4] = poison
    out_clean = call(build(name, backend), clean)
    out_bad = call(build(name, backend), bad)
    rows = [0, 2]
    assert torch.equal(out_bad[rows], out_clean[rows])
    assert torch.equal(out_bad[1, :2], out_clean[1, :2])  # before the poisoned step
    assert not torch.isfinite(out_bad[1, 2, 4])  # the poisoned step is visible
    if "Recurrent" not in name:  # other neurons of the row are independent
        others = [k for k in range(N) if k != 4]
        assert torch.equal(out_bad[1][..., others], out_clean[1][..., others])


def test_nan_membrane_spikes_nan_until_reset() -> None:
    x = torch.full((1, 4, 1), 0.6)
    x[0, 1, 0] = math.nan
    subtract = sl.IAF()(x)[0, :, 0]
    assert subtract[0] == 0 and subtract[1:].isnan().all()  # NaN for good: visible
    reset = sl.IAF(reset_fn=sa.MembraneReset())(x)[0, :, 0]
    # MembraneReset sets a neuron whose spike count is not 0 (NaN included) to the value
    assert reset[1].isnan() and torch.equal(reset[2:], torch.tensor([0.0, 1.0]))


# ---- empty batch and T = 0 -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(0, T), (3, 0)], ids=["empty-batch", "no-steps"])
@pytest.mark.parametrize(("name", "backend"), CASES)
def test_empty_call_leaves_the_states_and_the_next_call_works(
    name: str, backend: str, shape: tuple[int, int]
) -> None:
    if is_squeeze(build(name, backend)) and shape[1] == 0 and "ALIF" in name:
        shape = (0, T)  # num_timesteps is fixed: only an empty batch can be fed
    layer, twin = pair(name, backend)
    before = states(layer)
    x = torch.rand(*shape, N, requires_grad=True)
    out = call(layer, x)
    assert out.shape == x.shape and out.dtype == x.dtype
    out.sum().backward()  # in the graph, with an (empty) gradient
    assert x.grad is not None and x.grad.shape == x.shape
    assert_same_states(states(layer), before)
    assert_goes_on_like(layer, twin)


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_empty_call_on_a_fresh_layer(name: str, backend: str) -> None:
    layer, twin = build(name, backend), build(name, backend)
    layer.record_states = twin.record_states = True
    out = call(layer, torch.rand(0, T, N))
    assert out.shape == (0, T, N)
    assert not layer.is_state_initialised()
    assert all(r.numel() == 0 for r in layer.recordings.values())
    x = sequence(4)
    assert torch.equal(call(layer, x), call(twin, x))


# ---- memory layouts ---------------------------------------------------------------------


def layouts(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """``x`` (B, T, C, H, W) in other memory layouts with the same values."""
    b, t, c, h, w = x.shape
    return {
        "transposed": x.transpose(3, 4).contiguous().transpose(3, 4),
        "strided": torch.zeros(b, 2 * t, c, h, w).copy_(x.repeat_interleave(2, 1))[:, ::2],
        "channels_last": x.flatten(0, 1)
        .contiguous(memory_format=torch.channels_last)
        .unflatten(0, (b, t)),
    }


@pytest.mark.parametrize("layout", ["transposed", "strided", "channels_last"])
@pytest.mark.parametrize(("name", "backend"), [c for c in CASES if "Recurrent" not in c.id])
def test_memory_layout_does_not_change_the_result(name: str, backend: str, layout: str) -> None:
    x = sequence(5, neurons=(2, 3, 4))
    other = layouts(x)[layout]
    assert torch.equal(other, x) and not other.is_contiguous()
    layer, twin = build(name, backend), build(name, backend)
    layer.record_states = twin.record_states = True
    assert torch.equal(call(layer, other), call(twin, x))
    assert_same_states(states(layer), states(twin))
    for key, rec in twin.recordings.items():
        assert torch.equal(layer.recordings[key], rec), key


# ---- dtypes -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize(("name", "backend"), CASES)
def test_floating_dtypes(name: str, backend: str, dtype: torch.dtype) -> None:
    """float64 runs on every backend with the reference's bits, states in float64.
    float16 and bfloat16 run on every backend too (mixed precision): computed in float32
    from the input upcast, states float32, the output in the input's dtype, equal to the
    float32 reference fed the same rounded input."""
    x = sequence(6).to(dtype)
    layer = build(name, backend)
    if "Recurrent" in name and dtype == torch.float64:  # rec_connect computes in float32
        with pytest.raises(TypeError, match="rec_connect"):
            call(layer, x)
        assert not layer.is_state_initialised()
        layer.to(dtype)
    out = call(layer, x)
    assert out.dtype == dtype
    state_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    assert all(s.dtype == state_dtype for _, s in layer.named_states())
    oracle = build(name, "reference")
    if dtype == torch.float64:
        if "Recurrent" in name:
            oracle.to(dtype)
        expected = call(oracle, x)
    else:
        expected = call(oracle, x.float()).to(dtype)
    assert torch.equal(out, expected)
    assert bool(torch.isfinite(out).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize(("name", "backend"), CASES)
def test_half_precision_layers_compute_in_float32(
    name: str, backend: str, dtype: torch.dtype
) -> None:
    """A layer converted to half precision (``.to(dtype)``: parameters, states and a
    recurrent connection in half) still computes in float32: its states come back
    float32, and it gives the float32 layer with the same rounded parameters and states.
    (A recurrent connection computes in its own dtype: weights in eighths keep its sums
    exact in half precision, so that it gives the float32 connection's values.)"""
    layer, oracle = build(name, backend), build(name, "reference")
    if "Recurrent" in name:
        with torch.no_grad():
            for module in (layer, oracle):
                for weight in module.rec_connect.parameters():
                    weight.copy_((weight * 8).round() / 8)
    call(layer, sequence(1).to(dtype))
    call(oracle, sequence(1).to(dtype).float())
    layer.to(dtype)
    oracle.to(dtype).float()  # the same rounded parameters and states, in float32
    assert all(s.dtype == dtype for _, s in layer.named_states())
    x = sequence(7).to(dtype)
    out = call(layer, x)
    assert out.dtype == dtype
    assert all(s.dtype == torch.float32 for _, s in layer.named_states())
    assert torch.equal(out, call(oracle, x.float()).to(dtype))
    assert_same_states(states(layer), states(oracle))


# ---- shapes that change ------------------------------------------------------------------


@pytest.mark.parametrize(("name", "backend"), [c for c in CASES if "Recurrent" not in c.id])
def test_neuron_shape_changing_mid_sequence_starts_from_zero(name: str, backend: str) -> None:
    layer = build(name, backend)
    call(layer, sequence(7))
    x = sequence(8, neurons=(2, N))
    assert torch.equal(call(layer, x), call(build(name, backend), x))


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_loading_a_state_dict_of_another_shape(name: str, backend: str) -> None:
    fixed_batch = getattr(build(name, backend), "batch_size", -1)
    batch = fixed_batch if fixed_batch > 0 else 2
    source = build(name, backend)
    call(source, sequence(9, batch=batch))
    layer = build(name, backend)
    if "Recurrent" not in name:  # states of another neuron shape too
        call(layer, sequence(10, batch=3, neurons=(2, N)))
    layer.load_state_dict(source.state_dict())
    assert_same_states(states(layer), states(source))
    x = sequence(11, batch=batch)
    assert torch.equal(call(layer, x), call(source, x))
    assert call(layer, sequence(12, batch=3)).shape[0] == 3  # then the batch policy


# ---- thresholds and min_v_mem -------------------------------------------------------------

SPIKING: dict[str, Callable[..., nn.Module]] = {
    "IAF": lambda **kw: sl.IAF(**kw),
    "LIF": lambda **kw: sl.LIF(tau_mem=10.0, **kw),
    "ALIF": lambda **kw: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, **kw),
    "IAFSqueeze": lambda **kw: sl.IAFSqueeze(batch_size=2, **kw),
    "ALIFSqueeze": lambda **kw: ALIFSqueeze(batch_size=2, tau_mem=10.0, tau_adapt=20.0, **kw),
    "LIFRecurrent": lambda **kw: sl.LIFRecurrent(tau_mem=10.0, rec_connect=roll(), **kw),
    "ALIFRecurrent": lambda **kw: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=20.0, rec_connect=roll(), **kw
    ),
}
BAD_THRESHOLDS: dict[str, Any] = {
    "zero": 0.0,
    "negative": -1.0,
    "nan": math.nan,
    "inf": math.inf,
    "int-zero": 0,
    "tensor-one-zero": torch.tensor([1.0, 0.0, 2.0]),
    "tensor-one-nan": torch.tensor([1.0, math.nan]),
}


@pytest.mark.parametrize("bad", list(BAD_THRESHOLDS))
@pytest.mark.parametrize("name", list(SPIKING))
def test_invalid_threshold(name: str, bad: str) -> None:
    with pytest.raises(ValueError, match="spike_threshold must be positive and finite"):
        SPIKING[name](spike_threshold=BAD_THRESHOLDS[bad])


@pytest.mark.parametrize(
    ("min_v_mem", "threshold"),
    [(1.0, 1.0), (1.5, 1.0), (0.5, torch.tensor([1.0, 0.4])), (math.nan, 1.0), (-math.inf, 1.0)],
    ids=["equal", "above", "above-one-neuron", "nan", "-inf"],
)
@pytest.mark.parametrize("name", list(SPIKING))
def test_invalid_min_v_mem(name: str, min_v_mem: float, threshold: Any) -> None:
    with pytest.raises(ValueError, match="min_v_mem"):
        SPIKING[name](spike_threshold=threshold, min_v_mem=min_v_mem)


@pytest.mark.parametrize("name", list(SPIKING))
def test_valid_thresholds_and_bounds(name: str) -> None:
    SPIKING[name](spike_threshold=0.25, min_v_mem=0.0)
    SPIKING[name](spike_threshold=torch.tensor([0.5, 2.0]), min_v_mem=torch.tensor([-1.0, 1.0]))
    SPIKING[name](spike_threshold=2)  # an integer


def test_expleak_min_v_mem_has_no_threshold_to_respect() -> None:
    layer = sl.ExpLeak(tau_mem=10.0, min_v_mem=5.0)
    assert torch.equal(layer(torch.zeros(1, 2, 1)), torch.full((1, 2, 1), 5.0))


# ---- functions of the wrong type ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argument", "value"),
    [
        ("spike_fn", "MultiSpike"),
        ("spike_fn", sa.MembraneSubtract()),
        ("reset_fn", 1.0),
        ("reset_fn", "subtract"),
        ("surrogate_grad_fn", 0.5),
        ("surrogate_grad_fn", "SingleExponential"),
    ],
)
@pytest.mark.parametrize("name", list(SPIKING))
def test_function_of_the_wrong_type(name: str, argument: str, value: Any) -> None:
    with pytest.raises(TypeError, match=argument):
        SPIKING[name](**{argument: value})


# ---- per-neuron parameters that do not fit ----------------------------------------------------

MISFITS: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "LIF-tau_mem": (lambda: sl.LIF(tau_mem=torch.full((4,), 10.0)), "tau_mem"),
    "LIF-tau_syn": (lambda: sl.LIF(tau_mem=10.0, tau_syn=torch.full((N, 1), 5.0)), "tau_syn"),
    "LIF-threshold": (lambda: sl.LIF(tau_mem=10.0, spike_threshold=torch.ones(N + 1)), "spike"),
    "LIF-train-alphas": (
        lambda: sl.LIF(tau_mem=torch.full((2,), 10.0), train_alphas=True),
        "alpha_mem",
    ),
    "IAF-min_v_mem": (lambda: sl.IAF(min_v_mem=-torch.ones(2, N)), "min_v_mem"),
    "ExpLeak-tau_mem": (lambda: sl.ExpLeak(tau_mem=torch.full((3,), 10.0)), "tau_mem"),
    "ALIF-threshold": (
        lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, spike_threshold=torch.ones(4)),
        "spike_threshold",
    ),
    "ALIF-adapt_scale": (
        lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, adapt_scale=torch.ones(4)),
        "adapt_scale",
    ),
    "LIFSqueeze-tau_mem": (
        lambda: sl.LIFSqueeze(batch_size=3, tau_mem=torch.full((4,), 10.0)),
        "tau_mem",
    ),
}


@pytest.mark.parametrize("case", list(MISFITS))
def test_per_neuron_parameter_that_does_not_fit(case: str) -> None:
    build_layer, argument = MISFITS[case]
    layer = build_layer()
    with pytest.raises(ValueError, match=argument) as info:
        call(layer, sequence(13))
    assert f"({N},)" in str(info.value)  # the neuron shape it should fit
    assert not layer.is_state_initialised()


def test_per_neuron_parameter_checked_before_the_states_change() -> None:
    layer = sl.LIF(tau_mem=torch.full((N,), 10.0))
    call(layer, sequence(14))
    before = states(layer)
    with pytest.raises(ValueError, match="tau_mem"):
        call(layer, sequence(15, neurons=(N + 1,)))
    assert_same_states(states(layer), before)


# ---- misspelt keywords ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build_layer", "owner", "suggestion"),
    [
        (lambda: sl.LIF(threshold=1.0), "LIF", "spike_threshold"),
        (lambda: sl.LIF(tau_mem=10.0, tau_synapse=5.0), "LIF", "tau_syn"),
        (lambda: sl.IAF(min_v=-1.0), "IAF", "min_v_mem"),
        (lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, adapt=1.0), "ALIF", "adapt_scale"),
        (lambda: sl.ExpLeak(tau=10.0), "ExpLeak", "tau_mem"),
        (lambda: sl.LIFSqueeze(batch_size=2, tau_mem=10.0, record=True), "LIFSqueeze", "record"),
    ],
    ids=["LIF-threshold", "LIF-tau_synapse", "IAF-min_v", "ALIF-adapt", "ExpLeak-tau", "Squeeze"],
)
def test_misspelt_keyword_names_the_class_and_suggests(
    build_layer: Callable[[], nn.Module], owner: str, suggestion: str
) -> None:
    with pytest.raises(TypeError, match=rf"^{owner}\(\) got an unexpected keyword") as info:
        build_layer()
    assert "did you mean" in str(info.value) and f"'{suggestion}'" in str(info.value)
