# `make bench` part: the analyzer against CPython's Snapshot.load + statistics on 1M traces.
bench-analyzer: $(BUILD)/tracemalloc
	python3 bench/analyzer_bench.py --analyzer $(BUILD)/tracemalloc --work $(BUILD)/bench/analyzer

BENCH_TARGETS += bench-analyzer
.PHONY: bench-analyzer
