/* The library's version. CMakeLists.txt reads it from here; panoptes.pc and the CMake package
 * carry it. */
#ifndef PANOPTES_VERSION_H
#define PANOPTES_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define PAN_VERSION_MAJOR 0
#define PAN_VERSION_MINOR 2
#define PAN_VERSION_PATCH 0
#define PAN_VERSION_STRING "0.2.0"
/* One number that grows with each release: 10000 * major + 100 * minor + patch. */
#define PAN_VERSION_NUMBER (PAN_VERSION_MAJOR * 10000 + PAN_VERSION_MINOR * 100 + PAN_VERSION_PATCH)

/* The version of the library linked in (which may differ from the header's): "0.2.0". */
const char *pan_version(void);

#ifdef __cplusplus
}
#endif
#endif
