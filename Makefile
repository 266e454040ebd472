# Developer entry points. `make demo` trains, converts and draws (results in out/,
# one page out/index.html); `make test` runs the test suite (the docs build and its
# browser checks included) and the linters; `make docs` builds the documentation site.
# All create the virtual environment first.
#
# One virtual environment, .venv, filled in layers with a stamp file each, so that each
# target installs only what it needs and `make test` after `make demo` adds only the
# missing layer (no second torch, no second C build):
#   base  the venv and torch (pinned CPU build)
#   demo  the package, editable with its C kernel, and the `demo` extra (matplotlib,
#         scikit-learn, tqdm): all that `make demo` needs, no triton
#   dev   the `test`, `dev` and `docs` extras on top (pytest, hypothesis, triton for its
#         interpreter tests, ruff, mypy, sphinx, playwright); installed as extras of the
#         already installed package, which pip leaves alone, so the C kernel is not
#         rebuilt

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: an unpinned resolve can pull a multi-GB CUDA build.
TORCH := torch==2.13.0
# The base and demo layers skip pip's byte-compilation of every installed module (torch
# alone: 7 instead of 24 s of CPU time, 51 instead of 133 s of wall time on a busy
# machine); Python compiles and caches the modules a program imports on first use.
NO_COMPILE := --no-compile
BASE_STAMP := $(VENV)/.stamp-base
DEMO_STAMP := $(VENV)/.stamp-demo
DEV_STAMP := $(VENV)/.stamp-dev
LINTED := src tests examples benchmarks docs
OUT := out
DOCS_OUT := docs/_build/html

.PHONY: venv demo test test-slow docs lint clean

venv: $(DEV_STAMP)

$(BASE_STAMP):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(NO_COMPILE) $(TORCH)
	touch $@

$(DEMO_STAMP): $(BASE_STAMP) pyproject.toml setup.py
	@echo "Installing sinabs; this compiles its C kernel (about 1 CPU minute, in parallel;" \
		"pip shows no output meanwhile, pip install -v shows each unit)"
	$(BIN)/pip install $(NO_COMPILE) -e ".[demo]"
	touch $@

$(DEV_STAMP): $(DEMO_STAMP)
	$(BIN)/pip install "sinabs[demo,test,dev,docs]"
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/sinabs demo --out $(OUT)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src/sinabs

# the long variants of the robustness tests (fuzzing, long streams, inductor), of the
# CLI (the defaults of train and convert) and the packaging test (the sdist and wheels
# built and installed into a clean venv)
test-slow: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -m slow

# A clean build (the gallery's examples run every time), warnings as errors.
docs: $(DEV_STAMP)
	rm -rf docs/_build docs/auto_examples docs/api/generated
	$(BIN)/python -m sphinx -b html -W --keep-going docs $(DOCS_OUT)
	@echo "documentation: $(DOCS_OUT)/index.html"

lint: $(DEV_STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src/sinabs

clean:
	rm -rf $(VENV) $(OUT) docs/_build docs/auto_examples docs/api/generated
