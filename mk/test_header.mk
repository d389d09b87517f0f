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

TH_SUITES := api wrappers realloc passthrough domains snapshot dump env fork oom stress
# What a suite links besides test_<suite>.o; test_oom brings its own implementation, whose raw
# allocator fails on demand.
TH_LINK := impl helpers dump_reader
TH_LINK_passthrough := $(TH_LINK) untraced
TH_LINK_oom := oom_impl oom_alloc helpers dump_reader
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
$(eval $(call th_variant,$(TH_OUT)/tsan,$(TH_TSAN),sanitizer_options,stress))

# The compile matrix runs its compilers at test time (each compile is one counted check).
export TM_COMPILE_OUT := $(TH_OUT)/compile
TEST_SUITES += $(TH_SRC)/compile.sh
TEST_DEPS += $(DEPS_STAMP)

test-header: $(filter $(TH_OUT)/%,$(TEST_DEPS)) $(DEPS_STAMP)
	@sh tests/run.sh $(filter $(TH_OUT)/% $(TH_SRC)/%,$(TEST_SUITES))

.PHONY: test-header
