"""``to_nir``: a torch module with sinabs layers as a NIR graph.

The module's data flow comes from :mod:`torch.fx` symbolic tracing, with every sinabs
layer and every standard torch layer as a leaf: calls of modules become nodes (named by
their path in the module: ``"0"``, ``"1"``, ... in a Sequential; ``model_name`` for a
single layer), additions of two tensors become two edges into one node (NIR sums the
inputs of a node), and the input and output become ``"input"`` and ``"output"``. Shapes
come from running ``sample_data`` through a copy of the module, so the module's own
states are left as they are.
"""

from __future__ import annotations

import copy
import operator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np
import torch
from torch import fx, nn

from ..layers.merge import Merge
from ..layers.pool2d import SumPool2d
from ..layers.reshape import FlattenTime, Repeat, UnflattenTime
from ..layers.stateful_layer import StatefulLayer
from . import _units
from ._common import META, Piece, import_nir, single, to_numpy
from ._export_neurons import _Options, neuron_piece

#: Modules that NIR does not see: their input passes straight on. The number is the
#: change in the count of leading (batch, time) axes.
_PASS_THROUGH: dict[type[nn.Module], int] = {nn.Identity: 0, FlattenTime: -1, UnflattenTime: 1}


class _Tracer(fx.Tracer):
    """fx tracer that keeps sinabs layers (and torch's own layers) as leaves."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, nn.Sequential):
            return False
        if type(m).__module__.startswith("sinabs."):
            return True
        return super().is_leaf_module(m, module_qualified_name)


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _stateless_piece(
    module: nn.Module, name: str, shape_in: tuple[int, ...], shape_out: tuple[int, ...], lead: int
) -> Piece:
    """The NIR node of a module without state; ``shape_*`` exclude the ``lead`` axes."""
    nir = import_nir()
    kind = type(module).__name__
    if isinstance(module, Repeat):
        return _stateless_piece(module.module, name, shape_in, shape_out, lead - 1)
    if isinstance(module, nn.Linear):
        if len(shape_in) != 1:
            raise ValueError(
                f"layer {name!r} (Linear) is applied to inputs of shape {shape_in}; a NIR "
                "Affine/Linear node takes 1-D inputs: flatten them first (nn.Flatten)"
            )
        weight = to_numpy(module.weight)
        if module.bias is None:
            return single(name, nir.Linear(weight))
        return single(name, nir.Affine(weight, to_numpy(module.bias)))
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        if module.padding_mode != "zeros":
            raise ValueError(
                f"layer {name!r} ({kind}): padding_mode={module.padding_mode!r} has no NIR "
                "equivalent (NIR convolutions pad with zeros)"
            )
        bias = module.bias
        meta = {} if bias is not None else {"metadata": {META: {"bias": False}}}
        bias_array = (
            to_numpy(bias) if bias is not None else np.zeros(module.out_channels, np.float32)
        )
        padding = module.padding
        conv: Any
        if isinstance(module, nn.Conv1d):
            conv = nir.Conv1d(
                input_shape=int(shape_in[1]), weight=to_numpy(module.weight),
                stride=int(module.stride[0]),
                padding=padding if isinstance(padding, str) else int(padding[0]),
                dilation=int(module.dilation[0]), groups=int(module.groups), bias=bias_array,
                **meta,
            )  # fmt: skip
        else:
            conv = nir.Conv2d(
                input_shape=tuple(int(s) for s in shape_in[1:]), weight=to_numpy(module.weight),
                stride=_pair(module.stride),
                padding=padding if isinstance(padding, str) else _pair(padding),
                dilation=_pair(module.dilation), groups=int(module.groups), bias=bias_array,
                **meta,
            )  # fmt: skip
        # nir infers the input channels as weight.shape[1], which is wrong with groups
        conv.input_type = {"input": np.array(shape_in)}
        conv.output_type = {"output": np.array(shape_out)}
        return single(name, conv)
    if isinstance(module, (SumPool2d, nn.AvgPool2d)):
        if module.ceil_mode:
            raise ValueError(f"layer {name!r} ({kind}): ceil_mode=True has no NIR equivalent")
        kernel = _pair(module.kernel_size)
        stride = kernel if module.stride is None else _pair(module.stride)
        if isinstance(module, SumPool2d):
            node = nir.SumPool2d(np.array(kernel), np.array(stride), np.array((0, 0)))
        else:
            padding = _pair(module.padding)
            if module.divisor_override is not None or (
                any(padding) and not module.count_include_pad
            ):
                raise ValueError(
                    f"layer {name!r} (AvgPool2d): divisor_override and count_include_pad="
                    "False with padding have no NIR equivalent"
                )
            node = nir.AvgPool2d(np.array(kernel), np.array(stride), np.array(padding))
        node.input_type = {"input": np.array(shape_in)}
        node.output_type = {"output": np.array(shape_out)}
        return single(name, node)
    if isinstance(module, nn.Flatten):
        dims = []
        for dim in (module.start_dim, module.end_dim):
            # NIR counts the axes of one sample; negative axes count from the end either way
            feature_dim = dim - lead if dim >= 0 else dim
            if (0 <= dim < lead) or not -len(shape_in) <= feature_dim < len(shape_in):
                raise ValueError(
                    f"layer {name!r} (Flatten): start_dim={module.start_dim}, end_dim="
                    f"{module.end_dim} reach into the {lead} batch/time axes; NIR graphs "
                    "have none"
                )
            dims.append(feature_dim)
        return single(name, nir.Flatten(np.array(shape_in), dims[0], dims[1]))
    raise NotImplementedError(f"layer {name!r}: {kind} has no NIR equivalent")


class _Run:
    """Shapes seen while running ``sample_data`` through a copy of the module."""

    def __init__(self, module: nn.Module, sample_data: torch.Tensor, names: list[str]) -> None:
        copied = copy.deepcopy(module)
        self.inputs: dict[str, tuple[int, ...]] = {}
        self.outputs: dict[str, tuple[int, ...]] = {}
        self.neuron_dims: dict[str, int] = {}
        handles = []
        for name in names:
            sub = copied if name == "" else copied.get_submodule(name)
            handles.append(sub.register_forward_hook(self._hook(name)))
        try:
            with torch.no_grad():
                self.result = copied(sample_data)
        finally:
            for handle in handles:
                handle.remove()

    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if name in self.inputs:
                raise ValueError(
                    f"module {name or type(module).__name__!r} is called more than once in "
                    "one forward pass; a NIR node is one call: use separate modules"
                )
            if not args or not isinstance(args[0], torch.Tensor):
                raise ValueError(f"module {name!r} is not called with a tensor")
            self.inputs[name] = tuple(args[0].shape)
            self.outputs[name] = tuple(output.shape) if isinstance(output, torch.Tensor) else ()
            if isinstance(module, StatefulLayer):
                self.neuron_dims[name] = module.v_mem.dim() - 1

        return hook


def _trace(module: nn.Module) -> fx.Graph:
    try:
        return _Tracer().trace(module)
    except Exception as err:
        raise ValueError(
            f"to_nir cannot follow the data flow of {type(module).__name__}.forward "
            f"(torch.fx tracing failed: {err}); write it as calls of modules"
        ) from err


def _describe(node: fx.Node) -> str:
    return f"{node.op} {getattr(node.target, '__name__', node.target)!s}"


def _is_add(node: fx.Node) -> bool:
    return (node.op == "call_function" and node.target in (operator.add, torch.add)) or (
        node.op == "call_method" and node.target == "add"
    )


def _is_merge(node: fx.Node, module: nn.Module) -> bool:
    """A call of ``sinabs.layers.Merge``: a sum, as an addition is."""
    return node.op == "call_module" and isinstance(module.get_submodule(str(node.target)), Merge)


def _sum_of(node: fx.Node, produced: dict[fx.Node, tuple[list[str], int]]) -> tuple[list[str], int]:
    """The NIR nodes summed by an addition of two tensors (NIR sums a node's inputs)."""
    args = [a for a in node.args if isinstance(a, fx.Node)]
    if len(args) != 2 or len(node.args) != 2 or node.kwargs:
        raise ValueError(
            "to_nir can only add two tensors computed by modules; got " + _describe(node)
        )
    (left, left_axes), (right, right_axes) = produced[args[0]], produced[args[1]]
    if left_axes != right_axes:
        raise ValueError("to_nir: an addition of tensors with different time layouts")
    return left + right, left_axes


def export_graph(
    module: nn.Module,
    sample_data: torch.Tensor,
    model_name: str,
    opts: _Options,
) -> Any:
    """Builds the NIR graph of ``module`` (see :func:`sinabs.nir.to_nir`)."""
    nir = import_nir()
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    if not isinstance(sample_data, torch.Tensor):
        raise TypeError(f"sample_data must be a tensor; got {type(sample_data).__name__}")
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty string; got {model_name!r}")
    # (name, module, sources, shift): sources are names of earlier calls or "input";
    # shift is the change in the number of leading (batch, time) axes since the input
    calls: list[tuple[str, nn.Module, list[str], int]] = []
    if isinstance(module, StatefulLayer | Repeat) or (
        _Tracer().is_leaf_module(module, "") and not list(module.children())
    ):
        calls.append((model_name, module, ["input"], 0))
        output: tuple[list[str], int] = ([model_name], 0)
        hooked = {model_name: ""}
    else:
        produced: dict[fx.Node, tuple[list[str], int]] = {}
        output = ([], 0)
        hooked = {}
        for node in _trace(module).nodes:
            if node.op == "placeholder":
                if produced:
                    raise ValueError(f"{type(module).__name__}.forward takes more than one input")
                produced[node] = (["input"], 0)
            elif _is_merge(node, module):
                produced[node] = _sum_of(node, produced)
            elif node.op == "call_module":
                target = str(node.target)
                sub = module.get_submodule(target)
                arg = node.args[0] if len(node.args) == 1 and not node.kwargs else None
                if not isinstance(arg, fx.Node):
                    raise ValueError(
                        f"module {target!r} ({type(sub).__name__}) is not called with one "
                        "tensor; NIR nodes take one input"
                    )
                sources, axes = produced[arg]
                delta = _PASS_THROUGH.get(type(sub))
                if delta is not None:
                    produced[node] = (sources, axes + delta)
                    continue
                calls.append((target, sub, sources, axes))
                hooked[target] = target
                produced[node] = ([target], axes)
            elif _is_add(node):
                produced[node] = _sum_of(node, produced)
            elif node.op == "output":
                if not isinstance(node.args[0], fx.Node):
                    raise ValueError("to_nir needs a module that returns one tensor")
                output = produced[node.args[0]]
            else:
                raise ValueError(
                    f"to_nir cannot express {_describe(node)} in "
                    f"{type(module).__name__}.forward; NIR graphs connect modules"
                )
    run = _Run(module, sample_data, list(hooked.values()))
    if not isinstance(run.result, torch.Tensor):
        raise ValueError("to_nir needs a module that returns one tensor")
    lead = _leading_axes(calls, hooked, run)
    nodes: dict[str, Any] = {"input": nir.Input(np.array(sample_data.shape[lead:]))}
    edges: list[tuple[str, str]] = []
    exits: dict[str, str] = {"input": "input"}
    for name, sub, sources, axes in calls:
        key = hooked[name]
        here = lead + axes
        shape_in, shape_out = run.inputs[key][here:], run.outputs[key][here:]
        if isinstance(sub, StatefulLayer):
            piece = neuron_piece(sub, name, shape_out, opts)
        else:
            piece = _stateless_piece(sub, name, shape_in, shape_out, here)
        nodes.update(piece.nodes)
        edges += piece.edges
        edges += [(exits[s], piece.entry) for s in sources]
        exits[name] = piece.exit
    output_sources, output_axes = output
    nodes["output"] = nir.Output(np.array(run.result.shape[lead + output_axes :]))
    edges += [(exits[s], "output") for s in output_sources]
    if len(set(edges)) != len(edges):
        raise ValueError("to_nir: a tensor is added to itself; NIR graphs cannot repeat an edge")
    try:
        sinabs_version = version("sinabs")
    except PackageNotFoundError:  # pragma: no cover - source tree
        sinabs_version = "unknown"
    metadata = {
        META: {"dt": opts.dt, "discretization": opts.discretization, "version": sinabs_version}
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=True)


def _leading_axes(
    calls: list[tuple[str, nn.Module, list[str], int]], hooked: dict[str, str], run: _Run
) -> int:
    """Number of leading (batch, time) axes of the input: 1 for ``(B*T, ...)`` inputs of
    Squeeze layers, 2 for ``(B, T, ...)``; from the neuron layers (1 without any)."""
    found: dict[int, str] = {}
    for name, _, _, shift in calls:
        key = hooked[name]
        if key in run.neuron_dims:
            axes = len(run.inputs[key]) - run.neuron_dims[key] - shift
            found.setdefault(axes, name)
    if len(found) > 1:
        raise ValueError(
            "the neuron layers disagree on the batch/time axes of the input: "
            + ", ".join(f"{n!r} sees {a}" for a, n in sorted(found.items()))
        )
    lead = next(iter(found), 1)
    if lead < 1:
        raise ValueError("to_nir: sample_data has no batch axis")
    return lead


def to_nir_graph(
    module: nn.Module,
    sample_data: torch.Tensor,
    model_name: str,
    dt: float,
    discretization: str,
    portable: bool,
) -> Any:
    opts = _Options(_units.check_dt(dt), _units.check_discretization(discretization), portable)
    if not isinstance(portable, bool):
        raise TypeError(f"portable must be True or False; got {portable!r}")
    return export_graph(module, sample_data, model_name, opts)
