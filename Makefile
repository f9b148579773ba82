# tinyattend: every target sets itself up first, so `make demo` and `make test`
# each work as the first command on a fresh machine.
PY        ?= $(shell tools/find-python)
VENV      := .venv
VPY       := $(VENV)/bin/python
STAMP     := $(VENV)/.setup-stamp
APT_PKGS  := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
DEMO_OUT  ?= demo-out

.PHONY: setup apt test test-all demo bench coverage frontend-compare fuzz clean wheel search-demo

setup: $(STAMP) apt

# Debian packages: installed only when a tool is missing (apt-get update first).
apt:
	@if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
	    || [ ! -d /usr/lib/arm-none-eabi/newlib ]; then \
	  echo "[setup] installing $(APT_PKGS) with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi

# The venv is rebuilt when a lock file or pyproject changes (Python 3.12 or 3.13: tools/find-python).
# onnx2tf 2.x pins exact, older versions of what it shares with the locked stack (numpy, onnx,
# onnxruntime, LiteRT); it runs beside the locked versions, so it is installed without its dependencies.
# ZOO=0 leaves out torch, torchvision and timm (requirements-zoo.lock: the zoo, the demo's training, the
# timm/torchvision coverage models; about 4.7 GB, as PyPI's torch for Python 3.12 is its CUDA build).
ZOO ?= 1
$(STAMP): requirements.lock requirements-zoo.lock pyproject.toml
	@echo "[setup] creating $(VENV) and installing pinned packages (a few minutes the first time)"
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	@$(VPY) -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 12), (3, 13)) else 1)' || \
	  { echo "[setup] $(VENV) has Python $$($(VPY) -c 'import platform; print(platform.python_version())'); tinyattend needs 3.12 or 3.13: rm -rf $(VENV) and run make again" >&2; exit 1; }
	$(VPY) -m pip install -q --upgrade pip==26.3
	$(VPY) -m pip install -q -r requirements.lock
	if [ "$(ZOO)" != 0 ]; then $(VPY) -m pip install -q -r requirements-zoo.lock; fi
	$(VPY) -m pip install -q --no-deps onnx2tf==2.6.9
	$(VPY) -m pip install -q --no-deps -e .
	@touch $@

# TEST_JOBS pytest-xdist workers (CI has 2 cores); a test file stays on one worker (--dist loadfile), so its
# module fixtures run once. TEST_JOBS=0 runs in one process.
TEST_JOBS ?= 2
test: setup
	$(VPY) -m pytest -q -n $(TEST_JOBS) --dist loadfile -m "not heavy" tests

test-all: setup
	$(VPY) -m pytest -q tests

# The long fuzz campaign (issue 19): 2,000 mutated .tflite, 500 mutated ONNX and the hand-made hostile
# cases through the real CLI; writes fuzz-out/table.md (outcomes per class) and fuzz-out/failures/.
# Hours on 2 cores (each ONNX model that passes validation costs an onnx2tf run): FUZZ_ARGS to shrink it.
FUZZ_ARGS ?= --tflite 2000 --onnx 500 --hostile
fuzz: setup
	$(VPY) -m fuzz.campaign $(FUZZ_ARGS) -o fuzz-out

demo: setup
	$(VENV)/bin/tinyattend demo -o $(DEMO_OUT)

# Not in CI: issue 18's goal run. `tinyattend search` on sklearn's digits (32x32, the demo model's split) for
# the emulated Cortex-M7, 40 trials on a local Ray cluster, under the demo model's own instruction count as the
# design constraint; then the front models that beat the demo model (98.2% int8 top-1 at 2,066,320 instructions).
SEARCH_OUT ?= search-out
search-demo: setup
	$(VENV)/bin/tinyattend search --data digits --board cortex-m7 --trials 40 --max-instructions 2066320 -o $(SEARCH_OUT)
	$(VPY) tools/search_goal.py $(SEARCH_OUT)

# Then issue 17's fusion figures: every MLPerf Tiny and zoo MCU model on four boards (--kernels auto) with
# fusion and with it off (TINYATTEND_FUSION=off), peak RAM and instructions of both runs side by side
# (bench-out/fusion/fusion.md and fusion.json).
FUSION_MODELS = ad01_int8,kws_ref_model,vww_96_int8,pretrainedResnet_quant,attendnext_digits,attendnets-micro,attendnext-micro,lowformer-micro
bench: setup
	$(VENV)/bin/tinyattend bench-all -o bench-out
	$(VPY) tools/fusion_figures.py -o bench-out/fusion --models-dir bench-out --models $(FUSION_MODELS) \
		--boards cortex-m4,cortex-m7,cortex-m55,cortex-m33

# Not in CI: every model of issue 14's list (torchvision, timm, the zoo) exported, converted, verified on
# the host and run on the emulated M7; writes coverage-out/coverage.md and coverage.json.
coverage: setup
	$(VPY) tools/model_coverage.py -o coverage-out $(if $(MODELS),--models $(MODELS))

# The same models through both ONNX front ends (direct, TensorFlow path), host bit-exactness, SQNR, ops and
# convert seconds side by side; writes frontend-out/frontends.md and frontends.json.
frontend-compare: setup
	$(VPY) tools/frontend_compare.py -o frontend-out $(if $(MODELS),--models $(MODELS))

# dist/tinyattend-*.whl: the package with templates/, boards/ and the demo model inside (setup.py).
wheel: setup
	rm -rf build/lib    # a stale copy would go into the wheel
	$(VPY) -m pip wheel -q --no-deps --no-build-isolation -w dist .

clean:
	rm -rf $(DEMO_OUT) bench-out coverage-out build dist fuzz-out $(SEARCH_OUT)
