# The analyzer, build/tracemalloc: analyzer/*.c (the fuzz target aside), C + SQLite + zlib.
# Strict C11: the POSIX and Linux calls are asked for with _DEFAULT_SOURCE in each file, and the
# stb_ds macros used here (arrays, string maps) need no typeof (its hm* macros would).
ANALYZER_SRC    := $(filter-out analyzer/fuzz_%.c,$(wildcard analyzer/*.c))
ANALYZER_OBJ    := $(ANALYZER_SRC:analyzer/%.c=$(BUILD)/analyzer/%.o)
ANALYZER_CFLAGS  = -std=c11 $(WARN) -I. $(SQLITE_CFLAGS) $(STB_CFLAGS)
ANALYZER_LIBS    = $(SQLITE_LIBS) $(DW_LIBS) -lz -lm

$(BUILD)/analyzer/%.o: analyzer/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(ANALYZER_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tracemalloc: $(ANALYZER_OBJ) | $(DEPS_STAMP)
	$(CC) $(CFLAGS) -o $@ $(ANALYZER_OBJ) $(ANALYZER_LIBS)

-include $(ANALYZER_OBJ:.o=.d)
