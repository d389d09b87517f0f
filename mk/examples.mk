# The seed document's examples (examples/*.c), each linked with the one implementation file,
# examples/tracemalloc_impl.c, into $(BUILD)/examples/; `make demo` runs them and shows the
# analyzer's report on each dump (examples/demo.sh); tests/examples/ checks them and `make install`.
EX_OUT   := $(BUILD)/examples
EX_NAMES := $(filter-out tracemalloc_impl,$(basename $(notdir $(wildcard examples/*.c))))
EX_BIN   := $(addprefix $(EX_OUT)/,$(EX_NAMES))
EX_CFLAGS = $(CFLAGS) $(WARN) -I. $(STB_CFLAGS) -pthread

$(EX_OUT)/%.o: examples/%.c tracemalloc.h examples/numbers.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(EX_CFLAGS) -c -o $@ $<

$(EX_BIN): $(EX_OUT)/%: $(EX_OUT)/%.o $(EX_OUT)/tracemalloc_impl.o
	$(CC) $(CFLAGS) -pthread -o $@ $^

examples: $(EX_BIN)

demo: $(BUILD)/tracemalloc $(BUILD)/libtracemalloc.so $(EX_BIN)
	@sh examples/demo.sh $(BUILD)

# The tests find the programs through this; the install test runs `make install` into $(BUILD).
export TM_EXAMPLES_BUILD := $(BUILD)
TEST_SUITES += tests/examples/run_examples.sh tests/examples/test_install.sh
TEST_DEPS += $(BUILD)/tracemalloc $(EX_BIN)

.PHONY: examples demo
