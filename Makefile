# Developer entry points. `make demo` renders the tutorial figures, `make test` runs the
# test suite (the docs build and its browser checks included) and the linters, `make docs`
# builds the documentation site; all create the virtual environment first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: an unpinned resolve can pull a multi-GB CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed
LINTED := src tests examples benchmarks docs
FIGURES := out/figures
DOCS_OUT := docs/_build/html

.PHONY: venv demo test test-slow docs lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(TORCH)
	$(BIN)/pip install -e ".[test,plot,dev,docs]"
	touch $@

demo: venv
	$(BIN)/python examples/choosing_a_neuron_model.py $(FIGURES)

test: venv
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src/sinabs

# the long variants of the robustness tests (fuzzing, long streams, inductor) and the
# packaging test (the sdist and wheels built and installed into a clean venv)
test-slow: venv
	$(BIN)/python -m pytest -q -m slow

# A clean build (the gallery's examples run every time), warnings as errors.
docs: venv
	rm -rf docs/_build docs/auto_examples docs/api/generated
	$(BIN)/python -m sphinx -b html -W --keep-going docs $(DOCS_OUT)
	@echo "documentation: $(DOCS_OUT)/index.html"

lint: venv
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src/sinabs

clean:
	rm -rf $(VENV) out docs/_build docs/auto_examples docs/api/generated
