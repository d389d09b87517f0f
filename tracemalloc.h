/* tracemalloc.h - v0.2.0 - Python's tracemalloc for C - public domain or MIT (see end of file)

   Records every allocation with the line that made it, so a C program can ask what Python's
   tracemalloc answers: which lines hold how much memory, what is still live, what the peak was.
   Snapshots are written as dumps that the `tracemalloc` command analyzes (statistics, filters,
   comparisons, leak gates, SQL).

QUICK START
   Do this in *one* C file of the program:

      #define TRACEMALLOC_IMPLEMENTATION
      #include "tracemalloc.h"

   and in every file whose allocations should be traced (that one included):

      #define TRACEMALLOC_OVERRIDE     // malloc, free, ... now record __FILE__:__LINE__
      #include "tracemalloc.h"

      int main(void) {
          tm_start(1);                           // traceback limit: 1 frame, the call site
          char *p = malloc(100);
          size_t current, peak;
          tm_get_traced_memory(&current, &peak); // 100, 100
          tm_snapshot *snapshot = tm_take_snapshot();
          tm_snapshot_dump(snapshot, "run.tmd"); // then: tracemalloc stats run.tmd
          tm_snapshot_free(snapshot);
          free(p);
          tm_stop();
      }

   Link with -lpthread. The implementation needs stb_ds.h (Debian: libstb-dev,
   `pkg-config --cflags stb`); nothing is linked for it.

CONFIGURATION (define before the include that has TRACEMALLOC_IMPLEMENTATION)
   TM_RAW_REALLOC(p, n) / TM_RAW_FREE(p)
                        the allocator the tracker uses for itself (default: the C library's
                        realloc and free). Define both or neither.
   TM_ASSERT(x)         default: assert(x)
   TRACEMALLOC_STATIC   make every tm_ function static to the implementation's file
   TRACEMALLOC_OVERRIDE (before any include of this file) redirect malloc, calloc, realloc, free,
                        strdup, strndup, reallocarray, aligned_alloc, posix_memalign, memalign,
                        valloc and pvalloc in that file to the tracing wrappers below.
   TRACEMALLOC_LIBUNWIND
                        native stacks' DWARF unwinder is libunwind (link -lunwind; Debian:
                        libunwind-dev, `pkg-config --cflags --libs libunwind`) instead of the C
                        library's backtrace: ~10x faster than it (see NATIVE STACKS).
   TRACEMALLOC_LIBDW    (x86-64) the DWARF unwinder applies call frame information read once per
                        return address with elfutils' libdw and cached, near fp's speed; stacks it
                        cannot walk exactly go to the unwinder above (link -ldw; Debian:
                        libdw-dev, `pkg-config --libs libdw`). The LD_PRELOAD library has both.

API (Python's names; 0 means success unless said otherwise)
   int    tm_start(int nframe)              start tracing; nframe 1..65535, else -1
   void   tm_stop(void)                     stop tracing and clear every trace
   int    tm_is_tracing(void)
   void   tm_clear_traces(void)
   void   tm_get_traced_memory(size_t *current, size_t *peak)
   void   tm_reset_peak(void)               peak := current
   size_t tm_get_tracemalloc_memory(void)   bytes the tracker holds for itself
   void   tm_get_untraced_memory(size_t *count, size_t *size)   blocks it failed to record
   int    tm_get_traceback_limit(void)
   const tm_traceback *tm_get_object_traceback(const void *ptr)  NULL if not traced
   void   tm_set_timeline(int on)           the timeline, peak contents and totals (default on)

   tm_snapshot *tm_take_snapshot(void)      NULL when not tracing or out of memory
   size_t tm_snapshot_traces(const tm_snapshot *, const tm_trace **traces)
   int    tm_snapshot_set_label(tm_snapshot *, const char *label)
   int    tm_snapshot_dump(const tm_snapshot *, const char *path)   atomic; %p pid, %n counter
   void   tm_snapshot_free(tm_snapshot *)

   int    tm_track(unsigned domain, const void *ptr, size_t size)   (a macro: frame = call site)
   int    tm_untrack(unsigned domain, const void *ptr)
   int    tm_track_frames(unsigned domain, const void *ptr, size_t size,
                          const tm_frame *frames, int nframe)        frames most recent first
   int    tm_track_native(unsigned domain, const void *ptr, size_t size)   for interposers:
                                            the native stack from the first caller outside the
                                            object (executable or library) holding the tracker
   int    tm_set_unwind(int mode)           TM_UNWIND_AUTO (default), TM_UNWIND_FP, TM_UNWIND_DWARF

   void  *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func)
          ... and tm_calloc_at, tm_realloc_at, tm_strdup_at, tm_strndup_at, tm_reallocarray_at,
          tm_aligned_alloc_at, tm_posix_memalign_at, tm_memalign_at, tm_valloc_at,
          tm_pvalloc_at, each with the same three trailing arguments; and tm_free(ptr).

ENVIRONMENT
   TRACEMALLOC=N        start tracing with traceback limit N when the program starts
   TRACEMALLOC_DUMP=path
                        write a snapshot to path at exit (%p: pid, %n: a counter that names
                        no existing file, %%: a percent sign)
   TRACEMALLOC_TIMELINE=0
                        no timeline, peak contents or allocation totals (as tm_set_timeline(0))
   TRACEMALLOC_UNWIND=auto|fp|dwarf
                        how native stacks are unwound (as tm_set_unwind), read before TRACEMALLOC

NATIVE STACKS (tm_start(N), N > 1)
   Every traced allocation records up to N frames of its native call stack, most recent first:
   frames[0] stays the exact __FILE__:__LINE__ of the call (a source frame, address 0), then the
   return addresses into the callers of the function that holds it (native frames: filename
   NULL, lineno 0, function NULL, address set). The dump stores them with the objects mapped at
   the time (MODS: path, build-id, load bias, ranges) and `tracemalloc` symbolizes them offline.
   total_nframe is the depth the unwinder found, counting at most max(N, 256) frames: a deeper
   stack (deep recursion) reports about that. A stack seen before costs an unwind, a hash and
   a compare in a per-thread cache, and no lock. tm_start(1) unwinds nothing and needs nothing
   beyond the C library and pthreads.
   Unwinders (tm_set_unwind, TRACEMALLOC_UNWIND):
   fp     walks the chain of frame pointers. Needs every function on the stack, the file with
          the implementation included, built with -fno-omit-frame-pointer (x86-64 compilers omit
          them by default, and Debian's packages are built so); a function without one is
          skipped with its caller, or ends the stack. The walk stays inside the thread's stack,
          aligned and upwards: it never faults.
   dwarf  unwinds from the call frame information every binary has (.eh_frame): right without
          frame pointers. libunwind with TRACEMALLOC_LIBUNWIND (its per-thread cache on), else
          the C library's backtrace: no dependency, but it searches the objects on every frame.
          With TRACEMALLOC_LIBDW (x86-64) the tracker walks itself: each return address's rule
          (CFA = rsp or rbp + offset, return address and rbp saved at CFA + offset: what
          compilers emit for ordinary functions) is read once from the object's .eh_frame with
          libdw (dwfl on the own process, reported again when an address is in no object, as
          after dlopen; after a dlclose every rule is forgotten) and kept in a table of 64K
          entries read without a lock. Exact, not a guess: a frame with any other rule
          (expressions, signal frames, code without CFI) sends the whole stack to libunwind, and
          the tests compare every stack with libunwind's. Each walk is recorded step by step
          (registers, and the stack words read): from the first frame whose registers a frame
          of the last walk had, while every word that walk read still holds, the rest of the
          stack is that walk's (the same computation on the same inputs), checked at a compare
          a frame instead of a chain of dependent loads (~6 ns a frame: the rule's lookup waits
          for the return address, the next read for the rule).
   auto   (default) unwinds the first 16 stacks both ways and keeps fp when it found the same
          frames as dwarf on each (it may stop up to 3 frames early, in the C library that
          started the thread), else dwarf for good; settled on fp, it compares again one stack in
          1024 and falls back to dwarf at the first difference. So a program built with frame
          pointers gets their speed, and one built without them (or calling back from a library
          built without) gets right stacks.
   Measured on a malloc/free churn (-O2, limit 32), per pair, raw ~14 ns: fp 45 ns at depth 0
   and 93 ns 30 frames deeper (~1.5 ns a frame); libunwind 108 and 395 ns (~10 ns a frame);
   backtrace 1.3 and 5 us; the cached rules (TRACEMALLOC_LIBDW) 65 and 116 ns, 1.2-1.5x fp
   (`make bench-native`, the LD_PRELOAD library: dwarf/fp 1.47x at depth 0, 1.34x at depth 30,
   was 1.9x and 2.9x with libunwind), ~320 ns at depth 30 when no frame of the last walk is
   found again. Frame pointers are what make native stacks cheap: build with
   -fno-omit-frame-pointer (and, for exact callers, -fno-optimize-sibling-calls: a function that
   ends in a call leaves no frame of its own; the malloc macros keep their own calls from that).
   tm_track_native is the interposer's entry (the LD_PRELOAD library calls it from its malloc):
   its frames start at the first return address outside the object that holds the tracker,
   which must then be built with frame pointers too for fp.

MEMORY OVER TIME (on by default; every dump holds it as TIME, PEAK and ALOC, docs/FORMAT.md)
   timeline      samples of (time, traced bytes, RSS): every 10 ms while the program allocates
                 (checked every 256th allocation of a thread), whenever an allocation finds the
                 traced memory moved by more than 1% of the peak since the last sample (a fall
                 made by frees alone shows at the next allocation), and one when a snapshot is
                 taken; 4096 at most (then neighbours merge, keeping the higher one); times have
                 the kernel tick's resolution (CLOCK_MONOTONIC_COARSE, 1-4 ms)
   peak contents per traceback, the blocks live at the peak and their bytes, to within 1% of
                 the peak (massif's rule); tm_reset_peak and tm_clear_traces start them afresh
   totals        per traceback, the blocks allocated since start (or tm_clear_traces), freed or
                 not, their bytes, and the temporaries: blocks freed before the same thread's
                 next traced allocation (heaptrack's rule)
   They cost a 64-byte tally per traceback and ~2.5 ns a malloc/free pair (make bench); off,
   nothing measurable. tm_set_timeline(1) after tm_set_timeline(0) starts the totals and the
   peak's contents afresh, counting the blocks live then as allocated.

REVISION HISTORY
   0.2.0  (2026-11-25) native call stacks (fp, cached CFI, libunwind, backtrace), tm_track_native
                       for the preload library, timeline, peak contents, allocation totals;
                       dump format 2
   0.1.0  (2026-11-25) first release: call-site tracing, domains, snapshots, dump format 1
*/
#ifndef TRACEMALLOC_H_INCLUDED
#define TRACEMALLOC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_VERSION_MAJOR 0
#define TM_VERSION_MINOR 2
#define TM_VERSION_PATCH 0

#ifdef TRACEMALLOC_STATIC
#define TMDEF static __attribute__((unused))
#else
#define TMDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One frame of a traceback. A source frame has filename and lineno (strings the tracker owns)
   and address 0; a native frame (tm_start(N), N > 1) has filename NULL, lineno 0, function NULL
   and address, the return address into the caller, which the analyzer symbolizes. */
typedef struct tm_frame {
    const char *filename;
    unsigned lineno;
    const char *function; /* NULL when unknown */
    uintptr_t address;
} tm_frame;

/* frames[0] is the most recent frame: the allocation site. nframe <= the traceback limit;
   total_nframe is the depth before the limit cut it, as Python's Traceback.total_nframe. */
typedef struct tm_traceback {
    int nframe;
    int total_nframe;
    const tm_frame *frames;
} tm_traceback;

/* One traced block, as a snapshot holds it. */
typedef struct tm_trace {
    unsigned domain;
    size_t size;
    uintptr_t address;
    const tm_traceback *traceback;
} tm_trace;

typedef struct tm_snapshot tm_snapshot;

/* The domain of the malloc family, as Python's domain 0. */
#define TM_DOMAIN_MALLOC 0u
#define TM_MAX_NFRAME 65535

TMDEF int tm_start(int nframe);
TMDEF void tm_stop(void);
TMDEF int tm_is_tracing(void);
TMDEF void tm_clear_traces(void);
TMDEF void tm_get_traced_memory(size_t *current, size_t *peak);
TMDEF void tm_reset_peak(void);
TMDEF size_t tm_get_tracemalloc_memory(void);
TMDEF void tm_get_untraced_memory(size_t *count, size_t *size);
TMDEF int tm_get_traceback_limit(void);
/* On by default: the timeline, the peak's contents and the allocation totals, in every dump. */
TMDEF void tm_set_timeline(int on);
/* Valid until the trace is cleared (tm_clear_traces, tm_stop). */
TMDEF const tm_traceback *tm_get_object_traceback(const void *ptr);

TMDEF tm_snapshot *tm_take_snapshot(void);
/* Sets *traces to the snapshot's traces (owned by the snapshot) and returns their number. */
TMDEF size_t tm_snapshot_traces(const tm_snapshot *snapshot, const tm_trace **traces);
TMDEF int tm_snapshot_traceback_limit(const tm_snapshot *snapshot);
TMDEF int tm_snapshot_set_label(tm_snapshot *snapshot, const char *label);
TMDEF int tm_snapshot_dump(const tm_snapshot *snapshot, const char *path);
TMDEF void tm_snapshot_free(tm_snapshot *snapshot);

TMDEF int tm_track_at(unsigned domain, const void *ptr, size_t size,
                      const char *file, unsigned line, const char *func);
TMDEF int tm_untrack(unsigned domain, const void *ptr);
TMDEF int tm_track_frames(unsigned domain, const void *ptr, size_t size,
                          const tm_frame *frames, int nframe);
/* For interposers (an LD_PRELOAD library): traces with the native stack, frames[0] being the first
   return address outside the object that holds the tracker. Returns as tm_track_at. */
TMDEF int tm_track_native(unsigned domain, const void *ptr, size_t size);

/* How native stacks are unwound (tm_start(N), N > 1; env TRACEMALLOC_UNWIND=auto|fp|dwarf). */
#define TM_UNWIND_AUTO 0  /* fp once it has given what dwarf gives on the first stacks, else dwarf */
#define TM_UNWIND_FP 1    /* frame pointers: fast; needs -fno-omit-frame-pointer everywhere */
#define TM_UNWIND_DWARF 2 /* call frame information: libunwind (TRACEMALLOC_LIBUNWIND) or backtrace */
TMDEF int tm_set_unwind(int mode); /* 0, or -1 for an unknown mode */
#define tm_track(domain, ptr, size) tm__keep_int(tm_track_at((domain), (ptr), (size), __FILE__, __LINE__, __func__))

/* The macros pass the wrappers' results through these: a call whose result is used after it is
   no tail call, so the wrapper returns into the function that holds the call site, and a native
   stack (tm_start(N), N > 1) keeps that function's caller. They cost no instruction. */
static __inline__ void *tm__keep(void *p)
{
    __asm__("" : "+r"(p));
    return p;
}
static __inline__ char *tm__keep_string(char *s)
{
    __asm__("" : "+r"(s));
    return s;
}
static __inline__ int tm__keep_int(int v)
{
    __asm__("" : "+r"(v));
    return v;
}

