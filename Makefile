# Belfry — the two commands in the README are `make run` and `make test`; the rest are helpers.
JOBS      ?= $(shell nproc)
BUILD     ?= build
ASAN      ?= build-asan
RELEASE   ?= build-release
CTEST_ARGS ?= --output-on-failure --timeout 900
C_SOURCES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')

.PHONY: all deps build asan run test test-unit test-integration test-chaos test-js format \
	format-check clean test-pusher test-pusher-cluster release test-install fuzz fuzz-regress test-deploy test-image \
	bench-smoke bench soak soak-check test-valgrind chaos-presence-repeat

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/Makefile:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN)/Makefile:
	cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DBELFRY_SANITIZE=ON >/dev/null

$(RELEASE)/Makefile:
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

asan: deps $(ASAN)/Makefile
	cmake --build $(ASAN) -j $(JOBS)

# -O3 finds warnings (-Werror) the other two builds do not; built, not run.
release: deps $(RELEASE)/Makefile
	cmake --build $(RELEASE) -j $(JOBS)

# Every standard CMake build type, built (not run) with -Werror into build-types/: MinSizeRel's
# -Os finds format-truncation warnings the others miss. Not part of `make test` (two more builds).
build-types: deps
	@for t in Debug Release RelWithDebInfo MinSizeRel; do \
	  cmake -S . -B build-types/$$t -DCMAKE_BUILD_TYPE=$$t >/dev/null && \
	  cmake --build build-types/$$t -j $(JOBS) >/dev/null && echo "build-types: $$t ok" || exit 1; \
	done

# A local cluster in the foreground: private redis, one router, one gateway. Ctrl-C stops it.
run: build
	@bash scripts/run.sh $(BUILD)

format:
	clang-format -i $(C_SOURCES)

format-check:
	@clang-format --dry-run --Werror $(C_SOURCES) && echo "format-check: ok"

# Everything CI runs: packages, formatting, both builds, the unit, integration and chaos suites in
# both, the JS client's suite (Node + headless Chromium) and the Pusher-compatibility suite (the
# npm pusher-js, laravel-echo and pusher packages) against the normal build; a Release build and
# an install check.
test: deps format-check build asan release fuzz-regress
	bash tests/install/install_test.sh $(BUILD)
	bash tests/install/symbols_test.sh $(BUILD)
	cd $(BUILD) && ctest -L 'unit|integration|chaos' $(CTEST_ARGS)
	bash client/js/test/run.sh
	bash tests/pusher/run.sh
	$(MAKE) --no-print-directory test-pusher-cluster
	python3 tests/deploy/manifests_test.py
	bash tests/deploy/cluster_test.sh
	bash bench/run.sh all --quick
	$(MAKE) --no-print-directory soak-check
	# under ASan the suites once, on one Redis: the Sentinel and Cluster variants (label topology)
	# run the same code as the rcluster/sentinel suites and chaos tests that ASan does run
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp ctest -L 'unit|integration|chaos' \
	  -LE topology $(CTEST_ARGS)

test-unit: build
	cd $(BUILD) && ctest -L unit $(CTEST_ARGS)

test-integration: build
	cd $(BUILD) && ctest -L integration $(CTEST_ARGS)

# kill -9, restart, partition and drain scenarios; bounded in time, and part of `make test`
test-chaos: build
	cd $(BUILD) && ctest -L chaos $(CTEST_ARGS)

# cmake --install into a temporary prefix, and a program built against it with pkg-config; and
# libbelfry.so exports exactly the BF_EXTERN functions of its public headers
test-install: build
	bash tests/install/install_test.sh $(BUILD)
	bash tests/install/symbols_test.sh $(BUILD)

# the browser client: node --test with real daemons and Debian's chromium
test-js: build
	bash client/js/test/run.sh

# Pusher compatibility: the real pusher-js, laravel-echo and pusher (server SDK) from npm
test-pusher: build
	bash tests/pusher/run.sh
	$(MAKE) --no-print-directory test-pusher-cluster

# The Pusher HTTP API's publishes (one channel, 100 channels over every slot, batches) with the
# daemons on a three-primary Redis Cluster (tests/pusher/cluster.mjs' topology parameter)
test-pusher-cluster: build
	BELFRY_TEST_TOPOLOGY=cluster BELFRY_PUSHER_FILES=./http_events.test.mjs \
	  bash tests/pusher/run.sh --test-name-pattern='^(trigger to|batch trigger)'

# the integration suites with every gateway and router under valgrind's memcheck: a leak or an
# invalid access makes the daemon exit 99, which fails the test that stops it. ~4 min on 2 cores;
# not part of `make test` (ASan+UBSan+LSan cover the same ground there). Timing-bound tests skip.
VALGRIND = valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99
test-valgrind: build
	cd $(BUILD) && BELFRY_TEST_DAEMON_WRAPPER="$(VALGRIND)" ctest -L integration -j2 $(CTEST_ARGS)

# The presence chaos test (tests/chaos/presence_churn.c, about 40 s a run) N times in a row;
# stops at the first failure and prints its seed (BELFRY_CHAOS_SEED=... reruns the same choices).
N ?= 20
chaos-presence-repeat: build
	@for i in $$(seq 1 $(N)); do \
	  echo "== chaos presence_churn run $$i of $(N)"; \
	  $(BUILD)/tests/bin/chaos_presence_churn --jobs 1 || exit 1; \
	done; echo "== $(N) of $(N) runs passed"

# libFuzzer harnesses (clang): regression over the committed corpora, or a timed campaign
FUZZ_SECONDS ?= 60
fuzz-regress: deps
	@bash tests/fuzz/run.sh regress

fuzz: deps
	@bash tests/fuzz/run.sh fuzz $(FUZZ_SECONDS)

# every benchmark scenario at tiny scale (correctness only), and the real runs (docs/benchmarks.md)
bench-smoke: build
	bash bench/run.sh all --quick
	$(MAKE) --no-print-directory soak-check

bench: build
	bash bench/run.sh all

# the sustained soak (docs/benchmarks.md, "Soak"): SOAK_MINUTES (30) at SOAK_PCT (70) % of the
# measured maximum, mixed load; PASS/FAIL. Not part of `make test`. Hold the benchmark lock.
soak: build
	bash bench/soak.sh

# seconds: the soak's scripts parse, its load generator starts, and its verdict logic decides
# synthetic runs right (bench/soak_report_test.py); part of bench-smoke and `make test`
soak-check:
	bash -n bench/soak.sh
	bash bench/soak.sh --help >/dev/null
	$(BUILD)/bin/belfry-soak-load --help >/dev/null
	timeout 60 python3 bench/soak_report_test.py

# the compose/k8s manifests against the binaries, and the compose topology as local processes
test-deploy: build
	python3 tests/deploy/manifests_test.py
	bash tests/deploy/cluster_test.sh

# deploy/Dockerfile carried out in debootstrap chroots: needs root and the Debian mirror, ~3-5 min
test-image:
	python3 tests/deploy/image_chroot_test.py

clean:
	rm -rf $(BUILD) $(ASAN) $(RELEASE) build-types build-fuzz
