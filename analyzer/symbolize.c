/* symbolize.c - native frames to source frames with libdwfl (symbolize.h says what comes out).

   One Dwfl per module, its ELF reported at bias 0, so an offset from the dump is an address in
   it as is: modules of one process overlap once their load addresses are gone, and one offline
   Dwfl would have to place them apart. Files are found by symfile.c; libdwfl only opens them.
   Strings point into libdw's own data (file tables, .debug_str, .symtab), which lives as long
   as the Dwfl does; only the fallback names are formatted here. */
#define _DEFAULT_SOURCE /* strdup under -std=c11 */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symfile.h"
#include "symindex.h"
#include "symtab.h"

/* Deeper nests of inlined calls and blocks are cut here (128 calls inlined into one another
   is not code anyone writes). */
#define MAX_DEPTH 128

struct module {
    char *path; /* NULL: the addresses that were in no module */
    const char *basename;
    unsigned char build_id[64];
    size_t build_id_length;
    int oversized; /* a build-id longer than FORMAT.md allows: matches no file */
    uint64_t hash;
    char *debug_path; /* handed to libdwfl by find_debuginfo, once */
    int debug_given;
    Dwfl *dwfl;       /* NULL: no file found, every address falls back */
    Dwfl_Module *mod;
    struct symindex *index; /* its DWARF by address, made on first use (NULL: no DWARF) */
    struct symtab *symbols; /* its symbol table by address, made on first use */
    Dwarf_Addr bias;
    int indexed;
};

/* The per-address cache: open addressing on (module, offset); count 0 marks a free slot. */
struct slot {
    uint64_t offset;
    uint32_t module, first, count;
};

/* A formatted fallback name. */
struct name {
    struct name *next;
    char text[];
};

struct symbolizer {
    char *debug_dir;
    struct module **modules;
    uint32_t nmodule, module_capacity, last;
    struct slot *slots;
    size_t slot_mask, nslot_used;
    struct symbol_frame *frames; /* every cached address's frames, back to back */
    size_t nframe, frame_capacity;
    struct name *names;
    const char **joined; /* interned comp_dir/file names: open addressing, NULL free */
    size_t joined_mask, njoined;
};

static const char *default_debug_dir;

int symbolize_set_debug_dir(const char *dir)
{
    struct stat st;
    if (dir && stat(dir, &st) != 0)
        return -1;
    if (dir && !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    default_debug_dir = dir;
    return 0;
}

struct symbolizer *symbolizer_new(const char *debug_dir)
{
    struct symbolizer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    elf_version(EV_CURRENT);
    if (!debug_dir)
        debug_dir = default_debug_dir;
    s->slot_mask = 1023;
    s->slots = calloc(s->slot_mask + 1, sizeof *s->slots);
    if (!s->slots || (debug_dir && !(s->debug_dir = strdup(debug_dir)))) {
        symbolizer_free(s);
        return NULL;
    }
    return s;
}

void symbolizer_free(struct symbolizer *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nmodule; i++) {
        struct module *m = s->modules[i];
        if (m->dwfl)
            dwfl_end(m->dwfl);
        free(m->path);
        free(m->debug_path);
        symindex_free(m->index);
        symtab_free(m->symbols);
        free(m);
    }
    while (s->names) {
        struct name *next = s->names->next;
        free(s->names);
        s->names = next;
    }
    free(s->joined);
    free(s->modules);
    free(s->slots);
    free(s->frames);
    free(s->debug_dir);
    free(s);
}

/* ---- modules ------------------------------------------------------------------------------ */

/* libdwfl asks for the separate debug file first, then (from the DWARF it found) for a dwz
   .gnu_debugaltlink file; symfile.c has found the first, and libdw finds the second itself
   (relative to the debug file, or in /usr/lib/debug/.build-id/) when this says nothing. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    (void)mod, (void)modname, (void)base, (void)file_name, (void)debuglink_file,
        (void)debuglink_crc;
    struct module *m = *userdata;
    if (m && m->debug_path && !m->debug_given) {
        m->debug_given = 1;
        int fd = open(m->debug_path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && !(*debuginfo_file_name = strdup(m->debug_path))) {
            close(fd);
            fd = -1;
        }
        return fd;
    }
    errno = 0;
    return -1;
}

/* Never called: every module is reported with its file (dwfl_report_elf). Not the standard
   dwfl_build_id_find_elf, which may ask debuginfod. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    (void)mod, (void)userdata, (void)modname, (void)base, (void)file_name;
    *elfp = NULL;
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    .find_elf = find_elf,
    .find_debuginfo = find_debuginfo,
    .section_address = dwfl_offline_section_address,
};

/* Finds the module's files and reports them to a Dwfl of its own; leaves m->dwfl NULL when
   there is no file (every address of the module then falls back). */
