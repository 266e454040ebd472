"""The compiled CPU kernel of the fused scan against torch_impl and the reference scan.

Every case checks, in neutral form against :mod:`.torch_impl` and in layer form
(through :func:`~sinabs.dynamics.fused.config.prepare`) against
:func:`~sinabs.dynamics.reference.reference_scan`: outputs, final states and
recordings bit-identical; gradients w.r.t. the input, the initial states and every
parameter within ``rtol=1e-5`` (``atol=1e-5 * max|reference|``).

Also: every instruction set this CPU runs gives the same bits, the thread count does
not change any result, outputs are fresh tensors, bad inputs are refused, and the
library links no Python or torch library.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pytest
import torch
import torch_impl  # the neutral-form oracle, next to this file
from kernel_checks import (
    GRADIENTS,
    OUTPUTS,
    assert_every_option_is_covered,
    build,
    check_against_reference,
    equal,
    float32_variants,
    grads_close,
    neutral,
    option_cases,
    unique,
    upstream,
)
from kernel_checks import Case as BaseCase
from kernel_checks import check_against_torch_impl as check_torch_impl

import sinabs.layers as sl
from sinabs.dynamics.families import ROW
from sinabs.dynamics.fused import cpu_kernel

pytestmark = pytest.mark.skipif(
    not cpu_kernel.available(),
    reason=f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}",
)


@dataclass(frozen=True)
class Case(BaseCase):
    neurons: tuple[int, ...] = (37,)  # fewer than a slot (64 float32 / 32 float64 lanes)


def _cases() -> list[BaseCase]:
    cases = option_cases(Case)
    # shapes: one neuron, exactly one slot, a partial last slot (it overlaps the one
    # before), several slots, 2-d neurons, T = 1 and T = 0
    cases += [
        Case("spiking", spike="multi", syn=True, neurons=(1,)),
        Case("spiking", syn=True, per_neuron=True, record=True, neurons=(64,)),
        Case("adaptive", spike="max", per_neuron=True, record=True, neurons=(77,)),
        Case("leaky", syn=True, min_v=True, per_neuron=True, neurons=(130,)),
        Case("adaptive", neurons=(3, 5), per_neuron=True, record=True),
        Case("spiking", steps=1, syn=True),
        Case("spiking", steps=0, syn=True, record=True),
    ]
    cases += float32_variants(cases)
    # the fast specializations on full slots (N >= 64): every family with and without
    # a synapse, single and multiple spikes, gradients entering through recordings
    full = [
        Case("leaky", neurons=(77,)),
        Case("leaky", syn=True, norm=True, record=True, neurons=(130,)),
        Case("spiking", spike="multi", leak=False, neurons=(128,)),
        Case("spiking", syn=True, record=True, per_neuron=True, neurons=(77,)),
        Case("adaptive", syn=True, record=True, neurons=(130,)),
        Case("adaptive", spike="multi", norm=True, per_neuron=True, neurons=(64,)),
        Case("adaptive", spike="max", record=True, upstream="out", neurons=(77,)),
        # bwd_slot (scan_kernel.h): every family, the exp surrogate, no recording
        # gradient, shared or per-neuron parameters, with or without a synapse; 40
        # steps flush the parameter-gradient sums of 16-step chunks three times
        Case("spiking", steps=40, neurons=(130,)),
        Case("adaptive", steps=40, neurons=(130,)),
        Case("spiking", per_neuron=True, steps=40, neurons=(130,)),
        Case("adaptive", per_neuron=True, steps=40, neurons=(77,)),
        Case("spiking", syn=True, steps=40, neurons=(130,)),
        Case("adaptive", "multi", syn=True, norm=True, per_neuron=True, steps=40, neurons=(77,)),
        Case("spiking", syn=True, record=True, upstream="out", neurons=(64,)),
        Case("leaky", syn=True, per_neuron=True, steps=40, neurons=(130,)),
        Case("leaky", norm=True, upstream="out", steps=40, neurons=(64,)),
        Case("spiking", spike="max", norm=True, neurons=(77,)),
        Case("adaptive", spike="multi", norm=True, upstream="out", neurons=(64,)),
        Case("adaptive", steps=1, neurons=(64,)),
        Case("spiking", steps=0, neurons=(64,)),
        # train_threshold: a fast forward (shared parameters on full slots), the
        # backward in the general code; 40 steps: three flushes of the sums
        Case("spiking", train=True, steps=40, neurons=(130,)),
        Case("adaptive", surrogate="atan", train=True, steps=40, neurons=(130,)),
        Case("adaptive", "multi", surrogate="sigmoid", train=True, per_neuron=True, steps=40,
             neurons=(77,)),
    ]  # fmt: skip
    cases += [dataclasses.replace(c, dtype="f32") for c in full]
    return unique(cases)


CASES = _cases()


def check_against_torch_impl(case: BaseCase, isa: str | None = None) -> list[str]:
    """The C kernel (on instruction set ``isa``, or the best one) against torch_impl."""
    forward = partial(cpu_kernel.scan_forward, isa_name=isa)
    backward = partial(cpu_kernel.scan_backward, isa_name=isa)
    return check_torch_impl(case, forward, backward)


# ---------------------------------------------------------------- the cases


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_kernel_matches(case: BaseCase) -> None:
    errors = check_against_torch_impl(case)
    errors += check_against_reference(case, cpu_kernel.scan_forward, cpu_kernel.scan_backward)
    assert errors == []


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_option_is_covered() -> None:
    assert_every_option_is_covered(CASES)


@pytest.mark.parametrize("dtype", ["f32", "f64"])
def test_a_wrong_threshold_gradient_fails_the_check(dtype: str) -> None:
    # guards the float32 fallback of check_against_reference (as accurate as the
    # reference, from the float64 gradient): a threshold gradient off by 1e-4 fails
    case = Case("adaptive", "multi", surrogate="atan", train=True, dtype=dtype)
    threshold = ROW["threshold"]

    def skewed(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        *grads, g_params = cpu_kernel.scan_backward(*args)
        g_params = g_params.clone()
        g_params[threshold] *= 1 + 1e-4
        return (*grads, g_params)

    _, _, params, leaves = build(case)
    leaf = next(k for k, t in enumerate(leaves) if t is params.spike_threshold)
    assert check_against_reference(case, cpu_kernel.scan_forward, cpu_kernel.scan_backward) == []
    errors = check_against_reference(case, cpu_kernel.scan_forward, skewed)
    assert len(errors) == 1 and f"leaf {leaf} ()" in errors[0], errors


# ---------------------------------------------------------------- instruction sets


# (without the library the whole module skips; collecting it must not fail)
BEST_ISA = cpu_kernel.isa() if cpu_kernel.available() else cpu_kernel.ISAS[0]
SUPPORTED_ISAS = cpu_kernel.ISAS[: cpu_kernel.ISAS.index(BEST_ISA) + 1]
#: every instruction set; those this CPU lacks skip with a reason (on an AVX2-only CPU
#: the AVX-512 code, bwd_slot and exp16 among it, is then untested)
ISA_PARAMS = [
    pytest.param(
        isa,
        marks=pytest.mark.skipif(
            isa not in SUPPORTED_ISAS, reason=f"this CPU runs the kernel on {BEST_ISA} at best"
        ),
    )
    for isa in cpu_kernel.ISAS
]
ISA_CASES = [
    Case("leaky", syn=True, norm=True, min_v=True, per_neuron=True, record=True, neurons=(77,)),
    Case("spiking", neurons=(77,), record=True, dtype="f32"),
    Case("spiking", "multi", "amount", "periodic", syn=True, min_v=True, neurons=(77,)),
    Case("adaptive", "max", "to_value", "gaussian", syn=True, record=True, neurons=(77,)),
    Case("adaptive", surrogate="multigaussian", per_neuron=True, neurons=(77,), dtype="f32"),
    Case("spiking", surrogate="heaviside", per_neuron=True, neurons=(77,), dtype="f32"),
    # bwd_slot on AVX-512 against bwd_chunk on the other instruction sets
    Case("adaptive", steps=40, neurons=(130,), dtype="f32"),
    Case("spiking", "multi", steps=40, neurons=(77,), dtype="f32"),
    Case("spiking", "max", norm=True, neurons=(64,), dtype="f32"),
    Case("adaptive", "multi", per_neuron=True, steps=40, neurons=(77,), dtype="f32"),
    Case("spiking", syn=True, norm=True, steps=40, neurons=(130,), dtype="f32"),
    Case("adaptive", syn=True, per_neuron=True, steps=40, neurons=(77,), dtype="f32"),
    Case("leaky", syn=True, norm=True, steps=40, neurons=(77,), dtype="f32"),
    # snnTorch's surrogates and train_threshold
    Case("spiking", surrogate="sigmoid", train=True, per_neuron=True, neurons=(77,), dtype="f32"),
    Case("adaptive", "multi", "amount", "atan", train=True, steps=40, neurons=(130,), dtype="f32"),
    Case("spiking", surrogate="triangle", syn=True, train=True, neurons=(77,)),
    Case("adaptive", surrogate="fastsigmoid", record=True, neurons=(77,), dtype="f32"),
]


@pytest.mark.parametrize("isa", ISA_PARAMS)
@pytest.mark.parametrize("case", ISA_CASES, ids=lambda c: c.id)
def test_every_instruction_set_gives_the_same_bits(case: Case, isa: str) -> None:
    assert check_against_torch_impl(case, isa) == []
    args = neutral(case)
    best = cpu_kernel.scan_forward(*args)
    mine = cpu_kernel.scan_forward(*args, isa_name=isa)
    up = upstream(case, best)
    best_g = cpu_kernel.scan_backward(*up, *args)
    mine_g = cpu_kernel.scan_backward(*up, *args, isa_name=isa)
    for name, a, b in zip(OUTPUTS + GRADIENTS, best + best_g, mine + mine_g, strict=True):
        assert torch.equal(a, b), name


def _exp_arguments() -> torch.Tensor:
    """Every 97th float from -110 to 90, and the limits of the exp's ranges."""
    neg = torch.arange(0, 0x42DC0000 + 1, 97, dtype=torch.int64)  # bits of 0 .. 110
    pos = torch.arange(0, 0x42B40000 + 1, 97, dtype=torch.int64)  # bits of 0 .. 90
    dense = torch.cat(
        [-neg.to(torch.int32).view(torch.float32), pos.to(torch.int32).view(torch.float32)]
    )
    edges = torch.tensor([-104.0, -103.97, -103.28, -87.34, -87.33, 0.0, 88.72, 88.73, 89.0, 89.5])
    near = torch.cat([torch.nextafter(edges, edges - 1), edges, torch.nextafter(edges, edges + 1)])
    specials = torch.tensor([float("nan"), float("inf"), -float("inf"), -0.0, -1e30, 1e30])
    return torch.cat([dense, near, specials])


