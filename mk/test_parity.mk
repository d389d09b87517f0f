# The parity suite: build/tracemalloc against CPython's own tracemalloc (tests/oracle/oracle.py),
# byte for byte, on generated dumps, golden dumps and dumps written by the real header.
$(BUILD)/make_dumps: tests/parity/make_dumps.c tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(WARN) $(STB_CFLAGS) -I. $< -o $@ -lpthread

TEST_SUITES += tests/parity/run_parity.py
TEST_DEPS += $(BUILD)/tracemalloc $(BUILD)/make_dumps
