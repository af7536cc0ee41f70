# Two commands do all the set-up on a fresh machine: `make build` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: build test test-fast bench lighthouse data compiled clean serve screenshots

build: $(STAMP) data compiled
	$(PY) build.py verify
	$(PY) build.py build

# The virtual environment, with the pinned dependencies; redone when requirements.txt changes.
$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# The demo microdata are generated, not committed (git-ignored); a fixed seed makes them identical.
data: $(STAMP)
	@if [ ! -f data/migrations.parquet ] || [ ! -f data/internal_moves.parquet ] || [ ! -f data/naturalisations.parquet ] || [ ! -f data/population.csv ] || [ stats/demo/generate.py -nt data/migrations.parquet ]; then \
		$(PY) stats/demo/generate.py data; \
	fi

# The engine's bytecode, written ahead: where PYTHONDONTWRITEBYTECODE is set (as in many
# containers) Python would otherwise compile statpress again in every build, 0.3 s of each.
compiled: $(STAMP)
	@$(PY) -m compileall -q statpress

# The suite runs on every core, one test module to a worker at a time (pytest-xdist; see
# docs/testing.md). `make test PYTEST_WORKERS=` runs it in one process.
PYTEST_WORKERS ?= -n auto

test: $(STAMP) data compiled
	bash scripts/install-test-deps.sh
	$(PY) build.py build
	$(PY) -m pytest $(PYTEST_WORKERS)

# Everything but the real-browser suite: for a quick check while working.
test-fast: $(STAMP) data compiled
	$(PY) -m pytest $(PYTEST_WORKERS) --ignore=tests/browser

bench: $(STAMP) data compiled
	command -v hugo >/dev/null || apt-get install -y -q hugo >/dev/null
	$(PY) bench/run.py; status=$$?; $(MAKE) lighthouse || status=1; exit $$status

# Lighthouse (npm, pinned in package.json) against the built site, mobile, default throttling, with
# Debian's chromium: the median of three runs per page; exits 1 while a target of issue #18 is missed.
lighthouse: build
	bash scripts/install-test-deps.sh
	$(PY) bench/bench_lighthouse.py --site site --runs 3

serve: build
	$(PY) build.py serve --dir site

# Pictures of the index and each statistic page for the README (needs the browser test tools).
screenshots: build
	bash scripts/install-test-deps.sh
	$(PY) scripts/screenshots.py

clean:
	rm -rf site .site.staging* .site.spare .site.old .site.trash-* .site.lock .archive.lock data $(VENV)
