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
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from sinabs.activation import (
    Gaussian,
    Heaviside,
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiGaussian,
    MultiSpike,
    PeriodicExponential,
    SingleExponential,
    SingleSpike,
)
from sinabs.dynamics.fused import cpu_kernel, torch_impl
from sinabs.dynamics.fused.config import KernelConfig, prepare
from sinabs.dynamics.params import AdaptiveParams, LeakyParams, SpikingParams
from sinabs.dynamics.reference import reference_scan

pytestmark = pytest.mark.skipif(
    not cpu_kernel.available(),
    reason=f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}",
)

BATCH = 2
SPIKE_FNS = {"single": SingleSpike, "multi": MultiSpike, "max": MaxSpike(2)}
SURROGATES = {
    "heaviside": Heaviside(window=0.4),
    "exp": SingleExponential(grad_width=0.5, grad_scale=1.3),
    "periodic": PeriodicExponential(grad_width=0.4, grad_scale=0.9),
    "gaussian": Gaussian(mu=0.1, sigma=0.4, grad_scale=1.2),
    "multigaussian": MultiGaussian(mu=0.05, sigma=0.5, h=0.15, s=4.0, grad_scale=1.1),
}


@dataclass(frozen=True)
class Case:
    """One configuration; ``id`` names the fields that differ from the defaults."""

    family: str  # leaky | spiking | adaptive
    spike: str = "single"  # single | multi | max (MaxSpike(2))
    reset: str = "subtract"  # subtract (the threshold) | amount | to_value
    surrogate: str = "exp"
    syn: bool = False
    norm: bool = False
    leak: bool = True
    min_v: bool = False
    per_neuron: bool = False
    record: bool = False
    upstream: str = "all"  # all | out: only the output has a gradient (absent state grads)
    steps: int = 8
    neurons: tuple[int, ...] = (37,)  # fewer than a slot (64 float32 / 32 float64 lanes)
    dtype: str = "f64"

    @property
    def id(self) -> str:
        parts = [self.family]
        if self.family != "leaky":
            parts += [self.spike, self.reset, self.surrogate]
        defaults = Case(self.family)
        for field in dataclasses.fields(self):
            if field.name in ("family", "spike", "reset", "surrogate", "dtype"):
                continue
            value = getattr(self, field.name)
            if value != getattr(defaults, field.name):
                if isinstance(value, bool):
                    parts.append(field.name if value else f"no_{field.name}")
                elif isinstance(value, tuple):
                    parts.append(f"{field.name}={'x'.join(map(str, value))}")
                else:
                    parts.append(f"{field.name}={value}")
        return "-".join([*parts, self.dtype])

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float32 if self.dtype == "f32" else torch.float64


def _cases() -> list[Case]:
    cases: list[Case] = []
    leaky = [
        {},
        {"norm": True},
        {"syn": True},
        {"syn": True, "norm": True},
        {"min_v": True},
        {"leak": False},
        {"leak": False, "syn": True, "min_v": True},
        {"syn": True, "norm": True, "min_v": True, "per_neuron": True, "record": True},
        {"syn": True, "record": True, "upstream": "out"},
    ]
    cases += [Case("leaky", **opts) for opts in leaky]
    surrogates = list(SURROGATES)
    for family in ("spiking", "adaptive"):
        # every spike function x reset, the surrogates taking turns
        for k, (spike, reset) in enumerate(
            (s, r) for s in SPIKE_FNS for r in ("subtract", "amount", "to_value")
        ):
            cases.append(Case(family, spike, reset, surrogates[k % len(surrogates)]))
        cases += [Case(family, surrogate=s) for s in surrogates]
        options = [
            {"syn": True},
            {"norm": True},
            {"leak": False},  # IAF
            {"min_v": True},
            {"per_neuron": True},
            {"record": True},
            {"record": True, "upstream": "out"},
            {"syn": True, "norm": True, "min_v": True, "per_neuron": True, "record": True},
            {"syn": True, "leak": False, "min_v": True, "spike": "multi", "reset": "amount"},
        ]
        cases += [Case(family, **opts) for opts in options]
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
    # float32: the same checks on the main configurations (the fast specializations
    # run only for float32: no min_v_mem, reset by the threshold)
    f32 = [c for c in cases if c.family == "leaky" or not (c.syn or c.norm or c.min_v)]
    f32 += [c for c in cases if c.per_neuron and c.record]
    cases += [dataclasses.replace(c, dtype="f32") for c in f32]
    # the register-resident backward of the fast specializations: float32, full slots
    # (N >= 64), every family with and without a synapse, single and multiple spikes,
    # gradients entering through the recordings
    vector = [
        Case("leaky", neurons=(77,)),
        Case("leaky", syn=True, norm=True, record=True, neurons=(130,)),
        Case("spiking", spike="multi", leak=False, neurons=(128,)),
        Case("spiking", syn=True, record=True, per_neuron=True, neurons=(77,)),
        Case("adaptive", syn=True, record=True, neurons=(130,)),
        Case("adaptive", spike="multi", norm=True, per_neuron=True, neurons=(64,)),
        Case("adaptive", spike="max", record=True, upstream="out", neurons=(77,)),
    ]
    cases += [dataclasses.replace(c, dtype="f32") for c in vector]
    return list({c.id: c for c in cases}.values())  # the sweeps overlap


