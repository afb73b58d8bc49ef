# spofless: `make synth` sets everything up and synthesizes every environment;
# `make test` runs the whole test suite. Both are idempotent: set-up steps rerun
# only when requirements.txt or package.json change.

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
SPOFLESS := $(VENV)/bin/spofless
ENVS   ?=

export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
export TF_CLI_CONFIG_FILE := $(CURDIR)/.spofless/terraform.rc
export CHECKPOINT_DISABLE := 1
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20,22,24
# Bytecode of what is imported goes to one folder in the venv (never into the tree): only the
# provider submodules synthesis uses get compiled, once, instead of every binding at set-up.
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache
unexport PYTHONDONTWRITEBYTECODE

# uv installs the pins in seconds where pip takes minutes. It is pinned with its hashes
# (tooling/dev/uv.txt) and set up once in .spofless/uv (from PyPI, like everything else, in pip's
# hash-checking mode); pip is the fallback where that fails, or with SPOFLESS_INSTALLER=pip.
# Every requirement file carries the hashes of its pins (python -m tooling.dev.pins refreshes
# them), and is installed with --require-hashes. $(call install,<pip install arguments>)
UV := $(CURDIR)/.spofless/uv/bin/uv
define install
if [ "$${SPOFLESS_INSTALLER:-uv}" = uv ] && { test -x $(UV) || { rm -rf .spofless/uv && $(PYTHON) -m venv .spofless/uv \
    && .spofless/uv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
       -r tooling/dev/uv.txt; } >/dev/null 2>&1; }; then \
  $(UV) pip install --quiet --python $(PY) $(1); \
else \
  $(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip --default-pip >/dev/null; \
  $(PY) -m pip install --quiet --disable-pip-version-check $(1); \
fi
endef
# One variable selects environments for every target: ENVS (comma-separated), exported to the
# spofless command as SPOFLESS_ENVS, which checks every name (a typo stops it with exit 2).
ifneq ($(strip $(ENVS)),)
export SPOFLESS_ENVS := $(ENVS)
endif
ifneq ($(strip $(ENV)),)
ifeq ($(strip $(ENVS)),)
$(warning ENV=$(ENV) is not read: select environments with ENVS=$(ENV))
endif
endif

# CDK=cdktn (or SPOFLESS_ENGINE=cdktn): synthesize with CDK Terrain, CDKTF's maintained fork, instead
# of CDKTF (modules/engine.py). It has its own pins (requirements-cdktn.txt) in its own venv, set up
# the first time something asks for it; main.py hands over to that venv's Python.
CDK ?= $(SPOFLESS_ENGINE)
VENV_CDKTN := .venv-cdktn
PY_CDKTN   := $(VENV_CDKTN)/bin/python
ifneq ($(strip $(CDK)),)
export SPOFLESS_ENGINE := $(strip $(CDK))
endif
ENGINE_SETUP := $(if $(filter cdktn,$(strip $(CDK))),$(VENV_CDKTN)/.installed)

.PHONY: setup tooling cli synth test test-fast test-cdktn mutation validate checkov check plan diff deploy destroy diagram rehearse spof-report dns-check drill bench clean help
.DEFAULT_GOAL := help

help:
	@echo "make synth      set up (venv, terraform config) and synthesize every environment"
	@echo "make test       run the whole test suite"
	@echo "make test-fast  the inner loop: everything but the emulator rehearsals"
	@echo "make cli        install the CDKTF CLI (npx cdktf ...) from package-lock.json"
	@echo "make tooling    set up the tools too (checkov, moto, boto3, pytest: requirements-tooling.txt)"
	@echo "make validate   terraform init + validate every AWS-only stack in cdktf.out"
	@echo "make check      the pre-merge gate: synth if inputs changed, one checkov run, reports in reports/"
	@echo "make checkov    one checkov run over cdktf.out/stacks, no reports"
	@echo "make lock       refresh .terraform.lock.hcl: every provider's checksums (needs registry access)"
	@echo "make plan       terraform plan every stack of ENVS (needs credentials); review in reports/pr/<env>.md"
	@echo "make diff       what deploy would change, per stack, in dependency order (EMULATOR=1: the local emulator)"
	@echo "ENVS=dev make deploy   plan and apply ENVS in dependency order (EMULATOR=1: the local emulator)"
	@echo "ENVS=dev make destroy  destroy ENVS, dependents first, after typing each name (EMULATOR=1: the local emulator)"
	@echo "make diagram    Mermaid diagrams of the stacks and the request path: reports/diagram-<env>.md"
	@echo "make rehearse   apply, verify and destroy every AWS stack of ENVS (default dev) against a local AWS emulator"
	@echo "make spof-report  tiers x AZs/regions/providers and availability, from cdktf.out"
	@echo "make bench      synthesis wall time and peak memory (floor, synth, stock, growth); reports/bench.json"
	@echo "make dns-check  compare the static records of the Route53 and Cloudflare stacks"
	@echo "make mutation   does the suite catch design-breaking one-line changes? score and survivors"
	@echo "make drill      play every failure scenario against cdktf.out: who answers, who deploys, how fast"
	@echo "ENVS=prod make synth   synthesize only the named environments (comma-separated)"
	@echo "make synth CDK=cdktn   synthesize with CDK Terrain instead of CDKTF (own venv: .venv-cdktn)"
	@echo "make test-cdktn        the unit and stack tests with CDK Terrain synthesizing"

# What synthesis needs (requirements.txt); the tools come on top only where a tool runs.
$(VENV)/.installed: requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required (set PYTHON=...)"; exit 2; }
	@echo "setup: python venv from requirements.txt (synthesis)"
	@test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV)
	@$(call install,--require-hashes -r requirements.txt)
	@# the `spofless` command (pyproject.toml), editable: it runs this checkout's code
	@$(call install,--no-deps --no-build-isolation -e .)
	@touch $@

