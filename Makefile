#   fanfold build: stage executables into bin/, Check unit tests and
#   integration tests, sanitizer and valgrind runs, install with pkg-config.
#   `make run` and `make check` install missing Debian packages first.

.DEFAULT_GOAL := all

PREFIX    ?= /usr/local
BUILD     ?= build
BIN       ?= bin
OPT       ?= -O2 -g
PKGS      := libzmq libczmq msgpack
# Recursively expanded on purpose: pkg-config runs after the deps step.
CFLAGS_ALL = -std=gnu11 -D_GNU_SOURCE -ffp-contract=off $(OPT) -Wall -Wextra -Wstrict-prototypes \
             -Werror -MMD -MP -Iinclude $(shell pkg-config --cflags $(PKGS) zlib) $(EXTRA_CFLAGS)
# The one C++ unit (common/kernels/structure_gemmi.cpp) includes gemmi's
# headers (Debian gemmi-dev: header-only C++17, no pkg-config module; it
# includes tao-pegtl-dev's headers and needs zlib); it compiles alone, in
# about 30 s, so nothing else includes gemmi.
CXXFLAGS_ALL = -std=c++17 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -MMD -MP \
             -Iinclude $(shell pkg-config --cflags zlib) $(EXTRA_CXXFLAGS)
# The ZeroMQ stack is linked from its static archives, which its Debian -dev
# packages ship: a stage then maps 5 shared objects instead of 30 and starts
# in about a third of the time, which every worker start and every
# `fanfold submit` pays. The two features of those archives that fanfold never
# uses (systemd socket activation in czmq, GSSAPI in libzmq) are refused by
# common/static/unused_features.c instead of loading libsystemd,
# libgssapi_krb5 and 12 more. STATIC=no, or a missing archive, links
# everything shared.
STATIC    ?= yes
LIBDIR     = $(shell pkg-config --variable=libdir libzmq)
STATIC_LIBS := czmq zmq msgpackc sodium pgm norm protokit bsd md uuid
STATIC_OK   = $(if $(filter yes,$(STATIC)),$(if $(wildcard /usr/include/gssapi/gssapi.h),$(if $(strip $(foreach l,$(STATIC_LIBS),$(if $(wildcard $(LIBDIR)/lib$(l).a),,$(l)))),,yes)))
LIBS        = $(if $(STATIC_OK),$(LIBS_STATIC),$(LIBS_SHARED))
LIBS_SHARED = $(shell pkg-config --libs $(PKGS) zlib) -lstdc++ -lm -lpthread -ldl
# the refusals are compiled into each link (a source, not an object that a
# prerequisite would name: prerequisites are read before the deps step runs)
LIBS_STATIC = -x c $(abspath common/static/unused_features.c) -x none \
             -Wl,-Bstatic $(STATIC_LIBS:%=-l%) -Wl,-Bdynamic -static-libstdc++ \
             -static-libgcc -lz -lm -lpthread -ldl
CHECK_LIBS = $(shell pkg-config --libs check)

# the link flags of the stages, for bench/run.sh's raw libzmq baseline
print-libs:
	@echo $(LIBS)

COMMON_SRC := $(filter-out common/static/%,$(wildcard common/*/*.c))
COMMON_CXX := $(wildcard common/*/*.cpp)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o) $(COMMON_CXX:%.cpp=$(BUILD)/%.o)
STAGES     := fanfold fanfold-ventilator fanfold-worker fanfold-sink fanfold-server
STAGE_BINS := $(STAGES:%=$(BIN)/%)
TEST_SRC   := $(wildcard tests/check_*.c)
TEST_OBJ   := $(TEST_SRC:%.c=$(BUILD)/%.o)
TEST_BIN   := $(BUILD)/check_fanfold
LIB        := $(BUILD)/libfanfold.a
# where `make install` puts the Python package (on Debian python3's path)
PYDIR     ?= $(PREFIX)/lib/python3.$(shell /usr/bin/python3 -c 'import sys; print(sys.version_info[1])' 2>/dev/null || echo 11)/dist-packages

.PHONY: print-libs all deps deps-test run check check-unit check-integration asan \
        valgrind install clean check-cluster check-python
all: $(STAGE_BINS)

deps:
	@scripts/deps.sh build
deps-test:
	@scripts/deps.sh test

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@
$(BUILD)/%.o: %.cpp | deps
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS_ALL) -c $< -o $@

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the launcher links the worker's, the sink's and the ventilator's entries:
# it forks local workers and those stages, no exec; its symbols bound at
# start, once, rather than lazily in every child
$(BIN)/fanfold: EXTRA_LDFLAGS += -Wl,-z,now
$(BIN)/fanfold: $(BUILD)/stages/fanfold.o $(BUILD)/stages/worker.o $(BUILD)/stages/sink.o \
                $(BUILD)/stages/ventilator.o $(LIB)
	@mkdir -p $(BIN)
	$(CXX) $(OPT) $(EXTRA_LDFLAGS) -o $@ $^ $(LIBS)
$(BIN)/fanfold-%: $(BUILD)/stages/%.o $(LIB)
	@mkdir -p $(BIN)
	$(CXX) $(OPT) $(EXTRA_LDFLAGS) -o $@ $^ $(LIBS)

