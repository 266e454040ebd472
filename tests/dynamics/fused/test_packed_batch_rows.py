"""The CPU backend's packing of small layers: with fewer neurons than a slot of the C
kernel, a training call runs its batch rows side by side as one row of ``B * N``
neurons (:func:`sinabs.dynamics.fused.backend.pack_batch_rows`).

Every lane computes one neuron alone, so packed and unpacked runs of the same kernel
give the same outputs, states and recordings bit for bit; the input's gradient too
(it is per lane); a parameter's gradient is summed over the batch by autograd instead
of inside the kernel, so it agrees within rounding.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import sinabs.activation as sa
import sinabs.layers as sl
from sinabs.dynamics.fused import backend as fused_backend
from sinabs.dynamics.fused import cpu_kernel

pytestmark = pytest.mark.skipif(not cpu_kernel.available(), reason="the C kernel is not built")

CSRC = Path(fused_backend.__file__).parent / "csrc" / "scan_common.h"

LAYERS: dict[str, Callable[[], torch.nn.Module]] = {
    "iaf_syn": lambda: sl.IAF(tau_syn=4.0, record_states=True),
    "lif_per_neuron": lambda: sl.LIF(
        torch.linspace(5.0, 30.0, 7), train_alphas=True, record_states=True
    ),
    "lif_train_threshold": lambda: sl.LIF(
        12.0,
        spike_threshold=torch.linspace(0.5, 1.5, 7),
        train_threshold=True,
        surrogate_grad_fn=sa.ATan(),
        record_states=True,
    ),
    "expleak": lambda: sl.ExpLeak(tau_mem=torch.linspace(3.0, 9.0, 7), record_states=True),
    "alif_syn": lambda: sl.ALIF(10.0, 20.0, tau_syn=3.0, record_states=True),
    "izhikevich": lambda: sl.Izhikevich.from_preset("regular_spiking", record_states=True),
    "adex": lambda: sl.AdEx(record_states=True),
}
#: input scales that make each layer spike within the 24 steps
SCALES = {"izhikevich": 20.0, "adex": 8000.0}


def _run(
    make: Callable[[], torch.nn.Module],
    x: torch.Tensor,
    packed: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Output, final states, recordings and gradients (input and parameters) of two
    calls in a row on the CPU backend, packed or not."""
    decide = fused_backend.packs_batch_rows
    chosen: list[bool] = []

    def spy(prepared: object) -> bool:
        chosen.append(decide(prepared))  # type: ignore[arg-type]
        return chosen[-1] and packed

    monkeypatch.setattr(fused_backend, "packs_batch_rows", spy)
    torch.manual_seed(0)
    layer = make().to(x.dtype)
    layer.backend = "cpu"
    xg = x.clone().requires_grad_(True)
    half = x.shape[1] // 2
    out = torch.cat([layer(xg[:, :half]), layer(xg[:, half:])], dim=1)
    states = {name: state.detach().clone() for name, state in layer.named_states()}
    recordings = {name: rec.detach().clone() for name, rec in layer.recordings.items()}
    weights = torch.linspace(-1.0, 1.0, out.numel(), dtype=x.dtype).reshape(out.shape)
    loss = (out * weights).sum() + sum(r.sum() for r in layer.recordings.values())
    loss.backward()
    grads = {"x": xg.grad}
    grads.update({n: p.grad for n, p in layer.named_parameters() if p.grad is not None})
    monkeypatch.setattr(fused_backend, "packs_batch_rows", decide)
    assert chosen and all(chosen), "the call should qualify for packing"
    return out.detach(), states, recordings, grads


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=str)
@pytest.mark.parametrize("name", list(LAYERS))
def test_packed_equals_unpacked(
    name: str, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    scale = SCALES.get(name, 1.5)
    x = torch.rand(5, 24, 7, generator=torch.Generator().manual_seed(3), dtype=dtype) * scale
    packed = _run(LAYERS[name], x, True, monkeypatch)
    plain = _run(LAYERS[name], x, False, monkeypatch)
    assert torch.equal(packed[0], plain[0])
    assert packed[0].is_contiguous()
    for got, want in zip(packed[1:3], plain[1:3], strict=True):
        assert got.keys() == want.keys()
        for key in got:
            assert torch.equal(got[key], want[key]), key
    grads, expected = packed[3], plain[3]
    assert grads.keys() == expected.keys()
    assert torch.equal(grads["x"], expected["x"])
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    for key in grads:
        torch.testing.assert_close(grads[key], expected[key], rtol=tol, atol=tol, msg=key)
    assert len(grads) > 1  # the parameters' gradients were compared too


def _prepared(shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> object:
    seen: list[object] = []
    decide = fused_backend.packs_batch_rows

    def spy(prepared: object) -> bool:
        seen.append(prepared)
        return decide(prepared)  # type: ignore[arg-type]

    fused_backend.packs_batch_rows = spy  # type: ignore[assignment]
    try:
        sl.LIF(10.0, backend="cpu")(torch.rand(*shape, dtype=dtype))
    finally:
        fused_backend.packs_batch_rows = decide  # type: ignore[assignment]
    return seen[0]


@pytest.mark.parametrize(
    ("shape", "dtype", "grad", "expected"),
    [
        ((32, 10, 20), torch.float32, True, True),
        ((32, 10, 63), torch.float32, True, True),
        ((32, 10, 64), torch.float32, True, False),  # a full slot already
        ((32, 10, 31), torch.float64, True, True),
        ((32, 10, 32), torch.float64, True, False),
        ((1, 10, 20), torch.float32, True, False),  # one row: nothing to pack
        ((4, 10, 0), torch.float32, True, False),  # no neurons
        ((32, 10, 20), torch.float32, False, False),  # inference: the forward gains nothing
        ((1024, 2, 40), torch.float32, True, False),  # autograd's sum over the batch threaded
    ],
)
def test_which_calls_are_packed(
    shape: tuple[int, ...], dtype: torch.dtype, grad: bool, expected: bool
) -> None:
    with torch.set_grad_enabled(True):
        prepared = _prepared(shape, dtype)
    with torch.set_grad_enabled(grad):
        assert fused_backend.packs_batch_rows(prepared) is expected  # type: ignore[arg-type]


def test_slot_lanes_match_the_c_kernel() -> None:
    """``cpu_kernel.SLOT_LANES`` mirrors ``BLOCK_F32`` and ``BLOCK_F64`` of the C source."""
    text = CSRC.read_text()
    blocks = {
        m.group(1): int(m.group(2)) for m in re.finditer(r"#define BLOCK_(F32|F64) (\d+)", text)
    }
    assert blocks == {
        "F32": cpu_kernel.SLOT_LANES[torch.float32],
        "F64": cpu_kernel.SLOT_LANES[torch.float64],
    }
