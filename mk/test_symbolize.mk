# Symbolization (analyzer/symbolize.c, symfile.c, symindex.c, symtab.c) against addr2line -i -f: fixture programs
# built -g -O2 with forced inlines, a shared library, a binary without -g, one without a
# build-id; tests/symbolize/test_symbolize.c makes the stripped copies and debug directories
# itself. symbolize_bench times 10,000 distinct addresses (bench/native_bench* reports it):
#   build/tests/symbolize/symbolize_bench build/tracemalloc
SYM_SRC := tests/symbolize
SYM_OUT := $(BUILD)/tests/symbolize
SYM_OBJ := $(addprefix $(BUILD)/analyzer/,symbolize.o symfile.o symindex.o symtab.o)
SYM_FIXTURE_FLAGS := -g -O2 $(WARN)
SYM_FIXTURE_DEPS := $(SYM_SRC)/record.h $(SYM_SRC)/inlines.h | $(DEPS_STAMP)

$(SYM_OUT)/libshared.so: $(SYM_SRC)/shared.c $(SYM_FIXTURE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(SYM_FIXTURE_FLAGS) -fPIC -shared -o $@ $<

$(SYM_OUT)/prog: $(SYM_SRC)/prog.c $(SYM_OUT)/libshared.so $(SYM_FIXTURE_DEPS)
	$(CC) $(SYM_FIXTURE_FLAGS) -o $@ $< -L$(SYM_OUT) -lshared -Wl,-rpath,'$$ORIGIN' -Wl,--build-id

$(SYM_OUT)/prog_nodebug: $(SYM_SRC)/prog.c $(SYM_FIXTURE_DEPS)
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) -DNO_SHARED -o $@ $< -Wl,--build-id

$(SYM_OUT)/prog_noid: $(SYM_SRC)/prog.c $(SYM_FIXTURE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(SYM_FIXTURE_FLAGS) -DNO_SHARED -o $@ $< -Wl,--build-id=none

SYM_FIXTURES := $(addprefix $(SYM_OUT)/,libshared.so prog prog_nodebug prog_noid)

SYM_TEST_SRC := $(addprefix $(SYM_SRC)/,test_symbolize.c oracle.c spread.c)

$(SYM_OUT)/test_symbolize: $(SYM_TEST_SRC) $(SYM_SRC)/oracle.h $(SYM_SRC)/spread.h $(SYM_OBJ) analyzer/symbolize.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=c11 $(WARN) -I. -DFIXTURES='"$(abspath $(SYM_OUT))"' -o $@ $(SYM_TEST_SRC) $(SYM_OBJ) $(DW_LIBS) -lz

$(SYM_OUT)/symbolize_bench: $(SYM_SRC)/symbolize_bench.c $(SYM_SRC)/spread.c $(SYM_SRC)/spread.h $(SYM_OBJ) analyzer/symbolize.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=c11 $(WARN) -I. -o $@ $< $(SYM_SRC)/spread.c $(SYM_OBJ) $(DW_LIBS) -lz

TEST_SUITES += $(SYM_OUT)/test_symbolize
TEST_DEPS   += $(SYM_OUT)/test_symbolize $(SYM_FIXTURES) $(SYM_OUT)/symbolize_bench
