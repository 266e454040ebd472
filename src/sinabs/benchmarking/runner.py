"""The whole-network benchmark: every framework × network in a fresh process, rounds
interleaved, a table of ratios and a JSON report.

Each measurement (one framework's training step on one network, see
:func:`sinabs.benchmarking.measure.measure`) runs in a process of its own, started
with ``python -m sinabs.benchmarking._child``: a framework timed after another one in
the same process would inherit its heap and threads. The measurements are interleaved:
round ``r`` runs every configuration once, starting at the ``r``-th one, so slow
phases of a shared machine spread over all of them; each configuration's result is the
median over rounds of its per-round medians, with the minimum and maximum.

The processes inherit this process's environment unchanged unless ``allocator`` asks
otherwise: what a user gets without setting anything is what is measured.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .environment import describe
from .measure import FRAMEWORKS, check_framework
from .networks import NETWORKS, check_network
from .peers import PEERS

#: environment of each ``allocator`` setting, added to the inherited one
ALLOCATORS: dict[str, dict[str, str]] = {
    "default": {},
    "thp": {"THP_MEM_ALLOC_ENABLE": "1"},
    "tuned": {
        "GLIBC_TUNABLES": (
            "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
        ),
        "THP_MEM_ALLOC_ENABLE": "1",
    },
}
#: issue 16's targets on the CPU: each network within this factor of its ReLU twin ...
TARGET_OVER_RELU = 1.10
#: ... and the fastest peer at least this many times slower than sinabs on the MLP
TARGET_PEER_SPEEDUP_MLP = 3.0


def _names(given: Sequence[str] | None, known: Sequence[str], what: str) -> list[str]:
    if given is None:
        return list(known)
    if isinstance(given, str) or not all(isinstance(g, str) for g in given):
        raise TypeError(f"{what} must be a list of names; got {given!r}")
    if not given:
        raise ValueError(f"{what} must name at least one of {list(known)}")
    return list(dict.fromkeys(given))


def _child(
    network: str, framework: str, settings: dict[str, Any], env: dict[str, str]
) -> dict[str, Any]:
    """One measurement in a fresh process; ``{"unavailable": why}`` for a peer that
    cannot be imported there or fails (a peer's new version may change its API: the
    report names the error instead of losing every other result)."""
    request = json.dumps({"network": network, "framework": framework, **settings})
    command = [sys.executable, "-m", "sinabs.benchmarking._child", request]
    proc = subprocess.run(command, capture_output=True, text=True, env=env)
    if proc.returncode != 0 and framework in PEERS:
        last = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        return {"unavailable": f"failed on {network}: {last[0]}"}
    if proc.returncode != 0:
        raise RuntimeError(
            f"the measurement of {framework} on {network} failed "
            f"(exit {proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _summary(round_medians: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(round_medians),
        "min_ms": min(round_medians),
        "max_ms": max(round_medians),
    }


def _ratios(results: dict[str, dict[str, Any]], network: str) -> dict[str, float]:
    """sinabs / its ReLU twin, and each peer / sinabs, on medians."""

    def median(framework: str) -> float | None:
        entry = results.get(f"{network}/{framework}")
        return None if entry is None or "median_ms" not in entry else entry["median_ms"]

    ratios: dict[str, float] = {}
    sinabs, relu = median("sinabs"), median("relu")
    if sinabs is not None and relu is not None:
        ratios["sinabs_over_relu"] = sinabs / relu
    for peer in PEERS:
        value = median(peer)
        if sinabs is not None and value is not None:
            ratios[f"{peer}_over_sinabs"] = value / sinabs
    return ratios


def _targets(ratios: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Issue 16's CPU targets against the measured ratios (absent where not measured)."""
    targets: dict[str, Any] = {}
    for network, r in ratios.items():
        if "sinabs_over_relu" in r:
            targets[f"{network}_within_{TARGET_OVER_RELU}x_of_relu"] = {
                "ratio": r["sinabs_over_relu"],
                "met": r["sinabs_over_relu"] <= TARGET_OVER_RELU,
            }
    peers = {k: v for k, v in ratios.get("mlp", {}).items() if k.endswith("_over_sinabs")}
    if peers:
        fastest = min(peers, key=peers.__getitem__)
        targets[f"mlp_{TARGET_PEER_SPEEDUP_MLP}x_faster_than_fastest_peer"] = {
            "fastest_peer": fastest.removesuffix("_over_sinabs"),
            "ratio": peers[fastest],
            "met": peers[fastest] >= TARGET_PEER_SPEEDUP_MLP,
        }
    return targets


