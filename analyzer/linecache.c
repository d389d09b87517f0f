/* linecache.c - Python's linecache.getline(...).strip(); see linecache.h. */
#define _DEFAULT_SOURCE /* strdup (in stb_ds), under -std=c11 */
#include "linecache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_DS_IMPLEMENTATION
#include "stb_ds.h"

/* A file's lines, each stripped and NUL-terminated in place. */
struct lines {
    char *text;
    char **lines; /* stb_ds array */
    size_t nline;
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

/* Length of the valid UTF-8 sequence at s (n bytes available) and its code point; 0 if invalid. */
static int utf8_at(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    int len = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
            : c >= 0xF0 && c < 0xF5 ? 4 : 0;
    if (len == 0 || (size_t)len > n)
        return 0;
    uint32_t v = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
    for (int k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[k] & 0x3F);
    }
    if ((len == 3 && (v < 0x800 || (v >= 0xD800 && v < 0xE000)))
        || (len == 4 && (v < 0x10000 || v > 0x10FFFF)))
        return 0;
    *cp = v;
    return len;
}

static int valid_utf8(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int len = utf8_at(s + i, n - i, &cp);
        if (!len)
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/* Strips Python whitespace from both ends of the NUL-terminated line, in place. */
static char *strip(char *line)
{
    unsigned char *s = (unsigned char *)line;
    size_t n = strlen(line), start = 0, end = 0, i = 0;
    uint32_t cp;
    int seen = 0;
    while (i < n) {
        int len = utf8_at(s + i, n - i, &cp);
        if (!is_space(cp)) {
            if (!seen)
                start = i, seen = 1;
            end = i + (size_t)len;
        }
        i += (size_t)len;
    }
    line[seen ? end : 0] = '\0';
    return line + (seen ? start : 0);
}

/* Splits on "\r\n", "\r" and "\n" (Python's universal newlines). */
static void split_lines(struct lines *src, size_t n)
{
    char *p = src->text, *end = src->text + n;
    while (p < end) {
        char *line = p;
        while (p < end && *p != '\n' && *p != '\r')
            p++;
        if (p < end) {
            int crlf = *p == '\r' && p + 1 < end && p[1] == '\n';
            *p = '\0';
            p += crlf ? 2 : 1;
        }
        arrput(src->lines, line);
    }
    for (size_t i = 0; i < arrlenu(src->lines); i++)
        src->lines[i] = strip(src->lines[i]);
    src->nline = arrlenu(src->lines);
}

static void load(struct lines *src, const char *filename)
{
    size_t len = strlen(filename);
    /* Python's linecache never reads "<string>"-style names. */
    if (len == 0 || (filename[0] == '<' && filename[len - 1] == '>'))
        return;
    FILE *f = fopen(filename, "rb");
    if (!f)
        return;
    size_t cap = 0, n = 0, got;
    char *text = NULL;
    do {
        if (n == cap) {
            char *bigger = realloc(text, cap = cap ? 2 * cap : 65536);
            if (!bigger)
                break;
            text = bigger;
        }
        got = fread(text + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    if (!text)
        return;
    /* tokenize.open: a UTF-8 BOM is dropped, and a file that does not decode has no lines. */
    size_t skip = n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    char *room = n == cap ? realloc(text, n + 1) : text;
    if (!room) {
        free(text);
        return;
    }
    text = room;
    text[n] = '\0';
    if (!valid_utf8(text + skip, n - skip)) {
        free(text);
        return;
    }
    memmove(text, text + skip, n - skip + 1);
    src->text = text;
    split_lines(src, n - skip);
}

const char *linecache_getline(const char *filename, int64_t lineno)
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
    if (lineno < 1 || (uint64_t)lineno > src->nline)
        return "";
    return src->lines[lineno - 1];
}

void linecache_clear(void)
{
    for (ptrdiff_t i = 0; i < shlen(cache); i++) {
        free(cache[i].value.text);
        arrfree(cache[i].value.lines);
    }
    shfree(cache);
}
