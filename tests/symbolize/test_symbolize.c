/* test_symbolize.c - analyzer/symbolize.c against addr2line -i -f on real return addresses.

   FIXTURES (a directory, given at build time by mk/test_symbolize.mk) holds prog and
   libshared.so (-g -O2, forced inlines), prog_nodebug (no -g) and prog_noid (-g, no build-id).
   Each prints the return addresses it recorded (record.h). The stripped copies, separate debug
   files and debug directories are made here, in a scratch directory, with objcopy and strip.
   Prints one line per check and ends with "N passed, N failed". Modules given as arguments are
   also held against addr2line, on 2000 addresses each. */
#define _GNU_SOURCE /* mkdtemp, popen, dladdr */
#include <dlfcn.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzer/symbolize.h"
#include "oracle.h"
#include "spread.h"

#ifndef FIXTURES
#error "define FIXTURES, the directory of the fixture programs"
#endif

#define MAX_FRAMES ORACLE_MAX_FRAMES

static int passed, failed;

static void check(int ok, const char *name, const char *format, ...)
{
    if (ok) {
        passed++;
        printf("ok   %s\n", name);
        return;
    }
    failed++;
    printf("FAIL %s: ", name);
    va_list ap;
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    putchar('\n');
}

/* ---- fixtures ----------------------------------------------------------------------------- */

struct record {
    char tag[64], module[8];
    unsigned long long offset;
};

static struct record records[64];
static int nrecord;
static char scratch[4096];

static char *path_of(const char *dir, const char *name)
{
    static char buffers[8][4096];
    static int next;
    char *p = buffers[next++ % 8];
    snprintf(p, sizeof buffers[0], "%s/%s", dir, name);
    return p;
}

static int sh(const char *format, ...)
{
    char command[8192];
    va_list ap;
    va_start(ap, format);
    vsnprintf(command, sizeof command, format, ap);
    va_end(ap);
    int status = system(command);
    if (status != 0)
        fprintf(stderr, "test_symbolize: '%s' failed (%d)\n", command, status);
    return status;
}

/* Runs a fixture and keeps what it printed: "TAG MODULE OFFSET" lines. */
static int run_fixture(const char *program)
{
    FILE *p = popen(program, "r");
    if (!p)
        return -1;
    nrecord = 0;
    struct record r;
    while (nrecord < 64 && fscanf(p, "%63s %7s %llx", r.tag, r.module, &r.offset) == 3)
        records[nrecord++] = r;
    return pclose(p) == 0 && nrecord > 0 ? 0 : -1;
}

static const struct record *find_record(const char *tag, const char *module)
{
    for (int i = 0; i < nrecord; i++)
        if (strcmp(records[i].tag, tag) == 0 && strcmp(records[i].module, module) == 0)
            return &records[i];
    return NULL;
}

/* The file's build-id into id (at most 64 bytes); returns its length, 0 for none. */
static size_t read_build_id(const char *path, unsigned char id[64])
{
    int fd = open(path, O_RDONLY);
    Elf *elf = fd >= 0 ? elf_begin(fd, ELF_C_READ, NULL) : NULL;
    const void *bits = NULL;
    ssize_t n = elf ? dwelf_elf_gnu_build_id(elf, &bits) : 0;
    if (n > 64 || n < 0)
        n = 0;
    if (n)
        memcpy(id, bits, (size_t)n);
    elf_end(elf);
    if (fd >= 0)
        close(fd);
    return (size_t)n;
}

/* ---- frames ------------------------------------------------------------------------------- */

