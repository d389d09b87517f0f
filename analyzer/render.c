/* render.c - text (CPython's exact strings), csv and json; see render.h and docs/OUTPUT.md. */
#define _DEFAULT_SOURCE /* strdup, gmtime_r, under -std=c11 */
#include "render.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linecache.h"
#include "tokenize.h"
#include "stb_ds.h"

void render_size(char *buffer, size_t length, double size, int sign)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    for (int i = 0; i < 5; i++) {
        if (fabs(size) < 100 && i > 0) { /* 3 digits: xx.x UNIT */
            snprintf(buffer, length, sign ? "%+.1f %s" : "%.1f %s", size, units[i]);
            return;
        }
        if (fabs(size) < 10 * 1024 || i == 4) { /* 4 or 5 digits: xxxx UNIT */
            snprintf(buffer, length, sign ? "%+.0f %s" : "%.0f %s", size, units[i]);
            return;
        }
        size /= 1024;
    }
}

/* "    line\n" when linecache has the (stripped) line, as Traceback.format() and the `top`
   recipe print it; a line may hold NULs. */
static void write_source_line(const char *filename, int64_t lineno, FILE *out)
{
    size_t len;
    const char *line = linecache_getline(filename, lineno, &len);
    if (len) {
        fputs("    ", out);
        fwrite(line, 1, len, out);
        fputc('\n', out);
    }
}

/* ---- statistics --------------------------------------------------------------------------- */

struct frame {
    char *filename;
    int64_t lineno;
    char *function; /* NULL when unknown */
};

/* One statistic, gathered from its consecutive rows. */
struct statistic {
    int64_t n, size, count, size_diff, count_diff, temporaries;
    struct frame *frames; /* stb_ds array, oldest first */
};

static char *copy_text(sqlite3_stmt *stmt, int column)
{
    const char *text = (const char *)sqlite3_column_text(stmt, column);
    return text ? strdup(text) : NULL;
}

static void clear_statistic(struct statistic *s)
{
    for (ptrdiff_t i = 0; i < arrlen(s->frames); i++) {
        free(s->frames[i].filename);
        free(s->frames[i].function);
    }
    arrfree(s->frames);
}

static void write_text(const struct statistic *s, unsigned flags, FILE *out)
{
    char size[32], diff[32], average[32];
    const struct frame *f = &s->frames[0]; /* str(Traceback) is its oldest frame */
    render_size(size, sizeof size, (double)s->size, 0);
    if (flags & RENDER_DIFF) {
        render_size(diff, sizeof diff, (double)s->size_diff, 1);
        fprintf(out, "%s:%lld: size=%s (%s), count=%lld (%+lld)", f->filename, (long long)f->lineno,
                size, diff, (long long)s->count, (long long)s->count_diff);
    } else {
        fprintf(out, "%s:%lld: size=%s, count=%lld", f->filename, (long long)f->lineno, size,
                (long long)s->count);
    }
    if (s->count) {
        render_size(average, sizeof average, (double)s->size / (double)s->count, 0);
        fprintf(out, ", average=%s", average);
    }
    if (flags & RENDER_TEMPORARIES)
        fprintf(out, ", temporaries=%lld", (long long)s->temporaries);
    fputc('\n', out);
    if (!(flags & RENDER_TRACEBACK))
        return;
    for (ptrdiff_t i = 0; i < arrlen(s->frames); i++) { /* Traceback.format() */
        fprintf(out, "  File \"%s\", line %lld\n", s->frames[i].filename, (long long)s->frames[i].lineno);
        write_source_line(s->frames[i].filename, s->frames[i].lineno, out);
    }
}

/* RFC 4180: quoted when it holds a comma, a quote, CR or LF; quotes doubled. */
static void write_csv_field(const char *text, FILE *out)
{
    if (!text[strcspn(text, ",\"\r\n")]) {
        fputs(text, out);
        return;
    }
    fputc('"', out);
    for (; *text; text++) {
        if (*text == '"')
            fputc('"', out);
        fputc(*text, out);
    }
    fputc('"', out);
}

