/* cmd_run.h - `tracemalloc run`: a program under the preloaded tracer (cmd_run.c). */
#ifndef CMD_RUN_H
#define CMD_RUN_H

/* argv[0] is "run"; returns the exit status (the program's). */
int cmd_run(int argc, char **argv);

/* The command's --help text. */
extern const char cmd_run_usage[];

#endif
