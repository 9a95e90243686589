/* panoptes: the command-line front end. One sub-command per tools/cmd_*.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "panoptes/log.h"
#include "panoptes/version.h"

static void usage(FILE *f)
{
    fputs("usage: panoptes <command> [options]\n"
          "\n"
          "commands:\n"
          "  run     decode, detect and track camera streams (default: the bundled sample)\n"
          "  info    print what a source holds (codec, size, frame rate, colour)\n"
          "  track   run the tracker alone on MOTChallenge detections\n"
          "  eval    score tracks against ground truth (MOTA, IDF1, ...)\n"
          "  serve   run as a service: HTTP API to add/remove cameras, metrics, status page\n"
          "\n"
          "`panoptes <command> --help` describes each command.\n"
          "Environment: PANOPTES_LOG=error|warn|info|debug (or DEBUG=1) sets the log level.\n",
          f);
}

int main(int argc, char **argv)
{
    pan_log_init();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("panoptes %s\n", pan_version());
        return 0;
    }
    if (!strcmp(cmd, "run")) return pan_cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return pan_cli_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "track")) return pan_cli_track(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return pan_cli_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return pan_cli_serve(argc - 1, argv + 1);
    fprintf(stderr, "panoptes: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
