/* Native stacks (tm_start(N), N > 1, and tm_track_native). The tracker is a shared object here
   (libtm_native.so, as the LD_PRELOAD library has it); the call chains of native_chain*.c
   record their own return addresses, so every frame is checked against the address it must be,
   in order, for frame pointers and for DWARF (glibc's backtrace, or libunwind in the
   test_native_libunwind build). Also: the limit and total_nframe, interning, every wrapper, the
   interposer's entry, auto's choice, snapshots, the dump's MODS and native frames (read back by
   dump_reader.c), threads, and TRACEMALLOC_UNWIND. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include "dump_reader.h"
#include "helpers.h"
#include "native_chain.h"

#define KEEP(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static const int modes[2] = {TM_UNWIND_FP, TM_UNWIND_DWARF};

/* Frames, for a message when a check fails. */
static void print_traceback(const tm_traceback *tb)
{
    int i;
    for (i = 0; tb && i < tb->nframe; i++) {
        Dl_info info;
        const tm_frame *f = &tb->frames[i];
        if (f->filename)
            print_message("  #%d %s:%u %s\n", i, f->filename, f->lineno, f->function ? f->function : "?");
        else if (dladdr((void *)(f->address - 1), &info) && info.dli_sname)
            print_message("  #%d %#lx %s\n", i, (unsigned long)f->address, info.dli_sname);
        else
            print_message("  #%d %#lx\n", i, (unsigned long)f->address);
    }
}

/* 0 when tb is the chain's: frames[0] the allocation's line in file and function, then the
   depth return addresses the chain recorded, most recent first; else the failing frame + 1. */
static int chain_mismatch(const tm_traceback *tb, const char *file, const char *function, int depth)
{
    int i;
    if (!tb || tb->nframe < 1 || !tb->frames[0].filename || strcmp(tb->frames[0].filename, file)
        || tb->frames[0].lineno != chain_line || tb->frames[0].address != 0 || !tb->frames[0].function
        || strcmp(tb->frames[0].function, function))
        return 1;
    for (i = 0; i < depth; i++) {
        const tm_frame *f = &tb->frames[1 + i];
        if (1 + i >= tb->nframe || f->filename || f->lineno || f->function
            || f->address != (uintptr_t)chain_returns[i])
            return 2 + i;
    }
    return 0;
}

static void assert_chain(const tm_traceback *tb, const char *file, const char *function, int depth)
{
    int bad = chain_mismatch(tb, file, function, depth);
    if (bad) {
        int i;
        print_message("frame %d differs; expected %s:%u %s, then", bad - 1, file, chain_line, function);
        for (i = 0; i < depth; i++) print_message(" %p", chain_returns[i]);
        print_message("\n");
        print_traceback(tb);
    }
    assert_int_equal(bad, 0);
}

/* Every test starts from auto, undecided (tm_set_unwind resets auto's choice when it changes). */
static void unwind_afresh(int mode)
{
    assert_int_equal(tm_set_unwind(TM_UNWIND_FP), 0);
    assert_int_equal(tm_set_unwind(TM_UNWIND_AUTO), 0);
    assert_int_equal(tm_set_unwind(mode), 0);
}

static void frames_are_the_chain_in_order(void **state)
{
    int m;
    (void)state;
    for (m = 0; m < 2; m++) {
        void *p;
        const tm_traceback *tb;
        unwind_afresh(modes[m]);
        tm_start(16);
        p = fp_chain(CHAIN_MALLOC);
        tb = tm_get_object_traceback(p);
        assert_chain(tb, chain_fp_file, "fp_c", 3);
        /* then this test's own return address, and the frames of cmocka, main, the C library */
        assert_true(tb->nframe >= 5);
        assert_ptr_equal((void *)tb->frames[4].address, __builtin_return_address(0));
        assert_int_equal(tb->nframe, tb->total_nframe); /* shallower than the limit */
        free(p);
        tm_stop();
    }
}

