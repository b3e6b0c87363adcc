# Everything a fresh Debian machine needs: system packages, a venv, the project.
# `make demo` and `make test` install what is missing, then run.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := mosquitto postgresql xvfb xauth xdotool fonts-noto-core fonts-noto-cjk libgl1 libgl1-mesa-dri poppler-utils \
                cloud-init nftables openssl chromium

.PHONY: demo test test-slow lint typecheck unit system-deps bench clean

demo: system-deps $(STAMP)
	$(BIN)/beacon demo

# Two workers (most tests wait on processes). A short base for temp dirs: the workers' own
# subfolders would push kiosk control sockets past the 108-byte limit of a Unix socket path.
test: system-deps $(STAMP) lint typecheck
	@base=$$(mktemp -d /tmp/bt.XXXX); \
	BEACON_TEST_PG_URL="$$(scripts/test-postgres-url)" $(BIN)/pytest -n 2 --dist loadfile \
	  --durations=15 --basetemp=$$base; rc=$$?; rm -rf $$base; exit $$rc

test-slow: system-deps $(STAMP)
	BEACON_TEST_PG_URL="$$(scripts/test-postgres-url)" $(BIN)/pytest -m slow
	BEACON_SCHEMATHESIS_EXAMPLES=200 $(BIN)/pytest tests/integration/test_api_schemathesis.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: system-deps $(STAMP)
	$(BIN)/python bench/alert_latency.py
	$(BIN)/python bench/kiosk_footprint.py
	$(BIN)/python bench/rollout.py
	$(BIN)/python bench/console.py
	$(BIN)/python bench/landing.py

system-deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@command -v $(PYTHON) >/dev/null || { \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q python3 python3-venv; }

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache *.egg-info
