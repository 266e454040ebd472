"""The same seed gives the same bits: run to run, for any thread count, under numpy 1.x and 2.x.

* Neuron layers on the reference and the fused CPU backend: outputs, final states,
  recordings and firing rates are bitwise the same for 1, 2 and 3 threads (elementwise
  operations; both backends sum the firing rate in a fixed order). The CPU kernel's
  gradients are bitwise the same too (it sums parameter gradients in float64 in a fixed
  order, and a shared parameter's per-neuron row is summed by ``sum_fixed_order``). The
  reference's gradients come from autograd, whose sums over the batch and the neurons
  torch splits between threads from 32768 elements on: they agree within float32
  rounding only.
* The random encoders (``Img2SpikeLayer``, ``Sig2SpikeLayer``), stochastic rounding
  (``NeuromorphicReLU``) and ``reset_states(randomize=True)`` draw from torch's global
  generator, whose CPU stream does not depend on the thread count.
* A fresh Python process computes the same digests as this one (run to run).
* ``normalize_weights`` gives the same weights (and so the same spike counts after
  conversion) whether ``np.percentile`` returns float64 (numpy 1.x) or the input's dtype
  (numpy 2).

Run as a script, this file prints the digests of :func:`digests` (for the subprocess).
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.dynamics.fused import cpu_kernel
from sinabs.utils import normalize_weights

THREADS = (1, 2, 3)

# B * T * N = 2.1M element-steps: the CPU kernel runs the forward on two threads and the
# backward on more (scan.c gives a thread at least 2^20 element-steps), and 33000 neurons
# exceed the 32768 elements from which torch splits a sum between threads
BIG = (2, 32, 33000)


class Shift(nn.Module):
    """An elementwise recurrent connection (no BLAS)."""

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return 0.3 * spikes.roll(1, dims=-1)


#: fresh layers by backend and number of neurons
LAYERS: dict[str, Callable[[str, int], nn.Module]] = {
    "LIF-syn": lambda b, n: sl.LIF(tau_mem=10.0, tau_syn=5.0, record_states=True, backend=b),
    "IAF-multi-min": lambda b, n: sl.IAF(min_v_mem=-1.0, record_states=True, backend=b),
    "ALIF": lambda b, n: sl.ALIF(tau_mem=10.0, tau_adapt=20.0, record_states=True, backend=b),
    "ExpLeak": lambda b, n: sl.ExpLeak(tau_mem=10.0, record_states=True, backend=b),
    # per-neuron time constants: no sum over the neurons in the backward
    "LIF-per-neuron": lambda b, n: sl.LIF(
        tau_mem=torch.linspace(5.0, 30.0, n), train_alphas=True, backend=b
    ),
    # recurrent layers run on the reference only. An nn.Linear connection is left out:
    # MKL's sgemm itself rounds differently for another thread count on Intel
    # processors (Linear(1024) at batch 64), unless MKL_CBWR=AUTO,STRICT
    "IAFRecurrent-elementwise": lambda b, n: sl.IAFRecurrent(
        rec_connect=Shift(), record_states=True, backend=b
    ),
}
BACKENDS = ["reference", "cpu"]


def cases() -> list:
    """(layer, backend) pairs: every layer on the reference, the fusable ones on "cpu"."""
    needs_kernel = pytest.mark.skipif(
        not cpu_kernel.available(),
        reason=f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}",
    )
    pairs = [pytest.param(name, "reference", id=f"{name}-reference") for name in LAYERS]
    pairs += [
        pytest.param(name, "cpu", id=f"{name}-cpu", marks=needs_kernel)
        for name in LAYERS
        if "Recurrent" not in name
    ]
    return pairs


@pytest.fixture
def restore_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def plain(t: torch.Tensor) -> torch.Tensor:
    return t.detach().as_subclass(torch.Tensor)


def run_layer(name: str, backend: str, shape: tuple[int, int, int]) -> dict[str, torch.Tensor]:
    """Output, states, recordings, firing rate and gradients of one seeded call."""
    torch.manual_seed(0)
    layer = LAYERS[name](backend, shape[-1])
    x = (torch.rand(shape) * 3 - 0.5).requires_grad_(True)
    out = layer(x)
    # a weighted loss: every output element gets another gradient
    weights = torch.rand(shape)
    loss = (out * weights).sum() + layer.firing_rate
    for rec in layer.recordings.values():
        loss = loss + (rec.as_subclass(torch.Tensor) * 0.5).sum()
    params = {n: p for n, p in layer.named_parameters() if p.requires_grad}
    grads = torch.autograd.grad(loss, [x, *params.values()])
    result = {"out": plain(out), "firing_rate": plain(layer.firing_rate)}
    result |= {f"state {k}": plain(v) for k, v in layer.named_buffers()}
    result |= {f"recording {k}": plain(v) for k, v in layer.recordings.items()}
    result |= {f"grad {k}": g for k, g in zip(["input", *params], grads, strict=True)}
    return result


@pytest.mark.parametrize(("name", "backend"), cases())
def test_thread_count_does_not_change_results(
    name: str, backend: str, restore_threads: None
) -> None:
    results = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        results.append(run_layer(name, backend, BIG))
    first = results[0]
    assert first["out"].abs().sum() > 0
    for other in results[1:]:
        assert other.keys() == first.keys()
        for key, value in first.items():
            if key.startswith("grad") and backend == "reference":
                # autograd's sums over batch and neurons: split between threads, so
                # equal within float32 rounding only (the kernel's are bitwise)
                torch.testing.assert_close(other[key], value, rtol=1e-5, atol=1e-6)
            else:
                assert torch.equal(other[key], value), key


@pytest.mark.parametrize(("name", "backend"), cases())
def test_same_seed_same_bits_run_to_run(name: str, backend: str) -> None:
    shape = (3, 12, 70)  # a partial last slot of the CPU kernel (70 = 64 + 6 lanes)
    first, second = run_layer(name, backend, shape), run_layer(name, backend, shape)
    for key, value in first.items():
        assert torch.equal(second[key], value), key


def test_shared_parameter_gradient_is_summed_in_a_fixed_order(restore_threads: None) -> None:
    from sinabs.dynamics.fused.config import sum_fixed_order

    g = torch.randn(1_000_003, generator=torch.Generator().manual_seed(0))
    sums = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        sums.append(sum_fixed_order(g))
    assert all(torch.equal(s, sums[0]) for s in sums)
    torch.testing.assert_close(sums[0].double(), g.double().sum(), rtol=1e-6, atol=1e-3)
    short = g[:1000]  # below 32768 elements: torch's own one-thread sum
    assert torch.equal(sum_fixed_order(short), short.sum())
    assert sum_fixed_order(g[: 1003 * 997].view(1003, 997)).shape == ()


# ---------------------------------------------------------------- random draws


def draws() -> dict[str, torch.Tensor]:
    """Everything in sinabs that draws random numbers, from one seed."""
    torch.manual_seed(1234)
    image = torch.rand(2, 24, 24) * 255
    signal = torch.rand(6, 40)
    out = {
        "Img2Spike": sl.Img2SpikeLayer(image_shape=None, tw=30, max_rate=500)(image),
        "Img2Spike-negative": sl.Img2SpikeLayer(image_shape=None, tw=30, negative_spikes=True)(
            image - 127.5
        ),
        "Sig2Spike": sl.Sig2SpikeLayer(channels_in=6, tw=4)(signal),
        "stochastic-rounding": sl.NeuromorphicReLU(stochastic_rounding=True)(
            torch.rand(50, 300) * 4
        ),
    }
    for name, make in (
        ("LIF-syn", lambda: sl.LIF(tau_mem=10.0, tau_syn=5.0)),
        ("ALIF", lambda: sl.ALIF(tau_mem=10.0, tau_adapt=20.0)),
    ):
        layer = make()
        layer(torch.zeros(4, 1, 500))
        layer.reset_states(randomize=True, value_ranges={"v_mem": (-1.0, 2.0)})
        out |= {f"{name} reset {k}": v.clone() for k, v in layer.named_buffers()}
        out[f"{name} after reset"] = layer(torch.rand(4, 10, 500)).detach()
    return out


def test_random_draws_repeat_with_the_seed_for_any_thread_count(restore_threads: None) -> None:
    results = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        results.append(draws())
    first = results[0]
    assert first["Img2Spike"].sum() > 0 and first["Sig2Spike"].sum() > 0
    for other in results[1:]:
        for key, value in first.items():
            assert torch.equal(other[key], value), key
    # and they are random: another seed gives other spikes
    torch.manual_seed(99)
    image = torch.rand(2, 24, 24) * 255
    assert not torch.equal(sl.Img2SpikeLayer(None, tw=30, max_rate=500)(image), first["Img2Spike"])


# ---------------------------------------------------------------- run to run


def digests() -> dict[str, str]:
    """sha256 of every result of :func:`draws` and of small layer runs (both backends)."""
    tensors = {f"draw {k}": v for k, v in draws().items()}
    for name in LAYERS:
        for backend in BACKENDS if cpu_kernel.available() else ["reference"]:
            if backend == "cpu" and "Recurrent" in name:
                continue
            for key, value in run_layer(name, backend, (3, 12, 70)).items():
                tensors[f"{name} {backend} {key}"] = value
    return {
        key: hashlib.sha256(plain(t).contiguous().numpy().tobytes()).hexdigest()
        for key, t in tensors.items()
    }


def test_a_fresh_process_computes_the_same_bits() -> None:
    here = digests()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    there = json.loads(done.stdout.strip().splitlines()[-1])
    assert there.keys() == here.keys()
    assert [key for key in here if here[key] != there[key]] == []


# ---------------------------------------------------------------- numpy 1.x and 2.x


def percentile_like(version: str) -> Callable[..., np.floating]:
    """``np.percentile`` with the result dtype of numpy ``version`` ("1" or "2")."""
    real = np.percentile

    def percentile(a: np.ndarray, q: float, **kwargs: object) -> np.floating:
        if version == "1":  # numpy 1.x: float64 arithmetic and result for float32 data
            return np.float64(real(np.asarray(a, dtype=np.float64), q, **kwargs))
        # numpy 2: the data's own dtype, float32 arithmetic for float32 data
        result = real(a, q, **kwargs)
        return np.asarray(result).astype(np.asarray(a).dtype)[()]

    return percentile


def ann() -> nn.Sequential:
    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 10), nn.ReLU())


@pytest.mark.parametrize("percentile", [99.0, 99.9, 100.0, 73.3])
def test_normalize_weights_does_not_depend_on_the_numpy_version(
    monkeypatch: pytest.MonkeyPatch, percentile: float
) -> None:
    data = torch.rand(300, 20, generator=torch.Generator().manual_seed(6)) * 3
    weights, seen = {}, []
    for version in ("1", "2"):
        like = percentile_like(version)

        def spy(a: np.ndarray, q: float, like=like, **kwargs: object) -> np.floating:
            seen.append(np.asarray(a).dtype)
            return like(a, q, **kwargs)

        monkeypatch.setattr(np, "percentile", spy)
        model = ann()
        normalize_weights(model, data, ["1", "3"], ["0", "2"], percentile=percentile)
        weights[version] = copy.deepcopy(model.state_dict())
    monkeypatch.undo()
    for key, value in weights["1"].items():
        assert torch.equal(weights["2"][key], value), key
    assert set(seen) == {np.dtype(np.float64)}  # float64 data: the dtype cannot matter


def test_converted_network_does_not_depend_on_the_numpy_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The symptom: another numpy gave another converted network (membrane potentials in
    the last bits, and with them, now and then, a spike)."""
    data = torch.rand(300, 20, generator=torch.Generator().manual_seed(6)) * 3
    runs = {}
    for version in ("1", "2"):
        monkeypatch.setattr(np, "percentile", percentile_like(version))
        model = ann()
        normalize_weights(model, data, ["1", "3"], ["0", "2"], percentile=99)
        net = sinabs.from_model(model, batch_size=len(data))
        with torch.no_grad():
            spikes = net(data.repeat_interleave(20, 0))  # 20 steps, batch-major rows
        states = [plain(m.v_mem) for m in net.spiking_model.modules() if hasattr(m, "v_mem")]
        runs[version] = (spikes, states)
    assert runs["1"][0].sum() > 0 and len(runs["1"][1]) == 2
    assert torch.equal(runs["1"][0], runs["2"][0])
    for a, b in zip(runs["1"][1], runs["2"][1], strict=True):
        assert torch.equal(a, b)


if __name__ == "__main__":  # the fresh process of test_a_fresh_process_computes_the_same_bits
    print(json.dumps(digests()))