static void open_module(struct symbolizer *s, struct module *m)
{
    struct symfile f;
    if (symfile_find(m->path, m->build_id, m->build_id_length, s->debug_dir, &f) < 0)
        return;
    m->debug_path = f.debug_path;
    f.debug_path = NULL;
    if ((m->dwfl = dwfl_begin(&callbacks))) {
        dwfl_report_begin(m->dwfl);
        /* base 0 added to p_vaddr: bias 0, addresses are the ELF's own (prelinked too) */
        m->mod = dwfl_report_elf(m->dwfl, m->basename, f.elf_path, -1, 0, true);
        void **userdata;
        if (dwfl_report_end(m->dwfl, NULL, NULL) != 0 || !m->mod ||
            !dwfl_module_info(m->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL)) {
            dwfl_end(m->dwfl);
            m->dwfl = NULL;
            m->mod = NULL;
        } else {
            *userdata = m;
        }
    }
    symfile_free(&f);
}

static uint64_t module_hash(const char *path, const unsigned char *id, size_t length)
{
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (const char *p = path ? path : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    h = (h ^ (path ? 1u : 2u)) * 1099511628211u;
    for (size_t i = 0; i < length; i++)
        h = (h ^ id[i]) * 1099511628211u;
    return h;
}

static int module_is(const struct module *m, uint64_t hash, const char *path,
                     const unsigned char *id, size_t length, int oversized)
{
    return m->hash == hash && m->build_id_length == length && m->oversized == oversized &&
           (m->path && path ? strcmp(m->path, path) == 0 : m->path == path) &&
           (length == 0 || memcmp(m->build_id, id, length) == 0);
}

/* The module's index, opening it on first use; UINT32_MAX when out of memory. */
static uint32_t find_module(struct symbolizer *s, const char *path, const unsigned char *id,
                            size_t length)
{
    int oversized = length > sizeof s->modules[0]->build_id;
    if (oversized)
        length = sizeof s->modules[0]->build_id;
    uint64_t hash = module_hash(path, id, length);
    if (s->last < s->nmodule && module_is(s->modules[s->last], hash, path, id, length, oversized))
        return s->last;
    for (uint32_t i = 0; i < s->nmodule; i++)
        if (module_is(s->modules[i], hash, path, id, length, oversized))
            return s->last = i;
    if (s->nmodule == s->module_capacity) {
        uint32_t capacity = s->module_capacity ? 2 * s->module_capacity : 16;
        struct module **grown = realloc(s->modules, capacity * sizeof *grown);
        if (!grown)
            return UINT32_MAX;
        s->modules = grown;
        s->module_capacity = capacity;
    }
    struct module *m = calloc(1, sizeof *m);
    if (!m || (path && !(m->path = strdup(path)))) {
        free(m);
        return UINT32_MAX;
    }
    m->basename = m->path ? (strrchr(m->path, '/') ? strrchr(m->path, '/') + 1 : m->path) : NULL;
    if (length)
        memcpy(m->build_id, id, length);
    m->build_id_length = length;
    m->oversized = oversized;
    m->hash = hash;
    if (m->path && !oversized)
        open_module(s, m);
    s->modules[s->nmodule] = m;
    return s->last = s->nmodule++;
}

/* ---- frames ------------------------------------------------------------------------------- */

static int push(struct symbolizer *s, const char *filename, int lineno, const char *function)
{
    if (s->nframe == s->frame_capacity) {
        size_t capacity = s->frame_capacity ? 2 * s->frame_capacity : 1024;
        struct symbol_frame *grown = realloc(s->frames, capacity * sizeof *grown);
        if (!grown)
            return -1;
        s->frames = grown;
        s->frame_capacity = capacity;
    }
    s->frames[s->nframe++] = (struct symbol_frame){filename, lineno > 0 ? (unsigned)lineno : 0,
                                                   function};
    return 0;
}

/* The name addr2line prints for a subprogram or an inlined call: the linkage name when there is
   one (C++), else DW_AT_name, following DW_AT_abstract_origin. */
static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (!name)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    return name ? name : dwarf_diename(die);
}

static struct name *new_name(struct symbolizer *s, size_t size)
{
    struct name *name = malloc(sizeof *name + size);
    if (name) {
        name->next = s->names;
        s->names = name;
    }
    return name;
}

