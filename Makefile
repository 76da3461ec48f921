# `make run` and `make test` set up everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
FLASK = $(BIN)/flask --app main

.PHONY: install run test migrate bench clean translations-extract translations-update translations-compile translations-init

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

# The suite runs on PYTEST_WORKERS processes (pytest-xdist), each module whole on one of them
# (tests/conftest.py groups the modules that share Redis); PYTEST_WORKERS=0 runs it in this one
# process, e.g. for --pdb. PYTEST_ARGS go to pytest either way: PYTEST_ARGS=-x stops at a failure.
PYTEST_WORKERS ?= 2

test: install
	$(BIN)/python -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) $(PYTEST_ARGS)

# QUICK=1: the headline ratios in about a minute. LABEL=after: keep the run as bench/results/after.json.
# POSTGRES=postgresql+psycopg://user:pass@127.0.0.1:5432/postgres: on PostgreSQL (the role needs CREATEDB).
bench: install
	$(BIN)/python -m bench $(if $(filter 1 yes true,$(QUICK)),--quick) $(if $(LABEL),--label $(LABEL)) \
		$(if $(POSTGRES),--postgres $(POSTGRES))

# Translations (see README, "Adding a language"): the words in app/ and its templates go to
# app/translations/messages.pot; each language's messages.po is updated from it, translated, and
# compiled to the messages.mo the app loads (committed, so any checkout or deploy has them).
BABEL = $(BIN)/pybabel
TRANSLATIONS = app/translations
KEYWORDS = -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2

translations-extract: install
	$(BABEL) extract --mapping-file babel.cfg $(KEYWORDS) --add-comments "Translators:" --project "SMS 2FA" --width 100 \
		--sort-by-file --output-file $(TRANSLATIONS)/messages.pot .

translations-update: translations-extract
	$(BABEL) update --input-file $(TRANSLATIONS)/messages.pot --output-dir $(TRANSLATIONS) --width 100 --ignore-obsolete

translations-compile: install
	$(BABEL) compile --directory $(TRANSLATIONS) --statistics

# A new language: make translations-init LOCALE=fr (then translate its messages.po and compile).
translations-init: translations-extract
	@test -n "$(LOCALE)" || { echo "Say which language: make translations-init LOCALE=fr"; exit 2; }
	$(BABEL) init --input-file $(TRANSLATIONS)/messages.pot --output-dir $(TRANSLATIONS) --locale $(LOCALE) --width 100

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis test-artifacts
