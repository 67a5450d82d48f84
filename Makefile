# TIP — the two commands of the README, and a few more.
#   make run     install what is missing, build, initialise the SQLite store, start TIP in the foreground
#   make test    install what is missing, build, run every test (ctest)
#   make asan    the same suite on an AddressSanitizer + UndefinedBehaviorSanitizer build
#   make bench   build the benchmarks (bench/README.md says how to run them)
BUILD      ?= build
ASAN_BUILD ?= build-asan
CONFIG     ?= etc/tip.conf
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
CMAKE_ARGS ?=

.PHONY: all deps test-deps build run test asan bench clean

all: build

deps:
	scripts/deps.sh

test-deps:
	scripts/deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/tip -c $(CONFIG) init
	exec ./$(BUILD)/tip -c $(CONFIG) run --foreground

test: test-deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DTIP_SANITIZE=ON $(CMAKE_ARGS)

asan: test-deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) -LE slow $(CTEST_ARGS)

bench: build

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
