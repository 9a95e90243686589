/* `panoptes serve` put together: a pipeline built from the config, its outputs, the engine
 * adapter, the HTTP API; reloads; a draining stop. tools/cmd_serve.c parses the command line and
 * handles the signals around it. */
#ifndef PANOPTES_SERVE_SERVICE_H
#define PANOPTES_SERVE_SERVICE_H

#include <stddef.h>

#include "panoptes/pipeline.h"
#include "panoptes/status.h"
#include "serve/config.h"

typedef struct pan_serve_service pan_serve_service;

/* Lays over (the command line over the config file): every setting over sets in dst, its
 * cameras are appended. */
pan_status pan_serve_config_overlay(pan_serve_config *dst, const pan_serve_config *over);

/* The pipeline's parameters for a config (the file with the command line laid over it): every
 * pipeline key passed through (model_type, overlaps and sync as run's --model-type, --overlap and
 * --sync/--no-sync); strings and arrays point into c. model_default: the detector when c names
 * none. PAN_INVAL with err when detection has no model or reid names no readable file. */
pan_status pan_serve_config_pipeline_params(const pan_serve_config *c, const char *model_default,
                                            pan_pipeline_params *p, char *err, size_t n);

/* Starts everything: the pipeline (model loaded, outputs opened), the HTTP server, then the
 * cameras. config_path: the file SIGHUP re-reads (NULL = none); over: the command line, laid over
 * it again at each reload (its cameras are started once and never reloaded). model_default: the
 * detector when neither names one. err says what failed; the caller exits 2 for PAN_INVAL
 * (usage), 3 otherwise. */
pan_status pan_serve_service_start(pan_serve_service **s, const char *config_path, const pan_serve_config *over,
                                   const char *model_default, char *err, size_t n);
/* "127.0.0.1:8080" as bound (the real port when 0 was asked for). */
const char *pan_serve_service_address(const pan_serve_service *s);
/* Reads the config file again: starts the cameras it added, stops the ones it dropped, re-reads
 * the token file; settings that need a restart are named in a warning. A config with errors is
 * logged and ignored (the service goes on as it was). */
pan_status pan_serve_service_reload(pan_serve_service *s);
/* Stops taking requests, stops the cameras, delivers every decoded frame, closes the outputs.
 * Returns the pipeline's status (PAN_OK, or why it failed). */
pan_status pan_serve_service_stop(pan_serve_service *s);
void pan_serve_service_destroy(pan_serve_service **s);

#endif
