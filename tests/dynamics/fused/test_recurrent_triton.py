"""The fused recurrent loop (``sinabs.dynamics.fused.recurrent``) on the Triton kernels.

The loop is the same for both devices; here it runs the Triton kernels under Triton's
interpreter (``TRITON_INTERPRET=1``, in a subprocess: Triton reads the variable when
sinabs is imported) against the same loop on the C kernels, which
tests/layers/test_recurrent_fused.py checks against the reference loop: outputs, states
and recordings bit for bit, gradients of the input, the initial states, the feedback's
weight and bias and the parameter rows within 1e-5.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HAS_TRITON = importlib.util.find_spec("triton") is not None
INTERPRETER_OK = HAS_TRITON and tuple(
    int(p) for p in importlib.metadata.version("triton").split(".")[:2]
) >= (3, 7)
_MARK = "RECURRENT-REPORT "
CASES = ("spiking", "spiking-syn-record", "adaptive-record")


def _run_case(name: str) -> list[str]:
    import torch
    from torch import nn

    import sinabs.layers as sl
    from sinabs.dynamics.fused import cpu_kernel, recurrent
    from sinabs.dynamics.fused import triton_kernel as tk
    from sinabs.dynamics.fused.config import prepare

    torch.manual_seed(0)
    batch, steps, n = 2, 7, 9
    record = "record" in name
    if name.startswith("adaptive"):
        layer = sl.ALIF(10.0, 20.0, record_states=record).double()
        family, states = "adaptive", ("v_mem", "b")
    else:
        syn = "syn" in name
        layer = sl.LIF(10.0, tau_syn=4.0 if syn else None, record_states=record).double()
        family, states = "spiking", ("v_mem", "i_syn") if syn else ("v_mem",)
    linear = nn.Linear(n, n).double()
    x = torch.rand(batch, steps, n, dtype=torch.float64) * 12.0  # (normalised input: it spikes)
    state = {s: torch.rand(batch, n, dtype=torch.float64) * 0.3 for s in states}
    params = layer._dynamics_params(torch.float64)
    prepared = prepare(family, x, state, params)
    assert not isinstance(prepared, str)
    cfg = prepared.config.with_record(record)
    failures: list[str] = []
    results = {}
    for label, kernels in (("cpu", cpu_kernel), ("triton", tk)):
        xs = prepared.x.clone().requires_grad_()
        initial = [s.clone().requires_grad_() if s.numel() else s for s in prepared.states]
        rows = [r.clone().requires_grad_() for r in prepared.rows]
        job = type(prepared)(xs, tuple(initial), tuple(rows), cfg, prepared.neuron_shape)
        linear.zero_grad()
        outputs = recurrent.scan(kernels, job, cfg, linear)
        loss = sum((0.5 + k) * t.sum() for k, t in enumerate(outputs[:-1]) if t.numel())
        wrt = [xs, *[s for s in initial if s.requires_grad], *rows, *linear.parameters()]
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        results[label] = ([t.detach() for t in outputs], grads)
    (cpu_out, cpu_grads), (tri_out, tri_grads) = results["cpu"], results["triton"]
    for k, (a, b) in enumerate(zip(cpu_out, tri_out, strict=True)):
        if not torch.equal(a, b):
            failures.append(f"output {k} differs")
    for k, (a, b) in enumerate(zip(cpu_grads, tri_grads, strict=True)):
        if (a is None) != (b is None):
            failures.append(f"gradient {k}: one is None")
        elif a is not None and not torch.allclose(
            a, b, rtol=1e-5, atol=1e-5 * float(a.abs().max())
        ):
            failures.append(f"gradient {k} differs by {float((a - b).abs().max()):.3g}")
    if cpu_out[0].sum() == 0:
        failures.append("no spikes: the case checks nothing")
    return failures


@pytest.fixture(scope="module")
def interpreted() -> dict[str, list[str]]:
    if not HAS_TRITON:
        pytest.skip("triton is not installed (pip install 'sinabs[gpu]')")
    if not INTERPRETER_OK:
        pytest.skip("the interpreter of triton < 3.7 fails on scalar arguments (numpy 2.4)")
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve())],
        capture_output=True,
        text=True,
        env={**os.environ, "TRITON_INTERPRET": "1"},
        timeout=600,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(_MARK)]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"the interpreter run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(_MARK) :])


@pytest.mark.parametrize("name", CASES)
def test_recurrent_loop_on_triton_equals_the_cpu_kernels(
    interpreted: dict[str, list[str]], name: str
) -> None:
    assert interpreted[name] == []


if __name__ == "__main__":
    report: dict[str, list[str]] = {}
    for case in CASES:
        try:
            report[case] = _run_case(case)
        except Exception as error:  # reported per case
            report[case] = [f"{type(error).__name__}: {error}"]
    print(_MARK + json.dumps(report))
