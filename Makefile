# tinyattend: every target sets itself up first, so `make demo` and `make test`
# each work as the first command on a fresh machine.
PY        ?= python3.11
VENV      := .venv
VPY       := $(VENV)/bin/python
STAMP     := $(VENV)/.setup-stamp
APT_PKGS  := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
DEMO_OUT  ?= demo-out

.PHONY: setup apt test test-all demo bench clean

setup: $(STAMP) apt

# Debian packages: installed only when a tool is missing (apt-get update first).
apt:
	@if ! command -v arm-none-eabi-gcc >/dev/null || ! command -v qemu-system-arm >/dev/null \
	    || [ ! -d /usr/lib/arm-none-eabi/newlib ]; then \
	  echo "[setup] installing $(APT_PKGS) with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi

# The venv is rebuilt when the lock file or pyproject changes.
# onnx2tf 1.29.x (the last for Python 3.11) pins an old stack; it runs beside
# the locked modern one, so it is installed without its dependencies.
$(STAMP): requirements.lock pyproject.toml
	@echo "[setup] creating $(VENV) and installing pinned packages (a few minutes the first time)"
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip==26.3
	$(VPY) -m pip install -q -r requirements.lock
	$(VPY) -m pip install -q torch==2.13.0
	$(VPY) -m pip install -q --no-deps onnx2tf==1.29.24
	$(VPY) -m pip install -q --no-deps -e .
	@touch $@

test: setup
	$(VPY) -m pytest -q -m "not heavy" tests

test-all: setup
	$(VPY) -m pytest -q tests

demo: setup
	$(VENV)/bin/tinyattend demo -o $(DEMO_OUT)

bench: setup
	$(VENV)/bin/tinyattend bench-all -o bench-out

clean:
	rm -rf $(DEMO_OUT) bench-out build