CASES = _cases()


# ---------------------------------------------------------------- helpers


class CpuScan(torch.autograd.Function):
    """The C forward and backward as an autograd function (neutral form)."""

    @staticmethod
    def forward(ctx: Any, x, v0, i0, b0, params, cfg, isa):  # type: ignore[override]
        ctx.save_for_backward(x, v0, i0, b0, params)
        ctx.cfg, ctx.isa = cfg, isa
        return cpu_kernel.scan_forward(x, v0, i0, b0, params, cfg, isa_name=isa)

    @staticmethod
    def backward(ctx: Any, *grads):  # type: ignore[override]
        x, v0, i0, b0, params = ctx.saved_tensors
        *grads, g_sum = grads
        if g_sum is not None:  # out_sum = out.sum(), as ops.py folds it
            grads[0] = g_sum.expand(x.shape) if grads[0] is None else grads[0] + g_sum
        grads = tuple(x.new_empty(0) if g is None else g.contiguous() for g in grads)
        g = cpu_kernel.scan_backward(*grads, x, v0, i0, b0, params, ctx.cfg, isa_name=ctx.isa)
        return (*g, None, None)


def _build(case: Case) -> tuple[torch.Tensor, dict, LeakyParams, list]:
    """Leaf tensors, the state dict and the parameter bundle of ``case``."""
    dtype = case.torch_dtype
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()))
    pshape = case.neurons if case.per_neuron else ()
    leaves: list[torch.Tensor] = []

    def leaf(lo: float, hi: float, shape: tuple[int, ...] = pshape) -> torch.Tensor:
        t = torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo
        t = t.to(dtype).requires_grad_()
        leaves.append(t)
        return t

    x = leaf(-1.0, 2.0, (BATCH, case.steps, *case.neurons))
    state = {"v_mem": leaf(-0.5, 1.0, (BATCH, *case.neurons))}
    if case.syn:
        state["i_syn"] = leaf(-0.5, 1.0, (BATCH, *case.neurons))
    if case.family == "adaptive":
        state["b"] = leaf(0.0, 0.5, (BATCH, *case.neurons))
    common: dict[str, Any] = {
        "alpha_mem": leaf(0.6, 0.95) if case.leak else None,
        "alpha_syn": leaf(0.5, 0.9) if case.syn else None,
        "norm_input": case.norm,
        "min_v_mem": leaf(-0.5, -0.1) if case.min_v else None,
    }
    if case.family == "leaky":
        return x, state, LeakyParams(**common), leaves
    reset = {
        "subtract": lambda: MembraneSubtract(),
        "amount": lambda: MembraneSubtract(subtract_value=leaf(0.3, 0.8)),
        "to_value": lambda: MembraneReset(reset_value=leaf(-0.2, 0.2)),  # type: ignore[arg-type]
    }[case.reset]()
    spiking: dict[str, Any] = {
        "spike_threshold": leaf(0.5, 1.0),
        "spike_fn": SPIKE_FNS[case.spike],
        "reset_fn": reset,
        "surrogate_grad_fn": SURROGATES[case.surrogate],
    }
    if case.family == "spiking":
        return x, state, SpikingParams(**common, **spiking), leaves
    adaptive = {"alpha_adapt": leaf(0.6, 0.95), "adapt_scale": leaf(0.5, 2.0)}
    return x, state, AdaptiveParams(**common, **spiking, **adaptive), leaves


