# The two commands of the README: `make run` (the main job) and `make test` (the suite).
VENV ?= .venv
ARGS ?=

.PHONY: run test bench lint setup

setup:
	@./scripts/bootstrap

run: setup
	$(VENV)/bin/copilot run $(ARGS)

test: setup
	$(VENV)/bin/python -m pytest $(ARGS)

lint: setup
	$(VENV)/bin/ruff check .
