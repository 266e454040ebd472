"""GPU check of the Triton kernels: correctness on CUDA, then timings against the reference.

    PYTHONPATH=src python benchmarks/gpu_check.py out/gpu_check.json [--quick]

Four correctness sections, each recorded in the JSON (a failure does not stop the run):

* **kernel**: the Triton kernels against the tests' neutral-form oracle
  (``tests/dynamics/fused/torch_impl.py``) run on the same GPU (plain CUDA PyTorch
  ops), every family and option, float32 and float64, random per-neuron parameters and
  initial states, recordings on: outputs, states and recordings bit-identical,
  gradients within ``rtol=1e-5, atol=1e-5 * max|ref|``;
* **layers**: LIF, IAF, ALIF and ExpLeak variants with ``backend="triton"`` against
  ``backend="reference"`` (two calls, so the second starts from a non-zero state):
  spikes and states identical, gradients of the input and of every parameter close;
* **operator**: ``torch.library.opcheck`` of ``sinabs::neuron_scan`` on CUDA tensors
  (the Triton kernels behind the dispatcher), and LIF/ALIF layers under ``torch.compile``
  (inductor) against eager: spikes identical, gradients close;
* **matrix**: the CUDA tests of ``tests/dynamics/fused/test_triton_kernel.py`` (every
  spike function x reset x surrogate, small sizes) in a pytest subprocess, run last
  with the time left of ``--total-limit``.

Timings (median wall time with a device synchronisation, after a warm-up that compiles),
between the layer and operator sections: forward and forward+backward of each layer on
both backends, and of the bare kernels, at the sizes of the issue, with the memory floor
from a device copy measured in the same run (forward moves 2 tensors of B*T*N, training
5; see benchmarks/bench_cpu.py). Timing starts no new row ``--time-limit`` seconds after
it began. The JSON report is rewritten after every section, so a run cut short still
leaves what it measured.

``--smoke`` runs every section at a tiny size on the CPU (the Triton interpreter for
the kernel sections, the fused CPU backend in place of "triton" for the layers), to
check the script itself on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: where the tests' neutral-form oracle (torch_impl.py) lives
ORACLE_DIR = ROOT / "tests" / "dynamics" / "fused"
SIZES = [(16, 500, 16384), (32, 100, 128), (32, 100, 4096), (8, 1000, 1024), (128, 50, 16384)]
LAYERS = ("LIF", "IAF", "ALIF", "ExpLeak")
CHECK_SIZE = (4, 300, 2000)
TIME_LIMIT_S = 200.0  # default: stop timing new rows this long after timing began


# ---------------------------------------------------------------- kernel configurations


def kernel_configs() -> dict[str, Any]:
    """Neutral-form configurations: every family and option (see .config.KernelConfig)."""
    from sinabs.dynamics.fused.config import KernelConfig

    def cfg(family: int, spike: int, reset: int, surrogate: int, **kw: Any) -> KernelConfig:
        opts = {"syn": False, "leak": True, "norm": False, "min": False, "amount": False}
        opts["train"] = False  # train_threshold
        opts |= kw
        fconfig = {
            0: (0.4,),
            1: (0.5, 1.3),
            2: (0.4, 0.9),
            3: (0.1, 0.4, 1.2),
            4: (0.05, 0.5, 0.15, 4.0, 1.1),
            5: (2.5,),  # ATan(alpha)
            6: (5.0,),  # FastSigmoid(slope)
            7: (4.0,),  # Sigmoid(slope)
            8: (0.7,),  # Triangle(width)
            9: (),  # StraightThrough
        }[surrogate]
        return KernelConfig(
            family, opts["syn"], opts["leak"], opts["norm"] and opts["leak"], opts["min"],
            spike, reset, opts["amount"], surrogate, True,
            (3.0 if spike == 3 else -1.0, *fconfig) + (0.0,) * (5 - len(fconfig)), opts["train"],
        )  # fmt: skip

    return {
        "ExpLeak": cfg(0, 0, 0, 0),
        "ExpLeak-syn-norm-min": cfg(0, 0, 0, 0, syn=True, norm=True, min=True),
        "ExpLeak-noleak-syn": cfg(0, 0, 0, 0, leak=False, syn=True),
        "LIF-multi-subtract-exp-norm": cfg(1, 2, 1, 1, norm=True),
        "LIF-single-reset-gaussian-syn-min": cfg(1, 1, 2, 3, syn=True, min=True),
        "LIF-max-amount-periodic": cfg(1, 3, 1, 2, amount=True),
        "IAF-multi-subtract-heaviside": cfg(1, 2, 1, 0, leak=False),
        "IAF-single-subtract-multigaussian-syn-min": cfg(
            1, 1, 1, 4, leak=False, syn=True, min=True
        ),
        "ALIF-single-subtract-exp-norm": cfg(2, 1, 1, 1, norm=True),
        "ALIF-multi-reset-heaviside-syn-min": cfg(2, 2, 2, 0, syn=True, min=True),
        "ALIF-max-amount-gaussian-noleak": cfg(2, 3, 1, 3, leak=False, amount=True),
        # snnTorch's surrogates, train_threshold
        "LIF-single-subtract-atan-train": cfg(1, 1, 1, 5, train=True),
        "LIF-multi-amount-sigmoid-syn-train": cfg(1, 2, 1, 7, syn=True, amount=True, train=True),
        "IAF-max-reset-triangle": cfg(1, 3, 2, 8, leak=False),
        "ALIF-single-subtract-fastsigmoid-norm-train": cfg(2, 1, 1, 6, norm=True, train=True),
        "ALIF-multi-reset-straight-min-train": cfg(2, 2, 2, 9, min=True, train=True),
    }


def kernel_inputs(torch: Any, cfg: Any, size: tuple[int, int, int], dtype: Any, device: str):
    """Random neutral-form inputs with per-neuron parameters."""
    from sinabs.dynamics.families import ROWS

    batch, steps, n = size
    gen = torch.Generator(device=device).manual_seed(0)

    def rand(shape: tuple[int, ...], lo: float, hi: float) -> Any:
        return torch.rand(shape, generator=gen, device=device, dtype=dtype) * (hi - lo) + lo

    # norm_input scales the drive by 1 - alpha_mem (0.01 to 0.2 below): a larger input
    # keeps those spiking configurations spiking
    gain = 20.0 if cfg.norm_input and cfg.family else 1.0
    x = rand((batch, steps, n), -0.5 * gain, (1.0 if cfg.family else 0.5) * gain)
    v0 = rand((batch, n), -0.5, 1.0)
    i0 = rand((batch, n), -0.5, 0.5) if cfg.has_syn else x.new_empty(0)
    b0 = rand((batch, n), 0.0, 0.5) if cfg.family == 2 else x.new_empty(0)
    u0 = x.new_empty(0)  # (Izhikevich's; none of the configurations here)
    # rows of PARAM_ROWS; reset_amount stays positive (a negative amount with
    # MultiSpike makes v grow without bound)
    ranges = [
        (0.8, 0.99),
        (0.5, 0.9),
        (0.5, 1.0),
        (-0.5, -0.1),
        (0.9, 0.99),
        (0.5, 2.0),
        (0.2, 0.6),
    ]
    # the rows of the families not checked here at their exact identities
    ranges += [(row.unused, row.unused) for row in ROWS[len(ranges) :]]
    params = torch.stack([rand((n,), lo, hi) for lo, hi in ranges])
    return x, v0, i0, b0, u0, params


def _close(torch: Any, got: Any, ref: Any) -> tuple[bool, float]:
    if got.shape != ref.shape:
        return False, float("inf")
    if not ref.numel():
        return True, 0.0
    scale = ref.abs().max().item()
    err = (got - ref).abs().max().item()
    return bool(torch.allclose(got, ref, rtol=1e-5, atol=1e-5 * scale)), err / max(scale, 1e-30)


def check_kernels(torch: Any, device: str, size: tuple[int, int, int]) -> list[dict[str, Any]]:
    from sinabs.dynamics.fused import triton_kernel as tk

    sys.path.insert(0, str(ORACLE_DIR))
    import torch_impl  # the tests' neutral-form oracle

    rows = []
    for name, cfg in kernel_configs().items():
        for dtype in (torch.float32, torch.float64):
            row: dict[str, Any] = {"config": name, "dtype": str(dtype), "size": list(size)}
            try:
                args = (*kernel_inputs(torch, cfg, size, dtype, device), cfg)
                got = tk.scan_forward(*args)
                ref = torch_impl.scan_forward(*args)
                names = ("out", "v", "i", "b", "u", "rec_v", "rec_i", "rec_b", "rec_u")
                row["forward_mismatch"] = [
                    n for n, g, r in zip(names, got[:-1], ref[:-1], strict=True)
                    if g.shape != r.shape or not torch.equal(g, r)
                ]  # fmt: skip
                # out_sum: a float64 reduction on each side, in different orders
                row["out_sum_rel_error"] = abs(got[-1].item() - ref[-1].item()) / max(
                    abs(ref[-1].item()), 1e-30
                )
                row["spikes_per_neuron_step"] = ref[0].mean().item() if cfg.family else None
                gen = torch.Generator(device=device).manual_seed(1)
                upstream = [
                    torch.rand(r.shape, generator=gen, device=device, dtype=dtype) - 0.5
                    for r in ref[:-1]
                ]
                g_got = tk.scan_backward(*upstream, *args)
                g_ref = torch_impl.scan_backward(*upstream, *args)
                worst = 0.0
                bad = []
                grads = ("x", "v0", "i0", "b0", "u0", "params")
                for n, g, r in zip(grads, g_got, g_ref, strict=True):
                    ok, err = _close(torch, g, r)
                    worst = max(worst, err)
                    if not ok:
                        bad.append(n)
                row["grad_mismatch"] = bad
                row["grad_max_err_over_max_ref"] = worst
                row["ok"] = not row["forward_mismatch"] and not bad
            except Exception:
                row["ok"], row["error"] = False, traceback.format_exc(limit=3)
            print(f"kernel {name:44s} {dtype!s:14s} {'ok' if row['ok'] else 'FAIL'}", flush=True)
            rows.append(row)
    return rows


# ---------------------------------------------------------------- layers


def layer_variants() -> dict[str, Callable[[str], Any]]:
    import sinabs.activation as sa
    import sinabs.layers as sl

    return {
        "LIF": lambda b: sl.LIF(tau_mem=20.0, backend=b),
        "LIF-syn-single-reset-gaussian-min-train_alphas": lambda b: sl.LIF(
            tau_mem=20.0,
            tau_syn=5.0,
            spike_fn=sa.SingleSpike,
            reset_fn=sa.MembraneReset(),
            surrogate_grad_fn=sa.Gaussian(),
            min_v_mem=-1.0,
            train_alphas=True,
            backend=b,
        ),
        "IAF": lambda b: sl.IAF(backend=b),
        "IAF-max3-periodic-min": lambda b: sl.IAF(
            spike_fn=sa.MaxSpike(3),
            surrogate_grad_fn=sa.PeriodicExponential(),
            min_v_mem=-0.5,
            backend=b,
        ),
        "ALIF": lambda b: sl.ALIF(tau_mem=20.0, tau_adapt=100.0, backend=b),
        "ALIF-syn-multi-train_alphas": lambda b: sl.ALIF(
            tau_mem=20.0,
            tau_adapt=100.0,
            tau_syn=5.0,
            spike_fn=sa.MultiSpike,
            train_alphas=True,
            backend=b,
        ),
        "ExpLeak": lambda b: sl.ExpLeak(tau_mem=20.0, backend=b),
        "ExpLeak-min-train_alphas": lambda b: sl.ExpLeak(
            tau_mem=20.0, min_v_mem=-0.2, train_alphas=True, backend=b
        ),
    }


def check_layers(
    torch: Any, device: str, fused: str, size: tuple[int, int, int]
) -> list[dict[str, Any]]:
    rows = []
    for name, make in layer_variants().items():
        row: dict[str, Any] = {"layer": name, "size": list(size)}
        try:
            gen = torch.Generator(device=device).manual_seed(2)
            # inputs that make every variant spike (LIF and ALIF scale their drive by 1 - α)
            scale = {"LIF": 3.0, "IAF": 0.5, "ALIF": 3.0, "ExpLeak": 1.0}[name.split("-")[0]]
            warm = torch.rand(size, generator=gen, device=device) * scale
            x = torch.rand(size, generator=gen, device=device) * scale - 0.05
            w = torch.rand(size, generator=gen, device=device)
            results = {}
            for backend in ("reference", fused):
                layer = make(backend).to(device)
                with torch.no_grad():
                    layer(warm)  # a non-zero initial state for the checked call
                xg = x.clone().requires_grad_(True)
                out = layer(xg)
                (out * w).sum().backward()
                states = {k: v.detach().clone() for k, v in layer.named_buffers()}
                grads = {"x": xg.grad}
                grads |= {k: p.grad for k, p in layer.named_parameters() if p.grad is not None}
                results[backend] = (out.detach(), states, grads)
            (o_r, s_r, g_r), (o_f, s_f, g_f) = results["reference"], results[fused]
            row["spikes_identical"] = bool(torch.equal(o_r, o_f))
            row["output_mean"] = o_r.mean().item()
            row["states_identical"] = sorted(s_r) == sorted(s_f) and all(
                torch.equal(s_r[k], s_f[k]) for k in s_r
            )
            bad, worst = [], 0.0
            for k in sorted(set(g_r) | set(g_f)):
                if k not in g_r or k not in g_f:
                    bad.append(k)
                    continue
                ok, err = _close(torch, g_f[k], g_r[k])
                worst = max(worst, err)
                if not ok:
                    bad.append(k)
            row["grads"] = sorted(g_r)
            row["grad_mismatch"] = bad
            row["grad_max_err_over_max_ref"] = worst
            row["ok"] = row["spikes_identical"] and row["states_identical"] and not bad
        except Exception:
            row["ok"], row["error"] = False, traceback.format_exc(limit=3)
        print(f"layer  {name:44s} {'ok' if row['ok'] else 'FAIL'}", flush=True)
        rows.append(row)
    return rows


def check_matrix(timeout_s: float) -> dict[str, Any]:
    """The CUDA tests of the test suite in a subprocess."""
    cmd = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        str(ROOT / "tests" / "dynamics" / "fused" / "test_triton_kernel.py"),
        "-k", "test_cuda_kernel_matches",
    ]  # fmt: skip
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT, env=env
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout_s} s"}
    tail = proc.stdout.strip().splitlines()[-1:] or [""]
    print(f"matrix {tail[0]}", flush=True)
    return {"ok": proc.returncode == 0, "summary": tail[0], "output": proc.stdout[-6000:]}


def check_operator(torch: Any, device: str, fused: str) -> dict[str, Any]:
    """opcheck of the custom operator on ``device`` tensors; compiled layers equal eager."""
    import warnings

    import sinabs.activation as sa
    import sinabs.layers as sl
    from sinabs.dynamics.fused import config, ops
    from sinabs.dynamics.params import SpikingParams

    result: dict[str, Any] = {}
    try:
        gen = torch.Generator(device=device).manual_seed(3)
        x = torch.randn(2, 6, 3, generator=gen, device=device, dtype=torch.float64) * 2
        params = SpikingParams(
            alpha_mem=torch.tensor([0.9, 0.8, 0.95], device=device, dtype=torch.float64),
            alpha_syn=torch.tensor(0.7, device=device, dtype=torch.float64),
            norm_input=True,
            min_v_mem=torch.tensor(-0.5, device=device, dtype=torch.float64),
            spike_threshold=torch.tensor(1.0, device=device, dtype=torch.float64),
            spike_fn=sa.MultiSpike,
            reset_fn=sa.MembraneSubtract(),
            surrogate_grad_fn=sa.SingleExponential(),
        )
        state = {
            name: torch.rand(2, 3, generator=gen, device=device, dtype=torch.float64)
            for name in params.state_names
        }
        prepared = config.prepare("spiking", x, state, params)
        assert not isinstance(prepared, str), prepared
        cfg = dataclasses.replace(prepared.config, record=True)
        args = (
            prepared.x.requires_grad_(True),
            prepared.v0.requires_grad_(True),
            prepared.i0.requires_grad_(True),
            prepared.b0,
            prepared.u0,
            *[row.clone().requires_grad_(True) for row in prepared.rows],
            cfg.ints(),
            list(cfg.fconfig),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            torch.library.opcheck(ops.neuron_scan, args)
        result["opcheck_ok"] = True
    except Exception:
        result["opcheck_ok"], result["opcheck_error"] = False, traceback.format_exc(limit=4)
    print(f"opcheck {'ok' if result['opcheck_ok'] else 'FAIL'}", flush=True)

    makers = {
        "LIF": lambda: sl.LIF(10.0, tau_syn=3.0, record_states=True, backend=fused),
        "ALIF": lambda: sl.ALIF(10.0, 20.0, record_states=True, backend=fused),
    }
    for name, make in makers.items():
        try:
            torch._dynamo.reset()
            gen = torch.Generator(device=device).manual_seed(4)
            x = torch.randn(4, 50, 64, generator=gen, device=device) * 3
            w = torch.linspace(-1, 1, x.numel(), device=device).view_as(x)
            outs = []
            for compiled in (False, True):
                layer = make().to(device)
                fn = torch.compile(layer) if compiled else layer
                xx = x.clone().requires_grad_(True)
                out = fn(xx)
                loss = (out * w).sum()
                for rec in layer.recordings.values():
                    loss = loss + rec.as_subclass(torch.Tensor).sum()
                trainable = [p for p in layer.parameters() if p.requires_grad]
                grads = torch.autograd.grad(loss, [xx, *trainable])
                outs.append((out.detach(), grads))
            (o_e, g_e), (o_c, g_c) = outs
            ok = bool(torch.equal(o_e, o_c)) and all(
                _close(torch, c, e)[0] for c, e in zip(g_c, g_e, strict=True)
            )
            result[f"compile_{name}_ok"] = ok
        except Exception:
            result[f"compile_{name}_ok"] = False
            result[f"compile_{name}_error"] = traceback.format_exc(limit=4)
        print(f"compile {name} {'ok' if result[f'compile_{name}_ok'] else 'FAIL'}", flush=True)
    result["ok"] = all(v for k, v in result.items() if k.endswith("_ok"))
    return result


# ---------------------------------------------------------------- timing


def _time(fn: Callable[[], Any], sync: Callable[[], None], budget_s: float, reps: int) -> float:
    """Median wall time of ``fn`` in ms, synchronised, after one warm-up call."""
    # imported here: sinabs (and so torch and triton) only after main() has chosen the
    # Triton interpreter for --smoke
    from sinabs.benchmarking.layers import median_ms

    return median_ms(fn, budget_s, reps, sync)


def _bandwidth(torch: Any, device: str, sync: Callable[[], None]) -> float:
    """Bytes per second of a large copy (read + write)."""
    src = torch.rand(256 * 2**20 // 4, device=device)  # 1 GiB
    dst = torch.empty_like(src)
    ms = _time(lambda: dst.copy_(src), sync, 1.0, 20)
    return 2 * src.numel() * 4 / (ms / 1e3)


KERNEL_OF_LAYER = {
    "LIF": "LIF-multi-subtract-exp-norm",
    "IAF": "IAF-multi-subtract-heaviside",
    "ALIF": "ALIF-single-subtract-exp-norm",
    "ExpLeak": "ExpLeak",
}


def time_row(
    torch: Any, device: str, fused: str, name: str, size: tuple[int, int, int], bandwidth: float
) -> dict[str, Any]:
    """Timings of one layer at one size: both backends through the layer, and the kernels."""
    from sinabs.dynamics.families import STATES
    from sinabs.dynamics.fused import triton_kernel as tk

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    torch.manual_seed(0)
    x = torch.rand(*size, device=device) * (0.3 if name != "ExpLeak" else 1.0)
    grad = torch.rand(*size, device=device)
    row: dict[str, Any] = {"layer": name, "size": list(size)}
    for backend in ("reference", fused):
        layer = layer_variants()[name](backend).to(device)
        xg = x.clone().requires_grad_(True)

        def fwd(layer: Any = layer) -> None:
            with torch.no_grad():
                layer(x)
            layer.reset_states()

        def train(layer: Any = layer, xg: Any = xg) -> None:
            layer(xg).backward(grad)
            layer.reset_states()
            xg.grad = None

        budget, reps = (1.0, 5) if backend == "reference" else (0.5, 50)
        row[f"{backend}_fwd_ms"] = _time(fwd, sync, budget, reps)
        row[f"{backend}_train_ms"] = _time(train, sync, budget, reps)
    # the bare kernels: neutral form, no layer or autograd overhead
    cfg = dataclasses.replace(kernel_configs()[KERNEL_OF_LAYER[name]], record=False)
    inputs = kernel_inputs(torch, cfg, size, torch.float32, device)
    e = inputs[0].new_empty(0)  # absent upstream gradients

    def kfwd() -> None:
        tk.scan_forward(*inputs, cfg)

    def ktrain() -> None:
        tk.scan_forward(*inputs, cfg)
        tk.scan_backward(grad, *[e] * (2 * len(STATES)), *inputs, cfg)

    row["kernel_fwd_ms"] = _time(kfwd, sync, 0.5, 50)
    row["kernel_train_ms"] = _time(ktrain, sync, 0.5, 50)
    nbytes = 4 * size[0] * size[1] * size[2]
    row["floor_fwd_ms"] = 1e3 * 2 * nbytes / bandwidth
    row["floor_train_ms"] = 1e3 * 5 * nbytes / bandwidth
    row["speedup_fwd"] = row["reference_fwd_ms"] / row[f"{fused}_fwd_ms"]
    row["speedup_train"] = row["reference_train_ms"] / row[f"{fused}_train_ms"]
    return row


def time_all(
    torch: Any, device: str, fused: str, sizes: list[tuple[int, int, int]], deadline: float
) -> tuple[float, list[dict[str, Any]]]:
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    bandwidth = _bandwidth(torch, device, sync)
    rows = []
    print(
        f"{'layer':8s} {'size':18s} {fused + ' fwd ms':>12s} {'kernel':>8s} {'floor':>8s} "
        f"{'reference':>10s} {'speedup':>8s} | {fused + ' train ms':>14s} {'kernel':>8s} "
        f"{'floor':>8s} {'reference':>10s} {'speedup':>8s}"
    )
    for size in sizes:
        for name in LAYERS:
            if time.perf_counter() > deadline:
                rows.append({"layer": name, "size": list(size), "skipped": "time limit"})
                print(f"{name:8s} {size!s:18s} skipped (time limit)")
                continue
            row = time_row(torch, device, fused, name, size, bandwidth)
            rows.append(row)
            print(
                f"{name:8s} {size!s:18s} {row[f'{fused}_fwd_ms']:12.3f} "
                f"{row['kernel_fwd_ms']:8.3f} {row['floor_fwd_ms']:8.3f} "
                f"{row['reference_fwd_ms']:10.2f} {row['speedup_fwd']:8.1f} | "
                f"{row[f'{fused}_train_ms']:14.3f} {row['kernel_train_ms']:8.3f} "
                f"{row['floor_train_ms']:8.3f} {row['reference_train_ms']:10.2f} "
                f"{row['speedup_train']:8.1f}",
                flush=True,
            )
            if device == "cuda":
                torch.cuda.empty_cache()
    return bandwidth, rows


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="path of the JSON report")
    parser.add_argument("--quick", action="store_true", help="the two smaller sizes only")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
    parser.add_argument(
        "--time-limit",
        type=float,
        default=TIME_LIMIT_S,
        help="seconds after which timing starts no new row (default %(default)s)",
    )
    parser.add_argument(
        "--total-limit",
        type=float,
        default=600.0,
        help="seconds for the whole run: the CUDA test matrix gets what is left",
    )
    args = parser.parse_args()
    if args.smoke:
        # Before triton is imported (via sinabs): run the kernels in the interpreter.
        os.environ["TRITON_INTERPRET"] = "1"
    sys.path.insert(0, str(ROOT / "src"))
    import torch
    import triton

    import sinabs

    started = time.perf_counter()
    device, fused = ("cpu", "cpu") if args.smoke else ("cuda", "triton")
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device (use --smoke to check the script on the CPU)")
    report: dict[str, Any] = {
        "machine": torch.cuda.get_device_name() if device == "cuda" else platform.machine(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "sinabs": getattr(sinabs, "__version__", "?"),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        report["wall_s"] = time.perf_counter() - started
        out.write_text(json.dumps(report, indent=2))

    check = (2, 12, 40) if args.smoke else CHECK_SIZE
    report["kernel_checks"] = check_kernels(torch, device, check)
    save()
    layer_size = (2, 12, 40) if args.smoke else (4, 200, 1000)
    report["layer_checks"] = check_layers(torch, device, fused, layer_size)
    save()
    sizes = [(2, 6, 8), (2, 4, 40)] if args.smoke else (SIZES[1:3] if args.quick else SIZES)
    deadline = time.perf_counter() + args.time_limit
    bandwidth, report["timings"] = time_all(torch, device, fused, sizes, deadline)
    report["bandwidth_GBps"] = bandwidth / 1e9
    save()
    report["operator"] = check_operator(torch, device, fused)
    save()
    # the matrix last, with what is left of --total-limit
    left = args.total_limit - (time.perf_counter() - started) - 10.0
    report["matrix"] = {"skipped": "smoke"} if args.smoke else check_matrix(max(left, 30.0))
    report["ok"] = (
        all(r["ok"] for r in report["kernel_checks"])
        and all(r["ok"] for r in report["layer_checks"])
        and report["matrix"].get("ok", True)
        and report["operator"]["ok"]
    )
    save()
    print(
        f"{'ALL CHECKS PASSED' if report['ok'] else 'SOME CHECKS FAILED'}; "
        f"bandwidth {report['bandwidth_GBps']:.0f} GB/s; {report['wall_s']:.0f} s; wrote {out}"
    )


if __name__ == "__main__":
    main()
