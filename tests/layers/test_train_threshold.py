"""``train_threshold=True``: a spiking layer's threshold as a trainable parameter.

The threshold's gradient flows through the spike function, ∂s/∂θ = -g(v, θ) with g the
surrogate, and through the subtractive reset. Checks:

* **gradcheck** in float64 on the reference for IAF, LIF (with a synapse) and ALIF,
  scalar and per-neuron thresholds, SingleSpike and MultiSpike, subtractive and
  to-value resets. Spikes are step functions, so finite differences cannot see their
  surrogate: the layer runs with a spike function whose *value* is the smooth step S
  the surrogate is the derivative of, and whose *backward* is the real spike function's
  (``s - s.detach() + S``). gradcheck then holds exactly when every gradient the layer
  back-propagates (into the input and the threshold, through spikes, resets, synapse
  and leak) is the derivative of that smooth layer;
* exact values for one step, with real spikes;
* the default (False) and True give the same forward bits and the same gradients of
  everything but the threshold; the laws (time splitting, batch independence);
* backends: ``auto`` runs the CPU kernel while the threshold trains (spikes, states
  and recordings the reference's bits, gradients within 1e-5, float32 and float64,
  scalar and per-neuron thresholds), and a float64 gradcheck through it;
* every spiking layer class, ``repr``, ``state_dict``, copying, bad arguments.
"""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.layers.alif import ALIFRecurrent, ALIFSqueeze
from sinabs.layers.iaf import IAFRecurrent

F64 = torch.float64
B, T, N = 2, 6, 3


def primitive_atan(x: torch.Tensor) -> torch.Tensor:
    """S with S' = ATan(alpha=2): arctan(πx)/π, shifted to (0, 1) like spikes."""
    return torch.atan(math.pi * x) / math.pi + 0.5