static void every_wrapper_keeps_the_site_then_its_callers(void **state)
{
    int m, kind;
    (void)state;
    for (m = 0; m < 2; m++) {
        unwind_afresh(modes[m]);
        tm_start(8);
        for (kind = 0; kind < CHAIN_KINDS; kind++) {
            void *p = fp_chain((enum chain_kind)kind);
            assert_non_null(p);
            /* `return malloc(n);` in tail_malloc: one more function on the stack */
            if (kind == CHAIN_TAIL_MALLOC) assert_chain(tm_get_object_traceback(p), chain_fp_file, "tail_malloc", 4);
            else assert_chain(tm_get_object_traceback(p), chain_fp_file, "fp_c", 3);
            free(p);
        }
        tm_stop();
    }
}

static void dwarf_sees_functions_without_frame_pointers(void **state)
{
    void *p;
    (void)state;
    unwind_afresh(TM_UNWIND_DWARF);
    tm_start(16);
    p = nofp_chain();
    assert_chain(tm_get_object_traceback(p), chain_nofp_file, "nofp_c", 3);
    free(p);
}

/* Frame pointers skip nofp_b and nofp_a: what auto must notice. */
static int fp_missed_the_chain(void)
{
    void *p = nofp_chain();
    int missed = chain_mismatch(tm_get_object_traceback(p), chain_nofp_file, "nofp_c", 3) > 1;
    free(p);
    return missed;
}

static void fp_alone_misses_functions_without_frame_pointers(void **state)
{
    (void)state;
    unwind_afresh(TM_UNWIND_FP);
    tm_start(16);
    assert_true(fp_missed_the_chain());
}

/* auto compares the two unwinders and keeps dwarf for good at the first disagreement. */
static void auto_keeps_dwarf_once_frame_pointers_missed_frames(void **state)
{
    void *p;
    int i;
    (void)state;
    unwind_afresh(TM_UNWIND_AUTO);
    tm_start(16);
    p = nofp_chain();
    assert_chain(tm_get_object_traceback(p), chain_nofp_file, "nofp_c", 3);
    free(p);
    for (i = 0; i < 40; i++) {
        p = fp_chain(CHAIN_MALLOC);
        assert_chain(tm_get_object_traceback(p), chain_fp_file, "fp_c", 3);
        free(p);
    }
    assert_false(fp_missed_the_chain());
}

/* In a thread of its own, whose stack ends in start_thread: frame pointers give all but the C
   library's last frame, so auto settles on them after its checks (and then a chain without frame
   pointers shows what fp misses: the sign that auto chose fp). */
static void *agreeing_stacks(void *unused)
{
    int i, wrong = 0;
    (void)unused;
    for (i = 0; i < 40; i++) {
        void *p = fp_chain(CHAIN_MALLOC);
        wrong += chain_mismatch(tm_get_object_traceback(p), chain_fp_file, "fp_c", 3) != 0;
        free(p);
    }
    return (void *)(intptr_t)(wrong ? -1 : fp_missed_the_chain());
}

#if defined(__SANITIZE_THREAD__)
#define TSAN 1 /* threads start in ThreadSanitizer's code, which has no frame pointers */
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif

static void auto_settles_on_fp_where_it_agrees_with_dwarf(void **state)
{
    pthread_t thread;
    void *result;
    (void)state;
#ifdef TSAN
    skip();
#endif
    unwind_afresh(TM_UNWIND_AUTO);
    tm_start(16);
    assert_int_equal(pthread_create(&thread, NULL, agreeing_stacks, NULL), 0);
    assert_int_equal(pthread_join(thread, &result), 0);
    assert_int_equal((intptr_t)result, 1);
}

