"""Multi-process training with DistributedDataParallel (two CPU processes, gloo).

Two processes train the network of ddp_train.py with truncated BPTT, neuron states
carried across calls, and DDP's defaults (``broadcast_buffers=True``). Their gradients,
weights and states must equal one process training on the concatenated batch: each
process keeps the states of its own samples (states are not module buffers, so DDP does
not overwrite them with rank 0's), and a checkpoint saved by rank 0 loads in both with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).with_name("ddp_train.py")
WORLD = 2
TOL = 1e-5


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ddp_train", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("this torch build has no gloo backend for torch.distributed")
    folder = tmp_path_factory.mktemp("ddp")
    init = f"file://{folder / 'rendezvous'}"
    outs = [folder / f"rank{r}.pt" for r in range(WORLD)]

    def command(rank: int) -> list[str]:
        args = ["--rank", rank, "--world", WORLD, "--init", init, "--out", outs[rank]]
        return [sys.executable, str(SCRIPT), *map(str, args)]

    procs = [
        subprocess.Popen(command(r), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for r in range(WORLD)
    ]
    logs = []
    for proc in procs:
        try:
            log, _ = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
            pytest.fail("a DDP process did not finish within 180 s")
        logs.append(log)
    for r, proc in enumerate(procs):
        assert proc.returncode == 0, f"rank {r} failed:\n{logs[r]}"
    return [torch.load(out, weights_only=True) for out in outs]


@pytest.fixture(scope="module")
def single() -> dict:
    """One process, the concatenated batch, the same schedule."""
    script = load_script()
    model = script.build_model()
    x, y = script.global_data(WORLD)
    result = script.train(model, x, y)
    result["states"] = script.states(model)
    return result


def assert_close(actual: torch.Tensor, expected: torch.Tensor, what: object) -> None:
    assert actual.shape == expected.shape, what
    assert torch.allclose(actual, expected, rtol=TOL, atol=TOL), (
        what,
        (actual - expected).abs().max().item(),
    )


def test_gradients_equal_single_process_training(ranks: list[dict], single: dict) -> None:
    for rank in ranks:
        for step, (got, expected) in enumerate(zip(rank["grads"], single["grads"], strict=True)):
            assert got.keys() == expected.keys()
            for name, grad in expected.items():
                assert grad.abs().max() > 0, (step, name)  # the test sees real gradients
                assert_close(got[name], grad, (step, name))


def test_weights_equal_single_process_training(ranks: list[dict], single: dict) -> None:
    for rank in ranks:
        for name, value in single["params"].items():
            assert_close(rank["params"][name], value, name)


def test_each_process_keeps_the_states_of_its_own_samples(ranks: list[dict], single: dict) -> None:
    batch = load_script().BATCH
    for r, rank in enumerate(ranks):
        assert rank["states"].keys() == single["states"].keys()
        for name, value in single["states"].items():
            assert_close(rank["states"][name], value[r * batch : (r + 1) * batch], (r, name))
    # the two processes' states differ: nothing synchronised them
    assert any(
        not torch.equal(ranks[0]["states"][k], ranks[1]["states"][k]) for k in ranks[0]["states"]
    )


def test_checkpoint_of_rank_0_loads_everywhere(ranks: list[dict]) -> None:
    for rank in ranks:
        assert rank["loaded_runs"]
        for name, value in ranks[0]["params"].items():
            assert torch.equal(rank["loaded_params"][name], value), name
        for name, value in ranks[0]["states"].items():
            assert torch.equal(rank["loaded_states"][name], value), name
