/* fnmatch.c - Python's fnmatch.fnmatch; see fnmatch.h.

   CPython compiles a pattern to a regular expression whose `*`s never need more than the usual
   glob backtracking (its atomic groups take the first match of each fixed piece, which is also
   what a glob matcher's "retry after the last star" finds). So the pattern becomes tokens - a
   code point, any code point, a set, a star - and one loop matches them. Sets follow translate()
   step by step, since its range handling is where implementations differ. */
#include "fnmatch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TOKEN_CHAR, TOKEN_ANY, TOKEN_SET, TOKEN_STAR };
enum { SET_ITEMS, SET_ANY, SET_NEVER };

struct token {
    int kind;
    uint32_t c;   /* TOKEN_CHAR: the code point; TOKEN_SET: the set's index */
};

struct set {
    int mode, negate;
    size_t first, count; /* its ranges in pattern->ranges */
};

struct range {
    uint32_t lo, hi;
};

struct fnmatch_pattern {
    struct token *tokens;
    size_t ntoken;
    struct set *sets;
    size_t nset;
    struct range *ranges;
    size_t nrange;
};

/* Decodes UTF-8 to code points; a byte that starts no valid sequence becomes U+DC80 + byte,
   as Python's surrogateescape. out must hold n code points. Returns how many. */
static size_t decode(const char *text, size_t n, uint32_t *out)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t count = 0, i = 0;
    while (i < n) {
        unsigned c = s[i];
        int len = c < 0x80 ? 1 : c >= 0xC2 && c < 0xE0 ? 2 : c >= 0xE0 && c < 0xF0 ? 3
                : c >= 0xF0 && c < 0xF5 ? 4 : 0;
        uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
        int ok = len > 0 && i + (size_t)len <= n;
        for (int k = 1; ok && k < len; k++) {
            ok = (s[i + k] & 0xC0) == 0x80;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid. */
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp < 0xE000)))
                   || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = 0;
        if (ok) {
            out[count++] = cp;
            i += (size_t)len;
        } else {
            out[count++] = 0xDC00 + c;
            i++;
        }
    }
    return count;
}

/* One element of a set's text while translate() works on it: a code point, or the `-` that
   joins two chunks into a range. */
struct element {
    uint32_t c;
    int joins;
};

/* translate()'s chunking of the set text pat[i..j) (which contains a `-`): split at the `-`s
   that make ranges, then drop the empty ranges from the right. Returns the element count. */
static size_t chunk_set(const uint32_t *pat, size_t i, size_t j, struct element *out)
{
    size_t n = 0;
    size_t k = pat[i] == '!' ? i + 2 : i + 1;
    for (;;) {
        while (k < j && pat[k] != '-')
            k++;
        if (k >= j)
            break;
        for (size_t m = i; m < k; m++)
            out[n++] = (struct element){pat[m], 0};
        out[n++] = (struct element){'-', 1};
        i = k + 1;
        k = k + 3;
    }
    if (i < j)
        for (size_t m = i; m < j; m++)
            out[n++] = (struct element){pat[m], 0};
    else
        out[n - 1].joins = 0; /* "chunks[-1] += '-'": the last `-` is a plain one */
    for (size_t m = n; m-- > 0;) {
        if (!out[m].joins || m == 0 || m + 1 >= n)
            continue;
        if (out[m - 1].c > out[m + 1].c) { /* an empty range: remove it with its ends */
            memmove(&out[m - 1], &out[m + 2], (n - m - 2) * sizeof *out);
            n -= 3;
            m--;
        }
    }
    return n;
}

/* Builds the set for pat[i..j) (between `[` and `]`) as translate() would. */
static void add_set(struct fnmatch_pattern *p, const uint32_t *pat, size_t i, size_t j,
                    struct element *scratch)
{
    size_t n = 0;
    int has_dash = 0;
    for (size_t m = i; m < j; m++)
        has_dash |= pat[m] == '-';
    if (has_dash)
        n = chunk_set(pat, i, j, scratch);
    else
        for (size_t m = i; m < j; m++)
            scratch[n++] = (struct element){pat[m], 0};
    struct set *set = &p->sets[p->nset];
    *set = (struct set){SET_ITEMS, 0, p->nrange, 0};
    p->tokens[p->ntoken++] = (struct token){TOKEN_SET, (uint32_t)p->nset++};
    if (n == 0) {
        set->mode = SET_NEVER;
        return;
    }
    if (n == 1 && scratch[0].c == '!' && !scratch[0].joins) {
        set->mode = SET_ANY;
        return;
    }
    size_t m = 0;
    if (scratch[0].c == '!' && !scratch[0].joins)
        set->negate = 1, m = 1;
    while (m < n) {
        uint32_t lo = scratch[m].c, hi = lo;
        if (m + 2 < n && scratch[m + 1].joins && !scratch[m].joins) {
            hi = scratch[m + 2].c;
            m += 3;
        } else {
            m++;
        }
        p->ranges[p->nrange++] = (struct range){lo, hi};
        set->count++;
    }
}

