# The two quick-start commands: `make demo` and `make test`. Both create .venv and install
# what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test typecheck bench snapshots clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python -c 'import smart_dowel.pipeline.jit as j; j.main()'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/dowel demo

test: $(VENV)/.installed
	.ci/system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# The firmware against MicroPython's rp2 stubs (kept out of the venv's own site-packages).
$(VENV)/mp-stubs/.installed: $(VENV)/.installed
	$(BIN)/python -m pip install -q mypy
	$(BIN)/python -m pip install -q --no-deps --target $(VENV)/mp-stubs micropython-rp2-rpi_pico-stubs micropython-stdlib-stubs
	touch $@

typecheck: $(VENV)/mp-stubs/.installed
	$(BIN)/mypy --config-file device/mypy.ini device/dowel_device device/main.py

bench: $(VENV)/.installed
	$(BIN)/python -m bench

snapshots: $(VENV)/.installed
	$(BIN)/pytest tests -k snapshot --snapshot-update

clean:
	rm -rf $(VENV) build *.egg-info