@pytest.mark.parametrize("isa", ISA_PARAMS)
def test_surrogate_exp_gives_the_same_bits_on_every_instruction_set(isa: str) -> None:
    # the AVX-512 exp (vrndscaleps, vscalefps) against the portable one (scan.c)
    x = _exp_arguments()
    best, mine = cpu_kernel.surrogate_exp(x), cpu_kernel.surrogate_exp(x, isa_name=isa)
    assert torch.equal(best.isnan(), x.isnan()) and torch.equal(mine.isnan(), x.isnan())
    keep = ~x.isnan()
    assert torch.equal(best[keep].view(torch.int32), mine[keep].view(torch.int32))


def test_surrogate_exp_is_within_about_one_ulp() -> None:
    x = _exp_arguments()
    x = x[~x.isnan()]
    got, ref = cpu_kernel.surrogate_exp(x).double(), torch.exp(x.double())
    tiny = torch.finfo(torch.float32).tiny
    normal = (ref >= tiny) & (ref <= torch.finfo(torch.float32).max)
    ulp = (
        torch.nextafter(ref[normal].float(), torch.tensor(float("inf"))).double()
        - ref[normal].float().double()
    )
    assert ((got[normal] - ref[normal]).abs() / ulp).max() <= 1.05
    sub = ref < tiny  # subnormal or zero results: one rounding, within the last place
    assert ((got[sub] - ref[sub]).abs() <= 2.0**-149).all()
    assert torch.isinf(got[ref > torch.finfo(torch.float32).max]).all()


