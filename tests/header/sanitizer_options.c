/* Linked into the ASan+UBSan and TSan builds only, so `make test` needs no environment variables.
   allocator_may_return_null: the tests ask for impossible sizes on purpose (failed realloc,
   calloc overflow) and need the NULL a libc returns, not the sanitizer's abort.
   halt_on_error: the first report fails the suite (run.sh sees the non-zero exit). */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__tsan_default_options(void);

const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:detect_leaks=1";
}

const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

const char *__tsan_default_options(void)
{
    return "halt_on_error=1:allocator_may_return_null=1:second_deadlock_stack=1";
}
