r"""Hand-built NIR graphs, as other simulators write them, simulate to what NIR's node
equations give, for several ``dt``, with forward Euler and the exact exponential.

The reference below integrates the equations as written in the NIR node definitions,

    tau_syn dI/dt = -I + w_in S,    tau dv/dt = (v_leak - v) + r I,    IF: dv/dt = r I,

one step of ``dt`` at a time (synaptic current first, then the membrane with the new
current; spike where v > v_threshold, then v = v_reset), in float64."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import sinabs

nir = pytest.importorskip("nir", reason="NIR tests need the nir extra (pip install sinabs[nir])")

N_IN, N, T, B = 5, 8, 60, 3
DTS = [1.0, 1e-3, 1e-4]
METHODS = ["euler", "exact"]


def step(y: np.ndarray, target: np.ndarray, tau: np.ndarray, dt: float, method: str) -> np.ndarray:
    """One step of ``tau dy/dt = target - y`` (target held over the step)."""
    if method == "euler":
        return y + dt / tau * (target - y)
    return target + (y - target) * np.exp(-dt / tau)


def simulate(
    kind: str, p: dict[str, np.ndarray], x: np.ndarray, dt: float, method: str
) -> dict[str, np.ndarray]:
    """Reference run of one neuron node on input ``x`` (B, T, N): output and membrane."""
    v = np.zeros(x.shape[::2])
    current = np.zeros_like(v)
    out, vs = np.zeros_like(x), np.zeros_like(x)
    for t in range(x.shape[1]):
        drive = x[:, t]
        if kind == "CubaLIF":
            current = step(current, p["w_in"] * drive, p["tau_syn"], dt, method)
            drive = current
        if kind == "IF":
            v = v + dt * p["r"] * drive
        else:
            tau = p["tau_mem"] if kind == "CubaLIF" else p["tau"]
            v = step(v, p["v_leak"] + p["r"] * drive, tau, dt, method)
        if kind == "LI":
            out[:, t] = v
        else:
            spikes = v > p["v_threshold"]
            out[:, t] = spikes
            v = np.where(spikes, p["v_reset"], v)
        vs[:, t] = v
    return {"out": out, "v": vs}


def params(kind: str, dt: float, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = {
        "tau": dt * rng.uniform(3.0, 40.0, N),
        "r": rng.uniform(0.5, 3.0, N),
        "v_leak": rng.uniform(-0.3, 0.3, N),
        "v_threshold": rng.uniform(0.5, 1.5, N),
        "v_reset": rng.uniform(-0.5, 0.2, N),
    }
    if kind == "CubaLIF":
        p["tau_mem"] = p.pop("tau")
        p["tau_syn"] = dt * rng.uniform(2.0, 20.0, N)
        p["w_in"] = rng.uniform(0.5, 2.0, N)
        p["v_leak"] = np.zeros(N)
    if kind == "IF":
        p["r"] = rng.uniform(0.5, 3.0, N) / dt
        del p["tau"], p["v_leak"]
    if kind == "LI":
        del p["v_threshold"], p["v_reset"]
    return p


def node(kind: str, p: dict[str, np.ndarray]) -> Any:
    return getattr(nir, kind)(**p)


def chain_graph(
    kind: str, p: dict[str, np.ndarray], seed: int
) -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 100)
    weight = rng.normal(0.0, 0.8, (N, N_IN)).astype(np.float32)
    bias = rng.normal(0.2, 0.2, N).astype(np.float32)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([N_IN])),
            "fc": nir.Affine(weight, bias),
            "neuron": node(kind, p),
            "output": nir.Output(np.array([N])),
        },
        edges=[("input", "fc"), ("fc", "neuron"), ("neuron", "output")],
    )
    return graph, weight, bias


def record(module: nn.Module) -> nn.Module:
    """The sinabs neuron layer inside an imported node module, recording states."""
    layer = getattr(module, "neuron", module)
    layer.record_states = True
    return layer


def assert_agrees(
    out: torch.Tensor, v: torch.Tensor, ref: dict[str, np.ndarray], spiking: bool
) -> None:
    """At least 99% of the spikes identical; the membrane within 1e-5 (relative to its
    range) for every neuron whose spike train is identical."""
    out64, v64 = out.detach().double().numpy(), v.detach().double().numpy()
    scale = max(1.0, float(np.abs(ref["v"]).max()))
    if not spiking:
        np.testing.assert_allclose(out64, ref["out"], rtol=0, atol=1e-5 * scale)
        return
    assert ref["out"].sum() > 0 and ref["out"].mean() < 0.9, "test case without spikes"
    assert (out64 == ref["out"]).mean() >= 0.99
    same = (out64 == ref["out"]).all(axis=1)  # (B, N): identical spike trains
    assert same.mean() >= 0.9
    np.testing.assert_allclose(
        v64.transpose(0, 2, 1)[same], ref["v"].transpose(0, 2, 1)[same], rtol=0, atol=1e-5 * scale
    )


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dt", DTS, ids=[f"dt={dt}" for dt in DTS])
@pytest.mark.parametrize("kind", ["LIF", "CubaLIF", "IF", "LI"])
def test_neuron_node_follows_the_nir_equations(kind: str, dt: float, method: str) -> None:
    seed = zlib.crc32(f"{kind}-{dt}-{method}".encode()) % 1000  # stable across runs
    p = params(kind, dt, seed)
    graph, weight, bias = chain_graph(kind, p, seed)
    x = np.random.default_rng(seed + 1).uniform(0.0, 1.0, (B, T, N_IN)).astype(np.float32)
    model = sinabs.from_nir(graph, dt=dt, discretization=method)
    layer = record(model.neuron)
    out = model(torch.from_numpy(x))
    current = x.astype(np.float64) @ weight.T.astype(np.float64) + bias
    ref = simulate(kind, p, current, dt, method)
    assert_agrees(out, layer.recordings["v_mem"], ref, spiking=kind != "LI")


def test_one_step_is_one_unit_of_time_by_default() -> None:
    """dt defaults to 1: tau = 4 is four steps (Euler: decay 0.75 per step)."""
    graph = nir.NIRGraph.from_list(
        nir.LI(tau=np.array([4.0]), r=np.array([1.0]), v_leak=np.array([0.0]))
    )
    model = sinabs.from_nir(graph)
    x = torch.zeros(1, 4, 1)
    x[0, 0, 0] = 1.0
    expected = torch.tensor([0.25, 0.1875, 0.140625, 0.10546875])
    assert torch.allclose(model(x).flatten(), expected, rtol=1e-6)


def test_spike_needs_the_membrane_above_the_threshold() -> None:
    """NIR's condition is v > v_threshold: v exactly at the threshold does not fire."""
    graph = nir.NIRGraph.from_list(
        nir.IF(r=np.array([1.0]), v_threshold=np.array([1.0]), v_reset=np.array([0.0]))
    )
    spikes = sinabs.from_nir(graph)(torch.full((1, 4, 1), 0.5)).flatten()
    assert spikes.tolist() == [0.0, 0.0, 1.0, 0.0]  # v = 0.5, 1.0, 1.5 -> fire -> 0, 0.5


