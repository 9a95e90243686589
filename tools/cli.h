/* Sub-commands of the `panoptes` CLI, one tools/cmd_*.c each. Each takes argv as given after the
 * command name (argv[0] is the command name) and returns the process exit status. */
#ifndef PANOPTES_CLI_H
#define PANOPTES_CLI_H

int pan_cli_run(int argc, char **argv);   /* cmd_run.c   */
int pan_cli_info(int argc, char **argv);  /* cmd_info.c  */
int pan_cli_track(int argc, char **argv); /* cmd_track.c */
int pan_cli_eval(int argc, char **argv);  /* cmd_eval.c  */
int pan_cli_serve(int argc, char **argv); /* cmd_serve.c */

/* cli_util.c: shared by the sub-commands. */
#include <stddef.h>
int pan_cli_file_exists(const char *path);
/* A file shipped with Panoptes (data/, models/): $PANOPTES_HOME, the working directory, then up
 * to three folders above the executable's (build/panoptes -> ./). buf receives the path; NULL
 * when not found. */
const char *pan_cli_find_asset(const char *rel, char *buf, size_t n);
/* Whole-string numbers in [lo, hi]; otherwise a usage message naming the command, the option, the
 * value and the range, and -1. */
int pan_cli_parse_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int pan_cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

#endif
