/* Panoptes: the whole public API in one include. See pipeline.h to start. */
#ifndef PANOPTES_PANOPTES_H
#define PANOPTES_PANOPTES_H

#include "panoptes/backend.h"
#include "panoptes/detection.h"
#include "panoptes/frame.h"
#include "panoptes/log.h"
#include "panoptes/pipeline.h"
#include "panoptes/status.h"
#include "panoptes/track.h"
#include "panoptes/version.h"

#endif
