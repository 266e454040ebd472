"""Sphinx configuration of the sinabs documentation (``make docs``).

Pages are Markdown (MyST). The API reference is generated from the docstrings (Google
style, read by napoleon); the modules it covers are listed once, in ``api/index.rst``
(reStructuredText: autosummary finds the modules to generate pages for only there).
The gallery's scripts (``examples/gallery/plot_*.py``) run on every build, so an example
that no longer works fails the build. Warnings are errors in ``make docs`` and the tests.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType

import matplotlib
from sphinx.application import Sphinx

# The gallery draws off-screen; chosen before anything imports pyplot.
matplotlib.use("Agg")

import sinabs

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

project = "sinabs"
author = "the sinabs developers"
copyright = "the sinabs developers; AGPL-3.0-or-later"
release = sinabs.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    # MathJax from the package's own copy, in the site's _static: the pages render their
    # equations without a network connection (and the browser test sees no other host)
    "sphinx-mathjax-offline",
    "sphinx_gallery.gen_gallery",
    "benchmark_tables",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/*.ipynb", "**/*.py", "**/*.json", "**/*.md5", "**/*.zip"]
templates_path = ["_templates"]

#: Pages listed in the index's toctree that may not exist yet (other work adds them):
#: their entry is dropped while the file is missing. Every how-to page in how-to/ is
#: listed by a glob.
OPTIONAL_PAGES = ("reliability",)


def _drop_missing_optional_pages(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == root_doc:
        for page in OPTIONAL_PAGES:
            if not (DOCS / f"{page}.md").is_file():
                source[0] = source[0].replace(f"\n{page}\n", "\n")


# Every cross-reference must resolve (nitpicky), except to other libraries (no
# intersphinx: the build must not need the network) and to private helpers that show up
# in signatures and base classes.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(torch|numpy|matplotlib|collections\.abc|typing|enum)\..*"),
    (r"py:class", r"Axes|Figure"),  # matplotlib, imported for type checking only
    (r"py:class", r"sinabs\.synopcounter\._\w+"),
    (r"py:class", r"sinabs\.utils\.T"),  # a TypeVar
]

# ---- Markdown -------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3

# ---- API reference --------------------------------------------------------------------


def api_modules() -> list[str]:
    """The modules of the API reference: the list in api/index.rst's autosummary."""
    block = (DOCS / "api" / "index.rst").read_text().split(".. autosummary::", 1)[1]
    lines = (line.strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith(":")]


def _assigned_names(module: ModuleType) -> set[str]:
    """Names that ``module``'s source assigns at top level (where data is defined)."""
    tree = ast.parse(inspect.getsource(module))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def reexports(modules: list[str]) -> dict[str, str]:
    """``"module.name" -> "home.name"`` for names a module re-exports from another
    documented module that lists it in its own ``__all__`` (described there only).

    A class's or function's home is its ``__module__``; data has none, so its home is
    the documented module whose source assigns it.
    """
    loaded = {name: importlib.import_module(name) for name in modules}
    found = {}
    for module_name, module in loaded.items():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if isinstance(value, ModuleType):
                continue
            home = getattr(value, "__module__", None)
            if not isinstance(value, type) and not callable(value):
                homes = [m for m, mod in loaded.items() if name in _assigned_names(mod)]
                home = homes[0] if len(homes) == 1 else None
            if home == module_name or home not in loaded:
                continue
            if name in getattr(loaded[home], "__all__", ()):
                found[f"{module_name}.{name}"] = f"{home}.{name}"
    return found


def submodule_names(modules: list[str]) -> dict[str, list[str]]:
    """The names in each module's ``__all__`` that are modules."""
    found = {}
    for module_name in modules:
        module = importlib.import_module(module_name)
        names = getattr(module, "__all__", ())
        found[module_name] = [n for n in names if isinstance(getattr(module, n), ModuleType)]
    return found


def documented_classes(modules: list[str]) -> set[type]:
    """The classes in the ``__all__`` of the documented modules."""
    found = set()
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if isinstance(value, type):
                found.add(value)
    return found


DOCUMENTED_CLASSES = documented_classes(api_modules())


def _public_bases(app: Sphinx, name: str, obj: object, options: object, bases: list) -> None:
    """Lists only the bases a reader can look up: documented classes and other
    libraries' (private helpers and mixins of this package are left out)."""
    bases[:] = [
        base
        for base in bases
        if not getattr(base, "__module__", "").startswith("sinabs") or base in DOCUMENTED_CLASSES
    ]


autosummary_context = {
    "reexports": reexports(api_modules()),
    "submodule_names": submodule_names(api_modules()),
}
autosummary_generate = True
autosummary_ignore_module_all = False  # a module's __all__ is its public API
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_class_signature = "separated"
autodoc_preserve_defaults = True
# A method without a docstring of its own (forward, backward of autograd functions) is
# left out instead of showing torch's generic text.
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# "Shape:" sections (input and output shapes) render as their own titled paragraph.
napoleon_custom_sections = ["Shape"]

# ---- Gallery --------------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(DOCS.parent / "examples" / "gallery"),
    "gallery_dirs": "auto_examples",
    # every script runs, on every build (no cache of earlier runs is trusted)
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_order.key",
    "run_stale_examples": True,
    "abort_on_example_error": True,
    "download_all_examples": False,
    "write_computation_times": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "min_reported_time": 1,
}

# ---- HTML -----------------------------------------------------------------------------
html_theme = "furo"
html_title = f"sinabs {release}"
html_static_path = ["_static"]
html_show_sourcelink = False


def setup(app: Sphinx) -> None:
    app.connect("source-read", _drop_missing_optional_pages)
    app.connect("autodoc-process-bases", _public_bases)
