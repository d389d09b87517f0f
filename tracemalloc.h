/* tracemalloc.h - v0.1.0 - Python's tracemalloc for C - public domain or MIT (see end of file)

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

   tm_snapshot *tm_take_snapshot(void)      NULL when not tracing or out of memory
   size_t tm_snapshot_traces(const tm_snapshot *, const tm_trace **traces)
   int    tm_snapshot_set_label(tm_snapshot *, const char *label)
   int    tm_snapshot_dump(const tm_snapshot *, const char *path)   atomic; %p pid, %n counter
   void   tm_snapshot_free(tm_snapshot *)

   int    tm_track(unsigned domain, const void *ptr, size_t size)   (a macro: frame = call site)
   int    tm_untrack(unsigned domain, const void *ptr)
   int    tm_track_frames(unsigned domain, const void *ptr, size_t size,
                          const tm_frame *frames, int nframe)        frames most recent first

   void  *tm_malloc_at(size_t size, const char *file, unsigned line, const char *func)
          ... and tm_calloc_at, tm_realloc_at, tm_strdup_at, tm_strndup_at, tm_reallocarray_at,
          tm_aligned_alloc_at, tm_posix_memalign_at, tm_memalign_at, tm_valloc_at,
          tm_pvalloc_at, each with the same three trailing arguments; and tm_free(ptr).

ENVIRONMENT
   TRACEMALLOC=N        start tracing with traceback limit N when the program starts
   TRACEMALLOC_DUMP=path
                        write a snapshot to path at exit (%p: pid, %n: a counter that names
                        no existing file, %%: a percent sign)

REVISION HISTORY
   0.1.0  (2026-11-25) first release: call-site tracing, domains, snapshots, dump format 1
*/
#ifndef TRACEMALLOC_H_INCLUDED
#define TRACEMALLOC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define TM_VERSION_MAJOR 0
#define TM_VERSION_MINOR 1
#define TM_VERSION_PATCH 0

#ifdef TRACEMALLOC_STATIC
#define TMDEF static
#else
#define TMDEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* One frame of a traceback. filename and function point to strings the tracker owns. */
typedef struct tm_frame {
    const char *filename;
    unsigned lineno;
    const char *function; /* NULL when unknown */
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
#define tm_track(domain, ptr, size) tm_track_at((domain), (ptr), (size), __FILE__, __LINE__, __func__)

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
#define TM_DUMP_VERSION 1u
#define TM_DUMP_HEADER_SIZE 16u  /* magic, u32 version, u32 flags */
#define TM_DUMP_SECTION_SIZE 16u /* u32 tag, u32 flags, u64 length */
#define TM_DUMP_END_SIZE 20u     /* the end section: its header and a u32 CRC-32 */
#define TM_DUMP_META_SIZE 64u
#define TM_DUMP_FRAME_SIZE 16u
#define TM_DUMP_TRACE_SIZE 24u
#define TM_DUMP_REQUIRED 1u      /* section flag: a reader that does not know the tag refuses */
#define TM_DUMP_NONE 0xFFFFFFFFu /* "no string" */
#define TM_DUMP_FRAME_SOURCE 0u
#define TM_DUMP_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TM_DUMP_TAG_STRS TM_DUMP_TAG('S', 'T', 'R', 'S')
#define TM_DUMP_TAG_META TM_DUMP_TAG('M', 'E', 'T', 'A')
#define TM_DUMP_TAG_FRMS TM_DUMP_TAG('F', 'R', 'M', 'S')
#define TM_DUMP_TAG_TBKS TM_DUMP_TAG('T', 'B', 'K', 'S')
#define TM_DUMP_TAG_TRCS TM_DUMP_TAG('T', 'R', 'C', 'S')
#define TM_DUMP_TAG_END TM_DUMP_TAG('E', 'N', 'D', ' ')

#ifdef __cplusplus
}
#endif
#endif /* TRACEMALLOC_H_INCLUDED */
