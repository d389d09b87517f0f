/* fail.c - see fail.h. */
#include "fail.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void fail_usage(const char *command, const char *format, ...)
{
    va_list ap;
    fputs("tracemalloc: ", stderr);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fprintf(stderr, "\nsee 'tracemalloc %s%s--help'\n", command ? command : "", command ? " " : "");
    exit(1);
}

void fail_file(const char *file, const char *format, ...)
{
    va_list ap;
    fprintf(stderr, "tracemalloc: %s: ", file);
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}
