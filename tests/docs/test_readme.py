"""The README is an entrance: its first screen, its links, its figure and its table.

(Its Python blocks run in ``test_code_blocks.py``.)
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: what a terminal or a browser shows of the README before one scrolls
FIRST_SCREEN_LINES = 30


def _first_screen() -> str:
    return "\n".join(README.read_text().splitlines()[:FIRST_SCREEN_LINES])


def test_first_screen_has_the_two_commands_the_figure_and_the_docs() -> None:
    screen = _first_screen()
    assert re.search(r"^make demo\b", screen, re.MULTILINE)
    assert re.search(r"^make test\b", screen, re.MULTILINE)
    (figure,) = re.findall(r"!\[[^\]]+\]\(([^)]+\.png)\)", screen)
    assert (ROOT / figure).read_bytes()[:8] == PNG_MAGIC
    assert "make docs" in screen and "docs/_build/html" in screen
    assert "docs/getting_started.md" in screen and "docs/differences.md" in screen


def test_relative_links_exist() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert missing == []


def _table_rows(text: str, heading: str) -> list[list[str]]:
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def test_performance_table_matches_the_reports() -> None:
    sys.path.insert(0, str(ROOT / "docs" / "_ext"))
    try:
        tables = importlib.import_module("benchmark_tables")
    finally:
        sys.path.remove(str(ROOT / "docs" / "_ext"))
    results = ROOT / "benchmarks" / "results"
    cpu = json.loads((results / "cpu_bench_2core.json").read_text())["rows"]
    gpu = json.loads((results / "gpu_check_h200.json").read_text())["timings"]
    size = [32, 100, 4096]
    rows = _table_rows(README.read_text(), "Performance")
    assert [row[0] for row in rows] == ["LIF", "IAF", "ALIF", "ExpLeak"]
    for row in rows:
        (c,) = [r for r in cpu if r["layer"] == row[0] and r["size"] == size]
        (g,) = [t for t in gpu if t["layer"] == row[0] and t["size"] == size]
        ms, ratio = tables.format_ms, tables.format_ratio
        assert row[1:] == [
            f"{ms(c['cpu_train_ms'])} ms",
            f"{ms(c['reference_train_ms'])} ms",
            ratio(c["speedup_train"]),
            f"{ms(g['triton_train_ms'])} ms",
            f"{ms(g['reference_train_ms'])} ms",
            ratio(g["speedup_train"]),
        ], row[0]


def test_readme_figure_script_draws_the_figure(tmp_path: Path) -> None:
    out = tmp_path / "figure.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "readme_figure.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert out.stat().st_size > 10_000
