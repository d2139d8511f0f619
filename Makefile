# The two commands of the README, and the steps they are made of.
#   make serve   install, build, make the demo model if needed, start the server
#   make test    install, build, run every test (unit + integration)
#   make bench   kiln vs llama-bench and llama-server (see docs/benchmarks.md)
#   make test-avx2  every test again on ggml's AVX2 kernels (no AVX-512), in build-avx2/

BUILD_DIR ?= build
JOBS      ?= $(shell nproc)
CPU       ?= native
SANITIZE  ?=
BIN        = $(BUILD_DIR)/bin
NODE_TESTS = tests/integration

.PHONY: all deps build serve test test-llama-patches test-avx2 test-asan unit-test-asan test-tsan sanitized fuzz soak unit-test integration-test bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_GGML_CPU=$(CPU) -DKILN_SANITIZE=$(SANITIZE)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

serve: build
	@$(BIN)/kiln-make-model --demo
	exec $(BIN)/kiln serve

# npm ci only when the lockfile changed since the last install.
$(NODE_TESTS)/node_modules/.installed: $(NODE_TESTS)/package-lock.json
	cd $(NODE_TESTS) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# llama-server (same llama.cpp build) is a process backend in the integration tests.
test: build $(NODE_TESTS)/node_modules/.installed
	cmake --build $(BUILD_DIR) --target llama-server -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2

# llama.cpp's own tests of what deps/patches/ changes (docs/bump-llama.md).
test-llama-patches: deps
	scripts/test-llama-patches.sh

# The SIMD path most other x86 CPUs take: sampled tokens differ from the
# native (AVX-512) ones, and every test must hold on both.
test-avx2:
	$(MAKE) test BUILD_DIR=build-avx2 CPU=avx2

# kiln under ASan + UBSan, and under TSan: every unit and integration test,
# each sanitizer's reports written to files (servers' too) and counted after.
# See docs/testing.md.
SAN_REPORTS = $(CURDIR)/$(BUILD_DIR)/sanitizer-reports
SAN_SUITE  ?= test
test-asan:
	$(MAKE) sanitized BUILD_DIR=build-asan SANITIZE=address

# Only the unit suite under ASan + UBSan: what .ci/run adds to make test.
unit-test-asan:
	$(MAKE) sanitized BUILD_DIR=build-asan SANITIZE=address SAN_SUITE=unit-test

test-tsan:
	$(MAKE) sanitized BUILD_DIR=build-tsan SANITIZE=thread

sanitized:
	rm -rf $(SAN_REPORTS) && mkdir -p $(SAN_REPORTS)
	ASAN_OPTIONS=log_path=$(SAN_REPORTS)/asan:detect_leaks=1 \
	UBSAN_OPTIONS=log_path=$(SAN_REPORTS)/ubsan:print_stacktrace=1:halt_on_error=1 \
	TSAN_OPTIONS=log_path=$(SAN_REPORTS)/tsan:second_deadlock_stack=1:suppressions=$(CURDIR)/tests/sanitizers/tsan.supp \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0 \
	$(MAKE) $(SAN_SUITE) BUILD_DIR=$(BUILD_DIR) SANITIZE=$(SANITIZE)
	scripts/sanitizer-reports.sh $(SAN_REPORTS)

# libFuzzer (clang-14) with ASan + UBSan: every parser of untrusted bytes,
# FUZZ_SECONDS each (default 60). See docs/testing.md.
FUZZ_SECONDS ?= 60
fuzz: deps
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DKILN_SANITIZE=address -DKILN_FUZZ=ON -DKILN_BUILD_TESTS=OFF -DKILN_WERROR=OFF
	cmake --build build-fuzz --target fuzzers -j $(JOBS)
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# Soak under faults, SOAK_MINUTES (default 30): see docs/testing.md.
soak: build
	cmake --build $(BUILD_DIR) --target llama-server -j $(JOBS)
	bench/soak.sh

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L unit

integration-test: build $(NODE_TESTS)/node_modules/.installed
	cmake --build $(BUILD_DIR) --target llama-server -j $(JOBS)
	cd $(BUILD_DIR) && ctest --output-on-failure -L integration

bench: build
	cmake --build $(BUILD_DIR) --target llama-bench llama-server
	bench/decode.sh
	bench/compare.sh
	bench/catalog.sh
	bench/router.sh
	bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
