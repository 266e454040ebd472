"""Laws that every neuron layer obeys, checked with hypothesis.

* **Splitting time**: running T1 steps and then T2 steps with the carried state gives
  exactly (bit for bit) what one call over T1 + T2 steps gives: outputs, final states
  and recordings. The dynamics are a plain loop over time, so no tolerance is needed.
  Recurrent layers start every call with zero feedback (as sinabs does), so the
  feedback that would cross the call boundary is silenced in the one-call run.
* **Batch rows are independent**: perturbing one batch row never changes another row's
  outputs, states or recordings.
* **Causality**: changing the input from step k on never changes anything before k.

Every example builds fresh layers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import sinabs.layers as sl
from sinabs.activation import MaxSpike, MembraneReset, MultiSpike, SingleSpike
from sinabs.layers.alif import ALIFSqueeze

PROPERTY = settings(max_examples=25, deadline=None)


class Feedback(nn.Module):
    """A fixed ``nn.Linear`` recurrent connection whose output can be silenced.

    ``muted_calls`` holds call numbers (0 = the feedback computed from the spikes of
    step 0) whose output is replaced by zeros.
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1234 + n)
        self.linear = nn.Linear(n, n)
        with torch.no_grad():
            self.linear.weight.copy_(torch.randn(n, n, generator=g) * 0.7)
            self.linear.bias.copy_(torch.randn(n, generator=g) * 0.1)
        self.muted_calls: set[int] = set()
        self.calls = 0

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        out = self.linear(spikes)
        if self.calls in self.muted_calls:
            out = torch.zeros_like(out)
        self.calls += 1
        return out


@dataclass(frozen=True)
class Case:
    """A layer configuration. ``build(n_neurons, batch_size, num_timesteps)``."""

    id: str
    build: Callable[[int, int, int], nn.Module]
    kind: str = "plain"  # "plain", "recurrent", "squeeze-batch", "squeeze-time"


def plain(id_: str, factory: Callable[[], nn.Module]) -> Case:
    return Case(id_, lambda n, b, t: factory())


def recurrent(id_: str, factory: Callable[[nn.Module], nn.Module]) -> Case:
    return Case(id_, lambda n, b, t: factory(Feedback(n)), "recurrent")


def squeeze(id_: str, cls: type, by: str, **kwargs: object) -> Case:
    if by == "batch":
        return Case(id_, lambda n, b, t: cls(batch_size=b, **kwargs), "squeeze-batch")
    return Case(id_, lambda n, b, t: cls(num_timesteps=t, **kwargs), "squeeze-time")


R = {"record_states": True}