# every `Suite *<mod>_suite (void)` in tests/check_*.c joins the runner
$(BUILD)/tests/suites.inc: $(TEST_SRC)
	@mkdir -p $(dir $@)
	@grep -ho '^[a-z0-9_]*_suite (void)' $(filter-out tests/check_main.c,$^) \
	    | sed 's/ (void)//; s/.*/FF_SUITE (&)/' > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/check_main.o: EXTRA_CFLAGS += -I$(BUILD)/tests
$(BUILD)/tests/check_main.o: $(BUILD)/tests/suites.inc

$(TEST_BIN): $(TEST_OBJ) $(LIB) | deps-test
	$(CXX) $(OPT) $(EXTRA_LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS)

run: deps all
	@echo "fanfold demo: 1,000 lines in blocks of 4, 3 workers sleeping a random 0-20 ms per task; results come back in order" >&2
	$(BIN)/fanfold run -w 3 --pipe --lines 4 -K sleep -p ms=20 -p jitter=1 \
	    --format jsonl < tests/data/demo.txt | head -n 5
	@echo "... and the raw output equals the input:" >&2
	$(BIN)/fanfold run -w 3 --pipe --lines 4 -K noop < tests/data/demo.txt \
	    | cmp - tests/data/demo.txt && echo "demo: identical" >&2

check: deps-test
	@$(MAKE) --no-print-directory check-unit check-integration check-python

check-unit: $(TEST_BIN) all
	$(TEST_BIN)

check-integration: all
	FANFOLD_BIN=$(abspath $(BIN)) tests/integration/run.sh

# the Python package (python/fanfold): unittest; tests that need `fanfold
# serve` report a skip while it is missing
check-python: all
	FANFOLD_BIN=$(abspath $(BIN)) PYTHONPATH=$(abspath python) \
	    /usr/bin/python3 -m unittest discover -s tests/python -t tests/python -v

asan: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin \
	    OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DFF_CHECK_INVARIANTS=64" \
	    check-unit check-integration

# jobs across network namespaces acting as hosts (sshd, a Slurm cluster);
# as root, with openssh-server, slurm-wlm, munge and iproute2
check-cluster: all
	@scripts/deps.sh cluster
	FANFOLD_BIN=$(abspath $(BIN)) tests/cluster/run.sh

valgrind: deps-test all $(TEST_BIN)
	CK_FORK=no valgrind --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
	    --suppressions=tests/valgrind.supp $(TEST_BIN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/fanfold \
	    $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(STAGE_BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 include/fanfold/kernel.h $(DESTDIR)$(PREFIX)/include/fanfold/
	sed -e 's|@PREFIX@|$(PREFIX)|' fanfold.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/fanfold.pc
	install -d $(DESTDIR)$(PYDIR)/fanfold
	install -m 644 python/fanfold/*.py $(DESTDIR)$(PYDIR)/fanfold/

clean:
	rm -rf build $(BIN)

# every measure of bench/ side by side; the table also goes to bench/RESULTS.md
bench: all
	@scripts/deps.sh bench
	FANFOLD_BIN=$(abspath $(BIN)) bench/run.sh

# The warm pool for SOAK_SECONDS (default 600) of mixed jobs and killed
# clients: RSS flat (< 10% after the first minute), no descriptor, segment
# or ipc file leak; the figures are printed. Not part of `make check`.
SOAK_SECONDS ?= 600
.PHONY: soak bench-pool
soak: all
	/usr/bin/python3 tests/soak/pool_soak.py $(abspath $(BIN)) $(SOAK_SECONDS)

# Row 12 of bench/RESULTS.md: submit on a warm pool vs run, 10 noop
# tasks, min/median/max (POOL_SUBMITS, POOL_RUNS: 1000 and 100).
POOL_SUBMITS ?= 1000
POOL_RUNS ?= 100
bench-pool: all
	/usr/bin/python3 bench/pool_latency.py $(abspath $(BIN)) $(POOL_SUBMITS) $(POOL_RUNS)

-include $(COMMON_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(wildcard $(BUILD)/stages/*.d)

# libFuzzer over the wire decoder and the .npy header parser, with clang:
# `make fuzz FUZZ_SECONDS=N` (default 30). Seeds come from tests/fuzz/corpus
# (made by tests/fuzz/make_corpus.py); what the fuzzer learns and any crash
# go to build/fuzz/. Fails when the fuzzer finds a crash.
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_SRC     := tests/fuzz/fuzz_decode.c common/runtime/codec.c common/kernels/npy.c
.PHONY: fuzz
fuzz:
	@scripts/deps.sh fuzz
	@mkdir -p $(FUZZ_DIR)/corpus
	$(FUZZ_CC) -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	    -Wall -Wextra -Werror -Iinclude $$(pkg-config --cflags $(PKGS)) \
	    -o $(FUZZ_DIR)/fuzz_decode $(FUZZ_SRC) $$(pkg-config --libs msgpack)
	UBSAN_OPTIONS=print_stacktrace=1 $(FUZZ_DIR)/fuzz_decode \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -dict=tests/fuzz/fuzz_decode.dict -artifact_prefix=$(FUZZ_DIR)/ \
	    $(FUZZ_DIR)/corpus tests/fuzz/corpus
