/* linecache.c - Python's linecache.getline(...).strip(); see linecache.h. */
#define _DEFAULT_SOURCE /* strdup (in stb_ds), under -std=c11 */
#include "linecache.h"
#include "tokenize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"

/* A file's lines, each stripped, pointing into text (they may hold NULs: Python's do). */
struct line {
    const char *text;
    size_t len;
};

struct lines {
    char *text;         /* the whole file, decoded to UTF-8 */
    struct line *lines; /* stb_ds array */
};

/* File name -> lines: an stb_ds string hash map that owns copies of its keys (shput copies
   the key; shputs would store the caller's pointer over the copy). */
static struct source {
    char *key;
    struct lines value;
} *cache;

/* Python's str.isspace() for one code point. */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0
        || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029
        || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* str.strip(): Python whitespace off both ends of a line of valid UTF-8. */
static struct line strip(const char *s, size_t n)
{
    size_t start = 0, end = 0, i = 0;
    uint32_t cp;
    int seen = 0;
    while (i < n) {
        size_t len = (size_t)utf8_char(s + i, n - i, &cp);
        if (!is_space(cp)) {
            if (!seen)
                start = i, seen = 1;
            end = i + len;
        }
        i += len;
    }
    return (struct line){s + start, seen ? end - start : 0};
}

/* Splits on "\r\n", "\r" and "\n" (Python's universal newlines). */
static void split_lines(struct lines *src, size_t n)
{
    const char *p = src->text, *end = src->text + n;
    while (p < end) {
        const char *line = p;
        while (p < end && *p != '\n' && *p != '\r')
            p++;
        arrput(src->lines, strip(line, (size_t)(p - line)));
        if (p < end)
            p += *p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1;
    }
}

/* The file's bytes in a new buffer (the caller frees it), their number in *n; NULL when it
   cannot be read (Python's OSError: no lines). */
static char *read_file(const char *filename, size_t *n)
{
    FILE *f = fopen(filename, "rb");
    if (!f)
        return NULL;
    size_t cap = 0, got;
    char *text = NULL;
    *n = 0;
    do {
        if (*n == cap) {
            char *bigger = realloc(text, cap = cap ? 2 * cap : 65536);
            if (!bigger) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = bigger;
        }
        got = fread(text + *n, 1, cap - *n, f);
        *n += got;
    } while (got > 0);
    if (ferror(f)) { /* a directory, for one */
        free(text);
        text = NULL;
    }
    fclose(f);
    return text;
}

static void load(struct lines *src, const char *filename)
{
    size_t n = strlen(filename);
    /* Python's linecache never reads "<string>"-style names. */
    if (n == 0 || (filename[0] == '<' && filename[n - 1] == '>'))
        return;
    char *bytes = read_file(filename, &n);
    if (!bytes)
        return;
    src->text = tokenize_open(bytes, n, &n);
    free(bytes);
    if (src->text)
        split_lines(src, n);
}

const char *linecache_getline(const char *filename, int64_t lineno, size_t *len)
{
    if (!cache) /* before any lookup: a lookup on NULL makes a map that keeps callers' keys */
        sh_new_strdup(cache);
    ptrdiff_t i = shgeti(cache, filename);
    if (i < 0) {
        struct lines src = {0};
        load(&src, filename);
        shput(cache, filename, src);
        i = shgeti(cache, filename);
    }
    const struct lines *src = &cache[i].value;
    if (lineno < 1 || (uint64_t)lineno > arrlenu(src->lines)) {
        *len = 0;
        return "";
    }
    *len = src->lines[lineno - 1].len;
    return src->lines[lineno - 1].text;
}

void linecache_clear(void)
{
    for (ptrdiff_t i = 0; i < shlen(cache); i++) {
        free(cache[i].value.text);
        arrfree(cache[i].value.lines);
    }
    shfree(cache);
}
