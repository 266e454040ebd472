"""Sphinx directive ``benchmark-table``: a table read from a benchmark's JSON report.

The performance page shows the numbers of the committed reports in
``benchmarks/results/`` instead of copies typed by hand, so a new run of a benchmark
updates the page. In a Markdown page::

    ```{benchmark-table} ../benchmarks/results/cpu_bench_2core.json
    :kind: cpu
    ```

``kind`` is ``cpu`` (``benchmarks/bench_cpu.py``'s report), ``cpu_env``
(``benchmarks/bench_cpu_env.py``'s: allocator set-ups and peers side by side), ``gpu``
(the ``timings`` of ``benchmarks/gpu_check.py``'s report) or ``network``
(``benchmarks/bench_network.py``'s report). The path is relative to the page.
:func:`table_rows` is the formatting; :func:`format_ms` and :func:`format_ratio` are
shared with the test that checks the README's short table against the same reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

Row = list[str]


def _size(size: Sequence[int]) -> str:
    return "(" + ", ".join(str(n) for n in size) + ")"


def format_ms(value: float) -> str:
    """Three significant digits (``1.90``, ``54.5``), whole numbers from 100 on."""
    return f"{value:#.3g}" if value < 100 else f"{value:.0f}"


def format_ratio(value: float) -> str:
    """One decimal (``6.4``), whole numbers from 100 on."""
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _cpu(report: dict[str, Any]) -> tuple[Row, list[Row]]:
    header = [
        "layer",
        "(B, T, N)",
        "fused forward (ms)",
        "fused forward+backward (ms)",
        "reference forward+backward (ms)",
        "training speed-up",
        "fused training / bandwidth floor",
    ]
    rows = [
        [
            r["layer"],
            _size(r["size"]),
            format_ms(r["cpu_fwd_ms"]),
            format_ms(r["cpu_train_ms"]),
            format_ms(r["reference_train_ms"]),
            format_ratio(r["speedup_train"]),
            format_ratio(r["cpu_train_over_floor"]),
        ]
        for r in report["rows"]
    ]
    return header, rows


#: what each variant of bench_cpu_env.py is, for the table
ENV_VARIANTS = {
    "fused": "sinabs, nothing set (allocator tuned by sinabs)",
    "fused-untuned": "sinabs, SINABS_NO_ALLOCATOR_TUNING=1",
    "fused-thp": "sinabs, THP_MEM_ALLOC_ENABLE=1, untuned",
    "fused-env": "sinabs, GLIBC_TUNABLES + THP_MEM_ALLOC_ENABLE=1",
    "fused-thp-tuned": "sinabs, THP_MEM_ALLOC_ENABLE=1 (allocator tuned by sinabs)",
    "unbind": "PyTorch loop over x.unbind(1), nothing set",
    "unbind-tuned": "PyTorch loop over x.unbind(1), allocator tuned by sinabs",
    "spikingjelly": "SpikingJelly LIFNode (multi-step), nothing set",
}


def _range(values: Sequence[float]) -> str:
    return f"{format_ms(values[0])} to {format_ms(values[1])}"


def _cpu_env(report: dict[str, Any]) -> tuple[Row, list[Row]]:
    header = [
        "set-up",
        "forward (ms): median (range over rounds)",
        "forward / floor",
        "forward / floor, fastest calls",
        "forward+backward (ms): median (range)",
        "forward+backward / floor",
        "forward+backward / floor, fastest calls",
        "page faults per training step",
    ]
    rows = [
        [
            ENV_VARIANTS.get(name, name),
            f"{format_ms(s['fwd_ms'])} ({_range(s['fwd_range'])})",
            format_ratio(s["fwd_over_floor"]),
            format_ratio(s["fwd_min_over_floor"]),
            f"{format_ms(s['train_ms'])} ({_range(s['train_range'])})",
            format_ratio(s["train_over_floor"]),
            format_ratio(s["train_min_over_floor"]),
            f"{s['train_faults_per_call']:.0f}",
        ]
        for name, s in report["summary"].items()
    ]
    return header, rows


def _gpu(report: dict[str, Any]) -> tuple[Row, list[Row]]:
    header = [
        "layer",
        "(B, T, N)",
        "kernel forward (ms)",
        "kernel forward+backward (ms)",
        "layer forward+backward (ms)",
        "reference forward+backward (ms)",
        "training speed-up",
    ]
    rows = [
        [
            t["layer"],
            _size(t["size"]),
            format_ms(t["kernel_fwd_ms"]),
            format_ms(t["kernel_train_ms"]),
            format_ms(t["triton_train_ms"]),
            format_ms(t["reference_train_ms"]),
            format_ratio(t["speedup_train"]),
        ]
        for t in report["timings"]
    ]
    return header, rows


def _network(report: dict[str, Any]) -> tuple[Row, list[Row]]:
    header = ["network", "framework", "training step (ms)", "range over rounds (ms)", "ratio"]
    rows = []
    for network in report["settings"]["networks"]:
        ratios = report["ratios"][network]
        for framework in report["settings"]["frameworks"]:
            entry = report["results"].get(f"{network}/{framework}")
            if entry is None:
                why = report["unavailable"].get(framework, "not measured")
                rows.append([network, framework, "-", "-", f"unavailable: {why}"])
                continue
            ratio = ""
            if framework == "sinabs" and "sinabs_over_relu" in ratios:
                ratio = f"{ratios['sinabs_over_relu']:.2f}x its ReLU twin"
            elif f"{framework}_over_sinabs" in ratios:
                ratio = f"{ratios[f'{framework}_over_sinabs']:.2f}x sinabs"
            span = f"{format_ms(entry['min_ms'])} - {format_ms(entry['max_ms'])}"
            rows.append([network, framework, format_ms(entry["median_ms"]), span, ratio])
    return header, rows


KINDS: dict[str, Callable[[dict[str, Any]], tuple[Row, list[Row]]]] = {
    "cpu": _cpu,
    "cpu_env": _cpu_env,
    "gpu": _gpu,
    "network": _network,
}


def table_rows(report: dict[str, Any], kind: str) -> tuple[Row, list[Row]]:
    """The header and rows (formatted strings) of a ``kind`` report's table."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind](report)