/* As Python: the limit keeps the most recent frames; total_nframe counts them all. */
static void limit_keeps_the_most_recent_frames_and_total_counts_all(void **state)
{
    int m;
    (void)state;
    for (m = 0; m < 2; m++) {
        const tm_traceback *tb;
        void *p, *q, *r;
        uintptr_t deep[4];
        int total, i;
        unwind_afresh(modes[m]);
        tm_start(64);
        p = fp_recurse(10);
        q = fp_recurse(20);
        tb = tm_get_object_traceback(q);
        assert_int_equal(tb->total_nframe, tm_get_object_traceback(p)->total_nframe + 10);
        assert_int_equal(tb->nframe, tb->total_nframe);
        total = tb->total_nframe;
        for (i = 0; i < 4; i++) deep[i] = tb->frames[i].address;
        free(p);
        free(q);
        tm_stop();
        tm_start(3);
        r = fp_recurse(20);
        tb = tm_get_object_traceback(r);
        assert_int_equal(tb->nframe, 3);
        assert_int_equal(tb->total_nframe, total);
        assert_string_equal(tb->frames[0].filename, chain_fp_file);
        assert_int_equal(tb->frames[0].lineno, chain_line);
        for (i = 1; i < 3; i++) assert_int_equal(tb->frames[i].address, deep[i]);
        free(r);
        tm_stop();
    }
}

/* The unwinders stop counting past 256 frames (the documented cap), deeper stacks included. */
static void total_nframe_stops_at_the_cap(void **state)
{
    int m;
    (void)state;
    for (m = 0; m < 2; m++) {
        void *p;
        const tm_traceback *tb;
        unwind_afresh(modes[m]);
        tm_start(5);
        p = fp_recurse(400);
        tb = tm_get_object_traceback(p);
        assert_int_equal(tb->nframe, 5);
        assert_true(tb->total_nframe >= 256 && tb->total_nframe < 300);
        free(p);
        tm_stop();
    }
}

/* fp_chain called from one place: with a limit of 4, its stack leaves out where one_site was
   called from (a compiler may unroll a loop of calls into several call sites). */
CHAIN_FUNCTION static void *one_site(void)
{
    void *p = fp_chain(CHAIN_MALLOC);
    KEEP(p);
    return p;
}

/* One interned traceback per stack: the same stack gives the same traceback, another stack
   another one, and a clear forgets them all. */
static void same_stack_same_traceback(void **state)
{
    const tm_traceback *first = NULL, *other;
    void *blocks[3], *p;
    int i;
    (void)state;
    unwind_afresh(TM_UNWIND_FP);
    tm_start(4);
    for (i = 0; i < 3; i++) {
        blocks[i] = one_site();
        if (i == 0) first = tm_get_object_traceback(blocks[0]);
        assert_ptr_equal(tm_get_object_traceback(blocks[i]), first);
    }
    assert_int_equal(first->nframe, 4);
    p = fp_chain(CHAIN_MALLOC); /* from here, not from one_site */
    other = tm_get_object_traceback(p);
    assert_non_null(other);
    assert_ptr_not_equal(other, first);
    assert_chain(other, chain_fp_file, "fp_c", 3);
    assert_ptr_equal((void *)other->frames[3].address, chain_returns[2]);
    for (i = 0; i < 3; i++) free(blocks[i]);
    free(p);
    tm_clear_traces();
    p = fp_chain(CHAIN_MALLOC);
    assert_chain(tm_get_object_traceback(p), chain_fp_file, "fp_c", 3);
    free(p);
}

/* More stacks than the thread's cache holds, twice: every one finds its own traceback again.
   Within the limit they all hold the same frames (fp_recurse's); they differ in total_nframe. */
static void many_stacks_through_the_thread_cache(void **state)
{
    enum { STACKS = 300, LIMIT = 8 };
    static void *blocks[STACKS];
    static const tm_traceback *tracebacks[STACKS];
    int m, i, f;
    (void)state;
    for (m = 0; m < 2; m++) {
        unwind_afresh(modes[m]);
        tm_start(LIMIT);
        for (i = 0; i < STACKS; i++) {
            blocks[i] = fp_recurse(LIMIT + i % 150);
            tracebacks[i] = tm_get_object_traceback(blocks[i]);
            assert_non_null(tracebacks[i]);
            assert_int_equal(tracebacks[i]->nframe, LIMIT);
            assert_int_equal(tracebacks[i]->frames[0].lineno, chain_line);
            for (f = 2; f < LIMIT; f++)
                assert_int_equal(tracebacks[i]->frames[f].address, tracebacks[i]->frames[1].address);
            if (i >= 150) assert_ptr_equal(tracebacks[i], tracebacks[i - 150]);
            else if (i) assert_int_equal(tracebacks[i]->total_nframe, tracebacks[i - 1]->total_nframe + 1);
        }
        for (i = 0; i < STACKS; i++) free(blocks[i]);
        tm_stop();
    }
}

