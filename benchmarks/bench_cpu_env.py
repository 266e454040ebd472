"""The fused CPU backend in the environment a user has: allocator variants side by side.

Times a default ``sl.LIF(tau_mem=20.0)`` (fused CPU backend), forward and
forward+backward, in several set-ups of the memory allocator, next to a plain PyTorch
loop over ``x.unbind(1)`` with the same LIF and SpikingJelly's multi-step ``LIFNode``
(when installed), against the memory-bandwidth floor of ``bench_cpu.py`` measured in
each process. Each (variant, round) runs in a fresh process; rounds are interleaved
(every variant once per round), so drift on a shared machine hits all variants alike.
Reports medians over the rounds of each process's median call (and of its fastest call:
on a shared machine a call whose thread was preempted is slower, the fastest one
estimates the undisturbed time), the spread over the rounds (min to max), the minor
page faults per call, and the ratios to the floor; writes JSON.

    python benchmarks/bench_cpu_env.py --out benchmarks/results/cpu_default_env_2core.json

Variants (``--variants``; every one starts from the environment this script was
started in, less the allocator variables below):

* ``fused``: nothing set: what a user gets (sinabs tunes glibc's allocator on the
  kernel's first use, :mod:`sinabs.allocator`);
* ``fused-untuned``: ``SINABS_NO_ALLOCATOR_TUNING=1``: the default environment as it
  was before that tuning;
* ``fused-thp``: ``THP_MEM_ALLOC_ENABLE=1`` and no tuning (huge pages only);
* ``fused-env``: ``bench_cpu.ALLOCATOR_ENV`` (the README's variables, set at start-up);
* ``fused-thp-tuned``: ``THP_MEM_ALLOC_ENABLE=1`` with sinabs's tuning;
* ``unbind``: the plain loop, default environment (sinabs not imported);
* ``unbind-tuned``: the plain loop after ``sinabs.set_allocator_tuning(True)``;
* ``spikingjelly``: SpikingJelly's ``LIFNode`` (torch backend, multi-step), default
  environment; skipped when it is not installed.

Each round also times writing one fresh (page-faulted) or reused (B, T, N) tensor on
1 and 2 threads (``first_touch`` in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_cpu  # noqa: E402  (next to this file)

OPT_OUT = "SINABS_NO_ALLOCATOR_TUNING"
ALLOCATOR_VARIABLES = (*bench_cpu.ALLOCATOR_ENV, OPT_OUT)
VARIANTS: dict[str, dict[str, str]] = {
    "fused": {},
    "fused-untuned": {OPT_OUT: "1"},
    "fused-thp": {OPT_OUT: "1", "THP_MEM_ALLOC_ENABLE": "1"},
    "fused-env": dict(bench_cpu.ALLOCATOR_ENV),
    "fused-thp-tuned": {"THP_MEM_ALLOC_ENABLE": "1"},
    "unbind": {},
    "unbind-tuned": {},
    "spikingjelly": {},
}
TAU_MEM = 20.0


# ---------------------------------------------------------------- the layers timed


def _unbind_lif(torch: Any) -> Callable[[Any], Any]:
    """A LIF layer as a plain PyTorch loop over time (sinabs's equations: normalised
    input, spike at v >= 1, reset by subtraction, single-exponential surrogate)."""
    alpha = float(torch.exp(torch.tensor(-1.0 / TAU_MEM)))

    class Spike(torch.autograd.Function):
        @staticmethod
        def forward(ctx: Any, v: Any) -> Any:
            ctx.save_for_backward(v)
            return (v >= 1.0).to(v.dtype)

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            (v,) = ctx.saved_tensors
            return grad * torch.exp(-(v - 1.0).abs())

    def layer(x: Any) -> Any:
        v = torch.zeros_like(x[:, 0])
        out = []
        for xt in x.unbind(1):
            v = alpha * v + (1 - alpha) * xt
            s = Spike.apply(v)
            v = v - s
            out.append(s)
        return torch.stack(out, 1)

    return layer


def _callables(variant: str, torch: Any, x: Any, grad: Any) -> tuple[Any, Any]:
    """``(forward, train)`` of one variant: each runs one call."""
    if variant.startswith("fused"):
        import sinabs.layers as sl

        lif = sl.LIF(tau_mem=TAU_MEM, backend="cpu")
        run, x_in, g_in = lif, x, grad

        def reset() -> None:
            lif.reset_states()

    elif variant.startswith("unbind"):
        if variant == "unbind-tuned":
            import sinabs

            sinabs.set_allocator_tuning(True)
        run, x_in, g_in = _unbind_lif(torch), x, grad

        def reset() -> None:
            pass

    else:
        from spikingjelly.activation_based import functional, neuron

        node = neuron.LIFNode(
            tau=TAU_MEM, decay_input=True, v_threshold=1.0, v_reset=None, step_mode="m"
        )
        # SpikingJelly's multi-step layout is (T, B, N): given to it ready, untimed
        run, x_in, g_in = node, x.transpose(0, 1).contiguous(), grad.transpose(0, 1).contiguous()

        def reset() -> None:
            functional.reset_net(node)

    xg = x_in.clone().requires_grad_(True)

    def fwd() -> None:
        with torch.no_grad():
            run(x_in)
        reset()

    def train() -> None:
        run(xg).backward(g_in)
        reset()
        xg.grad = None

    return fwd, train


def _times_ms(fn: Callable[[], None], budget_s: float, max_reps: int) -> list[float]:
    """Sorted wall times of ``fn`` (ms): one warm-up call, then calls until ``budget_s``
    has passed (at least 3) or ``max_reps`` were timed."""
    fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_reps and (time.perf_counter() - start < budget_s or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        times.append(1e3 * (time.perf_counter() - t0))
    return sorted(times)


def _faults_per_call(fn: Callable[[], None], calls: int = 5) -> float:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def _child(variant: str, size: tuple[int, int, int], threads: int, budget_s: float) -> dict:
    import torch

    from sinabs.benchmarking.layers import bench_inputs

    torch.set_num_threads(threads)
    x, grad = bench_inputs("LIF", size)
    fwd, train = _callables(variant, torch, x, grad)
    bandwidth = bench_cpu._bandwidth(torch, budget_s)
    slow = variant in ("unbind", "unbind-tuned", "spikingjelly")
    reps, calls = (3, 2) if slow else (400, 5)
    fwd_times = _times_ms(fwd, budget_s, reps)
    fwd_faults = _faults_per_call(fwd, calls)
    train_times = _times_ms(train, budget_s, reps)
    train_faults = _faults_per_call(train, calls)
    result: dict[str, Any] = {
        "bandwidth_GBps": bandwidth / 1e9,
        "fwd_ms": statistics.median(fwd_times),
        "train_ms": statistics.median(train_times),
        "fwd_min_ms": fwd_times[0],
        "train_min_ms": train_times[0],
        "calls_timed": [len(fwd_times), len(train_times)],
        "fwd_faults_per_call": fwd_faults,
        "train_faults_per_call": train_faults,
    }
    if variant.startswith("fused") or variant == "unbind-tuned":
        import sinabs

        result["tuning"] = sinabs.allocator_tuning()
    return result


def _touch_child(size: tuple[int, int, int], budget_s: float) -> dict[str, float]:
    """Writing one (B, T, N) float32 tensor, untuned: fresh (``torch.empty`` then
    ``fill_``, so every page is faulted in by the threads that write it) or reused, on
    1 and 2 threads: whether faulting pages from more threads (what the kernel does)
    makes fresh memory cheap."""
    import torch

    n = size[0] * size[1] * size[2]
    out: dict[str, float] = {}
    reused = torch.empty(n)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        fresh = _times_ms(lambda: torch.empty(n).fill_(1.0), budget_s / 2, 200)
        again = _times_ms(lambda: reused.fill_(1.0), budget_s / 2, 200)
        out[f"fresh_{threads}t_ms"] = statistics.median(fresh)
        out[f"reused_{threads}t_ms"] = statistics.median(again)
    return out


def _run_child(variant: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR_VARIABLES}
    env.update(VARIANTS.get(variant, {OPT_OUT: "1"}))
    command = [sys.executable, os.path.abspath(__file__), "--child", variant]
    command += ["--size", "x".join(map(str, args.size)), "--threads", str(args.threads)]
    command += ["--budget", str(args.budget)]
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{variant}: child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- the report


def _summary(runs: list[dict[str, Any]], nbytes: int) -> dict[str, Any]:
    """Medians over rounds, spreads, and ratios to each process's floor."""
    out: dict[str, Any] = {}
    for key in ("fwd_ms", "train_ms", "fwd_min_ms", "train_min_ms", "bandwidth_GBps",
                "fwd_faults_per_call", "train_faults_per_call"):  # fmt: skip
        values = [r[key] for r in runs]
        out[key] = statistics.median(values)
        out[key.removesuffix("_ms") + "_range"] = [min(values), max(values)]
    for mode, tensors in (("fwd", 2), ("train", 5)):
        for stat in ("", "_min"):
            ratios = [
                r[f"{mode}{stat}_ms"] / (1e3 * tensors * nbytes / (r["bandwidth_GBps"] * 1e9))
                for r in runs
            ]
            out[f"{mode}{stat}_over_floor"] = statistics.median(ratios)
            out[f"{mode}{stat}_over_floor_range"] = [min(ratios), max(ratios)]
    return out


