# Two entry points for a new user (see README "Quick start"):
#   make run   - set up .venv and start the assistant (console twin without a token, Telegram bot with one)
#   make test  - set up .venv and run the whole test suite (lint, types, tests)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run chat test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rm-assistant run

chat: $(STAMP)
	$(BIN)/rm-assistant chat

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m bot.migrations check  # alembic check: a model change without its migration fails

test: lint
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_knowledge.py
	$(BIN)/python bench/bench_crm.py --db both
	$(BIN)/python bench/bench_bot.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
