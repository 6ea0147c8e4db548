# The two set-up commands of the README are `make up` and `make test`; everything else is a step of them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test install deps check protos down status bench

# Fresh machine -> whole suite up on real stores -> the served model registered (checkpoint in blob,
# version in metadata; a no-op when already there) -> one generation end to end.
up: install
	$(BIN)/cadenza up
	$(BIN)/cadenza register-model
	$(BIN)/cadenza demo

# The test suite; fixtures start the real stores they need through `cadenza up`.
test: install
	$(BIN)/pytest -ra

# Python environment, project (editable) and the stores' binaries (apt, go install, maven).
install: deps
	$(BIN)/cadenza install

deps: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev,diffusers]"
	touch $@

# Static checks that CI runs before the tests. vulture (dead code) reads pyproject.toml [tool.vulture];
# names only a framework or the tests use are listed in .vulture_whitelist.py.
check: deps
	$(BIN)/python -m cadenza_suite.protogen --check
	$(BIN)/python -m cadenza_suite.sdkgen --check
	$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy libs services tests
	$(BIN)/vulture

protos: deps
	$(BIN)/python -m cadenza_suite.protogen
	$(BIN)/python -m cadenza_suite.sdkgen

# Stops the suite and the tests' own stack (tests/stack.py); data stays in their state directories.
down:
	$(BIN)/cadenza down
	$(BIN)/python -m tests.stack down

status:
	$(BIN)/cadenza status
