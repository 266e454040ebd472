"""One test (or a few) per row of docs/differences.md, named by quirk number.

Each test pins what *we* do where it differs from sinabs 3.1.3, or, for rows marked
"kept", that the sinabs behaviour is still there.
"""

from __future__ import annotations

import copy
import math
import subprocess
import sys
import textwrap
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import (
    Heaviside,
    MaxSpike,
    MembraneReset,
    MultiSpike,
    PeriodicExponential,
    SingleExponential,
    SingleSpike,
)
from sinabs.layers.alif import ALIFSqueeze

T = 4  # time steps of the catalogue layers' inputs
N = 3  # neurons


class Roll(nn.Module):
    """Elementwise recurrent connection (no BLAS, so rows never depend on the batch size)."""

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return 0.5 * spikes.roll(1, dims=-1)


def linear_feedback(n: int = N) -> nn.Linear:
    g = torch.Generator().manual_seed(7)
    layer = nn.Linear(n, n)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(n, n, generator=g) * 0.6)
        layer.bias.copy_(torch.randn(n, generator=g) * 0.1)
    return layer


R = {"record_states": True}

#: one fresh layer per call; Squeeze layers know num_timesteps=T, so the batch can change
LAYERS: dict[str, Callable[[], nn.Module]] = {
    "IAF": lambda: sl.IAF(**R),
    "IAF-syn": lambda: sl.IAF(tau_syn=5.0, min_v_mem=-1.0, **R),
    "LIF": lambda: sl.LIF(tau_mem=10.0, **R),
    "LIF-syn": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0, **R),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0, min_v_mem=-0.5, **R),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, **R),
    "ALIF-syn": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, min_v_mem=-1.0, **R),
    "IAFRecurrent": lambda: sl.IAFRecurrent(rec_connect=Roll(), **R),
    "LIFRecurrent-syn": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=Roll(), tau_syn=5.0, **R),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=20.0, rec_connect=Roll(), **R
    ),
    "IAFSqueeze": lambda: sl.IAFSqueeze(num_timesteps=T, tau_syn=5.0, **R),
    "LIFSqueeze": lambda: sl.LIFSqueeze(num_timesteps=T, tau_mem=10.0, **R),
    "ExpLeakSqueeze": lambda: sl.ExpLeakSqueeze(num_timesteps=T, tau_mem=10.0, **R),
    "ALIFSqueeze": lambda: ALIFSqueeze(
        num_timesteps=T, tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, **R
    ),
}
LAYER_IDS = list(LAYERS)


def rand_input(batch: int, steps: int = T, n: int = N, seed: int = 0, scale: float = 2.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, steps, n, generator=g) * scale + 0.5


