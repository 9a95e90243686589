/* Sub-commands of the `panoptes` CLI, one tools/cmd_*.c each. Each takes argv as given after the
 * command name (argv[0] is the command name) and returns the process exit status. */
#ifndef PANOPTES_CLI_H
#define PANOPTES_CLI_H

int pan_cli_run(int argc, char **argv);   /* cmd_run.c   */
int pan_cli_info(int argc, char **argv);  /* cmd_info.c  */
int pan_cli_track(int argc, char **argv); /* cmd_track.c */
int pan_cli_eval(int argc, char **argv);  /* cmd_eval.c  */
int pan_cli_serve(int argc, char **argv); /* cmd_serve.c */

#endif