@pytest.mark.parametrize("row", range(7))
def test_one_neuron_with_other_parameters_leaves_the_shared_path(row: int) -> None:
    # scalar parameters (all neurons alike) run a specialization that reads lane 0's
    # values (scan.c, shared_params); one differing neuron anywhere must rule it out
    case = Case("adaptive", syn=True, record=True, neurons=(130,), dtype="f32")
    x, v0, i0, b0, u0, params, cfg = neutral(case)
    assert (params == params[:, :1]).all()  # the shared case itself runs in test_kernel_matches
    for n in (0, 63, 66, 129):  # first slot, its last lane, the overlapping last slot
        changed = params.clone()
        changed[row, n] = changed[row, n] * 0.75 + 0.05
        args = (x, v0, i0, b0, u0, changed, cfg)
        got, ref = cpu_kernel.scan_forward(*args), torch_impl.scan_forward(*args)
        errors = [
            e for name, g, r in zip(OUTPUTS, got, ref, strict=True) for e in equal(name, g, r)
        ]
        up = upstream(case, ref)
        got_g = cpu_kernel.scan_backward(*up, *args)
        ref_g = torch_impl.scan_backward(*up, *args)
        errors += [
            e
            for name, g, r in zip(GRADIENTS, got_g, ref_g, strict=True)
            for e in grads_close(name, g, r)
        ]
        assert errors == [], (n, errors)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_layers_without_neurons(dtype: torch.dtype) -> None:
    # (B, T, 0): no work, empty results (the shared-parameter check reads no row)
    for make in (
        lambda b: sl.LIF(10.0, backend=b),
        lambda b: sl.ALIF(10.0, 20.0, tau_syn=5.0, backend=b),
        lambda b: sl.ExpLeak(10.0, backend=b),
    ):
        results = []
        for backend in ("cpu", "reference"):
            x = torch.rand(2, 5, 0, dtype=dtype, requires_grad=True)
            layer = make(backend)
            out = layer(x)
            out.sum().backward()
            results.append((out.shape, x.grad.shape, layer.v_mem.shape))
        assert results[0] == results[1] == ((2, 5, 0), (2, 5, 0), (2, 0))


