# Watchkeeper: two commands for a newcomer — `make demo` and `make test`. Each sets itself up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ACCOUNT ?= local
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: compile demo test synth synth-fast bench eval setup clean help browser-deps

help:
	@echo "make demo   - run a whole incident on the embedded AWS (sets itself up)"
	@echo "make test   - run the test suite (sets itself up)"
	@echo "make synth  - synthesize the CDK app with bundled Lambda code into cdk.out/ (ACCOUNT=local|prod)"
	@echo "make eval   - replay every scenario bundle and print the score table"
	@echo "make bench  - run the benchmarks"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@# the shared log-parsing scorer imports drain3 under the system python3 (its baseline)
	-$(PYTHON) -c "import drain3" 2>/dev/null || $(PYTHON) -m pip install -q --user drain3==0.9.11
	@touch $(STAMP)

# the environment may set PYTHONDONTWRITEBYTECODE: compile the project once so every command starts faster
compile: $(STAMP)
	@$(PY) -m compileall -q functions infra > /dev/null

setup: $(STAMP)

# Debian's Chromium for the approval page's browser tests (a test tool's own browser download fails here)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver; }

demo: $(STAMP) compile
	$(VENV)/bin/watchkeeper demo

test: $(STAMP) compile browser-deps
	$(PY) -m pytest -q -n 2 --dist loadfile; status=$$?; \
	  if [ $$status -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$status

synth: $(STAMP)
	$(PY) -m infra.app -c account=$(ACCOUNT)

synth-fast: $(STAMP)
	$(PY) -m infra.app -c account=$(ACCOUNT) --no-bundling

eval: $(STAMP) compile
	@mkdir -p .cache
	$(PY) ../shared/scenarios/score.py tests/scenarios/examples --cmd "$(VENV)/bin/watchkeeper replay {dir} --json" --jobs 2 --min-correct 0 --json-out .cache/eval-examples.json
	$(PY) ../shared/scenarios/score.py tests/scenarios/suite --cmd "$(VENV)/bin/watchkeeper replay {dir} --json" --jobs 2 --min-correct 0 --json-out .cache/eval-suite.json
	$(PY) benchmarks/eval_calibration.py --report .cache/eval-examples.json --report .cache/eval-suite.json

bench: $(STAMP)
	$(PY) benchmarks/cold_start.py
	$(PY) benchmarks/log_miner.py
	$(PY) benchmarks/storm.py --broken 20 --replay
	$(PY) benchmarks/report.py

clean:
	rm -rf cdk.out .cache .watchkeeper .pytest_cache
