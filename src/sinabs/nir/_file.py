"""Reading ``.nir`` files (HDF5, as ``nir.write`` writes them) with errors that name the
node, and knowing which files predate ``v_reset`` (nir < 1.0.6: the reset subtracted
the threshold)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._common import import_nir


def _read_group(group: Any) -> dict[str, Any]:
    import h5py

    result: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            result[key] = _read_group(item)
        else:
            value = item[()]
            result[key] = value.decode("utf8") if isinstance(value, bytes) else value
    return result


def _build(data: dict[str, Any], path: str, name: str) -> tuple[Any, bool]:
    """A node from its stored fields; ``(node, whether a spiking node lacks v_reset)``."""
    nir = import_nir()
    kind = data.get("type")
    where = f"NIR node {name!r} in {path}"
    if not isinstance(kind, str):
        raise ValueError(f"{where} has no type")
    legacy = False
    try:
        if kind == "NIRGraph":
            if "nodes" not in data or "edges" not in data:
                raise ValueError("a graph needs nodes and edges")
            nodes = {}
            for key, child in data["nodes"].items():
                nodes[key], child_legacy = _build(child, path, f"{name}.{key}" if name else key)
                legacy = legacy or child_legacy
            edges = [
                tuple(e.decode("utf8") if isinstance(e, bytes) else str(e) for e in edge)
                for edge in np.asarray(data["edges"]).reshape(-1, 2)
            ]
            metadata = data.get("metadata", {})
            return nir.NIRGraph(
                nodes=nodes, edges=edges, metadata=metadata, type_check=False
            ), legacy
        if kind in ("IF", "LIF", "CubaLIF") and "v_reset" not in data:
            legacy = True
        return nir.dict2NIRNode(dict(data)), legacy
    except ValueError as err:
        if str(err).startswith("NIR node"):
            raise
        raise ValueError(f"{where} ({kind}): {err}") from err
    except (KeyError, TypeError, AssertionError, IndexError) as err:
        detail = (
            f"missing field {err}" if isinstance(err, KeyError) else str(err) or type(err).__name__
        )
        if isinstance(err, AssertionError) and kind not in nir.ir.__all__:
            detail = "unknown node type"
        raise ValueError(f"{where} ({kind}): {detail}") from err


def read(path: str | os.PathLike[str]) -> tuple[Any, bool, str]:
    """``(graph, legacy reset, nir version that wrote the file)`` of a ``.nir`` file."""
    import h5py

    text = os.fspath(path)
    try:
        with h5py.File(text, "r") as handle:
            version = handle["version"][()] if "version" in handle else b"unknown"
            if "node" not in handle:
                raise ValueError(f"{text} is not a NIR file (no 'node' group)")
            data = _read_group(handle["node"])
    except OSError as err:
        raise ValueError(f"cannot read NIR file {text}: {err}") from err
    version = version.decode("utf8") if isinstance(version, bytes) else str(version)
    graph, legacy = _build(data, text, "")
    return graph, legacy or _older_than(version, (1, 0, 6)), version


def _older_than(version: str, reference: tuple[int, ...]) -> bool:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            return False
        parts.append(int(digits))
    return tuple(parts) < reference
