# The two commands of the README: `make demo` runs an example pipeline end to end,
# `make test` runs the whole test suite. Both set up what they need first (idempotently).
SHELL := /bin/bash
VENV := .venv
GZ := $(VENV)/bin/gleitzeit

.PHONY: setup setup-system demo test lint bench

setup:
	./scripts/bootstrap.sh

setup-system:
	./scripts/bootstrap.sh --system

demo: setup
	$(GZ) run examples/hello_chain.yaml

test: setup-system
	./scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check gleitzeit tests bench
	$(VENV)/bin/ruff format --check gleitzeit tests bench
	$(VENV)/bin/mypy

bench: setup
	$(VENV)/bin/python -m bench --quick
