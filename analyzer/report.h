/* report.h - `tracemalloc report SRC [OLD] -o report.html`: one self-contained HTML page with
   the memory over time, flame graphs of the live memory (now, at the peak, allocated), the top
   lines and, with OLD, a differential flame graph. See report.c. */
#ifndef REPORT_H
#define REPORT_H

/* The whole command: argv[1] is "report"; parses its own options. Returns the exit status
   (errors end the program, as main.c's do). */
int report_main(int argc, char **argv);

#endif