TMDEF void *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_calloc_at(size_t count, size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_realloc_at(void *ptr, size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_reallocarray_at(void *ptr, size_t count, size_t size,
                               const char *file, unsigned line, const char *func);
TMDEF char *tm_strdup_at(const char *s, const char *file, unsigned line, const char *func);
TMDEF char *tm_strndup_at(const char *s, size_t n, const char *file, unsigned line, const char *func);
TMDEF void *tm_aligned_alloc_at(size_t alignment, size_t size,
                                const char *file, unsigned line, const char *func);
TMDEF int tm_posix_memalign_at(void **out, size_t alignment, size_t size,
                               const char *file, unsigned line, const char *func);
TMDEF void *tm_memalign_at(size_t alignment, size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_valloc_at(size_t size, const char *file, unsigned line, const char *func);
TMDEF void *tm_pvalloc_at(size_t size, const char *file, unsigned line, const char *func);
TMDEF void tm_free(void *ptr);

/* ---- The dump format (docs/FORMAT.md), shared by the writer and the analyzer. ---- */
#define TM_DUMP_MAGIC "\x89TMD\r\n\x1a\n"
#define TM_DUMP_MAGIC_SIZE 8
#define TM_DUMP_VERSION 2u
#define TM_DUMP_HEADER_SIZE 16u  /* magic, u32 version, u32 flags */
#define TM_DUMP_SECTION_SIZE 16u /* u32 tag, u32 flags, u64 length */
#define TM_DUMP_END_SIZE 20u     /* the end section: its header and a u32 CRC-32 */
#define TM_DUMP_META_SIZE 64u
#define TM_DUMP_FRAME_SIZE 16u
#define TM_DUMP_TRACE_SIZE 24u
#define TM_DUMP_REQUIRED 1u      /* section flag: a reader that does not know the tag refuses */
#define TM_DUMP_NONE 0xFFFFFFFFu /* "no string" */
#define TM_DUMP_FRAME_SOURCE 0u
#define TM_DUMP_FRAME_NATIVE 1u  /* a return address: u32 module id, u64 offset (version 2) */
#define TM_DUMP_MAX_BUILD_ID 64u
#define TM_DUMP_MAX_RANGES 64u
#define TM_DUMP_SAMPLE_SIZE 24u  /* TIME: u64 t_ns, u64 traced, u64 rss */
#define TM_DUMP_PEAK_SIZE 24u    /* PEAK: u32 domain, u32 traceback, u64 count, u64 size */
#define TM_DUMP_ALLOC_SIZE 32u   /* ALOC: ... u64 count, u64 size, u64 temporaries */
#define TM_DUMP_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TM_DUMP_TAG_STRS TM_DUMP_TAG('S', 'T', 'R', 'S')
#define TM_DUMP_TAG_META TM_DUMP_TAG('M', 'E', 'T', 'A')
#define TM_DUMP_TAG_FRMS TM_DUMP_TAG('F', 'R', 'M', 'S')
#define TM_DUMP_TAG_TBKS TM_DUMP_TAG('T', 'B', 'K', 'S')
#define TM_DUMP_TAG_TRCS TM_DUMP_TAG('T', 'R', 'C', 'S')
#define TM_DUMP_TAG_MODS TM_DUMP_TAG('M', 'O', 'D', 'S')
#define TM_DUMP_TAG_TIME TM_DUMP_TAG('T', 'I', 'M', 'E')
#define TM_DUMP_TAG_PEAK TM_DUMP_TAG('P', 'E', 'A', 'K')
#define TM_DUMP_TAG_ALOC TM_DUMP_TAG('A', 'L', 'O', 'C')
#define TM_DUMP_TAG_END TM_DUMP_TAG('E', 'N', 'D', ' ')

#ifdef __cplusplus
}
#endif
#endif /* TRACEMALLOC_H_INCLUDED */

/* ============================================================================================== */
/*                                        IMPLEMENTATION                                          */
/* ============================================================================================== */
#if defined(TRACEMALLOC_IMPLEMENTATION) && !defined(TRACEMALLOC_IMPLEMENTATION_ONCE)
#define TRACEMALLOC_IMPLEMENTATION_ONCE

/* The override macros of an earlier include may be defined here: the tracker calls the C
   library as (malloc)(n), which a function-like macro does not rewrite. */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#if defined(TM_RAW_REALLOC) != defined(TM_RAW_FREE)
#error "tracemalloc.h: define both TM_RAW_REALLOC and TM_RAW_FREE, or neither"
#endif
#ifndef TM_RAW_REALLOC
#define TM_RAW_REALLOC(p, n) (realloc)(p, n)
#define TM_RAW_FREE(p) (free)(p)
#endif
#ifndef TM_ASSERT
#include <assert.h>
#define TM_ASSERT(x) assert(x)
#endif

/* Strict ISO modes (-std=c99/c11) hide these POSIX and glibc declarations; the functions exist. */
#ifndef __cplusplus
extern int (posix_memalign)(void **out, size_t alignment, size_t size);
extern void *(aligned_alloc)(size_t alignment, size_t size);
extern void *(reallocarray)(void *ptr, size_t count, size_t size);
extern long (syscall)(long number, ...);
extern int (clock_gettime)(int clock, struct timespec *now); /* clockid_t is int on Linux */
#ifdef __GLIBC__
extern void *(memalign)(size_t alignment, size_t size);
extern void *(valloc)(size_t size);
extern void *(pvalloc)(size_t size);
#endif
#endif

/* stb_ds, privately: renamed so a program with its own copy links, on the raw allocator. */
#ifdef INCLUDE_STB_DS_H
#error "tracemalloc.h: include stb_ds.h in another file than the one with TRACEMALLOC_IMPLEMENTATION"
#endif
#define stbds_rand_seed tm__stbds_rand_seed
#define stbds_hash_bytes tm__stbds_hash_bytes
#define stbds_hash_string tm__stbds_hash_string
#define stbds_stralloc tm__stbds_stralloc
#define stbds_strreset tm__stbds_strreset
#define stbds_unit_tests tm__stbds_unit_tests
#define stbds_arrgrowf tm__stbds_arrgrowf
#define stbds_arrfreef tm__stbds_arrfreef
#define stbds_hmfree_func tm__stbds_hmfree_func
#define stbds_hmget_key tm__stbds_hmget_key
#define stbds_hmget_key_ts tm__stbds_hmget_key_ts
#define stbds_hmput_default tm__stbds_hmput_default
#define stbds_hmput_key tm__stbds_hmput_key
#define stbds_hmdel_key tm__stbds_hmdel_key
#define stbds_shmode_func tm__stbds_shmode_func
#define STBDS_REALLOC(context, ptr, size) tm__raw_realloc_or_jump(ptr, size)
#define STBDS_FREE(context, ptr) tm__raw_free(ptr)
#define STBDS_ASSERT(x) TM_ASSERT(x)
#define STB_DS_IMPLEMENTATION
#if !defined(__cplusplus) && !defined(typeof)
#define typeof __typeof__ /* stb_ds's hm* macros use it; strict ISO modes lack the keyword */
#define TM__TYPEOF_DEFINED
#endif
static void *tm__raw_realloc_or_jump(void *ptr, size_t size);
static void tm__raw_free(void *ptr);
/* stb_ds's code and its macros trip -Wextra's checks: silenced to the implementation's end, as
   the macros expand in the tracker's own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wunused-value"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "stb_ds.h"

#ifdef TRACEMALLOC_STATIC
#define TM__API static __attribute__((unused))
#else
#define TM__API
#endif

#if defined(__GNUC__)
#define TM__LIKELY(x) __builtin_expect(!!(x), 1)
#define TM__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TM__THREAD __thread
#define TM__INLINE static __inline__ __attribute__((always_inline))
#define TM__LINE __attribute__((aligned(64))) /* starts a cache line */
#define TM__NOINLINE static __attribute__((noinline)) /* slow paths, out of the hot path's registers */
#else
#error "tracemalloc.h: needs GCC or clang (thread-local storage and __atomic builtins)"
#endif

#define TM__LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define TM__STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

/* ---------------------------------------------------------------------------------------------- */
/* State                                                                                          */
/* ---------------------------------------------------------------------------------------------- */
#define TM__SHARDS 16 /* a power of two: pointer hash -> shard */
#define TM__SIZE_BITS 40
#define TM__SIZE_MAX ((UINT64_C(1) << TM__SIZE_BITS) - 1)
#define TM__TRACEBACK_MAX ((UINT64_C(1) << (64 - TM__SIZE_BITS)) - 1)
#define TM__NO_TRACEBACK UINT32_MAX

/* A live block of domain 0: its size and traceback id packed beside the pointer, so a slot is 16
   bytes and 1M live blocks cost ~25 bytes each. Blocks too big or tracebacks too many for the
   packing go to the table of other domains. ptr == 0 marks an empty slot. */
typedef struct tm__slot {
    uintptr_t ptr;
    uint64_t packed; /* size | traceback id << TM__SIZE_BITS */
} tm__slot;

typedef struct tm__shard {
    TM__LINE int lock; /* a cache line each: threads on two shards share none */
    size_t count, capacity, grow_at;
    size_t mask; /* capacity - 1 while it is a power of two (sparse), else 0 */
    tm__slot *slots;
} tm__shard;

/* Traces of other domains (tm_track), and of blocks the packed slot cannot hold. */
typedef struct tm__other_key {
    uint64_t ptr;
    uint64_t domain;
} tm__other_key;
typedef struct tm__other {
    tm__other_key key;
    size_t size;
    uint32_t traceback;
} tm__other;

/* An interned traceback; frames follow the struct in the same allocation. */
typedef struct tm__traceback {
    tm_traceback pub;
    uint64_t hash;
    uint32_t next; /* next traceback with the same hash, or TM__NO_TRACEBACK */
} tm__traceback;

typedef struct tm__site_key {
    const char *file;
    const char *func;
    uint64_t line;
} tm__site_key;

/* Grouped by who writes what, a cache line each (TM__LINE), so that threads reading the mode
   and the flags do not miss on the counters every other thread writes. */
static struct tm__state {
    /* read by every operation, written rarely */
    TM__LINE int mode;       /* TM__UNOWNED, TM__OWNED, TM__SHARING, TM__SHARED: see tm__begin */
    int tracing;
    int limit;
    unsigned generation;     /* bumped by every clear: stale traceback ids are dropped */
    size_t others_count;     /* entries in others, read without its lock */
    /* written by every operation */
    TM__LINE size_t current; /* traced bytes */
    size_t peak;
    int owner_in_op;         /* the owner is inside an operation */
    /* written now and then */
    TM__LINE size_t untraced_count;
    size_t untraced_size;
    size_t memory;           /* bytes held through the raw allocator */
    int share_lock;
    tm__shard shards[TM__SHARDS];
    TM__LINE int stb_lock;   /* around every stb_ds call: it is not thread-safe, even to read */
    tm__other *others;                                   /* stb_ds hm */
    struct { char *key; int value; } *strings;           /* stb_ds sh: interned strings */
    struct { const char *key; const char *value; } *file_names; /* __FILE__ pointer -> string */
    struct { tm__site_key key; uint32_t value; } *sites; /* call site -> traceback id */
    struct { uint64_t key; uint32_t value; } *by_hash;   /* traceback hash -> first id */
    tm__traceback **tracebacks;                          /* stb_ds arr, index = id */
} tm__state;

/* The tracker's own allocations come back through the wrappers when TM_RAW_REALLOC is itself
   traced, or in a preloaded library: the guard makes the inner call pass straight through. */
static TM__THREAD int tm__busy;
static TM__THREAD int tm__owner; /* this thread owns the tracker */
static TM__THREAD int tm__owned; /* the operation in progress runs as the owner: no locks */
/* Where stb_ds jumps when the raw allocator fails (see tm__raw_realloc_or_jump), and a block
   to free if it does: one allocated for the structure that was being grown. */
static TM__THREAD jmp_buf *tm__oom_target;
static TM__THREAD void *tm__orphan;

/* ---------------------------------------------------------------------------------------------- */
/* Ownership and locks. Every allocation takes a lock of the pointer table, and a locked          */
/* instruction costs ~6 ns here, a third of a malloc/free pair. So the first thread to use the    */
/* tracker owns it and runs with no lock and no atomic read-modify-write; the first other thread  */
/* makes it shared for good. The handshake is an asymmetric Dekker: the owner marks itself busy   */
/* with a plain store and checks the mode; the other thread changes the mode, has the kernel run  */
/* a memory barrier on every CPU of the process (membarrier, Linux 4.14) and waits for the        */
/* owner's operation in flight. Without membarrier, or under ThreadSanitizer (which cannot see    */
/* that barrier), the tracker is shared from the start.                                           */
/* ---------------------------------------------------------------------------------------------- */
enum { TM__UNOWNED, TM__OWNED, TM__SHARING, TM__SHARED };
#define TM__MEMBARRIER_PRIVATE_EXPEDITED 8 /* the kernel's ABI, <linux/membarrier.h> */
#define TM__MEMBARRIER_REGISTER_PRIVATE_EXPEDITED 16
#if defined(__SANITIZE_THREAD__)
#define TM__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TM__TSAN 1
#endif
#endif

static int tm__membarrier(int command)
{
#if defined(__linux__) && defined(SYS_membarrier) && !defined(TM__TSAN)
    return (int)syscall(SYS_membarrier, command, 0, 0);
#else
    (void)command;
    return -1;
#endif
}

static void tm__spin_lock(int *lock)
{
    unsigned spins = 0;
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
        while (__atomic_load_n(lock, __ATOMIC_RELAXED)) {
            if (++spins > 100) { /* the holder may be descheduled: let it run */
                sched_yield();
                spins = 0;
            }
        }
    }
}

static void tm__spin_unlock(int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* The tracker's locks: free for the owner, who is alone. */
TM__INLINE void tm__lock(int *lock)
{
    if (!tm__owned) tm__spin_lock(lock);
}

TM__INLINE void tm__unlock(int *lock)
{
    if (!tm__owned) tm__spin_unlock(lock);
}

/* The first thread here owns the tracker, unless membarrier is missing. */
static void tm__claim(void)
{
    int expected = TM__UNOWNED;
    int mode = tm__membarrier(TM__MEMBARRIER_REGISTER_PRIVATE_EXPEDITED) == 0 ? TM__OWNED : TM__SHARED;
    if (__atomic_compare_exchange_n(&tm__state.mode, &expected, mode, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
        && mode == TM__OWNED)
        tm__owner = 1;
}

/* Another thread needs the tracker: from now on, everyone locks. */
static void tm__share(void)
{
    tm__spin_lock(&tm__state.share_lock);
    if (__atomic_load_n(&tm__state.mode, __ATOMIC_ACQUIRE) == TM__OWNED) {
        __atomic_store_n(&tm__state.mode, TM__SHARING, __ATOMIC_RELAXED);
        tm__membarrier(TM__MEMBARRIER_PRIVATE_EXPEDITED);
        while (__atomic_load_n(&tm__state.owner_in_op, __ATOMIC_ACQUIRE)) sched_yield();
        __atomic_store_n(&tm__state.mode, TM__SHARED, __ATOMIC_RELEASE);
    }
    tm__spin_unlock(&tm__state.share_lock);
}

/* The owner's entry: two plain stores and a load. Returns 1 when this thread still owns the
   tracker; otherwise it has been made shared, and this thread is owner no more. */
TM__INLINE int tm__enter_as_owner(void)
{
    __atomic_store_n(&tm__state.owner_in_op, 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* membarrier is the other half */
    if (TM__LIKELY(__atomic_load_n(&tm__state.mode, __ATOMIC_RELAXED) == TM__OWNED)) {
        tm__owned = 1;
        return 1;
    }
    __atomic_store_n(&tm__state.owner_in_op, 0, __ATOMIC_RELEASE);
    tm__owner = 0;
    return 0;
}

TM__NOINLINE void tm__begin_slow(void)
{
    for (;;) {
        int mode;
        if (tm__owner && tm__enter_as_owner()) return;
        mode = __atomic_load_n(&tm__state.mode, __ATOMIC_ACQUIRE);
        if (mode == TM__SHARED) return;
        if (mode == TM__UNOWNED) tm__claim();
        else tm__share();
    }
}

/* Every operation on the tracker's tables runs between tm__begin and tm__end. */
TM__INLINE void tm__begin(void)
{
    tm__busy = 1;
    if (TM__LIKELY(tm__owner) && TM__LIKELY(tm__enter_as_owner())) return;
    tm__begin_slow();
}

/* tm__end where tm__owned is known to be 1. */
TM__INLINE void tm__end_as_owner(void)
{
    __atomic_store_n(&tm__state.owner_in_op, 0, __ATOMIC_RELEASE);
    tm__owned = 0;
    tm__busy = 0;
}

TM__INLINE void tm__end(void)
{
    if (tm__owned) tm__end_as_owner();
    else tm__busy = 0;
}

/* Counters: plain for the owner, atomic when shared; readers load them atomically either way. */
TM__INLINE void tm__counter_add(size_t *counter, size_t value)
{
    if (tm__owned) __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + value, __ATOMIC_RELAXED);
    else __atomic_add_fetch(counter, value, __ATOMIC_RELAXED);
}

TM__INLINE void tm__counter_sub(size_t *counter, size_t value)
{
    if (tm__owned) __atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) - value, __ATOMIC_RELAXED);
    else __atomic_sub_fetch(counter, value, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------------------------------------- */
/* Raw allocator: every byte the tracker holds goes through here and is counted, never traced.    */
/* ---------------------------------------------------------------------------------------------- */
#define TM__RAW_HEADER 16 /* keeps the caller's alignment at 16 bytes */

static void *tm__raw_realloc(void *ptr, size_t size)
{
    char *block = ptr ? (char *)ptr - TM__RAW_HEADER : NULL;
    size_t old = block ? *(size_t *)(void *)block : 0;
    char *grown;
    if (size > SIZE_MAX - TM__RAW_HEADER) return NULL;
    grown = (char *)TM_RAW_REALLOC(block, size + TM__RAW_HEADER);
    if (!grown) return NULL;
    *(size_t *)(void *)grown = size + TM__RAW_HEADER;
    __atomic_add_fetch(&tm__state.memory, size + TM__RAW_HEADER - old, __ATOMIC_RELAXED); /* may shrink */
    return grown + TM__RAW_HEADER;
}

static void tm__raw_free(void *ptr)
{
    char *block;
    if (!ptr) return;
    block = (char *)ptr - TM__RAW_HEADER;
    __atomic_sub_fetch(&tm__state.memory, *(size_t *)(void *)block, __ATOMIC_RELAXED);
    TM_RAW_FREE(block);
}

/* stb_ds never checks its allocator's result: when ours fails, jump back to the operation's
   start (each stb_ds call runs under tm__try), where the structure is still as it was. */
static void *tm__raw_realloc_or_jump(void *ptr, size_t size)
{
    void *grown = tm__raw_realloc(ptr, size);
    if (!grown && size) longjmp(*tm__oom_target, 1);
    return grown;
}

static char *tm__raw_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = (char *)tm__raw_realloc(NULL, n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

/* Runs `body` with stb_ds's allocation failures caught: on failure, `failed` runs instead of the
   rest (it must leave the function), with every structure as it was before the failing call. */
#define TM__TRY(failed)                                                                            \
    jmp_buf tm__jump;                                                                              \
    jmp_buf *tm__outer = tm__oom_target;                                                           \
    tm__oom_target = &tm__jump;                                                                    \
    if (setjmp(tm__jump)) {                                                                        \
        tm__oom_target = tm__outer;                                                                \
        tm__raw_free(tm__orphan);                                                                  \
        tm__orphan = NULL;                                                                         \
        failed;                                                                                    \
    }
#define TM__END_TRY (tm__oom_target = tm__outer)

/* ---------------------------------------------------------------------------------------------- */
/* Interning: strings, tracebacks and call sites, under stb_lock. A traceback id is an index  */
/* into tm__state.tracebacks and stays valid until the next clear (tm__state.generation).         */
/* ---------------------------------------------------------------------------------------------- */

/* Returns the tracker's copy of s, or NULL when out of memory. */
static const char *tm__intern_string(const char *s)
{
    ptrdiff_t i = shgeti(tm__state.strings, (char *)s);
    char *copy;
    if (i >= 0) return tm__state.strings[i].key;
    copy = tm__raw_strdup(s);
    if (!copy) return NULL;
    tm__orphan = copy;
    shput(tm__state.strings, copy, 0);
    tm__orphan = NULL;
    return copy;
}

/* __FILE__ pointers repeat: the file name itself is hashed once per pointer. */
static const char *tm__intern_file(const char *file)
{
    ptrdiff_t i = hmgeti(tm__state.file_names, file);
    const char *name;
    if (i >= 0) return tm__state.file_names[i].value;
    name = tm__intern_string(file);
    if (name) hmput(tm__state.file_names, file, name);
    return name;
}

static uint64_t tm__hash_frames(const tm_frame *frames, int nframe, int total_nframe)
{
    uint64_t h = 14695981039346656037u ^ (uint64_t)total_nframe;
    int i;
    for (i = 0; i < nframe; i++) { /* interned strings: the pointer is the identity */
        h = (h ^ (uint64_t)(uintptr_t)frames[i].filename) * 1099511628211u;
        h = (h ^ frames[i].lineno) * 1099511628211u;
        h = (h ^ (uint64_t)(uintptr_t)frames[i].function) * 1099511628211u;
        h = (h ^ (uint64_t)frames[i].address) * 1099511628211u;
    }
    return h;
}

static int tm__same_frames(const tm_traceback *tb, const tm_frame *frames, int nframe, int total)
{
    int i;
    if (tb->nframe != nframe || tb->total_nframe != total) return 0;
    for (i = 0; i < nframe; i++)
        if (tb->frames[i].filename != frames[i].filename || tb->frames[i].lineno != frames[i].lineno
            || tb->frames[i].function != frames[i].function || tb->frames[i].address != frames[i].address)
            return 0;
    return 1;
}

static tm__traceback *tm__new_traceback(const tm_frame *frames, int nframe, int total, uint64_t h)
{
    tm__traceback *tb = (tm__traceback *)tm__raw_realloc(NULL, sizeof *tb + (size_t)nframe * sizeof *frames);
    tm_frame *copy;
    if (!tb) return NULL;
    copy = (tm_frame *)(void *)(tb + 1);
    memcpy(copy, frames, (size_t)nframe * sizeof *frames);
    tb->pub.nframe = nframe;
    tb->pub.total_nframe = total;
    tb->pub.frames = copy;
    tb->hash = h;
    tb->next = TM__NO_TRACEBACK;
    return tb;
}

/* Frames hold interned strings. Returns the traceback id, or TM__NO_TRACEBACK when out of memory. */
static int tm__tally_reserve(uint32_t tb); /* the traceback's tally in the history (below) */

static uint32_t tm__intern_traceback(const tm_frame *frames, int nframe, int total)
{
    uint64_t h = tm__hash_frames(frames, nframe, total);
    ptrdiff_t i = hmgeti(tm__state.by_hash, h);
    uint32_t id = i >= 0 ? tm__state.by_hash[i].value : TM__NO_TRACEBACK;
    tm__traceback *tb;
    for (; id != TM__NO_TRACEBACK; id = tm__state.tracebacks[id]->next)
        if (tm__same_frames(&tm__state.tracebacks[id]->pub, frames, nframe, total)) return id;
    tb = tm__new_traceback(frames, nframe, total, h);
    if (!tb || tm__tally_reserve((uint32_t)arrlen(tm__state.tracebacks))) {
        tm__raw_free(tb);
        return TM__NO_TRACEBACK;
    }
    tb->next = i >= 0 ? tm__state.by_hash[i].value : TM__NO_TRACEBACK;
    tm__orphan = tb;
    arrput(tm__state.tracebacks, tb);
    tm__orphan = NULL; /* from here the array owns it, even if the hash map cannot grow */
    id = (uint32_t)(arrlen(tm__state.tracebacks) - 1);
    hmput(tm__state.by_hash, h, id);
    return id;
}

static uint32_t tm__intern_site_locked(const char *file, unsigned line, const char *func)
{
    tm__site_key key;
    ptrdiff_t i;
    tm_frame frame;
    uint32_t id;
    memset(&key, 0, sizeof key);
    key.file = file;
    key.func = func;
    key.line = line;
    i = hmgeti(tm__state.sites, key);
    if (i >= 0) return tm__state.sites[i].value;
    frame.filename = tm__intern_file(file ? file : "<unknown>");
    frame.lineno = line;
    frame.function = func ? tm__intern_string(func) : NULL;
    frame.address = 0;
    if (!frame.filename || (func && !frame.function)) return TM__NO_TRACEBACK;
    id = tm__intern_traceback(&frame, 1, 1);
    if (id != TM__NO_TRACEBACK) hmput(tm__state.sites, key, id);
    return id;
}

/* The traceback of a call site, and in *generation the clear it belongs to. */
TM__NOINLINE uint32_t tm__intern_site(const char *file, unsigned line, const char *func, unsigned *generation)
{
    uint32_t id;
    tm__spin_lock(&tm__state.stb_lock);
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return TM__NO_TRACEBACK)
        id = tm__intern_site_locked(file, line, func);
        TM__END_TRY;
    }
    *generation = tm__state.generation;
    tm__spin_unlock(&tm__state.stb_lock);
    return id;
}

/* A call site costs one interning per thread: after that, this cache answers without a lock. */
#define TM__SITE_CACHE 64
static TM__THREAD struct tm__site_cache {
    const char *file, *func;
    unsigned line, generation;
    uint32_t traceback;
} tm__site_cache[TM__SITE_CACHE];

TM__INLINE struct tm__site_cache *tm__site_entry(const char *file, unsigned line)
{
    return &tm__site_cache[(((uintptr_t)file >> 4) ^ (line * 40503u)) % TM__SITE_CACHE];
}

TM__INLINE uint32_t tm__site_traceback(const char *file, unsigned line, const char *func, unsigned *generation)
{
    struct tm__site_cache *c = tm__site_entry(file, line);
    unsigned current = __atomic_load_n(&tm__state.generation, __ATOMIC_RELAXED);
    uint32_t id;
    if (TM__LIKELY(c->file == file && c->line == line && c->func == func && c->generation == current)) {
        *generation = current;
        return c->traceback;
    }
    id = tm__intern_site(file, line, func, generation);
    if (id != TM__NO_TRACEBACK) {
        c->file = file;
        c->func = func;
        c->line = line;
        c->generation = *generation;
        c->traceback = id;
    }
    return id;
}

/* tm_track_frames: frames beyond the limit are dropped from the oldest end, as in Python. */
static uint32_t tm__intern_frames_locked(const tm_frame *frames, int nframe, int limit)
{
    tm_frame kept[64], *copy = kept;
    int n = nframe < limit ? nframe : limit, i;
    uint32_t id = TM__NO_TRACEBACK;
    if (n == 0) { /* Python records an empty stack as one "<unknown>" frame */
        tm_frame unknown = {"<unknown>", 0, NULL, 0};
        return tm__intern_frames_locked(&unknown, 1, 1);
    }
    if (n > 64 && !(copy = (tm_frame *)tm__raw_realloc(NULL, (size_t)n * sizeof *copy))) return id;
    for (i = 0; i < n; i++) {
        const char *function = frames[i].function;
        if (!frames[i].filename && frames[i].address) { /* a native frame */
            copy[i] = frames[i];
            copy[i].lineno = 0;
            copy[i].function = NULL;
            continue;
        }
        copy[i].filename = tm__intern_string(frames[i].filename ? frames[i].filename : "<unknown>");
        copy[i].lineno = frames[i].lineno;
        copy[i].address = 0;
        copy[i].function = function ? tm__intern_string(function) : NULL;
        if (!copy[i].filename || (function && !copy[i].function)) break;
    }
    if (i == n) id = tm__intern_traceback(copy, n, nframe > n ? nframe : n);
    if (copy != kept) tm__raw_free(copy);
    return id;
}

/* ---------------------------------------------------------------------------------------------- */
/* Native stacks (tm_start(N), N > 1, and tm_track_native): the return addresses of the calling   */
/* thread's stack, from a frame-pointer walk or from DWARF call frame information, interned      */
/* through a per-thread cache, so a stack seen before costs a hash, a compare and no lock. They   */
/* are unwound before tm__begin: an unwinder may wait for the loader's lock (dl_iterate_phdr),    */
/* which a thread in dlopen holds while its own malloc waits for the owner's operation to end.   */
/* ---------------------------------------------------------------------------------------------- */
#if defined(__GLIBC__) || defined(TRACEMALLOC_LIBUNWIND)
#define TM__NATIVE 1
#endif
#define TM__NATIVE_DEPTH 256 /* an unwinder walks this many frames past the tracker's (or limit) */
#define TM__NATIVE_SLACK 16  /* room for the tracker's and the unwinder's own frames */
#define TM__STACK_CACHE 128  /* per thread, direct-mapped */
#define TM__AUTO_CHECKS 16   /* auto: stacks on which fp must agree with dwarf before it is used */
#define TM__AUTO_SAMPLE 1024 /* auto, settled on fp: one stack in this many is compared again */
#define TM__AUTO_BOTTOM 3    /* frames fp may miss at the bottom (the C library starting a thread) */

/* tm_track_native's site: no source frame, frames from the first address outside the tracker. */
static const char tm__native_site[] = "<unknown>";

struct tm__stack_entry {
    uint64_t hash;
    const char *file, *func;
    unsigned line, generation;
    uint32_t traceback;
    int nframe, total, capacity;
    void **frames; /* this thread's copy: the interned traceback may be freed by a clear */
};

/* A thread's unwinding state, allocated on its first native stack, freed when it exits. */
typedef struct tm__thread {
    uintptr_t stack_lo, stack_hi; /* the thread's stack: a frame-pointer walk stays inside */
    int stack_state;              /* 0 not looked up yet, 1 known, -1 unknown (no fp walk) */
    unsigned samples;             /* auto on fp: captures since the last comparison */
    int capacity;                 /* of raw and other */
    void **raw, **other;          /* what the unwinders returned */
    /* the last capture: nframe native frames (the limit's share) of a stack total deep */
    void **frames;
    int nframe, total;
    struct tm__stack_entry cache[TM__STACK_CACHE];
    /* TRACEMALLOC_LIBDW: the last cached-CFI walk, step by step (steps[0]; steps[1] is spare) */
    struct tm__cfi_step *steps[2];
    int steps_capacity, nsteps, steps_max, steps_capped;
    unsigned steps_flushes;
} tm__thread;

static struct tm__unwind {
    int mode;                     /* TM_UNWIND_*: as asked */
    int chosen;                   /* auto: 0 undecided, then TM_UNWIND_FP or TM_UNWIND_DWARF */
    int agreements;               /* auto: stacks fp and dwarf agreed on */
    int prepared;                 /* the dwarf unwinder was called once */
    int self_state;               /* the object holding the tracker: 0 unknown, 1 found, -1 none */
    uintptr_t self_lo, self_hi;
    pthread_once_t key_once;
    pthread_key_t key;            /* frees a thread's tm__thread when it exits */
    int key_made;
} tm__unwind = {TM_UNWIND_AUTO, 0, 0, 0, 0, 0, 0, PTHREAD_ONCE_INIT, 0, 0};

#ifdef TM__NATIVE
static TM__THREAD tm__thread *tm__self;

#ifdef TRACEMALLOC_LIBUNWIND
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#else
#include <execinfo.h>
#endif
#include <link.h>
#if defined(TRACEMALLOC_LIBDW) && defined(__x86_64__)
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#endif
/* struct dl_phdr_info and some pthread calls are GNU or POSIX extensions that strict ISO modes
   hide; the layout below is the one glibc documents, and the functions exist. */
#if defined(__USE_GNU)
typedef struct dl_phdr_info tm__object;
#define tm__each_object dl_iterate_phdr
#else
typedef struct tm__object {
    ElfW(Addr) dlpi_addr;
    const char *dlpi_name;
    const ElfW(Phdr) *dlpi_phdr;
    ElfW(Half) dlpi_phnum;
} tm__object;
extern int (dl_iterate_phdr)(int (*callback)(tm__object *, size_t, void *), void *data);
#define tm__each_object dl_iterate_phdr
extern int (pthread_getattr_np)(pthread_t thread, pthread_attr_t *attr);
#endif
#if !defined(__USE_XOPEN2K) && !defined(__cplusplus)
extern int (pthread_attr_getstack)(const pthread_attr_t *attr, void **addr, size_t *size);
extern ssize_t (readlink)(const char *path, char *buffer, size_t size);
#endif

static void tm__thread_free(void *self)
{
    tm__thread *t = (tm__thread *)self;
    int busy = tm__busy, i;
    tm__busy = 1;
    for (i = 0; i < TM__STACK_CACHE; i++) tm__raw_free(t->cache[i].frames);
    tm__raw_free(t->raw);
    tm__raw_free(t->other);
    tm__raw_free(t->steps[0]);
    tm__raw_free(t->steps[1]);
    tm__raw_free(t);
    if (tm__self == t) tm__self = NULL;
    tm__busy = busy;
}

static void tm__make_key(void)
{
    tm__unwind.key_made = pthread_key_create(&tm__unwind.key, tm__thread_free) == 0;
}

/* The thread's state with room for the current limit; NULL when out of memory. */
static tm__thread *tm__thread_get(void)
{
    tm__thread *t = tm__self;
    int need = __atomic_load_n(&tm__state.limit, __ATOMIC_RELAXED);
    need = (need > TM__NATIVE_DEPTH ? need : TM__NATIVE_DEPTH) + TM__NATIVE_SLACK;
    if (!t) {
        if (!(t = (tm__thread *)tm__raw_realloc(NULL, sizeof *t))) return NULL;
        memset(t, 0, sizeof *t);
        (void)pthread_once(&tm__unwind.key_once, tm__make_key);
        if (tm__unwind.key_made) (void)pthread_setspecific(tm__unwind.key, t); /* else: kept */
        tm__self = t;
    }
    if (t->capacity < need) {
        void **raw = (void **)tm__raw_realloc(t->raw, (size_t)need * sizeof *raw), **other;
        if (raw) t->raw = raw;
        other = raw ? (void **)tm__raw_realloc(t->other, (size_t)need * sizeof *other) : NULL;
        if (other) t->other = other;
        if (!raw || !other) return NULL;
        t->capacity = need;
    }
    return t;
}

static void tm__thread_stack(tm__thread *t)
{
    pthread_attr_t attr;
    void *base;
    size_t size;
    t->stack_state = -1;
    if (pthread_getattr_np(pthread_self(), &attr)) return;
    if (pthread_attr_getstack(&attr, &base, &size) == 0 && size) {
        t->stack_lo = (uintptr_t)base;
        t->stack_hi = (uintptr_t)base + size;
        t->stack_state = 1;
    }
    pthread_attr_destroy(&attr);
}

/* Walks the chain of frame pointers from this function's frame: each frame holds the caller's
   frame pointer and the return address above it. A frame must lie inside the thread's stack,
   aligned, above the previous one, so a function built without frame pointers (whose register
   holds anything) ends the walk instead of faulting. */
__attribute__((no_sanitize_address)) /* a frame may sit next to another's redzone */
TM__NOINLINE int tm__walk_fp(const tm__thread *t, void **out, int max)
{
    uintptr_t fp = (uintptr_t)__builtin_frame_address(0), top = t->stack_hi - 2 * sizeof(uintptr_t);
    int n = 0;
    if (fp < t->stack_lo) return 0; /* on another stack (sigaltstack, a coroutine's) */
    while (n < max && fp <= top && fp % sizeof(uintptr_t) == 0) { /* above the last: in the stack */
        uintptr_t next = ((const uintptr_t *)fp)[0], ret = ((const uintptr_t *)fp)[1];
        if (!ret) break;
        out[n++] = (void *)ret;
        if (next <= fp) break;
        fp = next;
    }
    return n;
}

#if defined(TRACEMALLOC_LIBDW) && defined(__x86_64__)
#define TM__CFI 1
/* dwarf, cached (TRACEMALLOC_LIBDW, x86-64): the rule of each frame, read once per return
   address from the object's .eh_frame with elfutils' libdw, then kept in a global table that
   readers use without a lock; the walk applies the rules to the registers as libunwind would.
   A frame whose rule is not a plain "CFA = rsp or rbp + offset, return address and rbp saved
   at CFA + offset" (expressions, signal frames, no CFI, code outside any object) sends the
   whole stack to libunwind (or backtrace): the stacks are libunwind's, at nearly fp's speed. */
#define TM__CFI_SETS (1u << 15) /* of two entries: 1 MiB, most of it never touched */
enum { TM__CFI_STEP = 1, TM__CFI_END, TM__CFI_OTHER };       /* rule kinds */
enum { TM__RBP_SAME = 0, TM__RBP_SAVED, TM__RBP_UNDEFINED }; /* what the caller's rbp is */

typedef union tm__cfi_rule {
    struct {
        /* CFA = base + cfa_offset; the return address at base + ra_offset, rbp at base + rbp_offset
           (all from the base register: one add less on the walk's chain of dependent loads) */
        int16_t cfa_offset, ra_offset, rbp_offset;
        uint8_t kind, how; /* how: 1 the base is rbp (else rsp), + 2 * TM__RBP_* */
    } r;
    uint64_t bits; /* published whole */
} tm__cfi_rule;

typedef struct tm__cfi_entry {
    uint64_t key;  /* the address as the walk finds it (0: empty), written after the rule */
    uint64_t rule; /* of the call before it (a return address), or of itself (the walk's start) */
} tm__cfi_entry;

static struct tm__cfi {
    tm__cfi_entry entry[2 * TM__CFI_SETS]; /* two-way sets: three hot addresses must collide to thrash */
    int lock;                   /* taken with a try: a thread that finds it held uses libunwind */
    int pid;                    /* whose maps dwfl holds (a forked child reports its own) */
    unsigned long long subs;    /* objects unloaded when dwfl was last reported */
    unsigned flushes;           /* rules forgotten (an object unloaded): walks recorded before are stale */
    Dwfl *dwfl;
} tm__cfi;

static const Dwfl_Callbacks tm__cfi_callbacks = {dwfl_linux_proc_find_elf, dwfl_standard_find_debuginfo, NULL, NULL};

/* dl_phdr_info's counters of loads and unloads (glibc's layout, present when size says so). */
struct tm__object_counts {
    ElfW(Addr) addr;
    const char *name;
    const ElfW(Phdr) *phdr;
    ElfW(Half) phnum;
    unsigned long long adds, subs;
};

static int tm__unloads(tm__object *object, size_t size, void *data)
{
    if (size >= sizeof(struct tm__object_counts))
        *(unsigned long long *)data = ((struct tm__object_counts *)(void *)object)->subs;
    return 1;
}

static tm__cfi_entry *tm__cfi_set(uintptr_t address) /* cheap: it is on the walk's chain */
{
    return &tm__cfi.entry[2 * ((address ^ address >> 15) & (TM__CFI_SETS - 1))];
}

/* dwfl's view of the process, made or remade (after a fork, or an object unloaded: then the
   rules kept for its addresses are forgotten too). Under tm__cfi.lock. */
static int tm__cfi_report(int again)
{
    unsigned long long subs = tm__cfi.subs;
    int pid = getpid();
    (void)tm__each_object(tm__unloads, &subs);
    if (tm__cfi.dwfl && pid == tm__cfi.pid && subs == tm__cfi.subs && !again) return 0;
    if (subs != tm__cfi.subs) {
        uint32_t i;
        for (i = 0; i < 2 * TM__CFI_SETS; i++) __atomic_store_n(&tm__cfi.entry[i].key, 0, __ATOMIC_RELAXED);
        __atomic_add_fetch(&tm__cfi.flushes, 1, __ATOMIC_RELEASE);
    }
    if (tm__cfi.dwfl && pid != tm__cfi.pid) {
        dwfl_end(tm__cfi.dwfl);
        tm__cfi.dwfl = NULL;
    }
    if (!tm__cfi.dwfl && !(tm__cfi.dwfl = dwfl_begin(&tm__cfi_callbacks))) return -1;
    tm__cfi.pid = pid, tm__cfi.subs = subs;
    dwfl_report_begin(tm__cfi.dwfl);
    if (dwfl_linux_proc_report(tm__cfi.dwfl, pid) != 0) {
        dwfl_report_end(tm__cfi.dwfl, NULL, NULL);
        return -1;
    }
    return dwfl_report_end(tm__cfi.dwfl, NULL, NULL) == 0 ? 0 : -1;
}

/* Where a register is kept, as dwarf_frame_register says it: 0 same value, 1 saved at CFA +
   *offset, 2 undefined, -1 anything else (a value, an expression, another register). */
static int tm__cfi_where(Dwarf_Frame *frame, int regno, int16_t *offset)
{
    Dwarf_Op mem[3], *ops = NULL;
    size_t nops = 0;
    int64_t value;
    if (dwarf_frame_register(frame, regno, mem, &ops, &nops) != 0) return -1; /* 1: a value */
    if (nops == 0) return ops ? 2 : 0; /* ops_mem: undefined; NULL: same value (libdw.h) */
    if (ops[0].atom != DW_OP_call_frame_cfa || nops > 2) return -1;
    if (nops == 1) return *offset = 0, 1;
    if (ops[1].atom != DW_OP_plus_uconst) return -1;
    value = (int64_t)ops[1].number;
    if (value < INT16_MIN || value > INT16_MAX) return -1;
    *offset = (int16_t)value;
    return 1;
}

/* The rule of the frame at pc from the call frame information. Under tm__cfi.lock, with the
   tracker's guard up (libdw allocates). */
static tm__cfi_rule tm__cfi_lookup(uintptr_t pc)
{
    tm__cfi_rule rule;
    Dwfl_Module *module;
    Dwarf_CFI *cfi;
    Dwarf_Frame *frame = NULL;
    Dwarf_Addr bias;
    Dwarf_Op *ops;
    size_t nops;
    Dwarf_Addr start, end;
    bool signal = 0;
    int64_t base = -1, offset = 0;
    memset(&rule, 0, sizeof rule);
    rule.r.kind = TM__CFI_OTHER;
    if (tm__cfi_report(0) != 0) return rule;
    if (!(module = dwfl_addrmodule(tm__cfi.dwfl, pc))) { /* loaded since (dlopen)? */
        if (tm__cfi_report(1) != 0 || !(module = dwfl_addrmodule(tm__cfi.dwfl, pc))) return rule;
    }
    if (!(cfi = dwfl_module_eh_cfi(module, &bias)) || dwarf_cfi_addrframe(cfi, pc - bias, &frame) != 0) return rule;
    if (dwarf_frame_info(frame, &start, &end, &signal) != 16 || signal) goto done;
    if (dwarf_frame_cfa(frame, &ops, &nops) != 0 || nops != 1) goto done;
    if (ops[0].atom == DW_OP_bregx) base = (int64_t)ops[0].number, offset = (int64_t)ops[0].number2;
    else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31)
        base = ops[0].atom - DW_OP_breg0, offset = (int64_t)ops[0].number;
    if ((base != 6 && base != 7) || offset < 0 || offset > INT16_MAX) goto done;
    switch (tm__cfi_where(frame, 16, &rule.r.ra_offset)) {
    case 2: rule.r.kind = TM__CFI_END; goto done; /* the outermost frame (_start, clone) */
    case 1: break;
    default: goto done;
    }
    switch (tm__cfi_where(frame, 6, &rule.r.rbp_offset)) {
    case 0: rule.r.how = 2 * TM__RBP_SAME; break;
    case 1: rule.r.how = 2 * TM__RBP_SAVED; break;
    case 2: rule.r.how = 2 * TM__RBP_UNDEFINED; break;
    default: goto done;
    }
    if (offset + rule.r.ra_offset < INT16_MIN || offset + rule.r.rbp_offset < INT16_MIN
        || offset + rule.r.ra_offset > INT16_MAX || offset + rule.r.rbp_offset > INT16_MAX)
        goto done;
    rule.r.kind = TM__CFI_STEP;
    rule.r.how |= base == 6;
    rule.r.cfa_offset = (int16_t)offset;
    rule.r.ra_offset = (int16_t)(offset + rule.r.ra_offset);
    rule.r.rbp_offset = (int16_t)(offset + rule.r.rbp_offset);
done:
    free(frame);
    return rule;
}

/* The rule for an address the walk found (its first, exact, or a return address: then the
   call's, at address - 1): from the table, else looked up and published: key 0, rule, key (a
   seqlock without fences: a reader who read a newer rule sees the key changed when it checks
   again). kind 0: not known, and the lock was busy. */
static tm__cfi_rule tm__cfi_rule_of(uintptr_t address, int first)
{
    tm__cfi_entry *set = tm__cfi_set(address), *e;
    tm__cfi_rule rule;
    int way;
    for (way = 0; way < 2; way++) {
        e = &set[way];
        if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == address) {
            rule.bits = __atomic_load_n(&e->rule, __ATOMIC_ACQUIRE); /* before the check */
            if (__atomic_load_n(&e->key, __ATOMIC_RELAXED) == address) return rule;
        }
    }
    rule.bits = 0;
    if (__atomic_exchange_n(&tm__cfi.lock, 1, __ATOMIC_ACQUIRE)) return rule;
    rule = tm__cfi_lookup(first ? address : address - 1);
    way = !__atomic_load_n(&set[0].key, __ATOMIC_RELAXED) ? 0 : !__atomic_load_n(&set[1].key, __ATOMIC_RELAXED) ? 1 : (int)(address >> 4 & 1);
    e = &set[way];
    __atomic_store_n(&e->key, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->rule, rule.bits, __ATOMIC_RELEASE); /* after the key's 0 */
    __atomic_store_n(&e->key, (uint64_t)address, __ATOMIC_RELEASE);
    __atomic_store_n(&tm__cfi.lock, 0, __ATOMIC_RELEASE);
    return rule;
}

