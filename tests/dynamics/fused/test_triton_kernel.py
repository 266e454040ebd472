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
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import torch
from kernel_checks import (
    Case,
    assert_every_option_is_covered,
    check_against_reference,
    check_against_torch_impl,
    float32_variants,
    option_cases,
    unique,
)

from sinabs.dynamics.families import ROW, Family, Surrogate
from sinabs.dynamics.fused import triton_kernel as tk
from sinabs.dynamics.fused.config import KernelConfig
from sinabs.dynamics.models import EXP_CONSTANTS

HAS_TRITON = importlib.util.find_spec("triton") is not None
#: the interpreters of triton 3.0 to 3.6 fail on scalar kernel arguments with numpy 2.4
INTERPRETER_OK = HAS_TRITON and tuple(
    int(p) for p in importlib.metadata.version("triton").split(".")[:2]
) >= (3, 7)


def _cases() -> list[Case]:
    cases = option_cases(Case)
    # shapes: several blocks per batch row (masked tail), 2-d neurons, T = 1 and 0
    cases += [
        Case("spiking", spike="multi", syn=True, neurons=(10,), block=4, steps=12),
        Case("adaptive", neurons=(2, 3), per_neuron=True, record=True),
        Case("spiking", steps=1, syn=True),
        Case("spiking", steps=0, syn=True, record=True),
    ]
    return unique(cases + float32_variants(cases))


CASES = _cases()


# ---------------------------------------------------------------- the checks


def run_case(case: Case, device: str = "cpu") -> list[str]:
    """All failures of ``case`` (empty when it passes)."""
    forward = partial(tk.scan_forward, block=case.block)
    backward = partial(tk.scan_backward, block=case.block)
    try:
        return check_against_torch_impl(case, forward, backward, device) + (
            check_against_reference(case, forward, backward, device)
        )
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
    assert_every_option_is_covered(CASES)


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
    return _compiled(kernel, constexprs, dtype).asm["ptx"]


