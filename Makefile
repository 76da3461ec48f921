# `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
FLASK = $(BIN)/flask --app main

.PHONY: install run test migrate bench clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# A development .env with its own random SECRET_KEY; never committed.
.env:
	sed "s/^SECRET_KEY=.*/SECRET_KEY=$$($(PYTHON) -c 'import secrets; print(secrets.token_hex(32))')/" .env.example > .env

migrate: install .env
	$(FLASK) db upgrade

run: migrate
	$(FLASK) run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# QUICK=1: the headline ratios in about a minute. LABEL=after: keep the run as bench/results/after.json.
# POSTGRES=postgresql+psycopg://user:pass@127.0.0.1:5432/postgres: on PostgreSQL (the role needs CREATEDB).
bench: install
	$(BIN)/python -m bench $(if $(filter 1 yes true,$(QUICK)),--quick) $(if $(LABEL),--label $(LABEL)) \
		$(if $(POSTGRES),--postgres $(POSTGRES))

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
