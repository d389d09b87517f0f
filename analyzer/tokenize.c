/* tokenize.c - tokenize.open(): detect_encoding() and a strict decode to UTF-8; see tokenize.h. */
#define _DEFAULT_SOURCE /* iconv, under -std=c11 */
#include "tokenize.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

enum decoder { DECODE_UTF_8, DECODE_LATIN_1, DECODE_ASCII, DECODE_ICONV };

/* The codecs decoded here, each under its module name in CPython's encodings package and the
   encodings.aliases keys that name it (copied as they are: "csHPRoman8" is never matched, as
   in CPython, whose lookup lowers the name first). DECODE_ICONV rows were checked against
   CPython 3.11 on every 1- and 2-byte input, random longer ones, and every encodable code
   point; tests/parity/source_lines.py tries every name of every codec. */
static const struct codec {
    const char *module, *aliases;
    enum decoder decoder;
    const char *iconv; /* glibc's name, for DECODE_ICONV */
} codecs[] = {
    {"utf_8", "cp65001 u8 utf utf8 utf8_ucs2 utf8_ucs4", DECODE_UTF_8, NULL}, /* UTF_8 */
    {"ascii", "646 ansi_x3.4_1968 ansi_x3.4_1986 ansi_x3_4_1968 cp367 csascii ibm367 iso646_us "
              "iso_646.irv_1991 iso_ir_6 us us_ascii", DECODE_ASCII, NULL},
    {"charmap", "", DECODE_LATIN_1, NULL}, /* with no mapping, charmap is latin-1 */
    {"cp037", "037 csibm037 ebcdic_cp_ca ebcdic_cp_nl ebcdic_cp_us ebcdic_cp_wt ibm037 ibm039",
     DECODE_ICONV, "CP037"},
    {"cp437", "437 cspc8codepage437 ibm437", DECODE_ICONV, "CP437"},
    {"cp500", "500 csibm500 ebcdic_cp_be ebcdic_cp_ch ibm500", DECODE_ICONV, "CP500"},
    {"cp737", "", DECODE_ICONV, "CP737"},
    {"cp775", "775 cspc775baltic ibm775", DECODE_ICONV, "CP775"},
    {"cp850", "850 cspc850multilingual ibm850", DECODE_ICONV, "CP850"},
    {"cp852", "852 cspcp852 ibm852", DECODE_ICONV, "CP852"},
    {"cp855", "855 csibm855 ibm855", DECODE_ICONV, "CP855"},
    {"cp857", "857 csibm857 ibm857", DECODE_ICONV, "CP857"},
    {"cp858", "858 csibm858 ibm858", DECODE_ICONV, "CP858"},
    {"cp860", "860 csibm860 ibm860", DECODE_ICONV, "CP860"},
    {"cp861", "861 cp_is csibm861 ibm861", DECODE_ICONV, "CP861"},
    {"cp862", "862 cspc862latinhebrew ibm862", DECODE_ICONV, "CP862"},
    {"cp863", "863 csibm863 ibm863", DECODE_ICONV, "CP863"},
    {"cp864", "864 csibm864 ibm864", DECODE_ICONV, "CP864"},
    {"cp865", "865 csibm865 ibm865", DECODE_ICONV, "CP865"},
    {"cp866", "866 csibm866 ibm866", DECODE_ICONV, "CP866"},
    {"cp869", "869 cp_gr csibm869 ibm869", DECODE_ICONV, "CP869"},
    {"cp874", "", DECODE_ICONV, "CP874"},
    {"cp949", "949 ms949 uhc", DECODE_ICONV, "CP949"},
    {"cp1125", "1125 cp866u ibm1125 ruscii", DECODE_ICONV, "CP1125"},
    {"cp1140", "1140 ibm1140", DECODE_ICONV, "CP1140"},
    {"cp1250", "1250 windows_1250", DECODE_ICONV, "CP1250"},
    {"cp1251", "1251 windows_1251", DECODE_ICONV, "CP1251"},
    {"cp1252", "1252 windows_1252", DECODE_ICONV, "CP1252"},
    {"cp1253", "1253 windows_1253", DECODE_ICONV, "CP1253"},
    {"cp1254", "1254 windows_1254", DECODE_ICONV, "CP1254"},
    {"cp1256", "1256 windows_1256", DECODE_ICONV, "CP1256"},
    {"cp1257", "1257 windows_1257", DECODE_ICONV, "CP1257"},
    {"gb2312", "chinese csiso58gb231280 euc_cn euccn eucgb2312_cn gb2312_1980 gb2312_80 "
               "iso_ir_58 x_mac_simp_chinese", DECODE_ICONV, "EUC-CN"},
    {"hp_roman8", "cp1051 csHPRoman8 ibm1051 r8 roman8", DECODE_ICONV, "HP-ROMAN8"},
    {"iso8859_1", "", DECODE_LATIN_1, NULL},
    {"iso8859_2", "csisolatin2 iso_8859_2 iso_8859_2_1987 iso_ir_101 l2 latin2", DECODE_ICONV,
     "ISO-8859-2"},
    {"iso8859_3", "csisolatin3 iso_8859_3 iso_8859_3_1988 iso_ir_109 l3 latin3", DECODE_ICONV,
     "ISO-8859-3"},
    {"iso8859_4", "csisolatin4 iso_8859_4 iso_8859_4_1988 iso_ir_110 l4 latin4", DECODE_ICONV,
     "ISO-8859-4"},
    {"iso8859_5", "csisolatincyrillic cyrillic iso_8859_5 iso_8859_5_1988 iso_ir_144",
     DECODE_ICONV, "ISO-8859-5"},
    {"iso8859_6", "arabic asmo_708 csisolatinarabic ecma_114 iso_8859_6 iso_8859_6_1987 "
                  "iso_ir_127", DECODE_ICONV, "ISO-8859-6"},
    {"iso8859_7", "csisolatingreek ecma_118 elot_928 greek greek8 iso_8859_7 iso_8859_7_1987 "
                  "iso_ir_126", DECODE_ICONV, "ISO-8859-7"},
    {"iso8859_8", "csisolatinhebrew hebrew iso_8859_8 iso_8859_8_1988 iso_ir_138", DECODE_ICONV,
     "ISO-8859-8"},
    {"iso8859_9", "csisolatin5 iso_8859_9 iso_8859_9_1989 iso_ir_148 l5 latin5", DECODE_ICONV,
     "ISO-8859-9"},
    {"iso8859_10", "csisolatin6 iso_8859_10 iso_8859_10_1992 iso_ir_157 l6 latin6",
     DECODE_ICONV, "ISO-8859-10"},
    {"iso8859_11", "iso_8859_11 iso_8859_11_2001 thai", DECODE_ICONV, "ISO-8859-11"},
    {"iso8859_13", "iso_8859_13 l7 latin7", DECODE_ICONV, "ISO-8859-13"},
    {"iso8859_14", "iso_8859_14 iso_8859_14_1998 iso_celtic iso_ir_199 l8 latin8", DECODE_ICONV,
     "ISO-8859-14"},
    {"iso8859_15", "iso_8859_15 l9 latin9", DECODE_ICONV, "ISO-8859-15"},
    {"iso8859_16", "iso_8859_16 iso_8859_16_2001 iso_ir_226 l10 latin10", DECODE_ICONV,
     "ISO-8859-16"},
    {"koi8_r", "cskoi8r", DECODE_ICONV, "KOI8-R"},
    {"koi8_t", "", DECODE_ICONV, "KOI8-T"},
    {"koi8_u", "", DECODE_ICONV, "KOI8-U"},
    {"kz1048", "kz_1048 rk1048 strk1048_2002", DECODE_ICONV, "RK1048"},
    {"latin_1", "8859 cp819 csisolatin1 ibm819 iso8859 iso8859_1 iso_8859_1 iso_8859_1_1987 "
                "iso_ir_100 l1 latin latin1", DECODE_LATIN_1, NULL},
    {"mac_latin2", "mac_centeuro maccentraleurope maclatin2", DECODE_ICONV, "MAC-CENTRALEUROPE"},
    {"ptcp154", "cp154 csptcp154 cyrillic_asian pt154", DECODE_ICONV, "PT154"},
    {"utf_8_sig", "", DECODE_UTF_8, NULL}, /* no BOM can be left for it to drop, see below */
    {"utf_16_be", "unicodebigunmarked utf_16be", DECODE_ICONV, "UTF-16BE"},
    {"utf_16_le", "unicodelittleunmarked utf_16le", DECODE_ICONV, "UTF-16LE"},
    {"utf_32_be", "utf_32be", DECODE_ICONV, "UTF-32BE"},
    {"utf_32_le", "utf_32le", DECODE_ICONV, "UTF-32LE"},
};

