"""Long sequences: streaming inference in chunks, and truncated BPTT.

Streaming: a neuron layer keeps its states between calls, so feeding a sequence in
chunks (any sizes) gives the outputs and final states of one call on the whole
sequence: bit for bit on the fused CPU kernel and on the reference. Under
``torch.no_grad()`` the states carry no autograd graph, so memory stays flat however
many chunks are fed. Without ``no_grad`` the states keep their graph from call to call
(sinabs 3.x behaviour, DECISIONS.md Q36: back-propagation through time across calls is
a feature), so a stream run with gradients enabled must cut it: ``layer.detach_states()``
(or ``sinabs.zero_grad(model)``) after each chunk.

Truncated BPTT is that cut in a training loop; the pattern, for a model whose neuron
layers keep state::

    for x_chunk, y_chunk in zip(x.split(K, dim=1), y.split(K, dim=1)):
        optimizer.zero_grad()
        loss = loss_fn(model(x_chunk), y_chunk)
        loss.backward()
        optimizer.step()
        sinabs.zero_grad(model)  # detach every neuron state: the next chunk continues
                                 # from the states' values, gradients stop at the cut

Each chunk's gradient is then exactly the gradient of that chunk alone, run from the
detached states of the chunk before (checked below against a fresh model loaded with
those states).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator

import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.dynamics.fused import cpu_kernel

needs_kernel = pytest.mark.skipif(
    not cpu_kernel.available(),
    reason=f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}",
)

LAYERS: dict[str, Callable[[str], sl.StatefulLayer]] = {
    "LIF": lambda backend: sl.LIF(tau_mem=20.0, backend=backend),
    "LIF-syn": lambda backend: sl.LIF(tau_mem=20.0, tau_syn=5.0, backend=backend),
    "IAF": lambda backend: sl.IAF(backend=backend),
    "ALIF": lambda backend: sl.ALIF(tau_mem=20.0, tau_adapt=100.0, tau_syn=5.0, backend=backend),
    "ExpLeak": lambda backend: sl.ExpLeak(tau_mem=20.0, backend=backend),
}


def _input(steps: int, neurons: int = 13, batch: int = 2, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, steps, neurons, generator=g) * 0.3


def _uneven(total: int, seed: int) -> list[int]:
    """Chunk sizes from 1 to 700 steps that add up to ``total``."""
    g = torch.Generator().manual_seed(seed)
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(min(int(torch.randint(1, 701, (1,), generator=g)), total - sum(sizes)))
    return sizes


def _states(layer: sl.StatefulLayer) -> dict[str, torch.Tensor]:
    return {name: buf.clone() for name, buf in layer.named_buffers()}


def _stream(layer: sl.StatefulLayer, x: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([layer(chunk) for chunk in x.split(sizes, dim=1)], dim=1)


def _check_stream(name: str, backend: str, steps: int, sizes: list[int]) -> None:
    x = _input(steps)
    whole_layer = LAYERS[name](backend)
    with torch.no_grad():
        whole = whole_layer(x)
    layer = LAYERS[name](backend)
    streamed = _stream(layer, x, sizes)
    assert torch.equal(streamed, whole)
    expected = _states(whole_layer)
    got = _states(layer)
    assert got.keys() == expected.keys()
    for state in expected:
        assert torch.equal(got[state], expected[state]), state


@needs_kernel
@pytest.mark.parametrize("name", LAYERS)
def test_streaming_equals_one_call_cpu_kernel(name: str) -> None:
    # 10,000 steps as 100 chunks of 100, and as uneven chunks (1 to 700 steps)
    _check_stream(name, "cpu", 10_000, [100] * 100)
    _check_stream(name, "cpu", 10_000, _uneven(10_000, seed=1))


@needs_kernel
@pytest.mark.parametrize("name", ["LIF", "ALIF"])
def test_streaming_100000_steps_in_1000_chunks(name: str) -> None:
    _check_stream(name, "cpu", 100_000, [100] * 1000)
    _check_stream(name, "cpu", 100_000, _uneven(100_000, seed=2))


@pytest.mark.parametrize("name", LAYERS)
def test_streaming_equals_one_call_reference(name: str) -> None:
    # the plain PyTorch loop steps one time step at a time: shorter
    _check_stream(name, "reference", 600, [100] * 6)
    _check_stream(name, "reference", 600, [1, 37, 200, 62, 300])


# ---- memory ---------------------------------------------------------------------------


def _resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


needs_proc = pytest.mark.skipif(
    not os.path.exists("/proc/self/statm"), reason="resident memory is read from Linux's /proc"
)

#: chunks of (4, 50, 256) float32: 200 KiB of input and of output each, so the chunks
#: of a test (1,000, or 200 on the slow reference) kept alive would take 40 to 400 MiB
#: or more; allowed growth: 16 MiB
CHUNK = (4, 50, 256)
ALLOWED_GROWTH = 16 << 20


@pytest.fixture
def one_thread() -> Iterator[None]:
    # a thousand small calls: on one thread they take well under a second (on a busy
    # 2-core machine, handing each to a thread pool took ten times longer)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _feed_chunks(layer: sl.StatefulLayer, chunks: int, cut: bool) -> int:
    """Resident memory grown over ``chunks`` calls after a warm-up of 50."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(*CHUNK, generator=g) * 0.3
    start = 0
    for k in range(50 + chunks):
        if k == 50:
            start = _resident_bytes()
        layer(x + k * 1e-3)
        if cut:
            layer.detach_states()
    return _resident_bytes() - start