/* Where the set starting after the `[` at i ends (the index of its `]`), or n if it has none. */
static size_t set_end(const uint32_t *pat, size_t i, size_t n)
{
    size_t j = i;
    if (j < n && pat[j] == '!')
        j++;
    if (j < n && pat[j] == ']')
        j++;
    while (j < n && pat[j] != ']')
        j++;
    return j;
}

static void tokenize(struct fnmatch_pattern *p, const uint32_t *pat, size_t n, struct element *scratch)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = pat[i++];
        if (c == '*') {
            if (p->ntoken == 0 || p->tokens[p->ntoken - 1].kind != TOKEN_STAR)
                p->tokens[p->ntoken++] = (struct token){TOKEN_STAR, 0};
        } else if (c == '?') {
            p->tokens[p->ntoken++] = (struct token){TOKEN_ANY, 0};
        } else if (c == '[' && set_end(pat, i, n) < n) {
            size_t j = set_end(pat, i, n);
            add_set(p, pat, i, j, scratch);
            i = j + 1;
        } else {
            p->tokens[p->ntoken++] = (struct token){TOKEN_CHAR, c};
        }
    }
}

struct fnmatch_pattern *fnmatch_compile(const char *pattern, size_t length)
{
    struct fnmatch_pattern *p = calloc(1, sizeof *p);
    uint32_t *pat = malloc((length + 1) * sizeof *pat);
    struct element *scratch = malloc((length + 1) * sizeof *scratch);
    if (p) {
        p->tokens = malloc((length + 1) * sizeof *p->tokens);
        p->sets = malloc((length + 1) * sizeof *p->sets);
        p->ranges = malloc((length + 1) * sizeof *p->ranges);
    }
    if (!p || !pat || !scratch || !p->tokens || !p->sets || !p->ranges) {
        free(pat);
        free(scratch);
        fnmatch_free(p);
        return NULL;
    }
    size_t n = decode(pattern, length, pat);
    tokenize(p, pat, n, scratch);
    free(pat);
    free(scratch);
    return p;
}

static int set_has(const struct fnmatch_pattern *p, const struct set *set, uint32_t c)
{
    if (set->mode != SET_ITEMS)
        return set->mode == SET_ANY;
    int found = 0;
    for (size_t i = set->first; i < set->first + set->count && !found; i++)
        found = p->ranges[i].lo <= c && c <= p->ranges[i].hi;
    return found != set->negate;
}

static int token_matches(const struct fnmatch_pattern *p, const struct token *t, uint32_t c)
{
    switch (t->kind) {
    case TOKEN_CHAR: return t->c == c;
    case TOKEN_ANY: return 1;
    default: return set_has(p, &p->sets[t->c], c);
    }
}

/* Glob matching with backtracking to the last star only: enough because every other token
   matches exactly one code point. */
static int match_tokens(const struct fnmatch_pattern *p, const uint32_t *s, size_t n)
{
    size_t t = 0, i = 0, star = (size_t)-1, star_i = 0;
    while (i < n) {
        if (t < p->ntoken && p->tokens[t].kind == TOKEN_STAR) {
            star = t++;
            star_i = i;
        } else if (t < p->ntoken && token_matches(p, &p->tokens[t], s[i])) {
            t++, i++;
        } else if (star != (size_t)-1) {
            t = star + 1;
            i = ++star_i;
        } else {
            return 0;
        }
    }
    while (t < p->ntoken && p->tokens[t].kind == TOKEN_STAR)
        t++;
    return t == p->ntoken;
}

int fnmatch_match(const struct fnmatch_pattern *p, const char *name, size_t length)
{
    uint32_t small[256], *s = length < 256 ? small : malloc((length + 1) * sizeof *s);
    if (!s)
        return 0;
    int matched = match_tokens(p, s, decode(name, length, s));
    if (s != small)
        free(s);
    return matched;
}

void fnmatch_free(struct fnmatch_pattern *p)
{
    if (!p)
        return;
    free(p->tokens);
    free(p->sets);
    free(p->ranges);
    free(p);
}

size_t fnmatch_normalized_length(const char *name, size_t length)
{
    if (length >= 4 && memcmp(name + length - 4, ".pyc", 4) == 0)
        return length - 1;
    return length;
}
