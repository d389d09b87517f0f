/* symfile.h - which files hold a module's code and its debug information (symbolize.h tells
   the search order). Plain file look-ups with libelf: no network, no libdwfl callbacks. */
#ifndef SYMFILE_H
#define SYMFILE_H

#include <stddef.h>

struct symfile {
    char *elf_path;   /* the ELF file standing for the module (malloc'd) */
    char *debug_path; /* its separate debug file, or NULL when elf_path has DWARF itself or
                         none was found (malloc'd) */
};

/* Finds the files of the module at path (may be relative; NULL finds by build-id only) with
   that build-id (length 0: none). debug_dir may be NULL. Returns 0 with *out filled (free it
   with symfile_free), or -1 when no file matches; never fails for any other reason than
   memory, which also gives -1. */
int symfile_find(const char *path, const unsigned char *build_id, size_t build_id_length,
                 const char *debug_dir, struct symfile *out);

void symfile_free(struct symfile *f);

#endif
