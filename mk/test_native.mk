# Issue 5's "same numbers as the trusted tools" (tests/native/): known_pattern.c, whose every
# allocation the suite's model knows, run under `tracemalloc run` and valgrind memcheck; and
# issue 6's exactness program, peak_pattern.c (10 MiB phase freed, then 4 MiB kept), which
# tests/exports uses. Built -O2 -g as Debian builds, with and without frame pointers; calls stay
# calls (-fno-optimize-sibling-calls) so each call path is a real stack.
TN_SRC := tests/native
TN_OUT := $(BUILD)/tests/native
TN_CFLAGS = -std=gnu11 -O2 -g -fno-optimize-sibling-calls $(WARN)

$(TN_OUT)/known_pattern_fp: $(TN_SRC)/known_pattern.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TN_CFLAGS) -fno-omit-frame-pointer $< -o $@ -pthread

$(TN_OUT)/known_pattern_nofp: $(TN_SRC)/known_pattern.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TN_CFLAGS) -fomit-frame-pointer $< -o $@ -pthread

$(TN_OUT)/peak_pattern: $(TN_SRC)/peak_pattern.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TN_CFLAGS) -fno-omit-frame-pointer $< -o $@

$(TN_OUT)/peak_pattern_header: $(TN_SRC)/peak_pattern.c tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(TN_CFLAGS) -DPEAK_PATTERN_HEADER -I. $(STB_CFLAGS) $< -o $@ -pthread

TN_PROGRAMS := $(addprefix $(TN_OUT)/,known_pattern_fp known_pattern_nofp peak_pattern peak_pattern_header)
native-programs: $(TN_PROGRAMS)

export TM_NATIVE_BUILD := $(BUILD)
TEST_SUITES += $(TN_SRC)/test_known_pattern.py
TEST_DEPS += $(BUILD)/tracemalloc $(BUILD)/libtracemalloc.so $(TN_PROGRAMS)

test-native: $(BUILD)/tracemalloc $(BUILD)/libtracemalloc.so $(TN_PROGRAMS)
	@sh tests/run.sh $(TN_SRC)/test_known_pattern.py

.PHONY: native-programs test-native
