/* Internal: what other GPU stages need to know about frames NVDEC produced. */
#ifndef PANOPTES_NVDEC_FRAME_H
#define PANOPTES_NVDEC_FRAME_H

#include "panoptes/frame.h"

/* The CUDA event (cudaEvent_t / CUevent as void *) recorded on the camera's stream right after
 * the frame's surface was mapped (the map's post-processing runs on that stream). A consumer on
 * another stream waits for it with cudaStreamWaitEvent before reading the planes. NULL when the
 * frame did not come from NVDEC, or when NVDEC is not built in. */
void *pan__nvdec_frame_event(const pan_frame *frame);

#endif