def run_network_benchmark(
    networks: Sequence[str] | None = None,
    frameworks: Sequence[str] | None = None,
    rounds: int = 5,
    out: str | os.PathLike[str] | None = None,
    quiet: bool = False,
    *,
    threads: int = 2,
    quick: bool = False,
    allocator: str = "default",
    budget_s: float | None = None,
    seed: int = 0,
    note: str = "",
) -> dict[str, Any]:
    """Times a training step of each network in each framework and compares them.

    Args:
        networks: names from :data:`sinabs.benchmarking.networks.NETWORKS` (default:
            all: ``mlp``, ``conv``, ``recurrent``).
        frameworks: names from :data:`sinabs.benchmarking.measure.FRAMEWORKS` (default:
            all: ``relu``, ``sinabs``, ``snntorch``, ``spikingjelly``, ``norse``); a peer
            that is not installed or fails to import is reported under ``unavailable``.
        rounds: interleaved rounds (each configuration once per round, in a fresh
            process).
        out: path of the JSON report, or None.
        quiet: print nothing (otherwise a line per measurement and the table).
        threads: torch threads of each measurement.
        quick: the smoke size (batch 2, 3-4 steps; a couple of timed steps each).
        allocator: ``"default"`` (the inherited environment), ``"thp"`` or ``"tuned"``
            (see :data:`ALLOCATORS`) for the measuring processes.
        budget_s: seconds of timed steps per measurement (default 3, 0 when ``quick``).
        seed: weights and inputs.
        note: free text stored in the report (the machine, what else ran on it).

    Returns:
        The report: ``note``, ``environment``, ``settings``, ``networks``, ``unavailable``,
        ``results`` (per ``"network/framework"``: every round's raw step times and
        median, activity, losses, bandwidth, load, and the median, minimum and maximum
        over rounds), ``ratios`` and ``targets``.

    Raises:
        ValueError, TypeError: unknown names or bad settings.
        RuntimeError: a measurement of sinabs or of its ReLU twin failed (its stderr is in
            the message; a peer's failure makes it ``unavailable`` instead).

    Example:
        >>> report = run_network_benchmark(["mlp"], ["relu", "sinabs"], rounds=1,
        ...                                quick=True, quiet=True)
        >>> sorted(report["ratios"]["mlp"])
        ['sinabs_over_relu']
    """
    networks = [check_network(n).name for n in _names(networks, list(NETWORKS), "networks")]
    frameworks = [check_framework(f) for f in _names(frameworks, FRAMEWORKS, "frameworks")]
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer; got {rounds!r}")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer; got {threads!r}")
    if allocator not in ALLOCATORS:
        raise ValueError(f"allocator must be one of {sorted(ALLOCATORS)}; got {allocator!r}")
    budget = (0.0 if quick else 3.0) if budget_s is None else float(budget_s)
    if budget < 0:
        raise ValueError(f"budget_s must be >= 0; got {budget_s!r}")
    settings = {
        "quick": quick,
        "threads": threads,
        "budget_s": budget,
        "warmup": 1 if quick else 3,
        "min_steps": 2 if quick else 5,
        "seed": seed,
    }
    env = {**os.environ, **ALLOCATORS[allocator]}
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))

    unavailable: dict[str, str] = {}
    for framework in frameworks:
        module = PEERS.get(framework)
        if module is not None and importlib.util.find_spec(module) is None:
            unavailable[framework] = f"{module} is not installed (pip install 'sinabs[bench]')"
    configs = [(n, f) for n in networks for f in frameworks if f not in unavailable]
    results: dict[str, dict[str, Any]] = {}
    environment = describe(threads, allocator, env)
    for r in range(rounds):
        shift = r % len(configs) if configs else 0
        for network, framework in configs[shift:] + configs[:shift]:
            if framework in unavailable:
                continue
            measured = _child(network, framework, settings, env)
            if "unavailable" in measured:
                unavailable[framework] = measured["unavailable"]
                say(f"{framework}: unavailable ({measured['unavailable']})")
                continue
            entry = results.setdefault(f"{network}/{framework}", {"rounds": []})
            entry["rounds"].append({"round": r, **measured})
            say(
                f"round {r + 1}/{rounds}  {network:9s} {framework:12s} "
                f"{measured['median_ms']:9.2f} ms  ({len(measured['times_ms'])} steps, "
                f"load {measured['load_1min']:.1f}, {measured['bandwidth_GBps']:.0f} GB/s)"
            )
    for key in [k for k in results if k.split("/")[1] in unavailable]:
        del results[key]  # a peer that failed in a later round: no partial results
    for entry in results.values():
        entry["round_medians_ms"] = [m["median_ms"] for m in entry["rounds"]]
        entry.update(_summary(entry["round_medians_ms"]))
    ratios = {n: _ratios(results, n) for n in networks}
    environment["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report = {
        "benchmark": "whole-network training step (forward, backward, Adam step), CPU",
        "note": note,
        "environment": environment,
        "settings": {**settings, "rounds": rounds, "networks": networks, "frameworks": frameworks},
        "networks": {n: NETWORKS[n].description for n in networks},
        "unavailable": unavailable,
        "results": results,
        "ratios": ratios,
        "targets": _targets(ratios),
    }
    if out is not None:
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n")
    say(format_table(report))
    return report


