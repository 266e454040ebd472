"""The whole-network benchmark (sinabs.benchmarking, benchmarks/bench_network.py).

The script runs end to end at its smoke size and writes a complete report; the networks
train in every framework; the peers' neurons do what sinabs's do (same spikes from the
same weights, where the peer is installed); bad arguments are rejected before anything
runs. No timing is asserted.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from sinabs.benchmarking import FRAMEWORKS, NETWORKS, format_table, measure, runner
from sinabs.benchmarking.measure import _sinabs_backends, activity, build, training_step
from sinabs.benchmarking.networks import build_sinabs, inputs

ROOT = Path(__file__).resolve().parents[2]
PEERS = ("snntorch", "spikingjelly", "norse")
INSTALLED = [p for p in PEERS if importlib.util.find_spec(p) is not None]


def _env(**extra: str) -> dict[str, str]:
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p), **extra}


def test_script_quick_writes_report(tmp_path: Path) -> None:
    """sinabs, the ReLU twin and (if installed) snnTorch on the MLP, one round (a process
    each; the interleaving of rounds is tested without processes below)."""
    out = tmp_path / "report.json"
    frameworks = ["relu", "sinabs", *(["snntorch"] if "snntorch" in INSTALLED else [])]
    command = [sys.executable, str(ROOT / "benchmarks" / "bench_network.py"), "--quick"]
    command += ["--networks", "mlp", "--frameworks", *frameworks, "--rounds", "1"]
    command += ["--out", str(out), "--note", "smoke run"]
    proc = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(out.read_text())
    assert report["note"] == "smoke run"
    assert sorted(report["results"]) == sorted(f"mlp/{f}" for f in frameworks)
    for entry in report["results"].values():
        assert [r["round"] for r in entry["rounds"]] == [0]
        assert all(len(r["times_ms"]) >= 2 and min(r["times_ms"]) > 0 for r in entry["rounds"])
        assert entry["min_ms"] <= entry["median_ms"] <= entry["max_ms"]
        assert all(r["threads"] == 2 for r in entry["rounds"])
    sinabs_round = report["results"]["mlp/sinabs"]["rounds"][0]
    assert sinabs_round["info"]["backends"] == ["cpu"] * 3  # the fused backend runs the LIFs
    ratios = report["ratios"]["mlp"]
    assert ratios["sinabs_over_relu"] == pytest.approx(
        report["results"]["mlp/sinabs"]["median_ms"] / report["results"]["mlp/relu"]["median_ms"]
    )
    assert ("snntorch_over_sinabs" in ratios) == ("snntorch" in frameworks)
    env = report["environment"]
    assert env["allocator"] == "default" and env["threads"] == 2
    assert env["packages"]["torch"] == torch.__version__
    assert isinstance(env["avx512"], bool) and env["cpu_model"]
    assert "mlp_within_1.1x_of_relu" in report["targets"]
    assert "sinabs" in proc.stdout and "x relu" in proc.stdout


@pytest.mark.parametrize("network", sorted(NETWORKS))
@pytest.mark.parametrize("framework", ["relu", "sinabs", *INSTALLED])
def test_training_step_updates_every_weight(network: str, framework: str) -> None:
    spec = NETWORKS[network]
    workload = build(framework, spec, quick=True)
    _, target = inputs(spec, quick=True)
    before = [p.detach().clone() for p in workload.model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(workload.model.parameters(), lr=1e-3)
    loss = training_step(workload, target, optimizer)()
    assert torch.isfinite(torch.tensor(loss))
    out = workload.model(workload.x)
    batch, steps = spec.size(quick=True)
    time_first = workload.time_axis == 0
    assert out.shape == ((steps, batch) if time_first else (batch, steps)) + (spec.classes,)
    after = [p for p in workload.model.parameters() if p.requires_grad]
    assert all(not torch.equal(a, b) for a, b in zip(after, before, strict=True))


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_networks_spike(network: str) -> None:
    """The gains make every layer spike at the full number of time steps."""
    spec = dataclasses.replace(NETWORKS[network], quick=(2, NETWORKS[network].steps))
    rates = activity(build("sinabs", spec, quick=True))
    assert all(0.01 < rate < 0.5 for rate in rates), rates


@pytest.mark.parametrize("peer", INSTALLED or [pytest.param("none", marks=pytest.mark.skip(
    reason="no peer framework installed (pip install 'sinabs[bench]')"))])  # fmt: skip
@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_peers_spike_like_sinabs(peer: str, network: str) -> None:
    """Same weights and inputs, matched neurons: every layer's activity within 0.02 of
    sinabs's (they differ only by rounding near the threshold, single against multiple
    spikes per step, and the peers' surrogates)."""
    spec = dataclasses.replace(NETWORKS[network], quick=(2, NETWORKS[network].steps))
    ours = activity(build("sinabs", spec, quick=True))
    theirs = activity(build(peer, spec, quick=True))
    assert theirs == pytest.approx(ours, abs=0.02)