# CDK Terrain's venv: the same steps into $(VENV_CDKTN) (PY below is that venv's for these two targets).
# The tools' pins fit on top of requirements-cdktn.txt unchanged, without their `-r requirements.txt`.
$(VENV_CDKTN)/.installed: PY := $(PY_CDKTN)
$(VENV_CDKTN)/.installed: requirements-cdktn.txt
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; Python 3.11 is required (set PYTHON=...)"; exit 2; }
	@echo "setup: python venv $(VENV_CDKTN) from requirements-cdktn.txt (synthesis with CDK Terrain)"
	@test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV_CDKTN)
	@$(call install,--require-hashes -r requirements-cdktn.txt)
	@touch $@

$(VENV_CDKTN)/.tooling: PY := $(PY_CDKTN)
$(VENV_CDKTN)/.tooling: requirements-tooling.txt $(VENV_CDKTN)/.installed
	@echo "setup: the tools in $(VENV_CDKTN) from requirements-tooling.txt"
	@sed '/^-r /d' requirements-tooling.txt > $(VENV_CDKTN)/requirements-tooling.txt
	@$(call install,--require-hashes -r requirements-cdktn.txt -r $(VENV_CDKTN)/requirements-tooling.txt)
	@$(call install,--no-deps --no-build-isolation -e .)
	@touch $@

$(VENV)/.tooling: requirements-tooling.txt $(VENV)/.installed
	@echo "setup: the tools (checkov, moto, boto3, pytest) from requirements-tooling.txt"
	@$(call install,--require-hashes -r requirements-tooling.txt)
	@touch $@

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; Node.js 20+ with npm is required"; exit 2; }
	@echo "setup: cdktf-cli from package-lock.json"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV)/.installed
	@$(PY) -m tooling.terraform.runner setup

# the CDKTF CLI (npx cdktf ...): only where it is used; synthesis and the tools do not need it
cli: node_modules/.installed

# everything setup does, and the tools
tooling: setup $(VENV)/.tooling

# -O: the generated bindings check every argument's type at run time inside `if __debug__`;
# skipping that is ~7% of synthesis and the output is byte-identical (tests/stacks/test_synthesis.py).
synth: setup $(ENGINE_SETUP)
	@$(SPOFLESS) synth

# Fresh output is reused: synthesis reruns only when an input is newer than it.
SYNTH_INPUTS := main.py $(shell find environments modules -name '*.py' -o -name '*.yaml' 2>/dev/null)
cdktf.out/manifest.json: $(SYNTH_INPUTS) $(VENV)/.installed $(ENGINE_SETUP)
	@$(PY) -O main.py

check: tooling cdktf.out/manifest.json
	@$(SPOFLESS) check

# tests/stacks/test_engines.py sets up the CDK Terrain venv itself (make $(VENV_CDKTN)/.installed) when it runs
test: tooling
	@$(PY) -m pytest tests

# the inner loop: every test but the rehearsals (which apply and destroy against the emulator)
test-fast: tooling
	@$(PY) -m pytest -m "not rehearsal" --durations=10 tests

# the unit and stack tests with CDK Terrain synthesizing (the comparison then synthesizes with CDKTF)
test-cdktn: setup $(VENV_CDKTN)/.tooling
	@SPOFLESS_ENGINE=cdktn PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV_CDKTN)/pycache $(PY_CDKTN) -m pytest -m "not integration" tests/unit tests/stacks

validate: tooling
	@$(SPOFLESS) validate

# refresh .terraform.lock.hcl: the providers' checksums for every platform (needs registry access)
lock: tooling cdktf.out/manifest.json
	@$(SPOFLESS) lock --update

checkov: tooling
	@$(PY) -m tooling.review.gate

# EMULATOR=1: against the local AWS emulator (`spofless emulator stop` ends it)
STACK_FLAGS = $(if $(EMULATOR),--emulator)

plan: tooling cdktf.out/manifest.json
	@$(SPOFLESS) plan $(STACK_FLAGS)

diff: tooling cdktf.out/manifest.json
	@$(SPOFLESS) diff $(STACK_FLAGS)

deploy: tooling cdktf.out/manifest.json
	@$(SPOFLESS) deploy $(STACK_FLAGS)

destroy: tooling cdktf.out/manifest.json
	@$(SPOFLESS) destroy $(STACK_FLAGS) $(if $(EMULATOR),,--allow-destructive)

diagram: setup cdktf.out/manifest.json
	@$(SPOFLESS) diagram

# ENVS=prod make rehearse (default dev); the report lands in reports/rehearsal-<env>.json
rehearse: tooling
	@$(SPOFLESS) rehearse $(if $(strip $(ENVS)),,--env dev)

spof-report: tooling cdktf.out/manifest.json
	@$(SPOFLESS) report

dns-check: tooling
	@$(SPOFLESS) dns-check

# every failure scenario played against cdktf.out; reports/drill.md and drill.json (ENVS=prod for one)
drill: tooling cdktf.out/manifest.json
	@$(SPOFLESS) drill

bench: tooling $(VENV_CDKTN)/.installed
	@$(SPOFLESS) bench

# mutation testing (minutes): the score and the surviving mutants; reports/mutation.json
mutation: tooling
	@$(SPOFLESS) mutation

clean:
	rm -rf cdktf.out .spofless reports