/* GNU addr2line's frames for one address. */
static int addr2line(const char *path, unsigned long long address, struct frames *out)
{
    uint64_t a = address;
    return oracle_run("addr2line", path, &a, 1, out) == 1 ? 0 : -1;
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* "" when the frames are the same, else what differs. */
static const char *compare_frames(const struct symbol_frame *a, int na, const struct symbol_frame *b, int nb)
{
    static char why[2048];
    if (na != nb) {
        snprintf(why, sizeof why, "%d frames, expected %d (first %s:%u %s)", na, nb,
                 na ? a[0].filename : "-", na ? a[0].lineno : 0, na && a[0].function ? a[0].function : "-");
        return why;
    }
    for (int i = 0; i < na; i++)
        if (!same_string(a[i].filename, b[i].filename) || a[i].lineno != b[i].lineno ||
            !same_string(a[i].function, b[i].function)) {
            snprintf(why, sizeof why, "frame %d is %s:%u in %s, expected %s:%u in %s", i,
                     a[i].filename, a[i].lineno, a[i].function ? a[i].function : "NULL",
                     b[i].filename, b[i].lineno, b[i].function ? b[i].function : "NULL");
            return why;
        }
    return "";
}

static int symbolize_path(struct symbolizer *s, const char *path, const unsigned char *id,
                          size_t length, unsigned long long offset, struct frames *out)
{
    return out->n = symbolize(s, path, id, length, offset, out->f, MAX_FRAMES);
}

/* Addresses spread over a whole module agree with addr2line (oracle.h): the same frames
   where it knows the line, else our fallback frame naming the function it names. The second
   reader runs once, on the addresses where GNU's file or line differs. */
static void spread_addresses_match_addr2line(const char *name, const char *path, int n,
                                             int need_lines)
{
    uint64_t *offsets = NULL, *addresses = NULL, *doubtful = NULL;
    unsigned char id[64];
    size_t length;
    long count = spread_offsets(path, (size_t)n, &offsets, id, &length);
    size_t size = (size_t)(count > 0 ? count : 1);
    struct frames *got = calloc(size, sizeof *got), *gnu = calloc(size, sizeof *gnu);
    struct frames *second = calloc(size, sizeof *second);
    int *verdict = calloc(size, sizeof *verdict), read = 0, ndoubtful = 0;
    addresses = calloc(size, sizeof *addresses);
    doubtful = calloc(size, sizeof *doubtful);
    if (count > 0 && got && gnu && second && verdict && addresses && doubtful) {
        for (long i = 0; i < count; i++)
            addresses[i] = offsets[i] - 1;
        read = oracle_run("addr2line", path, addresses, (int)count, gnu);
    }
    struct symbolizer *s = symbolizer_new(NULL);
    int mismatches = 0, with_lines = 0;
    char why[1600], first[1700] = "";
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1 && ndoubtful)
            oracle_run(oracle_second_tool(), path, doubtful, ndoubtful, second);
        for (int i = 0, k = 0; i < read; i++) {
            const struct frames *e = &gnu[i];
            if (pass == 0) {
                symbolize_path(s, path, id, length, offsets[i], &got[i]);
            } else if (verdict[i] == 2) {
                verdict[i] = oracle_compare(path, &got[i], e, &second[k++], why);
            } else {
                continue;
            }
            if (pass == 0 && e->n && e->f[0].lineno == 0 && strcmp(e->f[0].filename, "??") == 0) {
                verdict[i] = !(got[i].n == 1 && got[i].f[0].lineno == 0 &&
                               oracle_same_function(path, got[i].f[0].function, e->f[0].function));
                snprintf(why, sizeof why, "addr2line has no line; not the fallback frame of its function");
            } else if (pass == 0) {
                verdict[i] = oracle_compare(path, &got[i], e, NULL, why);
                with_lines++;
            }
            if (verdict[i] == 2)
                doubtful[ndoubtful++] = addresses[i];
            if (verdict[i] == 1 && getenv("SYM_VERBOSE"))
                printf("  %#llx: %s\n", (unsigned long long)addresses[i], why);
            if (verdict[i] == 1 && mismatches++ == 0)
                snprintf(first, sizeof first, "%#llx: %s", (unsigned long long)addresses[i], why);
        }
    }
    check(count > 0 && read == count && mismatches == 0 && (with_lines > 0 || !need_lines), name,
          "%d of %ld addresses differ (%d read, %d with lines, %d asked again); first %s",
          mismatches, count, read, with_lines, ndoubtful, first);
    printf("     %s: %ld addresses, %d with lines, %d where GNU addr2line disagrees and %s "
           "agrees with symbolize()\n", path, count, with_lines, ndoubtful, oracle_second_tool());
    symbolizer_free(s);
    free(got), free(gnu), free(second), free(verdict), free(addresses), free(doubtful), free(offsets);
}

