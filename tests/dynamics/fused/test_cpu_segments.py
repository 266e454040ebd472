"""The CPU kernel's backward in segments (long sequences) against the one-segment backward.

For long sequences the backward recomputes the forward in segments from checkpoints
(``scan_kernel.h``), so that its scratch memory is bounded; the results must be the
same bits as with one segment, on every configuration the kernel cases cover and on
every instruction set, and the scratch (which the kernel reports) must stay bounded.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from kernel_checks import Case, neutral, upstream
from test_cpu_kernel import CASES, ISA_CASES, SUPPORTED_ISAS

from sinabs.dynamics.fused import cpu_kernel

pytestmark = pytest.mark.skipif(
    not cpu_kernel.available(),
    reason=f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}",
)

#: segment lengths: one step, fewer than the 16-step chunks over which the parameter
#: gradients are summed, exactly one chunk, and one that cuts chunks
SEGMENT_STEPS = (1, 7, 16, 17)
#: what scan.c segments above: 4 MiB of rows per work item
SEGMENT_ABOVE = 4 << 20


def _long(case: Case) -> Case:
    """The case with enough steps for several segments and chunks (43: not a multiple)."""
    return dataclasses.replace(case, steps=43)


def _backward(case: Case, segment_steps: int, isa: str | None = None):
    args = neutral(case)
    up = upstream(case, cpu_kernel.scan_forward(*args))
    return cpu_kernel.scan_backward_report(*up, *args, isa_name=isa, segment_steps=segment_steps)


@pytest.mark.parametrize("case", [_long(c) for c in CASES + ISA_CASES], ids=lambda c: c.id)
def test_segments_give_the_same_bits(case: Case) -> None:
    for isa in SUPPORTED_ISAS:
        whole, report = _backward(case, 0, isa)
        assert (report.segments, report.segment_steps) == (1, case.steps)
        for steps in SEGMENT_STEPS:
            grads, report = _backward(case, steps, isa)
            assert report.segments == math.ceil(case.steps / steps)
            assert report.segment_steps == steps
            for k, (a, b) in enumerate(zip(whole, grads, strict=True)):
                assert torch.equal(a, b), (isa, steps, k)


def _families() -> list[Case]:
    """Every family with and without a synapse, float32 (the bwd_slot path on AVX-512)
    and float64 (bwd_chunk); the balanced resonate-and-fire (general code only)."""
    cases = []
    for dtype in ("f32", "f64"):
        for family in ("leaky", "spiking", "adaptive"):
            for syn in (False, True):
                cases.append(Case(family, syn=syn, neurons=(64,), dtype=dtype))
    # four rows per step (z_re, the surrogate, z_im, q), as ALIF with a synapse; float64
    # only (general code either way): over 20,000 steps its gradients outgrow float32
    cases.append(Case("resonate_balanced", reset="own", neurons=(64,), dtype="f64"))
    cases.append(Case("spiking", min_v=True, record=True, neurons=(130,), dtype="f32"))
    return cases


@pytest.mark.parametrize("case", _families(), ids=lambda c: c.id)
def test_benchmark_lengths_run_in_one_segment(case: Case) -> None:
    # the benchmark sizes have at most 1,000 steps ((8, 1000, 1024)); the work item of
    # a batch row and slot is the same at any B and N (multiple of 64): one segment
    _, report = _backward(dataclasses.replace(case, steps=1000), 0)
    assert (report.segments, report.segment_steps) == (1, 1000)


def _check_long(case: Case) -> cpu_kernel.BackwardReport:
    """Segments chosen by the kernel: several, bounded scratch, the bits of one segment."""
    grads, report = _backward(case, 0)
    assert report.segments > 1
    # a few MiB per thread: the rows of a segment (about 1 MiB) and the checkpoints
    assert report.scratch_bytes <= SEGMENT_ABOVE, report
    whole, one = _backward(case, case.steps)  # forced into one segment: scratch ~ T
    assert one.segments == 1 and one.scratch_bytes > 4 * report.scratch_bytes, one
    for k, (a, b) in enumerate(zip(whole, grads, strict=True)):
        assert torch.equal(a, b), k
    return report


@pytest.mark.parametrize("case", _families(), ids=lambda c: c.id)
def test_long_sequences_run_in_segments(case: Case) -> None:
    _check_long(dataclasses.replace(case, steps=20_000))


@pytest.mark.parametrize(
    "case",
    [
        Case("adaptive", syn=True, neurons=(64,), dtype="f32"),  # bwd_slot on AVX-512
        # bwd_chunk; 40 float64 neurons: two 32-lane slots, overlapping
        Case("spiking", min_v=True, record=True, neurons=(40,), dtype="f64"),
    ],
    ids=lambda c: c.id,
)
def test_100000_steps_fit_in_a_few_mib(case: Case) -> None:
    report = _check_long(dataclasses.replace(case, steps=100_000))
    assert report.scratch_bytes <= 3 << 20, report


def test_segment_steps_argument_is_checked() -> None:
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="segment_steps must be an int >= 0"):
            _backward(Case("spiking"), bad)  # type: ignore[arg-type]
