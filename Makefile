# agentd: one GNU Makefile. `make`, `make run`, `make test`, `make fuzz`, `make SANITIZE=address,undefined test`.

CC       ?= cc
PKGS     := libmicrohttpd jansson libcurl sqlite3 libcrypto
SANITIZE ?=
BUILD    ?= build$(if $(SANITIZE),-san)
PYTHON   ?= /usr/bin/python3
DATA_DIR ?= ./data
LISTEN   ?= 127.0.0.1:8080

WARN   := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wformat=2 -Wno-format-nonliteral -Wpointer-arith -Wvla
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -D_GNU_SOURCE -pthread $(WARN) -Isrc
LDLIBS += -pthread -lm

ifneq ($(SANITIZE),)
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SRC  := $(sort $(wildcard src/util/*.c src/http/*.c src/core/*.c src/store/*.c src/api/*.c \
          src/engine/*.c src/providers/*.c src/tools/*.c src/cli/*.c))
OBJ  := $(SRC:%.c=$(BUILD)/%.o)
MAIN := $(BUILD)/src/main.o
BIN  := $(BUILD)/agentd

FAKEMODEL := $(BUILD)/fakemodel
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run test unit api clean bench fuzz

all: $(BIN)

deps:
	@bash scripts/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(OBJ) $(MAIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -o $@ $< $(OBJ) $(LDFLAGS) $(PKG_LIBS) -lcmocka $(LDLIBS)

$(FAKEMODEL): tests/tools/fakemodel.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -Wno-missing-prototypes -o $@ $< $(LDFLAGS) $(PKG_LIBS) $(LDLIBS)

run: deps
	@$(MAKE) --no-print-directory all
	$(BIN) serve --data-dir $(DATA_DIR) --listen $(LISTEN) --config examples/agentd.json

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

api: $(BIN) $(FAKEMODEL)
	AGENTD_BIN=$(abspath $(BIN)) FAKEMODEL_BIN=$(abspath $(FAKEMODEL)) $(PYTHON) -m pytest -q tests/api

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory api

bench: deps
	@$(MAKE) --no-print-directory all $(FAKEMODEL)
	bash bench/run.sh $(BIN) $(FAKEMODEL)

# Fuzz targets (libFuzzer + ASan/UBSan with clang); each runs FUZZ_SECONDS on its corpus.
FUZZ_SECONDS ?= 30
FUZZ_CC      ?= clang
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN     := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_LIB_SRC := $(filter-out src/main.c,$(SRC))

build-fuzz/libagentd.a: $(FUZZ_LIB_SRC)
	@mkdir -p build-fuzz/obj
	cd build-fuzz/obj && for f in $(FUZZ_LIB_SRC); do \
	  $(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -pthread -I$(CURDIR)/src $(PKG_CFLAGS) \
	    -fsanitize=fuzzer-no-link,address,undefined -c $(CURDIR)/$$f -o $$(echo $$f | tr / _).o || exit 1; \
	done
	ar rcs $@ build-fuzz/obj/*.o

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libagentd.a
	$(FUZZ_CC) -g -O1 -std=c11 -D_GNU_SOURCE -pthread -Isrc $(PKG_CFLAGS) \
	  -fsanitize=fuzzer,address,undefined -o $@ $< build-fuzz/libagentd.a $(PKG_LIBS) $(LDLIBS)

fuzz: deps $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_BIN); do n=$${t#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$n; \
	  echo "== $$t ($(FUZZ_SECONDS) s)"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n 2>&1 | tail -3; \
	done

clean:
	rm -rf build build-san build-fuzz

-include $(OBJ:.o=.d) $(MAIN:.o=.d)
