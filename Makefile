# Quick start: `make demo` (as root on Debian 12) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What the lab needs on the control machine (see shared guide lab.md), plus venv support.
DEB_PACKAGES := openssh-server openssh-client iproute2 iputils-ping ifupdown heartbeat \
	drbd-utils python3 python3-venv git chromium poppler-utils
export PYTHONDONTWRITEBYTECODE := 1
# The lab DomU's root password (05-domu reads it from this variable, never from a file in the
# repository): a random one per make run unless you set your own.
RUNBOOK_DOMU_PASSWORD ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(12))')
export RUNBOOK_DOMU_PASSWORD
# The lab's Heartbeat key (08-heartbeat writes it to /etc/ha.d/authkeys through stdin): random
# per make run unless you set your own.
RUNBOOK_HA_AUTHKEY ?= $(shell $(PYTHON) -c 'import secrets; print(secrets.token_hex(20))')
export RUNBOOK_HA_AUTHKEY

.PHONY: demo test deps venv lint unit integration fidelity bench lab-down clean

## demo: install everything, bring the lab up, run every runbook, prove failover with a
## planned drill; each of the two ends with the path of its handover report
demo: deps venv
	$(BIN)/runbook lab up
	$(BIN)/runbook run all
	$(BIN)/runbook drill planned

# `make test` and `make integration` run test modules side by side, a whole module per worker
# (--dist loadfile): every lab module has a lab name and ports of its own, and its lab never
# spans two workers. Modules start in collection order (--no-loadscope-reorder), which
# tests/integration/conftest.py makes longest first. Lab modules mostly wait on their nodes,
# so 3 workers suit 2 cores. PYTEST_WORKERS=0 runs every module in this one process.
PYTEST_WORKERS ?= 3
PARALLEL = -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

## test: lint, type checks, unit tests and lab integration tests (PYTEST_WORKERS=3 in parallel)
test: deps venv lint
	$(BIN)/pytest -ra $(PARALLEL)

## deps: the Debian packages (root), without starting their services on this machine
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing; run as root: apt-get install -y $$missing"; exit 2; fi; \
		echo "installing Debian packages: $$missing"; \
		created=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
			printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; created=1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; rc=$$?; \
		[ -n "$$created" ] && rm -f /usr/sbin/policy-rc.d; exit $$rc; \
	fi

## venv: the project's virtualenv with the tool and its dev tools
venv: $(BIN)/runbook
$(BIN)/runbook: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -ra -m "not integration"

integration: deps venv
	$(BIN)/pytest -ra -m integration $(PARALLEL)

## fidelity: replay the real tools' transcripts (tests/fidelity) on lab rbfi (root), print the score
fidelity: deps venv
	$(BIN)/pytest -ra -m integration tests/fidelity

## bench: wall time of `runbook verify 01-base` and per-command cost vs OpenSSH ControlMaster
bench: deps venv
	$(BIN)/python bench/bench_remote.py

lab-down: venv
	$(BIN)/runbook lab down

clean: lab-down
	rm -rf $(VENV) *.egg-info

## install-path: put `runbook` on PATH: a link in /usr/local/bin to this checkout's venv (root)
.PHONY: install-path
install-path: venv
	ln -sfn $(abspath $(BIN))/runbook /usr/local/bin/runbook
	@echo "/usr/local/bin/runbook -> $(abspath $(BIN))/runbook"
