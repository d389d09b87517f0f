# The analyzer's bad-input, usage, gate and database tests (tests/errors/test_errors.py): exact
# messages and exit statuses, and a database left exactly as it was by every failed load. Run
# twice: on build/tracemalloc, and (tests/errors/asan.sh) on a build with ASan + UBSan.
# Dumps are written at test time by tests/errors/mkdump.py; golden outputs in tests/errors/golden/.
ANALYZER_ASAN := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

$(BUILD)/asan/tracemalloc: $(ANALYZER_SRC) $(wildcard analyzer/*.h) tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ANALYZER_ASAN) $(ANALYZER_CFLAGS) -o $@ $(ANALYZER_SRC) $(ANALYZER_LIBS)

TEST_SUITES += tests/errors/test_errors.py tests/errors/asan.sh
TEST_DEPS   += $(BUILD)/tracemalloc $(BUILD)/asan/tracemalloc
