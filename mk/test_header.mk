# The header's tests (issue 3; sources in tests/header/). Each behaviour suite is a cmocka
# program, built three ways into $(BUILD)/tests/header/: plain, asan/ (ASan+UBSan, halting on the
# first report) and, for the thread stress test, tsan/ (ThreadSanitizer). tests/header/compile.sh
# is the compile matrix (C99, C11, C++11; gcc and clang; override, static, twice, own stb_ds).
TH_SRC := tests/header
TH_OUT := $(BUILD)/tests/header
TH_CFLAGS = $(CFLAGS) $(WARN) $(STB_CFLAGS) -pthread -I. -I$(TH_SRC)
TH_LIBS = $(CMOCKA_LIBS) -lz -pthread
TH_ASAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TH_TSAN := -fsanitize=thread
TH_HEADERS := tracemalloc.h $(wildcard $(TH_SRC)/*.h)

TH_SUITES := api wrappers realloc passthrough domains snapshot dump env fork oom stress timeline
# What a suite links besides test_<suite>.o; test_oom brings its own implementation, whose raw
# allocator fails on demand.
TH_LINK := impl helpers dump_reader dump_history
TH_LINK_passthrough := $(TH_LINK) untraced
TH_LINK_oom := oom_impl oom_alloc helpers dump_reader dump_history
th_link = $(or $(TH_LINK_$(1)),$(TH_LINK))

# stb_ds's byte-key hash shifts bytes into an int's sign bit (stb_ds.h 1082, 1180: UB that UBSan
# reports on every hm* use with a non-string key). The implementation's file is exempted from that
# one check, and only it; `make test TH_STB_EXEMPT=` shows the reports.
TH_STB_EXEMPT := -fno-sanitize=shift-base

# $(call th_variant,DIR,SANITIZER FLAGS,EXTRA OBJECTS,SUITES): objects and programs of one build.
define th_variant
$(1)/%.o: $(TH_SRC)/%.c $(TH_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(TH_CFLAGS) $(2) $$(TH_IMPL_FLAGS) -c $$< -o $$@
$(if $(2),$(1)/impl.o $(1)/oom_impl.o: TH_IMPL_FLAGS = $$(TH_STB_EXEMPT))
$(1)/env_child: $(addprefix $(1)/,$(addsuffix .o,env_child impl $(3)))
	$$(CC) $$(CFLAGS) $(2) -o $$@ $$^ -pthread
$(foreach s,$(4),
$(1)/test_$(s): $(addprefix $(1)/,$(addsuffix .o,test_$(s) $(call th_link,$(s)) $(3)))
	$$(CC) $$(CFLAGS) $(2) -o $$@ $$^ $$(TH_LIBS))
TEST_SUITES += $(addprefix $(1)/test_,$(4))
TEST_DEPS += $(addprefix $(1)/test_,$(4)) $(if $(filter env,$(4)),$(1)/env_child)
endef

$(eval $(call th_variant,$(TH_OUT),,,$(TH_SUITES)))
$(eval $(call th_variant,$(TH_OUT)/asan,$(TH_ASAN),sanitizer_options,$(TH_SUITES)))
$(eval $(call th_variant,$(TH_OUT)/tsan,$(TH_TSAN),sanitizer_options,stress timeline))

# The compile matrix runs its compilers at test time (each compile is one counted check).
export TM_COMPILE_OUT := $(TH_OUT)/compile
TEST_SUITES += $(TH_SRC)/compile.sh
TEST_DEPS += $(DEPS_STAMP)

test-header: $(filter $(TH_OUT)/%,$(TEST_DEPS)) $(DEPS_STAMP)
	@sh tests/run.sh $(filter $(TH_OUT)/% $(TH_SRC)/%,$(TEST_SUITES))

.PHONY: test-header

# Native stacks (tests/header/test_native.c): the tracker as a shared object built with frame
# pointers, as the LD_PRELOAD library has it; a call chain with frame pointers and one without.
# test_native's DWARF unwinder is the C library's backtrace, test_native_libunwind's libunwind
# (TRACEMALLOC_LIBUNWIND). -rdynamic: the test names frames with dladdr.
TN_OBJS := test_native native_chain native_chain_nofp helpers dump_reader dump_history
TN_FP := -fno-omit-frame-pointer
# test_native_libdw: the cached CFI walker (TRACEMALLOC_LIBDW), every stack it walks compared with
# libunwind's (TRACEMALLOC_LIBDW_CHECK); libnative_plugin.so is the library it dlopens.
TN_LIBDW := -DTRACEMALLOC_LIBUNWIND -DTRACEMALLOC_LIBDW -DTRACEMALLOC_LIBDW_CHECK
# Under TSan, libunwind's per-thread cache crashes in its destructor at thread exit: the TSan
# build's fallback is backtrace, and nothing compares (the walks are checked against the chains).
tn_libdw = $(if $(filter $(TH_TSAN),$(1)),-DTRACEMALLOC_LIBDW,$(TN_LIBDW))
tn_libdw_test = $(if $(filter $(TH_TSAN),$(1)),-DTM_TEST_LIBDW_UNCHECKED)
# $(call tn_variant,DIR,SANITIZER FLAGS,EXTRA OBJECTS,PROGRAMS)
define tn_variant
$(1)/test_native.o $(1)/native_chain.o: TH_IMPL_FLAGS = $(TN_FP)
$(1)/native_chain_nofp.o: TH_IMPL_FLAGS = -fomit-frame-pointer
$(1)/libtm_native.so: $(TH_SRC)/native_impl.c $(TH_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(TH_CFLAGS) $(2) $(if $(2),$$(TH_STB_EXEMPT)) $(TN_FP) -fPIC -shared -o $$@ $$< -pthread
$(1)/libtm_native_libunwind.so: $(TH_SRC)/native_impl.c $(TH_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(TH_CFLAGS) $(2) $(if $(2),$$(TH_STB_EXEMPT)) $(TN_FP) -DTRACEMALLOC_LIBUNWIND \
	  $$(shell pkg-config --cflags libunwind) -fPIC -shared -o $$@ $$< -pthread $$(UNWIND_LIBS)
$(1)/libtm_native_libdw.so: $(TH_SRC)/native_impl.c $(TH_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(TH_CFLAGS) $(2) $(if $(2),$$(TH_STB_EXEMPT)) $(TN_FP) $(call tn_libdw,$(2)) \
	  $$(shell pkg-config --cflags libunwind) -fPIC -shared -o $$@ $$< -pthread $$(UNWIND_LIBS) $$(DW_LIBS)
$(1)/libnative_plugin.so: $(TH_SRC)/native_plugin.c | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(TH_CFLAGS) -fomit-frame-pointer -fPIC -shared -o $$@ $$<
$(1)/test_native_libdw.o: $(TH_SRC)/test_native.c $(TH_HEADERS) | $(DEPS_STAMP)
	@mkdir -p $$(@D)
	$$(CC) $$(TH_CFLAGS) $(2) $(TN_FP) -DTM_TEST_LIBDW $(call tn_libdw_test,$(2)) -c $$< -o $$@
$(1)/test_native_libdw: $(addprefix $(1)/,$(addsuffix .o,test_native_libdw $(filter-out test_native,$(TN_OBJS)) $(3))) \
		$(1)/libtm_native_libdw.so $(1)/libnative_plugin.so
	$$(CC) $$(CFLAGS) $(2) -rdynamic -o $$@ $$(filter %.o,$$^) -L$(1) -ltm_native_libdw \
	  -Wl,-rpath,'$$$$ORIGIN' $$(TH_LIBS) -ldl
$(1)/test_native: $(addprefix $(1)/,$(addsuffix .o,$(TN_OBJS) $(3))) $(1)/libtm_native.so
	$$(CC) $$(CFLAGS) $(2) -rdynamic -o $$@ $$(filter %.o,$$^) -L$(1) -ltm_native -Wl,-rpath,'$$$$ORIGIN' $$(TH_LIBS)
$(1)/test_native_libunwind: $(addprefix $(1)/,$(addsuffix .o,$(TN_OBJS) $(3))) $(1)/libtm_native_libunwind.so
	$$(CC) $$(CFLAGS) $(2) -rdynamic -o $$@ $$(filter %.o,$$^) -L$(1) -ltm_native_libunwind \
	  -Wl,-rpath,'$$$$ORIGIN' $$(TH_LIBS)
TEST_SUITES += $(addprefix $(1)/,$(4))
TEST_DEPS += $(addprefix $(1)/,$(4))
endef

$(eval $(call tn_variant,$(TH_OUT),,,test_native test_native_libunwind test_native_libdw))
$(eval $(call tn_variant,$(TH_OUT)/asan,$(TH_ASAN),sanitizer_options,test_native test_native_libunwind test_native_libdw))
$(eval $(call tn_variant,$(TH_OUT)/tsan,$(TH_TSAN),sanitizer_options,test_native test_native_libdw))
