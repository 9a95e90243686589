/* Backends: where the pipeline's stages run. */
#ifndef PANOPTES_BACKEND_H
#define PANOPTES_BACKEND_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pan_backend {
    PAN_BACKEND_AUTO = 0, /* cuda when a GPU, its driver and NVDEC are there, else cpu */
    PAN_BACKEND_CPU,      /* the reference: host memory, FP32 */
    PAN_BACKEND_CUDA,     /* the product: device memory, FP16 engines, NVDEC */
} pan_backend;

const char *pan_backend_name(pan_backend b);
/* Parses "auto" / "cpu" / "cuda"; returns -1 when unknown. */
int pan_backend_parse(const char *s);

#ifdef __cplusplus
}
#endif
#endif