/* One frame of a walk: its registers, and the stack words the step to its caller read. */
struct tm__cfi_step {
    uintptr_t ip, sp, bp, bp_known;
    uintptr_t ra_at, ra;     /* the caller's ip was read at ra_at (0: not read, the last frame) */
    uintptr_t bp_at, bp_was; /* the caller's rbp was read at bp_at (0: not read) */
};

/* The steps of a recorded walk would read what they read then: the walk from their first
   frame's registers gives the same frames again (the rules of those addresses are unchanged). */
__attribute__((no_sanitize_address))
static int tm__cfi_unchanged(const struct tm__cfi_step *step, int n)
{
    int i, same = 1;
    for (i = 0; i < n; i++) {
        same &= !step[i].ra_at || *(const uintptr_t *)step[i].ra_at == step[i].ra;
        same &= !step[i].bp_at || *(const uintptr_t *)step[i].bp_at == step[i].bp_was;
    }
    return same;
}

/* Walks the stack with the rules from this function's own registers (read in one statement);
   every read stays inside the thread's stack. Each step is recorded: when a frame has the
   registers a frame of the previous walk had, and every stack word that walk read from there on
   still holds, the rest of the stack is that walk's, taken without the rules' chain of dependent
   loads (a stack seen before costs a compare per frame, as fp's walk). Returns the frames found,
   or -1 when a frame's rule is not one it applies (or a read would leave the stack): libunwind
   then walks it all. */
__attribute__((no_sanitize_address)) /* a frame may sit next to another's redzone */
TM__NOINLINE int tm__walk_cfi(tm__thread *t, void **out, int max)
{
    uintptr_t ip, sp, bp, lo, hi;
    int n = 0, bp_known = 1, j = 0, last = 0, ended = 0;
    unsigned flushes = __atomic_load_n(&tm__cfi.flushes, __ATOMIC_ACQUIRE);
    struct tm__cfi_step *before, *now;
    if (t->stack_state == 0) tm__thread_stack(t);
    if (t->stack_state != 1) return -1;
    if (t->steps_capacity < max) {
        int i;
        for (i = 0; i < 2; i++) {
            struct tm__cfi_step *grown = (struct tm__cfi_step *)tm__raw_realloc(t->steps[i], (size_t)max * sizeof *grown);
            if (!grown) return t->nsteps = 0, -1;
            t->steps[i] = grown;
        }
        t->steps_capacity = max;
    }
    before = t->steps[0], now = t->steps[1];
    if (t->steps_flushes == flushes) last = t->nsteps;
    lo = t->stack_lo, hi = t->stack_hi - sizeof(uintptr_t);
    __asm__ __volatile__("leaq 1f(%%rip), %0\n1:\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2" : "=r"(ip), "=r"(sp), "=r"(bp));
    if (sp < lo || sp > hi) return -1; /* on another stack (sigaltstack, a coroutine's) */
    lo = sp; /* live frames are above: below, the main thread's stack may be unmapped */
    t->nsteps = 0; /* until this walk is recorded */
    while (n < max && ip) {
        struct tm__cfi_step *step = &now[n];
        tm__cfi_rule rule;
        uintptr_t base, cfa, at;
        while (j < last && before[j].sp < sp) j++;
        if (j < last && before[j].sp == sp && before[j].ip == ip && (j == 0) == (n == 0)
            && before[j].bp_known == (uintptr_t)bp_known && (!bp_known || before[j].bp == bp)
            && (!t->steps_capped || (j == n && t->steps_max == max)) && tm__cfi_unchanged(before + j, last - j)) {
            int rest = last - j < max - n ? last - j : max - n, i;
            for (i = 0; i < rest; i++) out[n + i] = (void *)before[j + i].ip;
            if (j == n) { /* the same frames below: keep the record, with this walk's first ones */
                memcpy(before, now, (size_t)n * sizeof *now);
            } else {
                memcpy(now + n, before + j, (size_t)rest * sizeof *now);
                t->steps[0] = now, t->steps[1] = before;
            }
            t->steps_capped = t->steps_capped || rest < last - j;
            t->steps_max = max, t->steps_flushes = flushes;
            t->nsteps = n + rest;
            return n + rest;
        }
        rule = tm__cfi_rule_of(ip, n == 0);
        step->ip = ip, step->sp = sp, step->bp = bp, step->bp_known = (uintptr_t)bp_known;
        step->ra_at = step->bp_at = 0;
        out[n++] = (void *)ip;
        if (rule.r.kind == TM__CFI_END) {
            ended = 1;
            break;
        }
        if (rule.r.kind != TM__CFI_STEP || (rule.r.how & 1 && !bp_known)) return -1;
        base = rule.r.how & 1 ? bp : sp;
        cfa = base + (uintptr_t)(intptr_t)rule.r.cfa_offset;
        at = base + (uintptr_t)(intptr_t)rule.r.ra_offset;
        if (cfa <= sp || at < lo || at > hi) return -1;
        ip = *(const uintptr_t *)at;
        step->ra_at = at, step->ra = ip;
        if (rule.r.how >> 1 == TM__RBP_SAVED) {
            at = base + (uintptr_t)(intptr_t)rule.r.rbp_offset;
            if (at < lo || at > hi) return -1;
            bp = *(const uintptr_t *)at;
            step->bp_at = at, step->bp_was = bp;
        } else if (rule.r.how >> 1 == TM__RBP_UNDEFINED) {
            bp_known = 0;
        }
        sp = cfa;
    }
    t->steps[0] = now, t->steps[1] = before;
    t->steps_capped = !ended && ip && n == max;
    t->steps_max = max, t->steps_flushes = flushes;
    t->nsteps = n;
    return n;
}
#endif

