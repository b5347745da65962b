# streamavg - build, run, test, install.
#
#   make          build build/streamavg (installs missing Debian packages)
#   make run      build and start with conf/streamavg.conf
#   make test     warnings as errors, unit and end-to-end tests, the
#                 dashboard in headless Chromium, then the unit and
#                 end-to-end tests again under AddressSanitizer and UBSan
#   make browser  the dashboard tests alone (tests/browser)
#   make install  copy the binary, dashboard and config under $(PREFIX)
#   make fuzz     run each libFuzzer target for FUZZ_SECONDS (default 30)
#   make bench-ingest  points per second per ingest protocol
#   make bench    streamavg against its peers (bench/README.md); installs
#                 the peers and tools it needs; BENCH_QUICK=1 for ~2 min

PREFIX   ?= /usr/local
CC       ?= cc
CFLAGS   ?= -O2 -g
PY       := /usr/bin/python3

PKGS     := libwebsockets json-c zlib
BASEFLAGS = -std=gnu11 -Wall -Wextra -Wshadow -Wno-unused-parameter \
            -Iinclude $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
            -pthread -D_GNU_SOURCE
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm

SRC      := $(wildcard src/*.c)
LIBSRC   := $(filter-out src/main.c,$(SRC))
HDR      := $(wildcard include/*.h)
UNIT     := $(wildcard tests/unit/test_*.c)

# Debian packages the build, the server and the tests need.  The deps step
# asks dpkg first and calls apt-get only for what is missing.
DEB_BUILD := build-essential pkg-config libwebsockets-dev libjson-c-dev \
             zlib1g-dev
DEB_RUN   := gnuplot-nox libjs-dygraphs
DEB_TEST  := libcmocka-dev python3 python3-websocket curl python3-numpy \
             python3-pandas collectd-core netdata-core python3-influxdb \
             python3-statsd
STAMP     := build/.deps

.PHONY: all run test unit e2e browser asan accuracy soak valgrind clean \
        install deps check-deps fuzz bench-ingest bench bench-deps \
        bench-tools bench-profile bench-percentile

all: build/streamavg

$(STAMP):
	@mkdir -p build
	@missing=""; for p in $(DEB_BUILD) $(DEB_RUN) $(DEB_TEST); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	    $$SUDO apt-get update -q && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	fi
	@touch $@

deps: $(STAMP)

# The browser tests' own needs, apart because chromium is big and only
# they use it: Debian's chromium, and Node.js when there is none.  A
# failed install is not fatal (the stamp is not written, so the next run
# tries again); the tests then say why they skip.
BROWSER_STAMP := build/.deps-browser
NODE_MODULES  := tests/browser/node_modules/.package-lock.json

$(BROWSER_STAMP): $(STAMP)
	@want=""; \
	dpkg-query -W -f='$${Status}' chromium 2>/dev/null | \
	    grep -q 'ok installed' || want="chromium"; \
	command -v node >/dev/null || want="$$want nodejs npm"; \
	if [ -z "$$want" ]; then touch $@; exit 0; fi; \
	echo "installing for the browser tests:$$want"; \
	if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	if $$SUDO apt-get update -q && $$SUDO env \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends $$want; then touch $@; \
	else echo "warning: could not install$$want"; fi

# playwright-core at the version package-lock.json pins.
$(NODE_MODULES): tests/browser/package-lock.json | $(BROWSER_STAMP)
	cd tests/browser && npm ci --no-audit --no-fund

# One compiler call per binary keeps the Makefile small: the whole program
# builds in a few seconds.
build/streamavg: $(STAMP) $(SRC) $(HDR)
	$(CC) $(CFLAGS) $(BASEFLAGS) $(EXTRA) -o $@ $(SRC) $(LIBS)

run: build/streamavg
	./build/streamavg -c conf/streamavg.conf

STRICT   := -O1 -g -Werror
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=undefined

# The test binaries: plain (warnings as errors) and sanitized.
build/test/%: tests/unit/%.c $(LIBSRC) $(HDR) $(STAMP)
	@mkdir -p build/test
	$(CC) $(STRICT) $(BASEFLAGS) -o $@ $< $(LIBSRC) $(LIBS) -lcmocka
build/asan/test/%: tests/unit/%.c $(LIBSRC) $(HDR) $(STAMP)
	@mkdir -p build/asan/test
	$(CC) $(STRICT) $(SANITIZE) $(BASEFLAGS) -o $@ $< $(LIBSRC) $(LIBS) \
	    -lcmocka
build/strict/streamavg: $(STAMP) $(SRC) $(HDR)
	@mkdir -p build/strict
	$(CC) $(STRICT) $(BASEFLAGS) -o $@ $(SRC) $(LIBS)
build/asan/streamavg: $(STAMP) $(SRC) $(HDR)
	@mkdir -p build/asan
	$(CC) $(STRICT) $(SANITIZE) $(BASEFLAGS) -o $@ $(SRC) $(LIBS)

UNIT_BIN := $(patsubst tests/unit/%.c,build/test/%,$(UNIT))
ASAN_BIN := $(patsubst tests/unit/%.c,build/asan/test/%,$(UNIT))

unit: $(UNIT_BIN) build/accuracy
	@for t in $(UNIT_BIN); do echo "== $$t"; $$t || exit 1; done
	build/accuracy 3000000 30

# The mean over a long adversarial stream against an exact sum (see
# bench/accuracy.c); make test runs 3e6 points, this 1e8 (about a minute).
build/accuracy: bench/accuracy.c src/window.c src/exact_sum.c \
        include/window.h include/exact_sum.h $(STAMP)
	$(CC) -O2 -g $(BASEFLAGS) -Werror -o $@ bench/accuracy.c src/window.c \
	    src/exact_sum.c -lm
accuracy: build/accuracy
	build/accuracy 100000000 200

# Percentiles one-off against a standing window, window 1e3 to 1e6.
build/bench/percentile: bench/percentile.c $(LIBSRC) $(HDR) $(STAMP)
	@mkdir -p build/bench
	$(CC) -O2 -g $(BASEFLAGS) -o $@ bench/percentile.c $(LIBSRC) $(LIBS)
bench-percentile: build/bench/percentile
	build/bench/percentile 1000000

e2e: build/strict/streamavg
	STREAMAVG_BIN=build/strict/streamavg $(PY) tests/e2e/run.py

browser: build/strict/streamavg $(BROWSER_STAMP) $(NODE_MODULES)
	STREAMAVG_BIN=build/strict/streamavg \
	    node --test --test-concurrency=1 tests/browser/

asan: $(ASAN_BIN) build/asan/streamavg
	@for t in $(ASAN_BIN); do echo "== $$t (asan)"; $$t || exit 1; done
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	STREAMAVG_BIN=build/asan/streamavg $(PY) tests/e2e/run.py

test: $(STAMP)
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory e2e
	$(MAKE) --no-print-directory browser
	$(MAKE) --no-print-directory asan
	@echo "make test: all passed"

# libFuzzer targets: each links the pure parsers only.
FUZZ_SECONDS ?= 30
FUZZ      := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ))
FUZZ_SRC  := src/ingest.c src/influx.c src/statsd.c src/access.c \
             src/tagname.c src/params.c src/plot_script.c src/stats.c \
             src/window.c src/storage_format.c src/rank_sketch.c \
             src/rank_tree.c src/standing.c src/ewma_window.c \
             src/exact_sum.c
DEB_FUZZ  := clang libclang-rt-14-dev

build/.deps-fuzz: $(STAMP)
	@missing=""; for p in $(DEB_FUZZ); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	    $$SUDO apt-get update -q && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing || exit 1; \
	fi
	@touch $@

build/fuzz/%: tests/fuzz/%.c $(FUZZ_SRC) $(HDR) build/.deps-fuzz
	@mkdir -p build/fuzz
	clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
	    -D_GNU_SOURCE -pthread -Iinclude \
	    $(shell pkg-config --cflags json-c) -o $@ $< $(FUZZ_SRC) \
	    $(shell pkg-config --libs json-c zlib) -lm

fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do \
	    c=build/fuzz/corpus-$$(basename $$f); mkdir -p $$c; \
	    echo "== $$f for $(FUZZ_SECONDS) s"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$c \
	        > $$f.log 2>&1; rc=$$?; tail -n 12 $$f.log; \
	    [ $$rc = 0 ] || exit 1; \
	done

# One run of the ingest benchmark (bench/README.md has the figures).
bench-ingest: build/streamavg
	$(PY) bench/ingest_bench.py

# Outside `make test`: a long run under load (SOAK_SECONDS, default 60),
# and the end-to-end suite once under valgrind (several minutes).
soak: build/streamavg
	SOAK_SECONDS=$${SOAK_SECONDS:-60} $(PY) bench/soak.py

VALGRIND := valgrind --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite --track-fds=no --quiet
valgrind: build/strict/streamavg
	@command -v valgrind >/dev/null || { echo "apt-get install valgrind"; \
	    exit 1; }
	STREAMAVG_WRAP="$(VALGRIND)" STREAMAVG_SLOW=1 \
	STREAMAVG_BIN=build/strict/streamavg $(PY) tests/e2e/run.py

install: build/streamavg
	install -D -m 755 build/streamavg $(DESTDIR)$(PREFIX)/bin/streamavg
	install -d $(DESTDIR)$(PREFIX)/share/streamavg/www
	install -m 644 www/* $(DESTDIR)$(PREFIX)/share/streamavg/www/
	install -D -m 644 conf/streamavg.conf \
	    $(DESTDIR)$(PREFIX)/share/streamavg/streamavg.conf

clean:
	rm -rf build/obj build/test build/asan build/strict build/streamavg \
	    build/fuzz build/bench

# ---- benchmarks (bench/README.md); not part of `make test` -------------
#
#   make bench                 every benchmark, 3 runs each (~8 min)
#   make bench BENCH_QUICK=1   the same, shorter (~1.5 min): checks the harness
#   make bench BENCH_REPS=5    more runs
#   make bench BENCH_ONLY=fanout,plot   some of them
#   make bench-profile         perf and callgrind profiles under load

# The peers and tools: nginx, wrk, carbon-cache, matplotlib, libev for the
# load client's lws event-lib plugin, perf and valgrind for the profiles;
# node and npm for the Node.js peer (bench/peer-node, `npm ci`).
DEB_BENCH  := nginx wrk graphite-carbon python3-matplotlib \
              libwebsockets-evlib-ev libev-dev linux-perf valgrind \
              strace nodejs
BENCH_STAMP := build/.bench-deps
BENCH_BIN  := build/bench/wsload build/bench/gsend build/bench/sink

# apt-get would start nginx and carbon-cache as services on their public
# default ports; policy-rc.d exit 101 forbids that for the install.
$(BENCH_STAMP): $(STAMP)
	@missing=""; for p in $(DEB_BENCH); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | \
	        grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
	    rc=/usr/sbin/policy-rc.d; made=""; \
	    if [ ! -e $$rc ]; then \
	        printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$rc >/dev/null; \
	        $$SUDO chmod 755 $$rc; made=1; \
	    fi; \
	    $$SUDO apt-get update -q && \
	    $$SUDO env DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	    st=$$?; [ -z "$$made" ] || $$SUDO rm -f $$rc; \
	    [ $$st = 0 ] || exit 1; \
	fi
	@touch $@

bench/peer-node/node_modules/.package-lock.json: \
        bench/peer-node/package-lock.json $(BENCH_STAMP)
	cd bench/peer-node && npm ci --no-audit --no-fund

bench-deps: $(BENCH_STAMP) bench/peer-node/node_modules/.package-lock.json

build/bench/wsload: bench/wsload.c $(BENCH_STAMP)
	@mkdir -p build/bench
	$(CC) -O2 -g $(BASEFLAGS) -o $@ $< $(LIBS) -lev
build/bench/%: bench/%.c $(BENCH_STAMP)
	@mkdir -p build/bench
	$(CC) -O2 -g $(BASEFLAGS) -o $@ $< -pthread

# The same -O2 build with frame pointers, so perf can walk the stacks.
build/bench/streamavg-prof: $(STAMP) $(SRC) $(HDR)
	@mkdir -p build/bench
	$(CC) -O2 -g -fno-omit-frame-pointer $(BASEFLAGS) -o $@ $(SRC) $(LIBS)

bench-tools: build/streamavg $(BENCH_BIN) bench-deps

bench: bench-tools
	BENCH_QUICK=$(BENCH_QUICK) BENCH_ONLY=$(BENCH_ONLY) \
	    $(PY) bench/run.py

bench-profile: bench-tools build/bench/streamavg-prof
	$(PY) bench/profile.py
