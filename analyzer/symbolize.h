/* symbolize.h - native frames to file, line and function, offline, with elfutils' libdwfl.

   A dump's native frame is a module (path and build-id, docs/FORMAT.md's MODS) and an offset in
   that ELF file's own virtual address space, of a *return address*: the symbolizer looks up
   offset - 1, the call instruction, as addr2line users do with backtraces.

   Each module is looked up once, by build-id, in this order:
     1. the file at its path, when its build-id is the dump's (or neither has one);
     2. /usr/lib/debug/.build-id/xx/yyyy.debug, then DIR/.build-id/xx/yyyy.debug and
        DIR/.build-id/xx/yyyy, then DIR/PATH and DIR/BASENAME (DIR: the debug directory), with
        the same build-id rule.
   When the file found has no DWARF, its separate debug file is looked for as gdb does: by
   build-id in /usr/lib/debug and DIR, then by its .gnu_debuglink name (or BASENAME.debug) next
   to it, in its .debug/ subdirectory, under /usr/lib/debug/DIRNAME/, under DIR/DIRNAME/ and in
   DIR itself; a candidate must carry the same build-id, or the debuglink's CRC when the object
   has no build-id. No network: debuginfod is never asked.

   Frames come innermost first, as `addr2line -i -f` prints them: each inlined call is a frame of
   its own (its line is the line being executed in it; the next frame's line is where it was
   inlined, DW_AT_call_file:DW_AT_call_line), the function that holds them comes last.
   Without debug information for the address there is one frame: filename
   "<module basename>+0x<offset hex>" (the offset as given, not minus one), lineno 0, function
   the ELF symbol table's name (.symtab, else .dynsym) or NULL. A missing or unreadable file is
   never an error: it symbolizes that way too. */
#ifndef SYMBOLIZE_H
#define SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

struct symbolizer;

struct symbol_frame {
    const char *filename; /* never NULL */
    unsigned lineno;      /* 0: unknown */
    const char *function; /* NULL: unknown */
};

/* The debug directory of symbolizers created with debug_dir NULL (`--debug-dir DIR`). The
   string is kept, not copied. Returns 0, or -1 with errno set when dir is not a readable
   directory (ENOTDIR and stat's errors). NULL clears it. */
int symbolize_set_debug_dir(const char *dir);

/* A symbolizer with no module opened yet; debug_dir may be NULL (then the one set with
   symbolize_set_debug_dir is used, if any). Returns NULL only when out of memory. */
struct symbolizer *symbolizer_new(const char *debug_dir);

/* Closes every module; the strings the symbolizer returned are then freed. */
void symbolizer_free(struct symbolizer *s);

/* Writes the frames of the return address at offset in the module (path, build_id) to out,
   innermost first, at most n of them (a deeper inline chain loses its outermost frames), and
   returns how many: >= 1 when n >= 1. path NULL means the address was in no module: one frame
   "0x<offset hex>". Strings stay valid until symbolizer_free. Each (module, offset) is
   symbolized once; asking again costs one hash lookup. */
int symbolize(struct symbolizer *s, const char *path, const unsigned char *build_id,
              size_t build_id_length, uint64_t offset, struct symbol_frame *out, int n);

#endif
