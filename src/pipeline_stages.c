/* The stages after the batcher. */
#include "pipeline_stages.h"

#include <stdlib.h>
#include <string.h>

#include "panoptes/log.h"

struct pan_stages_impl {
    int unused;
};

pan_status pan_stages_resolve_backend(pan_backend requested, pan_backend *chosen)
{
    int gpu = pan_decoder_nvdec_available();
    if (requested == PAN_BACKEND_AUTO) {
        *chosen = gpu ? PAN_BACKEND_CUDA : PAN_BACKEND_CPU;
        pan_log_info("pipeline", -1, "backend: %s (%s)", pan_backend_name(*chosen),
                     gpu ? "NVIDIA GPU with NVDEC found" : "no usable NVIDIA GPU/NVDEC");
        return PAN_OK;
    }
    if (requested == PAN_BACKEND_CUDA && !gpu) {
        pan_log_error("pipeline", -1,
                      "--backend cuda: no usable NVIDIA GPU with NVDEC (driver, libcuda/libnvcuvid) was found%s; "
                      "use --backend cpu",
#ifdef PANOPTES_HAVE_CUDA
                      ""
#else
                      " and this build has no CUDA support"
#endif
        );
        return PAN_NOGPU;
    }
    *chosen = requested;
    return PAN_OK;
}

pan_status pan_stages_create(pan_stages *s, const pan_pipeline_params *p, pan_backend backend)
{
    pan_status st;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->backend = backend;
    s->batch = p->batch > 0 ? p->batch : (backend == PAN_BACKEND_CUDA ? 32 : 1);
    s->impl = calloc(1, sizeof *s->impl);
    if (!s->impl) return PAN_NOMEM;
    if (p->out_path) {
        st = pan_jsonl_sink_create(&s->jsonl, p->out_path);
        if (st) return st;
    }
    return PAN_OK;
}

pan_status pan_stages_camera_decoder_params(pan_stages *s, int camera, pan_decoder_params *dp) { return PAN_OK; }

pan_status pan_stages_process_batch(pan_stages *s, pan_frame **frames, int n, pan_run_summary *sum)
{
    for (int i = 0; i < n; i++) {
        const pan_frame *f = frames[i];
        pan_frame_result r = {
            .camera = f->camera,
            .frame = f->index,
            .pts = f->pts,
            .width = f->width,
            .height = f->height,
        };
        pan_log_debug("pipeline", f->camera, "frame %lld pts %.3f", (long long)f->index, f->pts);
        if (s->jsonl) {
            pan_status st = pan_jsonl_sink_write(s->jsonl, &r);
            if (st) return st;
        }
    }
    return PAN_OK;
}

void pan_stages_destroy(pan_stages *s, pan_run_summary *sum)
{
    pan_jsonl_sink_destroy(&s->jsonl);
    free(s->impl);
    s->impl = NULL;
}
