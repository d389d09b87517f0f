/* spread.h - addresses spread evenly over the functions of an ELF file, for the test and the
   benchmark: one every (function bytes / n), walking the STT_FUNC symbols of .symtab (else
   .dynsym), sorted and distinct. Each is returned plus one, as a return address would be. */
#ifndef SPREAD_H
#define SPREAD_H

#include <stddef.h>
#include <stdint.h>

/* Up to n return addresses of the ELF file at path, in *offsets (malloc'd), and its build-id
   in id (at most 64 bytes, *id_length 0 when none). Returns how many, or -1 when path is not
   a readable ELF file. */
long spread_offsets(const char *path, size_t n, uint64_t **offsets, unsigned char id[64],
                    size_t *id_length);

#endif
