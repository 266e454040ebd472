"""Whole-network CPU benchmark: a training step of three networks in sinabs, in the same
networks with ReLU in place of the neurons, and in snnTorch, SpikingJelly and Norse.

    python benchmarks/bench_network.py --out out/bench_network.json [--rounds 5]
        [--networks mlp conv recurrent] [--frameworks relu sinabs snntorch ...]
        [--threads 2] [--allocator default] [--quick] [--note TEXT]

A training step is forward, cross-entropy of the output summed over time, backward and
an Adam step, float32. The networks (an SHD-like MLP, an N-MNIST-like conv net, a
recurrent net) and what each peer runs are described in ``sinabs.benchmarking.networks``
and ``sinabs.benchmarking.peers``; the peers come with ``pip install "sinabs[bench]"``
(a peer that is missing or fails to import is reported as unavailable).

Every framework × network is timed in a fresh process, in rounds: each round runs every
configuration once (starting one further each round), and a configuration's result is
the median of its per-round medians, with their minimum and maximum. The JSON keeps
every step's time, the copy bandwidth and load average of each process, the processor
(model, AVX-512 or not), the versions, the threads and the environment variables that
change allocation or threading. The measuring processes get this process's environment
as it is (no allocator variables) unless ``--allocator`` asks: what a user gets without
setting anything is what is measured. Printed: a table with sinabs / ReLU twin and each
peer / sinabs, and issue 16's targets (each network within 1.10x of its ReLU twin; the
fastest peer at least 3x slower than sinabs on the MLP).
"""

from __future__ import annotations

import argparse

from sinabs.benchmarking import FRAMEWORKS, NETWORKS, run_network_benchmark
from sinabs.benchmarking.runner import ALLOCATORS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="out/bench_network.json", help="JSON report path")
    parser.add_argument("--networks", nargs="+", choices=list(NETWORKS), default=list(NETWORKS))
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, default=list(FRAMEWORKS))
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument(
        "--budget", type=float, default=None,
        help="seconds of timed steps per measurement (default 3; 0 with --quick)",
    )  # fmt: skip
    parser.add_argument(
        "--allocator", choices=sorted(ALLOCATORS), default="default",
        help="default: the environment as it is (default); thp: THP_MEM_ALLOC_ENABLE=1; "
        "tuned: that and the README's GLIBC_TUNABLES",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="smoke size: batch 2, a few time steps"
    )
    parser.add_argument("--note", default="", help="free text for the report (the machine)")
    args = parser.parse_args()
    report = run_network_benchmark(
        args.networks,
        args.frameworks,
        rounds=args.rounds,
        out=args.out,
        threads=args.threads,
        quick=args.quick,
        allocator=args.allocator,
        budget_s=args.budget,
        note=args.note,
    )
    print(f"wrote {args.out} ({len(report['results'])} configurations)")


if __name__ == "__main__":
    main()