def _neutral(case: Case) -> tuple[tuple, KernelConfig]:
    """The neutral-form arguments (detached) of ``case``."""
    x, state, params, _ = _build(case)
    prepared = prepare(case.family, x.detach(), {k: v.detach() for k, v in state.items()}, params)
    assert not isinstance(prepared, str), prepared
    cfg = dataclasses.replace(prepared.config, record=case.record)
    rows = torch.stack(prepared.rows).detach()
    return (prepared.x, prepared.v0, prepared.i0, prepared.b0, rows, cfg), cfg


def _upstream(case: Case, outputs: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 1)
    outputs = outputs[:7]  # out_sum's gradient is folded into g_out by the op (ops.py)
    up = [torch.rand(r.shape, generator=gen, dtype=torch.float64).to(r) * 2 - 1 for r in outputs]
    return [up[0]] + [outputs[0].new_empty(0)] * 6 if case.upstream == "out" else up


def _grads_close(name: str, got: Any, ref: Any) -> list[str]:
    if ref is None and got is None:
        return []
    ref = torch.zeros_like(got) if ref is None else ref
    got = torch.zeros_like(ref) if got is None else got
    if got.shape != ref.shape:
        return [f"{name}: shape {tuple(got.shape)} != {tuple(ref.shape)}"]
    atol = 1e-5 * ref.abs().max().item() if ref.numel() else 0.0
    if not torch.allclose(got, ref, rtol=1e-5, atol=atol):
        err = (got - ref).abs().max().item()
        return [f"{name}: max error {err:.3g} (max |ref| {ref.abs().max().item():.3g})"]
    return []


def _equal(name: str, got: torch.Tensor, ref: torch.Tensor, any_empty: bool = False) -> list[str]:
    if any_empty and got.numel() == ref.numel() == 0:
        return []
    if got.shape != ref.shape or got.dtype != ref.dtype:
        return [f"{name}: {tuple(got.shape)} {got.dtype} != {tuple(ref.shape)} {ref.dtype}"]
    if name == "out_sum":  # summed in another order: equal up to rounding
        rtol = 1e-6 if got.dtype == torch.float32 else 1e-12
        if not torch.allclose(got, ref, rtol=rtol, atol=0.0):
            return [f"{name}: {got.item()} != {ref.item()}"]
        return []
    if not torch.equal(got, ref):
        return [f"{name}: differs at {int((got != ref).sum())} elements"]
    return []


OUTPUTS = ("out", "v", "i", "b", "rec_v", "rec_i", "rec_b", "out_sum")
GRADIENTS = ("g_x", "g_v0", "g_i0", "g_b0", "g_params")


def check_against_torch_impl(case: Case, isa: str | None = None) -> list[str]:
    """Neutral form: forward bit-identical, backward within tolerance."""
    args, _ = _neutral(case)
    got = cpu_kernel.scan_forward(*args, isa_name=isa)
    ref = torch_impl.scan_forward(*args)
    # At T = 0 torch_impl returns (0,) recordings where the op's fake (and the
    # reference) say (B, 0, N); the kernel follows the fake.
    errors = [
        e
        for n, g, r in zip(OUTPUTS, got, ref, strict=True)
        for e in _equal(n, g, r, any_empty=case.steps == 0)
    ]
    upstream = _upstream(case, ref)
    got_g = cpu_kernel.scan_backward(*upstream, *args, isa_name=isa)
    ref_g = torch_impl.scan_backward(*upstream, *args)
    for n, g, r in zip(GRADIENTS, got_g, ref_g, strict=True):
        errors += _grads_close(n, g, r)
    return [f"torch_impl {e}" for e in errors]


