# Developer entry points. `make demo` renders the tutorial figures, `make test` runs the
# test suite and the linters; both create the virtual environment first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: an unpinned resolve can pull a multi-GB CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed
LINTED := src tests examples benchmarks
FIGURES := out/figures

.PHONY: venv demo test lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(TORCH)
	@echo "Installing sinabs; this compiles its C kernel (about 1 CPU minute, in parallel;" \
		"pip shows no output meanwhile, pip install -v shows each unit)"
	$(BIN)/pip install -e ".[test,plot,dev]"
	touch $@

demo: venv
	$(BIN)/python examples/choosing_a_neuron_model.py $(FIGURES)

test: venv
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src/sinabs

lint: venv
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy src/sinabs

clean:
	rm -rf $(VENV) out
