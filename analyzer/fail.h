/* fail.h - the command's two ways to stop on bad input, worded the same by every command:
   "tracemalloc: MESSAGE" then where the help is (a usage error), or "tracemalloc: FILE: MESSAGE"
   (a file that cannot be read or written). Both exit with status 1. */
#ifndef FAIL_H
#define FAIL_H

/* command: the command whose --help to point at, or NULL for the general help. */
#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
void fail_usage(const char *command, const char *format, ...);

#if defined(__GNUC__)
__attribute__((noreturn, format(printf, 2, 3)))
#endif
void fail_file(const char *file, const char *format, ...);

#endif