def feed(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Calls ``layer`` on ``x`` (B, T, ...) and returns (B, T, ...), for Squeeze layers too."""
    if isinstance(layer, sl.SqueezeMixin):
        return layer(x.flatten(0, 1)).reshape(x.shape)
    return layer(x)


def buffers(layer: nn.Module) -> dict[str, torch.Tensor]:
    return {name: b.detach().clone() for name, b in layer.named_states()}


def assert_identical(actual: torch.Tensor, expected: torch.Tensor, what: str = "") -> None:
    actual = actual.detach().as_subclass(torch.Tensor)
    expected = expected.detach().as_subclass(torch.Tensor)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    assert torch.equal(actual, expected), f"{what}: max diff {(actual - expected).abs().max()}"


# ---- Q1 ---------------------------------------------------------------------------------

Q1_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=5.0, adapt_scale=0.5, **R),
    "ALIF-syn-min": lambda: sl.ALIF(
        tau_mem=10.0, tau_adapt=5.0, tau_syn=4.0, min_v_mem=-0.3, norm_input=False, **R
    ),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(
        tau_mem=10.0, tau_adapt=5.0, rec_connect=linear_feedback(), **R
    ),
    "LIFRecurrent-syn": lambda: sl.LIFRecurrent(
        tau_mem=10.0, rec_connect=linear_feedback(), tau_syn=4.0, **R
    ),
    "IAFRecurrent-min": lambda: sl.IAFRecurrent(rec_connect=linear_feedback(), min_v_mem=-0.5, **R),
}


@pytest.mark.parametrize("name", list(Q1_LAYERS))
def test_q1_recordings_hold_post_step_values(name: str) -> None:
    """recordings[:, k] equal the states a fresh layer holds after running steps 0..k."""
    build = Q1_LAYERS[name]
    x = rand_input(2, steps=6, seed=1, scale=3.0)
    layer = build()
    layer(x)
    for k in range(x.shape[1]):
        prefix = build()
        prefix(x[:, : k + 1])
        states = buffers(prefix)
        assert set(layer.recordings) == set(states)
        for state_name, value in states.items():
            assert_identical(layer.recordings[state_name][:, k], value, f"{state_name} at step {k}")


def test_q1_lif_recurrent_recordings_match_manual_loop() -> None:
    fb = linear_feedback()
    layer = sl.LIFRecurrent(tau_mem=5.0, rec_connect=fb, record_states=True)
    x = rand_input(2, steps=6, seed=3, scale=3.0)
    layer(x)

    alpha = torch.exp(-1.0 / torch.tensor(5.0))
    v = torch.zeros(2, N)
    feedback = torch.zeros(2, N)
    expected = []
    with torch.no_grad():
        for t in range(x.shape[1]):
            v = alpha * v + (1 - alpha) * (x[:, t] + feedback)
            spikes = torch.where(v > 0, torch.trunc(v), torch.zeros_like(v))
            v = v - spikes
            expected.append(v.clone())
            feedback = fb(spikes)
    torch.testing.assert_close(layer.recordings["v_mem"].detach(), torch.stack(expected, 1))


def test_q1_alif_two_step_example() -> None:
    """neurons.md §8.3: input [2, 0]; recorded v_mem is [1, α_m] (sinabs: [α_m, α_m])."""
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, norm_input=False, record_states=True)
    out = layer(torch.tensor([[[2.0], [0.0]]]))
    a_m = math.exp(-1 / 10.0)
    a_ad = math.exp(-1 / 20.0)
    scale = 1.8
    rec = {k: v.detach().flatten() for k, v in layer.recordings.items()}
    torch.testing.assert_close(out.detach().flatten(), torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(rec["v_mem"], torch.tensor([1.0, a_m]))
    torch.testing.assert_close(rec["b"], torch.tensor([1 - a_ad, a_ad * (1 - a_ad)]))
    torch.testing.assert_close(
        rec["spike_threshold"],
        torch.tensor([1 + scale * (1 - a_ad), 1 + scale * a_ad * (1 - a_ad)]),
    )


# ---- Q2 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("norm_input", [True, False], ids=["norm", "no-norm"])
def test_q2_alif_writes_i_syn_back(norm_input: bool) -> None:
    def build() -> sl.ALIF:
        return sl.ALIF(
            tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, norm_input=norm_input, record_states=True
        )

    x = rand_input(2, steps=8, seed=4, scale=3.0)
    split = build()
    first = split(x[:, :3])
    assert torch.count_nonzero(split.i_syn) > 0
    assert_identical(split.i_syn, split.recordings["i_syn"][:, -1], "i_syn after the first call")
    second = split(x[:, 3:])

    whole = build()
    out = whole(x)
    assert_identical(torch.cat([first, second], 1), out, "output")
    for name, value in buffers(whole).items():
        assert_identical(getattr(split, name), value, name)


# ---- Q3 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("min_v_mem", [None, -0.5], ids=["no-min", "min"])
def test_q3_alif_without_adaptation_equals_lif(min_v_mem: float | None) -> None:
    kwargs = {
        "tau_mem": 8.0,
        "tau_syn": 4.0,
        "min_v_mem": min_v_mem,
        "norm_input": True,
        "spike_threshold": 0.7,
        "record_states": True,
    }
    alif = sl.ALIF(tau_adapt=3.0, adapt_scale=0.0, **kwargs)
    lif = sl.LIF(spike_fn=SingleSpike, **kwargs)
    x = rand_input(3, steps=10, seed=5, scale=20.0)
    for chunk in (x[:, :4], x[:, 4:]):  # two calls: the synapse carries over in both
        assert_identical(alif(chunk), lif(chunk), "spikes")
        for name in ("v_mem", "i_syn"):
            assert_identical(getattr(alif, name), getattr(lif, name), name)
            assert_identical(alif.recordings[name], lif.recordings[name], f"recording {name}")


# ---- Q4 (kept) --------------------------------------------------------------------------


def test_q4_alif_reset_subtracts_adaptive_threshold_and_keeps_b() -> None:
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, norm_input=False)
    out = layer(torch.tensor([[[2.0], [3.0]]]))
    a_m, a_ad, scale = math.exp(-0.1), math.exp(-0.05), 1.8
    b_0 = 1 - a_ad  # after the spike at t=0
    theta_1 = 1 + scale * b_0  # threshold used at t=1
    torch.testing.assert_close(out.detach().flatten(), torch.tensor([1.0, 1.0]))
    # v at t=1: a_m * (2 - 1) + 3, minus the adaptive threshold (not b0 = 1)
    torch.testing.assert_close(layer.v_mem.detach().flatten(), torch.tensor([a_m + 3 - theta_1]))
    # b decays and grows; a spike does not reset it
    b_1 = a_ad * b_0 + (1 - a_ad)
    torch.testing.assert_close(layer.b.detach().flatten(), torch.tensor([b_1]))
    torch.testing.assert_close(
        layer.spike_threshold.detach().flatten(), torch.tensor([1 + scale * b_1])
    )


# ---- Q5, Q11 ----------------------------------------------------------------------------


def test_q5_alif_param_dict_keeps_norm_input() -> None:
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, norm_input=False)
    assert layer._param_dict["norm_input"] is False
    rebuilt = type(layer)(**layer._param_dict)
    assert rebuilt.norm_input is False
    assert copy.deepcopy(layer).norm_input is False


@pytest.mark.parametrize("cls", [sl.LIFRecurrent, sl.ALIFRecurrent], ids=lambda c: c.__name__)
def test_q5_recurrent_param_dict_has_rec_connect(cls: type) -> None:
    rec = linear_feedback()
    extra = {"tau_adapt": 20.0} if cls is sl.ALIFRecurrent else {}
    layer = cls(tau_mem=10.0, rec_connect=rec, **extra)
    assert layer._param_dict["rec_connect"] is rec
    assert layer.arg_dict["rec_connect"] is rec


@pytest.mark.parametrize("name", LAYER_IDS)
@pytest.mark.parametrize("used", [False, True], ids=["fresh", "after-forward"])
def test_q5_param_dict_rebuilds_every_layer(name: str, used: bool) -> None:
    layer = LAYERS[name]()
    x = rand_input(2, seed=6)
    if used:
        feed(layer, x)
    assert set(layer.arg_dict) == set(layer._param_dict)
    rebuilt = type(layer)(**layer._param_dict)
    assert type(rebuilt) is type(layer)
    assert set(rebuilt._param_dict) == set(layer._param_dict)
    # The rebuilt layer starts from rest and behaves like a fresh one.
    assert_identical(feed(rebuilt, x), feed(LAYERS[name](), x), "output of the rebuilt layer")


def test_q5_iaf_param_dict_builds_iaf_squeeze() -> None:
    iaf = sl.IAF(spike_threshold=2.0, tau_syn=3.0, min_v_mem=-1.0, spike_fn=SingleSpike)
    iaf(rand_input(2, seed=7))
    squeeze = sl.IAFSqueeze(**iaf._param_dict, batch_size=18)
    assert squeeze.batch_size == 18
    assert torch.equal(squeeze.spike_threshold, iaf.spike_threshold)
    assert torch.equal(squeeze.min_v_mem, iaf.min_v_mem)
    assert torch.equal(squeeze.tau_syn, iaf.tau_syn)
    assert squeeze.spike_fn is SingleSpike
    out = squeeze(torch.rand(18 * 5, N))
    assert out.shape == (18 * 5, N)


@pytest.mark.parametrize("tau_syn", [None, 5.0], ids=["no-syn", "syn"])
def test_q5_alif_train_alphas_stay_trainable(tau_syn: float | None) -> None:
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=tau_syn, train_alphas=True)
    repr(layer)
    layer._param_dict  # noqa: B018 - the access itself used to detach in place
    layer.arg_dict  # noqa: B018
    clone = copy.deepcopy(layer)
    for name, p in layer.named_parameters():
        if name.startswith("alpha"):
            assert p.requires_grad, name
            assert getattr(clone, name).requires_grad, name
    layer(rand_input(2, seed=8, scale=5.0)).sum().backward()
    assert layer.alpha_mem.grad is not None


def test_q11_deepcopy_recurrent_with_linear_keeps_flags_and_mode() -> None:
    layer = sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear_feedback(), record_states=True)
    layer.eval()
    layer.tau_mem.requires_grad_(False)
    layer.spike_threshold.requires_grad_(True)
    layer(rand_input(2, seed=9))
    clone = copy.deepcopy(layer)
    assert not clone.training and not clone.rec_connect.training
    assert not clone.tau_mem.requires_grad
    assert clone.spike_threshold.requires_grad
    assert clone.rec_connect is not layer.rec_connect
    for (name, p), (name_c, p_c) in zip(
        layer.named_parameters(), clone.named_parameters(), strict=True
    ):
        assert name == name_c
        assert p_c is not p and p_c.data_ptr() != p.data_ptr()
        assert torch.equal(p_c, p)
    for name, b in layer.named_states():
        b_c = getattr(clone, name)
        assert torch.equal(b_c, b) and b_c.data_ptr() != b.data_ptr()
        assert b_c.grad_fn is None
    for name, rec in clone.recordings.items():
        assert rec.grad_fn is None, name
    x = rand_input(2, seed=10)
    assert_identical(clone(x), layer(x), "continuation")


# ---- Q6 ---------------------------------------------------------------------------------


def test_q6_alif_tau_syn_tensor_is_a_synapse() -> None:
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=torch.tensor([3.0, 6.0, 9.0]))
    assert "i_syn" in dict(layer.named_states())
    assert layer.tau_syn.shape == (3,)
    layer(rand_input(2, seed=11))
    assert layer.i_syn.shape == (2, N)


def test_q6_alif_tau_syn_zero_is_not_no_synapse() -> None:
    # `is not None`: 0 is a given (and invalid) time constant, not "no synapse".
    with pytest.raises(ValueError, match="tau_syn"):
        sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=0.0)


# ---- Q7 ---------------------------------------------------------------------------------


def test_q7_membrane_reset_only_spiking() -> None:
    layer = sl.IAF(reset_fn=MembraneReset(reset_value=0.3))
    out = layer(torch.tensor([[[1.5, 0.4], [0.0, 0.0]]]))
    # neuron 0 spiked and was set to 0.3; neuron 1 kept 0.4 (sinabs: 0.7, then 1.0 and a spike)
    torch.testing.assert_close(out.detach(), torch.tensor([[[1.0, 0.0], [0.0, 0.0]]]))
    torch.testing.assert_close(layer.v_mem.detach(), torch.tensor([[0.3, 0.4]]))


# ---- Q8, Q35 ----------------------------------------------------------------------------

DEFAULT_THRESHOLD: dict[str, tuple[Callable[[], nn.Module], str]] = {
    "IAF": (lambda: sl.IAF(), "spike_threshold"),
    "LIF": (lambda: sl.LIF(tau_mem=10.0), "spike_threshold"),
    "IAFSqueeze": (lambda: sl.IAFSqueeze(batch_size=2), "spike_threshold"),
    "LIFRecurrent": (lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=Roll()), "spike_threshold"),
    "ALIF": (lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0), "b0"),
}


@pytest.mark.parametrize("name", list(DEFAULT_THRESHOLD))
def test_q8_default_thresholds_are_not_shared(name: str) -> None:
    build, attr = DEFAULT_THRESHOLD[name]
    first, second = build(), build()
    t1, t2 = getattr(first, attr), getattr(second, attr)
    assert t1.untyped_storage().data_ptr() != t2.untyped_storage().data_ptr()
    with torch.no_grad():
        t1.mul_(3.0)
    assert float(t2) == 1.0
    assert float(getattr(build(), attr)) == 1.0


@pytest.mark.parametrize(
    ("build", "attr", "values"),
    [
        (lambda v: sl.LIF(tau_mem=v), "tau_mem", [20.0, 30.0, 40.0]),
        (lambda v: sl.LIF(tau_mem=10.0, tau_syn=v), "tau_syn", [20.0, 30.0, 40.0]),
        (lambda v: sl.ExpLeak(tau_mem=v), "tau_mem", [20.0, 30.0, 40.0]),
        (lambda v: sl.ALIF(tau_mem=v, tau_adapt=20.0), "tau_mem", [20.0, 30.0, 40.0]),
        (lambda v: sl.ALIF(tau_mem=10.0, tau_adapt=v), "tau_adapt", [20.0, 30.0, 40.0]),
        (lambda v: sl.IAF(spike_threshold=v), "spike_threshold", [1.0, 2.0, 3.0]),
        (lambda v: sl.IAF(min_v_mem=v), "min_v_mem", [-1.0, -2.0, -3.0]),
        (lambda v: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, spike_threshold=v), "b0", [1.0, 2.0, 3.0]),
    ],
    ids=[
        "LIF-tau_mem",
        "LIF-tau_syn",
        "ExpLeak-tau_mem",
        "ALIF-tau_mem",
        "ALIF-tau_adapt",
        "IAF-threshold",
        "IAF-min_v_mem",
        "ALIF-b0",
    ],
)
def test_q35_user_tensors_are_not_shared(build: Callable, attr: str, values: list[float]) -> None:
    user = torch.tensor(values)  # float32, which sinabs wrapped without a copy
    layer = build(user)
    param = getattr(layer, attr)
    assert param.untyped_storage().data_ptr() != user.untyped_storage().data_ptr()
    with torch.no_grad():
        param.mul_(2.0)
    assert torch.equal(user, torch.tensor(values))


# ---- Q9 ---------------------------------------------------------------------------------


@pytest.mark.parametrize("squeeze", [False, True], ids=["ExpLeak", "ExpLeakSqueeze"])
def test_q9_exp_leak_output_is_clamped_membrane(squeeze: bool) -> None:
    kwargs = {"tau_mem": 5.0, "min_v_mem": -0.2, "record_states": True}
    layer = sl.ExpLeakSqueeze(num_timesteps=6, **kwargs) if squeeze else sl.ExpLeak(**kwargs)
    x = rand_input(2, steps=6, seed=12, scale=3.0) - 2.0
    out = feed(layer, x)
    assert out.min() >= -0.2
    assert (out == -0.2).any()  # the clamp was active
    rec = layer.recordings["v_mem"].reshape(out.shape)
    assert_identical(out, rec, "output vs recorded v_mem")
    assert_identical(out[:, -1], layer.v_mem, "last output vs v_mem")


# ---- Q10 (kept) -------------------------------------------------------------------------


def test_q10_surrogate_width_conventions() -> None:
    theta = torch.tensor(2.0)
    # Heaviside.window is absolute: on from θ - 0.5 = 1.5 (relative would be 1.0)
    heaviside = Heaviside(window=0.5)
    assert float(heaviside(torch.tensor(1.2), theta)) == 0.0
    assert float(heaviside(torch.tensor(1.6), theta)) == pytest.approx(0.5)
    # SingleExponential.grad_width is relative: width θ * 0.5 = 1
    assert float(SingleExponential(grad_width=0.5)(theta, theta)) == pytest.approx(1.0)
    # PeriodicExponential.grad_width is absolute: exp(-|v - θ| / 0.5)
    periodic = PeriodicExponential(grad_width=0.5)
    assert float(periodic(torch.tensor(1.5), theta)) == pytest.approx(math.exp(-1.0))


# ---- Q24 --------------------------------------------------------------------------------


def test_q24_squeeze_mismatch_raises() -> None:
    layer = sl.IAFSqueeze(batch_size=2, num_timesteps=3)
    twin = sl.IAFSqueeze(batch_size=2, num_timesteps=3)
    good = torch.rand(6, N) * 3
    layer(good)
    twin(good)
    with pytest.raises(ValueError) as info:
        layer(torch.rand(12, N))  # divisible by 2, but T would be 6
    assert isinstance(info.value, RuntimeError)
    assert_identical(layer(good), twin(good), "after the error")


# ---- Q25, Q37 ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
@pytest.mark.parametrize(("old", "new"), [(3, 5), (3, 2), (2, 7)], ids=["3to5", "3to2", "2to7"])
def test_q25_q37_batch_change_repeats_rows(name: str, old: int, new: int) -> None:
    x1, x2 = rand_input(old, seed=13), rand_input(new, seed=14)
    rows = torch.arange(new) % old

    layer = LAYERS[name]()
    feed(layer, x1)
    rng = torch.get_rng_state()
    out = feed(layer, x2)
    assert torch.equal(torch.get_rng_state(), rng), "random numbers were drawn"

    # a layer whose first batch already had row i mod old in row i
    twin = LAYERS[name]()
    feed(twin, x1[rows])
    assert_identical(out, feed(twin, x2), "output after the batch change")
    for state_name, value in buffers(twin).items():
        assert_identical(getattr(layer, state_name), value, state_name)


# ---- Q26, Q27 ---------------------------------------------------------------------------

SPIKING: dict[str, Callable[[], nn.Module]] = {
    "IAF": lambda: sl.IAF(),
    "IAF-maxspike": lambda: sl.IAF(spike_fn=MaxSpike(2)),
    "LIF-single": lambda: sl.LIF(tau_mem=10.0, spike_fn=SingleSpike),
    "LIF-syn": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0),
    "ALIF-multi": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, spike_fn=MultiSpike),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=Roll()),
    "ALIFRecurrent": lambda: sl.ALIFRecurrent(tau_mem=10.0, tau_adapt=20.0, rec_connect=Roll()),
}


@pytest.mark.parametrize("name", list(SPIKING))
def test_q26_spikes_have_membrane_dtype(name: str) -> None:
    layer = SPIKING[name]()
    out = layer(rand_input(2, seed=15, scale=30.0).double())
    assert out.dtype == torch.float64
    assert layer.v_mem.dtype == torch.float64
    assert out.sum() > 0


@pytest.mark.parametrize("name", list(SPIKING))
def test_q27_no_negative_zero_spikes(name: str) -> None:
    layer = SPIKING[name]()
    out = layer(-rand_input(2, seed=16).abs() - 0.5)
    assert (out == 0).all()
    assert not torch.signbit(out).any()


# ---- Q28 --------------------------------------------------------------------------------


def test_q28_zero_grad_sets_grads_to_none() -> None:
    layer = sl.LIF(tau_mem=10.0, tau_syn=5.0)
    layer(rand_input(2, seed=17, scale=20.0)).sum().backward()
    assert layer.tau_mem.grad is not None
    v_mem = layer.v_mem.detach().clone()
    layer.zero_grad()
    assert layer.tau_mem.grad is None and layer.tau_syn.grad is None
    assert layer.v_mem.grad_fn is None and layer.i_syn.grad_fn is None
    assert torch.equal(layer.v_mem, v_mem)


def test_q28_zero_grad_set_to_none_false_zeroes() -> None:
    layer = sl.LIF(tau_mem=10.0)
    layer(rand_input(2, seed=18, scale=20.0)).sum().backward()
    layer.zero_grad(set_to_none=False)
    assert layer.tau_mem.grad is not None
    assert torch.equal(layer.tau_mem.grad, torch.zeros_like(layer.tau_mem))
    assert layer.v_mem.grad_fn is None


# ---- Q30 --------------------------------------------------------------------------------

_BLOCK_MATPLOTLIB = """
import sys
for name in ("matplotlib", "matplotlib.pyplot", "pylab"):
    sys.modules[name] = None  # makes `import matplotlib` raise ImportError
"""


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_q30_import_sinabs_without_matplotlib() -> None:
    result = _run_python(
        _BLOCK_MATPLOTLIB
        + """
import sinabs, sinabs.layers, sinabs.plotting
import torch
sinabs.layers.LIF(tau_mem=10.0)(torch.rand(1, 3, 2))
print("ok")
"""
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_q30_plotting_without_matplotlib_names_the_extra() -> None:
    result = _run_python(
        _BLOCK_MATPLOTLIB
        + """
import torch, sinabs.layers
from sinabs.plotting import plot_dynamics
try:
    plot_dynamics(sinabs.layers.LIF(tau_mem=10.0), torch.rand(1, 3, 1))
except ImportError as error:
    print(error)
else:
    print("no error")
"""
    )
    assert result.returncode == 0, result.stderr
    assert "sinabs[plot]" in result.stdout
    assert "pip install" in result.stdout


# ---- Q33 --------------------------------------------------------------------------------


def test_q33_repr_is_torch_style_with_children() -> None:
    layer = sl.LIFRecurrent(tau_mem=20.0, rec_connect=nn.Linear(N, N))
    text = repr(layer)
    assert text.startswith("LIFRecurrent(")
    assert "(rec_connect): Linear(in_features=3, out_features=3, bias=True)" in text
    assert "tau_mem=20" in text
    model = nn.Sequential(nn.Linear(2, 2), sl.IAFSqueeze(batch_size=4))
    assert "(1): IAFSqueeze(" in repr(model)
    assert "batch_size=4" in repr(model)


# ---- Q36 (kept) -------------------------------------------------------------------------


def test_q36_states_stay_in_graph_across_calls() -> None:
    layer = sl.LIF(tau_mem=10.0)
    x1 = rand_input(2, seed=19, scale=20.0).requires_grad_()
    layer(x1)
    assert layer.v_mem.grad_fn is not None
    out2 = layer(rand_input(2, seed=20, scale=20.0))
    out2.sum().backward()
    assert x1.grad is not None and x1.grad.abs().sum() > 0  # BPTT into the first call
    out3 = layer(rand_input(2, seed=21, scale=20.0))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        out3.sum().backward()


# ---- Q38 --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_q38_firing_rate_is_sum_over_numel(name: str) -> None:
    layer = LAYERS[name]()
    x = rand_input(2, seed=22, scale=3.0).requires_grad_()
    layer_input = x.flatten(0, 1) if isinstance(layer, sl.SqueezeMixin) else x
    out = layer(layer_input)
    expected = out.sum() / out.numel()
    if layer.does_spike:  # whole spike counts: the fused backends' sum is exact
        assert layer.firing_rate == expected
    else:  # the fused sum of continuous values rounds in another order
        torch.testing.assert_close(layer.firing_rate, expected, rtol=1e-6, atol=0.0)
    assert layer.firing_rate.grad_fn is not None
    (grad,) = torch.autograd.grad(layer.firing_rate, x, retain_graph=True)
    (expected_grad,) = torch.autograd.grad(expected, x)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-8)


# ---- Q43 --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", LAYER_IDS)
def test_q43_load_state_dict_into_fresh_layer(name: str) -> None:
    used = LAYERS[name]()
    feed(used, rand_input(2, seed=23))
    fresh = LAYERS[name]()
    fresh.load_state_dict(used.state_dict())
    for state_name, value in buffers(used).items():
        assert_identical(getattr(fresh, state_name), value, state_name)
    x = rand_input(2, seed=24)
    assert_identical(feed(fresh, x), feed(used, x), "continuation")


# ---- Q44, Q46, Q48 ----------------------------------------------------------------------


def test_q46_alif_constants_are_frozen_parameters() -> None:
    layer = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, adapt_scale=2.0, min_v_mem=-1.0)
    params = dict(layer.named_parameters())
    state = layer.state_dict()
    for name in ("b0", "adapt_scale", "min_v_mem"):
        assert isinstance(params[name], nn.Parameter), name
        assert not params[name].requires_grad, name
        assert name in state, name
    layer.to(torch.float64)
    for name in ("b0", "adapt_scale", "min_v_mem"):
        assert getattr(layer, name).dtype == torch.float64, name
    layer.to("meta")
    for name in ("b0", "adapt_scale", "min_v_mem"):
        assert getattr(layer, name).device.type == "meta", name


def test_q46_sinabs_alif_state_dict_loads() -> None:
    used = sl.ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=5.0, min_v_mem=-1.0, spike_threshold=2.0)
    used(rand_input(2, seed=25, scale=10.0))
    sinabs_keys = {"tau_mem", "tau_adapt", "tau_syn", "v_mem", "i_syn", "b", "spike_threshold"}
    old = {k: v for k, v in used.state_dict().items() if k in sinabs_keys}
    assert set(old) == sinabs_keys
    fresh = sl.ALIF(tau_mem=1.0, tau_adapt=1.0, tau_syn=1.0, min_v_mem=-1.0, spike_threshold=2.0)
    fresh.load_state_dict(old)  # strict
    assert float(fresh.b0) == 2.0 and float(fresh.adapt_scale) == pytest.approx(1.8)
    for key in sinabs_keys:
        assert torch.equal(getattr(fresh, key), getattr(used, key)), key


@pytest.mark.parametrize(
    ("build", "attr", "value"),
    [
        (lambda: sl.IAF(spike_threshold=50), "spike_threshold", 50.0),
        (lambda: sl.LIF(tau_mem=10, min_v_mem=-2), "min_v_mem", -2.0),
        (lambda: sl.LIF(tau_mem=10), "tau_mem", 10.0),
        (lambda: sl.ALIF(tau_mem=10, tau_adapt=20, spike_threshold=2), "b0", 2.0),
        (lambda: sl.ALIF(tau_mem=10, tau_adapt=20, adapt_scale=3), "adapt_scale", 3.0),
        (lambda: sl.ALIF(tau_mem=10, tau_adapt=20), "tau_adapt", 20.0),
    ],
    ids=["IAF-threshold", "LIF-min_v_mem", "LIF-tau", "ALIF-b0", "ALIF-adapt_scale", "ALIF-tau"],
)
def test_q48_integer_values_are_stored_as_floats(build: Callable, attr: str, value: float) -> None:
    layer = build()
    param = getattr(layer, attr)
    assert param.is_floating_point(), attr
    assert float(param.detach()) == value
    layer(torch.ones(1, 2, 3))


def test_q44_iaf_has_no_tau_mem_parameter() -> None:
    layer = sl.IAF(tau_syn=5.0, min_v_mem=-2)
    names = dict(layer.named_parameters())
    assert "tau_mem" not in names
    assert {"tau_syn", "min_v_mem", "spike_threshold"} <= set(layer.state_dict())


# ---- Q45 --------------------------------------------------------------------------------


def test_q45_rec_connect_with_buffers() -> None:
    rec = nn.Sequential(nn.Linear(N, N), nn.BatchNorm1d(N))
    layer = sl.LIFRecurrent(tau_mem=10.0, rec_connect=rec)
    layer(rand_input(3, seed=26))
    bn = rec[1]
    running = (bn.running_mean.clone(), bn.running_var.clone(), bn.num_batches_tracked.clone())
    assert layer.is_state_initialised()
    layer.reset_states(randomize=True)
    layer.zero_grad()
    layer.reset_states()
    for before, after in zip(
        running, (bn.running_mean, bn.running_var, bn.num_batches_tracked), strict=True
    ):
        assert torch.equal(before, after)
    assert torch.count_nonzero(layer.v_mem) == 0
    layer(rand_input(5, seed=27))  # batch size change
    assert layer.v_mem.shape == (5, N)
    assert bn.running_mean.shape == (N,)
    copy.deepcopy(layer)


# ---- recordings -------------------------------------------------------------------------

RECORDING_LAYERS: dict[str, Callable[[], nn.Module]] = {
    "LIF-syn": lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, **R),
    "ExpLeak": lambda: sl.ExpLeak(tau_mem=10.0, **R),
    "ALIF": lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, **R),
    "LIFRecurrent": lambda: sl.LIFRecurrent(tau_mem=10.0, rec_connect=linear_feedback(), **R),
}


@pytest.mark.parametrize("name", list(RECORDING_LAYERS))
def test_recordings_stay_in_graph_and_convert_to_numpy(name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layer = RECORDING_LAYERS[name]()
    layer(rand_input(2, seed=28, scale=5.0))
    v_mem = layer.recordings["v_mem"]
    assert isinstance(v_mem, sinabs.Recording) and isinstance(v_mem, torch.Tensor)
    assert v_mem.grad_fn is not None
    array = np.asarray(v_mem)
    assert isinstance(array, np.ndarray)
    np.testing.assert_array_equal(array, v_mem.detach().as_subclass(torch.Tensor).numpy())
    try:
        lines = plt.plot(v_mem.flatten())
        np.testing.assert_array_equal(lines[0].get_ydata(), array.flatten())
    finally:
        plt.close("all")
    v_mem.sum().backward()
    assert layer.tau_mem.grad is not None and layer.tau_mem.grad != 0


# ---- new states -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", ["IAF-syn", "LIF-syn", "ExpLeak", "ALIF-syn", "LIFRecurrent-syn"])
def test_new_states_take_the_input_dtype_at_least_float32(name: str, dtype: torch.dtype) -> None:
    # float64 states for a float64 input; float32 for float16 and bfloat16 (mixed
    # precision: the next row), whose output keeps the input's dtype
    layer = LAYERS[name]()
    out = layer(rand_input(2, seed=29).to(dtype))
    assert out.dtype == dtype
    state_dtype = torch.promote_types(dtype, torch.float32)
    for state_name, value in layer.named_states():
        assert value.dtype == state_dtype, state_name
    for rec_name, rec in layer.recordings.items():
        assert rec.dtype == state_dtype, rec_name


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", ["IAF-syn", "LIF-syn", "ExpLeak", "ALIF-syn", "LIFRecurrent-syn"])
def test_half_precision_inputs_compute_in_float32(name: str, dtype: torch.dtype) -> None:
    # sinabs integrates the membrane in the input's dtype; here the result is the
    # float32 layer's for the input converted to float32, cast back
    x = rand_input(2, seed=30).to(dtype)
    layer, oracle = LAYERS[name](), LAYERS[name]()
    assert torch.equal(layer(x), oracle(x.float()).to(dtype))
    for state_name, value in layer.named_states():
        assert torch.equal(value, getattr(oracle, state_name)), state_name
