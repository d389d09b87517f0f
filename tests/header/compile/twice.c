/* Including the header twice in one file, implementation and override on, is harmless: the
   _ONCE guard keeps one implementation and the override macros are simply re-armed. */
#define TRACEMALLOC_IMPLEMENTATION
#define TRACEMALLOC_OVERRIDE
#include "tracemalloc.h"
#include "tracemalloc.h"

int main(void)
{
    char *p;
    int traced;
    tm_start(1);
    p = (char *)malloc(10);
    traced = tm_get_object_traceback(p) != NULL;
    free(p);
    tm_stop();
    return traced ? 0 : 1;
}
