/* Events over MQTT (libmosquitto): each event is published with QoS 1 (at least once) on
 * <prefix>/<camera id>/events. The publisher never blocks its caller: events go into a bounded
 * queue that one thread of its own sends from. While the broker is unreachable (at start or
 * later) the thread retries with exponential backoff and the queue holds the events; when it is
 * full, the oldest event is dropped and counted. Events sent but not acknowledged when a
 * connection drops are sent again after the reconnect (so a subscriber may see one twice, as
 * QoS 1 allows). At destroy the thread keeps delivering for up to drain_s, then reports what was
 * delivered, dropped and left undelivered. Nothing is lost without being counted. */
#ifndef PANOPTES_MQTT_H
#define PANOPTES_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "analytics/analytics.h"
#include "panoptes/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pan_mqtt_params {
    int queue_max;        /* events waiting while the broker is unreachable (10000) */
    int keepalive_s;      /* MQTT keep-alive (30) */
    double retry_min_s;   /* first reconnect delay (0.5 s), doubling to */
    double retry_max_s;   /* (5 s) */
    double connect_timeout_s; /* a connection attempt without CONNACK this long fails (5 s) */
    double drain_s;       /* at destroy: how long to keep delivering what is queued (3 s) */
    const char *client_id; /* NULL: "panoptes-<pid>-<n>" */
} pan_mqtt_params;

void pan_mqtt_params_default(pan_mqtt_params *p);

/* Parses mqtt://host[:port][/prefix] (port 1883, prefix "panoptes"; IPv6 hosts in brackets).
 * PAN_INVAL with a message saying what is wrong and what is expected. */
pan_status pan_mqtt_url_parse(const char *url, char *host, size_t host_size, int *port, char *prefix,
                              size_t prefix_size, char *err, size_t err_size);

typedef struct pan_mqtt pan_mqtt;

/* Checks the URL and starts the publishing thread; never waits for the broker (an unreachable
 * broker is logged, with the URL, and retried). PAN_INVAL for a malformed URL, PAN_UNSUPPORTED in
 * a build without libmosquitto (err says so). */
pan_status pan_mqtt_create(pan_mqtt **m, const char *url, const pan_mqtt_params *params, char *err, size_t err_size);
/* Queues payload (a JSON text) for <prefix>/<camera>/events. Thread-safe, never blocks. */
pan_status pan_mqtt_publish(pan_mqtt *m, int camera, const char *payload);
/* A pan_analytics listener (opaque = the pan_mqtt): publishes the event's JSON. */
void pan_mqtt_publish_event(void *m, const pan_event *event);

typedef struct pan_mqtt_stats {
    int64_t queued;      /* events given to pan_mqtt_publish */
    int64_t delivered;   /* acknowledged by the broker (PUBACK) */
    int64_t dropped;     /* dropped from a full queue */
    int64_t undelivered; /* left when the publisher was destroyed (final stats only) */
    int64_t resent;      /* sent again after a connection dropped before their PUBACK */
    int64_t connects;    /* successful connections */
    int64_t failures;    /* failed attempts and lost connections */
    int connected;
} pan_mqtt_stats;

void pan_mqtt_get_stats(pan_mqtt *m, pan_mqtt_stats *s);
/* Delivers for up to drain_s, stops the thread, logs the counts and frees. final (may be NULL)
 * receives the final statistics. NULL-safe. */
void pan_mqtt_destroy(pan_mqtt **m, pan_mqtt_stats *final);

#ifdef __cplusplus
}
#endif
#endif
