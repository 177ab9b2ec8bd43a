# ShareCheck: `make run` starts the bot, `make test` runs every check. Both set themselves up on a fresh machine,
# installing exactly the locked versions (requirements/*.txt, hashes checked); `make lock` rewrites the locks.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
LOCK_TOOL := $(VENV)/lock-tool
LOCK_TOOL_STAMP := $(LOCK_TOOL)/.installed-stamp
UPGRADE ?=

.PHONY: install run chat test lint typecheck lockcheck pytest bench lock clean

# runtime + dev, then the project itself without dependencies and with the locked pip and setuptools: nothing
# is resolved here, so every machine gets the same versions
$(STAMP): requirements/dev.txt pyproject.toml
	$(PYTHON) tools/lockfiles.py check
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/sharecheck serve

chat: install
	$(BIN)/sharecheck chat

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy bot dialogs adapters sharecheck bench tools

lockcheck:
	$(PYTHON) tools/lockfiles.py check

pytest: install
	$(BIN)/python -m pytest

test: lockcheck lint typecheck pytest

bench: install
	$(BIN)/python -m bench

# the pinned uv (requirements/lock-tool.txt), apart from the project's environment so a broken lock cannot stop
# a relock
$(LOCK_TOOL_STAMP): requirements/lock-tool.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	rm -rf $(LOCK_TOOL)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps --target $(LOCK_TOOL) -r requirements/lock-tool.txt
	touch $(LOCK_TOOL_STAMP)

# rewrite requirements/runtime.txt and requirements/dev.txt from pyproject.toml (existing pins kept;
# `make lock UPGRADE=1` moves every pin to the newest allowed version)
lock: $(LOCK_TOOL_STAMP)
	$(PYTHON) tools/lockfiles.py write --uv $(LOCK_TOOL)/bin/uv $(if $(UPGRADE),--upgrade)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
