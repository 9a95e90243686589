/* The NVDEC loader's debug lines are formatted (issue #16, item 9): on a machine without an
 * NVIDIA driver, PANOPTES_LOG=debug used to print the loader's format itself, "Cannot load %s",
 * instead of the library it could not load. Runs in CUDA builds (the loader is there only). */
#include <pthread.h>

#include "decode/decoder.h"
#include "panoptes/log.h"
#include "test.h"

#if defined(PANOPTES_HAVE_CUDA) && defined(PANOPTES_HAVE_FFNVCODEC)
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int lines, raw_formats, cannot_load;

static void sink(void *opaque, pan_log_level level, const char *line)
{
    (void)opaque, (void)level;
    pthread_mutex_lock(&lock);
    lines++;
    if (strstr(line, "%s") || strstr(line, "%d")) {
        raw_formats++;
        fprintf(stderr, "  unformatted: %s\n", line);
    }
    if (strstr(line, "Cannot load lib")) cannot_load++;
    pthread_mutex_unlock(&lock);
}
#endif

PAN_TEST(nvdec_loader_lines_are_formatted)
{
#if !(defined(PANOPTES_HAVE_CUDA) && defined(PANOPTES_HAVE_FFNVCODEC))
    PAN_SKIP("built without NVDEC (CUDA and ffnvcodec headers)");
#else
    pan_log_set_sink(sink, NULL);
    pan_log_set_level(PAN_LOG_DEBUG);
    int avail = pan_decoder_nvdec_available();
    pan_log_set_sink(NULL, NULL);
    ASSERT_EQ(raw_formats, 0);
    /* Without a driver the loader says which library it could not load. */
    if (!avail) ASSERT_GE(cannot_load, 1);
    fprintf(stderr, "  nvdec %savailable, %d log lines\n", avail ? "" : "not ", lines);
#endif
}

PAN_TEST_MAIN(nvdec_loader_lines_are_formatted)
