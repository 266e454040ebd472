"""Training a small spiking network, in one process or as one rank of DDP (gloo, CPU).

Used by test_ddp.py: the test runs this file as two processes (``--rank 0`` and
``--rank 1``) and compares what they save with :func:`train` run in one process on the
concatenated batch.

The schedule is truncated BPTT: each optimizer step sees ``CHUNKS`` consecutive chunks
of the sequences, with a backward per chunk, the neuron states carried from chunk to
chunk (detached) and across optimizer steps. Under DDP the chunks before the last one
run inside ``no_sync()``, so gradients are all-reduced once per optimizer step.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

import sinabs.layers as sl

BATCH = 4  # per process
STEPS = 3  # optimizer steps
CHUNKS = 2  # calls (chunks of time) per optimizer step
T = 6  # time steps per chunk
N_IN, N_HIDDEN, N_OUT = 5, 7, 3


def build_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(N_IN, N_HIDDEN),
        sl.LIF(tau_mem=8.0, tau_syn=4.0),
        nn.Linear(N_HIDDEN, N_OUT),
        sl.LIF(tau_mem=10.0, spike_fn=None),  # leaky read-out: the membrane
    )


def global_data(world: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (world*BATCH, STEPS*CHUNKS*T, N_IN) and labels; rank r takes rows r*BATCH..."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(world * BATCH, STEPS * CHUNKS * T, N_IN, generator=g) * 2
    y = torch.randint(0, N_OUT, (world * BATCH,), generator=g)
    return x, y


def train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    no_sync: Callable[[], Any] = contextlib.nullcontext,
) -> dict[str, Any]:
    """Trains ``model`` (a module or its DDP wrapper) on ``x``, ``y``; returns the
    gradients of every optimizer step and the final parameters."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    grads: list[dict[str, torch.Tensor]] = []
    loss_fn = nn.CrossEntropyLoss()
    for step in range(STEPS):
        optimizer.zero_grad()
        for chunk in range(CHUNKS):
            start = (step * CHUNKS + chunk) * T
            sync = chunk == CHUNKS - 1
            with contextlib.nullcontext() if sync else no_sync():
                out = model(x[:, start : start + T])
                loss = loss_fn(out.mean(1), y)
                loss.backward()
            for layer in model.modules():
                if isinstance(layer, sl.StatefulLayer):
                    layer.detach_states()  # truncated BPTT: carry the values only
        grads.append(
            {
                n: p.grad.detach().clone()
                for n, p in named(model).named_parameters()
                if p.requires_grad
            }
        )
        optimizer.step()
    return {
        "grads": grads,
        "params": {n: p.detach().clone() for n, p in named(model).named_parameters()},
    }


def named(model: nn.Module) -> nn.Module:
    """The plain module (DDP prefixes every name with ``module.``)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def states(model: nn.Module) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{state}": value.detach().clone()
        for name, layer in named(model).named_modules()
        if isinstance(layer, sl.StatefulLayer)
        for state, value in layer.named_states()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--world", type=int, required=True)
    parser.add_argument("--init", required=True, help="file:// rendezvous")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=args.init, rank=args.rank, world_size=args.world)
    x, y = global_data(args.world)
    rows = slice(args.rank * BATCH, (args.rank + 1) * BATCH)
    # the default a user writes: broadcast_buffers=True
    ddp = nn.parallel.DistributedDataParallel(build_model())
    result = train(ddp, x[rows], y[rows], ddp.no_sync)
    result["states"] = states(ddp)
    # a checkpoint written by rank 0 loads in every process, without pickled code
    checkpoint = args.out.parent / "checkpoint.pt"
    if args.rank == 0:
        torch.save(named(ddp).state_dict(), checkpoint)
    dist.barrier()
    fresh = build_model()
    fresh.load_state_dict(torch.load(checkpoint, weights_only=True))
    result["loaded_params"] = {n: p.detach().clone() for n, p in fresh.named_parameters()}
    result["loaded_states"] = states(fresh)
    result["loaded_runs"] = fresh(x[rows, :T]).shape == (BATCH, T, N_OUT)
    torch.save(result, args.out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
