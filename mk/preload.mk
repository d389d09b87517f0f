# build/libtracemalloc.so: the LD_PRELOAD library (preload/*.c) that traces the glibc malloc family
# of unmodified programs; `tracemalloc run` and tests/preload/ use it.
# -fno-omit-frame-pointer: the frame-pointer unwinder walks through the interposers' own frames.
# -ftls-model=initial-exec: the tracker's thread-locals cost one instruction and never call
# __tls_get_addr, which may allocate (it needs a preloaded or linked library, not a dlopen'ed one).
# -fvisibility=hidden: only the malloc family is exported (see preload/preload.c).
PRELOAD_SRC := $(wildcard preload/*.c)
PRELOAD_OBJ := $(PRELOAD_SRC:preload/%.c=$(BUILD)/preload/%.o)
PRELOAD_CFLAGS = -std=gnu11 $(WARN) -I. $(STB_CFLAGS) -fPIC -pthread -fvisibility=hidden \
	-ftls-model=initial-exec -fno-omit-frame-pointer

$(BUILD)/preload/%.o: preload/%.c preload/preload.h tracemalloc.h | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(PRELOAD_CFLAGS) -c -o $@ $<

$(BUILD)/libtracemalloc.so: $(PRELOAD_OBJ) | $(DEPS_STAMP)
	$(CC) $(CFLAGS) -shared -Wl,-z,defs -o $@ $(PRELOAD_OBJ) $(UNWIND_LIBS) $(DW_LIBS) -pthread

all: $(BUILD)/libtracemalloc.so

# tests/preload/: real Debian programs and tests/preload/prog.c under the library, and `run`.
# prog is built as Debian builds (-O2 -g, no frame pointers): the DWARF unwinder must cope.
$(BUILD)/tests/preload/prog: tests/preload/prog.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -std=gnu11 $(WARN) -pthread -o $@ $<

export TM_PRELOAD_BUILD := $(BUILD)
TEST_SUITES += tests/preload/run_preload.sh
TEST_DEPS += $(BUILD)/libtracemalloc.so $(BUILD)/tracemalloc $(BUILD)/tests/preload/prog
