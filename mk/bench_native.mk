# make bench: native stacks' cost (bench/native_bench.c): raw vs `tracemalloc run --unwind fp`,
# `--unwind dwarf` and heaptrack, depth 0 and 30, side by side; the dump at exit; symbolizing
# 10,000 distinct addresses (bench/native_sites.py writes the program that has them). Built as
# the issue says: -O2 -g -fno-omit-frame-pointer.
NB_CFLAGS = -std=gnu11 -O2 -g -fno-omit-frame-pointer $(WARN)

$(BUILD)/bench/native_bench: bench/native_bench.c bench/churn_workload.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(NB_CFLAGS) $< -o $@

$(BUILD)/bench/native_sites.c: bench/native_sites.py | $(DEPS_STAMP)
	@mkdir -p $(@D)
	python3 $< > $@

$(BUILD)/bench/native_sites: $(BUILD)/bench/native_sites.c
	$(CC) $(NB_CFLAGS) $< -o $@

bench-native: $(BUILD)/bench/native_bench $(BUILD)/bench/native_sites $(BUILD)/tracemalloc $(BUILD)/libtracemalloc.so \
		$(BUILD)/tests/symbolize/symbolize_bench
	$(BUILD)/bench/native_bench $(BUILD)

BENCH_TARGETS += bench-native
.PHONY: bench-native
