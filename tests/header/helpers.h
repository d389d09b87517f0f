/* Shared by the header's behaviour tests: reading the tracker's counters, finding a trace, and
   checking a frame. Include after <cmocka.h> (the assert macros below use it). helpers.c is
   compiled without TRACEMALLOC_OVERRIDE, so nothing here is ever traced. */
#ifndef TESTS_HEADER_HELPERS_H
#define TESTS_HEADER_HELPERS_H

#include <stddef.h>
#include "tracemalloc.h"

/* A cmocka setup/teardown: every test starts and ends with the tracker stopped, so one test's
   traces can never leak into the next one's counters. */
int tracker_stopped(void **state);
#define TEST(f) cmocka_unit_test_setup_teardown(f, tracker_stopped, tracker_stopped)

size_t traced_current(void);
size_t traced_peak(void);

/* The trace of (domain, ptr) in snapshot, or NULL. */
const tm_trace *find_trace(const tm_snapshot *snapshot, unsigned domain, const void *ptr);
size_t snapshot_size(const tm_snapshot *snapshot);

/* A scratch directory under $TMPDIR (or /tmp), created empty; remove_tree() deletes it. */
char *make_scratch_dir(const char *tag);
void remove_tree(const char *dir);
/* Names in dir (not . and ..), and how many contain needle (NULL: all). */
int count_entries(const char *dir, const char *needle);

/* The frame f is the call site file:line in func (func NULL: no function recorded). */
#define assert_frame(f, file, line, func)                       \
    do {                                                        \
        const tm_frame *frame_ = (f);                           \
        assert_non_null(frame_);                                \
        assert_non_null(frame_->filename);                      \
        assert_string_equal(frame_->filename, (file));          \
        assert_int_equal(frame_->lineno, (line));               \
        if ((func) == NULL)                                     \
            assert_null(frame_->function);                      \
        else {                                                  \
            assert_non_null(frame_->function);                  \
            assert_string_equal(frame_->function, (func));      \
        }                                                       \
    } while (0)

/* ptr is traced in the malloc domain, one frame deep, at file:line in func. */
#define assert_traced_at(ptr, file, line, func)                         \
    do {                                                                \
        const tm_traceback *tb_ = tm_get_object_traceback(ptr);         \
        assert_non_null(tb_);                                           \
        assert_int_equal(tb_->nframe, 1);                               \
        assert_int_equal(tb_->total_nframe, 1);                         \
        assert_frame(&tb_->frames[0], (file), (line), (func));          \
    } while (0)

/* ptr is traced in the malloc domain with exactly that many bytes (checked through a snapshot). */
#define assert_traced_size(ptr, bytes)                                   \
    do {                                                                \
        tm_snapshot *snap_ = tm_take_snapshot();                        \
        const tm_trace *trace_;                                         \
        assert_non_null(snap_);                                         \
        trace_ = find_trace(snap_, TM_DOMAIN_MALLOC, (ptr));            \
        assert_non_null(trace_);                                        \
        assert_int_equal(trace_->size, (bytes));                         \
        tm_snapshot_free(snap_);                                        \
    } while (0)

#endif
