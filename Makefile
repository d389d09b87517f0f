# tracemalloc: `make` builds the analyzer, `make demo` runs the examples, `make test` runs every
# test (last line: "N passed, N failed"), `make bench` measures, `make fuzz` fuzzes the dump reader.
# Missing Debian packages are installed first (scripts/deps.sh, apt-get as root or through sudo).
# Each mk/*.mk fragment adds its programs and appends to TEST_SUITES / TEST_DEPS / BENCH_TARGETS.

include mk/config.mk

# mk/config.mk's first rule (the deps stamp) would otherwise be the default goal.
.DEFAULT_GOAL := all
all: $(BUILD)/tracemalloc

include mk/analyzer.mk
include mk/test_header.mk
include mk/test_errors.mk
include mk/test_parity.mk
include mk/test_exports.mk
include mk/test_symbolize.mk
include mk/report.mk
include mk/examples.mk
include mk/bench_tracker.mk
include mk/bench_analyzer.mk
include mk/fuzz.mk
include mk/install.mk
include mk/preload.mk
include mk/test_native.mk
include mk/bench_native.mk

test: $(TEST_DEPS)
	@sh tests/run.sh $(TEST_SUITES)

bench: $(BENCH_TARGETS)

clean:
	rm -rf $(BUILD)

.PHONY: all test bench clean