class SmoothValue:
    """Spike function with the real ``inner`` backward and the smooth value S(v - θ).

    The threshold reaches S detached: its only analytic path into the spikes is the
    layer's own (the spike function's backward through ``train_threshold``).
    """

    required_states = ("v_mem",)

    def __init__(self, inner: Any, primitive: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.inner, self.primitive = inner, primitive

    def apply(self, v_mem: torch.Tensor, threshold: Any, surrogate: Any) -> torch.Tensor:
        spikes = self.inner.apply(v_mem, threshold, surrogate)
        smooth = self.primitive(v_mem.detach() - torch.as_tensor(threshold).detach())
        return spikes - spikes.detach() + smooth


def make_layer(kind: str, **kwargs: Any) -> nn.Module:
    if kind == "IAF":
        return sl.IAF(**kwargs)
    if kind == "LIF":
        return sl.LIF(tau_mem=4.0, tau_syn=3.0, **kwargs)
    # adapt_scale = 0: sinabs's spike functions give the adaptation b no gradient,
    # which no smooth forward reproduces (the one-step test below covers β ≠ 0)
    return sl.ALIF(tau_mem=4.0, tau_adapt=5.0, adapt_scale=0.0, **kwargs)


def threshold_name(layer: nn.Module) -> str:
    return "b0" if isinstance(layer, sl.ALIF) else "spike_threshold"


RESETS = {"subtract": sa.MembraneSubtract(), "to_value": sa.MembraneReset(-0.25)}
SPIKES = {"single": sa.SingleSpike, "multi": sa.MultiSpike}
THRESHOLDS = {"scalar": (), "per_neuron": (N,)}


def inputs(shape: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(B, T, N, generator=gen, dtype=F64) * 1.6 - 0.3).requires_grad_()
    theta = (torch.rand(shape, generator=gen, dtype=F64) * 0.6 + 0.7).requires_grad_()
    return x, theta


@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("spike", SPIKES)
@pytest.mark.parametrize("kind", ["IAF", "LIF", "ALIF"])
def test_gradcheck_reference(kind, spike, reset, threshold):
    spike_fn = SmoothValue(SPIKES[spike], primitive_atan)

    def run(x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layer = make_layer(
            kind,
            spike_fn=spike_fn,
            reset_fn=RESETS[reset],
            surrogate_grad_fn=sa.ATan(),
            train_threshold=True,
            record_states=True,
            backend="reference",
        ).double()
        out = torch.func.functional_call(layer, {threshold_name(layer): theta}, (x,))
        return (out, *layer.recordings.values())

    x, theta = inputs(THRESHOLDS[threshold])
    assert torch.autograd.gradcheck(run, (x, theta))


def test_gradcheck_detects_a_missing_threshold_path():
    # guard for the test above: without train_threshold the threshold misses -g, and
    # the same check fails
    spike_fn = SmoothValue(sa.SingleSpike, primitive_atan)

    def run(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        layer = sl.IAF(spike_fn=spike_fn, surrogate_grad_fn=sa.ATan(), backend="reference")
        return torch.func.functional_call(layer.double(), {"spike_threshold": theta}, (x,))

    x, theta = inputs(())
    assert not torch.autograd.gradcheck(run, (x, theta), raise_exception=False)


# ---------------------------------------------------------------- exact values, real spikes


@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("surrogate", [sa.SingleExponential(), sa.ATan(), sa.Triangle(0.7)])
@pytest.mark.parametrize("spike", SPIKES)
def test_one_step_threshold_gradient(spike, surrogate, backend):
    # from rest, one step: v = x. Loss Σ s: ∂/∂θ = -Σ g(x, θ) (the reset is not in it)
    x = torch.linspace(-0.5, 2.5, 13, dtype=F64).reshape(1, 1, 13)
    theta = torch.full((13,), 1.1, dtype=F64)
    layer = sl.IAF(
        spike_threshold=theta, spike_fn=SPIKES[spike], surrogate_grad_fn=surrogate,
        train_threshold=True, backend=backend,
    ).double()  # fmt: skip
    layer(x).sum().backward()
    expected = -surrogate(x.flatten(), theta)
    if backend == "reference":
        assert torch.equal(layer.spike_threshold.grad, expected)
    else:  # the kernel's exp (SingleExponential) may differ from torch's in the last bit
        torch.testing.assert_close(layer.spike_threshold.grad, expected, rtol=1e-15, atol=0.0)


def test_one_step_subtractive_reset_gradient():
    # loss Σ v after the reset, v = x - s θ: ∂/∂θ = -s - θ ∂s/∂θ = -s + θ g
    x = torch.linspace(-0.5, 2.5, 13, dtype=F64).reshape(1, 1, 13)
    layer = sl.IAF(
        spike_threshold=1.1, spike_fn=sa.MultiSpike, surrogate_grad_fn=sa.Sigmoid(4.0),
        train_threshold=True,
    ).double()  # fmt: skip
    spikes = layer(x)
    layer.v_mem.sum().backward()
    theta = layer.spike_threshold.detach()  # 1.1 rounded to float32, then float64
    g = sa.Sigmoid(4.0)(x.flatten(), theta)
    expected = (-spikes.flatten() + theta * g).sum()
    torch.testing.assert_close(layer.spike_threshold.grad, expected, rtol=1e-14, atol=1e-14)


def test_one_step_alif_with_adaptation():
    # ALIF from b ≠ 0: θ = b0 + β b; ∂s/∂b0 = -g(v, θ), with MembraneReset no reset path
    x = torch.linspace(-0.5, 3.0, 8, dtype=F64).reshape(1, 1, 8)
    layer = sl.ALIF(
        tau_mem=5.0, tau_adapt=8.0, adapt_scale=1.5, spike_threshold=0.9,
        reset_fn=sa.MembraneReset(), surrogate_grad_fn=sa.ATan(), norm_input=False,
        train_threshold=True,
    ).double()  # fmt: skip
    layer.init_state_with_shape((1, 8), dtype=F64)
    layer.b = torch.linspace(0.0, 0.7, 8, dtype=F64).reshape(1, 8)
    b = layer.b.clone()
    layer(x).sum().backward()
    v = x.flatten()  # from v = 0, without norm_input
    theta = layer.b0.detach() + layer.adapt_scale * b.flatten()  # float32 values, in float64
    expected = -sa.ATan()(v, theta).sum()
    torch.testing.assert_close(layer.b0.grad, expected, rtol=1e-14, atol=1e-14)


# ---------------------------------------------------------------- default unchanged


@pytest.mark.parametrize("kind", ["IAF", "LIF", "ALIF"])
def test_true_changes_only_the_threshold_gradient(kind):
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(B, 20, N, generator=gen) * 1.5
    results = []
    for train in (False, True):
        layer = make_layer(kind, train_threshold=train, record_states=True, backend="reference")
        if kind == "ALIF":
            layer.adapt_scale.data.fill_(1.8)
        xx = x.clone().requires_grad_()
        out = layer(xx)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        results.append((out, dict(layer.recordings), xx.grad, layer))
    (out0, rec0, g0, layer0), (out1, rec1, g1, layer1) = results
    assert torch.equal(out0, out1)
    assert all(torch.equal(rec0[k], rec1[k]) for k in rec0)
    assert torch.equal(g0, g1)
    name = threshold_name(layer0)
    assert not getattr(layer0, name).requires_grad
    assert getattr(layer0, name).grad is None
    assert getattr(layer1, name).grad is not None
    assert getattr(layer1, name).grad.abs().sum() > 0


def test_default_is_false_and_frozen():
    for layer in (sl.IAF(), sl.LIF(10.0), sl.ALIF(10.0, 20.0)):
        assert layer.train_threshold is False
        assert not getattr(layer, threshold_name(layer)).requires_grad
        assert "train_threshold" not in repr(layer)


# ---------------------------------------------------------------- laws


def test_time_splitting_gradients():
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(B, 12, N, generator=gen, dtype=F64) * 1.5).requires_grad_()
    grads = []
    for cuts in ([12], [5, 7]):
        layer = sl.LIF(
            tau_mem=6.0, spike_threshold=torch.tensor([0.8, 1.0, 1.2]),
            surrogate_grad_fn=sa.FastSigmoid(), train_threshold=True,
        ).double()  # fmt: skip
        outs = [layer(chunk) for chunk in x.split(cuts, dim=1)]
        loss = (torch.cat(outs, 1) * torch.linspace(-1, 1, x.numel(), dtype=F64).view_as(x)).sum()
        (gx, gth) = torch.autograd.grad(loss, (x, layer.spike_threshold))
        grads.append((torch.cat(outs, 1), gx, gth))
    (o1, gx1, gth1), (o2, gx2, gth2) = grads
    assert torch.equal(o1, o2)
    torch.testing.assert_close(gx1, gx2, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(gth1, gth2, rtol=1e-13, atol=1e-13)


def test_batch_rows_are_independent():
    # the batch's threshold gradient is the sum of each row's; input gradients per row
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(3, 10, N, generator=gen, dtype=F64) * 1.5

    def grads(xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        layer = sl.ALIF(
            tau_mem=6.0, tau_adapt=9.0, spike_threshold=torch.tensor([0.8, 1.0, 1.2]),
            surrogate_grad_fn=sa.Triangle(), train_threshold=True,
        ).double()  # fmt: skip
        xb = xb.clone().requires_grad_()
        (layer(xb) * torch.arange(1.0, N + 1, dtype=F64)).sum().backward()
        return xb.grad, layer.b0.grad

    gx, gth = grads(x)
    rows = [grads(x[i : i + 1]) for i in range(3)]
    torch.testing.assert_close(gx, torch.cat([r[0] for r in rows]), rtol=0, atol=0)
    torch.testing.assert_close(gth, sum(r[1] for r in rows), rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------- backends


def test_auto_runs_the_cpu_kernel_while_the_threshold_trains(spy_backend_choice):
    chosen = spy_backend_choice()
    layer = sl.LIF(10.0, train_threshold=True)
    x = torch.rand(2, 5, 4)
    layer(x).sum().backward()
    assert layer.spike_threshold.grad is not None
    with torch.no_grad():
        layer(x)
    layer.spike_threshold.requires_grad_(False)
    layer(x)
    # a spike function of its own still runs on the reference
    sl.LIF(10.0, train_threshold=True, spike_fn=SmoothValue(sa.SingleSpike, primitive_atan))(x)
    assert chosen == ["cpu", "cpu", "cpu", "reference"]
    assert sl.LIF(10.0)._dynamics_params(torch.float32).train_threshold is False


def fused_pair(kind: str, dtype: torch.dtype, **kwargs: Any) -> tuple[nn.Module, nn.Module]:
    """The same layer on the reference and on the CPU kernel (ALIF with β ≠ 0)."""

    def make(backend: str) -> nn.Module:
        if kind == "ALIF":
            layer = sl.ALIF(tau_mem=4.0, tau_adapt=5.0, adapt_scale=1.5, backend=backend, **kwargs)
        else:
            layer = make_layer(kind, backend=backend, **kwargs)
        return layer.to(dtype)

    return make("reference"), make("cpu")


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["f32", "f64"])
@pytest.mark.parametrize("threshold", THRESHOLDS)
@pytest.mark.parametrize("reset", RESETS)
@pytest.mark.parametrize("spike", SPIKES)
@pytest.mark.parametrize("kind", ["IAF", "LIF", "ALIF"])
def test_cpu_kernel_trains_the_threshold_as_the_reference(kind, spike, reset, threshold, dtype):
    gen = torch.Generator().manual_seed(3)
    theta = torch.rand(THRESHOLDS[threshold], generator=gen, dtype=F64) * 0.6 + 0.7
    drive = 4.0 if kind == "ALIF" else 1.0  # (ALIF normalises its input by 1 - α)
    x = ((torch.rand(B, 12, N, generator=gen, dtype=F64) * 1.6 - 0.3) * drive).to(dtype)
    layers = fused_pair(
        kind, dtype, spike_threshold=theta.to(dtype), spike_fn=SPIKES[spike],
        reset_fn=RESETS[reset], surrogate_grad_fn=sa.ATan(), train_threshold=True,
        record_states=True,
    )  # fmt: skip
    results = []
    for layer in layers:
        xl = x.clone().requires_grad_()
        out = layer(xl)
        recordings = [layer.recordings[name] for name in sorted(layer.recordings)]
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=dtype).reshape(out.shape)
        (w * out).sum().add(layer.v_mem.sum()).backward()
        grads = {"x": xl.grad, **{n: p.grad for n, p in layer.named_parameters()}}
        results.append(([out, layer.v_mem, *recordings], grads))
    (ref, ref_g), (got, got_g) = results
    assert int(ref[0].sum()) > 0
    for r, o in zip(ref, got, strict=True):
        assert torch.equal(r, o)
    assert ref_g[threshold_name(layers[0])] is not None
    assert ref_g.keys() == got_g.keys()
    for name, r in ref_g.items():
        o = got_g[name]
        if r is None:  # no path (ALIF's adapt_scale with MembraneReset)
            assert o is None or not o.any(), name
            continue
        torch.testing.assert_close(o, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))


@pytest.mark.parametrize("kind", ["IAF", "LIF", "ALIF"])
def test_gradcheck_float64_through_the_cpu_kernel(kind, spy_backend_choice):
    # Finite differences cannot see a surrogate: a triangle narrower than the distance
    # of every v to the threshold keeps it out (checked below: the spikes give x no
    # gradient), and gradcheck then covers the threshold's reset path with
    # train_threshold on (the backward's general code, the threshold row's sum of its
    # reset and spike-function parts) and every other gradient. The value of the
    # spike-function part: the test above and tests/dynamics/fused.
    chosen = spy_backend_choice()
    gen = torch.Generator().manual_seed(1)
    drive = 4.0 if kind == "ALIF" else 1.0
    x = ((torch.rand(1, 10, 4, generator=gen, dtype=F64) * 2.4 - 0.2) * drive).requires_grad_()
    theta = torch.tensor([0.61, 0.83, 1.07, 1.19], dtype=F64, requires_grad=True)
    ref, layer = fused_pair(
        kind, F64, spike_fn=sa.MultiSpike, surrogate_grad_fn=sa.Triangle(width=1e-3),
        train_threshold=True, record_states=True,
    )  # fmt: skip
    del ref
    name = threshold_name(layer)

    def run(x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, ...]:
        layer.reset_states()
        out = torch.func.functional_call(layer, {name: theta}, (x,))
        return (out, layer.v_mem, *(layer.recordings[k] for k in sorted(layer.recordings)))

    out = run(x, theta)[0]
    assert int(out.sum()) > 0  # the resets are part of it
    (g_x,) = torch.autograd.grad(out.sum(), x)
    assert not g_x.any()  # the surrogate is zero wherever v is
    assert torch.autograd.gradcheck(run, (x, theta))
    assert set(chosen) == {"cpu"}


# ---------------------------------------------------------------- every spiking layer

LAYERS: dict[str, Callable[..., nn.Module]] = {
    "IAF": lambda **k: sl.IAF(**k),
    "IAFRecurrent": lambda **k: IAFRecurrent(rec_connect=nn.Linear(N, N), **k),
    "IAFSqueeze": lambda **k: sl.IAFSqueeze(batch_size=B, **k),
    "LIF": lambda **k: sl.LIF(10.0, **k),
    "LIFRecurrent": lambda **k: sl.LIFRecurrent(10.0, nn.Linear(N, N), **k),
    "LIFSqueeze": lambda **k: sl.LIFSqueeze(batch_size=B, tau_mem=10.0, **k),
    "ALIF": lambda **k: sl.ALIF(10.0, 20.0, **k),
    "ALIFRecurrent": lambda **k: ALIFRecurrent(10.0, 20.0, nn.Linear(N, N), **k),
    "ALIFSqueeze": lambda **k: ALIFSqueeze(batch_size=B, tau_mem=10.0, tau_adapt=20.0, **k),
}


def feed(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return layer(x.flatten(0, 1)) if isinstance(layer, sl.SqueezeMixin) else layer(x)


@pytest.mark.parametrize(
    "threshold", [0.7, torch.tensor([0.6, 0.8, 1.0])], ids=["scalar", "per_neuron"]
)
@pytest.mark.parametrize("name", LAYERS)
def test_every_spiking_layer_trains_its_threshold(name, threshold):
    torch.manual_seed(0)
    layer = LAYERS[name](spike_threshold=threshold, train_threshold=True)
    param = getattr(layer, threshold_name(layer))
    assert isinstance(param, nn.Parameter) and param.requires_grad
    assert param.shape == torch.as_tensor(threshold).shape
    assert any(p is param for p in layer.parameters())
    before = param.detach().clone()
    optimizer = torch.optim.SGD([param], lr=0.1)
    x = torch.rand(B, 8, N) * 1.2
    feed(layer, x).sum().backward()
    assert param.grad is not None and param.grad.shape == param.shape
    assert torch.isfinite(param.grad).all() and param.grad.abs().sum() > 0
    optimizer.step()
    assert not torch.equal(param.detach(), before)
    assert layer.train_threshold is True
    assert "train_threshold=True" in repr(layer)
    assert layer._param_dict["train_threshold"] is True


@pytest.mark.parametrize("name", LAYERS)
def test_copies_keep_the_trainable_threshold(name):
    torch.manual_seed(0)
    layer = LAYERS[name](spike_threshold=torch.tensor([0.6, 0.8, 1.0]), train_threshold=True)
    feed(layer, torch.rand(B, 4, N))
    for clone in (copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
        param = getattr(clone, threshold_name(clone))
        assert clone.train_threshold is True
        assert isinstance(param, nn.Parameter) and param.requires_grad
        assert torch.equal(param, getattr(layer, threshold_name(layer)))
    rebuilt = type(layer)(**layer._param_dict)
    assert rebuilt.train_threshold is True


def test_state_dict_round_trip_between_modes():
    trained = sl.LIF(10.0, spike_threshold=torch.tensor([0.6, 0.8, 1.0]), train_threshold=True)
    with torch.no_grad():
        trained.spike_threshold.add_(0.05)
    frozen = sl.LIF(10.0, spike_threshold=torch.tensor([1.0, 1.0, 1.0]))
    frozen.load_state_dict(trained.state_dict())
    assert torch.equal(frozen.spike_threshold, trained.spike_threshold)
    assert not frozen.spike_threshold.requires_grad  # loading keeps each layer's mode
    assert "spike_threshold" in trained.state_dict()
    alif = ALIFSqueeze(batch_size=2, tau_mem=10.0, tau_adapt=20.0, train_threshold=True)
    assert "b0" in alif.state_dict()


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("value", ["yes", 1, None, torch.tensor(True)], ids=repr)
def test_train_threshold_must_be_bool(value):
    with pytest.raises(TypeError, match="train_threshold must be True or False"):
        sl.LIF(10.0, train_threshold=value)
    with pytest.raises(TypeError, match="train_threshold must be True or False"):
        sl.ALIF(10.0, 20.0, train_threshold=value)


def test_train_threshold_needs_spikes():
    with pytest.raises(ValueError, match="train_threshold=True needs a spike function"):
        sl.LIF(10.0, spike_fn=None, train_threshold=True)
    with pytest.raises(TypeError, match="train_threshold"):
        sl.ExpLeak(10.0, train_threshold=True)  # type: ignore[call-arg]


def test_invalid_threshold_still_rejected():
    with pytest.raises(ValueError, match="spike_threshold must be positive"):
        sl.IAF(spike_threshold=-1.0, train_threshold=True)


# ---------------------------------------------------------------- the functional API


@pytest.mark.parametrize("train", [False, True])
def test_functional_lif_trains_the_threshold_as_the_layer(train: bool) -> None:
    import sinabs.layers.functional as F

    torch.manual_seed(3)
    layer = sl.LIF(
        tau_mem=8.0, tau_syn=4.0, spike_threshold=0.7, train_threshold=train, backend="reference"
    )
    layer = layer.double()
    x = (torch.rand(B, T, N, dtype=F64) * 2).requires_grad_()
    out = layer(x)
    (out * torch.arange(1.0, N + 1, dtype=F64)).sum().backward()
    # (the layer's float32 0.7, converted by .double())
    threshold = layer.spike_threshold.detach().clone().requires_grad_()
    xf = x.detach().requires_grad_()
    state = {"v_mem": torch.zeros(B, N, dtype=F64), "i_syn": torch.zeros(B, N, dtype=F64)}
    got, new_state, _ = F.lif_forward(
        xf, layer._decay("mem").detach(), layer._decay("syn").detach(), state, threshold,
        layer.spike_fn, layer.reset_fn, layer.surrogate_grad_fn, None, layer.norm_input,
        train_threshold=train,
    )  # fmt: skip
    (got * torch.arange(1.0, N + 1, dtype=F64)).sum().backward()
    assert torch.equal(got, out) and torch.equal(new_state["v_mem"], layer.v_mem)
    torch.testing.assert_close(xf.grad, x.grad, rtol=1e-12, atol=1e-12)
    if train:
        assert threshold.grad is not None and threshold.grad != 0
        torch.testing.assert_close(threshold.grad, layer.spike_threshold.grad)
    else:
        # only the subtractive reset's path: not what train_threshold gives
        trained = sl.LIF(8.0, tau_syn=4.0, spike_threshold=0.7, train_threshold=True).double()
        (trained(x.detach()) * torch.arange(1.0, N + 1, dtype=F64)).sum().backward()
        assert threshold.grad is not None
        assert not torch.allclose(threshold.grad, trained.spike_threshold.grad)


def test_functional_alif_trains_b0_as_the_layer() -> None:
    import sinabs.layers.functional as F

    torch.manual_seed(4)
    layer = sl.ALIF(8.0, 20.0, train_threshold=True).double()
    x = torch.rand(B, T, N, dtype=F64) * 3
    layer(x).sum().backward()
    b0 = layer.b0.detach().clone().requires_grad_()
    state = {name: torch.zeros(B, N, dtype=F64) for name in ("v_mem", "b")}
    state["spike_threshold"] = torch.ones(B, N, dtype=F64)
    got, _, _ = F.alif_forward(
        x, layer._decay("mem").detach(), layer._decay("adapt").detach(), None,
        layer.adapt_scale, state, layer.spike_fn, layer.reset_fn, layer.surrogate_grad_fn,
        None, b0, layer.norm_input, train_threshold=True,
    )  # fmt: skip
    got.sum().backward()
    assert b0.grad is not None and b0.grad != 0
    torch.testing.assert_close(b0.grad, layer.b0.grad)
