"""``<out>/index.html``: one page that shows every figure and table of the commands run
into an output folder.

Each command writes ``<out>/<command>/results.json`` (title, description, summary,
tables, figure and file names); the page is rebuilt from those after every command,
so it always shows what the folder holds. Images are linked relatively
(``train/training_curve.png``) and the style sheet is inline: the folder can be
moved or copied as a whole, and the page needs nothing else.
"""

from __future__ import annotations

import datetime
import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sinabs

from ._common import RESULTS_FILE, format_cell

#: the sections of the page, in order
SECTIONS = ("train", "convert", "gallery", "bench")
INDEX = "index.html"

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; margin: 1em 0; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding-bottom: 0.4em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.95em; }
.meta { color: #666; font-size: 0.9em; }
"""


def load_sections(out: str | Path) -> list[dict[str, Any]]:
    """The ``results.json`` of every command run into ``out``, in page order."""
    sections = []
    for name in SECTIONS:
        path = Path(out) / name / RESULTS_FILE
        if path.is_file():
            sections.append(json.loads(path.read_text()))
    return sections


def _table(table: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table["columns"])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row) + "</tr>"
        for row in table["rows"]
    )
    return (
        f"<table><caption>{html.escape(table['title'])}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _link(section: str, file: str) -> str:
    return html.escape(f"{quote(section)}/{quote(file)}")


def _section(results: dict[str, Any]) -> str:
    name = results["command"]
    parts = [f'<section id="{html.escape(name)}">', f"<h2>{html.escape(results['title'])}</h2>"]
    if results.get("description"):
        parts.append(f"<p>{html.escape(results['description'])}</p>")
    parts += [_table(table) for table in results.get("tables", [])]
    for figure in results.get("figures", []):
        parts.append(
            f'<figure><img src="{_link(name, figure["file"])}" '
            f'alt="{html.escape(figure["caption"])}">'
            f"<figcaption>{html.escape(figure['caption'])} "
            f"<code>{html.escape(name + '/' + figure['file'])}</code></figcaption></figure>"
        )
    files = results.get("files", [])
    if files:
        items = "".join(
            f'<li><a href="{_link(name, f["file"])}">{html.escape(f["file"])}</a>: '
            f"{html.escape(f['caption'])}</li>"
            for f in files
        )
        parts.append(f"<p>Files:</p><ul>{items}</ul>")
    parts.append(f'<p class="meta">sinabs {name}: {results["seconds"]:.1f} s</p></section>')
    return "\n".join(parts)


def render(sections: list[dict[str, Any]]) -> str:
    """The page for the given command results."""
    nav = " ".join(
        f'<a href="#{html.escape(s["command"])}">{html.escape(s["title"])}</a>' for s in sections
    )
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    body = "\n".join(_section(s) for s in sections) or "<p>No results yet.</p>"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>sinabs demo results</title><style>{STYLE}</style></head><body>"
        "<h1>sinabs demo results</h1>"
        f'<p class="meta">sinabs {html.escape(sinabs.__version__)}, generated {when}.</p>'
        f"<nav>{nav}</nav>\n{body}\n</body></html>\n"
    )


def write_index(out: str | Path) -> Path:
    """Rebuilds ``<out>/index.html`` from the results in ``out``; returns its path."""
    path = Path(out) / INDEX
    path.write_text(render(load_sections(out)), encoding="utf-8")
    return path
