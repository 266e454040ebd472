"""sinabs.allocator: glibc's allocator tuned once on the CPU kernel's first use, opt-out.

Each case runs in a fresh Python process (the tuning is process-wide and happens once).
Whether it took effect is read from glibc itself: after tuning, a 52 MB ``malloc``
comes from the heap; untuned, glibc maps it (``mallinfo2().hblkhd`` grows).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import sinabs
from sinabs.dynamics.fused import cpu_kernel

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.skipif(
        platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
        reason="the tuning uses glibc's mallopt; other C libraries are left alone",
    ),
    pytest.mark.skipif(not cpu_kernel.available(), reason="needs the compiled CPU kernel"),
]

# Prints, as JSON: whether a 52 MB block was mapped (not from the heap) before and after
# the layer calls, the tuning state, and how often the tuning reached mallopt.
_PRELUDE = textwrap.dedent(
    """
    import ctypes, json, sys
    import torch
    import sinabs
    import sinabs.allocator as alloc
    import sinabs.layers as sl

    libc = ctypes.CDLL("libc.so.6")
    fields = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    kind = ctypes.c_size_t if hasattr(libc, "mallinfo2") else ctypes.c_int
    class Info(ctypes.Structure):
        _fields_ = [(n, kind) for n in fields.split()]
    info = libc.mallinfo2 if hasattr(libc, "mallinfo2") else libc.mallinfo
    info.restype = Info
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]

    def mapped() -> bool:
        before = info().hblkhd
        p = libc.malloc(52 * 2**20)
        grew = info().hblkhd - before >= 52 * 2**20
        libc.free(p)
        return grew

    calls = []
    real_apply = alloc._apply
    def counting_apply(lib):
        calls.append(1)
        return real_apply(lib)
    alloc._apply = counting_apply

    def use_kernel(times=3):
        layer = sl.LIF(tau_mem=20.0, backend="cpu")
        x = torch.rand(2, 5, 8, requires_grad=True)
        for _ in range(times):
            layer(x).sum().backward()
            layer.reset_states()
    """
)


def _run(body: str, **env: str) -> dict:
    code = _PRELUDE + textwrap.dedent(body)
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SINABS_NO_ALLOCATOR_TUNING", "GLIBC_TUNABLES")
    }
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH", "")) if p
    )
    full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


_REPORT = """
before = mapped()
use_kernel()
print(json.dumps({"before": before, "after": mapped(), "calls": len(calls),
                  "state": sinabs.allocator_tuning()}))
"""


def test_tuned_once_on_first_kernel_use() -> None:
    body = _REPORT.replace("use_kernel()", "use_kernel(); sinabs.allocator.tune_for_kernels()")
    out = _run(body)
    assert out["before"] is True  # glibc's own behaviour until the kernel is used
    assert out["after"] is False  # large blocks now come from the heap
    assert out["calls"] == 1  # three training steps and an explicit call: tuned once
    assert out["state"] == {
        "enabled": True,
        "applied": True,
        "settings": {"mmap": 2**30, "trim": 2**30},
    }


@pytest.mark.parametrize("value", ["1", "yes"])
def test_environment_variable_opts_out(value: str) -> None:
    out = _run(_REPORT, SINABS_NO_ALLOCATOR_TUNING=value)
    assert out["before"] is True and out["after"] is True  # mallopt untouched
    assert out["calls"] == 0
    assert out["state"] == {"enabled": False, "applied": False, "settings": {}}


def test_zero_does_not_opt_out() -> None:
    out = _run(_REPORT, SINABS_NO_ALLOCATOR_TUNING="0")
    assert out["after"] is False and out["calls"] == 1


def test_function_opts_out_before_first_use() -> None:
    out = _run("sinabs.set_allocator_tuning(False)\n" + _REPORT)
    assert out["after"] is True and out["calls"] == 0
    assert out["state"]["applied"] is False


def test_function_undoes_tuning_and_can_redo_it() -> None:
    body = """
    use_kernel()
    tuned = mapped()
    sinabs.set_allocator_tuning(False)
    off = mapped()
    use_kernel()  # stays off
    still_off = mapped()
    sinabs.set_allocator_tuning(True)
    print(json.dumps({"tuned": tuned, "off": off, "still_off": still_off,
                      "on": mapped(), "calls": len(calls)}))
    """
    out = _run(body)
    assert out == {"tuned": False, "off": True, "still_off": True, "on": False, "calls": 2}


def test_function_overrides_environment_opt_out() -> None:
    out = _run("sinabs.set_allocator_tuning(True)\n" + _REPORT, SINABS_NO_ALLOCATOR_TUNING="1")
    assert out["after"] is False and out["calls"] == 1


def test_thresholds_set_by_glibc_tunables_are_left_alone() -> None:
    tunables = "glibc.malloc.mmap_threshold=4294967296"
    out = _run(_REPORT, GLIBC_TUNABLES=tunables)
    assert out["before"] is False  # the tunable keeps 52 MB on the heap already
    assert out["state"]["settings"] == {"trim": 2**30}


def test_rejects_non_bool() -> None:
    with pytest.raises(TypeError, match="enabled must be a bool"):
        sinabs.set_allocator_tuning(1)  # type: ignore[arg-type]


def test_results_bitwise_equal_with_and_without_tuning() -> None:
    body = """
    import hashlib
    torch.manual_seed(0)
    x = (torch.rand(8, 100, 4096) * 0.3).requires_grad_(True)  # 13 MB per tensor
    g = torch.rand(8, 100, 4096)
    layer = sl.LIF(tau_mem=20.0, backend="cpu")
    digests = []
    for _ in range(3):  # later steps reuse freed blocks when tuned
        out = layer(x)
        out.backward(g)
        v = layer.v_mem.detach().clone()
        layer.reset_states()
        for t in (out.detach(), x.grad, v):
            digests.append(hashlib.sha256(t.numpy().tobytes()).hexdigest())
        x.grad = None
    print(json.dumps({"digests": digests, "state": sinabs.allocator_tuning()}))
    """
    tuned = _run(body)
    untuned = _run(body, SINABS_NO_ALLOCATOR_TUNING="1")
    assert tuned["state"]["applied"] and not untuned["state"]["applied"]
    assert tuned["digests"] == untuned["digests"]
    assert len(set(tuned["digests"][:3])) == 3  # the digests tell tensors apart