/* tm_track_native: frames start at the first return address outside the tracker's object. */
static void interposer_frames_start_outside_the_tracker(void **state)
{
    static char pool[64];
    int m, limit;
    (void)state;
    assert_int_equal(tm_track_native(5, pool, 64), -2); /* not tracing */
    for (m = 0; m < 2; m++)
        for (limit = 1; limit <= 8; limit += 7) {
            tm_snapshot *snapshot;
            const tm_trace *trace;
            const tm_frame *f;
            Dl_info info;
            unwind_afresh(modes[m]);
            tm_start(limit);
            assert_int_equal(track_here(5, pool, 64), 0);
            snapshot = tm_take_snapshot();
            trace = find_trace(snapshot, 5, pool);
            assert_non_null(trace);
            assert_int_equal(trace->size, 64);
            assert_true(limit == 1 ? trace->traceback->nframe == 1 : trace->traceback->nframe >= 3);
            f = &trace->traceback->frames[0];
            if (!dladdr((void *)(f->address - 1), &info) || !info.dli_sname || strcmp(info.dli_sname, "track_here")) {
                print_message("unwind %d, limit %d: frames[0] is not in track_here\n", modes[m], limit);
                print_traceback(trace->traceback);
            }
            assert_null(f->filename);
            assert_true(dladdr((void *)(f->address - 1), &info) && info.dli_sname);
            assert_string_equal(info.dli_sname, "track_here");
            if (limit > 1) {
                assert_ptr_equal((void *)trace->traceback->frames[1].address, chain_returns[0]);
                assert_ptr_equal((void *)trace->traceback->frames[2].address, __builtin_return_address(0));
            }
            tm_snapshot_free(snapshot);
            assert_int_equal(tm_untrack(5, pool), 0);
            tm_stop();
        }
}

static void call_site_mode_records_no_native_frame(void **state)
{
    void *p;
    const tm_traceback *tb;
    (void)state;
    unwind_afresh(TM_UNWIND_AUTO);
    tm_start(1);
    p = fp_chain(CHAIN_MALLOC);
    tb = tm_get_object_traceback(p);
    assert_int_equal(tb->nframe, 1);
    assert_int_equal(tb->total_nframe, 1);
    assert_int_equal(tb->frames[0].address, 0);
    assert_string_equal(tb->frames[0].filename, chain_fp_file);
    free(p);
}

static void set_unwind_refuses_unknown_modes(void **state)
{
    (void)state;
    assert_int_equal(tm_set_unwind(3), -1);
    assert_int_equal(tm_set_unwind(-1), -1);
    assert_int_equal(tm_set_unwind(TM_UNWIND_AUTO), 0);
}

/* The build-id of /proc/self/exe, read from the file's program headers (not from memory, as the
   tracker does). Returns its length. */
