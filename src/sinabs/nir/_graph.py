"""A NIR graph as a torch module that runs its nodes in topological order.

Nested graphs are flattened (their nodes named ``"<graph>.<node>"``). A node's input is
the sum of the outputs of the nodes with an edge into it. A cycle is allowed where NIR
graphs use one, for recurrent layers: one neuron node and one Affine/Linear node that
feeds its spikes back, which becomes a sinabs Recurrent layer (the feedback of step t
reaches the neuron at step t+1). Other cycles raise :class:`ValueError`, since where a
graph with several neurons in a loop delays its signals is not defined.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._common import ROLE_REC, ROLE_SYNAPSE, import_nir
from ._import_nodes import Context, neuron_module, sinabs_meta, stateless_module

_NEURONS = ("IF", "LIF", "CubaLIF", "LI")


def _module_name(name: str) -> str:
    """A node name as a torch submodule name (which cannot contain dots)."""
    return name.replace(".", "_") or "_"


def flatten(graph: Any, prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]], set[str]]:
    """Nodes and edges of ``graph`` with nested graphs expanded into dotted names, and the
    names that came from nested graphs (whose Input and Output nodes pass through)."""
    nir = import_nir()
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    nested: set[str] = set()
    ports: dict[str, tuple[str, str]] = {}  # subgraph -> (its input node, its output node)
    raw_nodes = getattr(graph, "nodes", None)
    raw_edges = getattr(graph, "edges", None)
    if not isinstance(raw_nodes, dict) or raw_edges is None:
        raise ValueError(f"NIR graph {prefix or 'graph'!r} has no nodes dict and edge list")
    for key, node in raw_nodes.items():
        name = f"{prefix}{key}"
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges, _ = flatten(node, f"{name}.")
            nested.update(inner_nodes)
            inputs = [k for k, n in node.nodes.items() if isinstance(n, nir.Input)]
            outputs = [k for k, n in node.nodes.items() if isinstance(n, nir.Output)]
            if len(inputs) != 1 or len(outputs) != 1:
                raise ValueError(
                    f"NIR subgraph {name!r} must have one Input and one Output node; got "
                    f"{len(inputs)} and {len(outputs)}"
                )
            ports[name] = (f"{name}.{inputs[0]}", f"{name}.{outputs[0]}")
            nodes.update(inner_nodes)
            edges += inner_edges
        elif not isinstance(node, nir.NIRNode):
            raise ValueError(f"NIR node {name!r} is not a NIR node: {type(node).__name__}")
        else:
            nodes[name] = node
    for edge in raw_edges:
        if not isinstance(edge, (tuple, list)) or len(edge) != 2:
            raise ValueError(f"NIR graph {prefix or 'graph'!r}: malformed edge {edge!r}")
        src, dst = (f"{prefix}{end}" for end in edge)
        src = ports[src][1] if src in ports else src
        dst = ports[dst][0] if dst in ports else dst
        for end in (src, dst):
            if end not in nodes:
                raise ValueError(
                    f"NIR edge ({src!r}, {dst!r}) refers to a node {end!r} that does not exist"
                )
        edges.append((src, dst))
    if not prefix:
        _check(nodes, edges, nested)
    return nodes, edges, nested


def _check(nodes: dict[str, Any], edges: list[tuple[str, str]], nested: set[str]) -> None:
    """Structural checks: inputs, outputs, every node fed, shapes along edges."""
    nir = import_nir()
    if len(set(edges)) != len(edges):
        raise ValueError(
            f"NIR graph has a repeated edge: {sorted({e for e in edges if edges.count(e) > 1})}"
        )
    fed = {dst for _, dst in edges}
    for name, node in nodes.items():
        if isinstance(node, nir.Input) and name not in nested:
            if name in fed:
                raise ValueError(f"NIR Input node {name!r} has incoming edges")
        elif name not in fed:
            raise ValueError(
                f"NIR node {name!r} ({type(node).__name__}) receives no input (no edge into it)"
            )
    if not any(isinstance(n, nir.Input) for n in nodes.values()):
        raise ValueError("NIR graph has no Input node")
    if not any(isinstance(n, nir.Output) for n in nodes.values()):
        raise ValueError("NIR graph has no Output node")
    for src, dst in edges:
        out_type = _type(nodes[src], "output_type")
        in_type = _type(nodes[dst], "input_type")
        if out_type is not None and in_type is not None and tuple(out_type) != tuple(in_type):
            raise ValueError(
                f"NIR edge ({src!r}, {dst!r}): node {src!r} gives shape {tuple(out_type)} "
                f"but node {dst!r} takes {tuple(in_type)}"
            )


def _type(node: Any, attribute: str) -> Any:
    """A node's input or output shape where the node defines it, else None."""
    if type(node).__name__ in ("Conv1d", "Conv2d"):
        # nir recomputes these on reading with weight.shape[1] as the input channels
        # (wrong with groups) and weight.shape[2] as every kernel size: not reliable
        return None
    types = getattr(node, attribute, None)
    if not isinstance(types, dict) or len(types) != 1:
        return None
    value = next(iter(types.values()))
    if value is None:
        return None
    try:
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        return None