#if defined(TM__CFI) && defined(TRACEMALLOC_LIBDW_CHECK)
/* Tests only: every stack the cached rules walked is walked by libunwind too and compared, past
   the tracker's own frames (where the two unwinders' own frames differ). */
unsigned long tm__cfi_checked, tm__cfi_mismatched, tm__cfi_fallbacks;
static int tm__first_frame(void **raw, int n, uintptr_t anchor);
static void tm__cfi_check(tm__thread *t, void **cfi, int n, int max)
{
    int m = unw_backtrace(t->other, max), i = tm__first_frame(cfi, n, 0), j = tm__first_frame(t->other, m, 0);
    int same = (n == max || m == max || n - i == m - j);
    int k, common = n - i < m - j ? n - i : m - j;
    for (k = 0; same && k < common; k++) same = cfi[i + k] == t->other[j + k];
    __atomic_add_fetch(&tm__cfi_checked, 1, __ATOMIC_RELAXED);
    if (!same && __atomic_add_fetch(&tm__cfi_mismatched, 1, __ATOMIC_RELAXED) <= 3) {
        fprintf(stderr, "tracemalloc: cached CFI walk differs from libunwind's:\n  cfi:");
        for (k = i; k < n; k++) fprintf(stderr, " %p", cfi[k]);
        fprintf(stderr, "\n  libunwind:");
        for (k = j; k < m; k++) fprintf(stderr, " %p", t->other[k]);
        fprintf(stderr, "\n");
    }
}
#endif

/* DWARF: the cached rules (TRACEMALLOC_LIBDW), else or when they do not apply libunwind with its
   per-thread cache, or the C library's backtrace (libgcc's unwinder). */
TM__NOINLINE int tm__walk_dwarf(tm__thread *t, void **out, int max)
{
#ifdef TM__CFI
    int n = t ? tm__walk_cfi(t, out, max) : -1;
#ifdef TRACEMALLOC_LIBDW_CHECK
    if (n >= 0) tm__cfi_check(t, out, n, max);
    else if (t) __atomic_add_fetch(&tm__cfi_fallbacks, 1, __ATOMIC_RELAXED);
#endif
    if (n >= 0) return n;
#else
    (void)t;
#endif
#ifdef TRACEMALLOC_LIBUNWIND
    return unw_backtrace(out, max);
#else
    return backtrace(out, max);
#endif
}

/* The first call of backtrace loads libgcc_s, and libunwind sets its cache up: done once, early,
   and with the guard up, so that what they allocate passes through. */
static void tm__unwind_prepare(void)
{
    void *frames[4];
    int busy = tm__busy;
    if (__atomic_exchange_n(&tm__unwind.prepared, 1, __ATOMIC_ACQ_REL)) return;
    tm__busy = 1;
#ifdef TRACEMALLOC_LIBUNWIND
    unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
#endif
    (void)tm__walk_dwarf(NULL, frames, 4);
    tm__busy = busy;
}

/* The range of the object (executable or shared library) that holds the tracker's code. */
static int tm__find_self(tm__object *object, size_t size, void *data)
{
    uintptr_t code = (uintptr_t)(void (*)(void))tm__unwind_prepare, lo = UINTPTR_MAX, hi = 0;
    int i, mine = 0;
    (void)size;
    for (i = 0; i < object->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &object->dlpi_phdr[i];
        uintptr_t start = (uintptr_t)object->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        if (ph->p_type != PT_LOAD) continue;
        if (start < lo) lo = start;
        if (end > hi) hi = end;
        if (code >= start && code < end) mine = 1;
    }
    if (!mine) return 0;
    ((uintptr_t *)data)[0] = lo;
    ((uintptr_t *)data)[1] = hi;
    return 1;
}

static int tm__in_self(void *address)
{
    int state = __atomic_load_n(&tm__unwind.self_state, __ATOMIC_ACQUIRE);
    if (state == 0) { /* threads may race here: they find the same range */
        uintptr_t range[2];
        state = tm__each_object(tm__find_self, range) ? 1 : -1;
        if (state == 1) {
            __atomic_store_n(&tm__unwind.self_lo, range[0], __ATOMIC_RELAXED);
            __atomic_store_n(&tm__unwind.self_hi, range[1], __ATOMIC_RELAXED);
        }
        __atomic_store_n(&tm__unwind.self_state, state, __ATOMIC_RELEASE);
    }
    return state == 1 && (uintptr_t)address >= __atomic_load_n(&tm__unwind.self_lo, __ATOMIC_RELAXED)
           && (uintptr_t)address < __atomic_load_n(&tm__unwind.self_hi, __ATOMIC_RELAXED);
}

/* Where the caller's frames start in what an unwinder returned: after the anchor (header mode:
   the wrapper's return address into the function that holds the call site, whose line is
   frames[0] already), or at the first address outside the tracker's object (anchor 0) past
   the tracker's own frames (before them: the unwinder's, or a sanitizer's backtrace interceptor).
   -1 when the anchor is missing: the walk did not see the wrapper's frame. */
static int tm__first_frame(void **raw, int n, uintptr_t anchor)
{
    int i = 0;
    if (anchor) {
        for (; i < n; i++)
            if ((uintptr_t)raw[i] == anchor) return i + 1;
        return -1;
    }
    while (i < n && !tm__in_self(raw[i])) i++;
    if (i == n) i = 0; /* no frame of the tracker's own: none to skip */
    while (i < n && tm__in_self(raw[i])) i++;
    return i;
}

/* auto: fp is trusted where it gives what dwarf gives, except that it may stop a few frames
   early at the bottom, in the C library that started the thread (built without frame pointers). */
static int tm__fp_agrees(void **fp, int nfp, void **dwarf, int ndwarf)
{
    if (nfp < 1 || nfp > ndwarf || ndwarf - nfp > TM__AUTO_BOTTOM) return 0;
    return memcmp(fp, dwarf, (size_t)nfp * sizeof *fp) == 0;
}

/* Which unwinder this capture uses; TM_UNWIND_AUTO: both, to compare them. */
static int tm__unwinder(tm__thread *t)
{
    int mode = __atomic_load_n(&tm__unwind.mode, __ATOMIC_RELAXED), chosen;
    if (mode == TM_UNWIND_DWARF) return mode;
    if (t->stack_state == 0) tm__thread_stack(t);
    if (t->stack_state != 1) return TM_UNWIND_DWARF;
    if (mode == TM_UNWIND_FP) return mode;
    chosen = __atomic_load_n(&tm__unwind.chosen, __ATOMIC_RELAXED);
    if (chosen == TM_UNWIND_DWARF) return chosen;
    if (chosen == TM_UNWIND_FP) return ++t->samples % TM__AUTO_SAMPLE ? TM_UNWIND_FP : TM_UNWIND_AUTO;
    return TM_UNWIND_AUTO;
}

/* Unwinds the calling thread's stack into its tm__thread (frames, nframe, total; total counts
   frames[0]'s source frame in header mode). NULL when that cannot be done: the caller records
   the call site alone. */
TM__NOINLINE tm__thread *tm__capture(uintptr_t anchor)
{
    tm__thread *t;
    int how, n, first, limit = __atomic_load_n(&tm__state.limit, __ATOMIC_RELAXED) - (anchor != 0);
    tm__busy = 1; /* what the unwinders allocate passes through; tm__end lowers it */
    if (!(t = tm__thread_get())) return NULL;
    how = tm__unwinder(t);
    if (how != TM_UNWIND_FP && !__atomic_load_n(&tm__unwind.prepared, __ATOMIC_RELAXED)) tm__unwind_prepare();
    n = how == TM_UNWIND_FP ? tm__walk_fp(t, t->raw, t->capacity) : tm__walk_dwarf(t, t->raw, t->capacity);
    first = tm__first_frame(t->raw, n, anchor);
    t->frames = t->raw;
    if (how == TM_UNWIND_AUTO) {
        int m = tm__walk_fp(t, t->other, t->capacity), other = tm__first_frame(t->other, m, anchor);
        if (first >= 0 && other >= 0 && tm__fp_agrees(t->other + other, m - other, t->raw + first, n - first)) {
            /* Record what fp found, so that a stack is the same traceback before and after auto
               settles on fp (fp may stop a few frames earlier). */
            t->frames = t->other, first = other, n = m;
            if (__atomic_add_fetch(&tm__unwind.agreements, 1, __ATOMIC_RELAXED) >= TM__AUTO_CHECKS) {
                int undecided = 0;
                __atomic_compare_exchange_n(&tm__unwind.chosen, &undecided, TM_UNWIND_FP, 0, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED);
            }
        } else if (first >= 0) {
            __atomic_store_n(&tm__unwind.chosen, TM_UNWIND_DWARF, __ATOMIC_RELAXED);
        }
    }
    if (first < 0) return NULL;
    if (limit < 0) limit = 0; /* tracing restarted meanwhile */
    t->frames += first;
    t->total = n - first + (anchor != 0);
    t->nframe = n - first < limit ? n - first : limit;
    return t;
}

/* A cheap hash of a stack and its site for the thread's cache, which compares what it finds. */
static uint64_t tm__hash_stack(const tm__thread *t, const char *file, unsigned line, const char *func)
{
    uint64_t h = (uint64_t)(uintptr_t)file ^ (uint64_t)line << 48 ^ (uint64_t)(uintptr_t)func << 7
               ^ (uint64_t)t->total << 32;
    int i;
    for (i = 0; i < t->nframe; i++) h = (h << 5 | h >> 59) ^ (uint64_t)(uintptr_t)t->frames[i];
    h *= UINT64_C(0x9E3779B97F4A7C15);
    return h ^ h >> 29;
}

/* Interns the captured stack under stb_lock: the site's frame (header mode), then native frames. */
static uint32_t tm__intern_stack_locked(const tm__thread *t, const char *file, unsigned line, const char *func)
{
    tm_frame kept[64], *frames = kept;
    int site = file != tm__native_site, n = t->nframe + site, i;
    uint32_t id = TM__NO_TRACEBACK;
    if (n == 0) return tm__intern_frames_locked(NULL, 0, 1); /* "<unknown>", as Python */
    if (n > 64 && !(frames = (tm_frame *)tm__raw_realloc(NULL, (size_t)n * sizeof *frames))) return id;
    if (site) {
        id = tm__intern_site_locked(file, line, func);
        if (id != TM__NO_TRACEBACK) frames[0] = tm__state.tracebacks[id]->pub.frames[0];
    }
    if (!site || id != TM__NO_TRACEBACK) {
        for (i = 0; i < t->nframe; i++) {
            frames[site + i].filename = frames[site + i].function = NULL;
            frames[site + i].lineno = 0;
            frames[site + i].address = (uintptr_t)t->frames[i];
        }
        id = tm__intern_traceback(frames, n, t->total);
    }
    if (frames != kept) tm__raw_free(frames);
    return id;
}

/* The traceback of the stack tm__capture left in t, and in *generation the clear it belongs to. */
TM__NOINLINE uint32_t tm__stack_traceback(tm__thread *t, const char *file, unsigned line, const char *func,
                                          unsigned *generation)
{
    uint64_t h = tm__hash_stack(t, file, line, func);
    struct tm__stack_entry *e = &t->cache[h % TM__STACK_CACHE];
    unsigned current = __atomic_load_n(&tm__state.generation, __ATOMIC_RELAXED);
    size_t bytes = (size_t)t->nframe * sizeof *t->frames;
    uint32_t id;
    if (e->hash == h && e->generation == current && e->nframe == t->nframe && e->total == t->total
        && e->file == file && e->line == line && e->func == func && (!bytes || !memcmp(e->frames, t->frames, bytes))) {
        *generation = current;
        return e->traceback;
    }
    tm__spin_lock(&tm__state.stb_lock);
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return TM__NO_TRACEBACK)
        id = tm__intern_stack_locked(t, file, line, func);
        TM__END_TRY;
    }
    *generation = tm__state.generation;
    tm__spin_unlock(&tm__state.stb_lock);
    if (id == TM__NO_TRACEBACK) return id;
    if (e->capacity < t->nframe) { /* no room for the copy: the entry stays as it was */
        void **grown = (void **)tm__raw_realloc(e->frames, bytes);
        if (!grown) return id;
        e->frames = grown;
        e->capacity = t->nframe;
    }
    if (bytes) memcpy(e->frames, t->frames, bytes);
    e->hash = h;
    e->file = file, e->func = func, e->line = line;
    e->generation = *generation;
    e->traceback = id;
    e->nframe = t->nframe;
    e->total = t->total;
    return id;
}
#else /* no unwinder here: every traceback is the call site's */
TM__INLINE void tm__unwind_prepare(void) {}
TM__INLINE tm__thread *tm__capture(uintptr_t anchor)
{
    (void)anchor;
    return NULL;
}
TM__INLINE uint32_t tm__stack_traceback(tm__thread *t, const char *file, unsigned line, const char *func,
                                        unsigned *generation)
{
    (void)t, (void)file, (void)line, (void)func, (void)generation;
    return TM__NO_TRACEBACK;
}
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Traced memory                                                                                  */
/* ---------------------------------------------------------------------------------------------- */
/* Returns the traced memory after the addition; owned is tm__owned (see tm__put_as). */
TM__INLINE size_t tm__count_traced_as(size_t size, int owned)
{
    size_t current, peak;
    if (owned) {
        current = __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED) + size;
        __atomic_store_n(&tm__state.current, current, __ATOMIC_RELAXED);
        if (current > __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED))
            __atomic_store_n(&tm__state.peak, current, __ATOMIC_RELAXED);
        return current;
    }
    current = __atomic_add_fetch(&tm__state.current, size, __ATOMIC_RELAXED);
    peak = __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED);
    while (current > peak
           && !__atomic_compare_exchange_n(&tm__state.peak, &peak, current, 1, __ATOMIC_RELAXED,
                                           __ATOMIC_RELAXED)) {
    }
    return current;
}

TM__INLINE size_t tm__count_traced(size_t size)
{
    return tm__count_traced_as(size, tm__owned);
}

static void tm__count_untraced(size_t size)
{
    tm__counter_add(&tm__state.untraced_count, 1);
    tm__counter_add(&tm__state.untraced_size, size);
}

/* ---------------------------------------------------------------------------------------------- */
/* History: the timeline, the peak's contents and the allocation totals (the dump's TIME, PEAK    */
/* and ALOC). Each traceback has a tally, updated where the trace is (under its shard's lock, or  */
/* stb_lock for the table of others), so that with every lock held the tallies add up to current. */
/* An operation pays two adds on a tally (and an allocation a compare); the rest (samples, copying */
/* the peak) runs in tm__watch, when an allocation finds the traced memory out of the window or  */
/* is its thread's TM__TICK-th, which reads the clock.                                            */
/* ---------------------------------------------------------------------------------------------- */
#ifdef __linux__
#define TM__CLOCK_REALTIME 0          /* the kernel's ABI, <linux/time.h> */
#define TM__CLOCK_MONOTONIC_COARSE 6  /* the last tick's time (1-4 ms steps): 12 ns here, against
                                         100 ns for CLOCK_MONOTONIC (kvm-clock) */
#else
#define TM__CLOCK_REALTIME CLOCK_REALTIME
#define TM__CLOCK_MONOTONIC_COARSE CLOCK_MONOTONIC
#endif
#define TM__SAMPLE_NS 10000000u /* 10 ms between samples, and between two reads of the RSS */
#define TM__SAMPLES 4096        /* the timeline's bound (96 KB); then neighbours merge */
#define TM__TICK 256            /* a thread's every 256th allocation looks at the clock (~25 ns) */

/* A traceback's figures in one domain; 64 bytes, so an index is a shift. Allocated since start
   or clear, and of them, freed (live is the difference: two adds on each side). Interleaved:
   side by side, the compiler turns an operation's two adds into a slower vector add. */
typedef struct tm__tally {
    size_t count, freed_count;
    size_t size, freed_size;
    size_t temporaries;             /* freed before their thread's next traced allocation */
    size_t peak_count, peak_size;   /* live when the peak was last recorded */
    size_t unused;
} tm__tally;

typedef struct tm__sample {
    uint64_t t_ns, traced, rss;
} tm__sample;

/* A tally as a snapshot keeps it: PEAK's or ALOC's record (PEAK's has no temporaries). */
typedef struct tm__group {
    uint32_t domain, traceback; /* the interned id until tm__snapshot_tracebacks */
    uint64_t count, size, temporaries;
} tm__group;

static struct tm__history {
    /* read by every operation */
    TM__LINE int off;        /* TRACEMALLOC_TIMELINE=0, tm_set_timeline(0) */
    size_t watch_low;        /* the traced memory outside [low, low + span] at an allocation: */
    size_t watch_span;       /* tm__watch has work (one compare: current - low > span) */
    /* under lock (tm__lock_all takes it, after the shards'), read by the snapshot */
    TM__LINE int lock;
    tm__tally *tallies;      /* domain 0, by traceback id: one array, so an index is an add (a
                                chunked one cost ~0.5 ns a malloc/free pair); it grows with
                                every lock held, as a tally is only touched under one */
    size_t ntallies;
    struct { uint64_t key; tm__tally value; } *others; /* under stb_lock: domain << 32 | id */
    uint64_t start_ns, start_mono;   /* when tracing started: epoch, and the coarse clock that
                                        times everything else (a sample costs no full clock read) */
    uint64_t peak_t_ns;              /* the recorded peak: when, its bytes, and past what the */
    size_t peak_size, peak_next;     /* traced memory makes a new record (1% above it) */
    size_t last_traced;              /* the last sample's */
    uint64_t next_sample, rss, rss_at;
    size_t nsamples, span, filled;   /* each entry holds up to span samples; the last has filled */
    tm__sample samples[TM__SAMPLES];
} tm__history;

/* The last block this thread traced (address ^ domain), for heaptrack's temporaries; and the
   allocations it makes before it next looks at the clock. */
static TM__THREAD uintptr_t tm__last_block = UINTPTR_MAX;
static TM__THREAD int tm__countdown;

TM__NOINLINE void tm__watch(void);

/* Whether the history is kept: written with every lock held, read under one. */
TM__INLINE int tm__history_on(void)
{
    return !__atomic_load_n(&tm__history.off, __ATOMIC_RELAXED);
}

/* tm__counter_sub returning the new value, with tm__owned given (see tm__put_as). */
TM__INLINE size_t tm__sub_as(size_t *counter, size_t value, int owned)
{
    size_t n;
    if (!owned) return __atomic_sub_fetch(counter, value, __ATOMIC_RELAXED);
    n = __atomic_load_n(counter, __ATOMIC_RELAXED) - value;
    __atomic_store_n(counter, n, __ATOMIC_RELAXED);
    return n;
}

/* The tally of a traceback of domain 0 (it exists from the traceback's interning); under the
   lock of a shard or stb_lock. */
TM__INLINE tm__tally *tm__tally_of(uint32_t tb)
{
    return tm__history.tallies + tb;
}

/* Makes the tally of traceback id exist; under stb_lock (interning), no shard lock held. 0, or
   -1 out of memory. Doubles the array: a copy now and then, amortized. */
static int tm__tally_reserve(uint32_t tb)
{
    size_t n = tm__history.ntallies < 64 ? 64 : 2 * tm__history.ntallies, s;
    tm__tally *grown, *old = tm__history.tallies;
    if (tb < tm__history.ntallies) return 0;
    while (n <= tb) n *= 2;
    grown = (tm__tally *)tm__raw_realloc(NULL, n * sizeof *grown);
    if (!grown) return -1;
    for (s = 0; s < TM__SHARDS; s++) tm__lock(&tm__state.shards[s].lock); /* stb_lock, then these */
    if (tm__history.ntallies) memcpy(grown, old, tm__history.ntallies * sizeof *grown);
    memset(grown + tm__history.ntallies, 0, (n - tm__history.ntallies) * sizeof *grown);
    tm__history.tallies = grown;
    tm__history.ntallies = n;
    for (s = TM__SHARDS; s-- > 0;) tm__unlock(&tm__state.shards[s].lock);
    tm__raw_free(old);
    return 0;
}

