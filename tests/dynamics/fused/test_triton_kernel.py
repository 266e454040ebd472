"""The Triton kernels of the fused scan against torch_impl and the reference scan.

Without a GPU the kernels run under Triton's interpreter (``TRITON_INTERPRET=1``, numpy
on CPU tensors). Triton reads that variable when a kernel is decorated, i.e. when
:mod:`sinabs` is imported, so the interpreted checks run in **one subprocess** started
by a module fixture: the variable never reaches this pytest process, whatever order the
tests run in. The subprocess runs this file as a script (see the bottom) on the case
ids the session selected and prints a JSON report; each parametrized test then asserts
on its own entry.

Every case checks, in neutral form against :mod:`.torch_impl` and in layer form
(through :func:`~sinabs.dynamics.fused.config.prepare`) against
:func:`~sinabs.dynamics.reference.reference_scan`: outputs, final states and
recordings bit-identical; gradients w.r.t. the input, the initial states and every
parameter within ``rtol=1e-5`` (``atol=1e-5 * max|reference|``).

Also here, in this process: the kernels compiled for sm_90 without a GPU (``triton.compile``;
checks the PTX for FMA contraction and IEEE division), the module without triton, and
the same cases on a CUDA device when there is one.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
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
from sinabs.dynamics.fused import torch_impl
from sinabs.dynamics.fused import triton_kernel as tk
from sinabs.dynamics.fused.config import KernelConfig, prepare
from sinabs.dynamics.params import AdaptiveParams, LeakyParams, SpikingParams
from sinabs.dynamics.reference import reference_scan

HAS_TRITON = importlib.util.find_spec("triton") is not None
#: the interpreters of triton 3.0 to 3.6 fail on scalar kernel arguments with numpy 2.4
INTERPRETER_OK = HAS_TRITON and tuple(
    int(p) for p in importlib.metadata.version("triton").split(".")[:2]
) >= (3, 7)
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
    neurons: tuple[int, ...] = (6,)
    block: int = 16
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
    # shapes: several blocks per batch row (masked tail), 2-d neurons, T = 1 and 0
    cases += [
        Case("spiking", spike="multi", syn=True, neurons=(10,), block=4, steps=12),
        Case("adaptive", neurons=(2, 3), per_neuron=True, record=True),
        Case("spiking", steps=1, syn=True),
        Case("spiking", steps=0, syn=True, record=True),
    ]
    # float32: the same checks (bit-identical spikes) on the main configurations
    f32 = [c for c in cases if c.family == "leaky" or not (c.syn or c.norm or c.min_v)]
    f32 += [c for c in cases if c.per_neuron and c.record]
    cases += [dataclasses.replace(c, dtype="f32") for c in f32]
    return list({c.id: c for c in cases}.values())  # the sweeps overlap


CASES = _cases()


# ---------------------------------------------------------------- the checks


class TritonScan(torch.autograd.Function):
    """The Triton forward and backward as an autograd function (neutral form)."""

    @staticmethod
    def forward(ctx: Any, x, v0, i0, b0, params, cfg, block):  # type: ignore[override]
        ctx.save_for_backward(x, v0, i0, b0, params)
        ctx.cfg, ctx.block = cfg, block
        return tk.scan_forward(x, v0, i0, b0, params, cfg, block=block)

    @staticmethod
    def backward(ctx: Any, *grads):  # type: ignore[override]
        x, v0, i0, b0, params = ctx.saved_tensors
        *grads, g_sum = grads
        if g_sum is not None:  # out_sum = out.sum(), as ops.py folds it
            grads[0] = g_sum.expand(x.shape) if grads[0] is None else grads[0] + g_sum
        grads = [x.new_empty(0) if g is None else g.contiguous() for g in grads]
        g = tk.scan_backward(*grads, x, v0, i0, b0, params, ctx.cfg, block=ctx.block)
        return (*g, None, None)


def _build(case: Case, device: str) -> tuple[torch.Tensor, dict, LeakyParams, list]:
    """Leaf tensors, the state dict and the parameter bundle of ``case``."""
    dtype = torch.float32 if case.dtype == "f32" else torch.float64
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()))
    pshape = case.neurons if case.per_neuron else ()
    leaves: list[torch.Tensor] = []

    def leaf(lo: float, hi: float, shape: tuple[int, ...] = pshape) -> torch.Tensor:
        t = torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo
        t = t.to(device=device, dtype=dtype).requires_grad_()
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
    if name == "out_sum":  # a float64 reduction, in the device's order
        rtol = 1e-6 if got.dtype == torch.float32 else 1e-12
        if not torch.allclose(got.cpu(), ref.cpu(), rtol=rtol, atol=0.0):
            return [f"{name}: {got.item()} != {ref.item()}"]
        return []
    if not torch.equal(got, ref):
        return [f"{name}: differs at {int((got != ref).sum())} elements"]
    return []


def check_against_torch_impl(case: Case, device: str) -> list[str]:
    """Neutral form: forward bit-identical, backward within tolerance."""
    x, state, params, _ = _build(case, device)
    prepared = prepare(case.family, x.detach(), {k: v.detach() for k, v in state.items()}, params)
    assert not isinstance(prepared, str), prepared
    cfg = dataclasses.replace(prepared.config, record=case.record)
    params = torch.stack(prepared.rows).detach()
    args = (prepared.x, prepared.v0, prepared.i0, prepared.b0, params, cfg)
    got = tk.scan_forward(*args, block=case.block)
    ref = torch_impl.scan_forward(*args)
    names = ("out", "v", "i", "b", "rec_v", "rec_i", "rec_b", "out_sum")
    # At T = 0 torch_impl returns (0,) recordings where the op's fake (and the
    # reference) say (B, 0, N); the kernel follows the fake.
    errors = [
        e
        for n, g, r in zip(names, got, ref, strict=True)
        for e in _equal(n, g, r, any_empty=case.steps == 0)
    ]
    gen = torch.Generator().manual_seed(zlib.crc32(case.id.encode()) + 1)
    upstream = [
        torch.rand(r.shape, generator=gen, dtype=torch.float64).to(r) * 2 - 1 for r in ref[:7]
    ]  # out_sum's gradient is folded into g_out by the op (ops.py)
    if case.upstream == "out":
        upstream = [upstream[0]] + [x.new_empty(0)] * 6
    got_g = tk.scan_backward(*upstream, *args, block=case.block)
    ref_g = torch_impl.scan_backward(*upstream, *args)
    names = ("g_x", "g_v0", "g_i0", "g_b0", "g_params")
    for n, g, r in zip(names, got_g, ref_g, strict=True):
        errors += _grads_close(f"torch_impl {n}", g, r)
    return [f"torch_impl {e}" if not e.startswith("torch_impl") else e for e in errors]


def check_against_reference(case: Case, device: str) -> list[str]:
    """Layer form through prepare(): forward bit-identical, all leaf gradients close."""
    x, state, params, leaves = _build(case, device)
    ref_out, ref_state, ref_rec = reference_scan(
        case.family, x, dict(state), params, record=case.record
    )
    prepared = prepare(case.family, x, state, params)
    assert not isinstance(prepared, str), prepared
    cfg = dataclasses.replace(prepared.config, record=case.record)
    params = torch.stack(prepared.rows)  # differentiable: autograd maps row grads to leaves
    got = TritonScan.apply(
        prepared.x, prepared.v0, prepared.i0, prepared.b0, params, cfg, case.block
    )
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


def run_case(case: Case, device: str = "cpu") -> list[str]:
    """All failures of ``case`` (empty when it passes)."""
    try:
        return check_against_torch_impl(case, device) + check_against_reference(case, device)
    except Exception as error:  # reported per case rather than aborting the run
        return [f"{type(error).__name__}: {error}"]


# ---------------------------------------------------------------- pytest

_MARK = "TRITON-REPORT "


@pytest.fixture(scope="module")
def interpreted(request: pytest.FixtureRequest) -> dict[str, list[str]]:
    """Runs the selected cases under TRITON_INTERPRET=1 in one subprocess."""
    if not HAS_TRITON:
        pytest.skip("triton is not installed (pip install 'sinabs[gpu]')")
    if not INTERPRETER_OK:
        pytest.skip("the interpreter of triton < 3.7 fails on scalar arguments (numpy 2.4)")
    wanted = sorted(
        {
            item.callspec.params["case"].id
            for item in request.session.items
            if getattr(item, "module", None) is request.module
            and "case" in getattr(getattr(item, "callspec", None), "params", {})
        }
    )
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        input=json.dumps(wanted),
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARK)]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"the interpreter run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(_MARK) :])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_interpreted_kernel_matches(interpreted: dict[str, list[str]], case: Case) -> None:
    assert case.id in interpreted, "case not run"
    assert interpreted[case.id] == []


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


# every family, spike function and reset (and the leaky options), compiled for the GPU
GPU_CASES = [
    c for c in CASES if c.dtype == "f32" and not (c.syn or c.norm or c.min_v or c.per_neuron)
]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("case", GPU_CASES, ids=lambda c: c.id)
def test_cuda_kernel_matches(case: Case) -> None:
    assert run_case(dataclasses.replace(case, block=128), "cuda") == []


# ---------------------------------------------------------------- compiled for a GPU
# triton.compile needs no GPU: these build the PTX for sm_90 on any machine with the
# NVIDIA backend, catching what the interpreter does not check (types of loop-carried
# values, constexpr branches) and checking the instructions that exactness rests on.


def _ptx(kernel: Any, constexprs: dict[str, object], dtype: torch.dtype) -> str:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if not isinstance(kernel, triton.runtime.JITFunction):
        pytest.skip("the kernels are interpreted in this process (TRITON_INTERPRET is set)")
    if "nvidia" not in triton.backends.backends:
        pytest.skip("triton has no NVIDIA backend on this platform")
    ty = "fp32" if dtype == torch.float32 else "fp64"
    signature = {
        name: "constexpr" if name in constexprs else f"*{ty}" if name.endswith("_ptr") else "i32"
        for name in kernel.arg_names
    }
    if "constexprs" in inspect.signature(ASTSource).parameters:
        source = ASTSource(kernel, signature, constexprs=constexprs)
    else:  # triton 3.0: keys are argument positions, constants apart
        names = kernel.arg_names
        source = ASTSource(
            kernel,
            {k: ty for k, ty in enumerate(signature.values()) if ty != "constexpr"},
            constants={k: constexprs[n] for k, n in enumerate(names) if n in constexprs},
        )
    options = {"num_warps": 4, **tk.LAUNCH_OPTIONS}
    return triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options).asm["ptx"]


def _cfg(family: int, spike: int, reset: int, surrogate: int, **flags: bool) -> KernelConfig:
    opts = {"has_syn": True, "has_leak": True, "norm_input": True, "has_min": True}
    opts |= {"by_amount": False, "record": True} | flags
    return KernelConfig(
        family, opts["has_syn"], opts["has_leak"], opts["norm_input"], opts["has_min"], spike,
        reset, opts["by_amount"], surrogate, opts["record"], (2.0, 0.5, 0.4, 0.15, 4.0, 1.1),
    )  # fmt: skip


FORWARD_CONFIGS = {
    "leaky": _cfg(0, 0, 0, 0),
    **{f"{f}-{s}": _cfg(k, j, 1, 1) for k, f in ((1, "spiking"), (2, "adaptive"))
       for j, s in ((1, "single"), (2, "multi"), (3, "max"))},
    "spiking-no_leak-no_syn": _cfg(1, 2, 2, 0, has_leak=False, has_syn=False),
}  # fmt: skip
BACKWARD_CONFIGS = {
    "leaky": (_cfg(0, 0, 0, 0), True),
    "spiking-multi-subtract-exp": (_cfg(1, 2, 1, 1), True),
    "spiking-single-to_value-gaussian-no_syn": (_cfg(1, 1, 2, 3, has_syn=False), True),
    "adaptive-max-amount-multigaussian-no_leak": (
        _cfg(2, 3, 1, 4, by_amount=True, has_leak=False), False,
    ),
    "adaptive-single-to_value-periodic": (_cfg(2, 1, 2, 2, norm_input=False), True),
    "adaptive-single-subtract-heaviside": (_cfg(2, 1, 1, 0, has_syn=False, record=False), True),
}  # fmt: skip
DTYPES = {"f32": torch.float32, "f64": torch.float64}


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("cfg", FORWARD_CONFIGS.values(), ids=FORWARD_CONFIGS.keys())
def test_forward_compiles_without_fma(cfg: KernelConfig, dtype: torch.dtype) -> None:
    ptx = _ptx(tk._forward_kernel, tk.forward_constexprs(cfg, dtype, 512), dtype)
    assert "fma." not in ptx  # a*b + c contracted would change spikes
    if cfg.spike in (2, 3) and dtype == torch.float32:
        assert "div.rn" in ptx and "div.full" not in ptx and "div.approx" not in ptx


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize(
    ("cfg", "upstream"), BACKWARD_CONFIGS.values(), ids=BACKWARD_CONFIGS.keys()
)
def test_backward_compiles(cfg: KernelConfig, upstream: bool, dtype: torch.dtype) -> None:
    constexprs = tk.backward_constexprs(cfg, dtype, 512, (upstream,) * 6)
    ptx = _ptx(tk._backward_kernel, constexprs, dtype)
    if cfg.surrogate == 0 or cfg.family == 0:  # no exp(), whose f64 library code uses fma
        assert "fma." not in ptx  # the recomputed forward must match the forward


def test_imports_and_explains_without_triton(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh copy of the module with ``import triton`` failing."""
    monkeypatch.setitem(sys.modules, "triton", None)
    monkeypatch.setitem(sys.modules, "triton.language", None)
    spec = importlib.util.spec_from_file_location(
        "sinabs.dynamics.fused._triton_kernel_without_triton", tk.__file__
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert not module.available()
    assert "sinabs[gpu]" in module.unavailable_reason()
    x = torch.zeros(1, 2, 3)
    cfg = KernelConfig(0, False, True, False, False, 0, 0, False, 0, False, (-1.0,) + (0.0,) * 5)
    with pytest.raises(RuntimeError, match=r"sinabs\[gpu\]"):
        module.scan_forward(x, x[:, 0], x.new_empty(0), x.new_empty(0), x.new_zeros(7, 3), cfg)


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize(("batch", "n"), [(1, 1), (2, 10), (32, 128), (16, 16384)])
def test_launch_shape_on_cpu(batch: int, n: int) -> None:
    block, warps = tk.launch_shape(batch, n, torch.device("cpu"))
    assert block & (block - 1) == 0 and tk.MIN_BLOCK <= block <= tk.MAX_BLOCK
    assert block >= n or block == tk.MAX_BLOCK  # one program per row when it fits
    assert 1 <= warps <= 8


if __name__ == "__main__":
    # The interpreter run (TRITON_INTERPRET=1 is set by the fixture above).
    ids = set(json.load(sys.stdin))
    report = {c.id: run_case(c) for c in CASES if c.id in ids}
    print(_MARK + json.dumps(report))
