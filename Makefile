# Clearance: two commands for a fresh Debian machine.
#   make run   - install what is missing, start the two-region local stack and both hosts
#   make test  - install what is missing and run every gate and test
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
ROOT ?= .local
APPROVE ?= 0
CANARY ?=

.PHONY: run test bootstrap lint typecheck iac pytest stack-up stack-down stack-status bench clean-local

run: bootstrap
	$(BIN)/clearance stack up --root $(ROOT)
	$(BIN)/clearance push-sample --root $(ROOT) $(if $(filter 1,$(APPROVE)),--approve,) $(if $(CANARY),--canary $(CANARY),)
	@echo
	@echo "Next: edit examples/labels.env and 'clearance push-sample', or check labels before a push with"
	@echo "      'clearance check examples/labels.env'; logs in $(ROOT)/logs/, mail in $(ROOT)/mail/;"
	@echo "      'make stack-status' checks every part, 'make stack-down' stops them."

test: bootstrap lint typecheck iac pytest

bootstrap:
	@bash scripts/bootstrap

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

iac:
	bash scripts/terraform-check

pytest:
	$(BIN)/python -m pytest

stack-up: bootstrap
	$(BIN)/clearance stack up --root $(ROOT)

stack-down:
	$(BIN)/clearance stack down --root $(ROOT)

stack-status:
	$(BIN)/clearance stack status --root $(ROOT)

bench: bootstrap
	$(BIN)/python benchmarks/report.py

clean-local: stack-down
	rm -rf $(ROOT)
