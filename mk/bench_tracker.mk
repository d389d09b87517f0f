# make bench: the tracker's overhead (bench/tracker_bench.c).
$(BUILD)/bench/tracker_bench: bench/tracker_bench.c bench/churn_workload.h tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g $(WARN) -I. $(STB_CFLAGS) $< -o $@ -pthread

bench-tracker: $(BUILD)/bench/tracker_bench
	$(BUILD)/bench/tracker_bench $(BUILD)/bench/live.tmd

BENCH_TARGETS += bench-tracker
.PHONY: bench-tracker