def _legacy_file(path: Any, *, drop_v_reset: bool, version: str) -> None:
    import h5py

    graph = nir.NIRGraph.from_list(
        nir.IF(r=np.array([1.0]), v_threshold=np.array([1.0]), v_reset=np.array([0.0]))
    )
    nir.write(path, graph)
    with h5py.File(path, "r+") as handle:
        del handle["version"]
        handle.create_dataset("version", data=version)
        if drop_v_reset:
            del handle["node/nodes/if/v_reset"]


@pytest.mark.parametrize(
    ("drop_v_reset", "version", "subtract"),
    [(True, "1.0.4", True), (False, "1.0.5", True), (True, "1.0.8", True), (False, "1.0.6", False)],
    ids=["nir-1.0.4-file", "old-version-with-v_reset", "no-v_reset-field", "nir-1.0.6-file"],
)
def test_files_older_than_nir_1_0_6_subtract_the_threshold(
    tmp_path: Any, drop_v_reset: bool, version: str, subtract: bool
) -> None:
    path = tmp_path / "old.nir"
    _legacy_file(path, drop_v_reset=drop_v_reset, version=version)
    model = sinabs.from_nir(path)
    layer = record(model.get_submodule("if"))
    model(torch.full((1, 4, 1), 0.75))
    v = layer.recordings["v_mem"].flatten().tolist()
    # 0.75, 1.5 -> spike; subtract: 0.5, 1.25 -> spike -> 0.25; reset to 0: 0, 0.75
    assert v == ([0.75, 0.5, 0.25, 1.0] if subtract else [0.75, 0.0, 0.75, 0.0])