#define NCODEC (sizeof codecs / sizeof codecs[0])

#define UTF_8 (&codecs[0]) /* detect_encoding's default */

int utf8_char(const char *text, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)text;
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

static int valid_utf8(const char *s, size_t n)
{
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        int len = utf8_char(s + i, n - i, &cp);
        if (!len)
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/* ---- detect_encoding ---------------------------------------------------------------------- */

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Whether word is one of the space-separated words of list. */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; *p; p += strcspn(p, " "), p += *p == ' ')
        if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* codecs.lookup(name) as far as the codecs above go, or NULL (an unknown encoding, or a codec
   not decoded here). CPython lowers the name and turns each run of characters other than
   letters, digits and '.' into one '_', none at either end (_Py_normalize_encoding); then
   encodings.search_function() tries the aliases with that name, then with its '.' as '_',
   then the name as a module (never one with a '.'). */
static const struct codec *lookup(const char *name)
{
    char *norm = malloc(strlen(name) + 1), *o = norm;
    if (!norm)
        return NULL;
    int punct = 0;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (is_ascii_alnum(c) || c == '.') {
            if (punct && o != norm)
                *o++ = '_';
            *o++ = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
            punct = 0;
        } else {
            punct = 1;
        }
    }
    *o = '\0';
    const struct codec *found = NULL;
    for (size_t i = 0; i < NCODEC && !found; i++)
        if (in_list(codecs[i].aliases, norm))
            found = &codecs[i];
    if (!found && strchr(norm, '.')) {
        char *underscored = strdup(norm);
        for (char *p = underscored; p && *p; p++)
            if (*p == '.')
                *p = '_';
        for (size_t i = 0; underscored && i < NCODEC && !found; i++)
            if (in_list(codecs[i].aliases, underscored))
                found = &codecs[i];
        free(underscored);
    }
    for (size_t i = 0; i < NCODEC && !found; i++)
        if (strcmp(codecs[i].module, norm) == 0)
            found = &codecs[i];
    free(norm);
    return found;
}