def check_against_reference(case: Case) -> list[str]:
    """Layer form through prepare(): forward bit-identical, all leaf gradients close."""
    x, state, params, leaves = _build(case)
    ref_out, ref_state, ref_rec = reference_scan(
        case.family, x, dict(state), params, record=case.record
    )
    prepared = prepare(case.family, x, state, params)
    assert not isinstance(prepared, str), prepared
    cfg = dataclasses.replace(prepared.config, record=case.record)
    rows = torch.stack(prepared.rows)  # differentiable: autograd maps row grads to leaves
    got = CpuScan.apply(prepared.x, prepared.v0, prepared.i0, prepared.b0, rows, cfg, None)
    seq = (BATCH, case.steps, *case.neurons)
    st = (BATCH, *case.neurons)
    pairs = [("out", got[0].reshape(seq), ref_out), ("v", got[1].reshape(st), ref_state["v_mem"])]
    if case.syn:
        pairs.append(("i", got[2].reshape(st), ref_state["i_syn"]))
    if case.family == "adaptive":
        pairs.append(("b", got[3].reshape(st), ref_state["b"]))
    if case.record:
        pairs.append(("rec_v", got[4].reshape(seq), ref_rec["v_mem"]))
        if case.syn:
            pairs.append(("rec_i", got[5].reshape(seq), ref_rec["i_syn"]))
        if case.family == "adaptive":
            pairs.append(("rec_b", got[6].reshape(seq), ref_rec["b"]))
    errors = [e for n, g, r in pairs for e in _equal(n, g, r)]
    if case.upstream == "out":
        pairs = pairs[:1]
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 2)
    weights = [torch.rand(r.shape, generator=gen, dtype=torch.float64).to(r) for _, _, r in pairs]
    got_loss = sum((w * g).sum() for w, (_, g, _) in zip(weights, pairs, strict=True))
    ref_loss = sum((w * r).sum() for w, (_, _, r) in zip(weights, pairs, strict=True))
    got_g = torch.autograd.grad(got_loss, leaves, allow_unused=True)
    ref_g = torch.autograd.grad(ref_loss, leaves, allow_unused=True)
    for k, (g, r) in enumerate(zip(got_g, ref_g, strict=True)):
        errors += _grads_close(f"leaf {k} {tuple(leaves[k].shape)}", g, r)
    return [f"reference {e}" for e in errors]


# ---------------------------------------------------------------- the cases


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_kernel_matches(case: Case) -> None:
    assert check_against_torch_impl(case) + check_against_reference(case) == []


def test_case_ids_are_unique() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_every_option_is_covered() -> None:
    spiking = [c for c in CASES if c.family != "leaky"]
    assert {(c.family, c.spike, c.reset) for c in spiking} >= {
        (f, s, r) for f in ("spiking", "adaptive") for s in SPIKE_FNS
        for r in ("subtract", "amount", "to_value")
    }  # fmt: skip
    assert {(c.family, c.surrogate) for c in spiking} >= {
        (f, s) for f in ("spiking", "adaptive") for s in SURROGATES
    }
    for family in ("leaky", "spiking", "adaptive"):
        mine = [c for c in CASES if c.family == family]
        for flag in ("syn", "norm", "min_v", "per_neuron", "record"):
            assert any(getattr(c, flag) for c in mine), (family, flag)
        assert any(not c.leak for c in mine)
        assert any(c.upstream == "out" and c.record for c in mine)
        assert {c.dtype for c in mine} == {"f32", "f64"}


# ---------------------------------------------------------------- instruction sets

SUPPORTED_ISAS = cpu_kernel.ISAS[: cpu_kernel.ISAS.index(cpu_kernel.isa()) + 1]
ISA_CASES = [
    Case("leaky", syn=True, norm=True, min_v=True, per_neuron=True, record=True, neurons=(77,)),
    Case("spiking", neurons=(77,), record=True, dtype="f32"),
    Case("spiking", "multi", "amount", "periodic", syn=True, min_v=True, neurons=(77,)),
    Case("adaptive", "max", "to_value", "gaussian", syn=True, record=True, neurons=(77,)),
    Case("adaptive", surrogate="multigaussian", per_neuron=True, neurons=(77,), dtype="f32"),
    Case("spiking", surrogate="heaviside", per_neuron=True, neurons=(77,), dtype="f32"),
]