/* ---- tests -------------------------------------------------------------------------------- */

static const char *module_path(const struct record *r)
{
    return path_of(FIXTURES, strcmp(r->module, "main") == 0 ? "prog" : "libshared.so");
}

/* Every recorded address of prog and libshared.so, as addr2line -i -f prints it. */
static void every_address_matches_addr2line(struct symbolizer *s)
{
    for (int i = 0; i < nrecord; i++) {
        const struct record *r = &records[i];
        unsigned char id[64];
        size_t length = read_build_id(module_path(r), id);
        struct frames got;
        char why[1600], name[160];
        symbolize_path(s, module_path(r), id, length, r->offset, &got);
        snprintf(name, sizeof name, "%s_in_%s_matches_addr2line", r->tag, r->module);
        check(oracle_check(module_path(r), r->offset - 1, &got, why) == 0, name, "%s", why);
    }
}

/* The chains the fixtures were written to have, independently of addr2line. */
static void forced_inlines_are_frames_innermost_first(struct symbolizer *s)
{
    static const struct {
        const char *tag, *module, *functions[4], *innermost_file;
    } cases[] = {
        {"inner", "main", {"inner", "middle", "outer", NULL}, "prog.c"},
        {"leaf_in_header", "main", {"leaf_in_header", "middle_in_header", "outer", NULL}, "inlines.h"},
        {"plain", "main", {"plain", NULL}, "prog.c"},
        {"lib_inner", "lib", {"lib_inner", "lib_entry", NULL}, "shared.c"},
        {"leaf_in_header", "lib", {"leaf_in_header", "middle_in_header", "lib_entry", NULL}, "inlines.h"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct record *r = find_record(cases[c].tag, cases[c].module);
        char name[160];
        snprintf(name, sizeof name, "inline_chain_of_%s_in_%s", cases[c].tag, cases[c].module);
        if (!r) {
            check(0, name, "the fixture did not record it");
            continue;
        }
        unsigned char id[64];
        size_t length = read_build_id(module_path(r), id);
        struct frames got;
        symbolize_path(s, module_path(r), id, length, r->offset, &got);
        int ok = 1, k = 0;
        for (; cases[c].functions[k]; k++)
            ok &= k < got.n && same_string(got.f[k].function, cases[c].functions[k]) && got.f[k].lineno > 0;
        ok &= got.n == k;
        const char *file = got.n ? got.f[0].filename : "";
        size_t lf = strlen(file), le = strlen(cases[c].innermost_file);
        ok &= lf > le && strcmp(file + lf - le, cases[c].innermost_file) == 0 && file[lf - le - 1] == '/';
        /* the call site of an inline in inlines.h is in the including file */
        if (strcmp(cases[c].innermost_file, "inlines.h") == 0 && got.n == 3)
            ok &= strstr(got.f[1].filename, "inlines.h") != NULL && strstr(got.f[2].filename, "inlines.h") == NULL;
        check(ok, name, "%d frames, first %s:%u %s", got.n, file, got.n ? got.f[0].lineno : 0,
              got.n && got.f[0].function ? got.f[0].function : "NULL");
    }
}

static void second_lookup_comes_from_the_cache(struct symbolizer *s)
{
    const struct record *r = find_record("inner", "main");
    unsigned char id[64];
    size_t length = r ? read_build_id(module_path(r), id) : 0;
    struct frames a, b;
    if (r) {
        symbolize_path(s, module_path(r), id, length, r->offset, &a);
        symbolize_path(s, module_path(r), id, length, r->offset, &b);
    }
    check(r && a.n == b.n && a.f[0].filename == b.f[0].filename && a.f[0].function == b.f[0].function,
          "second_lookup_returns_the_same_strings", "not the same pointers");
    struct symbol_frame two[2];
    int n = r ? symbolize(s, module_path(r), id, length, r->offset, two, 2) : 0;
    check(n == 2 && same_string(two[1].function, "middle"), "n_caps_the_frames_written",
          "%d frames written for n = 2", n);
}

/* Frames of the same address in another module (a stripped copy, a debug file) equal prog's. */
static void check_same_as_prog(const char *name, const char *debug_dir, const char *path,
                               const unsigned char *id, size_t length)
{
    struct symbolizer *s = symbolizer_new(debug_dir);
    struct symbolizer *reference = symbolizer_new(NULL);
    int ok = 1;
    const char *why = "";
    for (int i = 0; i < nrecord && ok; i++) {
        if (strcmp(records[i].module, "main") != 0)
            continue;
        unsigned char prog_id[64];
        size_t prog_length = read_build_id(path_of(FIXTURES, "prog"), prog_id);
        struct frames got, expected;
        symbolize_path(s, path, id, length, records[i].offset, &got);
        symbolize_path(reference, path_of(FIXTURES, "prog"), prog_id, prog_length, records[i].offset, &expected);
        why = compare_frames(got.f, got.n, expected.f, expected.n);
        ok = !*why && expected.f[0].lineno > 0;
    }
    check(ok, name, "%s", why);
    symbolizer_free(s);
    symbolizer_free(reference);
}

/* One fallback frame: "<basename>+0x<offset>", line 0, and the given function (NULL: none). */
static void check_fallback(const char *name, struct symbolizer *s, const char *path,
                           const unsigned char *id, size_t length, unsigned long long offset,
                           const char *function)
{
    struct frames got;
    char filename[512];
    const char *base = path ? strrchr(path, '/') : NULL;
    snprintf(filename, sizeof filename, "%s%s0x%llx", path ? (base ? base + 1 : path) : "",
             path ? "+" : "", offset);
    symbolize_path(s, path, id, length, offset, &got);
    check(got.n == 1 && strcmp(got.f[0].filename, filename) == 0 && got.f[0].lineno == 0 &&
              same_string(got.f[0].function, function),
          name, "%d frames, first %s:%u in %s, expected %s:0 in %s", got.n, got.f[0].filename,
          got.f[0].lineno, got.f[0].function ? got.f[0].function : "NULL", filename,
          function ? function : "NULL");
}

/* prog stripped of its DWARF (symtab kept), its debug file put where each rule looks. */
static void separate_debug_files_are_found(void)
{
    const char *prog = path_of(FIXTURES, "prog");
    unsigned char id[64];
    size_t length = read_build_id(prog, id);
    char hex[129] = "";
    for (size_t i = 0; i < length; i++)
        sprintf(hex + 2 * i, "%02x", id[i]);
    const char *w = scratch;
    int made = sh("cd '%s' && mkdir -p dbg/.build-id/%.2s bin link sub/.debug g gdir copy && "
                  "objcopy --only-keep-debug '%s' prog.debug && "
                  "objcopy --strip-debug --add-gnu-debuglink=prog.debug '%s' bin/prog && "
                  "cp prog.debug dbg/.build-id/%.2s/%s.debug && "
                  "cp bin/prog link/prog && cp prog.debug link/prog.debug && "
                  "cp bin/prog sub/prog && cp prog.debug sub/.debug/prog.debug && "
                  "cp bin/prog g/prog && mkdir -p gdir/'%s'/g && cp prog.debug gdir/'%s'/g/ && "
                  "cp '%s' copy/prog",
                  w, hex, prog, prog, hex, hex + 2, w, w, prog);
    if (made != 0) {
        check(0, "separate_debug_files_made", "objcopy failed");
        return;
    }
    check_same_as_prog("debug_file_by_build_id_in_debug_dir", path_of(w, "dbg"), path_of(w, "bin/prog"), id, length);
    check_same_as_prog("debug_file_by_debuglink_next_to_the_binary", NULL, path_of(w, "link/prog"), id, length);
    check_same_as_prog("debug_file_by_debuglink_in_dot_debug", NULL, path_of(w, "sub/prog"), id, length);
    check_same_as_prog("debug_file_under_debug_dir_and_the_binary_s_directory", path_of(w, "gdir"),
                       path_of(w, "g/prog"), id, length);
    check_same_as_prog("missing_binary_uses_the_debug_file_found_by_build_id", path_of(w, "dbg"),
                       "/nonexistent/dir/prog", id, length);
    check_same_as_prog("missing_binary_found_as_debug_dir_basename", path_of(w, "copy"),
                       "/nonexistent/dir/prog", id, length);

    const struct record *r = find_record("inner", "main");
    struct symbolizer *s = symbolizer_new(NULL);
    if (r)
        check_fallback("stripped_binary_without_debug_file_names_symtab_function", s,
                       path_of(w, "bin/prog"), id, length, r->offset, "outer");
    symbolizer_free(s);

    /* the default directory of --debug-dir */
    errno = 0;
    check(symbolize_set_debug_dir(prog) < 0 && errno == ENOTDIR, "debug_dir_must_be_a_directory",
          "errno %d", errno);
    check(symbolize_set_debug_dir(path_of(w, "dbg")) == 0, "debug_dir_accepts_a_directory", "refused");
    check_same_as_prog("set_debug_dir_is_the_default_of_new_symbolizers", NULL, path_of(w, "bin/prog"), id, length);
    symbolize_set_debug_dir(NULL);
}

/* Without a build-id, a debuglink's CRC decides. */
static void debuglink_crc_is_checked_without_build_id(void)
{
    const char *noid = path_of(FIXTURES, "prog_noid");
    const char *w = scratch;
    if (sh("cd '%s' && mkdir -p crc bad && objcopy --only-keep-debug '%s' crc/prog_noid.debug && "
           "objcopy --strip-debug --add-gnu-debuglink=crc/prog_noid.debug '%s' crc/prog_noid && "
           "cp crc/prog_noid bad/prog_noid && cp crc/prog_noid.debug bad/prog_noid.debug && "
           "printf x >> bad/prog_noid.debug",
           w, noid, noid) != 0 || run_fixture(noid) != 0) {
        check(0, "debuglink_fixtures_made", "objcopy or prog_noid failed");
        return;
    }
    const struct record *r = find_record("inner", "main");
    struct symbolizer *s = symbolizer_new(NULL);
    struct frames got;
    if (r) {
        char why[1600] = "";
        symbolize_path(s, path_of(w, "crc/prog_noid"), NULL, 0, r->offset, &got);
        int verdict = oracle_check(noid, r->offset - 1, &got, why);
        check(verdict == 0 && got.n == 3, "debuglink_with_matching_crc_is_used", "%s", why);
        check_fallback("debuglink_with_another_crc_is_ignored", s, path_of(w, "bad/prog_noid"), NULL, 0,
                       r->offset, "outer");
        symbolize_path(s, noid, NULL, 0, r->offset, &got);
        check(got.n == 3 && got.f[0].lineno > 0, "file_without_build_id_matches_a_dump_without_one",
              "%d frames", got.n);
        static const unsigned char some_id[20] = {1, 2, 3};
        check_fallback("file_without_build_id_does_not_match_a_dump_with_one", s, noid, some_id,
                       sizeof some_id, r->offset, NULL);
    }
    symbolizer_free(s);
}

/* No DWARF anywhere: the symbol table names the function, as addr2line -f does. */
static void without_debug_info_the_symtab_names_the_function(void)
{
    const char *nodebug = path_of(FIXTURES, "prog_nodebug");
    if (run_fixture(nodebug) != 0) {
        check(0, "prog_nodebug_runs", "failed");
        return;
    }
    unsigned char id[64];
    size_t length = read_build_id(nodebug, id);
    struct symbolizer *s = symbolizer_new(NULL);
    for (int i = 0; i < nrecord; i++) {
        struct frames expected;
        char name[160];
        addr2line(nodebug, records[i].offset - 1, &expected);
        snprintf(name, sizeof name, "%.60s_without_debug_info_names_%.60s", records[i].tag,
                 expected.n && expected.f[0].function ? expected.f[0].function : "nothing");
        check_fallback(name, s, nodebug, id, length, records[i].offset,
                       expected.n ? expected.f[0].function : NULL);
    }
    symbolizer_free(s);
}

static void missing_and_mismatched_files_fall_back(const struct record *r, const struct record *lib_entry)
{
    const char *w = scratch;
    unsigned char id[64];
    size_t length = read_build_id(path_of(FIXTURES, "prog"), id);
    struct symbolizer *s = symbolizer_new(NULL);
    check_fallback("missing_file_falls_back", s, "/nonexistent/dir/prog", id, length, r->offset, NULL);
    check_fallback("missing_file_without_build_id_falls_back", s, "/nonexistent/prog", NULL, 0, r->offset, NULL);
    check_fallback("no_module_gives_the_address", s, NULL, NULL, 0, 0x7f0012345678ull, NULL);
    check_fallback("offset_zero_falls_back", s, path_of(FIXTURES, "prog"), id, length, 0, NULL);
    id[0] ^= 0xff;
    check_fallback("file_with_another_build_id_is_not_used", s, path_of(FIXTURES, "prog"), id, length,
                   r->offset, NULL);
    id[0] ^= 0xff;
    check_fallback("not_an_elf_file_falls_back", s, "/etc/passwd", NULL, 0, r->offset, NULL);
    check_fallback("a_directory_falls_back", s, "/tmp", NULL, 0, r->offset, NULL);
    /* strip --strip-all keeps only .dynsym: a library's exported function is still named */
    if (lib_entry && sh("cd '%s' && strip --strip-all -o libstripped.so '%s'", w,
                        path_of(FIXTURES, "libshared.so")) == 0) {
        length = read_build_id(path_of(w, "libstripped.so"), id);
        check_fallback("stripped_library_names_exported_function_from_dynsym", s,
                       path_of(w, "libstripped.so"), id, length, lib_entry->offset, "lib_entry");
    }
    symbolizer_free(s);
}

/* Arguments: more modules to hold against addr2line, 2000 addresses each. */
int main(int argc, char **argv)
{
    elf_version(EV_CURRENT);
    snprintf(scratch, sizeof scratch, "%s/scratch.XXXXXX", FIXTURES);
    if (!mkdtemp(scratch) || run_fixture(path_of(FIXTURES, "prog")) != 0) {
        printf("test_symbolize: cannot run %s/prog or make a scratch directory\n0 passed, 1 failed\n", FIXTURES);
        return 1;
    }
    struct symbolizer *s = symbolizer_new(NULL);
    every_address_matches_addr2line(s);
    forced_inlines_are_frames_innermost_first(s);
    second_lookup_comes_from_the_cache(s);
    symbolizer_free(s);
    char self[4096];
    ssize_t nself = readlink("/proc/self/exe", self, sizeof self - 1);
    self[nself > 0 ? nself : 0] = '\0';
    spread_addresses_match_addr2line("addresses_across_this_test_match_addr2line", self, 300, 1);
    spread_addresses_match_addr2line("addresses_across_libshared_match_addr2line",
                                     path_of(FIXTURES, "libshared.so"), 100, 1);
    Dl_info libc;
    if (dladdr((void *)stdout, &libc) && libc.dli_fname)
        spread_addresses_match_addr2line("addresses_across_libc_match_addr2line", libc.dli_fname, 300, 0);
    for (int i = 1; i < argc; i++)
        spread_addresses_match_addr2line(argv[i], argv[i], 2000, 0);
    /* copies: the later fixtures' runs replace the records */
    const struct record *found = find_record("inner", "main"), *lib_entry = find_record("lib_entry", "lib");
    struct record inner = found ? *found : (struct record){"", "", 0x1000};
    struct record lib = lib_entry ? *lib_entry : inner;
    separate_debug_files_are_found();
    missing_and_mismatched_files_fall_back(&inner, lib_entry ? &lib : NULL);
    debuglink_crc_is_checked_without_build_id();
    without_debug_info_the_symtab_names_the_function();
    sh("rm -rf '%s'", scratch);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
