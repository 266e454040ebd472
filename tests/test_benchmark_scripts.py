"""The GPU benchmark scripts run end to end on the CPU (their smoke modes).

They only run for real on a CUDA machine, which CI does not have; these runs keep them
from rotting between the occasions when one is lent: every section of
``gpu_check.py --smoke`` (the kernels under the Triton interpreter, the layers on the
fused CPU backend, opcheck and torch.compile) must pass and write its report.
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

ROOT = Path(__file__).resolve().parent.parent
HAS_TRITON = importlib.util.find_spec("triton") is not None
#: as in tests/dynamics/fused/test_triton_kernel.py: older interpreters fail on numpy 2.4
INTERPRETER_OK = HAS_TRITON and tuple(
    int(p) for p in importlib.metadata.version("triton").split(".")[:2]
) >= (3, 7)

needs_interpreter = pytest.mark.skipif(
    not INTERPRETER_OK, reason="needs triton >= 3.7 (its interpreter runs the kernels)"
)


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **env}
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=full_env,
        timeout=600,
    )


@needs_interpreter
def test_gpu_check_smoke(tmp_path: Path) -> None:
    report_path = tmp_path / "gpu_check.json"
    proc = _run([str(ROOT / "benchmarks" / "gpu_check.py"), str(report_path), "--smoke"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(report_path.read_text())
    assert report["ok"], proc.stdout[-4000:]
    # 16 configurations (5 with snnTorch surrogates or train_threshold), two dtypes
    assert len(report["kernel_checks"]) == 32 and len(report["layer_checks"]) == 8
    # the spiking configurations spike (norm_input ones too): spikes and resets are checked
    rates = [r["spikes_per_neuron_step"] for r in report["kernel_checks"]]
    assert all(rate > 0.1 for rate in rates if rate is not None), rates
    assert report["operator"] == {
        "opcheck_ok": True,
        "compile_LIF_ok": True,
        "compile_ALIF_ok": True,
        "ok": True,
    }
    assert len(report["timings"]) == 8
    assert all(row["cpu_train_ms"] > 0 for row in report["timings"])


@needs_interpreter
def test_gpu_sweep_smoke(tmp_path: Path) -> None:
    """Two stage counts and the current kernel file as a baseline: same results."""
    report_path = tmp_path / "sweep.json"
    baseline = ROOT / "src" / "sinabs" / "dynamics" / "fused" / "triton_kernel.py"
    args = [str(ROOT / "benchmarks" / "gpu_sweep.py"), str(report_path)]
    args += ["--stages", "1", "4", "--baseline", str(baseline)]
    proc = _run(args, tmp_path, SWEEP_SMOKE="1")
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = json.loads(report_path.read_text())["rows"]
    assert [row["layer"] for row in rows] == ["LIF", "IAF", "ALIF", "ExpLeak"]
    for row in rows:
        for label in ("baseline", "s1", "s4"):
            assert row[f"{label}_fwd_ms"] > 0 and row[f"{label}_train_ms"] > 0


def test_gpu_profile_smoke(tmp_path: Path) -> None:
    """The profile of the small layers (fused CPU backend in smoke mode)."""
    out = tmp_path / "profile"
    args = [str(ROOT / "benchmarks" / "gpu_profile.py"), str(out), "--smoke", "--steps", "20"]
    proc = _run(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    summary = json.loads((out / "summary.json").read_text())
    for name in ("LIF", "ALIF"):
        phases = summary[name]
        assert 0 < phases["forward_ms"] < phases["step_ms"]
        assert 0 < phases["backward_ms"] < phases["step_ms"]
        assert "_EagerScan" in (out / f"{name}_ops.txt").read_text()
        assert json.loads((out / f"{name}_trace.json").read_text())["traceEvents"]
