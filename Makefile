# Each target creates .venv and installs the project when needed: on a fresh machine with
# Python 3.11, `make demo` or `make test` is the only command to run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: demo test bench lint clean chromium axe messages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/smartcat demo

# The browser tests drive Debian's Chromium (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium" >&2; exit 1; fi; }

# axe-core (npm, pinned in tests/node/package-lock.json) checks the participant pages for WCAG
# 2.1 A/AA violations in the browser test; it is loaded only there.
AXE := tests/node/node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE): tests/node/package-lock.json
	npm ci --prefix tests/node --no-audit --no-fund --silent
	touch $(AXE)

test: $(STAMP) chromium $(AXE)
	$(BIN)/python -m pytest -q -n 3 --dist worksteal

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet ruff
	$(BIN)/ruff check .

# The message catalog (docs/server.md, "Languages"): extract the texts named in babel.cfg into
# messages.pot, merge it into each language's messages.po (new texts come in untranslated,
# vanished ones are kept as obsolete), compile the .mo files the server reads.
TRANSLATIONS := server/translations
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -o $(TRANSLATIONS)/messages.pot -w 100 \
	  --project "SMART CAT" --version 0.1.0 --copyright-holder "SMART CAT contributors" .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -w 100
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache tests/node/node_modules
