# Two commands matter: `make run` and `make test`. Both create the environment when needed, and
# both check (and, as root or with `sudo -n`, install) the system packages pip cannot provide:
# scripts/system-packages.txt before the environment is built, and then `ldd` of the Qt plugins
# in the installed PySide6 (scripts/system_deps.py).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CHECK  := sh scripts/check-system.sh $(PYTHON)

.PHONY: run test lint typecheck bench screenshots clean check-system

run: $(STAMP)
	@$(CHECK) --venv $(VENV)
	$(BIN)/cooptracks demo

test: $(STAMP)
	@$(CHECK) --venv $(VENV) --tests
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/cooptracks bench all --json

screenshots: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m app.ui.screenshots docs/screenshots

check-system:
	@$(CHECK)

$(STAMP): pyproject.toml | check-system
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