@pytest.mark.parametrize("isa", SUPPORTED_ISAS)
@pytest.mark.parametrize("case", ISA_CASES, ids=lambda c: c.id)
def test_every_instruction_set_gives_the_same_bits(case: Case, isa: str) -> None:
    assert check_against_torch_impl(case, isa) == []
    args, _ = _neutral(case)
    best = cpu_kernel.scan_forward(*args)
    mine = cpu_kernel.scan_forward(*args, isa_name=isa)
    upstream = _upstream(case, best)
    best_g = cpu_kernel.scan_backward(*upstream, *args)
    mine_g = cpu_kernel.scan_backward(*upstream, *args, isa_name=isa)
    for name, a, b in zip(OUTPUTS + GRADIENTS, best + best_g, mine + mine_g, strict=True):
        assert torch.equal(a, b), name


def test_reports_its_instruction_set() -> None:
    assert cpu_kernel.isa() in cpu_kernel.ISAS
    assert cpu_kernel.unavailable_reason() == ""
    if cpu_kernel.isa() != "avx512":
        higher = cpu_kernel.ISAS[cpu_kernel.ISAS.index(cpu_kernel.isa()) + 1]
        args, _ = _neutral(Case("spiking"))
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
]  # fmt: skip


@pytest.fixture
def pool() -> Iterator[None]:
    before = cpu_kernel.thread_pool()
    yield
    cpu_kernel.thread_pool(before)


@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: c.id)
def test_threads_do_not_change_results(case: Case, num_threads: None, pool: None) -> None:
    args, _ = _neutral(case)
    results = []
    # torch loads an OpenMP runtime on Linux; the kernel then uses its pool by default
    pools = ["openmp", "threads"] if cpu_kernel.thread_pool() == "openmp" else ["threads"]
    for use in pools:
        cpu_kernel.thread_pool(use)
        assert cpu_kernel.thread_pool() == use
        for threads in (1, 3):
            torch.set_num_threads(threads)
            out = cpu_kernel.scan_forward(*args)
            grads = cpu_kernel.scan_backward(*_upstream(case, out), *args)
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
    args, _ = _neutral(case)
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
    args, _ = _neutral(case)
    out = cpu_kernel.scan_forward(*args)
    grads = cpu_kernel.scan_backward(*_upstream(case, out), *args)
    inputs = [t for t in args[:5] if t.numel()]
    results = [t for t in out + grads if t.numel()]
    assert len(results) == len(OUTPUTS + GRADIENTS)
    pointers = [t.data_ptr() for t in results]
    assert len(set(pointers)) == len(pointers)
    assert not {t.data_ptr() for t in inputs} & set(pointers)


def test_refuses_bad_inputs() -> None:
    args, cfg = _neutral(Case("spiking", syn=True))
    x, v0, i0, b0, params, _ = args
    with pytest.raises(ValueError, match="dtype"):
        cpu_kernel.scan_forward(x.half(), v0, i0, b0, params, cfg)
    with pytest.raises(ValueError, match=r"expected torch\.float64"):
        cpu_kernel.scan_forward(x, v0.float(), i0, b0, params, cfg)
    with pytest.raises(ValueError, match="contiguous"):
        cpu_kernel.scan_forward(x.transpose(0, 1).contiguous().transpose(0, 1), *args[1:])
    with pytest.raises(ValueError, match="i0 has shape"):
        cpu_kernel.scan_forward(x, v0, x.new_empty(0), b0, params, cfg)
    with pytest.raises(ValueError, match="must be empty"):
        cpu_kernel.scan_forward(x, v0, i0, v0, params, cfg)
    with pytest.raises(ValueError, match="g_out has shape"):
        cpu_kernel.scan_backward(v0, *[x.new_empty(0)] * 6, *args)


def test_library_links_no_python_or_torch() -> None:
    """The C ABI of torch changes between versions: the library must not depend on it."""
    lib = cpu_kernel._library()
    assert not isinstance(lib, str)
    with open(lib._name, "rb") as f:
        blob = f.read()
    for name in (b"libtorch", b"libc10", b"libpython", b"Py_Initialize"):
        assert name not in blob, name