static void write_csv(const struct statistic *s, unsigned flags, FILE *out)
{
    const struct frame *recent = &s->frames[arrlen(s->frames) - 1];
    if (flags & RENDER_DIFF)
        fprintf(out, "%lld,%lld,%lld,%lld,", (long long)s->size, (long long)s->size_diff,
                (long long)s->count, (long long)s->count_diff);
    else
        fprintf(out, "%lld,%lld,", (long long)s->size, (long long)s->count);
    if (flags & RENDER_TEMPORARIES)
        fprintf(out, "%lld,", (long long)s->temporaries);
    write_csv_field(recent->filename, out);
    fprintf(out, ",%lld,", (long long)recent->lineno);
    sqlite3_str *traceback = sqlite3_str_new(NULL);
    for (ptrdiff_t i = 0; i < arrlen(s->frames); i++)
        sqlite3_str_appendf(traceback, "%s%s:%lld", i ? ";" : "", s->frames[i].filename,
                            (long long)s->frames[i].lineno);
    char *text = sqlite3_str_finish(traceback);
    write_csv_field(text ? text : "", out);
    sqlite3_free(text);
    fputc('\n', out);
}

/* A JSON string: `"` and `\` escaped, control characters as \u00xx, each byte that is not
   part of valid UTF-8 as \uFFFD. NULL is null. */
static void write_json_string(const char *text, FILE *out)
{
    if (!text) {
        fputs("null", out);
        return;
    }
    const unsigned char *s = (const unsigned char *)text;
    size_t left = strlen(text);
    uint32_t code_point;
    fputc('"', out);
    while (*s) {
        int len;
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s), len = 1;
        else if (*s < 0x20)
            fprintf(out, "\\u%04x", *s), len = 1;
        else if (*s < 0x80)
            fputc(*s, out), len = 1;
        else if ((len = utf8_char((const char *)s, left, &code_point)) > 0)
            fwrite(s, 1, (size_t)len, out);
        else
            fputs("\\uFFFD", out), len = 1;
        s += len;
        left -= (size_t)len;
    }
    fputc('"', out);
}

static void write_json(const struct statistic *s, unsigned flags, FILE *out)
{
    if (flags & RENDER_DIFF)
        fprintf(out, "{\"size\":%lld,\"size_diff\":%lld,\"count\":%lld,\"count_diff\":%lld,",
                (long long)s->size, (long long)s->size_diff, (long long)s->count,
                (long long)s->count_diff);
    else
        fprintf(out, "{\"size\":%lld,\"count\":%lld,", (long long)s->size, (long long)s->count);
    if (flags & RENDER_TEMPORARIES)
        fprintf(out, "\"temporaries\":%lld,", (long long)s->temporaries);
    fputs("\"traceback\":[", out);
    for (ptrdiff_t i = 0; i < arrlen(s->frames); i++) {
        fputs(i ? ",{\"filename\":" : "{\"filename\":", out);
        write_json_string(s->frames[i].filename, out);
        fprintf(out, ",\"lineno\":%lld,\"function\":", (long long)s->frames[i].lineno);
        write_json_string(s->frames[i].function, out);
        fputc('}', out);
    }
    fputs("]}", out);
}

static void write_statistic(const struct statistic *s, enum render_style style, unsigned flags,
                            int64_t index, FILE *out)
{
    if (style == STYLE_TEXT) {
        write_text(s, flags, out);
    } else if (style == STYLE_CSV) {
        write_csv(s, flags, out);
    } else {
        if (index > 0)
            fputc(',', out);
        write_json(s, flags, out);
    }
}

