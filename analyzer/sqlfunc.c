/* sqlfunc.c - SQL functions for filters and sorting; see sqlfunc.h. */
#include "sqlfunc.h"

#include <string.h>

#include "fnmatch.h"

void sqlfunc_frame_key(sqlite3_str *out, const char *filename, uint32_t lineno)
{
    unsigned char be[4] = {(unsigned char)(lineno >> 24), (unsigned char)(lineno >> 16),
                           (unsigned char)(lineno >> 8), (unsigned char)lineno};
    sqlite3_str_append(out, filename, (int)strlen(filename) + 1);
    sqlite3_str_append(out, (const char *)be, 4);
}

static void frame_key(sqlite3_context *context, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *filename = (const char *)sqlite3_value_text(argv[0]);
    if (!filename)
        return; /* NULL */
    sqlite3_str *key = sqlite3_str_new(NULL);
    sqlfunc_frame_key(key, filename, (uint32_t)sqlite3_value_int64(argv[1]));
    int n = sqlite3_str_length(key);
    sqlite3_result_blob(context, sqlite3_str_finish(key), n, sqlite3_free);
}

static void free_pattern(void *p)
{
    fnmatch_free(p);
}

/* The compiled pattern of argument i, kept by SQLite for as long as the argument is constant
   (a bound parameter is), so a filter compiles its pattern once per statement. */
static struct fnmatch_pattern *pattern_arg(sqlite3_context *context, sqlite3_value **argv, int i,
                                           int normalize)
{
    struct fnmatch_pattern *p = sqlite3_get_auxdata(context, i);
    if (p)
        return p;
    const char *text = (const char *)sqlite3_value_text(argv[i]);
    size_t length = (size_t)sqlite3_value_bytes(argv[i]);
    if (!text)
        return NULL;
    if (normalize)
        length = fnmatch_normalized_length(text, length);
    p = fnmatch_compile(text, length);
    if (!p) {
        sqlite3_result_error_nomem(context);
        return NULL;
    }
    sqlite3_set_auxdata(context, i, p, free_pattern);
    /* SQLite may have freed p at once (when it cannot keep it): ask again. */
    return sqlite3_get_auxdata(context, i);
}

static void fnmatch_sql(sqlite3_context *context, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    size_t length = (size_t)sqlite3_value_bytes(argv[0]);
    struct fnmatch_pattern *p = pattern_arg(context, argv, 1, 0);
    int own = 0;
    if (!p && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
        /* Not cacheable here: compile for this call only. */
        p = fnmatch_compile((const char *)sqlite3_value_text(argv[1]),
                            (size_t)sqlite3_value_bytes(argv[1]));
        own = 1;
    }
    if (name && p)
        sqlite3_result_int(context, fnmatch_match(p, name, length));
    if (own)
        fnmatch_free(p);
}

static void match_frame(sqlite3_context *context, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *filename = (const char *)sqlite3_value_text(argv[0]);
    size_t length = (size_t)sqlite3_value_bytes(argv[0]);
    struct fnmatch_pattern *p = pattern_arg(context, argv, 2, 1);
    int own = 0;
    if (!p && sqlite3_value_type(argv[2]) != SQLITE_NULL) {
        const char *text = (const char *)sqlite3_value_text(argv[2]);
        p = fnmatch_compile(text, fnmatch_normalized_length(text, (size_t)sqlite3_value_bytes(argv[2])));
        own = 1;
    }
    if (filename && p) {
        int matched = fnmatch_match(p, filename, fnmatch_normalized_length(filename, length));
        if (matched && sqlite3_value_type(argv[3]) != SQLITE_NULL)
            matched = sqlite3_value_int64(argv[1]) == sqlite3_value_int64(argv[3]);
        sqlite3_result_int(context, matched);
    }
    if (own)
        fnmatch_free(p);
}

int sqlfunc_register(sqlite3 *db)
{
    int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    int rc = sqlite3_create_function(db, "frame_key", 2, flags, NULL, frame_key, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "fnmatch", 2, flags, NULL, fnmatch_sql, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(db, "match_frame", 4, flags, NULL, match_frame, NULL, NULL);
    return rc;
}