#define FNV_BASIS 14695981039346656037u

static uint64_t fnv(const char *p, uint64_t h)
{
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211u;
    return h;
}

static size_t joined_index(const struct symbolizer *s, uint64_t h)
{
    return (size_t)(h ^ (h >> 32)) & s->joined_mask;
}

/* Doubles the interned names' table when half full; on failure it keeps filling. */
static void grow_joined(struct symbolizer *s)
{
    if (2 * (s->njoined + 1) <= s->joined_mask)
        return;
    size_t old_mask = s->joined_mask, mask = old_mask ? 2 * old_mask + 1 : 255;
    const char **old = s->joined, **table = calloc(mask + 1, sizeof *table);
    if (!table)
        return;
    s->joined = table;
    s->joined_mask = mask;
    for (size_t i = 0; old && i <= old_mask; i++)
        if (old[i]) {
            size_t k = joined_index(s, fnv(old[i], FNV_BASIS));
            while (table[k])
                k = (k + 1) & mask;
            table[k] = old[i];
        }
    free(old);
}

/* directory/file, kept once per symbolizer; file itself when out of memory. */
static const char *join(struct symbolizer *s, const char *directory, const char *file)
{
    size_t ld = strlen(directory), lf = strlen(file);
    grow_joined(s);
    if (!s->joined || s->njoined + 1 >= s->joined_mask)
        return file;
    size_t k = joined_index(s, fnv(file, fnv("/", fnv(directory, FNV_BASIS))));
    for (; s->joined[k]; k = (k + 1) & s->joined_mask) {
        const char *j = s->joined[k];
        if (strncmp(j, directory, ld) == 0 && j[ld] == '/' && strcmp(j + ld + 1, file) == 0)
            return j;
    }
    struct name *name = new_name(s, ld + lf + 2);
    if (!name)
        return file;
    memcpy(name->text, directory, ld);
    name->text[ld] = '/';
    memcpy(name->text + ld + 1, file, lf + 1);
    s->njoined++;
    return s->joined[k] = name->text;
}

/* A relative name from the line table made absolute with the unit's DW_AT_comp_dir, as GNU
   addr2line prints it: libdw 0.188 joins a DWARF 5 file with its directory entry, but leaves
   the result relative when that entry is (clang writes "tests/x" for files under comp_dir). */
static const char *absolute(struct symbolizer *s, Dwarf_Die *cu, const char *file)
{
    Dwarf_Attribute attr;
    const char *directory;
    if (file[0] == '/' || !(directory = dwarf_formstring(dwarf_attr(cu, DW_AT_comp_dir, &attr))))
        return file;
    return join(s, directory, file);
}

/* The source file (NULL: unknown) and line an inlined call was made from. */
static void call_site(Dwarf_Die *cu, Dwarf_Die *inlined, const char **file, int *line)
{
    Dwarf_Attribute attr;
    Dwarf_Word value;
    Dwarf_Files *files;
    *file = NULL;
    *line = 0;
    if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &value) == 0 &&
        dwarf_getsrcfiles(cu, &files, NULL) == 0) {
        const char *name = dwarf_filesrc(files, value, NULL, NULL);
        if (name)
            *file = name;
    }
    if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &value) == 0)
        *line = value <= INT32_MAX ? (int)value : 0;
}

/* The ELF symbol table's name for addr. */
static const char *symbol_name(struct module *m, Dwarf_Addr addr)
{
    if (!m->symbols)
        m->symbols = symtab_new(m->mod);
    return symtab_name(m->symbols, m->mod, addr);
}

/* Appends the frames DWARF gives for addr, as eu-addr2line -i -f prints them: from the
   innermost inlined call out to the function holding them, each at the line being executed in
   it. Returns how many, 0 when DWARF knows nothing of addr. */
