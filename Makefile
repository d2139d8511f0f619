# The two commands of the README, and the steps they are made of.
#   make serve   install, build, make the demo model if needed, start the server
#   make test    install, build, run every test (unit + integration)
#   make bench   kiln vs llama-bench and llama-server (see docs/benchmarks.md)
#   make test-avx2  every test again on ggml's AVX2 kernels (no AVX-512), in build-avx2/

BUILD_DIR ?= build
JOBS      ?= $(shell nproc)
CPU       ?= native
BIN        = $(BUILD_DIR)/bin
NODE_TESTS = tests/integration

.PHONY: all deps build serve test test-avx2 unit-test bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_GGML_CPU=$(CPU)

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

# The SIMD path most other x86 CPUs take: sampled tokens differ from the
# native (AVX-512) ones, and every test must hold on both.
test-avx2:
	$(MAKE) test BUILD_DIR=build-avx2 CPU=avx2

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j 2 -L unit

bench: build
	cmake --build $(BUILD_DIR) --target llama-bench llama-server
	bench/decode.sh
	bench/compare.sh
	bench/catalog.sh
	bench/router.sh
	bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
