/* panoptes info URI: what a source holds. Local files are read to their end (demuxed, not
 * decoded) to count their frames, follow size changes and notice damage or a premature end. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "io/source.h"

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void print_json(const char *uri, const pan_source_info *in, const pan_source_scan_result *sc)
{
    printf("{\"uri\":");
    json_string(uri);
    printf(",\"container\":\"%s\",\"codec\":\"%s\",\"pix_fmt\":\"%s\",\"bit_depth\":%d,\"width\":%d,\"height\":%d,"
           "\"rotation\":%d,\"display_width\":%d,\"display_height\":%d,\"fps\":%.3f,\"duration\":%.3f,\"frames\":%lld,",
           in->container, in->codec, in->pix_fmt, in->bit_depth, in->width, in->height, in->rotation,
           in->display_width, in->display_height, in->fps, in->duration,
           (long long)(sc ? sc->frames : in->index_frames ? in->index_frames : in->frames));
    if (sc) {
        printf("\"packets\":%lld,\"sizes\":[", (long long)sc->packets);
        for (int k = 0; k < sc->n_sizes; k++)
            printf("%s{\"width\":%d,\"height\":%d,\"from_frame\":%lld}", k ? "," : "", sc->sizes[k].width,
                   sc->sizes[k].height, (long long)sc->sizes[k].from_frame);
        printf("],\"complete\":%s,\"damaged_packets\":%lld,", sc->end == PAN_OK ? "true" : "false", (long long)sc->corrupt);
    }
    printf("\"bit_rate\":%lld,\"color\":\"%s\",\"matrix\":\"%s\",\"range\":\"%s\",\"live\":%s}\n", (long long)in->bit_rate,
           in->color_desc, in->matrix == PAN_COLOR_BT709 ? "bt709" : "bt601",
           in->range == PAN_RANGE_FULL ? "full" : "limited", in->is_live ? "true" : "false");
}

static void print_text(const char *uri, const pan_source_info *in, const pan_source_scan_result *sc)
{
    printf("%s\n  container  %s\n  codec      %s (%s, %d-bit)\n  size       %dx%d\n", uri, in->container, in->codec,
           in->pix_fmt, in->bit_depth, in->width, in->height);
    if (in->rotation)
        printf("  rotation   %d° clockwise: displayed %dx%d (analysed as displayed)\n", in->rotation,
               in->display_width, in->display_height);
    else
        printf("  rotation   none\n");
    printf("  fps        %.3f\n  duration   %.3f s\n", in->fps, in->duration);
    if (sc) {
        printf("  frames     %lld", (long long)sc->frames);
        if (sc->packets != sc->frames)
            printf(" shown of %lld in the file (an edit list hides %lld)", (long long)sc->packets,
                   (long long)(sc->packets - sc->frames));
        printf("\n");
        if (sc->n_sizes > 1 || sc->more_sizes) {
            printf("  sizes     ");
            for (int k = 0; k < sc->n_sizes; k++)
                printf("%s %dx%d from frame %lld", k ? "," : "", sc->sizes[k].width, sc->sizes[k].height,
                       (long long)sc->sizes[k].from_frame);
            if (sc->more_sizes) printf(", and %d more changes", sc->more_sizes);
            printf("\n");
        }
        if (sc->end == PAN_TRUNCATED)
            printf("  damage     truncated: %lld packets missing, %.2f s short of what the container declares\n",
                   (long long)sc->missing_packets, sc->missing_s);
        else if (sc->end != PAN_OK)
            printf("  damage     could not be read to its end: %s\n", pan_status_str(sc->end));
        if (sc->corrupt) printf("  damage     %lld damaged packet(s) skipped\n", (long long)sc->corrupt);
    } else {
        int64_t n = in->index_frames ? in->index_frames : in->frames;
        printf("  frames     %lld%s\n", (long long)n, n ? " (from the container)" : " (unknown)");
    }
    printf("  bit rate   %lld b/s\n  colour     %s (using %s, %s range)\n", (long long)in->bit_rate, in->color_desc,
           in->matrix == PAN_COLOR_BT709 ? "BT.709" : "BT.601", in->range == PAN_RANGE_FULL ? "full" : "limited");
}

int pan_cli_info(int argc, char **argv)
{
    int json = 0, scan = 1, rc = 0, n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            puts("usage: panoptes info [--json] [--no-scan] URI...\n"
                 "Prints container, codec, pixel format and bit depth, size, display rotation, frame rate,\n"
                 "duration, frame count and colour description. Local files are read to their end (not\n"
                 "decoded) to count the frames they show (an MP4 edit list may hide some), list the sizes of\n"
                 "a stream that changes size, and find damage or a premature end; --no-scan skips that.\n"
                 "Exit status 1 when any URI cannot be opened or read to its end.");
            return 0;
        }
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--no-scan")) scan = 0;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "panoptes info: unknown option %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) continue;
        n++;
        pan_source *src = NULL;
        /* camera -1: messages name the URI, not a camera (info has none) */
        pan_source_params sp = {.uri = argv[i], .camera = -1};
        if (pan_source_create(&src, &sp)) {
            rc = 1;
            continue;
        }
        const pan_source_info *in = pan_source_get_info(src);
        pan_source_scan_result sc;
        int scanned = scan && !in->is_live && !pan_source_uri_is_network(argv[i]);
        if (scanned && pan_source_scan(src, &sc) != PAN_OK) rc = 1;
        if (json) print_json(argv[i], in, scanned ? &sc : NULL);
        else print_text(argv[i], in, scanned ? &sc : NULL);
        pan_source_destroy(&src);
    }
    if (n == 0) {
        fputs("panoptes info: give at least one URI (see --help)\n", stderr);
        return 2;
    }
    return rc;
}
