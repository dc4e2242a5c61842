# Two entry points for a fresh machine: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
DEMO_INDEX ?= demo-index
DEMO_MEDIA := tests/data/jfk.flac tests/data/librivox_en_speech.mp4 tests/data/fleurs_en_concat.ogg

.PHONY: install system-deps demo test docs bench-setup bench bench-quick clean

install: $(VENV)/.installed

# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(BIN)/mediarag ingest $(DEMO_MEDIA) --index $(DEMO_INDEX)
	$(BIN)/mediarag ask "What did Kennedy ask his fellow Americans to do?" --index $(DEMO_INDEX)

# Debian packages: espeak-ng speaks the benchmark corpus (and the tests of its builder).
system-deps:
	@command -v espeak-ng >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq espeak-ng; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq espeak-ng; fi; }

test: install system-deps
	$(BIN)/python -m pytest -q

docs: install
	$(BIN)/mkdocs build --strict --site-dir site

# Benchmarks: see benchmarks/README.md.
bench: install system-deps
	$(BIN)/python benchmarks/run_all.py

bench-quick: install system-deps
	$(BIN)/python benchmarks/run_all.py --quick

clean:
	rm -rf $(VENV) $(DEMO_INDEX) site .pytest_cache
