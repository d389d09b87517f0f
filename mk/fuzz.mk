# `make fuzz`: libFuzzer on the dump reader (analyzer/fuzz_dump_read.c) for FUZZ_SECONDS.
# The seed corpus is written at build time by tests/errors/mkdump.py (good and broken dumps);
# nothing binary is committed. A crash leaves its input in $(FUZZ_DIR)/ and fails the target.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(FUZZ_DIR)/fuzz_dump_read: analyzer/fuzz_dump_read.c analyzer/dump_read.c analyzer/dump_read.h \
		tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(WARN) -I. -o $@ analyzer/fuzz_dump_read.c analyzer/dump_read.c -lz

$(FUZZ_DIR)/seeds.stamp: tests/errors/mkdump.py | $(DEPS_STAMP)
	@mkdir -p $(FUZZ_DIR)/seeds
	python3 tests/errors/mkdump.py $(FUZZ_DIR)/seeds
	@touch $@

fuzz: $(FUZZ_DIR)/fuzz_dump_read $(FUZZ_DIR)/seeds.stamp
	@mkdir -p $(FUZZ_DIR)/corpus
	cd $(FUZZ_DIR) && ./fuzz_dump_read -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
		-max_len=65536 -print_final_stats=1 corpus seeds

.PHONY: fuzz
