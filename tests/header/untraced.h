/* Code built without TRACEMALLOC_OVERRIDE: what the issue calls "untraced code" (a library the
   user did not instrument). Its blocks must pass through the wrappers untouched. */
#ifndef TESTS_HEADER_UNTRACED_H
#define TESTS_HEADER_UNTRACED_H
#include <stddef.h>
void *untraced_malloc(size_t size);
void untraced_free(void *ptr);
#endif