def _caption(report: dict[str, Any], kind: str) -> str:
    if kind == "network":
        env = report["environment"]
        return (
            f"{env['cpu_model']} (AVX-512: {'yes' if env['avx512'] else 'no'}), "
            f"{env['threads']} threads, torch {env['packages']['torch']}, allocator "
            f"{env['allocator']}, float32; median of {report['settings']['rounds']} "
            "interleaved rounds, each framework in a fresh process"
        )
    if kind == "cpu":
        return (
            f"{report['machine']}, {report['threads']} threads, torch {report['torch']}, "
            f"allocator {report['allocator']}, float32; copy bandwidth "
            f"{report['bandwidth_GBps']:.0f} GB/s"
        )
    if kind == "cpu_env":
        size = _size(report["size"])
        return (
            f"{report['layer']} at {size}, {report['machine']}, {report['threads']} threads, "
            f"torch {report['torch']}, float32; medians over {report['rounds']} rounds of "
            "fresh processes"
        )
    return (
        f"{report['machine']}, torch {report['torch']}, Triton {report['triton']}, "
        f"float32; copy bandwidth {report['bandwidth_GBps'] / 1000:.2f} TB/s"
    )


def _row(cells: Row) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=cell)
        row += entry
    return row


def table_node(caption: str, header: Row, rows: list[Row]) -> nodes.table:
    """A docutils table (built as nodes: the page around it may be Markdown)."""
    table = nodes.table()
    table += nodes.title(text=caption)
    group = nodes.tgroup(cols=len(header))
    table += group
    group.extend(nodes.colspec(colwidth=1) for _ in header)
    head = nodes.thead()
    head += _row(header)
    body = nodes.tbody()
    body.extend(_row(row) for row in rows)
    group += head
    group += body
    return table


class BenchmarkTable(SphinxDirective):
    """``benchmark-table PATH`` with ``:kind: cpu|cpu_env|gpu|network``."""

    required_arguments = 1
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {
        "kind": lambda value: directives.choice(value, tuple(KINDS))
    }

    def run(self) -> list[nodes.Node]:
        kind = self.options.get("kind", "cpu")
        relative, path_str = self.env.relfn2path(self.arguments[0], self.env.docname)
        path = Path(path_str)
        if not path.is_file():
            raise self.error(f"benchmark-table: no such report: {self.arguments[0]}")
        self.env.note_dependency(relative)
        report = json.loads(path.read_text())
        header, rows = table_rows(report, kind)
        caption = f"{_caption(report, kind)} (from {path.name})"
        return [table_node(caption, header, rows)]


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("benchmark-table", BenchmarkTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