def _compiled(
    kernel: Any,
    constexprs: dict[str, object],
    dtype: torch.dtype,
    num_warps: int = 4,
    arch: int = 90,
) -> Any:
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if not isinstance(kernel, triton.runtime.JITFunction):
        pytest.skip("the kernels are interpreted in this process (TRITON_INTERPRET is set)")
    if "nvidia" not in triton.backends.backends:
        pytest.skip("triton has no NVIDIA backend on this platform")
    ty = "fp32" if dtype == torch.float32 else "fp64"
    signature = {
        name: "constexpr"
        if name in constexprs
        else "*fp64"
        if name == "sum_ptr"  # the float64 sums of the outputs
        else f"*{ty}"
        if name.endswith("_ptr")
        else "i32"
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
    options = {"num_warps": num_warps, **tk.LAUNCH_OPTIONS}
    return triton.compile(source, target=GPUTarget("cuda", arch, 32), options=options)


def _cfg(family: int, spike: int, reset: int, surrogate: int, **flags: bool) -> KernelConfig:
    opts = {"has_syn": True, "has_leak": True, "norm_input": True, "has_min": True}
    opts |= {"by_amount": False, "record": True, "train_threshold": False} | flags
    return KernelConfig(
        family, opts["has_syn"], opts["has_leak"], opts["norm_input"], opts["has_min"], spike,
        reset, opts["by_amount"], surrogate, opts["record"], (2.0, 0.5, 0.4, 0.15, 4.0, 1.1),
        opts["train_threshold"],
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
    # snnTorch's surrogates (codes 5 to 9), and train_threshold
    "spiking-single-subtract-atan-train": (_cfg(1, 1, 1, 5, train_threshold=True), True),
    "spiking-multi-amount-fastsigmoid": (_cfg(1, 2, 1, 6, by_amount=True), True),
    "adaptive-single-subtract-sigmoid-train": (_cfg(2, 1, 1, 7, train_threshold=True), False),
    "adaptive-max-to_value-triangle-train": (_cfg(2, 3, 2, 8, train_threshold=True), True),
    "spiking-single-subtract-straight": (_cfg(1, 1, 1, 9, has_min=False), True),
}  # fmt: skip
#: the surrogates without exp() (whose float64 library code uses fma)
NO_EXP = {Surrogate.HEAVISIDE, Surrogate.ATAN, Surrogate.FAST_SIGMOID, Surrogate.TRIANGLE,
          Surrogate.STRAIGHT_THROUGH}  # fmt: skip
DTYPES = {"f32": torch.float32, "f64": torch.float64}


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("cfg", FORWARD_CONFIGS.values(), ids=FORWARD_CONFIGS.keys())
def test_forward_compiles_without_fma(cfg: KernelConfig, dtype: torch.dtype) -> None:
    ptx = _ptx(tk._forward_kernel, tk.forward_constexprs(cfg, dtype, 512), dtype)
    assert "fma." not in ptx  # a*b + c contracted would change spikes
    assert "cp.async" in ptx  # the time loop's loads are pipelined (PIPELINE_STAGES)
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
    assert ptx.count("cp.async.commit_group") >= 2  # both time loops are pipelined
    if cfg.surrogate in NO_EXP or cfg.family == 0:  # no exp(), whose f64 library code uses fma
        assert "fma." not in ptx  # the recomputed forward must match the forward


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_adex_kernels_compile_without_fma_with_ieee_division(dtype: torch.dtype) -> None:
    # AdEx's forward bits rest on its divisions by Delta_T, C and tau_w being IEEE and
    # on fixed_exp's operations not being contracted (the triangle surrogate has no exp)
    cfg = _cfg(int(Family.ADEX), 1, 0, int(Surrogate.TRIANGLE), has_syn=False,
               has_leak=False, norm_input=False, has_min=False)  # fmt: skip
    common = {"IS_F32": dtype == torch.float32, "BLOCK": 512, "STAGES": 2}
    common["DEGREE"] = len(EXP_CONSTANTS[dtype].coefficients) - 1
    forward = _ptx(tk._adex_forward_kernel, {"RECORD": True, **common}, dtype)
    upstream = {name: True for name in ("HAS_GV", "HAS_GW", "HAS_GRV", "HAS_GRW")}
    constexprs = {**upstream, **tk._surrogate_constexprs(cfg), **common}
    backward = _ptx(tk._adex_backward_kernel, constexprs, dtype)
    ieee = "div.rn.f32" if dtype == torch.float32 else "div.rn.f64"
    assert "fma." not in forward and ieee in forward
    assert "div.full" not in forward and "div.approx" not in forward
    # the recomputed forward as the forward (the surrogate's division may be fast)
    assert "fma." not in backward and ieee in backward


#: resonate-and-fire's kernels (a pair for both forms): (balanced, surrogate code)
RESONATE_CONFIGS = {
    "resonate-atan": (False, Surrogate.ATAN),
    "resonate-exp": (False, Surrogate.SINGLE_EXPONENTIAL),
    "resonate_balanced-triangle": (True, Surrogate.TRIANGLE),
    "resonate_balanced-gaussian": (True, Surrogate.GAUSSIAN),
}


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize(("balanced", "surrogate"), RESONATE_CONFIGS.values(),
                         ids=RESONATE_CONFIGS.keys())  # fmt: skip
def test_resonate_kernels_compile(balanced: bool, surrogate: Surrogate, dtype: torch.dtype) -> None:
    family = 6 if balanced else 5
    cfg = _cfg(family, 1, 0, int(surrogate), has_syn=False, has_leak=False, norm_input=False,
               has_min=False)  # fmt: skip
    common = {"BALANCED": balanced, "BLOCK": 512, "STAGES": tk.PIPELINE_STAGES}
    ptx = _ptx(tk._rf_forward_kernel, {**common, "RECORD": True}, dtype)
    assert "fma." not in ptx  # a*b + c contracted would change spikes
    flags = ("HAS_GRE", "HAS_GIM", "HAS_GQ", "HAS_GRRE", "HAS_GRIM", "HAS_GRQ")
    constexprs = {**common, **dict.fromkeys(flags, True), **tk._surrogate_constexprs(cfg)}
    ptx = _ptx(tk._rf_backward_kernel, constexprs, dtype)
    assert ptx.count("cp.async.commit_group") >= 2  # both time loops are pipelined
    if surrogate in NO_EXP:  # the recomputed forward must match the forward
        assert "fma." not in ptx


#: shared memory one program may use (opt-in) on the GPUs that pipeline with cp.async:
#: A100 (sm_80), RTX 30x0 and 40x0 (sm_86, sm_89: 99 KiB), H100/H200 (sm_90)
SHARED_LIMITS = {80: 163 * 1024, 86: 99 * 1024, 89: 99 * 1024, 90: 227 * 1024}


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
@pytest.mark.parametrize("arch", SHARED_LIMITS, ids=lambda a: f"sm{a}")
@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_pipelining_stays_within_its_shared_memory(dtype: torch.dtype, arch: int) -> None:
    """The largest block with every per-step load: stages cut to fit the budget, which
    fits every GPU generation that pipelines."""
    assert tk.PIPELINE_SHARED_BYTES <= min(SHARED_LIMITS.values())
    cfg = _cfg(2, 1, 1, 1)  # adaptive, synaptic current, recordings: 8 loads a step
    block, itemsize = tk.MAX_BLOCK, dtype.itemsize
    stages = tk.pipeline_stages(tk.PIPELINE_STAGES, block, itemsize, 8)
    assert 1 < stages < tk.PIPELINE_STAGES
    constexprs = tk.backward_constexprs(cfg, dtype, block, (True,) * 6, stages)
    compiled = _compiled(tk._backward_kernel, constexprs, dtype, num_warps=8, arch=arch)
    assert 0 < compiled.metadata.shared <= tk.PIPELINE_SHARED_BYTES
    forward = tk.forward_constexprs(cfg, dtype, block, tk.pipeline_stages(4, block, itemsize, 1))
    assert forward["STAGES"] == tk.PIPELINE_STAGES  # one load a step: the full depth fits
    compiled = _compiled(tk._forward_kernel, forward, dtype, 8, arch=arch)
    assert compiled.metadata.shared <= tk.PIPELINE_SHARED_BYTES


@pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed")
def test_pipeline_stages() -> None:
    assert tk.pipeline_stages(4, 256, 4, 3) == 4
    assert tk.pipeline_stages(4, 1024, 8, 8) == 2  # 64 KiB a stage: one stage ahead
    assert tk.pipeline_stages(4, 1024, 8, 16) == 1  # nothing fits: no pipelining
    assert tk.pipeline_stages(1, 32, 4, 1) == 1
    with pytest.raises(ValueError, match="stages must be at least 1"):
        tk.pipeline_stages(0, 32, 4, 1)


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
        empty = x.new_empty(0)
        module.scan_forward(x, x[:, 0], empty, empty, empty, x.new_zeros(len(ROW), 3), cfg)


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