static int dwarf_frames(struct symbolizer *s, struct module *m, Dwarf_Addr addr)
{
    if (!m->indexed) {
        Dwarf *dwarf = dwfl_module_getdwarf(m->mod, &m->bias);
        m->index = dwarf ? symindex_new(dwarf) : NULL;
        m->indexed = 1;
    }
    Dwarf_Die *cu, chain[MAX_DEPTH];
    Dwarf_Addr pc = addr - m->bias;
    int nchain = m->index ? symindex_lookup(m->index, pc, &cu, chain, MAX_DEPTH) : -1;
    Dwarf_Line *line = nchain >= 0 ? dwarf_getsrc_die(cu, pc) : NULL;
    int lineno = 0, count = 0;
    const char *file = line ? dwarf_linesrc(line, NULL, NULL) : NULL;
    if (!file || dwarf_lineno(line, &lineno) != 0)
        return 0;
    file = absolute(s, cu, file);
    for (int i = nchain - 1; i >= 0; i--) {
        int tag = dwarf_tag(&chain[i]);
        if (tag != DW_TAG_inlined_subroutine && tag != DW_TAG_subprogram)
            continue; /* a block */
        if (push(s, file, lineno, die_name(&chain[i])) < 0)
            break;
        count++;
        if (tag == DW_TAG_subprogram)
            break; /* the function (a nested one ends the chain as in addr2line) */
        call_site(cu, &chain[i], &file, &lineno);
        file = file ? absolute(s, cu, file) : "??";
    }
    if (count == 0 && push(s, file, lineno, symbol_name(m, addr)) == 0)
        count = 1;
    return count;
}

/* "<basename>+0x<offset>" (or "0x<offset>" for no module), kept until symbolizer_free. */
static const char *fallback_name(struct symbolizer *s, const struct module *m, uint64_t offset)
{
    const char *base = m->basename ? m->basename : "";
    size_t size = strlen(base) + sizeof "+0x" + 16;
    struct name *name = new_name(s, size);
    if (!name)
        return "??";
    snprintf(name->text, size, "%s%s0x%llx", base, m->basename ? "+" : "", (unsigned long long)offset);
    return name->text;
}

/* Appends the frames of one address; returns how many (>= 1), or 0 when out of memory. */
static int symbolize_one(struct symbolizer *s, struct module *m, uint64_t offset)
{
    Dwarf_Addr addr = offset ? offset - 1 : 0; /* the call instruction, not the next one */
    int count = m->mod ? dwarf_frames(s, m, addr) : 0;
    if (count > 0)
        return count;
    const char *function = m->mod ? symbol_name(m, addr) : NULL;
    return push(s, fallback_name(s, m, offset), 0, function) == 0 ? 1 : 0;
}

/* ---- the per-address cache ---------------------------------------------------------------- */

static size_t slot_index(const struct symbolizer *s, uint32_t module, uint64_t offset)
{
    uint64_t h = (offset ^ ((uint64_t)module << 48)) * 0x9E3779B97F4A7C15u;
    return (size_t)(h >> 32) & s->slot_mask;
}

static struct slot *find_slot(struct symbolizer *s, uint32_t module, uint64_t offset)
{
    size_t i = slot_index(s, module, offset);
    while (s->slots[i].count && (s->slots[i].module != module || s->slots[i].offset != offset))
        i = (i + 1) & s->slot_mask;
    return &s->slots[i];
}

/* Doubles the table when it is 2/3 full; on failure the old one simply fills further. */
static void grow_slots(struct symbolizer *s)
{
    if (3 * (s->nslot_used + 1) < 2 * (s->slot_mask + 1))
        return;
    size_t mask = 2 * s->slot_mask + 1;
    struct slot *old = s->slots, *slots = calloc(mask + 1, sizeof *slots);
    if (!slots)
        return;
    size_t old_mask = s->slot_mask;
    s->slots = slots;
    s->slot_mask = mask;
    for (size_t i = 0; i <= old_mask; i++)
        if (old[i].count)
            *find_slot(s, old[i].module, old[i].offset) = old[i];
    free(old);
}

int symbolize(struct symbolizer *s, const char *path, const unsigned char *build_id,
              size_t build_id_length, uint64_t offset, struct symbol_frame *out, int n)
{
    static const struct symbol_frame unknown = {"??", 0, NULL}; /* out of memory */
    if (n < 1)
        return 0;
    uint32_t module = find_module(s, path, build_id, build_id_length);
    if (module == UINT32_MAX) {
        out[0] = unknown;
        return 1;
    }
    struct slot *slot = find_slot(s, module, offset);
    if (!slot->count && s->nslot_used + 1 < s->slot_mask) {
        size_t first = s->nframe;
        int count = symbolize_one(s, s->modules[module], offset);
        if (count == 0) {
            out[0] = unknown;
            return 1;
        }
        grow_slots(s);
        slot = find_slot(s, module, offset);
        *slot = (struct slot){offset, module, (uint32_t)first, (uint32_t)count};
        s->nslot_used++;
    }
    if (!slot->count) { /* the table is full and could not grow */
        out[0] = unknown;
        return 1;
    }
    int count = slot->count < (uint32_t)n ? (int)slot->count : n;
    memcpy(out, s->frames + slot->first, (size_t)count * sizeof *out);
    return count;
}