def test_reports_its_instruction_set() -> None:
    assert cpu_kernel.isa() in cpu_kernel.ISAS
    assert cpu_kernel.unavailable_reason() == ""
    if cpu_kernel.isa() != "avx512":
        higher = cpu_kernel.ISAS[cpu_kernel.ISAS.index(cpu_kernel.isa()) + 1]
        args = neutral(Case("spiking"))
        with pytest.raises(RuntimeError, match="instruction set"):
            cpu_kernel.scan_forward(*args, isa_name=higher)


# ---------------------------------------------------------------- threads


@pytest.fixture
def num_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


# big enough for two threads in the forward and more in the backward: scan.c gives
# each thread at least 2^20 forward element-steps (B * T * N; a backward one counts 8)
THREAD_CASES = [
    Case("spiking", "multi", "subtract", syn=True, record=True, steps=256, neurons=(4133,),
         dtype="f32"),
    Case("adaptive", "single", "to_value", "gaussian", min_v=True, per_neuron=True, steps=300,
         neurons=(2, 1800), dtype="f64"),
    # bwd_slot (scan_kernel.h) on AVX-512
    Case("adaptive", syn=True, upstream="out", steps=200, neurons=(4133,), dtype="f32"),
    # train_threshold: the threshold's sums over the batch
    Case("spiking", surrogate="atan", train=True, steps=64, neurons=(4133,), dtype="f32"),
]  # fmt: skip


@pytest.fixture
def pool() -> Iterator[None]:
    before = cpu_kernel.thread_pool()
    yield
    cpu_kernel.thread_pool(before)