/* tokenize._get_normal_name(): "utf-8" and "iso-8859-1" for their usual spellings, judged on
   the first 12 characters lowered with '_' as '-'; any other name as it is (name itself). */
static const char *get_normal_name(const char *name)
{
    char enc[13];
    size_t n = 0;
    for (; n < 12 && name[n]; n++) {
        char c = name[n];
        enc[n] = c == '_' ? '-' : c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    enc[n] = '\0';
    if (strcmp(enc, "utf-8") == 0 || strncmp(enc, "utf-8-", 6) == 0)
        return "utf-8";
    static const char *const latin[] = {"latin-1", "iso-8859-1", "iso-latin-1"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(latin[i]);
        if (strcmp(enc, latin[i]) == 0 || (strncmp(enc, latin[i], k) == 0 && enc[k] == '-'))
            return "iso-8859-1";
    }
    return name;
}

static int is_blank_char(char c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

/* The name that cookie_re, r'^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)' (re.ASCII), finds in the
   line (its n bytes, '\n' excluded), as a new string; NULL when none (or out of memory). */
static char *cookie_name(const char *line, size_t n)
{
    size_t i = 0;
    while (i < n && is_blank_char(line[i]))
        i++;
    if (i == n || line[i] != '#')
        return NULL;
    for (i++; i + 7 <= n; i++) { /* .*? : the first "coding" that is followed by a name */
        if (memcmp(line + i, "coding", 6) != 0 || (line[i + 6] != ':' && line[i + 6] != '='))
            continue;
        size_t start = i + 7, end;
        while (start < n && (line[start] == ' ' || line[start] == '\t'))
            start++;
        for (end = start; end < n; end++) {
            unsigned char c = (unsigned char)line[end];
            if (!is_ascii_alnum(c) && c != '_' && c != '-' && c != '.')
                break;
        }
        if (end > start) {
            char *name = malloc(end - start + 1);
            if (name) {
                memcpy(name, line + start, end - start);
                name[end - start] = '\0';
            }
            return name;
        }
    }
    return NULL;
}

enum cookie { NO_COOKIE, COOKIE, BAD_COOKIE };

/* detect_encoding's find_cookie(): the line must decode as UTF-8, a cookie must name a known
   encoding, and after a BOM that encoding must be spelled "utf-8" (after get_normal_name). */
static enum cookie find_cookie(const char *line, size_t n, int bom, const struct codec **codec)
{
    if (!valid_utf8(line, n))
        return BAD_COOKIE; /* SyntaxError: invalid or missing encoding declaration */
    char *name = cookie_name(line, n);
    if (!name)
        return NO_COOKIE;
    const char *normal = get_normal_name(name);
    *codec = lookup(normal);
    int ok = *codec && (!bom || strcmp(normal, "utf-8") == 0);
    free(name);
    return ok ? COOKIE : BAD_COOKIE;
}

/* detect_encoding(): the codec, or NULL for Python's SyntaxError (or a codec not decoded here).
   text and n come after any BOM; lines here are what a binary readline() gives: up to '\n'. */
static const struct codec *detect_encoding(const char *text, size_t n, int bom)
{
    const struct codec *codec = NULL;
    const char *newline = memchr(text, '\n', n);
    size_t first = newline ? (size_t)(newline - text) : n;
    if (n == 0)
        return UTF_8;
    enum cookie found = find_cookie(text, first, bom, &codec);
    if (found != NO_COOKIE)
        return found == COOKIE ? codec : NULL;
    size_t i = 0; /* blank_re: br'^[ \t\f]*(?:[#\r\n]|$)' */
    while (i < first && is_blank_char(text[i]))
        i++;
    if (i < first && text[i] != '#' && text[i] != '\r')
        return UTF_8;
    if (!newline || first + 1 == n)
        return UTF_8;
    const char *second = text + first + 1;
    newline = memchr(second, '\n', n - first - 1);
    found = find_cookie(second, newline ? (size_t)(newline - second) : n - first - 1, bom,
                        &codec);
    return found == COOKIE ? codec : found == NO_COOKIE ? UTF_8 : NULL;
}

/* ---- decoders ----------------------------------------------------------------------------- */

/* A new NUL-terminated buffer of n + 1 bytes, the first n from s; NULL when out of memory. */
static char *copy(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

static char *decode_latin_1(const char *s, size_t n, size_t *len)
{
    char *out = n < SIZE_MAX / 2 ? malloc(2 * n + 1) : NULL, *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            *o++ = (char)c;
        } else {
            *o++ = (char)(0xC0 | c >> 6);
            *o++ = (char)(0x80 | (c & 0x3F));
        }
    }
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

/* Strict, as Python decodes: an invalid sequence (EILSEQ) or a cut one at the end (EINVAL)
   is a UnicodeDecodeError. */
static char *decode_iconv(const char *from, const char *s, size_t n, size_t *len)
{
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == (iconv_t)-1)
        return NULL; /* glibc without its gconv modules: no text, as documented */
    size_t cap = n < SIZE_MAX / 8 ? 4 * n + 16 : 0, used = 0, in_left = n;
    char *out = cap ? malloc(cap + 1) : NULL, *in = (char *)s;
    while (out) {
        int flush = in_left == 0; /* the last call, for a codec with shift states */
        char *o = out + used;
        size_t room = cap - used;
        size_t done = flush ? iconv(cd, NULL, NULL, &o, &room)
                            : iconv(cd, &in, &in_left, &o, &room);
        used = (size_t)(o - out);
        if (done != (size_t)-1 && flush)
            break;
        if (done != (size_t)-1)
            continue;
        char *bigger = errno == E2BIG && cap < SIZE_MAX / 4 ? realloc(out, 2 * cap + 1) : NULL;
        if (!bigger)
            free(out);
        out = bigger;
        cap *= 2;
    }
    iconv_close(cd);
    if (out) {
        out[used] = '\0';
        *len = used;
    }
    return out;
}

char *tokenize_open(const char *bytes, size_t n, size_t *len)
{
    /* A BOM makes the codec utf-8-sig, which drops it, or the file has no text. Without one,
       utf_8_sig (and utf-8 through get_normal_name) has nothing to drop. */
    int bom = n >= 3 && memcmp(bytes, "\xEF\xBB\xBF", 3) == 0;
    const char *s = bytes + (bom ? 3 : 0);
    n -= bom ? 3 : 0;
    const struct codec *codec = detect_encoding(s, n, bom);
    if (!codec)
        return NULL;
    switch (codec->decoder) {
    case DECODE_UTF_8:
        *len = n;
        return valid_utf8(s, n) ? copy(s, n) : NULL;
    case DECODE_ASCII:
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] >= 0x80)
                return NULL;
        *len = n;
        return copy(s, n);
    case DECODE_LATIN_1:
        return decode_latin_1(s, n, len);
    case DECODE_ICONV:
        return decode_iconv(codec->iconv, s, n, len);
    }
    return NULL;
}