@needs_proc
@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_memory_stays_flat_under_no_grad(backend: str, one_thread: None) -> None:
    if backend == "cpu" and not cpu_kernel.available():
        pytest.skip(f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}")
    layer = sl.ALIF(tau_mem=20.0, tau_adapt=100.0, tau_syn=5.0, backend=backend)
    with torch.no_grad():
        grown = _feed_chunks(layer, 1000 if backend == "cpu" else 200, cut=False)
        assert all(buf.grad_fn is None for buf in layer.buffers())
    assert grown < ALLOWED_GROWTH, grown


@needs_proc
@needs_kernel
def test_memory_stays_flat_with_gradients_when_states_are_detached(one_thread: None) -> None:
    # tau_mem is a trainable parameter: with gradients enabled each call extends the
    # states' graph unless the stream cuts it
    layer = sl.LIF(tau_mem=20.0, tau_syn=5.0, backend="cpu")
    grown = _feed_chunks(layer, 1000, cut=True)
    assert grown < ALLOWED_GROWTH, grown


def test_states_keep_their_graph_across_calls_unless_detached() -> None:
    layer = sl.LIF(tau_mem=20.0, backend="reference")
    x1, x2 = _input(5, seed=3).requires_grad_(), _input(5, seed=4).requires_grad_()
    layer(x1)
    assert layer.v_mem.grad_fn is not None  # the state remembers how it was computed
    layer(x2).sum().backward()
    assert x1.grad is not None  # the second call's loss reaches the first call's input
    layer.reset_states()
    x3 = _input(5, seed=5).requires_grad_()
    layer(x3)
    layer.detach_states()
    assert layer.v_mem.grad_fn is None
    layer(x2).sum().backward()
    assert x3.grad is None


# ---- truncated BPTT -----------------------------------------------------------------------


def _model(backend: str) -> nn.Sequential:
    torch.manual_seed(11)
    return nn.Sequential(
        nn.Linear(6, 16),
        sl.LIF(tau_mem=20.0, tau_syn=5.0, backend=backend),
        nn.Linear(16, 3),
        sl.ALIF(tau_mem=15.0, tau_adapt=40.0, backend=backend),
    )


def _loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((out.sum(dim=1) - target) ** 2).mean()


@pytest.mark.parametrize("backend", ["cpu", "reference"])
def test_truncated_bptt_pattern_gives_each_chunks_own_gradient(backend: str) -> None:
    if backend == "cpu" and not cpu_kernel.available():
        pytest.skip(f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}")
    g = torch.Generator().manual_seed(12)
    x = torch.rand(4, 120, 6, generator=g) * 2.0
    targets = [torch.rand(4, 3, generator=g) * 5 for _ in range(3)]

    # the documented pattern (module docstring)
    model = _model(backend)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before: list[dict[str, torch.Tensor]] = []  # parameters and states before each chunk
    grads: list[list[torch.Tensor]] = []
    outputs = []
    for x_chunk, target in zip(x.split(40, dim=1), targets, strict=True):
        before.append(copy.deepcopy(model.state_dict()))
        optimizer.zero_grad()
        out = model(x_chunk)
        _loss(out, target).backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
        outputs.append(out.detach())
        optimizer.step()
        sinabs.zero_grad(model)

    # by hand: every chunk alone, in a fresh model loaded with the parameters and the
    # (detached) states the stream had reached
    for k, (x_chunk, target) in enumerate(zip(x.split(40, dim=1), targets, strict=True)):
        fresh = _model(backend)
        fresh.load_state_dict(before[k])
        out = fresh(x_chunk)
        _loss(out, target).backward()
        assert torch.equal(out.detach(), outputs[k]), k
        fresh_grads = [(n, p.grad) for n, p in fresh.named_parameters() if p.grad is not None]
        assert len(fresh_grads) == len(grads[k]) >= 5, k  # weights, biases, time constants
        for (p_name, got), expected in zip(fresh_grads, grads[k], strict=True):
            assert torch.equal(got, expected), (k, p_name)
    assert any(bool((g_ != 0).any()) for chunk in grads for g_ in chunk)  # learned something