CASES = [
    plain("IAF", lambda: sl.IAF(**R)),
    plain("IAF-syn-min", lambda: sl.IAF(tau_syn=5.0, min_v_mem=-0.5, **R)),
    plain(
        "IAF-single-reset",
        lambda: sl.IAF(
            spike_fn=SingleSpike, reset_fn=MembraneReset(reset_value=0.2), spike_threshold=0.8, **R
        ),
    ),
    plain("IAF-maxspike-syn", lambda: sl.IAF(spike_fn=MaxSpike(2), tau_syn=3.0, **R)),
    plain("LIF", lambda: sl.LIF(tau_mem=10.0, **R)),
    plain("LIF-syn-min", lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0, min_v_mem=-1.0, **R)),
    plain(
        "LIF-nonorm-single",
        lambda: sl.LIF(tau_mem=5.0, norm_input=False, spike_fn=SingleSpike, **R),
    ),
    plain("LIF-train-alphas-syn", lambda: sl.LIF(tau_mem=8.0, tau_syn=4.0, train_alphas=True, **R)),
    plain("ExpLeak", lambda: sl.ExpLeak(tau_mem=6.0, **R)),
    plain(
        "ExpLeak-norm-min", lambda: sl.ExpLeak(tau_mem=6.0, norm_input=True, min_v_mem=-0.3, **R)
    ),
    plain("ALIF", lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, **R)),
    plain(
        "ALIF-syn-min",
        lambda: sl.ALIF(tau_mem=10.0, tau_adapt=5.0, tau_syn=4.0, min_v_mem=-0.5, **R),
    ),
    plain(
        "ALIF-nonorm-multi",
        lambda: sl.ALIF(
            tau_mem=10.0, tau_adapt=5.0, norm_input=False, spike_fn=MultiSpike, adapt_scale=0.5, **R
        ),
    ),
    plain(
        "ALIF-train-alphas", lambda: sl.ALIF(tau_mem=10.0, tau_adapt=5.0, train_alphas=True, **R)
    ),
    recurrent("IAFRecurrent", lambda rc: sl.IAFRecurrent(rec_connect=rc, **R)),
    recurrent(
        "IAFRecurrent-syn-min",
        lambda rc: sl.IAFRecurrent(rec_connect=rc, tau_syn=4.0, min_v_mem=-0.5, **R),
    ),
    recurrent("LIFRecurrent", lambda rc: sl.LIFRecurrent(tau_mem=8.0, rec_connect=rc, **R)),
    recurrent(
        "LIFRecurrent-syn-single",
        lambda rc: sl.LIFRecurrent(
            tau_mem=8.0, rec_connect=rc, tau_syn=3.0, spike_fn=SingleSpike, norm_input=False, **R
        ),
    ),
    recurrent(
        "ALIFRecurrent",
        lambda rc: sl.ALIFRecurrent(tau_mem=8.0, tau_adapt=6.0, rec_connect=rc, **R),
    ),
    recurrent(
        "ALIFRecurrent-syn-min",
        lambda rc: sl.ALIFRecurrent(
            tau_mem=8.0, tau_adapt=6.0, rec_connect=rc, tau_syn=3.0, min_v_mem=-0.2, **R
        ),
    ),
    squeeze("IAFSqueeze-batch", sl.IAFSqueeze, "batch", **R),
    squeeze("IAFSqueeze-time-syn-min", sl.IAFSqueeze, "time", tau_syn=4.0, min_v_mem=-0.5, **R),
    squeeze("LIFSqueeze-batch-syn", sl.LIFSqueeze, "batch", tau_mem=8.0, tau_syn=3.0, **R),
    squeeze("LIFSqueeze-time-min", sl.LIFSqueeze, "time", tau_mem=8.0, min_v_mem=-0.5, **R),
    squeeze(
        "ExpLeakSqueeze-batch-min", sl.ExpLeakSqueeze, "batch", tau_mem=4.0, min_v_mem=-0.1, **R
    ),
    squeeze("ExpLeakSqueeze-time", sl.ExpLeakSqueeze, "time", tau_mem=4.0, **R),
    squeeze(
        "ALIFSqueeze-batch-syn", ALIFSqueeze, "batch", tau_mem=8.0, tau_adapt=4.0, tau_syn=3.0, **R
    ),
    squeeze(
        "ALIFSqueeze-time-min", ALIFSqueeze, "time", tau_mem=8.0, tau_adapt=4.0, min_v_mem=-0.3, **R
    ),
]
# Splitting time needs the batch size fixed and T free.
SPLIT_CASES = [c for c in CASES if c.kind != "squeeze-time"]


# ---- helpers -------------------------------------------------------------------------


def make_input(shape: tuple[int, ...], seed: int, scale: float) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale + 0.4 * scale


def trailing_shape(case: Case, n: int, two_d: bool) -> tuple[int, ...]:
    # rec_connect is an nn.Linear over the last dimension: keep neurons 1-D there.
    return (n,) if case.kind == "recurrent" or not two_d else (2, n)


