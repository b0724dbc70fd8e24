# Digit Lab: `make run` starts the app, `make test` installs what the tests need, lints (ruff) and runs them all.
# Both create the virtual environment on first use. MNIST is read from $(MNIST_PATH) (see docs/data.md).

VENV    ?= .venv
PYTHON  := $(VENV)/bin/python
PORT    ?= 8501
export MNIST_PATH

.PHONY: run test test-fast lint browser bench bench-presets default-model clean

$(VENV)/.app-installed: requirements.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -r requirements.txt
	$(PYTHON) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.app-installed requirements-dev.txt
	$(PYTHON) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.app-installed
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

# A Chromium for the browser tests: Debian's package when we are root with apt, else Playwright's own download.
browser: $(VENV)/.dev-installed
	@command -v chromium >/dev/null || [ -x "$$CHROMIUM_PATH" ] || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else $(PYTHON) -m playwright install chromium; fi; }

# ruff, then the layers and no import circles (import-linter contracts in pyproject.toml).
lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Lint first: `make test` fails on any ruff finding before a test runs.
test: $(VENV)/.dev-installed lint browser
	$(PYTHON) -m pytest

test-fast: $(VENV)/.dev-installed
	$(PYTHON) -m pytest -m "not e2e"

# Figures go to mnist_core/measured.json and bench/RESULTS.md; run on a quiet machine (load < 0.5, nothing else).
bench: $(VENV)/.dev-installed
	$(PYTHON) bench/bench_training.py
	$(PYTHON) bench/bench_epoch_floor.py
	$(PYTHON) bench/bench_tensorboard.py
	PYTHONPATH=tests/e2e $(PYTHON) bench/bench_app.py

# Every preset with its own settings (the slow ones take many minutes); same quiet-machine rule.
bench-presets: $(VENV)/.dev-installed
	$(PYTHON) bench/bench_presets.py

# Re-train the shipped default model (the drawn-cnn preset, many minutes on a CPU) into models/default.
default-model: $(VENV)/.app-installed
	rm -rf models/.default-new
	DIGIT_LAB_MODELS=models/.default-new $(PYTHON) -m mnist_core train --preset drawn-cnn --name default
	rm -rf models/default && mv models/.default-new/*-default-* models/default && rm -rf models/.default-new

clean:
	rm -rf $(VENV) .pytest_cache tests/screenshots