@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: c.id)
def test_threads_do_not_change_results(case: Case, num_threads: None, pool: None) -> None:
    args = neutral(case)
    results = []
    # torch loads an OpenMP runtime on Linux; the kernel then uses its pool by default
    pools = ["openmp", "threads"] if cpu_kernel.thread_pool() == "openmp" else ["threads"]
    for use in pools:
        cpu_kernel.thread_pool(use)
        assert cpu_kernel.thread_pool() == use
        for threads in (1, 3):
            torch.set_num_threads(threads)
            out = cpu_kernel.scan_forward(*args)
            grads = cpu_kernel.scan_backward(*upstream(case, out), *args)
            results.append(out + grads)
    for other in results[1:]:
        for name, a, b in zip(OUTPUTS + GRADIENTS, results[0], other, strict=True):
            assert torch.equal(a, b), name
    assert check_against_torch_impl(case) == []


def test_thread_pool_argument_is_checked(pool: None) -> None:
    with pytest.raises(ValueError, match="use must be one of"):
        cpu_kernel.thread_pool("gomp")
    assert cpu_kernel.thread_pool("threads") == "threads"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_runs_on_threads_of_its_own(pool: None) -> None:
    """An OpenMP pool does not survive fork: a child computes on threads it starts."""
    case = THREAD_CASES[0]
    args = neutral(case)
    torch.set_num_threads(2)
    expected = cpu_kernel.scan_forward(*args)[0]  # the parent uses its pool first
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the pool and whether the result is the same
        try:
            out = cpu_kernel.scan_forward(*args)[0]  # two threads of its own
            # torch's own parallel operations would hang in the inherited OpenMP state
            torch.set_num_threads(1)
            os.write(write, f"{cpu_kernel.thread_pool()} {torch.equal(out, expected)}".encode())
        finally:
            os._exit(0)
    os.close(write)
    deadline = time.monotonic() + 60
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.01)
    with os.fdopen(read) as f:
        report = f.read()
    assert report == "threads True"


# ---------------------------------------------------------------- contract


def test_outputs_are_fresh_tensors() -> None:
    case = Case("adaptive", syn=True, record=True)
    args = neutral(case)
    out = cpu_kernel.scan_forward(*args)
    grads = cpu_kernel.scan_backward(*upstream(case, out), *args)
    inputs = [t for t in args[:-1] if isinstance(t, torch.Tensor) and t.numel()]
    results = [t for t in out + grads if t.numel()]
    # all but Izhikevich's u, rec_u and g_u0
    assert len(results) == len(OUTPUTS + GRADIENTS) - 3
    pointers = [t.data_ptr() for t in results]
    assert len(set(pointers)) == len(pointers)
    assert not {t.data_ptr() for t in inputs} & set(pointers)


def test_refuses_bad_inputs() -> None:
    args = neutral(Case("spiking", syn=True))
    x, v0, i0, b0, u0, params, cfg = args
    with pytest.raises(ValueError, match="dtype"):
        cpu_kernel.scan_forward(x.half(), v0, i0, b0, u0, params, cfg)
    with pytest.raises(ValueError, match=r"expected torch\.float64"):
        cpu_kernel.scan_forward(x, v0.float(), i0, b0, u0, params, cfg)
    with pytest.raises(ValueError, match="contiguous"):
        cpu_kernel.scan_forward(x.transpose(0, 1).contiguous().transpose(0, 1), *args[1:])
    with pytest.raises(ValueError, match="i0 has shape"):
        cpu_kernel.scan_forward(x, v0, x.new_empty(0), b0, u0, params, cfg)
    with pytest.raises(ValueError, match="must be empty"):
        cpu_kernel.scan_forward(x, v0, i0, v0, u0, params, cfg)
    with pytest.raises(ValueError, match="must be empty"):
        cpu_kernel.scan_forward(x, v0, i0, b0, v0, params, cfg)
    with pytest.raises(ValueError, match="g_out has shape"):
        cpu_kernel.scan_backward(v0, *[x.new_empty(0)] * 8, *args)


def test_library_links_no_python_or_torch() -> None:
    """The C ABI of torch changes between versions: the library must not depend on it."""
    lib = cpu_kernel._library()
    assert not isinstance(lib, str)
    with open(lib._name, "rb") as f:
        blob = f.read()
    for name in (b"libtorch", b"libc10", b"libpython", b"Py_Initialize"):
        assert name not in blob, name
