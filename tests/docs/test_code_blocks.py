"""Every Python code block of the README and of the docs' Markdown pages runs.

The blocks of one file run in order in one namespace (a page builds on its earlier
blocks), in a temporary working directory, with matplotlib drawing off-screen. A block
that is not meant to run (a fragment, something that needs hardware or a cluster) is
marked by an HTML comment on the line right above its fence, which neither GitHub nor
the docs site shows, and which must give a reason::

    <!-- no-run: needs two GPUs -->
    ```python
    ...
    ```

Use it sparingly: a block that runs is a block that stays right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
NO_RUN = re.compile(r"^\s*<!--\s*no-run:\s*(?P<reason>.*?)\s*-->\s*$")
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")
PYTHON_INFO = re.compile(r"^(python|py|python3|\{code-block\}\s+python|\{code\}\s+python)\b")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the first code line
    code: str
    skip_reason: str | None


def markdown_files() -> list[Path]:
    """README.md and every Markdown page of the docs (generated folders excluded)."""
    pages = [
        p
        for p in sorted(DOCS.rglob("*.md"))
        if not any(part.startswith("_") for part in p.relative_to(DOCS).parts[:-1])
        and p.relative_to(DOCS).parts[0] not in {"auto_examples", "api"}
    ]
    return [ROOT / "README.md", *pages]


def python_blocks(path: Path) -> list[Block]:
    """The fenced Python blocks of a Markdown file, with their no-run markers."""
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        end = i + 1
        while end < len(lines) and not re.match(
            rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[end]
        ):
            end += 1
        if PYTHON_INFO.match(opening["info"].strip()):
            marker = NO_RUN.match(lines[i - 1]) if i > 0 else None
            if marker is not None and not marker["reason"]:
                raise ValueError(f"{path}:{i}: a no-run marker needs a reason")
            code = "\n".join(line[len(opening["indent"]) :] for line in lines[i + 1 : end])
            blocks.append(Block(path, i + 2, code, marker["reason"] if marker else None))
        i = end + 1
    return blocks


def test_markers_only_mark_python_blocks() -> None:
    for path in markdown_files():
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if NO_RUN.match(line):
                following = lines[number + 1] if number + 1 < len(lines) else ""
                opening = FENCE.match(following)
                assert opening and PYTHON_INFO.match(opening["info"].strip()), (
                    f"{path}:{number + 1}: a no-run marker must stand right above a ```python fence"
                )


def test_parser_finds_blocks_and_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\na = 1\n```\n\n<!-- no-run: needs a GPU -->\n```python\nb = 2\n```\n"
        "````md\n```python\nnot a block\n```\n````\n```sh\nls\n```\n"
    )
    blocks = python_blocks(page)
    assert [(b.line, b.code, b.skip_reason) for b in blocks] == [
        (3, "a = 1", None),
        (8, "b = 2", "needs a GPU"),
    ]


def _with_runnable_blocks() -> list[Path]:
    return [p for p in markdown_files() if any(b.skip_reason is None for b in python_blocks(p))]


def test_the_readme_and_the_guides_have_blocks_to_run() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _with_runnable_blocks()}
    assert {"README.md", "docs/getting_started.md"} <= names
    assert sum(name.startswith("docs/how-to/") for name in names) >= 5


@pytest.mark.parametrize(
    "path", _with_runnable_blocks(), ids=lambda p: p.relative_to(ROOT).as_posix()
)
def test_python_blocks_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runnable = [b for b in python_blocks(path) if b.skip_reason is None]
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__main__"}
    try:
        for block in runnable:
            # padded so that tracebacks give the line numbers of the Markdown file
            source = "\n" * (block.line - 1) + block.code
            code = compile(source, str(block.path), "exec")
            try:
                exec(code, namespace)
            except Exception as error:
                raise AssertionError(
                    f"the Python block at {block.path.relative_to(ROOT)}:{block.line} "
                    f"failed: {type(error).__name__}: {error}"
                ) from error
    finally:
        plt.close("all")
