"""Benchmarks that run from an installed sinabs.

:mod:`sinabs.benchmarking.layers` times single neuron layers on each backend (``sinabs
bench``, ``benchmarks/bench_cpu.py``).
:func:`run_network_benchmark` times a training step of whole networks (an SHD-like MLP,
an N-MNIST-like conv net, a recurrent net) in sinabs, in the same network with ReLU in
place of every neuron layer, and in the peer frameworks snnTorch, SpikingJelly and Norse
(``pip install "sinabs[bench]"``), each in a fresh process, rounds interleaved, and
returns (and writes) a JSON report; ``benchmarks/bench_network.py`` is its command line.

What each framework runs is in :mod:`sinabs.benchmarking.networks` (the networks,
sinabs and the ReLU twins) and :mod:`sinabs.benchmarking.peers` (the peers' neuron
layers and how they match sinabs's).
"""

from __future__ import annotations

from .measure import FRAMEWORKS, measure
from .networks import NETWORKS
from .runner import format_table, run_network_benchmark

__all__ = ["FRAMEWORKS", "NETWORKS", "format_table", "measure", "run_network_benchmark"]