static size_t file_build_id(unsigned char *out)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    Elf64_Ehdr eh;
    size_t found = 0;
    int i;
    if (fd < 0 || pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh) return 0;
    for (i = 0; i < eh.e_phnum && !found; i++) {
        Elf64_Phdr ph;
        unsigned char note[1024];
        size_t at = 0, size;
        if (pread(fd, &ph, sizeof ph, (off_t)(eh.e_phoff + (size_t)i * eh.e_phentsize)) != (ssize_t)sizeof ph
            || ph.p_type != PT_NOTE)
            continue;
        size = ph.p_filesz < sizeof note ? ph.p_filesz : sizeof note;
        if (pread(fd, note, size, (off_t)ph.p_offset) != (ssize_t)size) continue;
        while (at + sizeof(Elf64_Nhdr) <= size) {
            Elf64_Nhdr nh;
            size_t align = ph.p_align == 8 ? 8 : 4, name, desc;
            memcpy(&nh, note + at, sizeof nh);
            name = (nh.n_namesz + align - 1) / align * align;
            desc = (nh.n_descsz + align - 1) / align * align;
            if (at + sizeof nh + name + desc > size) break;
            if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && !memcmp(note + at + sizeof nh, "GNU", 4)) {
                memcpy(out, note + at + sizeof nh + name, nh.n_descsz);
                found = nh.n_descsz;
                break;
            }
            at += sizeof nh + name + desc;
        }
    }
    close(fd);
    return found;
}

static void dump_holds_modules_and_native_frames(void **state)
{
    static char pool[16];
    const tm_frame frames[2] = {{NULL, 0, NULL, 0x10}, {"vm.c", 3, "op", 0}}; /* 0x10: no module */
    char *dir = make_scratch_dir("native"), path[PATH_MAX], exe[PATH_MAX], err[256], buf[256];
    unsigned char build_id[64];
    size_t build_id_length = file_build_id(build_id);
    const tm_trace *trace;
    tm_snapshot *snapshot;
    void *p;
    dump d;
    uint32_t i, self = TM_DUMP_NONE, unmapped = 0, in_self = 0;
    (void)state;
    assert_true(realpath("/proc/self/exe", exe) != NULL);
    unwind_afresh(TM_UNWIND_FP);
    tm_start(16);
    p = fp_chain(CHAIN_MALLOC);
    assert_int_equal(tm_track_frames(9, pool, 16, frames, 2), 0);
    snapshot = tm_take_snapshot();
    /* the snapshot's frames: native ones with their address and no strings */
    trace = find_trace(snapshot, TM_DOMAIN_MALLOC, p);
    assert_chain(trace->traceback, chain_fp_file, "fp_c", 3);
    trace = find_trace(snapshot, 9, pool);
    assert_int_equal(trace->traceback->nframe, 2);
    assert_null(trace->traceback->frames[0].filename);
    assert_int_equal(trace->traceback->frames[0].address, 0x10);
    assert_string_equal(trace->traceback->frames[1].filename, "vm.c");
    snprintf(path, sizeof path, "%s/native.tmd", dir);
    assert_int_equal(tm_snapshot_dump(snapshot, path), 0);
    if (dump_read(path, &d, err, sizeof err)) fail_msg("%s", err);
    assert_null(dump_diff_snapshot(&d, snapshot, buf, sizeof buf)); /* bias + offset = address */
    assert_true(d.nmodules >= 3); /* this program, libtm_native.so, the C library */
    for (i = 0; i < d.nmodules; i++)
        if (!strcmp(dump_string(&d, d.modules[i].path), exe)) self = i;
    assert_int_not_equal(self, TM_DUMP_NONE);
    assert_true(build_id_length > 0);
    assert_int_equal(d.modules[self].build_id_length, build_id_length);
    assert_memory_equal(d.modules[self].build_id, build_id, build_id_length);
    for (i = 0; i < d.nframes; i++) {
        const dump_frame *f = &d.frames[i];
        if (f->kind != TM_DUMP_FRAME_NATIVE) continue;
        if (f->module == TM_DUMP_NONE) {
            unmapped += f->offset == 0x10;
        } else { /* the call before the return address lies in one of the module's ranges */
            const dump_module *module = &d.modules[f->module];
            uint64_t address = module->bias + f->offset;
            uint32_t r, inside = 0;
            for (r = 0; r < module->nrange; r++)
                inside |= address - 1 >= module->ranges[r].start && address - 1 < module->ranges[r].end;
            assert_true(inside);
            in_self += f->module == self;
        }
    }
    assert_int_equal(unmapped, 1);
    assert_true(in_self >= 3); /* fp_b, fp_chain, this test */
    dump_free(&d);
    tm_snapshot_free(snapshot);
    free(p);
    tm_untrack(9, pool);
    remove_tree(dir);
    free(dir);
}