class _Unit:
    """Nodes that run as one module: a neuron with its fused synapse or feedback node."""

    def __init__(self, name: str, entry: str, members: list[str]) -> None:
        self.name = name
        self.entry = entry
        self.members = members


def _units(
    nodes: dict[str, Any], edges: list[tuple[str, str]]
) -> tuple[dict[str, _Unit], dict[str, Any]]:
    """Groups nodes into units; returns the units by exit node and what each one fuses."""
    nir = import_nir()
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for src, dst in edges:
        succ[src].append(dst)
        pred[dst].append(src)
    owner: dict[str, str] = {n: n for n in nodes}
    extra: dict[str, Any] = {}  # unit -> {"synapse": node} / {"rec": (node, from sinabs)}
    entries: dict[str, str] = {n: n for n in nodes}  # the node of a unit that takes its input
    for name, node in nodes.items():
        if isinstance(node, nir.LI) and sinabs_meta(node).get("role") == ROLE_SYNAPSE:
            target = succ[name]
            if (
                len(target) == 1
                and isinstance(nodes[target[0]], nir.IF)
                and pred[target[0]] == [name]
            ):
                owner[name] = target[0]
                extra.setdefault(target[0], {})["synapse"] = node
                entries[target[0]] = name
    # cycles between units
    unit_succ: dict[str, set[str]] = {}
    for src, dst in edges:
        a, b = owner[src], owner[dst]
        if a != b:
            unit_succ.setdefault(a, set()).add(b)
    for component in _strongly_connected(sorted(set(owner.values())), unit_succ):
        if len(component) == 1 and component[0] not in unit_succ.get(component[0], set()):
            continue
        neuron = [c for c in component if type(nodes[c]).__name__ in _NEURONS]
        others = [c for c in component if c not in neuron]
        ok = len(neuron) == 1 and len(others) == 1 and len(component) == 2
        if ok:
            n, rec = neuron[0], others[0]
            ok = (
                isinstance(nodes[rec], (nir.Affine, nir.Linear))
                and succ[rec] == [entries[n]]
                and pred[rec] == [n]
            )
        if not ok:
            raise ValueError(
                "NIR graph has a cycle through nodes "
                + ", ".join(repr(c) for c in sorted(component))
                + "; sinabs runs cycles of one neuron node (IF, LIF, CubaLIF, LI) and one "
                "Affine/Linear node that feeds its output back (a recurrent layer)"
            )
        owner[rec] = n
        from_sinabs = sinabs_meta(nodes[rec]).get("role") == ROLE_REC
        extra.setdefault(n, {})["rec"] = (nodes[rec], from_sinabs)
    units: dict[str, _Unit] = {}
    for name in nodes:
        unit = owner[name]
        if unit not in units:
            units[unit] = _Unit(unit, entries[unit], [])
        units[unit].members.append(name)
    return units, extra


