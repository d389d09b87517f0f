/* export_pprof.c - a gzipped profile.proto (github.com/google/pprof, proto/profile.proto), the
   format of `go tool pprof`, Pyroscope, Parca and Google Cloud Profiler, laid out as Go's own
   heap profiles are: sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
   inuse_space/bytes in that order, inuse_space the default. See docs/OUTPUT.md.

   The encoder is the few lines protobuf's wire format needs (varints and length-delimited
   fields, every nested message built in its own buffer first), so the analyzer depends on no
   protobuf library; zlib writes the gzip stream. */
#define _DEFAULT_SOURCE /* dup, unlink */
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "stb_ds.h"

/* ---- the wire format ---------------------------------------------------------------------- */

typedef unsigned char *buffer; /* stb_ds array of bytes */

#define WIRE_VARINT 0
#define WIRE_BYTES 2

static void put_varint(buffer *b, uint64_t v)
{
    while (v >= 0x80) {
        arrput(*b, (unsigned char)(v | 0x80));
        v >>= 7;
    }
    arrput(*b, (unsigned char)v);
}

static void put_key(buffer *b, unsigned field, unsigned wire)
{
    put_varint(b, (uint64_t)field << 3 | wire);
}

/* An int64 or uint64 field; zero is the default and, as protobuf does, is not written. */
static void put_int(buffer *b, unsigned field, int64_t v)
{
    if (v == 0)
        return;
    put_key(b, field, WIRE_VARINT);
    put_varint(b, (uint64_t)v);
}

static void put_bytes(buffer *b, unsigned field, const void *data, size_t length)
{
    put_key(b, field, WIRE_BYTES);
    put_varint(b, length);
    if (length)
        memcpy(arraddnptr(*b, length), data, length);
}

/* Empties an array, keeping its memory (arrsetlen(a, 0) would do, with a -Wtype-limits
   warning from the macro). */
static void clear(void *array)
{
    if (array)
        stbds_header(array)->length = 0;
}

/* A nested message: its bytes, then the buffer is emptied for the next one. */
static void put_message(buffer *b, unsigned field, buffer *message)
{
    put_bytes(b, field, *message, arrlenu(*message));
    clear(*message);
}

/* A packed repeated int64/uint64 field. */
static void put_packed(buffer *b, unsigned field, const int64_t *values, size_t n, buffer *scratch)
{
    for (size_t i = 0; i < n; i++)
        put_varint(scratch, (uint64_t)values[i]);
    put_message(b, field, scratch);
}

/* ---- the profile -------------------------------------------------------------------------- */

/* profile.proto's field numbers. */
enum {
    PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE = 2, PROFILE_MAPPING = 3, PROFILE_LOCATION = 4,
    PROFILE_FUNCTION = 5, PROFILE_STRING_TABLE = 6, PROFILE_TIME_NANOS = 9,
    PROFILE_DURATION_NANOS = 10, PROFILE_PERIOD_TYPE = 11, PROFILE_PERIOD = 12,
    PROFILE_DEFAULT_SAMPLE_TYPE = 14,
    VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2,
    SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2, SAMPLE_LABEL = 3,
    LABEL_KEY = 1, LABEL_NUM = 3,
    MAPPING_ID = 1, MAPPING_FILENAME = 5, MAPPING_HAS_FUNCTIONS = 7, MAPPING_HAS_FILENAMES = 8,
    MAPPING_HAS_LINE_NUMBERS = 9, MAPPING_HAS_INLINE_FRAMES = 10,
    LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_LINE = 4,
    LINE_FUNCTION_ID = 1, LINE_LINE = 2,
    FUNCTION_ID = 1, FUNCTION_NAME = 2, FUNCTION_SYSTEM_NAME = 3, FUNCTION_FILENAME = 4,
};

/* The string table (index 0 is "", as profile.proto requires) and the function table, each
   entry once, in order of first use. */
struct tables {
    struct { char *key; int64_t value; } *strings; /* stb_ds string map: text -> index */
    char **string_order;                          /* stb_ds array */
    struct { char *key; int64_t value; } *functions; /* "name\0file" spelled out -> id */
    int64_t *frame_function;                      /* per frame: its function's id */
    buffer functions_wire;                        /* the Function messages, in id order */
    buffer function;                              /* one Function message being built */
};