/* dump_reader.c reads version 1 too: a version-2 dump of source frames without its (empty)
   MODS section, its version and CRC-32 rewritten, reads back the same. */
static void dump_reader_reads_version_1(void **state)
{
    char *dir = make_scratch_dir("native"), path[PATH_MAX], err[256], buf[256];
    unsigned char *bytes;
    size_t size, at = TM_DUMP_HEADER_SIZE;
    tm_snapshot *snapshot;
    FILE *f;
    void *p;
    dump d;
    int section;
    (void)state;
    tm_start(1);
    p = fp_chain(CHAIN_MALLOC);
    snapshot = tm_take_snapshot();
    snprintf(path, sizeof path, "%s/v1.tmd", dir);
    assert_int_equal(tm_snapshot_dump(snapshot, path), 0);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size = (size_t)ftell(f);
    rewind(f);
    bytes = malloc(size);
    assert_int_equal(fread(bytes, 1, size, f), size);
    fclose(f);
    for (section = 0; section < 2; section++) { /* past STRS and META */
        uint64_t length;
        memcpy(&length, bytes + at + 8, 8);
        at += TM_DUMP_SECTION_SIZE + (size_t)length;
    }
    assert_memory_equal(bytes + at, "MODS", 4);
    assert_memory_equal(bytes + at + 8, "\4\0\0\0\0\0\0\0\0\0\0\0", 12); /* 4 bytes: count 0 */
    memmove(bytes + at, bytes + at + 20, size - at - 20);
    size -= 20;
    bytes[8] = 1;
    {
        uint32_t crc = (uint32_t)crc32(0L, bytes, (unsigned)(size - 4));
        memcpy(bytes + size - 4, &crc, 4); /* little-endian, as this machine */
    }
    f = fopen(path, "wb");
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    fclose(f);
    if (dump_read(path, &d, err, sizeof err)) fail_msg("%s", err);
    assert_int_equal(d.version, 1);
    assert_int_equal(d.nmodules, 0);
    assert_null(dump_diff_snapshot(&d, snapshot, buf, sizeof buf));
    dump_free(&d);
    bytes[8] = 3; /* a version this reader does not know */
    f = fopen(path, "wb");
    assert_int_equal(fwrite(bytes, 1, size, f), size);
    fclose(f);
    assert_int_equal(dump_read(path, &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "format version 3, this reader knows 1 and 2"));
    free(bytes);
    tm_snapshot_free(snapshot);
    free(p);
    remove_tree(dir);
    free(dir);
}

/* Threads allocate through the chain at once (each with its own cache), while another clears
   now and then: every trace found has the right traceback. A snapshot copies it: a clear may free
   what tm_get_object_traceback returns. */
enum { THREADS = 4, ROUNDS = 300 };
static int stop_clearing;

static void *allocating_thread(void *unused)
{
    int i, wrong = 0;
    (void)unused;
    for (i = 0; i < ROUNDS; i++) {
        enum chain_kind kind = (enum chain_kind)(i % CHAIN_KINDS);
        void *p = fp_chain(kind);
        tm_snapshot *snapshot = tm_take_snapshot();
        const tm_trace *trace = find_trace(snapshot, TM_DOMAIN_MALLOC, p); /* none after a clear */
        if (trace) wrong += chain_mismatch(trace->traceback, chain_fp_file,
                                           kind == CHAIN_TAIL_MALLOC ? "tail_malloc" : "fp_c",
                                           kind == CHAIN_TAIL_MALLOC ? 4 : 3) != 0;
        tm_snapshot_free(snapshot);
        free(p);
    }
    return (void *)(intptr_t)wrong;
}