/* A tally's counter: for the owner a plain add, one instruction on memory (no other thread
   reads a tally without the locks the owner's operations make wait), atomic when shared. Every
   instruction shows on the churn: the hooks below are the ones a malloc/free pair pays. */
TM__INLINE void tm__tally_add(size_t *counter, size_t value, int owned)
{
    if (owned) *counter += value;
    else __atomic_add_fetch(counter, value, __ATOMIC_RELAXED);
}

/* A traced allocation, under the lock of its table; returns 1 when tm__watch has work. */
TM__INLINE int tm__history_alloc(tm__tally *t, unsigned domain, uintptr_t ptr, size_t size, size_t current,
                                 int owned)
{
    tm__tally_add(&t->count, 1, owned);
    tm__tally_add(&t->size, size, owned);
    tm__last_block = ptr ^ domain;
    return --tm__countdown < 0
        || current - __atomic_load_n(&tm__history.watch_low, __ATOMIC_RELAXED)
               > __atomic_load_n(&tm__history.watch_span, __ATOMIC_RELAXED);
}

/* A trace removed, under the lock of its table. The traced memory is not watched here (that cost
   ~1 ns a pair): a fall shows at the thread's next allocation, or in the snapshot's sample. */
TM__INLINE void tm__history_free(tm__tally *t, unsigned domain, uintptr_t ptr, size_t size, int owned)
{
    tm__tally_add(&t->freed_count, 1, owned);
    tm__tally_add(&t->freed_size, size, owned);
    if (TM__UNLIKELY((ptr ^ domain) == tm__last_block)) {
        tm__tally_add(&t->temporaries, 1, owned);
        tm__last_block = UINTPTR_MAX;
    }
}

/* A block of domain 0 traced anew at an address already traced: the old trace was freed unseen. */
TM__NOINLINE void tm__history_replaced(uintptr_t ptr, uint64_t packed)
{
    if (tm__history_on())
        tm__history_free(tm__tally_of((uint32_t)(packed >> TM__SIZE_BITS)), 0, ptr, (size_t)(packed & TM__SIZE_MAX),
                         tm__owned);
}

/* The tally of (domain, tb) in the table of others, added if missing (may jump: tm__TRY), or
   NULL when missing and add is 0. Under stb_lock. */
static tm__tally *tm__other_tally(unsigned domain, uint32_t tb, int add)
{
    uint64_t key = (uint64_t)domain << 32 | tb;
    ptrdiff_t i;
    if (domain == TM_DOMAIN_MALLOC) return tm__tally_of(tb);
    i = hmgeti(tm__history.others, key);
    if (i < 0 && add) {
        tm__tally zero;
        memset(&zero, 0, sizeof zero);
        hmput(tm__history.others, key, zero);
        i = hmgeti(tm__history.others, key);
    }
    return i >= 0 ? &tm__history.others[i].value : NULL;
}

/* The same, added if missing; NULL when out of memory. */
static tm__tally *tm__other_tally_try(unsigned domain, uint32_t tb)
{
    tm__tally *tally;
    TM__TRY(return NULL)
    tally = tm__other_tally(domain, tb, 1);
    TM__END_TRY;
    return tally;
}

/* ---------------------------------------------------------------------------------------------- */
/* The pointer table of domain 0, on every allocation and free, so purpose-built (stb_ds costs   */
/* ~270 ns per put+delete at 1M keys): 16 shards, each under its own lock, each an open-addressing */
/* table of 16-byte slots with linear probing and backward-shift deletion (no tombstones, so     */
/* churn keeps probes short). A probe that ends at its first slot costs no branch mispredicted:  */
/* while the tables fit in a cache (1 MB) they stay a sixteenth full, then a quarter full up to   */
/* 64K slots a shard (measured on the churn: 2.3x at a quarter, 2.0x at a sixteenth); past that  */
/* they fill to 80% and grow by half, which keeps a million live blocks under 32 bytes each.     */
/* ---------------------------------------------------------------------------------------------- */
__extension__ typedef unsigned __int128 tm__u128;
#define TM__CACHED_SLOTS 4096  /* 64 KB a shard, 1 MB in all: a sixteenth full */
#define TM__SPARSE_SLOTS 65536 /* 1 MB a shard: a quarter full; past it, 80% */

/* Multiplicative hashing: the top bits, well mixed, pick the shard, the rest the home slot. */
TM__INLINE uint64_t tm__hash_pointer(uintptr_t ptr)
{
    return (uint64_t)ptr * UINT64_C(0x9E3779B97F4A7C15);
}

TM__INLINE tm__shard *tm__shard_of(uint64_t h)
{
    return &tm__state.shards[h >> 60];
}

/* A sparse table's capacity is a power of two: the 16 bits under the shard's pick the home. A
   dense one may have any capacity, which a multiply maps the hash onto (slower by the multiply's
   latency, measured: 0.2 of the churn ratio). */
TM__INLINE tm__slot *tm__home(const tm__shard *s, uint64_t h)
{
    if (TM__LIKELY(s->mask)) return s->slots + ((h >> 44) & s->mask);
    return s->slots + (size_t)(((tm__u128)(h << 4) * s->capacity) >> 64);
}

TM__INLINE tm__slot *tm__next_slot(const tm__shard *s, tm__slot *slot)
{
    return ++slot == s->slots + s->capacity ? s->slots : slot;
}

/* The slot holding ptr, or the empty slot where it belongs. The table is never full. */
TM__INLINE tm__slot *tm__shard_probe(const tm__shard *s, uintptr_t ptr, uint64_t h)
{
    tm__slot *slot = tm__home(s, h);
    while (slot->ptr != ptr && slot->ptr) slot = tm__next_slot(s, slot);
    return slot;
}

/* The slot holding ptr, or NULL. */
TM__INLINE tm__slot *tm__shard_find(const tm__shard *s, uintptr_t ptr, uint64_t h)
{
    tm__slot *slot;
    if (!s->capacity) return NULL;
    slot = tm__shard_probe(s, ptr, h);
    return slot->ptr ? slot : NULL;
}

/* Backward-shift deletion: later entries of the run move into the hole unless that would put
   them before their home. */
TM__NOINLINE void tm__shard_shift(tm__shard *s, tm__slot *hole, tm__slot *slot)
{
    do {
        tm__slot *home = tm__home(s, tm__hash_pointer(slot->ptr));
        if (hole < slot ? (home <= hole || home > slot) : (home <= hole && home > slot)) {
            *hole = *slot;
            hole = slot;
        }
        slot = tm__next_slot(s, slot);
    } while (slot->ptr);
    hole->ptr = 0;
}

TM__INLINE void tm__shard_erase(tm__shard *s, tm__slot *hole)
{
    tm__slot *next = tm__next_slot(s, hole);
    s->count--;
    if (TM__LIKELY(!next->ptr)) hole->ptr = 0; /* the usual case in a sparse table */
    else tm__shard_shift(s, hole, next);
}

TM__NOINLINE int tm__shard_grow(tm__shard *s)
{
    tm__shard old = *s;
    size_t i;
    s->capacity = old.capacity < 64 ? 64 : old.capacity < TM__SPARSE_SLOTS ? 2 * old.capacity : old.capacity + old.capacity / 2;
    s->grow_at = s->capacity <= TM__CACHED_SLOTS ? s->capacity / 16
               : s->capacity <= TM__SPARSE_SLOTS ? s->capacity / 4 : s->capacity / 5 * 4;
    s->mask = s->capacity <= TM__SPARSE_SLOTS ? s->capacity - 1 : 0;
    s->slots = (tm__slot *)tm__raw_realloc(NULL, s->capacity * sizeof *s->slots);
    if (!s->slots) {
        *s = old;
        return -1;
    }
    memset(s->slots, 0, s->capacity * sizeof *s->slots);
    for (i = 0; i < old.capacity; i++)
        if (old.slots[i].ptr) *tm__shard_probe(s, old.slots[i].ptr, tm__hash_pointer(old.slots[i].ptr)) = old.slots[i];
    tm__raw_free(old.slots);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Traces of other domains, and blocks a slot cannot pack: rare, so stb_ds under one lock.        */
/* ---------------------------------------------------------------------------------------------- */
static tm__other_key tm__other_key_of(unsigned domain, uintptr_t ptr)
{
    tm__other_key key;
    key.ptr = ptr;
    key.domain = domain;
    return key;
}

TM__NOINLINE int tm__other_put(unsigned domain, uintptr_t ptr, size_t size, uint32_t tb, unsigned generation)
{
    tm__other entry;
    tm__tally *tally;
    ptrdiff_t i;
    size_t current;
    int due;
    tm__spin_lock(&tm__state.stb_lock);
    if (generation != tm__state.generation) { /* cleared since the traceback was interned */
        tm__spin_unlock(&tm__state.stb_lock);
        return 0;
    }
    if (tm__history_on() && !tm__other_tally_try(domain, tb)) { /* first: nothing changed yet */
        tm__spin_unlock(&tm__state.stb_lock);
        return -1;
    }
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return -1)
        entry.key = tm__other_key_of(domain, ptr);
        entry.size = size;
        entry.traceback = tb;
        i = hmgeti(tm__state.others, entry.key);
        if (i >= 0) {
            tm__tally *old = tm__history_on() ? tm__other_tally(domain, tm__state.others[i].traceback, 0) : NULL;
            tm__counter_sub(&tm__state.current, tm__state.others[i].size);
            if (old) tm__history_free(old, domain, ptr, tm__state.others[i].size, tm__owned);
        }
        hmputs(tm__state.others, entry);
        TM__END_TRY;
    }
    __atomic_store_n(&tm__state.others_count, (size_t)hmlen(tm__state.others), __ATOMIC_RELAXED);
    current = tm__count_traced(size);
    tally = tm__history_on() ? tm__other_tally(domain, tb, 0) : NULL;
    due = tally && tm__history_alloc(tally, domain, ptr, size, current, tm__owned);
    tm__spin_unlock(&tm__state.stb_lock);
    if (due) tm__watch();
    return 0;
}

/* Removes a trace; returns 1 with its size and traceback when there was one. */
TM__NOINLINE int tm__other_take(unsigned domain, uintptr_t ptr, size_t *size, uint32_t *tb)
{
    tm__other_key key = tm__other_key_of(domain, ptr);
    tm__tally *tally;
    ptrdiff_t i;
    tm__spin_lock(&tm__state.stb_lock);
    i = hmgeti(tm__state.others, key);
    if (i >= 0) {
        *size = tm__state.others[i].size;
        *tb = tm__state.others[i].traceback;
        tm__counter_sub(&tm__state.current, *size);
        if (tm__history_on() && (tally = tm__other_tally(domain, *tb, 0)))
            tm__history_free(tally, domain, ptr, *size, tm__owned);
        (void)hmdel(tm__state.others, key); /* shrinking frees, never allocates */
        __atomic_store_n(&tm__state.others_count, (size_t)hmlen(tm__state.others), __ATOMIC_RELAXED);
    }
    tm__spin_unlock(&tm__state.stb_lock);
    return i >= 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Traces: put and take, whatever table holds them.                                              */
/* ---------------------------------------------------------------------------------------------- */

/* tm__put and tm__take come in two copies, the owner's and the shared one (owned a constant in
   each): one test of tm__owned instead of one per lock, counter and tally (1 ns a pair). */
TM__INLINE int tm__put_as(unsigned domain, uintptr_t ptr, size_t size, uint32_t tb, unsigned generation,
                          int owned)
{
    uint64_t h = tm__hash_pointer(ptr);
    tm__shard *s = tm__shard_of(h);
    tm__slot *slot;
    size_t current;
    int due;
    if (domain != TM_DOMAIN_MALLOC || (uint64_t)size > TM__SIZE_MAX || tb >= TM__TRACEBACK_MAX)
        return tm__other_put(domain, ptr, size, tb, generation);
    if (!owned) tm__spin_lock(&s->lock);
    if (TM__UNLIKELY(generation != tm__state.generation)) { /* cleared meanwhile */
        if (!owned) tm__spin_unlock(&s->lock);
        return 0;
    }
    if (TM__UNLIKELY(s->count >= s->grow_at) && tm__shard_grow(s)) {
        if (!owned) tm__spin_unlock(&s->lock);
        return -1;
    }
    slot = tm__shard_probe(s, ptr, h);
    if (TM__LIKELY(!slot->ptr)) {
        slot->ptr = ptr;
        s->count++;
    } else { /* the block was freed behind the tracker's back: this trace replaces it */
        tm__counter_sub(&tm__state.current, (size_t)(slot->packed & TM__SIZE_MAX));
        tm__history_replaced(ptr, slot->packed);
    }
    slot->packed = (uint64_t)size | (uint64_t)tb << TM__SIZE_BITS;
    current = tm__count_traced_as(size, owned);
    due = tm__history_on() && tm__history_alloc(tm__tally_of(tb), TM_DOMAIN_MALLOC, ptr, size, current, owned);
    if (!owned) tm__spin_unlock(&s->lock);
    if (TM__UNLIKELY(due)) tm__watch();
    return 0;
}

/* Records a trace; returns 0, or -1 when the tracker has no memory left (the block is untraced). */
TM__INLINE int tm__put(unsigned domain, uintptr_t ptr, size_t size, uint32_t tb, unsigned generation)
{
    return TM__LIKELY(tm__owned) ? tm__put_as(domain, ptr, size, tb, generation, 1)
                                 : tm__put_as(domain, ptr, size, tb, generation, 0);
}

TM__INLINE int tm__take_as(unsigned domain, uintptr_t ptr, size_t *size, uint32_t *tb, unsigned *generation,
                           int owned)
{
    uint64_t h = tm__hash_pointer(ptr);
    tm__shard *s = tm__shard_of(h);
    tm__slot *slot;
    if (domain == TM_DOMAIN_MALLOC) {
        if (!owned) tm__spin_lock(&s->lock);
        *generation = tm__state.generation;
        slot = tm__shard_find(s, ptr, h);
        if (slot) {
            uint64_t packed = slot->packed; /* in registers: *size and *tb would go through memory */
            size_t bytes = (size_t)(packed & TM__SIZE_MAX);
            *size = bytes;
            *tb = (uint32_t)(packed >> TM__SIZE_BITS);
            tm__shard_erase(s, slot); /* first: after the counter's atomic, s would be read again */
            (void)tm__sub_as(&tm__state.current, bytes, owned);
            if (tm__history_on())
                tm__history_free(tm__tally_of((uint32_t)(packed >> TM__SIZE_BITS)), TM_DOMAIN_MALLOC, ptr, bytes, owned);
        }
        if (!owned) tm__spin_unlock(&s->lock);
        if (slot) return 1;
    }
    if (!__atomic_load_n(&tm__state.others_count, __ATOMIC_RELAXED)) return 0;
    *generation = __atomic_load_n(&tm__state.generation, __ATOMIC_RELAXED);
    { /* through locals: with size and tb given away, the path above would store them for tm_free */
        size_t other_size;
        uint32_t other_tb;
        if (!tm__other_take(domain, ptr, &other_size, &other_tb)) return 0;
        *size = other_size, *tb = other_tb;
        return 1;
    }
}

/* Removes the trace of a block; returns 1 with its size, traceback and generation if there was one. */
TM__INLINE int tm__take(unsigned domain, uintptr_t ptr, size_t *size, uint32_t *tb, unsigned *generation)
{
    return TM__LIKELY(tm__owned) ? tm__take_as(domain, ptr, size, tb, generation, 1)
                                 : tm__take_as(domain, ptr, size, tb, generation, 0);
}

/* Locks everything, in the one order every path follows: stb_ds, then the shards. */
static void tm__lock_all(void)
{
    int i;
    tm__spin_lock(&tm__state.stb_lock);
    for (i = 0; i < TM__SHARDS; i++) tm__lock(&tm__state.shards[i].lock);
    tm__lock(&tm__history.lock);
}

/* Unlocks the shards and the history, the locks of operations that do not intern. */
static void tm__unlock_shards(void)
{
    int i;
    tm__unlock(&tm__history.lock);
    for (i = TM__SHARDS - 1; i >= 0; i--) tm__unlock(&tm__state.shards[i].lock);
}

static void tm__unlock_all(void)
{
    tm__unlock_shards();
    tm__spin_unlock(&tm__state.stb_lock);
}

/* ---------------------------------------------------------------------------------------------- */
/* History: samples and the peak's record, in tm__watch and at the API's calls.                   */
/* ---------------------------------------------------------------------------------------------- */
static uint64_t tm__clock_ns(int clock)
{
    struct timespec now;
    if (clock_gettime(clock, &now)) return 0;
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

/* The resident set size in bytes, or 0 when /proc cannot say. One open, read and close (~10 us):
   an open descriptor would be the parent's in a forked child. */
static uint64_t tm__read_rss(void)
{
    char text[128], *p = text;
    uint64_t resident = 0;
    long page = sysconf(_SC_PAGESIZE);
    ssize_t n = -1;
#ifdef O_CLOEXEC
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC); /* a thread may exec meanwhile */
#else
    int fd = open("/proc/self/statm", O_RDONLY);
#endif
    if (fd >= 0) {
        n = read(fd, text, sizeof text - 1);
        close(fd);
    }
    if (n <= 0 || page <= 0) return 0;
    text[n] = 0;
    while (*p >= '0' && *p <= '9') p++; /* "size resident shared ...", in pages */
    if (*p++ != ' ' || *p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') resident = resident * 10 + (uint64_t)(*p++ - '0');
    return resident * (uint64_t)page;
}

/* Sets the window of traced memory outside which an operation calls tm__watch: a move of more
   than 1% of the peak since the last sample, or a new high past the peak's record. Under the
   history's lock. */
static void tm__rewatch(void)
{
    size_t step, last = tm__history.last_traced, high, low;
    if (!tm__history_on()) { /* nothing to watch: no allocation calls tm__watch but the TICK-th */
        __atomic_store_n(&tm__history.watch_low, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&tm__history.watch_span, SIZE_MAX, __ATOMIC_RELAXED);
        return;
    }
    step = __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED) / 100;
    high = last + step < tm__history.peak_next ? last + step : tm__history.peak_next;
    low = last > step ? last - step : 0;
    __atomic_store_n(&tm__history.watch_low, low, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__history.watch_span, high > low ? high - low : 0, __ATOMIC_RELAXED);
}

/* Appends a sample. When the buffer is full, neighbours merge into the higher of the two and
   each entry holds twice as many samples from then on, new ones included, so the timeline keeps
   one resolution from start to end and never loses a high. */
static void tm__add_sample(uint64_t t_ns, size_t traced, uint64_t rss)
{
    struct tm__history *h = &tm__history;
    tm__sample sample;
    size_t i;
    sample.t_ns = t_ns, sample.traced = traced, sample.rss = rss;
    if (h->nsamples && h->filled < h->span) {
        if (traced > h->samples[h->nsamples - 1].traced) h->samples[h->nsamples - 1] = sample;
        h->filled++;
        return;
    }
    if (h->nsamples == TM__SAMPLES) {
        for (i = 0; i < TM__SAMPLES / 2; i++) {
            const tm__sample *a = &h->samples[2 * i], *b = a + 1;
            h->samples[i] = b->traced > a->traced ? *b : *a;
        }
        h->nsamples = TM__SAMPLES / 2;
        h->span *= 2;
    }
    h->samples[h->nsamples++] = sample;
    h->filled = 1;
}

/* Takes a sample if one is due: 10 ms after the last, or the traced memory moved by more than
   1% of the peak since it. Under the history's lock. */
static void tm__sample_locked(int force)
{
    struct tm__history *h = &tm__history;
    size_t current = __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED);
    size_t step = __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED) / 100;
    uint64_t now = tm__clock_ns(TM__CLOCK_MONOTONIC_COARSE);
    if (!force && current <= h->last_traced + step && current + step >= h->last_traced && now < h->next_sample) {
        tm__rewatch();
        return;
    }
    if (now - h->rss_at >= TM__SAMPLE_NS) {
        h->rss = tm__read_rss();
        h->rss_at = now;
    }
    tm__add_sample(now - h->start_mono, current, h->rss);
    h->last_traced = current;
    h->next_sample = now + TM__SAMPLE_NS;
    tm__rewatch();
}

/* Records the peak's contents (massif's rule: when the traced memory passed the last record by
   more than 1%; force: now). Callers hold every lock, so the tallies add up to current. */
static void tm__record_peak_locked(int force)
{
    struct tm__history *h = &tm__history;
    size_t n = (size_t)arrlen(tm__state.tracebacks), i, total = 0;
    ptrdiff_t j;
    if (!force && __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED) <= h->peak_next) return;
    for (i = 0; i < n; i++) {
        tm__tally *t = tm__tally_of((uint32_t)i);
        t->peak_count = t->count - t->freed_count;
        t->peak_size = t->size - t->freed_size;
        total += t->peak_size;
    }
    for (j = 0; j < hmlen(h->others); j++) {
        tm__tally *t = &h->others[j].value;
        t->peak_count = t->count - t->freed_count;
        t->peak_size = t->size - t->freed_size;
        total += t->peak_size;
    }
    h->peak_size = total;
    h->peak_t_ns = tm__clock_ns(TM__CLOCK_MONOTONIC_COARSE) - h->start_mono;
    __atomic_store_n(&h->peak_next, total + total / 99, __ATOMIC_RELAXED); /* 1% below is total */
    tm__rewatch();
}

