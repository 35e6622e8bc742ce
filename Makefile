# The two set-up commands of the README: `make run` and `make test`. Both install what they need
# (as root directly, otherwise through sudo) and work in a non-interactive shell (CI, cron, ssh).
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# OpenCL loader + headers, PoCL (an OpenCL device on any CPU), pkg-config (finds OpenCL for SwiftPM),
# zlib (gzip datasets), libpq (PostgreSQL's client library: the shared study storage).
SYSTEM_PACKAGES := ocl-icd-opencl-dev opencl-headers pocl-opencl-icd pkg-config zlib1g-dev libpq-dev
# `make test` also needs a PostgreSQL server: the storage tests start a throwaway cluster (initdb in a temporary
# folder, a loopback port) from Debian's package. `make run` does not.
TEST_PACKAGES := postgresql
SWIFT_TEST_FLAGS ?=
# `make test` runs the exactness suites (Double reference, interpreters, CNN, slot pool, PyTorch interop, which
# skips with its reason where /usr/bin/python3 lacks torch) a second time under the GPU profile
# (AFSEARCH_PROFILE=gpu, DeviceProfile): PoCL then takes a GPU's tiles, launches and build options. The
# fused-row and tile suites pin the CPU profile or their tiles, so they are not repeated.
GPU_PROFILE_SUITES := GPUEngineTests\.(TrainerTests|TrainerInterpreterTests|CNNTrainerTests|CNNInterpreterTests|CNNPoolTests|PopulationPoolTests|PopulationPoolInterpreterTests|SafetensorsTorchInteropTests|CNNSafetensorsTorchInteropTests)/
GPU_PROFILE_TEST_FLAGS ?= --skip-build --filter '$(GPU_PROFILE_SUITES)'
RUN_ARGS ?=
# The job `make run` runs after the selftest, with RUN_ARGS.
MAIN_JOB ?= evolve
AFSEARCH := .build/release/afsearch

.PHONY: test-deps
.PHONY: run test build release deps swift-check data clean bench devices findings gpu-check

swift-check:
	@command -v swift >/dev/null || { echo "error: 'swift' is not on PATH; install Swift 6 (https://www.swift.org/install/linux/) and retry" >&2; exit 1; }

# Installs the system packages that are missing (Debian/Ubuntu). Elsewhere, says what is needed.
PACKAGES ?= $(SYSTEM_PACKAGES)
deps:
	@if ! command -v dpkg-query >/dev/null; then \
	  echo "note: not a Debian/Ubuntu system; make sure OpenCL (loader, headers, pkg-config file) and a driver are installed" >&2; \
	  exit 0; \
	fi; \
	missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ -n "$(SUDO)" ] && ! command -v sudo >/dev/null; then \
	    echo "error: missing packages:$$missing; run as root or install sudo" >&2; exit 1; \
	  fi; \
	  echo "installing:$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps swift-check
	swift build

release: deps swift-check
	swift build -c release

test-deps:
	@$(MAKE) --no-print-directory deps PACKAGES="$(SYSTEM_PACKAGES) $(TEST_PACKAGES)"

test: test-deps swift-check
	swift test $(SWIFT_TEST_FLAGS)
	@echo "exactness suites under AFSEARCH_PROFILE=gpu"
	@set -o pipefail; AFSEARCH_PROFILE=gpu swift test $(GPU_PROFILE_TEST_FLAGS) 2>&1 | tee .build/gpu-profile-tests.log
	@grep -q "Test run with [1-9][0-9]* tests" .build/gpu-profile-tests.log \
	  || { echo "error: the GPU-profile run matched no tests (GPU_PROFILE_SUITES)" >&2; exit 1; }

devices: release
	$(AFSEARCH) devices

# Puts the offline datasets under $${AFSEARCH_DATA:-~/.cache/afsearch/data}.
data:
	@bash scripts/fetch-data.sh

# Installs, fetches data, builds in release, proves the device works, then runs the main job on its
# defaults. While the main job's command is still a placeholder, the selftest is the whole run.
run: release data
	$(AFSEARCH) selftest
	$(AFSEARCH) $(MAIN_JOB) $(RUN_ARGS)

bench: release
	bash bench/run.sh

# The self-contained device check: builds dist/gpu-check/ (and dist/gpu-check.tar.xz) to carry to a bare GPU
# machine, then runs it here on the local OpenCL device (PoCL where there is no GPU), which is its test.
# GPU_CHECK_RUN=0 only builds. bench/README.md, "Device check", says how to run it on a GPU box.
GPU_CHECK_RUN ?= 1
gpu-check: deps swift-check data
	bash scripts/gpu-check/make-bundle.sh
	@if [ "$(GPU_CHECK_RUN)" = 1 ]; then dist/gpu-check/run.sh --out dist/gpu-check-local; fi

# Reruns the published findings (results/) from scratch, resumably; FINDINGS_ARGS=--quick for a smoke test.
FINDINGS_ARGS ?=
findings: release data
	bash scripts/findings.sh $(FINDINGS_ARGS)

clean:
	rm -rf .build