/* Steps the statement, handing each complete statistic to emit. */
static int each_statistic(sqlite3_stmt *stmt, void (*emit)(const struct statistic *, void *),
                          void *context)
{
    struct statistic s = {0};
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(stmt, 0);
        if (arrlen(s.frames) > 0 && n != s.n) {
            emit(&s, context);
            clear_statistic(&s);
        }
        s.n = n;
        s.size = sqlite3_column_int64(stmt, 1);
        s.count = sqlite3_column_int64(stmt, 2);
        s.size_diff = sqlite3_column_int64(stmt, 3);
        s.count_diff = sqlite3_column_int64(stmt, 4);
        s.temporaries = sqlite3_column_int64(stmt, 8);
        struct frame f = {copy_text(stmt, 5), sqlite3_column_int64(stmt, 6), copy_text(stmt, 7)};
        if (!f.filename)
            f.filename = strdup("");
        arrput(s.frames, f);
    }
    if (rc == SQLITE_DONE && arrlen(s.frames) > 0)
        emit(&s, context);
    clear_statistic(&s);
    return rc;
}

struct statistics_output {
    enum render_style style;
    unsigned flags;
    int64_t written;
    FILE *out;
};

static void emit_statistic(const struct statistic *s, void *context)
{
    struct statistics_output *o = context;
    write_statistic(s, o->style, o->flags, o->written++, o->out);
}

int render_statistics(sqlite3_stmt *stmt, enum render_style style, unsigned flags, FILE *out)
{
    struct statistics_output o = {style, flags, 0, out};
    if (style == STYLE_CSV)
        fputs(flags & RENDER_DIFF ? "size,size_diff,count,count_diff,filename,lineno,traceback\n"
              : flags & RENDER_TEMPORARIES ? "size,count,temporaries,filename,lineno,traceback\n"
                                           : "size,count,filename,lineno,traceback\n", out);
    if (style == STYLE_JSON)
        fputc('[', out);
    int rc = each_statistic(stmt, emit_statistic, &o);
    if (style == STYLE_JSON)
        fputs("]\n", out);
    return rc;
}

/* ---- top ---------------------------------------------------------------------------------- */

struct top_output {
    int64_t limit, index, other_count, other_size, total;
    FILE *out;
};

static void emit_top(const struct statistic *s, void *context)
{
    struct top_output *t = context;
    const struct frame *f = &s->frames[0];
    t->total += s->size;
    if (++t->index > t->limit) {
        t->other_count++;
        t->other_size += s->size;
        return;
    }
    fprintf(t->out, "#%lld: %s:%lld: %.1f KiB\n", (long long)t->index, f->filename,
            (long long)f->lineno, (double)s->size / 1024);
    write_source_line(f->filename, f->lineno, t->out);
}

int render_top(sqlite3_stmt *stmt, int64_t limit, FILE *out)
{
    struct top_output t = {limit, 0, 0, 0, 0, out};
    fprintf(out, "Top %lld lines\n", (long long)limit);
    int rc = each_statistic(stmt, emit_top, &t);
    if (t.other_count)
        fprintf(out, "%lld other: %.1f KiB\n", (long long)t.other_count, (double)t.other_size / 1024);
    fprintf(out, "Total allocated size: %.1f KiB\n", (double)t.total / 1024);
    return rc;
}

/* ---- any statement, for `sql` ------------------------------------------------------------- */

static void write_blob_hex(const unsigned char *p, int n, FILE *out)
{
    for (int i = 0; i < n; i++)
        fprintf(out, "%02X", p[i]);
}

/* One value as text: NULL empty, a blob as X'hex', the rest as SQLite converts it. */
static void write_plain_value(sqlite3_stmt *stmt, int i, enum render_style style, FILE *out)
{
    int type = sqlite3_column_type(stmt, i);
    if (type == SQLITE_NULL)
        return;
    if (type == SQLITE_BLOB) {
        fputs("X'", out);
        write_blob_hex(sqlite3_column_blob(stmt, i), sqlite3_column_bytes(stmt, i), out);
        fputc('\'', out);
    } else if (style == STYLE_CSV) {
        write_csv_field((const char *)sqlite3_column_text(stmt, i), out);
    } else {
        fputs((const char *)sqlite3_column_text(stmt, i), out);
    }
}

/* The shortest %g form that reads back as the same double (0.1, not 0.10000000000000001). */
static void write_shortest(double d, FILE *out)
{
    char text[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, d);
        if (strtod(text, NULL) == d)
            break;
    }
    fputs(text, out);
}

