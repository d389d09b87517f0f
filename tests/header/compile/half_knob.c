/* Must not compile: TM_RAW_REALLOC without TM_RAW_FREE ("define both or neither"). */
#include <stdlib.h>
#define TM_RAW_REALLOC(p, n) realloc((p), (n))
#define TRACEMALLOC_IMPLEMENTATION
#include "tracemalloc.h"
