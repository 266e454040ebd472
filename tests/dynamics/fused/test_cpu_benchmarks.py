"""The benchmark scripts for work on the CPU kernel run end to end (at a tiny size).

``benchmarks/ab_cpu.py`` (two builds side by side), ``benchmarks/segments_cpu.py``
(the backward of long sequences by segment length) and ``benchmarks/bench_cpu_env.py``
(allocator set-ups and peers) are run by hand when the kernel changes; these runs keep
them from rotting in between. Their timings mean nothing here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinabs.dynamics.fused import cpu_kernel

ROOT = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.skipif(
    not cpu_kernel.available(),
    reason=f"the CPU kernel is not built: {cpu_kernel.unavailable_reason()}",
)


def _run(script: str, args: list[str], tmp_path: Path) -> dict:
    out = tmp_path / "result.json"
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args, "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_segments_script(tmp_path: Path) -> None:
    args = ["--size", "1x300x64", "--layers", "LIF", "ALIF_syn", "--steps", "64"]
    result = _run("segments_cpu.py", [*args, "--rounds", "1", "--threads", "1"], tmp_path)
    rows = {(r["layer"], r["segments"]): r for r in result["rows"]}
    assert set(rows) == {(layer, s) for layer in ("LIF", "ALIF_syn") for s in ("auto", "one", "64")}
    for layer in ("LIF", "ALIF_syn"):
        assert rows[layer, "one"]["n_segments"] == rows[layer, "auto"]["n_segments"] == 1
        assert rows[layer, "64"]["n_segments"] == 5  # ceil(300 / 64)
        assert rows[layer, "64"]["scratch_MiB"] < rows[layer, "one"]["scratch_MiB"]


def test_ab_script(tmp_path: Path) -> None:
    lib = cpu_kernel._library()
    assert not isinstance(lib, str)
    args = ["--a", lib._name, "--b", lib._name, "--sizes", "1x20x64", "--layers", "LIF"]
    args += ["--rounds", "1", "--threads", "1", "--budget", "0.02"]
    result = _run("ab_cpu.py", args, tmp_path)
    (row,) = result["rows"]
    assert row["layer"] == "LIF" and row["size"] == [1, 20, 64]
    assert row["a_train_ms"] > 0 and row["b_train_ms"] > 0 and row["train_b_over_a"] > 0


def test_default_environment_script(tmp_path: Path) -> None:
    """bench_cpu_env.py: each allocator set-up in its own process, as the JSON says."""
    args = ["--size", "2x10x64", "--rounds", "1", "--budget", "0.02"]
    args += ["--variants", "fused", "fused-untuned", "fused-env", "unbind"]
    result = _run("bench_cpu_env.py", args, tmp_path)
    summary, runs = result["summary"], result["runs"]
    assert list(summary) == ["fused", "fused-untuned", "fused-env", "unbind"]
    tuned = runs["fused"][0]["tuning"]
    assert tuned["applied"] and tuned["settings"] == {"mmap": 2**30, "trim": 2**30}
    assert runs["fused-untuned"][0]["tuning"]["applied"] is False
    # GLIBC_TUNABLES sets both thresholds there: sinabs leaves them alone
    assert runs["fused-env"][0]["tuning"]["settings"] == {}
    for s in summary.values():
        assert s["fwd_ms"] > 0 and s["train_over_floor"] > 0
    assert result["fused_speedup_over"]["unbind"]["train"] > 0
    assert set(result["first_touch"]) == {
        f"{kind}_{t}t_ms" for kind in ("fresh", "reused") for t in (1, 2)
    }
