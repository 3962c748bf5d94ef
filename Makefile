# Two entry points for a fresh machine that has only Python 3.11 and pip:
#   make run   - set everything up, then start the desktop app
#   make test  - set everything up, then run the tests
# uv is installed with pip when it is missing; uv.lock pins every dependency.

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
PYTEST_ARGS ?=
# Trust the operating system's certificates (corporate proxies that re-sign TLS), not only
# uv's bundled roots.
export UV_SYSTEM_CERTS ?= 1

.PHONY: run test lint sync uv installers

# Inside a virtualenv a plain install works; a system Python wants --user, and one marked
# externally managed (PEP 668) also --break-system-packages (uv is a self-contained binary).
uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv 2>/dev/null \
		|| $(PYTHON) -m pip install --quiet --user uv 2>/dev/null \
		|| $(PYTHON) -m pip install --quiet --user --break-system-packages uv

sync: uv
	$(UV) sync --frozen

run: sync
	$(UV) run --frozen docretriever-gui

test: sync
	$(UV) run --frozen pytest $(PYTEST_ARGS)

lint: sync
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
	$(UV) run --frozen python tests/helpers/import_cycles.py docretriever docretriever_ui >/dev/null

# The Linux installers (.deb and .tar.gz) in dist/installers; see packaging/README.md.
installers: uv
	$(UV) run --frozen --group packaging python packaging/build.py
