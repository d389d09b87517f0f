# Compilers, flags and the one-time install of missing Debian packages.
BUILD   := build
CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wpedantic
# Recursive (=): pkg-config runs after scripts/deps.sh has installed it.
STB_CFLAGS    = $(shell pkg-config --cflags stb)
SQLITE_CFLAGS = $(shell pkg-config --cflags sqlite3)
SQLITE_LIBS   = $(shell pkg-config --libs sqlite3)
CMOCKA_LIBS   = $(shell pkg-config --libs cmocka)
DW_LIBS       = $(shell pkg-config --libs libdw)
UNWIND_LIBS   = $(shell pkg-config --libs libunwind)
PREFIX  ?= /usr/local

DEPS_STAMP := $(BUILD)/.deps
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@sh scripts/deps.sh
	@touch $@