/* An operation saw the traced memory leave the window, or its thread's TM__TICK allocations. */
TM__NOINLINE void tm__watch(void)
{
    if (tm__countdown < 0) tm__countdown = TM__TICK - 1;
    if (tm__history_on()
        && __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED) > __atomic_load_n(&tm__history.peak_next, __ATOMIC_RELAXED)) {
        tm__lock_all();
        if (tm__history_on()) {
            tm__record_peak_locked(0);
            tm__sample_locked(0);
        }
        tm__unlock_all();
        return;
    }
    tm__lock(&tm__history.lock);
    if (tm__history_on()) tm__sample_locked(0);
    else tm__rewatch();
    tm__unlock(&tm__history.lock);
}

/* The timeline starts again, from a sample of now (tm_start, tm_clear_traces). */
static void tm__history_restart(void)
{
    struct tm__history *h = &tm__history;
    h->start_ns = tm__clock_ns(TM__CLOCK_REALTIME);
    h->start_mono = tm__clock_ns(TM__CLOCK_MONOTONIC_COARSE);
    h->peak_size = 0;
    h->peak_t_ns = 0;
    __atomic_store_n(&h->peak_next, 0, __ATOMIC_RELAXED);
    h->nsamples = h->filled = 0;
    h->span = 1;
    h->rss_at = h->start_mono - TM__SAMPLE_NS; /* read it now */
    h->last_traced = 0;
    tm__sample_locked(1);
}

/* Frees every tally; callers hold every lock (tm__clear_locked). */
static void tm__history_clear_locked(void)
{
    tm__raw_free(tm__history.tallies);
    tm__history.tallies = NULL;
    tm__history.ntallies = 0;
    hmfree(tm__history.others);
    tm__history_restart();
}

/* Zeroes every tally, then counts the blocks traced now as allocated (switched on again: what
   happened while off is unknown); callers hold every lock. Out of memory, the blocks of other
   domains whose tally did not fit go uncounted. */
static void tm__history_rebuild_locked(void)
{
    size_t i;
    ptrdiff_t j;
    int s;
    if (tm__history.ntallies) memset(tm__history.tallies, 0, tm__history.ntallies * sizeof(tm__tally));
    hmfree(tm__history.others);
    for (s = 0; s < TM__SHARDS; s++) {
        const tm__shard *shard = &tm__state.shards[s];
        for (i = 0; i < shard->capacity; i++)
            if (shard->slots[i].ptr) {
                tm__tally *t = tm__tally_of((uint32_t)(shard->slots[i].packed >> TM__SIZE_BITS));
                t->count++;
                t->size += (size_t)(shard->slots[i].packed & TM__SIZE_MAX);
            }
    }
    {
        TM__TRY(return)
        for (j = 0; j < hmlen(tm__state.others); j++) {
            const tm__other *other = &tm__state.others[j];
            tm__tally *t = tm__other_tally((unsigned)other->key.domain, other->traceback, 1);
            t->count++;
            t->size += other->size;
        }
        TM__END_TRY;
    }
}

/* Frees every trace and interned traceback; callers hold every lock. */
static void tm__clear_locked(void)
{
    ptrdiff_t i;
    int s;
    for (s = 0; s < TM__SHARDS; s++) {
        tm__shard *shard = &tm__state.shards[s];
        tm__raw_free(shard->slots);
        shard->slots = NULL;
        shard->count = shard->capacity = shard->grow_at = shard->mask = 0;
    }
    hmfree(tm__state.others);
    __atomic_store_n(&tm__state.others_count, 0, __ATOMIC_RELAXED);
    for (i = 0; i < arrlen(tm__state.tracebacks); i++) tm__raw_free(tm__state.tracebacks[i]);
    arrfree(tm__state.tracebacks);
    for (i = 0; i < shlen(tm__state.strings); i++) tm__raw_free(tm__state.strings[i].key);
    shfree(tm__state.strings);
    hmfree(tm__state.file_names);
    hmfree(tm__state.sites);
    hmfree(tm__state.by_hash);
    __atomic_add_fetch(&tm__state.generation, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.current, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.peak, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.untraced_count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&tm__state.untraced_size, 0, __ATOMIC_RELAXED);
    tm__history_clear_locked();
}

/* ---------------------------------------------------------------------------------------------- */
/* Tracker API                                                                                    */
/* ---------------------------------------------------------------------------------------------- */
/* fork copies one thread: no lock may be held by another one at that moment. */
static void tm__atfork_prepare(void)
{
    tm__begin();
    tm__spin_lock(&tm__state.share_lock); /* no switch to shared half done in the child */
    tm__lock_all();
}

static void tm__atfork_release(void)
{
    tm__unlock_all();
    tm__spin_unlock(&tm__state.share_lock);
    tm__end();
}

TM__API int tm_start(int nframe)
{
    static int atfork_registered;
    if (nframe < 1 || nframe > TM_MAX_NFRAME) return -1;
    if (!__atomic_exchange_n(&atfork_registered, 1, __ATOMIC_ACQ_REL))
        pthread_atfork(tm__atfork_prepare, tm__atfork_release, tm__atfork_release);
    if (tm_is_tracing()) return 0; /* as Python 3.11: the traces and the limit stay */
    if (nframe > 1 && __atomic_load_n(&tm__unwind.mode, __ATOMIC_RELAXED) != TM_UNWIND_FP) tm__unwind_prepare();
    __atomic_store_n(&tm__state.limit, nframe, __ATOMIC_RELAXED);
    tm__spin_lock(&tm__history.lock); /* no operation runs yet: tracing is off */
    tm__history_restart();
    tm__spin_unlock(&tm__history.lock);
    TM__STORE(&tm__state.tracing, 1);
    return 0;
}

TM__API void tm_stop(void)
{
    TM__STORE(&tm__state.tracing, 0);
    tm_clear_traces();
}

TM__API int tm_is_tracing(void) { return TM__LOAD(&tm__state.tracing); }

TM__API void tm_clear_traces(void)
{
    if (tm__busy) return;
    tm__begin();
    tm__lock_all();
    tm__clear_locked();
    tm__unlock_all();
    tm__end();
}

TM__API void tm_get_traced_memory(size_t *current, size_t *peak)
{
    size_t now = __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED);
    size_t high = __atomic_load_n(&tm__state.peak, __ATOMIC_RELAXED);
    if (current) *current = now;
    if (peak) *peak = high < now ? now : high; /* another thread may not have raised it yet */
}

TM__API void tm_reset_peak(void)
{
    int history;
    if (tm__busy) return;
    tm__begin(); /* the owner updates the peak without atomics */
    history = tm__history_on();
    if (history) tm__lock_all(); /* the peak's contents start afresh: those of now */
    __atomic_store_n(&tm__state.peak, __atomic_load_n(&tm__state.current, __ATOMIC_RELAXED),
                     __ATOMIC_RELAXED);
    if (history) {
        tm__record_peak_locked(1);
        tm__unlock_all();
    }
    tm__end();
}

TM__API void tm_set_timeline(int on)
{
    int off = !on;
    if (tm__busy) return;
    if (!tm_is_tracing()) { /* nothing recorded: tm_start begins afresh */
        __atomic_store_n(&tm__history.off, off, __ATOMIC_RELAXED);
        return;
    }
    tm__begin();
    tm__lock_all();
    if (off != !tm__history_on()) {
        __atomic_store_n(&tm__history.off, off, __ATOMIC_RELAXED);
        if (!off) { /* the tallies start again from the blocks live now, the peak's contents too */
            tm__history_rebuild_locked();
            tm__record_peak_locked(1);
            tm__sample_locked(1);
        } else {
            tm__rewatch();
        }
    }
    tm__unlock_all();
    tm__end();
}

TM__API size_t tm_get_tracemalloc_memory(void) { return __atomic_load_n(&tm__state.memory, __ATOMIC_RELAXED); }

TM__API void tm_get_untraced_memory(size_t *count, size_t *size)
{
    if (count) *count = __atomic_load_n(&tm__state.untraced_count, __ATOMIC_RELAXED);
    if (size) *size = __atomic_load_n(&tm__state.untraced_size, __ATOMIC_RELAXED);
}

TM__API int tm_get_traceback_limit(void) { return __atomic_load_n(&tm__state.limit, __ATOMIC_RELAXED); }

TM__API const tm_traceback *tm_get_object_traceback(const void *ptr)
{
    uint64_t h = tm__hash_pointer((uintptr_t)ptr);
    tm__shard *s = tm__shard_of(h);
    const tm_traceback *traceback = NULL;
    tm__slot *slot;
    uint32_t id = TM__NO_TRACEBACK;
    if (tm__busy) return NULL;
    tm__begin();
    tm__spin_lock(&tm__state.stb_lock); /* the traceback array may move while interning */
    tm__lock(&s->lock);
    slot = tm__shard_find(s, (uintptr_t)ptr, h);
    if (slot) id = (uint32_t)(slot->packed >> TM__SIZE_BITS);
    tm__unlock(&s->lock);
    if (id == TM__NO_TRACEBACK && tm__state.others_count) {
        tm__other_key key = tm__other_key_of(TM_DOMAIN_MALLOC, (uintptr_t)ptr);
        ptrdiff_t i = hmgeti(tm__state.others, key);
        if (i >= 0) id = tm__state.others[i].traceback;
    }
    if (id != TM__NO_TRACEBACK) traceback = &tm__state.tracebacks[id]->pub;
    tm__spin_unlock(&tm__state.stb_lock);
    tm__end();
    return traceback;
}

TM__INLINE int tm__active(void)
{
    return TM__LIKELY(__atomic_load_n(&tm__state.tracing, __ATOMIC_RELAXED)) && !tm__busy;
}

/* Traces a block at a call site; returns 0, or -1 when the tracker could not record it (the
   block is counted as untraced). */
/* stack: a native stack tm__capture unwound (before tm__begin), or NULL for the call site alone. */
TM__INLINE int tm__trace_with(unsigned domain, uintptr_t ptr, size_t size, const char *file, unsigned line,
                              const char *func, tm__thread *stack)
{
    unsigned generation = 0;
    uint32_t tb;
    int status = 0;
    tm__begin();
    tb = TM__LIKELY(!stack) ? tm__site_traceback(file, line, func, &generation)
                            : tm__stack_traceback(stack, file, line, func, &generation);
    if (tb == TM__NO_TRACEBACK || tm__put(domain, ptr, size, tb, generation)) {
        tm__count_untraced(size);
        status = -1;
    }
    tm__end();
    return status;
}

/* With a native stack: anchor is the wrapper's return address (header mode), or 0 with the
   site tm__native_site (tm_track_native). */
TM__NOINLINE int tm__trace_native(unsigned domain, uintptr_t ptr, size_t size, const char *file, unsigned line,
                                  const char *func, uintptr_t anchor)
{
    return tm__trace_with(domain, ptr, size, file, line, func, tm__capture(anchor));
}

/* Out of line: see tm__trace_fast. */
TM__NOINLINE int tm__trace_site(unsigned domain, uintptr_t ptr, size_t size, const char *file, unsigned line,
                                const char *func)
{
    return tm__trace_with(domain, ptr, size, file, line, func, NULL);
}

TM__INLINE int tm__trace(unsigned domain, uintptr_t ptr, size_t size, const char *file, unsigned line,
                         const char *func)
{
    /* inlined in a wrapper, __builtin_return_address(0) is the wrapper's: where the callers start */
    if (TM__UNLIKELY(__atomic_load_n(&tm__state.limit, __ATOMIC_RELAXED) > 1))
        return tm__trace_native(domain, ptr, size, file, line, func, (uintptr_t)__builtin_return_address(0));
    return tm__trace_site(domain, ptr, size, file, line, func);
}

/* tm__trace's usual case in a wrapper, inlined: the owner, a call site in this thread's cache,
   an empty slot in a shard with room. Everything else (sharing, interning, growing, native
   stacks) stays out of line in tm__trace: inlined, its registers cost the owner a save and a
   restore of each on every call (with tm__forget_fast: 253 instructions a malloc/free pair
   down to 209 under callgrind, ~0.15 off the churn ratio). Returns 0, having changed nothing,
   when it cannot. */
TM__INLINE int tm__trace_fast(uintptr_t ptr, size_t size, const char *file, unsigned line, const char *func)
{
    uint64_t h = tm__hash_pointer(ptr);
    tm__shard *s = tm__shard_of(h);
    struct tm__site_cache *c = tm__site_entry(file, line);
    tm__slot *slot;
    uint32_t tb;
    size_t current;
    if (TM__UNLIKELY(!tm__owner || __atomic_load_n(&tm__state.limit, __ATOMIC_RELAXED) > 1)) return 0;
    tm__busy = 1;
    if (TM__UNLIKELY(!tm__enter_as_owner())) goto slow;
    /* the owner in an operation: no clear can change the generation until it ends */
    if (TM__UNLIKELY(c->file != file || c->line != line || c->func != func
                     || c->generation != __atomic_load_n(&tm__state.generation, __ATOMIC_RELAXED)))
        goto slow;
    tb = c->traceback;
    if (TM__UNLIKELY((uint64_t)size > TM__SIZE_MAX || tb >= TM__TRACEBACK_MAX || s->count >= s->grow_at)) goto slow;
    slot = tm__shard_probe(s, ptr, h);
    if (TM__UNLIKELY(slot->ptr)) goto slow; /* a trace to replace */
    slot->ptr = ptr;
    slot->packed = (uint64_t)size | (uint64_t)tb << TM__SIZE_BITS;
    s->count++;
    current = tm__count_traced_as(size, 1);
    if (tm__history_on() && TM__UNLIKELY(tm__history_alloc(tm__tally_of(tb), TM_DOMAIN_MALLOC, ptr, size, current, 1)))
        tm__watch();
    tm__end_as_owner();
    return 1;
slow:
    tm__end();
    return 0;
}

TM__INLINE void tm__forget(unsigned domain, const void *ptr)
{
    size_t size;
    uint32_t tb;
    unsigned generation;
    tm__begin();
    (void)tm__take(domain, (uintptr_t)ptr, &size, &tb, &generation);
    tm__end();
}

TM__API int tm_track_at(unsigned domain, const void *ptr, size_t size, const char *file, unsigned line,
                        const char *func)
{
    if (!tm_is_tracing()) return -2; /* as PyTraceMalloc_Track */
    if (tm__busy) return -1;
    return tm__trace(domain, (uintptr_t)ptr, size, file, line, func);
}

TM__API int tm_untrack(unsigned domain, const void *ptr)
{
    if (!tm_is_tracing()) return -2;
    if (tm__busy) return -1;
    tm__forget(domain, ptr);
    return 0;
}

TM__API int tm_track_native(unsigned domain, const void *ptr, size_t size)
{
    if (!tm_is_tracing()) return -2;
    if (tm__busy) return -1;
    return tm__trace_native(domain, (uintptr_t)ptr, size, tm__native_site, 0, NULL, 0);
}

TM__API int tm_set_unwind(int mode)
{
    if (mode != TM_UNWIND_AUTO && mode != TM_UNWIND_FP && mode != TM_UNWIND_DWARF) return -1;
    if (__atomic_exchange_n(&tm__unwind.mode, mode, __ATOMIC_RELAXED) != mode && mode == TM_UNWIND_AUTO) {
        __atomic_store_n(&tm__unwind.agreements, 0, __ATOMIC_RELAXED); /* compare afresh */
        __atomic_store_n(&tm__unwind.chosen, 0, __ATOMIC_RELAXED);
    }
    if (mode != TM_UNWIND_FP) tm__unwind_prepare();
    return 0;
}

/* Interns a traceback given by the caller; its generation goes to *generation. */
static uint32_t tm__intern_frames(const tm_frame *frames, int nframe, unsigned *generation)
{
    uint32_t tb;
    tm__spin_lock(&tm__state.stb_lock);
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); return TM__NO_TRACEBACK)
        tb = tm__intern_frames_locked(frames, nframe, tm_get_traceback_limit());
        TM__END_TRY;
    }
    *generation = tm__state.generation;
    tm__spin_unlock(&tm__state.stb_lock);
    return tb;
}

TM__API int tm_track_frames(unsigned domain, const void *ptr, size_t size, const tm_frame *frames, int nframe)
{
    unsigned generation = 0;
    uint32_t tb;
    int status = -1;
    if (!tm_is_tracing()) return -2;
    if (tm__busy || nframe < 0 || (nframe > 0 && !frames)) return -1;
    tm__begin();
    tb = tm__intern_frames(frames, nframe, &generation);
    if (tb != TM__NO_TRACEBACK) status = tm__put(domain, (uintptr_t)ptr, size, tb, generation);
    tm__end();
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Allocator wrappers. The traced size is the requested size, as Python's.                        */
/* ---------------------------------------------------------------------------------------------- */
TM__INLINE void *tm__traced(void *ptr, size_t size, const char *file, unsigned line, const char *func)
{
    if (ptr && tm__active() && TM__UNLIKELY(!tm__trace_fast((uintptr_t)ptr, size, file, line, func)))
        (void)tm__trace(TM_DOMAIN_MALLOC, (uintptr_t)ptr, size, file, line, func);
    return ptr;
}

TM__API void *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((malloc)(size), size, file, line, func);
}

TM__API void *tm_calloc_at(size_t count, size_t size, const char *file, unsigned line, const char *func)
{
    if (count && size > SIZE_MAX / count) {
        errno = ENOMEM;
        return NULL;
    }
    return tm__traced((calloc)(count, size), count * size, file, line, func);
}

/* tm_free's usual case, inlined: the owner, the trace in its shard, no entry to shift after
   it. With no call on the way, tm_free needs no frame and saves no register. Returns 0,
   having changed nothing, when it cannot: tm__free_slow does it all. */
TM__INLINE int tm__forget_fast(uintptr_t ptr)
{
    uint64_t h = tm__hash_pointer(ptr), packed;
    tm__shard *s = tm__shard_of(h);
    tm__slot *slot;
    size_t bytes;
    if (TM__UNLIKELY(!tm__owner)) return 0;
    tm__busy = 1;
    if (TM__UNLIKELY(!tm__enter_as_owner() || !s->capacity)) goto slow;
    slot = tm__shard_probe(s, ptr, h);
    if (TM__UNLIKELY(!slot->ptr || tm__next_slot(s, slot)->ptr)) goto slow;
    packed = slot->packed;
    bytes = (size_t)(packed & TM__SIZE_MAX);
    slot->ptr = 0;
    s->count--;
    (void)tm__sub_as(&tm__state.current, bytes, 1);
    if (tm__history_on())
        tm__history_free(tm__tally_of((uint32_t)(packed >> TM__SIZE_BITS)), TM_DOMAIN_MALLOC, ptr, bytes, 1);
    tm__end_as_owner();
    return 1;
slow:
    tm__end();
    return 0;
}

TM__NOINLINE void tm__free_slow(void *ptr)
{
    tm__forget(TM_DOMAIN_MALLOC, ptr);
    (free)(ptr);
}

TM__API void tm_free(void *ptr)
{
    if (ptr && tm__active() && TM__UNLIKELY(!tm__forget_fast((uintptr_t)ptr))) {
        tm__free_slow(ptr);
        return;
    }
    (free)(ptr);
}

/* The old trace goes before the call, so the peak never holds old and new block together; it
   comes back if realloc fails and the old block lives on. */
TM__INLINE void *tm__realloc_at(void *ptr, size_t size, const char *file, unsigned line, const char *func)
{
    size_t old_size = 0;
    uint32_t old_tb = 0;
    unsigned generation = 0;
    int had = 0;
    void *moved;
    if (!tm__active()) return (realloc)(ptr, size);
    if (ptr) {
        tm__begin();
        had = tm__take(TM_DOMAIN_MALLOC, (uintptr_t)ptr, &old_size, &old_tb, &generation);
        tm__end();
    }
    moved = (realloc)(ptr, size);
    if (moved) return tm__traced(moved, size, file, line, func);
    if (had && (size || !ptr)) { /* failed: the old block is intact (size 0 freed it) */
        tm__begin();
        if (tm__put(TM_DOMAIN_MALLOC, (uintptr_t)ptr, old_size, old_tb, generation)) tm__count_untraced(old_size);
        tm__end();
    }
    return NULL;
}

/* Wrappers never call each other: inlined, the one called keeps its caller's return address,
   where native stacks start (tm__trace). */
TM__API void *tm_realloc_at(void *ptr, size_t size, const char *file, unsigned line, const char *func)
{
    return tm__realloc_at(ptr, size, file, line, func);
}

TM__API void *tm_reallocarray_at(void *ptr, size_t count, size_t size, const char *file, unsigned line,
                                 const char *func)
{
    if (count && size > SIZE_MAX / count) {
        errno = ENOMEM;
        return NULL;
    }
    return tm__realloc_at(ptr, count * size, file, line, func);
}

TM__API char *tm_strdup_at(const char *s, const char *file, unsigned line, const char *func)
{
    size_t size = strlen(s) + 1;
    char *copy = (char *)tm__traced((malloc)(size), size, file, line, func);
    if (copy) memcpy(copy, s, size);
    return copy;
}

TM__API char *tm_strndup_at(const char *s, size_t n, const char *file, unsigned line, const char *func)
{
    const char *end = (const char *)memchr(s, 0, n);
    size_t length = end ? (size_t)(end - s) : n;
    char *copy = (char *)tm__traced((malloc)(length + 1), length + 1, file, line, func);
    if (copy) {
        memcpy(copy, s, length);
        copy[length] = 0;
    }
    return copy;
}

TM__API void *tm_aligned_alloc_at(size_t alignment, size_t size, const char *file, unsigned line,
                                  const char *func)
{
    return tm__traced((aligned_alloc)(alignment, size), size, file, line, func);
}