static void write_json_value(sqlite3_stmt *stmt, int i, FILE *out)
{
    double d;
    switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
        fprintf(out, "%lld", (long long)sqlite3_column_int64(stmt, i));
        break;
    case SQLITE_FLOAT:
        d = sqlite3_column_double(stmt, i);
        if (isfinite(d))
            write_shortest(d, out);
        else
            fputs("null", out);
        break;
    case SQLITE_TEXT:
        write_json_string((const char *)sqlite3_column_text(stmt, i), out);
        break;
    case SQLITE_BLOB:
        fputc('"', out);
        write_blob_hex(sqlite3_column_blob(stmt, i), sqlite3_column_bytes(stmt, i), out);
        fputc('"', out);
        break;
    default:
        fputs("null", out);
    }
}

static void write_header(sqlite3_stmt *stmt, enum render_style style, FILE *out)
{
    int n = sqlite3_column_count(stmt);
    for (int i = 0; i < n; i++) {
        if (i)
            fputc(style == STYLE_CSV ? ',' : '|', out);
        if (style == STYLE_CSV)
            write_csv_field(sqlite3_column_name(stmt, i), out);
        else
            fputs(sqlite3_column_name(stmt, i), out);
    }
    if (n)
        fputc('\n', out);
}

int render_table(sqlite3_stmt *stmt, enum render_style style, FILE *out)
{
    int n = sqlite3_column_count(stmt), rc;
    int64_t rows = 0;
    if (style == STYLE_JSON)
        fputc('[', out);
    else
        write_header(stmt, style, out);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (style == STYLE_JSON)
            fputs(rows ? ",{" : "{", out);
        for (int i = 0; i < n; i++) {
            if (style == STYLE_JSON) {
                if (i)
                    fputc(',', out);
                write_json_string(sqlite3_column_name(stmt, i), out);
                fputc(':', out);
                write_json_value(stmt, i, out);
            } else {
                if (i)
                    fputc(style == STYLE_CSV ? ',' : '|', out);
                write_plain_value(stmt, i, style, out);
            }
        }
        fputs(style == STYLE_JSON ? "}" : "\n", out);
        rows++;
    }
    if (style == STYLE_JSON)
        fputs("]\n", out);
    return rc;
}

/* ---- info --------------------------------------------------------------------------------- */

static void write_time(int64_t ns, FILE *out)
{
    time_t seconds = (time_t)(ns / 1000000000);
    struct tm tm;
    char text[64];
    if (ns < 0 || !gmtime_r(&seconds, &tm) || !strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm)) {
        fprintf(out, "%lld ns", (long long)ns);
        return;
    }
    fprintf(out, "%s.%09lldZ", text, (long long)(ns % 1000000000));
}

int render_info(sqlite3_stmt *stmt, FILE *out)
{
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(stmt, 0);
        const char *kind = (const char *)sqlite3_column_text(stmt, 2);
        int64_t value = sqlite3_column_int64(stmt, 1);
        char size[32], plain[32];
        fprintf(out, "%s: ", name ? name : "");
        if (kind && strcmp(kind, "text") == 0) {
            const char *text = (const char *)sqlite3_column_text(stmt, 1);
            fputs(text ? text : "(none)", out);
        } else if (kind && strcmp(kind, "bytes") == 0) {
            render_size(size, sizeof size, (double)value, 0);
            snprintf(plain, sizeof plain, "%lld B", (long long)value);
            fprintf(out, strcmp(size, plain) ? "%s (%s)" : "%s", plain, size);
        } else if (kind && strcmp(kind, "time_ns") == 0) {
            write_time(value, out);
        } else if (kind && strcmp(kind, "duration_ns") == 0) {
            fprintf(out, "%s%lld.%09lld s", value < 0 ? "-" : "", llabs(value / 1000000000),
                    llabs(value % 1000000000));
        } else {
            fprintf(out, "%lld", (long long)value);
        }
        fputc('\n', out);
    }
    return rc;
}
