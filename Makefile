# Two commands on a fresh machine: `make fleet` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
JOBS   ?=

.PHONY: help venv fleet validate check test update-golden fuzz-long bench clean jcasc-model demo

help:
	@echo "make fleet          create .venv if missing, validate and regenerate instances/ into build/"
	@echo "make test           run the whole test suite (what CI runs)"
	@echo "make check          what a pull request must pass, against the main branch (BASE=REF to choose);"
	@echo "                    summary for the PR comment in check-summary.md"
	@echo "make demo           try fleet push and fleet status against local Jenkins doubles of the sample fleet"
	@echo "make update-golden  rewrite every expected file (golden trees, error texts, audit and import outputs); review the diff!"
	@echo "make fuzz-long      a longer run of the hypothesis fuzz suite"
	@echo "make bench          run the benchmarks in benchmarks/"
	@echo "make jcasc-model    re-read the JCasC model from the source of core and the plugins (SOURCES=DIR of clones)"
	@echo "make clean          remove build/ and caches (keeps .venv)"

# Reinstall when the dependency list changes; the package itself is installed editable.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "==> creating the virtualenv $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "==> upgrading pip in $(VENV)"
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "==> installing jenkins-fleet (editable) and its dependencies into $(VENV); about 20 s the first time"
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)
	@echo "==> $(VENV) is ready; the CLI is $(BIN)/fleet"

venv: $(STAMP)

fleet: $(STAMP)
	@echo "==> validating instances/"
	$(BIN)/fleet validate
	@echo "==> generating build/"
	$(BIN)/fleet generate $(if $(JOBS),--jobs $(JOBS))

validate: $(STAMP)
	$(BIN)/fleet validate

# The pull-request check (fleet check --help): validation, generation, audit, rendered diff and
# quota delta against BASE (default: the merge base with main). Exit code 1 when it fails.
check: $(STAMP)
	$(BIN)/fleet check $(if $(BASE),--base $(BASE),--base) --summary-md check-summary.md

test: $(STAMP)
	$(BIN)/python -m pytest

# fleet push and fleet status against Jenkins doubles (tests/jenkins_double/README.md), in a temporary directory.
demo: $(STAMP)
	$(BIN)/python tests/jenkins_double/demo.py

update-golden: $(STAMP)
	FLEET_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/golden tests/errors tests/monitoring/test_monitoring_golden.py tests/audit tests/jiro tests/jcasc/test_emitted.py
	@git status --short tests || true

fuzz-long: $(STAMP)
	FLEET_FUZZ_EXAMPLES=20000 $(BIN)/python -m pytest -q tests/properties tests/hardening

# The JCasC model (docs/jcasc-model.md): what schemas/jcasc-model/sources.json names, read at its tags.
# SOURCES=DIR uses local clones (<owner>+<name>, <name>); without it each repository is cloned.
jcasc-model: $(STAMP)
	$(BIN)/python -m generator.jcasc.refresh $(if $(SOURCES),--sources $(SOURCES))

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf build .build.lock .build.cache.json .build.spare check-summary.md .pytest_cache .hypothesis