TM__API int tm_posix_memalign_at(void **out, size_t alignment, size_t size, const char *file, unsigned line,
                                 const char *func)
{
    int status = (posix_memalign)(out, alignment, size);
    if (status == 0) tm__traced(*out, size, file, line, func);
    return status;
}

#ifdef __GLIBC__
TM__API void *tm_memalign_at(size_t alignment, size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((memalign)(alignment, size), size, file, line, func);
}

TM__API void *tm_valloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((valloc)(size), size, file, line, func);
}

TM__API void *tm_pvalloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm__traced((pvalloc)(size), size, file, line, func);
}
#else /* elsewhere: the same contract through posix_memalign */
TM__API void *tm_memalign_at(size_t alignment, size_t size, const char *file, unsigned line, const char *func)
{
    void *ptr = NULL;
    return tm_posix_memalign_at(&ptr, alignment, size, file, line, func) ? NULL : ptr;
}

TM__API void *tm_valloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    return tm_memalign_at((size_t)sysconf(_SC_PAGESIZE), size, file, line, func);
}

TM__API void *tm_pvalloc_at(size_t size, const char *file, unsigned line, const char *func)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *ptr = NULL;
    if ((posix_memalign)(&ptr, page, (size + page - 1) / page * page)) return NULL;
    return tm__traced(ptr, size, file, line, func);
}
#endif

/* ---------------------------------------------------------------------------------------------- */
/* Snapshots: a copy of every trace, and of the tracebacks and strings they use, so a snapshot    */
/* outlives tm_clear_traces and tm_stop.                                                          */
/* ---------------------------------------------------------------------------------------------- */
struct tm_snapshot {
    tm_trace *traces;           /* stb_ds arr */
    tm_traceback *tracebacks;   /* stb_ds arr */
    tm_frame *frames;           /* stb_ds arr: every traceback's frames, one after the other */
    uint32_t *frame_strings;    /* stb_ds arr: 2 per frame, string ids of filename and function */
    char **strings;             /* stb_ds arr */
    struct tm__string_id { const char *key; uint32_t value; } *string_ids; /* while copying */
    uint32_t *new_ids;          /* while copying: interned traceback id -> snapshot's, or NONE */
    char *label;
    uint64_t time_ns, pid, current, peak, memory, untraced_count, untraced_size;
    int limit;
    int history;                /* the timeline was on: TIME, PEAK and ALOC follow */
    uint64_t start_ns, peak_t_ns, peak_size;
    tm__sample *samples;        /* stb_ds arrs */
    tm__group *peak_groups, *alloc_groups;
};

TM__API void tm_snapshot_free(tm_snapshot *snapshot)
{
    ptrdiff_t i;
    if (!snapshot) return;
    for (i = 0; i < arrlen(snapshot->strings); i++) tm__raw_free(snapshot->strings[i]);
    arrfree(snapshot->strings);
    arrfree(snapshot->traces);
    arrfree(snapshot->tracebacks);
    arrfree(snapshot->frames);
    arrfree(snapshot->frame_strings);
    hmfree(snapshot->string_ids);
    arrfree(snapshot->new_ids);
    arrfree(snapshot->samples);
    arrfree(snapshot->peak_groups);
    arrfree(snapshot->alloc_groups);
    tm__raw_free(snapshot->label);
    tm__raw_free(snapshot);
}

static void tm__snapshot_add(tm_snapshot *snapshot, unsigned domain, uintptr_t ptr, size_t size, uint32_t tb)
{
    tm_trace trace;
    trace.domain = domain;
    trace.size = size;
    trace.address = ptr;
    trace.traceback = (const tm_traceback *)(uintptr_t)tb; /* an id until tm__snapshot_tracebacks */
    arrput(snapshot->traces, trace);
}

/* Copies every trace; callers hold every lock. */
static void tm__snapshot_traces(tm_snapshot *snapshot)
{
    size_t total = (size_t)hmlen(tm__state.others), i;
    int s;
    for (s = 0; s < TM__SHARDS; s++) total += tm__state.shards[s].count;
    arrsetcap(snapshot->traces, total);
    for (s = 0; s < TM__SHARDS; s++) {
        const tm__slot *slot = tm__state.shards[s].slots;
        for (i = 0; i < tm__state.shards[s].capacity; i++)
            if (slot[i].ptr)
                tm__snapshot_add(snapshot, TM_DOMAIN_MALLOC, slot[i].ptr, (size_t)(slot[i].packed & TM__SIZE_MAX),
                                 (uint32_t)(slot[i].packed >> TM__SIZE_BITS));
    }
    for (i = 0; i < (size_t)hmlen(tm__state.others); i++) {
        const tm__other *other = &tm__state.others[i];
        tm__snapshot_add(snapshot, (unsigned)other->key.domain, (uintptr_t)other->key.ptr, other->size,
                         other->traceback);
    }
}

/* The snapshot's id of an interned string, copying it on first use. */
static uint32_t tm__snapshot_string(tm_snapshot *snapshot, const char *s)
{
    ptrdiff_t i;
    char *copy;
    if (!s) return TM_DUMP_NONE;
    i = hmgeti(snapshot->string_ids, s);
    if (i >= 0) return snapshot->string_ids[i].value;
    copy = tm__raw_strdup(s);
    if (!copy) longjmp(*tm__oom_target, 1);
    tm__orphan = copy;
    arrput(snapshot->strings, copy);
    tm__orphan = NULL;
    hmput(snapshot->string_ids, s, (uint32_t)(arrlen(snapshot->strings) - 1));
    return (uint32_t)(arrlen(snapshot->strings) - 1);
}

static void tm__snapshot_frames(tm_snapshot *snapshot, const tm_traceback *tb)
{
    int i;
    for (i = 0; i < tb->nframe; i++) {
        tm_frame frame = tb->frames[i];
        uint32_t file = tm__snapshot_string(snapshot, frame.filename);
        uint32_t function = tm__snapshot_string(snapshot, frame.function);
        frame.filename = file == TM_DUMP_NONE ? NULL : snapshot->strings[file]; /* NULL: native */
        frame.function = function == TM_DUMP_NONE ? NULL : snapshot->strings[function];
        arrput(snapshot->frames, frame);
        arrput(snapshot->frame_strings, file);
        arrput(snapshot->frame_strings, function);
    }
}

/* Copies the tracebacks the traces use, in order of first use, and points the traces at them;
   callers hold stb_lock. */
/* Gives the interned traceback id its snapshot id on first use; returns the frames it adds. */
static size_t tm__snapshot_keep(tm_snapshot *snapshot, uint32_t id)
{
    TM_ASSERT(id < (size_t)arrlen(snapshot->new_ids));
    if (snapshot->new_ids[id] != TM_DUMP_NONE) return 0;
    snapshot->new_ids[id] = (uint32_t)arrlen(snapshot->tracebacks);
    arrput(snapshot->tracebacks, tm__state.tracebacks[id]->pub);
    return (size_t)tm__state.tracebacks[id]->pub.nframe;
}

/* The tracebacks PEAK and ALOC refer to: kept after the traces', then given their ids. */
static size_t tm__snapshot_keep_groups(tm_snapshot *snapshot, int renumber)
{
    tm__group *lists[2];
    size_t nframe = 0;
    ptrdiff_t i;
    int l;
    lists[0] = snapshot->peak_groups, lists[1] = snapshot->alloc_groups;
    for (l = 0; l < 2; l++)
        for (i = 0; i < arrlen(lists[l]); i++) {
            if (renumber) lists[l][i].traceback = snapshot->new_ids[lists[l][i].traceback];
            else nframe += tm__snapshot_keep(snapshot, lists[l][i].traceback);
        }
    return nframe;
}

static void tm__snapshot_tracebacks(tm_snapshot *snapshot)
{
    size_t ntraceback = (size_t)arrlen(tm__state.tracebacks), nframe = 0, i;
    ptrdiff_t k, offset = 0;
    arrsetlen(snapshot->new_ids, ntraceback);
    if (ntraceback) memset(snapshot->new_ids, 0xFF, ntraceback * sizeof *snapshot->new_ids);
    for (i = 0; i < (size_t)arrlen(snapshot->traces); i++)
        nframe += tm__snapshot_keep(snapshot, (uint32_t)(uintptr_t)snapshot->traces[i].traceback);
    nframe += tm__snapshot_keep_groups(snapshot, 0);
    arrsetcap(snapshot->frames, nframe); /* no move while the tracebacks point into it */
    for (k = 0; k < arrlen(snapshot->tracebacks); k++) {
        tm__snapshot_frames(snapshot, &snapshot->tracebacks[k]);
        snapshot->tracebacks[k].frames = snapshot->frames + offset;
        offset += snapshot->tracebacks[k].nframe;
    }
    for (i = 0; i < (size_t)arrlen(snapshot->traces); i++) {
        uint32_t id = (uint32_t)(uintptr_t)snapshot->traces[i].traceback;
        snapshot->traces[i].traceback = &snapshot->tracebacks[snapshot->new_ids[id]];
    }
    (void)tm__snapshot_keep_groups(snapshot, 1);
}

static uint64_t tm__now_ns(void)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_usec * 1000u;
}

static void tm__snapshot_metadata(tm_snapshot *snapshot)
{
    size_t current, peak, count, size;
    snapshot->time_ns = tm__now_ns();
    snapshot->pid = (uint64_t)getpid();
    tm_get_traced_memory(&current, &peak);
    tm_get_untraced_memory(&count, &size);
    snapshot->current = current;
    snapshot->peak = peak;
    snapshot->untraced_count = count;
    snapshot->untraced_size = size;
    snapshot->limit = tm_get_traceback_limit();
}

/* A tally's PEAK and ALOC records, if it has any. */
static void tm__snapshot_tally(tm_snapshot *snapshot, unsigned domain, uint32_t tb, const tm__tally *t)
{
    tm__group group;
    group.domain = domain, group.traceback = tb, group.temporaries = 0;
    if (t->peak_count) {
        group.count = t->peak_count, group.size = t->peak_size;
        arrput(snapshot->peak_groups, group);
    }
    if (t->count) {
        group.count = t->count, group.size = t->size, group.temporaries = t->temporaries;
        arrput(snapshot->alloc_groups, group);
    }
}

/* Copies the timeline with a last sample (now), the peak's contents and the allocation totals;
   callers hold every lock. */
static void tm__snapshot_history(tm_snapshot *snapshot)
{
    struct tm__history *h = &tm__history;
    size_t n = (size_t)arrlen(tm__state.tracebacks), i;
    ptrdiff_t j;
    tm__sample last;
    if (!tm__history_on()) return;
    tm__record_peak_locked(0); /* a thread may not have got to it yet */
    snapshot->start_ns = h->start_ns;
    snapshot->peak_t_ns = h->peak_t_ns;
    snapshot->peak_size = h->peak_size;
    arrsetlen(snapshot->samples, h->nsamples + 1);
    memcpy(snapshot->samples, h->samples, h->nsamples * sizeof *h->samples);
    last.t_ns = tm__clock_ns(TM__CLOCK_MONOTONIC_COARSE) - h->start_mono;
    last.traced = snapshot->current;
    last.rss = tm__read_rss();
    snapshot->samples[h->nsamples] = last;
    for (i = 0; i < n; i++) tm__snapshot_tally(snapshot, TM_DOMAIN_MALLOC, (uint32_t)i, tm__tally_of((uint32_t)i));
    for (j = 0; j < hmlen(h->others); j++)
        tm__snapshot_tally(snapshot, (unsigned)(h->others[j].key >> 32), (uint32_t)h->others[j].key,
                           &h->others[j].value);
    snapshot->history = 1;
}

TM__API tm_snapshot *tm_take_snapshot(void)
{
    tm_snapshot *volatile snapshot;
    if (!tm_is_tracing() || tm__busy) return NULL;
    snapshot = (tm_snapshot *)tm__raw_realloc(NULL, sizeof *snapshot);
    if (!snapshot) return NULL;
    memset(snapshot, 0, sizeof *snapshot);
    tm__begin();
    tm__lock_all();
    {
        TM__TRY(tm__unlock_all(); tm_snapshot_free(snapshot); tm__end(); return NULL)
        tm__snapshot_metadata(snapshot);
        tm__snapshot_traces(snapshot);
        tm__snapshot_history(snapshot);
        TM__END_TRY;
    }
    /* allocations go on while the tracebacks are copied; clearing waits for stb_lock */
    tm__unlock_shards();
    {
        TM__TRY(tm__spin_unlock(&tm__state.stb_lock); tm_snapshot_free(snapshot); tm__end(); return NULL)
        tm__snapshot_tracebacks(snapshot);
        TM__END_TRY;
    }
    tm__spin_unlock(&tm__state.stb_lock);
    hmfree(snapshot->string_ids);
    arrfree(snapshot->new_ids);
    snapshot->memory = tm_get_tracemalloc_memory();
    tm__end();
    return snapshot;
}

TM__API size_t tm_snapshot_traces(const tm_snapshot *snapshot, const tm_trace **traces)
{
    if (traces) *traces = snapshot ? snapshot->traces : NULL;
    return snapshot ? (size_t)arrlen(snapshot->traces) : 0;
}

TM__API int tm_snapshot_traceback_limit(const tm_snapshot *snapshot) { return snapshot ? snapshot->limit : 0; }

