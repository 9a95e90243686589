/* Weak fallbacks for sub-commands whose modules are not in this tree yet. */
#include <stdio.h>

#include "cli.h"

__attribute__((weak)) int pan_cli_track(int argc, char **argv)
{
    fputs("panoptes track: not available in this build\n", stderr);
    return 2;
}

__attribute__((weak)) int pan_cli_eval(int argc, char **argv)
{
    fputs("panoptes eval: not available in this build\n", stderr);
    return 2;
}
