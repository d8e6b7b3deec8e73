# Two commands on a fresh machine: `make demo` and `make test`. Both set everything up
# (virtual environment, pinned requirements, Kafka's jars) and are fast the second time.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed

.PHONY: setup demo test quick lint bench down clean screenshots

setup: $(STAMP) .devstack/classpath.txt

# The project itself is installed editable (the `order-pipeline` command), with the pins
# of pyproject.toml.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Kafka's jars: resolved once into the local Maven repository (offline the next time).
.devstack/classpath.txt: $(STAMP) pipeline/devstack/pom.xml
	$(BIN)/python cli.py dev fetch

demo: setup
	$(BIN)/python cli.py demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Two workers, a file each at a time, each with its own broker and registry: the suite
# mostly waits on Kafka, so two workers halve it on two cores. The slowest tests are listed.
PYTEST_PARALLEL := -n 2 --dist loadfile --durations=15

test: setup lint
	$(BIN)/pytest $(PYTEST_PARALLEL)

# The suite without the slow fault-injection tests.
quick: setup
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not faults"

bench: setup
	$(BIN)/python cli.py bench

# The README's pictures of the dashboard, taken from the real page on a live pipeline
# (a throwaway broker and registry, traffic, headless chromium; about a minute).
screenshots: setup
	$(BIN)/python -m tests.api.screenshots docs/screenshots

down: $(STAMP)
	$(BIN)/python cli.py dev down

clean: down
	rm -rf $(VENV) .devstack data