TM__API int tm_snapshot_set_label(tm_snapshot *snapshot, const char *label)
{
    char *copy = NULL;
    if (!snapshot) return -1;
    if (label && !(copy = tm__raw_strdup(label))) return -1;
    tm__raw_free(snapshot->label);
    snapshot->label = copy;
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The dump writer (docs/FORMAT.md): little-endian, CRC-32 over everything, written to a          */
/* temporary file that becomes the dump only once complete.                                       */
/* ---------------------------------------------------------------------------------------------- */
typedef struct tm__writer {
    int fd, failed;
    uint32_t crc;
    size_t used;
    uint32_t crc_table[256];
    unsigned char buffer[1 << 16];
} tm__writer;

/* A frame as the dump stores it: string ids; frames repeated across tracebacks are written once. */
typedef struct tm__dump_frame {
    uint32_t kind, filename, lineno, function; /* a source frame's string ids */
    uint64_t address;                          /* a native frame's */
} tm__dump_frame;

/* A module of MODS: an object mapped when the dump is written, and its PT_LOAD ranges. */
typedef struct tm__dump_module {
    char *path; /* the tracker's copy */
    uint32_t path_id, build_id_length, first_range, nrange;
    unsigned char build_id[TM_DUMP_MAX_BUILD_ID];
    uint64_t bias;
} tm__dump_module;

typedef struct tm__dump_range {
    uint64_t start, end, file_offset;
    uint32_t module;
} tm__dump_range;

/* The objects, listed by dl_iterate_phdr into raw arrays: its callback runs under the loader's
   lock, where stb_ds, which jumps when out of memory, must not run. */
typedef struct tm__module_list {
    tm__dump_module *modules;
    tm__dump_range *ranges, *sorted; /* sorted: by start, to find an address's module */
    size_t nmodule, nrange;
    int failed;
} tm__module_list;

typedef struct tm__dump_frames {
    struct { tm__dump_frame key; uint32_t value; } *ids; /* stb_ds hm: frame -> dump frame id */
    tm__dump_frame *unique;                              /* stb_ds arr, by dump frame id */
    uint32_t *of_frame;                                  /* stb_ds arr: snapshot frame -> id */
    struct { char *key; uint32_t value; } *string_ids;   /* stb_ds sh: every string -> its id */
    const char **extra;          /* stb_ds arr: strings after the snapshot's (label, module paths) */
    uint32_t label;              /* the label's string id, or TM_DUMP_NONE */
    int native;                  /* some frame is native: MODS lists the modules */
    tm__module_list objects;
} tm__dump_frames;

static void tm__crc_init(tm__writer *w)
{
    uint32_t i, bit, c;
    for (i = 0; i < 256; i++) {
        for (c = i, bit = 0; bit < 8; bit++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        w->crc_table[i] = c;
    }
    w->crc = 0xFFFFFFFFu;
}

static void tm__flush(tm__writer *w)
{
    size_t done = 0;
    while (!w->failed && done < w->used) {
        ssize_t n = write(w->fd, w->buffer + done, w->used - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) w->failed = 1;
        else done += (size_t)n;
    }
    w->used = 0;
}

static void tm__write(tm__writer *w, const void *data, size_t size)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t i;
    for (i = 0; i < size; i++) {
        w->crc = w->crc_table[(w->crc ^ p[i]) & 0xFF] ^ (w->crc >> 8);
        if (w->used == sizeof w->buffer) tm__flush(w);
        w->buffer[w->used++] = p[i];
    }
}

static void tm__write_u32(tm__writer *w, uint32_t v)
{
    unsigned char b[4];
    b[0] = (unsigned char)v, b[1] = (unsigned char)(v >> 8), b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
    tm__write(w, b, 4);
}

static void tm__write_u64(tm__writer *w, uint64_t v)
{
    tm__write_u32(w, (uint32_t)v);
    tm__write_u32(w, (uint32_t)(v >> 32));
}

static void tm__write_section(tm__writer *w, uint32_t tag, uint64_t length)
{
    tm__write_u32(w, tag);
    tm__write_u32(w, TM_DUMP_REQUIRED);
    tm__write_u64(w, length);
}

/* Gives each distinct frame a dump id; runs under tm__TRY (stb_ds allocates). */
/* The id of a string in the dump: the snapshot's own, or one appended after them. */
static uint32_t tm__dump_string_id(const tm_snapshot *snapshot, tm__dump_frames *frames, const char *s)
{
    ptrdiff_t at = shgeti(frames->string_ids, (char *)s);
    uint32_t id;
    if (at >= 0) return frames->string_ids[at].value;
    id = (uint32_t)(arrlen(snapshot->strings) + arrlen(frames->extra));
    arrput(frames->extra, s);
    shput(frames->string_ids, (char *)s, id);
    return id;
}

static void tm__dump_frames_build(const tm_snapshot *snapshot, tm__dump_frames *frames)
{
    ptrdiff_t i;
    size_t m;
    for (i = 0; i < arrlen(snapshot->strings); i++) shput(frames->string_ids, snapshot->strings[i], (uint32_t)i);
    frames->label = snapshot->label ? tm__dump_string_id(snapshot, frames, snapshot->label) : TM_DUMP_NONE;
    for (m = 0; frames->native && m < frames->objects.nmodule; m++)
        frames->objects.modules[m].path_id = tm__dump_string_id(snapshot, frames, frames->objects.modules[m].path);
    for (i = 0; i < arrlen(snapshot->frames); i++) {
        tm__dump_frame key;
        ptrdiff_t at;
        memset(&key, 0, sizeof key);
        if (!snapshot->frames[i].filename && snapshot->frames[i].address) {
            key.kind = TM_DUMP_FRAME_NATIVE;
            key.address = snapshot->frames[i].address;
        } else {
            key.kind = TM_DUMP_FRAME_SOURCE;
            key.filename = snapshot->frame_strings[2 * i];
            key.lineno = snapshot->frames[i].lineno;
            key.function = snapshot->frame_strings[2 * i + 1];
        }
        at = hmgeti(frames->ids, key);
        if (at < 0) {
            arrput(frames->unique, key);
            hmput(frames->ids, key, (uint32_t)(arrlen(frames->unique) - 1));
            at = hmgeti(frames->ids, key);
        }
        arrput(frames->of_frame, frames->ids[at].value);
    }
}

static void tm__dump_strings(tm__writer *w, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    uint64_t length = 4;
    uint32_t own = (uint32_t)arrlen(snapshot->strings), count = own + (uint32_t)arrlen(frames->extra), i;
    for (i = 0; i < count; i++) length += 4 + strlen(i < own ? snapshot->strings[i] : frames->extra[i - own]);
    tm__write_section(w, TM_DUMP_TAG_STRS, length);
    tm__write_u32(w, count);
    for (i = 0; i < count; i++) {
        const char *s = i < own ? snapshot->strings[i] : frames->extra[i - own];
        tm__write_u32(w, (uint32_t)strlen(s));
        tm__write(w, s, strlen(s));
    }
}

static void tm__dump_meta(tm__writer *w, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    tm__write_section(w, TM_DUMP_TAG_META, TM_DUMP_META_SIZE);
    tm__write_u64(w, snapshot->time_ns);
    tm__write_u64(w, snapshot->pid);
    tm__write_u64(w, snapshot->current);
    tm__write_u64(w, snapshot->peak);
    tm__write_u64(w, snapshot->memory);
    tm__write_u64(w, snapshot->untraced_count);
    tm__write_u64(w, snapshot->untraced_size);
    tm__write_u32(w, (uint32_t)snapshot->limit);
    tm__write_u32(w, frames->label);
}

/* MODS (version 2): the objects mapped when the dump is written, when some frame is native. */
static void tm__dump_modules(tm__writer *w, const tm__dump_frames *frames)
{
    const tm__module_list *list = &frames->objects;
    size_t count = frames->native ? list->nmodule : 0, m, r;
    uint64_t length = 4;
    for (m = 0; m < count; m++) /* path, build-id, bias, ranges */
        length += 4 + 4 + list->modules[m].build_id_length + 8 + 4 + 24 * (uint64_t)list->modules[m].nrange;
    tm__write_section(w, TM_DUMP_TAG_MODS, length);
    tm__write_u32(w, (uint32_t)count);
    for (m = 0; m < count; m++) {
        const tm__dump_module *module = &list->modules[m];
        tm__write_u32(w, module->path_id);
        tm__write_u32(w, module->build_id_length);
        tm__write(w, module->build_id, module->build_id_length);
        tm__write_u64(w, module->bias);
        tm__write_u32(w, module->nrange);
        for (r = module->first_range; r < module->first_range + module->nrange; r++) {
            tm__write_u64(w, list->ranges[r].start);
            tm__write_u64(w, list->ranges[r].end);
            tm__write_u64(w, list->ranges[r].file_offset);
        }
    }
}

/* A native frame: the module whose range holds the call before the return address, and the
   address in that module's ELF file; no module: TM_DUMP_NONE and the address itself. */
static void tm__dump_native_frame(tm__writer *w, const tm__module_list *list, uint64_t address)
{
    size_t lo = 0, hi = list->nrange;
    while (lo < hi) { /* the first range starting past address - 1 */
        size_t mid = lo + (hi - lo) / 2;
        if (list->sorted[mid].start <= address - 1) lo = mid + 1;
        else hi = mid;
    }
    tm__write_u32(w, TM_DUMP_FRAME_NATIVE);
    if (lo && address - 1 < list->sorted[lo - 1].end) {
        const tm__dump_module *module = &list->modules[list->sorted[lo - 1].module];
        tm__write_u32(w, (uint32_t)list->sorted[lo - 1].module);
        tm__write_u64(w, address - module->bias);
    } else {
        tm__write_u32(w, TM_DUMP_NONE);
        tm__write_u64(w, address);
    }
}

static void tm__dump_tables(tm__writer *w, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    ptrdiff_t i, ntb = arrlen(snapshot->tracebacks), nframe = arrlen(frames->unique), offset = 0;
    uint64_t length = 4;
    tm__write_section(w, TM_DUMP_TAG_FRMS, 4 + (uint64_t)nframe * TM_DUMP_FRAME_SIZE);
    tm__write_u32(w, (uint32_t)nframe);
    for (i = 0; i < nframe; i++) {
        if (frames->unique[i].kind == TM_DUMP_FRAME_NATIVE) {
            tm__dump_native_frame(w, &frames->objects, frames->unique[i].address);
            continue;
        }
        tm__write_u32(w, TM_DUMP_FRAME_SOURCE);
        tm__write_u32(w, frames->unique[i].filename);
        tm__write_u32(w, frames->unique[i].lineno);
        tm__write_u32(w, frames->unique[i].function);
    }
    for (i = 0; i < ntb; i++) length += 8 + 4 * (uint64_t)snapshot->tracebacks[i].nframe;
    tm__write_section(w, TM_DUMP_TAG_TBKS, length);
    tm__write_u32(w, (uint32_t)ntb);
    for (i = 0; i < ntb; i++) {
        int f;
        tm__write_u32(w, (uint32_t)snapshot->tracebacks[i].total_nframe);
        tm__write_u32(w, (uint32_t)snapshot->tracebacks[i].nframe);
        for (f = 0; f < snapshot->tracebacks[i].nframe; f++) tm__write_u32(w, frames->of_frame[offset + f]);
        offset += snapshot->tracebacks[i].nframe;
    }
}

static void tm__dump_traces(tm__writer *w, const tm_snapshot *snapshot)
{
    ptrdiff_t i, n = arrlen(snapshot->traces);
    tm__write_section(w, TM_DUMP_TAG_TRCS, 8 + (uint64_t)n * TM_DUMP_TRACE_SIZE);
    tm__write_u64(w, (uint64_t)n);
    for (i = 0; i < n; i++) {
        const tm_trace *t = &snapshot->traces[i];
        tm__write_u64(w, (uint64_t)t->address);
        tm__write_u64(w, (uint64_t)t->size);
        tm__write_u32(w, t->domain);
        tm__write_u32(w, (uint32_t)(t->traceback - snapshot->tracebacks));
    }
}

/* TIME, PEAK and ALOC: optional sections (flags clear), version 2. */
static void tm__dump_history(tm__writer *w, const tm_snapshot *snapshot)
{
    ptrdiff_t i, nsample = arrlen(snapshot->samples), npeak = arrlen(snapshot->peak_groups);
    ptrdiff_t nalloc = arrlen(snapshot->alloc_groups);
    tm__write_u32(w, TM_DUMP_TAG_TIME);
    tm__write_u32(w, 0);
    tm__write_u64(w, 16 + (uint64_t)nsample * TM_DUMP_SAMPLE_SIZE);
    tm__write_u64(w, snapshot->start_ns);
    tm__write_u32(w, (uint32_t)nsample);
    tm__write_u32(w, 0);
    for (i = 0; i < nsample; i++) {
        tm__write_u64(w, snapshot->samples[i].t_ns);
        tm__write_u64(w, snapshot->samples[i].traced);
        tm__write_u64(w, snapshot->samples[i].rss);
    }
    tm__write_u32(w, TM_DUMP_TAG_PEAK);
    tm__write_u32(w, 0);
    tm__write_u64(w, 24 + (uint64_t)npeak * TM_DUMP_PEAK_SIZE);
    tm__write_u64(w, snapshot->peak_t_ns);
    tm__write_u64(w, snapshot->peak_size);
    tm__write_u32(w, (uint32_t)npeak);
    tm__write_u32(w, 0);
    for (i = 0; i < npeak; i++) {
        tm__write_u32(w, snapshot->peak_groups[i].domain);
        tm__write_u32(w, snapshot->peak_groups[i].traceback);
        tm__write_u64(w, snapshot->peak_groups[i].count);
        tm__write_u64(w, snapshot->peak_groups[i].size);
    }
    tm__write_u32(w, TM_DUMP_TAG_ALOC);
    tm__write_u32(w, 0);
    tm__write_u64(w, 8 + (uint64_t)nalloc * TM_DUMP_ALLOC_SIZE);
    tm__write_u32(w, (uint32_t)nalloc);
    tm__write_u32(w, 0);
    for (i = 0; i < nalloc; i++) {
        tm__write_u32(w, snapshot->alloc_groups[i].domain);
        tm__write_u32(w, snapshot->alloc_groups[i].traceback);
        tm__write_u64(w, snapshot->alloc_groups[i].count);
        tm__write_u64(w, snapshot->alloc_groups[i].size);
        tm__write_u64(w, snapshot->alloc_groups[i].temporaries);
    }
}

static void tm__dump_to(tm__writer *w, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    tm__crc_init(w);
    tm__write(w, TM_DUMP_MAGIC, TM_DUMP_MAGIC_SIZE);
    tm__write_u32(w, TM_DUMP_VERSION);
    tm__write_u32(w, 0);
    tm__dump_strings(w, snapshot, frames);
    tm__dump_meta(w, snapshot, frames);
    tm__dump_modules(w, frames);
    tm__dump_tables(w, snapshot, frames);
    tm__dump_traces(w, snapshot);
    if (snapshot->history) tm__dump_history(w, snapshot);
    tm__write_u32(w, TM_DUMP_TAG_END);
    tm__write_u32(w, 0);
    tm__write_u64(w, 4);
    tm__write_u32(w, w->crc ^ 0xFFFFFFFFu);
    tm__flush(w);
}

/* Expands %p (pid), %n (number) and %% in a dump path; returns -1 when it does not fit. */
static int tm__expand_path(const char *pattern, unsigned long number, char *out, size_t size, int *has_number)
{
    size_t used = 0;
    *has_number = 0;
    out[0] = 0;
    while (*pattern) {
        char piece[32];
        size_t n;
        if (pattern[0] == '%' && pattern[1] == 'p') sprintf(piece, "%ld", (long)getpid()), pattern += 2;
        else if (pattern[0] == '%' && pattern[1] == 'n') sprintf(piece, "%lu", number), pattern += 2, *has_number = 1;
        else if (pattern[0] == '%' && pattern[1] == '%') strcpy(piece, "%"), pattern += 2;
        else piece[0] = *pattern++, piece[1] = 0;
        n = strlen(piece);
        if (used + n >= size) return -1;
        memcpy(out + used, piece, n + 1);
        used += n;
    }
    return 0;
}

/* Gives the finished temporary file its name: with %n the first number that names no file (link
   fails rather than replace), otherwise rename over whatever was there. */
static int tm__publish(const char *tmp, const char *pattern)
{
    char path[4096];
    unsigned long number;
    int has_number;
    for (number = 0;; number++) {
        if (tm__expand_path(pattern, number, path, sizeof path, &has_number)) return -1;
        if (!has_number) return rename(tmp, path);
        if (link(tmp, path) == 0) return unlink(tmp), 0;
        if (errno != EEXIST) return -1;
    }
}

static int tm__write_file(const char *tmp, const tm_snapshot *snapshot, const tm__dump_frames *frames)
{
    tm__writer *w = (tm__writer *)tm__raw_realloc(NULL, sizeof *w);
    int failed;
    if (!w) return -1;
    w->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    w->failed = w->fd < 0;
    w->used = 0;
    if (!w->failed) {
        tm__dump_to(w, snapshot, frames);
        if (fsync(w->fd)) w->failed = 1;
        if (close(w->fd)) w->failed = 1;
    }
    failed = w->failed;
    tm__raw_free(w);
    return failed ? -1 : 0;
}

/* ---- MODS: the objects mapped now, from dl_iterate_phdr ---- */
static void tm__module_list_free(tm__module_list *list)
{
    size_t m;
    for (m = 0; m < list->nmodule; m++) tm__raw_free(list->modules[m].path);
    tm__raw_free(list->modules);
    tm__raw_free(list->ranges);
    tm__raw_free(list->sorted);
    memset(list, 0, sizeof *list);
}

#ifdef TM__NATIVE
/* Whether a segment lies inside one of the object's PT_LOAD segments: mapped, so readable. */
static int tm__mapped(const tm__object *object, const ElfW(Phdr) *segment)
{
    int i;
    for (i = 0; i < object->dlpi_phnum; i++) {
        const ElfW(Phdr) *load = &object->dlpi_phdr[i];
        if (load->p_type == PT_LOAD && segment->p_vaddr >= load->p_vaddr
            && segment->p_vaddr + segment->p_memsz <= load->p_vaddr + load->p_filesz)
            return 1;
    }
    return 0;
}

/* The object's NT_GNU_BUILD_ID note, from its PT_NOTE segments as mapped. */
static void tm__build_id(const tm__object *object, tm__dump_module *module)
{
    int i;
    for (i = 0; i < object->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &object->dlpi_phdr[i];
        const unsigned char *note = (const unsigned char *)(object->dlpi_addr + ph->p_vaddr), *end = note + ph->p_memsz;
        size_t align = ph->p_align == 8 ? 8 : 4;
        if (ph->p_type != PT_NOTE || !tm__mapped(object, ph)) continue;
        while ((size_t)(end - note) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *header = (const ElfW(Nhdr) *)(const void *)note;
            size_t name = (header->n_namesz + align - 1) / align * align;
            size_t desc = (header->n_descsz + align - 1) / align * align;
            const unsigned char *data = note + sizeof *header;
            if (name > (size_t)(end - data) || desc > (size_t)(end - data) - name) break;
            if (header->n_type == NT_GNU_BUILD_ID && header->n_namesz == 4 && memcmp(data, "GNU", 4) == 0
                && header->n_descsz <= TM_DUMP_MAX_BUILD_ID) {
                module->build_id_length = header->n_descsz;
                memcpy(module->build_id, data + name, header->n_descsz);
                return;
            }
            note = data + name + desc;
        }
    }
}

static int tm__list_object(tm__object *object, size_t size, void *data)
{
    tm__module_list *list = (tm__module_list *)data;
    tm__dump_module module;
    char exe[4096];
    const char *path = object->dlpi_name;
    int i, nload = 0;
    (void)size;
    for (i = 0; i < object->dlpi_phnum; i++) nload += object->dlpi_phdr[i].p_type == PT_LOAD;
    if (!path || !*path) { /* the main program is listed first, without a name */
        ssize_t n = list->nmodule == 0 ? readlink("/proc/self/exe", exe, sizeof exe - 1) : -1;
        if (n <= 0) return 0;
        exe[n] = 0;
        path = exe;
    }
    if (nload == 0) return 0;
    if (nload > (int)TM_DUMP_MAX_RANGES) nload = (int)TM_DUMP_MAX_RANGES;
    memset(&module, 0, sizeof module);
    module.bias = (uint64_t)object->dlpi_addr;
    module.first_range = (uint32_t)list->nrange;
    tm__build_id(object, &module);
    {
        size_t nmodule = list->nmodule + 1, nrange = list->nrange + (size_t)nload;
        tm__dump_module *modules = (tm__dump_module *)tm__raw_realloc(list->modules, nmodule * sizeof *modules);
        tm__dump_range *ranges = modules ? (tm__dump_range *)tm__raw_realloc(list->ranges, nrange * sizeof *ranges) : NULL;
        if (modules) list->modules = modules;
        if (ranges) list->ranges = ranges;
        if (!ranges || !(module.path = tm__raw_strdup(path))) {
            list->failed = 1;
            return 1;
        }
    }
    for (i = 0; i < object->dlpi_phnum && module.nrange < (uint32_t)nload; i++) {
        const ElfW(Phdr) *ph = &object->dlpi_phdr[i];
        tm__dump_range *range = &list->ranges[list->nrange + module.nrange];
        if (ph->p_type != PT_LOAD) continue;
        range->start = (uint64_t)object->dlpi_addr + ph->p_vaddr;
        range->end = range->start + ph->p_memsz;
        range->file_offset = ph->p_offset;
        range->module = (uint32_t)list->nmodule;
        module.nrange += range->end > range->start; /* an empty segment is no range */
    }
    if (module.nrange == 0) {
        tm__raw_free(module.path);
        return 0;
    }
    list->nrange += module.nrange;
    list->modules[list->nmodule++] = module;
    return 0;
}

static int tm__range_order(const void *a, const void *b)
{
    uint64_t x = ((const tm__dump_range *)a)->start, y = ((const tm__dump_range *)b)->start;
    return x < y ? -1 : x > y;
}

static void tm__list_objects(tm__module_list *list)
{
    tm__each_object(tm__list_object, list);
    if (list->failed || !list->nrange) return;
    list->sorted = (tm__dump_range *)tm__raw_realloc(NULL, list->nrange * sizeof *list->sorted);
    if (!list->sorted) {
        list->failed = 1;
        return;
    }
    memcpy(list->sorted, list->ranges, list->nrange * sizeof *list->sorted);
    qsort(list->sorted, list->nrange, sizeof *list->sorted, tm__range_order);
}
#else /* no dl_iterate_phdr: no module, every native frame is an absolute address */
static void tm__list_objects(tm__module_list *list)
{
    (void)list;
}
#endif

/* Lists the objects when some frame of the snapshot is native. */
static void tm__dump_objects(const tm_snapshot *snapshot, tm__dump_frames *frames)
{
    ptrdiff_t i;
    for (i = 0; i < arrlen(snapshot->frames) && !frames->native; i++)
        frames->native = !snapshot->frames[i].filename && snapshot->frames[i].address;
    if (frames->native) tm__list_objects(&frames->objects);
}

static int tm__dump_frames_try(const tm_snapshot *snapshot, tm__dump_frames *frames)
{
    TM__TRY(return -1)
    tm__dump_frames_build(snapshot, frames);
    TM__END_TRY;
    return 0;
}

TM__API int tm_snapshot_dump(const tm_snapshot *snapshot, const char *path)
{
    char tmp[4096 + 32];
    int has_number, status, outer_busy = tm__busy;
    tm__dump_frames frames;
    static unsigned long dumps;
    if (!snapshot || !path || tm__expand_path(path, 0, tmp, 4096, &has_number)) return -1;
    /* unique per call: threads may dump to one path at once */
    sprintf(tmp + strlen(tmp), ".tmp.%ld.%lu", (long)getpid(), __atomic_add_fetch(&dumps, 1, __ATOMIC_RELAXED));
    memset(&frames, 0, sizeof frames);
    tm__busy = 1; /* the C library may allocate for the file: not a traced allocation */
    tm__dump_objects(snapshot, &frames); /* before stb_lock: it takes the loader's lock */
    tm__spin_lock(&tm__state.stb_lock);
    status = frames.objects.failed ? -1 : tm__dump_frames_try(snapshot, &frames);
    tm__spin_unlock(&tm__state.stb_lock);
    if (status == 0) status = tm__write_file(tmp, snapshot, &frames);
    if (status == 0) status = tm__publish(tmp, path);
    if (status) unlink(tmp);
    hmfree(frames.ids);
    arrfree(frames.unique);
    arrfree(frames.of_frame);
    shfree(frames.string_ids);
    arrfree(frames.extra);
    tm__module_list_free(&frames.objects);
    tm__busy = outer_busy;
    return status;
}

/* ---------------------------------------------------------------------------------------------- */
/* Environment: TRACEMALLOC=N starts tracing before main; TRACEMALLOC_DUMP=path dumps at exit.     */
/* ---------------------------------------------------------------------------------------------- */
static void tm__dump_at_exit(void)
{
    const char *path = getenv("TRACEMALLOC_DUMP");
    tm_snapshot *snapshot;
    if (!path || !*path || !tm_is_tracing()) return;
    snapshot = tm_take_snapshot();
    if (!snapshot || tm_snapshot_dump(snapshot, path))
        fprintf(stderr, "tracemalloc: %s: cannot write the dump at exit\n", path);
    tm_snapshot_free(snapshot);
}

/* TRACEMALLOC_UNWIND=auto|fp|dwarf, read before TRACEMALLOC starts tracing. */
static void tm__unwind_from_environment(void)
{
    static const char *const names[3] = {"auto", "fp", "dwarf"}; /* TM_UNWIND_AUTO, _FP, _DWARF */
    const char *unwind = getenv("TRACEMALLOC_UNWIND");
    int mode;
    if (!unwind || !*unwind) return;
    for (mode = 0; mode < 3 && strcmp(unwind, names[mode]); mode++) {
    }
    if (mode == 3) fprintf(stderr, "tracemalloc: TRACEMALLOC_UNWIND=%s: expected auto, fp or dwarf\n", unwind);
    else tm_set_unwind(mode);
}

__attribute__((constructor)) static void tm__start_from_environment(void)
{
    const char *limit = getenv("TRACEMALLOC"), *dump = getenv("TRACEMALLOC_DUMP");
    const char *timeline = getenv("TRACEMALLOC_TIMELINE");
    if (timeline && *timeline) {
        if (strcmp(timeline, "0") && strcmp(timeline, "1"))
            fprintf(stderr, "tracemalloc: TRACEMALLOC_TIMELINE=%s: expected 0 (off) or 1 (on)\n", timeline);
        else
            tm_set_timeline(*timeline == '1');
    }
    tm__unwind_from_environment();
    if (limit && *limit) {
        char *end;
        long n = strtol(limit, &end, 10);
        if (*end || n < 0 || n > TM_MAX_NFRAME)
            fprintf(stderr, "tracemalloc: TRACEMALLOC=%s: expected a traceback limit, 1..%d\n", limit, TM_MAX_NFRAME);
        else if (n > 0)
            tm_start((int)n);
    }
    if (dump && *dump) atexit(tm__dump_at_exit);
}

#pragma GCC diagnostic pop
#ifdef TM__TYPEOF_DEFINED
#undef typeof
#undef TM__TYPEOF_DEFINED
#endif
#endif /* TRACEMALLOC_IMPLEMENTATION */
/* ---------------------------------------------------------------------------------------------- */
/* TRACEMALLOC_OVERRIDE: the malloc family in this file records its call site. Re-armed on every  */
/* include; the system headers come first, so their own declarations are not rewritten.           */
/* ---------------------------------------------------------------------------------------------- */
#ifdef TRACEMALLOC_OVERRIDE
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#undef malloc
#undef calloc
#undef realloc
#undef free
#undef strdup
#undef strndup
#undef reallocarray
#undef aligned_alloc
#undef posix_memalign
#undef memalign
#undef valloc
#undef pvalloc
#define malloc(size) tm__keep(tm_malloc_at((size), __FILE__, __LINE__, __func__))
#define calloc(count, size) tm__keep(tm_calloc_at((count), (size), __FILE__, __LINE__, __func__))
#define realloc(ptr, size) tm__keep(tm_realloc_at((ptr), (size), __FILE__, __LINE__, __func__))
#define free(ptr) tm_free(ptr)
#define strdup(s) tm__keep_string(tm_strdup_at((s), __FILE__, __LINE__, __func__))
#define strndup(s, n) tm__keep_string(tm_strndup_at((s), (n), __FILE__, __LINE__, __func__))
#define reallocarray(ptr, count, size) \
    tm__keep(tm_reallocarray_at((ptr), (count), (size), __FILE__, __LINE__, __func__))
#define aligned_alloc(alignment, size) tm__keep(tm_aligned_alloc_at((alignment), (size), __FILE__, __LINE__, __func__))
#define posix_memalign(out, alignment, size) \
    tm__keep_int(tm_posix_memalign_at((out), (alignment), (size), __FILE__, __LINE__, __func__))
#define memalign(alignment, size) tm__keep(tm_memalign_at((alignment), (size), __FILE__, __LINE__, __func__))
#define valloc(size) tm__keep(tm_valloc_at((size), __FILE__, __LINE__, __func__))
#define pvalloc(size) tm__keep(tm_pvalloc_at((size), __FILE__, __LINE__, __func__))
#endif /* TRACEMALLOC_OVERRIDE */

/*
------------------------------------------------------------------------------
This software is available under 2 licenses -- choose whichever you prefer.
------------------------------------------------------------------------------
ALTERNATIVE A - MIT License
Copyright (c) 2026 the tracemalloc authors
Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions: The above copyright notice and this
permission notice shall be included in all copies or substantial portions of the Software.
THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
------------------------------------------------------------------------------
ALTERNATIVE B - Public Domain (www.unlicense.org)
Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software, either
in source code form or as a compiled binary, for any purpose, commercial or non-commercial, and by
any means.
------------------------------------------------------------------------------
*/

