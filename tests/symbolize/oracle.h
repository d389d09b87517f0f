/* oracle.h - what addr2line -i -f says of addresses, to hold symbolize() against.

   GNU addr2line is the reference, but binutils 2.40 (Debian 12) misreads some DWARF 5: code
   from a header or an #included .c gets the primary file's name (record.h's record() reported
   in shared.c, glibc's getXXbyYY.c in getpwnam.c), and the calls clang inlined are missing.
   Where it disagrees, a second reader decides: llvm-addr2line when installed (LLVM's own DWARF
   reader), else eu-addr2line. Functions must be GNU's, or another name of the same symbol
   (assembly functions without DWARF have aliases: __getcontext and getcontext). */
#ifndef ORACLE_H
#define ORACLE_H

#include <stdint.h>

#include "analyzer/symbolize.h"

#define ORACLE_MAX_FRAMES 32

struct frames {
    int n;
    struct symbol_frame f[ORACLE_MAX_FRAMES];
    char text[ORACLE_MAX_FRAMES][2][512]; /* the tool's strings */
};

/* Runs `TOOL -a -i -f -e PATH ADDRESS...` and fills out[i] with the frames of addresses[i]
   ("??" as NULL or line 0; columns and discriminators dropped). Returns how many addresses
   were answered, in order. */
int oracle_run(const char *tool, const char *path, const uint64_t *addresses, int n,
               struct frames *out);

/* The second reader: llvm-addr2line when installed, else eu-addr2line. */
const char *oracle_second_tool(void);

/* Compares got with what the tools say of one address of path (gnu: GNU addr2line's answer,
   second: the second reader's or NULL). Returns 0 when they agree; 2 when GNU disagrees and
   second is NULL: to be asked again with it; 1 when the second reader disagrees too, with the
   reason in why. */
int oracle_compare(const char *path, const struct frames *got, const struct frames *gnu,
                   const struct frames *second, char why[1600]);

/* oracle_compare on one address, asking GNU addr2line and, when needed, the second reader.
   Returns 0 when they agree, else 1 with the reason in why. */
int oracle_check(const char *path, uint64_t address, const struct frames *got, char why[1600]);

/* a and b name the same function: equal, or two symbols of the file with one value. */
int oracle_same_function(const char *path, const char *a, const char *b);

#endif
