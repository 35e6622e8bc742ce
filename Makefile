# The two set-up commands of the README: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := ocl-icd-opencl-dev opencl-headers pocl-opencl-icd pkg-config
SWIFT_TEST_FLAGS ?=
RUN_ARGS ?=

.PHONY: run test build release deps data clean bench

# Installs the OpenCL loader, headers and PoCL (a CPU OpenCL device) when any is missing.
deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	swift build

release: deps
	swift build -c release

test: deps
	swift test $(SWIFT_TEST_FLAGS)

# Puts the offline datasets under $${AFSEARCH_DATA:-~/.cache/afsearch/data}.
data:
	@bash scripts/fetch-data.sh

# Installs, fetches data, builds in release and runs the main job on its defaults.
run: release data
	.build/release/afsearch selftest
	.build/release/afsearch evolve $(RUN_ARGS)

bench: release
	bash bench/run.sh

clean:
	rm -rf .build
