# The two quick-start commands: `make demo` and `make test`. Both create .venv and install
# what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench snapshots clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/dowel demo

test: $(VENV)/.installed
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed
	$(BIN)/python -m bench

snapshots: $(VENV)/.installed
	$(BIN)/pytest tests -k snapshot --snapshot-update

clean:
	rm -rf $(VENV) build *.egg-info
