# Two entry points (see README): `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ROOT ?= demo-root

.PHONY: setup serve demo test lint typecheck check bench clean screenshots

$(BIN)/outpack: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

setup: $(BIN)/outpack

# Builds a small demo root (with a few packets) and serves it.
demo: setup
	$(BIN)/python -m outpack.demo $(DEMO_ROOT)

serve: demo
	$(BIN)/outpack start-server --root $(DEMO_ROOT) --listen $(HOST):$(PORT)

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest

# Benchmarks print ratios against baselines measured in the same run; not part of `make test`.
bench: setup
	$(BIN)/pip install --quiet -e '.[test,bench]'
	$(BIN)/python benchmarks/query_bench.py
	$(BIN)/python benchmarks/server_bench.py
	$(BIN)/python -m benchmarks.scale_bench
	$(BIN)/python -m benchmarks.ui_bench
	$(BIN)/python -m benchmarks.pull_bench

# Retakes docs/images/ui-*.png (docs/ui.md) from the demo root, in chromium.
screenshots: setup
	OUTPACK_SCREENSHOTS=1 $(BIN)/pytest tests/ui/test_browser.py -q

clean:
	rm -rf $(VENV) $(DEMO_ROOT) .pytest_cache .mypy_cache .ruff_cache