def run(case: Case, layer: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Calls ``layer`` on ``x`` (B, T, ...); returns output and recordings as (B, T, ...)."""
    batch, steps, *trail = x.shape
    if case.kind.startswith("squeeze"):
        out = layer(x.reshape(batch * steps, *trail))
    else:
        out = layer(x)
    out = out.reshape(batch, steps, *trail)
    recordings = {k: v.reshape(batch, steps, *trail) for k, v in layer.recordings.items()}
    return out, recordings


def states(layer: nn.Module) -> dict[str, torch.Tensor]:
    return {name: buf.detach().clone() for name, buf in layer.named_states()}


def assert_identical(actual: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    a, e = actual.detach().as_subclass(torch.Tensor), expected.detach().as_subclass(torch.Tensor)
    if not torch.equal(a, e):
        diff = (a - e).abs().max().item()
        raise AssertionError(f"{what} differs (max abs difference {diff})")


def assert_same_keys(a: dict, b: dict, what: str) -> None:
    assert set(a) == set(b), f"{what}: keys {sorted(a)} != {sorted(b)}"


batches = st.integers(1, 3)
steps = st.integers(1, 4)
neurons = st.integers(1, 3)
seeds = st.integers(0, 2**31 - 1)
scales = st.floats(0.1, 8.0)


# ---- splitting time ------------------------------------------------------------------


@pytest.mark.parametrize("case", SPLIT_CASES, ids=lambda c: c.id)
@PROPERTY
@given(batch=batches, t1=steps, t2=steps, n=neurons, two_d=st.booleans(), seed=seeds, scale=scales)
def test_two_calls_equal_one_call(
    case: Case, batch: int, t1: int, t2: int, n: int, two_d: bool, seed: int, scale: float
) -> None:
    trail = trailing_shape(case, n, two_d)
    x = make_input((batch, t1 + t2, *trail), seed, scale)

    split = case.build(n, batch, t1 + t2)
    out1, rec1 = run(case, split, x[:, :t1])
    out2, rec2 = run(case, split, x[:, t1:])

    whole = case.build(n, batch, t1 + t2)
    if case.kind == "recurrent":
        # The feedback from the spikes of step t1-1 would enter step t1; a new call
        # starts with zero feedback instead.
        whole.rec_connect.muted_calls = {t1 - 1}
    out, rec = run(case, whole, x)

    assert_identical(torch.cat([out1, out2], 1), out, "output")
    final_split, final_whole = states(split), states(whole)
    assert_same_keys(final_split, final_whole, "states")
    for name in final_whole:
        assert_identical(final_split[name], final_whole[name], f"final state {name}")
    assert_same_keys(rec1, rec, "recordings")
    assert_same_keys(rec2, rec, "recordings")
    for name in rec:
        assert_identical(torch.cat([rec1[name], rec2[name]], 1), rec[name], f"recording {name}")


# ---- batch rows are independent -------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@PROPERTY
@given(
    batch=st.integers(2, 3),
    t=steps,
    n=neurons,
    two_d=st.booleans(),
    seed=seeds,
    scale=scales,
    data=st.data(),
)
def test_batch_rows_are_independent(
    case: Case,
    batch: int,
    t: int,
    n: int,
    two_d: bool,
    seed: int,
    scale: float,
    data: st.DataObject,
) -> None:
    row = data.draw(st.integers(0, batch - 1), label="perturbed row")
    trail = trailing_shape(case, n, two_d)
    calls = [make_input((batch, t, *trail), seed + i, scale) for i in range(2)]
    perturbed = []
    for i, x in enumerate(calls):
        x = x.clone()
        x[row] = make_input((t, *trail), seed + 100 + i, 2 * scale)
        perturbed.append(x)

    reference = case.build(n, batch, t)
    changed = case.build(n, batch, t)
    keep = [b for b in range(batch) if b != row]
    for i, (x, y) in enumerate(zip(calls, perturbed, strict=True)):
        out_x, rec_x = run(case, reference, x)
        out_y, rec_y = run(case, changed, y)
        assert_identical(out_y[keep], out_x[keep], f"output of call {i}, other rows")
        assert_same_keys(rec_x, rec_y, "recordings")
        for name in rec_x:
            assert_identical(rec_y[name][keep], rec_x[name][keep], f"recording {name}, other rows")
        s_x, s_y = states(reference), states(changed)
        for name in s_x:
            assert_identical(s_y[name][keep], s_x[name][keep], f"state {name}, other rows")


# ---- causality --------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
@PROPERTY
@given(
    batch=batches,
    t=st.integers(2, 6),
    n=neurons,
    two_d=st.booleans(),
    seed=seeds,
    scale=scales,
    data=st.data(),
)
def test_outputs_are_causal(
    case: Case,
    batch: int,
    t: int,
    n: int,
    two_d: bool,
    seed: int,
    scale: float,
    data: st.DataObject,
) -> None:
    k = data.draw(st.integers(1, t - 1), label="first changed step")
    trail = trailing_shape(case, n, two_d)
    x = make_input((batch, t, *trail), seed, scale)
    y = x.clone()
    y[:, k:] = make_input((batch, t - k, *trail), seed + 1, 2 * scale)

    out_x, rec_x = run(case, case.build(n, batch, t), x)
    out_y, rec_y = run(case, case.build(n, batch, t), y)

    assert_identical(out_y[:, :k], out_x[:, :k], "output before the change")
    assert_same_keys(rec_x, rec_y, "recordings")
    for name in rec_x:
        assert_identical(
            rec_y[name][:, :k], rec_x[name][:, :k], f"recording {name} before the change"
        )