@pytest.mark.parametrize("method", METHODS)
def test_foreign_recurrent_cycle(method: str) -> None:
    """A cycle LIF -> Affine -> LIF (as snnTorch's RLeaky writes it): the feedback of step
    t enters at step t+1, and the Affine's bias from the first step on."""
    dt = 1e-3
    rng = np.random.default_rng(7)
    p = params("LIF", dt, 7)
    w_in = rng.normal(0.4, 0.8, (N, N_IN)).astype(np.float32)
    w_rec = rng.normal(0, 0.5, (N, N)).astype(np.float32)
    b_rec = rng.normal(0.1, 0.1, N).astype(np.float32)
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([N_IN])),
            "fc": nir.Linear(w_in),
            "lif": nir.LIF(**p),
            "rec": nir.Affine(w_rec, b_rec),
            "output": nir.Output(np.array([N])),
        },
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")],
    )
    model = sinabs.from_nir(graph, dt=dt, discretization=method)
    layer = record(model.lif)
    x = rng.uniform(0, 1, (B, T, N_IN)).astype(np.float32)
    out = model(torch.from_numpy(x))
    # reference: the cycle, with the previous step's spikes through the Affine
    v = np.zeros((B, N))
    spikes = np.zeros((B, N))
    ref_out, ref_v = np.zeros((B, T, N)), np.zeros((B, T, N))
    for t in range(T):
        drive = x[:, t].astype(np.float64) @ w_in.T + spikes @ w_rec.T + b_rec
        v = step(v, p["v_leak"] + p["r"] * drive, p["tau"], dt, method)
        spikes = (v > p["v_threshold"]).astype(np.float64)
        v = np.where(spikes > 0, p["v_reset"], v)
        ref_out[:, t], ref_v[:, t] = spikes, v
    assert_agrees(out, layer.recordings["v_mem"], {"out": ref_out, "v": ref_v}, spiking=True)


def test_branches_merges_and_several_outputs() -> None:
    """Any DAG: two paths summed into one node, a Scale node, two Output nodes."""
    rng = np.random.default_rng(3)
    w1 = rng.normal(size=(N, N_IN)).astype(np.float32)
    w2 = rng.normal(size=(N, N_IN)).astype(np.float32)
    scale = rng.uniform(0.5, 2, N).astype(np.float32)
    li = {"tau": np.full(N, 5.0), "r": np.ones(N), "v_leak": np.zeros(N)}
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([N_IN])),
            "a": nir.Linear(w1),
            "b": nir.Linear(w2),
            "s": nir.Scale(scale),
            "li": nir.LI(**li),
            "out_li": nir.Output(np.array([N])),
            "out_s": nir.Output(np.array([N])),
        },
        edges=[
            ("input", "a"), ("input", "b"), ("b", "s"), ("a", "li"), ("s", "li"),
            ("li", "out_li"), ("s", "out_s"),
        ],
    )  # fmt: skip
    model = sinabs.from_nir(graph)
    x = torch.rand(2, 10, N_IN)
    result = model(x)
    assert set(result) == {"out_li", "out_s"}
    via_b = (x @ torch.from_numpy(w2).T) * torch.from_numpy(scale)
    summed = (x @ torch.from_numpy(w1).T + via_b).double().numpy()
    ref = simulate("LI", li, summed, 1.0, "euler")
    np.testing.assert_allclose(result["out_li"].detach().double().numpy(), ref["out"], atol=1e-5)
    assert torch.allclose(result["out_s"], via_b)


def test_nested_subgraph_is_flattened() -> None:
    """A recurrent layer written as a nested graph (input, lif, w_rec, output)."""
    p = params("LIF", 1.0, 11)
    w_rec = np.random.default_rng(11).normal(0, 0.5, (N, N)).astype(np.float32)
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([N])),
            "lif": nir.LIF(**p),
            "w_rec": nir.Linear(w_rec),
            "output": nir.Output(np.array([N])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )
    graph = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([N])),
            "rnn": inner,
            "output": nir.Output(np.array([N])),
        },
        edges=[("input", "rnn"), ("rnn", "output")],
    )
    model = sinabs.from_nir(graph)
    layer = model.get_submodule("rnn_lif")
    layer = getattr(layer, "neuron", layer)
    assert isinstance(layer, sinabs.layers.LIFRecurrent)
    assert torch.equal(layer.rec_connect.weight, torch.from_numpy(w_rec) * layer_scale(model))
    assert model(torch.rand(2, 20, N)).shape == (2, 20, N)


def layer_scale(model: nn.Module) -> torch.Tensor:
    module = model.get_submodule("rnn_lif")
    if hasattr(module, "input_transform") and module.input_transform.scale is not None:
        return module.input_transform.scale[:, None]
    return torch.ones(1)


@pytest.mark.parametrize("layout", ["squeeze", "batch-time"])
def test_layouts(layout: str) -> None:
    """batch_size/num_timesteps give (B*T, ...) inputs and Squeeze layers; else (B, T, ...)."""
    p = params("LIF", 1.0, 5)
    graph, _, _ = chain_graph("LIF", p, 5)
    x = torch.rand(B, T, N_IN)
    reference = sinabs.from_nir(graph)(x)
    if layout == "squeeze":
        model = sinabs.from_nir(graph, batch_size=B)
        layer = getattr(model.neuron, "neuron", model.neuron)
        assert type(layer).__name__ == "LIFSqueeze"
        assert torch.equal(model(x.flatten(0, 1)).unflatten(0, (B, T)), reference)
    else:
        assert type(getattr(sinabs.from_nir(graph).neuron, "neuron", None)).__name__ == "LIF"
