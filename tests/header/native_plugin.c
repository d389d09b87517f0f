/* A library test_native_libdw dlopens (built -O2 without frame pointers): its function stays on
   the stack while the callback allocates, so the cached CFI walk must find its rule in an object
   loaded after the walker first reported the process's modules. */
void *plugin_call(void *(*callback)(void));

__attribute__((noinline)) void *plugin_call(void *(*callback)(void))
{
    void *p = callback();
    __asm__ __volatile__("" : : "r"(p) : "memory"); /* no tail call: this frame stays */
    return p;
}
