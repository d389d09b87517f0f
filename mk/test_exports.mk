# The exports suite (tests/exports/test_exports.py): stats --at-peak/--allocated, info's peak,
# export --pprof/--folded/--massif and compare --folded against golden outputs; the pprof file
# read back by tests/exports/pprof_decode.py and by `go tool pprof` when Go is installed, the
# massif file by ms_print; and issue 6's known pattern, written by build/known_pattern through
# tracemalloc.h, told the same by every view. The ASan build runs the exporters too.
$(BUILD)/known_pattern: tests/exports/known_pattern.c tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(STB_CFLAGS) -I. $< -o $@ -lpthread

TEST_SUITES += tests/exports/test_exports.py
TEST_DEPS += $(BUILD)/tracemalloc $(BUILD)/asan/tracemalloc $(BUILD)/known_pattern
