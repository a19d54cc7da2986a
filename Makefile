# Amanat: `make run` installs and starts the app; `make test` installs and runs every test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint bench i18n clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	@touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app
	$(BIN)/amanat db upgrade
	@AMANAT_BASE_URL=http://$(HOST):$(PORT) $(BIN)/amanat setup-link --if-needed
	$(BIN)/amanat run --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/python scripts/run_tests.py $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check app tests bench scripts

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(ARGS)

i18n: $(VENV)/.installed-app
	$(BIN)/pybabel extract -F babel.cfg -o translations/messages.pot .

clean:
	rm -rf $(VENV) .pytest_cache