def format_table(report: dict[str, Any]) -> str:
    """The report as a table: per network and framework the median step time, its
    range over rounds, and its ratio (sinabs to its ReLU twin, each peer to sinabs);
    then the targets."""
    lines = [f"{'network':10s} {'framework':13s} {'median ms':>10s}  {'min - max':>19s}  ratio"]
    for network in report["settings"]["networks"]:
        ratios = report["ratios"][network]
        for framework in report["settings"]["frameworks"]:
            entry = report["results"].get(f"{network}/{framework}")
            if entry is None:
                why = report["unavailable"].get(framework, "not measured")
                lines.append(f"{network:10s} {framework:13s} {'-':>10s}  unavailable: {why}")
                continue
            ratio = ""
            if framework == "sinabs" and "sinabs_over_relu" in ratios:
                ratio = f"{ratios['sinabs_over_relu']:.2f}x relu"
            elif f"{framework}_over_sinabs" in ratios:
                ratio = f"{ratios[f'{framework}_over_sinabs']:.2f}x sinabs"
            span = f"{entry['min_ms']:.2f} - {entry['max_ms']:.2f}"
            lines.append(
                f"{network:10s} {framework:13s} {entry['median_ms']:10.2f}  {span:>19s}  {ratio}"
            )
    for name, target in report["targets"].items():
        extra = f" ({target['fastest_peer']})" if "fastest_peer" in target else ""
        state = "met" if target["met"] else "missed"
        lines.append(f"target {name}: {target['ratio']:.2f}{extra} -> {state}")
    env = report["environment"]
    lines.append(
        f"{env['cpu_model']} (AVX-512: {env['avx512']}), {env['threads']} threads, torch "
        f"{env['packages']['torch']}, allocator {env['allocator']}, "
        f"load {env['load_average'][0]:.1f} -> {env['load_average_end'][0]:.1f}"
        if env.get("load_average") and env.get("load_average_end")
        else f"{env['cpu_model']}, {env['threads']} threads"
    )
    return "\n".join(lines)