def _have_spikingjelly() -> bool:
    import importlib.util

    return importlib.util.find_spec("spikingjelly") is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/bench_cpu_env.json")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.5, help="seconds per timing")
    parser.add_argument("--size", type=bench_cpu.parse_size, default=(32, 100, 4096))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--child", choices=[*VARIANTS, "touch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "touch":
        print(json.dumps(_touch_child(args.size, args.budget)))
        return
    if args.child:
        print(json.dumps(_child(args.child, args.size, args.threads, args.budget)))
        return
    variants = [v for v in args.variants if v != "spikingjelly" or _have_spikingjelly()]
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    touch: list[dict[str, float]] = []
    loads = []
    started = time.time()
    for k in range(args.rounds):
        loads.append(os.getloadavg()[0])
        for variant in variants:
            r = _run_child(variant, args)
            runs[variant].append(r)
            print(
                f"round {k} {variant:16s} fwd {r['fwd_ms']:7.2f} ms train {r['train_ms']:7.2f} ms"
                f"  faults/call {r['fwd_faults_per_call']:7.0f} {r['train_faults_per_call']:7.0f}"
                f"  [{r['bandwidth_GBps']:.0f} GB/s, load {loads[-1]:.1f}]",
                flush=True,
            )
        touch.append(_run_child("touch", args))
        print(f"round {k} first touch (ms) {touch[-1]}", flush=True)
    nbytes = 4 * args.size[0] * args.size[1] * args.size[2]
    summary = {v: _summary(runs[v], nbytes) for v in variants}
    print(f"\n{'variant':16s} {'fwd ms':>8s} {'x floor':>8s} {'train ms':>9s} {'x floor':>8s}"
          "   (fastest calls: fwd x floor, train x floor)")  # fmt: skip
    for v, s in summary.items():
        print(
            f"{v:16s} {s['fwd_ms']:8.2f} {s['fwd_over_floor']:8.2f} {s['train_ms']:9.2f} "
            f"{s['train_over_floor']:8.2f}   fwd {s['fwd_range'][0]:.2f}-{s['fwd_range'][1]:.2f}"
            f", train {s['train_range'][0]:.2f}-{s['train_range'][1]:.2f}  (fastest "
            f"{s['fwd_min_over_floor']:.2f}, {s['train_min_over_floor']:.2f})"
        )
    speedups: dict[str, dict[str, float]] = {}
    for peer in ("unbind", "unbind-tuned", "spikingjelly"):
        if peer in summary and "fused" in summary:
            speedups[peer] = {
                mode: summary[peer][f"{mode}_ms"] / summary["fused"][f"{mode}_ms"]
                for mode in ("fwd", "train")
            }
            print(f"fused vs {peer}: forward x{speedups[peer]['fwd']:.1f}, "
                  f"forward+backward x{speedups[peer]['train']:.1f}")  # fmt: skip
    import torch

    from sinabs.dynamics.fused import cpu_kernel

    result = {
        "machine": platform.processor() or platform.machine(),
        "isa": cpu_kernel.isa() if cpu_kernel.available() else None,
        "torch": torch.__version__,
        "threads": args.threads,
        "size": list(args.size),
        "layer": f"LIF(tau_mem={TAU_MEM})",
        "rounds": args.rounds,
        "budget_s": args.budget,
        "load_at_rounds": loads,
        "seconds": time.time() - started,
        "variants": {v: VARIANTS[v] for v in variants},
        "summary": summary,
        "fused_speedup_over": speedups,
        "first_touch": {key: statistics.median(t[key] for t in touch) for key in touch[0]},
        "runs": runs,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
