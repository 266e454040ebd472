r"""NIR interchange: sinabs networks to and from the Neuromorphic Intermediate
Representation (https://neuroir.org), the format spiking networks move in between
simulators and chips.

* :func:`to_nir` writes a network as a ``nir.NIRGraph`` (``nir.write(path, graph)``
  saves it);
* :func:`from_nir` builds a torch module with sinabs layers from a graph or a ``.nir``
  file.

NIR's neurons are continuous, :math:`\tau \dot v = (v_{leak} - v) + r I`; sinabs's are
discrete. Both functions take the time step ``dt`` (default 1.0, so that one step is one
unit of NIR time) and a ``discretization``: ``"euler"`` (default; forward Euler,
:math:`\alpha = 1 - dt/\tau`, what snnTorch and Norse write) or ``"exact"``
(:math:`\alpha = e^{-dt/\tau}`). Export with the ``dt`` and ``discretization`` you
import with and the round trip gives back the same layers, bit for bit.

Needs the optional extra: ``pip install "sinabs[nir]"``. See the how-to page
"Moving a network to and from another simulator" for the rules.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import torch
from torch import nn

from . import _units
from ._common import META, import_nir
from ._graph import NIRGraphModule

__all__ = ["NIRGraphModule", "from_nir", "to_nir"]


def to_nir(
    module: nn.Module,
    sample_data: torch.Tensor,
    model_name: str = "model",
    *,
    dt: float = 1.0,
    discretization: str = "euler",
    portable: bool = False,
) -> Any:
    r"""Exports ``module`` as a NIR graph.

    The graph has an ``"input"`` and an ``"output"`` node and one node per layer, named
    by its path in ``module`` (``"0"``, ``"1"``, ... for a Sequential; ``model_name``
    for a single layer). Each neuron layer becomes the NIR node whose equation,
    discretised with ``dt`` and ``discretization``, is the layer's step (IAF → IF, LIF
    → LIF, LIF or IAF with ``tau_syn`` → CubaLIF or LI + IF, ExpLeak → LI; a Recurrent
    layer adds its ``rec_connect`` in a cycle). The decay :math:`\alpha = e^{-1/\tau}` of
    a layer becomes :math:`\tau_{NIR} = dt/(1-\alpha)` (Euler) or :math:`\tau\,dt`
    (exact), and its input gain the resistance ``r`` (1 with ``norm_input``, else
    :math:`1/(1-\alpha)`; ``1/dt`` for IF) and ``w_in``
    (:math:`\alpha_{syn}/(1-\alpha_{syn})`).

    What NIR's node fields cannot state is kept in the node's
    ``metadata["sinabs"]``, which :func:`from_nir` reads and other tools ignore:
    multi-spikes (``MultiSpike``, ``MaxSpike``), the subtractive reset, ``min_v_mem``,
    trained decay factors, a recurrent bias. With ``portable=True`` these raise a
    ``ValueError`` naming the layer and the setting instead. Surrogate gradients and
    other training settings are not part of NIR and are dropped. Layers NIR has no node
    for (ALIF's threshold adaptation, for instance) raise ``NotImplementedError``.

    Args:
        module: the network (any module whose forward calls modules and adds tensors).
        sample_data: an input to run through a copy of ``module`` for the shapes,
            ``(B*T, ...)`` for Squeeze layers or ``(B, T, ...)``.
        model_name: the node name of a ``module`` that is a single layer.
        dt: the time step in NIR's time unit (keyword).
        discretization: ``"euler"`` or ``"exact"``, as :func:`from_nir` will use it.
        portable: raise instead of keeping sinabs-only settings in metadata.

    Returns:
        ``nir.NIRGraph``.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 3), sl.LIFSqueeze(tau_mem=20.0, batch_size=2))
        >>> graph = sinabs.nir.to_nir(net, torch.rand(2 * 10, 4))
        >>> sorted(graph.nodes)
        ['0', '1', 'input', 'output']
    """
    from ._export import to_nir_graph

    import_nir()
    return to_nir_graph(module, sample_data, model_name, dt, discretization, portable)


def from_nir(
    source: Any,
    batch_size: int | None = None,
    num_timesteps: int | None = None,
    *,
    dt: float = 1.0,
    discretization: str = "euler",
) -> NIRGraphModule:
    r"""Builds a torch module with sinabs layers from a NIR graph or ``.nir`` file.

    Neuron nodes become sinabs layers that step the node's equation with ``dt``:
    IF → ``IAF``, LIF → ``LIF``, CubaLIF → ``LIF`` with ``tau_syn``, LI → ``ExpLeak``
    (Squeeze variants when ``batch_size`` or ``num_timesteps`` is given); Affine and
    Linear → ``nn.Linear``, Conv1d/Conv2d → ``nn.Conv1d``/``nn.Conv2d``, SumPool2d →
    ``sinabs.layers.SumPool2d``, AvgPool2d, Flatten, Scale. A neuron with an
    Affine/Linear node feeding its output back becomes a Recurrent layer. Spikes follow
    NIR: one spike where :math:`v > v_{threshold}`, then :math:`v \leftarrow v_{reset}`
    (files older than nir 1.0.6 subtract the threshold instead). The input gain
    (``r``, ``w_in``) and ``v_leak`` are honoured; where the sinabs layer's own step does
    not contain them an element-wise scale goes in front of it. Graphs written by
    :func:`to_nir` come back as the layers that were exported.

    Args:
        source: a ``nir.NIRGraph`` (or one NIR node), or the path of a ``.nir`` file.
        batch_size: B for inputs of shape ``(B*T, ...)`` (Squeeze layers), or None.
        num_timesteps: T for inputs of shape ``(B*T, ...)``, or None. When both are None
            the module takes ``(B, T, ...)``.
        dt: the time step in the graph's time unit (keyword). snnTorch's files assume
            ``dt=1e-4``, which they do not state.
        discretization: ``"euler"`` (default; :math:`\alpha = 1 - dt/\tau`) or
            ``"exact"`` (:math:`\alpha = e^{-dt/\tau}`).

    Returns:
        :class:`NIRGraphModule`, one submodule per node.

    Raises:
        ValueError: a malformed graph or file (the message names the node), or a node
            whose parameters sinabs cannot run (``v_leak`` on a CubaLIF, forward Euler
            with ``dt >= tau``).
        NotImplementedError: node types without a sinabs layer.

    Example:
        >>> model = sinabs.nir.from_nir("net.nir", batch_size=4, dt=1e-3)
    """
    nir = import_nir()
    from ._file import read
    from ._import_nodes import Context

    dt = _units.check_dt(dt)
    discretization = _units.check_discretization(discretization)
    for name, value in (("batch_size", batch_size), ("num_timesteps", num_timesteps)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise TypeError(f"{name} must be a positive int or None; got {value!r}")
    legacy = False
    if isinstance(source, (str, os.PathLike)):
        source, legacy, _ = read(source)
    if not isinstance(source, nir.NIRNode):
        raise TypeError(
            f"source must be a nir.NIRGraph, a NIR node or a path; got {type(source).__name__}"
        )
    if not isinstance(source, nir.NIRGraph):
        source = _single_node_graph(source)
    _check_settings(source, dt, discretization)
    ctx = Context(dt, discretization, batch_size, num_timesteps, legacy)
    return NIRGraphModule(source, ctx)


def _single_node_graph(node: Any) -> Any:
    nir = import_nir()
    shape_in = node.input_type.get("input") if isinstance(node.input_type, dict) else None
    shape_out = node.output_type.get("output") if isinstance(node.output_type, dict) else None
    if shape_in is None or shape_out is None:
        raise ValueError(
            f"a single {type(node).__name__} node needs defined input and output types"
        )
    nodes = {"input": nir.Input(shape_in), "model": node, "output": nir.Output(shape_out)}
    return nir.NIRGraph(nodes, [("input", "model"), ("model", "output")], type_check=False)


def _check_settings(graph: Any, dt: float, discretization: str) -> None:
    """Warns when a graph written by sinabs is imported with other time-step settings."""
    metadata = getattr(graph, "metadata", None)
    written = metadata.get(META) if isinstance(metadata, dict) else None
    if not isinstance(written, dict) or "dt" not in written:
        return
    old_dt, old_disc = float(written["dt"]), str(written.get("discretization", "euler"))
    if old_dt != dt or old_disc != discretization:
        warnings.warn(
            f"this graph was exported by sinabs with dt={old_dt}, discretization="
            f"{old_disc!r}; importing it with dt={dt}, discretization={discretization!r} "
            "gives other decay factors",
            UserWarning,
            stacklevel=3,
        )