static int64_t string_id(struct tables *t, const char *text)
{
    ptrdiff_t i = shgeti(t->strings, text);
    if (i >= 0)
        return t->strings[i].value;
    int64_t id = (int64_t)arrlen(t->string_order);
    shput(t->strings, text, id);
    arrput(t->string_order, t->strings[shgeti(t->strings, text)].key);
    return id;
}

/* A function per distinct (name, file); a frame without a name is named `file:line`, so that
   pprof's reports show where it is rather than an empty name. */
static int64_t function_id(struct tables *t, const struct export_frame *f)
{
    char line[32];
    snprintf(line, sizeof line, ":%lld", (long long)f->lineno);
    sqlite3_str *name = sqlite3_str_new(NULL), *key = sqlite3_str_new(NULL);
    if (f->function)
        sqlite3_str_appendall(name, f->function);
    else
        sqlite3_str_appendf(name, "%s%s", f->filename, line);
    char *name_text = sqlite3_str_finish(name);
    /* Names and files hold no NUL: a length prefix keeps the pair unambiguous. */
    sqlite3_str_appendf(key, "%d:%s%s", (int)strlen(name_text ? name_text : ""),
                        name_text ? name_text : "", f->filename);
    char *key_text = sqlite3_str_finish(key);
    int64_t id = 0;
    if (name_text && key_text) {
        ptrdiff_t i = shgeti(t->functions, key_text);
        if (i >= 0) {
            id = t->functions[i].value;
        } else {
            id = (int64_t)shlen(t->functions) + 1;
            shput(t->functions, key_text, id);
            put_int(&t->function, FUNCTION_ID, id);
            put_int(&t->function, FUNCTION_NAME, string_id(t, name_text));
            put_int(&t->function, FUNCTION_SYSTEM_NAME, string_id(t, name_text));
            put_int(&t->function, FUNCTION_FILENAME, string_id(t, f->filename));
            put_message(&t->functions_wire, PROFILE_FUNCTION, &t->function);
        }
    }
    sqlite3_free(name_text);
    sqlite3_free(key_text);
    return id;
}

static void put_value_type(buffer *b, unsigned field, struct tables *t, const char *type,
                           const char *unit, buffer *scratch)
{
    put_int(scratch, VALUE_TYPE_TYPE, string_id(t, type));
    put_int(scratch, VALUE_TYPE_UNIT, string_id(t, unit));
    put_message(b, field, scratch);
}

/* Go's heap profile: the values of a sample in the order of its sample types. A sample with
   none (a traceback only the peak knew) is left out. */
static int sample_values(const struct export_sample *s, int64_t values[4])
{
    values[0] = s->alloc_count;
    values[1] = s->alloc_size;
    values[2] = s->live_count;
    values[3] = s->live_size;
    return values[0] || values[1] || values[2] || values[3];
}

static void put_samples(buffer *b, const struct export_data *data, struct tables *t,
                        buffer *scratch, buffer *inner)
{
    int64_t *ids = NULL, values[4];
    int64_t domain_key = string_id(t, "domain");
    for (ptrdiff_t i = 0; i < arrlen(data->samples); i++) {
        const struct export_sample *s = &data->samples[i];
        if (!sample_values(s, values))
            continue;
        clear(ids);
        for (ptrdiff_t k = 0; k < arrlen(s->frames); k++) /* location_id[0] is the leaf */
            arrput(ids, s->frames[k] + 1);
        put_packed(scratch, SAMPLE_LOCATION_ID, ids, arrlenu(ids), inner);
        put_packed(scratch, SAMPLE_VALUE, values, 4, inner);
        if (s->domain != 0) { /* pprof drops a numeric label of 0: domain 0 has none */
            put_int(inner, LABEL_KEY, domain_key);
            put_int(inner, LABEL_NUM, s->domain);
            put_message(scratch, SAMPLE_LABEL, inner);
        }
        put_message(b, PROFILE_SAMPLE, scratch);
    }
    arrfree(ids);
}

/* One location per distinct frame (location id = frame index + 1), each with one line, all
   in the one mapping; the functions are collected on the way. */