def _strongly_connected(order: list[str], succ: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    for root in order:
        if root in index:
            continue
        work = [(root, iter(sorted(succ.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(succ.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                result.append(component)
    return result


class NIRGraphModule(nn.Module):
    """A NIR graph as a torch module (returned by :func:`sinabs.nir.from_nir`).

    One submodule per node, named after the node (dots become underscores); a neuron
    that sinabs exported with a synapse or a recurrent connection is one layer.
    ``forward`` takes one tensor per ``Input`` node (in graph order) and returns the
    output of the ``Output`` node, or a dict of them by name when there are several.
    Layers keep their states between calls, as sinabs layers do
    (``sinabs.reset_states(module)`` resets them).

    Attributes:
        nir_order: node names in execution order (a fused neuron under its own name).
        nir_sources: for each of them, the nodes whose outputs are summed into its input.
        nir_inputs, nir_outputs: names of the Input and Output nodes.
    """

    def __init__(self, graph: Any, ctx: Context) -> None:
        super().__init__()
        nir = import_nir()
        nodes, edges, nested = flatten(graph)
        units, extra = _units(nodes, edges)
        owner = {m: u.name for u in units.values() for m in u.members}
        sources: dict[str, list[str]] = {u: [] for u in units}
        for src, dst in edges:
            a, b = owner[src], owner[dst]
            if a != b and units[b].entry == dst:
                sources[b].append(a)
        self.nir_sources = sources
        self.nir_inputs = [
            n for n, node in nodes.items() if isinstance(node, nir.Input) and n not in nested
        ]
        self.nir_outputs = [
            n for n, node in nodes.items() if isinstance(node, nir.Output) and n not in nested
        ]
        self.nir_order = _topological(list(units), sources)
        self._keys: dict[str, str] = {}
        for unit in units:
            node = nodes[unit]
            if type(node).__name__ in _NEURONS:
                fused = extra.get(unit, {})
                module = neuron_module(
                    node, unit, ctx, synapse=fused.get("synapse"), rec=fused.get("rec")
                )
            else:
                module = stateless_module(node, unit, ctx)
            key = _module_name(unit)
            if key in self._modules:
                raise ValueError(
                    f"NIR node names {unit!r} and another map to one module name {key!r}"
                )
            self.add_module(key, module)
            self._keys[unit] = key

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        if len(inputs) != len(self.nir_inputs):
            raise TypeError(
                f"this graph takes {len(self.nir_inputs)} input tensor(s) "
                f"({', '.join(self.nir_inputs)}); got {len(inputs)}"
            )
        values: dict[str, torch.Tensor] = dict(zip(self.nir_inputs, inputs, strict=True))
        for unit in self.nir_order:
            if unit in values:
                x = values[unit]
            else:
                parts = [values[s] for s in self.nir_sources[unit]]
                x = parts[0]
                for part in parts[1:]:
                    x = x + part
            values[unit] = self._modules[self._keys[unit]](x)  # type: ignore[misc]
        if len(self.nir_outputs) == 1:
            return values[self.nir_outputs[0]]
        return {name: values[name] for name in self.nir_outputs}


def _topological(units: list[str], sources: dict[str, list[str]]) -> list[str]:
    """Units ordered so that every unit comes after its sources (graph order on ties)."""
    done: set[str] = set()
    order: list[str] = []
    pending = list(units)
    while pending:
        ready = [u for u in pending if all(s in done for s in sources[u])]
        if not ready:  # pragma: no cover - cycles were rejected before
            raise ValueError(f"NIR graph has a cycle through {pending}")
        for u in ready:
            done.add(u)
            order.append(u)
        pending = [u for u in pending if u not in done]
    return order
