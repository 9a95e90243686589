/* panoptes info URI: what a source holds. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "io/source.h"

int pan_cli_info(int argc, char **argv)
{
    int json = 0, rc = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: panoptes info [--json] URI...\n"
                 "Prints container, codec, size, frame rate, duration, frame count and colour description.\n"
                 "Exit status 1 when any URI cannot be opened.");
            return 0;
        }
        if (!strcmp(argv[i], "--json")) json = 1;
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) continue;
        pan_source *src = NULL;
        pan_source_params sp = {.uri = argv[i], .camera = n++};
        if (pan_source_create(&src, &sp)) {
            rc = 1;
            continue;
        }
        const pan_source_info *in = pan_source_get_info(src);
        if (json)
            printf("{\"uri\":\"%s\",\"container\":\"%s\",\"codec\":\"%s\",\"width\":%d,\"height\":%d,\"fps\":%.3f,"
                   "\"duration\":%.3f,\"frames\":%lld,\"bit_rate\":%lld,\"color\":\"%s\",\"matrix\":\"%s\","
                   "\"range\":\"%s\",\"live\":%s}\n",
                   argv[i], in->container, in->codec, in->width, in->height, in->fps, in->duration,
                   (long long)in->frames, (long long)in->bit_rate, in->color_desc,
                   in->matrix == PAN_COLOR_BT709 ? "bt709" : "bt601", in->range == PAN_RANGE_FULL ? "full" : "limited",
                   in->is_live ? "true" : "false");
        else
            printf("%s\n  container  %s\n  codec      %s\n  size       %dx%d\n  fps        %.3f\n  duration   %.3f s\n"
                   "  frames     %lld%s\n  bit rate   %lld b/s\n  colour     %s (using %s, %s range)\n",
                   argv[i], in->container, in->codec, in->width, in->height, in->fps, in->duration,
                   (long long)in->frames, in->frames ? "" : " (unknown)", (long long)in->bit_rate, in->color_desc,
                   in->matrix == PAN_COLOR_BT709 ? "BT.709" : "BT.601", in->range == PAN_RANGE_FULL ? "full" : "limited");
        pan_source_destroy(&src);
    }
    if (n == 0) {
        fputs("panoptes info: give at least one URI (see --help)\n", stderr);
        return 2;
    }
    return rc;
}
