/* app.c: the source the golden dumps' frames point at (tests/parity/golden.py). */
#include <stdlib.h>

struct row { char *cells; };






static char *alloc_row(size_t n) {
    return malloc(n);
}





static void walk(int depth) {
    if (depth) walk(depth - 1); else (void)malloc(100);
}







static void build(void) {
    alloc_row(1024);
    alloc_row(2048);
}






int main(void) {
    build(); walk(1);
    return 0;
}