def test_measure_in_process() -> None:
    result = measure("mlp", "sinabs", quick=True, budget_s=0.0, min_steps=3, warmup=1)
    assert len(result["times_ms"]) == 3 and result["median_ms"] > 0
    assert result["network"] == "mlp" and result["framework"] == "sinabs"
    assert result["bandwidth_GBps"] > 0 and len(result["activity"]) == 3


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"networks": ["lenet"]}, ValueError, "network must be one of"),
        ({"frameworks": ["brian2"]}, ValueError, "framework must be one of"),
        ({"frameworks": "sinabs"}, TypeError, "frameworks must be a list"),
        ({"networks": []}, ValueError, "networks must name at least one"),
        ({"rounds": 0}, ValueError, "rounds must be a positive integer"),
        ({"threads": 1.5}, ValueError, "threads must be a positive integer"),
        ({"allocator": "jemalloc"}, ValueError, "allocator must be one of"),
        ({"budget_s": -1}, ValueError, "budget_s must be >= 0"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        runner.run_network_benchmark(**{"quiet": True, **kwargs})


def test_missing_peer_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A peer that is not installed is listed as unavailable; nothing is run for it."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        runner.importlib.util, "find_spec", lambda name: None if name == "norse" else real(name)
    )
    out = tmp_path / "r.json"
    report = runner.run_network_benchmark(["mlp"], ["norse"], rounds=1, out=out, quiet=True)
    assert report["results"] == {} and "sinabs[bench]" in report["unavailable"]["norse"]
    assert json.loads(out.read_text())["unavailable"] == report["unavailable"]
    assert "unavailable" in format_table(report)


def test_broken_peers_are_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A peer whose import fails, and one that fails while it is measured, are reported
    as unavailable with their errors (in real measuring processes)."""
    (tmp_path / "norse").mkdir()
    (tmp_path / "norse" / "__init__.py").write_text("raise RuntimeError('built for torch 1')\n")
    (tmp_path / "snntorch").mkdir()
    (tmp_path / "snntorch" / "__init__.py").write_text("")  # imports, has no Leaky
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT / "src")]))
    monkeypatch.syspath_prepend(str(tmp_path))  # found here too where the peers are missing
    report = runner.run_network_benchmark(
        ["mlp"], ["norse", "snntorch"], rounds=2, quick=True, quiet=True
    )
    assert report["results"] == {}
    assert report["unavailable"]["norse"] == "RuntimeError: built for torch 1"
    assert report["unavailable"]["snntorch"].startswith("failed on mlp: AttributeError")


def test_targets_and_table() -> None:
    def entry(ms: float) -> dict[str, Any]:
        return {"median_ms": ms, "min_ms": ms * 0.9, "max_ms": ms * 1.1, "rounds": []}

    results = {
        "mlp/relu": entry(16.0),
        "mlp/sinabs": entry(17.0),
        "mlp/snntorch": entry(120.0),
        "mlp/spikingjelly": entry(40.0),
    }
    ratios = {"mlp": runner._ratios(results, "mlp")}
    assert ratios["mlp"]["sinabs_over_relu"] == pytest.approx(17 / 16)
    targets = runner._targets(ratios)
    assert targets["mlp_within_1.1x_of_relu"]["met"]
    fastest = targets["mlp_3.0x_faster_than_fastest_peer"]
    assert fastest["fastest_peer"] == "spikingjelly" and not fastest["met"]
    report = {
        "settings": {"networks": ["mlp"], "frameworks": list(FRAMEWORKS)},
        "results": results,
        "ratios": ratios,
        "targets": targets,
        "unavailable": {"norse": "not installed"},
        "environment": {"cpu_model": "x", "threads": 2},
    }
    table = format_table(report)
    assert "1.06x relu" in table and "7.06x sinabs" in table and "2.35x sinabs" in table
    assert "unavailable: not installed" in table and "-> missed" in table


def test_rounds_interleave(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each round runs every configuration once, starting one further; a peer that turns
    out unavailable in the measuring process is dropped with its partial results."""
    calls: list[tuple[str, str]] = []

    def fake_child(network: str, framework: str, settings: Any, env: Any) -> dict[str, Any]:
        calls.append((network, framework))
        if framework == "norse" and len(calls) > 3:
            return {"unavailable": "ImportError: gone"}
        ms = {"relu": 10.0, "sinabs": 11.0, "norse": 50.0}[framework] + len(calls)
        return {"median_ms": ms, "times_ms": [ms], "load_1min": 0.0, "bandwidth_GBps": 1.0}

    monkeypatch.setattr(runner, "_child", fake_child)
    # whether norse is installed here does not matter: the fake child measures it
    monkeypatch.setattr(runner, "PEERS", {})
    report = runner.run_network_benchmark(
        ["mlp"], ["relu", "sinabs", "norse"], rounds=3, quiet=True
    )
    assert calls == [
        ("mlp", "relu"), ("mlp", "sinabs"), ("mlp", "norse"),  # round 1
        ("mlp", "sinabs"), ("mlp", "norse"), ("mlp", "relu"),  # round 2: norse drops out
        ("mlp", "relu"), ("mlp", "sinabs"),  # round 3 would start with norse
    ]  # fmt: skip
    assert report["unavailable"] == {"norse": "ImportError: gone"}
    assert sorted(report["results"]) == ["mlp/relu", "mlp/sinabs"]
    sinabs = report["results"]["mlp/sinabs"]
    assert sinabs["round_medians_ms"] == [13.0, 15.0, 19.0]
    assert (sinabs["median_ms"], sinabs["min_ms"], sinabs["max_ms"]) == (15.0, 13.0, 19.0)
    assert report["results"]["mlp/relu"]["round_medians_ms"] == [11.0, 16.0, 17.0]
    assert report["ratios"]["mlp"] == {"sinabs_over_relu": 15.0 / 16.0}


def test_the_recurrent_network_runs_every_neuron_layer_on_the_cpu_kernel() -> None:
    workload = build_sinabs(NETWORKS["recurrent"], quick=True)
    # (its LIFRecurrent's rec_connect is one nn.Linear: the fused recurrent loop)
    assert _sinabs_backends(workload) == ["cpu", "cpu"]