static void *clearing_thread(void *unused)
{
    (void)unused;
    while (!__atomic_load_n(&stop_clearing, __ATOMIC_ACQUIRE)) {
        tm_clear_traces();
        usleep(1000);
    }
    return NULL;
}

static void threads_unwind_their_own_stacks(void **state)
{
    int m, i;
    (void)state;
    for (m = 0; m < 3; m++) {
        pthread_t threads[THREADS], clearer;
        unwind_afresh(m); /* auto, fp, dwarf */
        tm_start(16);
        stop_clearing = 0;
        assert_int_equal(pthread_create(&clearer, NULL, clearing_thread, NULL), 0);
        for (i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&threads[i], NULL, allocating_thread, NULL), 0);
        for (i = 0; i < THREADS; i++) {
            void *wrong;
            assert_int_equal(pthread_join(threads[i], &wrong), 0);
            assert_int_equal((intptr_t)wrong, 0);
        }
        __atomic_store_n(&stop_clearing, 1, __ATOMIC_RELEASE);
        assert_int_equal(pthread_join(clearer, NULL), 0);
        tm_stop();
    }
}

/* TRACEMALLOC_UNWIND, read at start-up: a child of this program (see main) reports whether frame
   pointers missed nofp_chain's frames. */
static int run_child(const char *argv0, const char *unwind, char *err, size_t size)
{
    int pipe_fd[2], status;
    ssize_t n;
    pid_t pid;
    if (pipe(pipe_fd)) return -1;
    pid = fork();
    if (pid == 0) {
        dup2(pipe_fd[1], 2);
        setenv("TRACEMALLOC", "16", 1);
        setenv("TRACEMALLOC_UNWIND", unwind, 1);
        execl(argv0, argv0, "--unwind-child", (char *)NULL);
        _exit(127);
    }
    close(pipe_fd[1]);
    n = read(pipe_fd[0], err, size - 1);
    err[n > 0 ? n : 0] = 0;
    close(pipe_fd[0]);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *self_path;

static void environment_chooses_the_unwinder(void **state)
{
    char err[512];
    (void)state;
    assert_int_equal(run_child(self_path, "fp", err, sizeof err), 1);   /* fp missed frames */
    assert_string_equal(err, "");
    assert_int_equal(run_child(self_path, "dwarf", err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_int_equal(run_child(self_path, "sideways", err, sizeof err), 0); /* ignored: auto */
    assert_non_null(strstr(err, "TRACEMALLOC_UNWIND=sideways: expected auto, fp or dwarf"));
}

#ifdef TM_TEST_LIBDW
/* The cached CFI walker (TRACEMALLOC_LIBDW; the tracker is built with TRACEMALLOC_LIBDW_CHECK,
   which walks every stack with libunwind too and counts the differences; not under TSan). */
#ifndef TM_TEST_LIBDW_UNCHECKED
extern unsigned long tm__cfi_checked, tm__cfi_mismatched, tm__cfi_fallbacks;
#endif

/* The object holding address, as dladdr names it ("" when none). */
static const char *object_of(uintptr_t address)
{
    Dl_info info;
    return dladdr((void *)(address - 1), &info) && info.dli_fname ? info.dli_fname : "";
}

static void *sorted_blocks[8];
static int sorted_count;

/* qsort's callback allocates: the walk goes through the C library's qsort (no frame pointers). */
static int compare_allocating(const void *a, const void *b)
{
    if (sorted_count < 8) sorted_blocks[sorted_count++] = fp_chain(CHAIN_MALLOC);
    return *(const int *)a - *(const int *)b;
}

static void cfi_walks_through_the_c_library(void **state)
{
    int numbers[16], i;
    (void)state;
    for (i = 0; i < 16; i++) numbers[i] = (i * 7) % 16;
    unwind_afresh(TM_UNWIND_DWARF);
    tm_start(16);
    sorted_count = 0;
    qsort(numbers, 16, sizeof numbers[0], compare_allocating);
    assert_true(sorted_count > 0);
    for (i = 0; i < sorted_count; i++) {
        const tm_traceback *tb = tm_get_object_traceback(sorted_blocks[i]);
        assert_chain(tb, chain_fp_file, "fp_c", 3);
        /* fp_a's caller is compare_allocating, called from the C library */
        assert_true(tb->nframe > 5);
        /* the C library's qsort, or a sanitizer's that intercepts it */
        assert_non_null(strstr(object_of(tb->frames[4].address), ".so"));
        free(sorted_blocks[i]);
    }
}

static void *chain_from_plugin(void)
{
    void *p = fp_chain(CHAIN_MALLOC);
    KEEP(p);
    return p;
}

/* A library dlopen'ed after the walker's first report (its rules come from a new report). */
static void cfi_walks_through_a_dlopened_library(void **state)
{
    char path[PATH_MAX];
    const char *slash = strrchr(self_path, '/');
    void *plugin, *p;
    void *(*call)(void *(*)(void));
    const tm_traceback *tb;
    (void)state;
    snprintf(path, sizeof path, "%.*slibnative_plugin.so", slash ? (int)(slash - self_path + 1) : 0, self_path);
    unwind_afresh(TM_UNWIND_DWARF);
    tm_start(16);
    free(fp_chain(CHAIN_MALLOC)); /* the walker has reported the modules before the dlopen */
    plugin = dlopen(path, RTLD_NOW);
    if (!plugin) print_message("dlopen %s: %s\n", path, dlerror());
    assert_non_null(plugin);
    *(void **)&call = dlsym(plugin, "plugin_call");
    assert_non_null(call);
    p = call(chain_from_plugin);
    tb = tm_get_object_traceback(p);
    assert_chain(tb, chain_fp_file, "fp_c", 3);
    assert_true(tb->nframe > 5);
    assert_non_null(strstr(object_of(tb->frames[4].address), "libnative_plugin.so")); /* into plugin_call */
    free(p);
    tm_stop();
    assert_int_equal(dlclose(plugin), 0);
}

/* Last: every stack the cached walker gave (all the tests above) was libunwind's. */
static void cfi_stacks_equal_libunwinds(void **state)
{
    (void)state;
#ifdef TM_TEST_LIBDW_UNCHECKED
    skip();
#else
    print_message("cached CFI walks compared with libunwind: %lu, different: %lu, left to libunwind: %lu\n",
                  tm__cfi_checked, tm__cfi_mismatched, tm__cfi_fallbacks);
    assert_true(tm__cfi_checked > 100);
    assert_int_equal(tm__cfi_mismatched, 0);
#endif
}
#endif

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        TEST(frames_are_the_chain_in_order),
        TEST(every_wrapper_keeps_the_site_then_its_callers),
        TEST(dwarf_sees_functions_without_frame_pointers),
        TEST(fp_alone_misses_functions_without_frame_pointers),
        TEST(auto_keeps_dwarf_once_frame_pointers_missed_frames),
        TEST(auto_settles_on_fp_where_it_agrees_with_dwarf),
        TEST(limit_keeps_the_most_recent_frames_and_total_counts_all),
        TEST(total_nframe_stops_at_the_cap),
        TEST(same_stack_same_traceback),
        TEST(many_stacks_through_the_thread_cache),
        TEST(interposer_frames_start_outside_the_tracker),
        TEST(call_site_mode_records_no_native_frame),
        TEST(set_unwind_refuses_unknown_modes),
        TEST(dump_holds_modules_and_native_frames),
        TEST(dump_reader_reads_version_1),
        TEST(threads_unwind_their_own_stacks),
        TEST(environment_chooses_the_unwinder),
#ifdef TM_TEST_LIBDW
        TEST(cfi_walks_through_the_c_library),
        TEST(cfi_walks_through_a_dlopened_library),
        TEST(cfi_stacks_equal_libunwinds),
#endif
    };
    if (argc == 2 && !strcmp(argv[1], "--unwind-child")) /* traced from start-up, by the environment */
        return tm_is_tracing() ? fp_missed_the_chain() : 2;
    self_path = argv[0];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