static void put_locations(buffer *b, const struct export_data *data, struct tables *t,
                          buffer *scratch, buffer *inner)
{
    for (ptrdiff_t i = 0; i < arrlen(data->frames); i++) {
        const struct export_frame *f = &data->frames[i];
        put_int(inner, LINE_FUNCTION_ID, function_id(t, f));
        put_int(inner, LINE_LINE, f->lineno);
        put_int(scratch, LOCATION_ID, i + 1);
        put_int(scratch, LOCATION_MAPPING_ID, 1);
        put_message(scratch, LOCATION_LINE, inner);
        put_message(b, PROFILE_LOCATION, scratch);
    }
}

/* The one mapping: the snapshot's source file stands for the program, which a dump does not
   name; its frames are already symbolized, so pprof never tries to. */
static void put_mapping(buffer *b, const struct export_data *data, struct tables *t,
                        buffer *scratch)
{
    put_int(scratch, MAPPING_ID, 1);
    put_int(scratch, MAPPING_FILENAME, string_id(t, data->source ? data->source : ""));
    put_int(scratch, MAPPING_HAS_FUNCTIONS, 1);
    put_int(scratch, MAPPING_HAS_FILENAMES, 1);
    put_int(scratch, MAPPING_HAS_LINE_NUMBERS, 1);
    put_int(scratch, MAPPING_HAS_INLINE_FRAMES, 1);
    put_message(b, PROFILE_MAPPING, scratch);
}

/* The whole Profile message. Fields may come in any order on the wire; the string table is
   written last, once every string is known. */
static buffer encode_profile(const struct export_data *data)
{
    buffer b = NULL, scratch = NULL, inner = NULL, body = NULL;
    struct tables t = {0};
    sh_new_strdup(t.strings);
    sh_new_strdup(t.functions);
    string_id(&t, "");
    static const char *const types[4][2] = {{"alloc_objects", "count"}, {"alloc_space", "bytes"},
                                            {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
    for (int i = 0; i < 4; i++)
        put_value_type(&b, PROFILE_SAMPLE_TYPE, &t, types[i][0], types[i][1], &scratch);
    put_samples(&b, data, &t, &scratch, &inner);
    put_mapping(&b, data, &t, &scratch);
    put_locations(&body, data, &t, &scratch, &inner);
    memcpy(arraddnptr(b, arrlenu(body)), body, arrlenu(body));
    memcpy(arraddnptr(b, arrlenu(t.functions_wire)), t.functions_wire, arrlenu(t.functions_wire));
    put_int(&b, PROFILE_TIME_NANOS, data->time_ns);
    if (data->has_start)
        put_int(&b, PROFILE_DURATION_NANOS, data->time_ns - data->start_ns);
    put_value_type(&b, PROFILE_PERIOD_TYPE, &t, "space", "bytes", &scratch);
    put_int(&b, PROFILE_PERIOD, 1);
    put_int(&b, PROFILE_DEFAULT_SAMPLE_TYPE, string_id(&t, "inuse_space"));
    for (ptrdiff_t i = 0; i < arrlen(t.string_order); i++)
        put_bytes(&b, PROFILE_STRING_TABLE, t.string_order[i], strlen(t.string_order[i]));
    arrfree(scratch);
    arrfree(inner);
    arrfree(body);
    arrfree(t.functions_wire);
    arrfree(t.function);
    arrfree(t.string_order);
    shfree(t.strings);
    shfree(t.functions);
    return b;
}

int export_pprof(const struct export_data *data, const char *path, char error[EXPORT_ERROR_SIZE])
{
    int to_stdout = strcmp(path, "-") == 0;
    buffer profile = encode_profile(data);
    gzFile gz = to_stdout ? gzdopen(dup(STDOUT_FILENO), "wb") : gzopen(path, "wb");
    int ok = gz != NULL;
    size_t done = 0, n = arrlenu(profile);
    while (ok && done < n) { /* gzwrite takes an unsigned count */
        unsigned chunk = n - done > (1u << 30) ? 1u << 30 : (unsigned)(n - done);
        ok = gzwrite(gz, profile + done, chunk) == (int)chunk;
        done += chunk;
    }
    if (gz && gzclose(gz) != Z_OK)
        ok = 0;
    arrfree(profile);
    if (ok)
        return 0;
    snprintf(error, EXPORT_ERROR_SIZE, "cannot write the profile: %s", strerror(errno ? errno : EIO));
    if (!to_stdout)
        unlink(path);
    return -1;
}
