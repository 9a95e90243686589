/* The MQTT publisher (see mqtt.h): a bounded queue filled by the delivery thread and one thread
 * of its own that owns the libmosquitto client, connects, publishes with QoS 1, tracks what the
 * broker acknowledged and reconnects with backoff.
 *
 * A fresh client is made for every connection attempt, so that libmosquitto never holds messages
 * of its own across a reconnect: the queue here and the in-flight table are the whole truth, and
 * every event is either acknowledged, still held, dropped (counted) or undelivered at exit
 * (counted). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "panoptes/log.h"
#include "analytics/mqtt.h"

void pan_mqtt_params_default(pan_mqtt_params *p)
{
    memset(p, 0, sizeof *p);
    p->queue_max = 10000;
    p->keepalive_s = 30;
    p->retry_min_s = 0.5;
    p->retry_max_s = 5.0;
    p->connect_timeout_s = 5.0;
    p->drain_s = 3.0;
}

void pan_mqtt_publish_event(void *m, const pan_event *ev)
{
    if (m && ev && ev->json) pan_mqtt_publish(m, ev->camera, ev->json);
}

#ifndef PANOPTES_HAVE_MOSQUITTO

struct pan_mqtt {
    int unused;
};

pan_status pan_mqtt_create(pan_mqtt **m, const char *url, const pan_mqtt_params *params, char *err, size_t err_size)
{
    char host[256], prefix[256];
    int port;
    pan_status st;
    (void)params;
    if (m) *m = NULL;
    if ((st = pan_mqtt_url_parse(url, host, sizeof host, &port, prefix, sizeof prefix, err, err_size))) return st;
    if (err && err_size)
        snprintf(err, err_size, "%s: this build has no MQTT (install libmosquitto-dev and rebuild)", url);
    return PAN_UNSUPPORTED;
}
pan_status pan_mqtt_publish(pan_mqtt *m, int camera, const char *payload) { return PAN_UNSUPPORTED; }
void pan_mqtt_get_stats(pan_mqtt *m, pan_mqtt_stats *s) { memset(s, 0, sizeof *s); }
void pan_mqtt_destroy(pan_mqtt **m, pan_mqtt_stats *final)
{
    if (final) memset(final, 0, sizeof *final);
    if (m) *m = NULL;
}

#else

#include <mosquitto.h>

#define MAX_INFLIGHT 20 /* libmosquitto's own default for QoS > 0 */

typedef struct msg {
    char *topic, *payload;
    int mid; /* in flight: the message id libmosquitto gave it */
} msg;

enum { DOWN, CONNECTING, UP };

struct pan_mqtt {
    pan_mqtt_params p;
    char *url, *client_id;
    char host[256], prefix[256];
    int port;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    msg *q;          /* ring of queue_max waiting messages */
    int q_head, q_n;
    msg inflight[MAX_INFLIGHT];
    int n_inflight;
    int stop;
    pan_mqtt_stats st;
    int warned_drop;
    /* thread-owned */
    struct mosquitto *mosq;
    int state, was_up, lost_reported;
    int cb_connack, cb_disconnected; /* set by callbacks during mosquitto_loop */
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void msg_free(msg *x)
{
    free(x->topic);
    free(x->payload);
    x->topic = x->payload = NULL;
}

/* Under mu. Puts x at the back (or the front: a message that was in flight goes first again). */
static void q_push(pan_mqtt *m, msg x, int front)
{
    int cap = m->p.queue_max;
    if (m->q_n == cap) { /* full: the oldest goes */
        msg_free(&m->q[m->q_head]);
        m->q_head = (m->q_head + 1) % cap;
        m->q_n--;
        m->st.dropped++;
        if (!m->warned_drop)
            pan_log_warn("mqtt", -1, "%s: %d events waiting for the broker; dropping the oldest from now on "
                         "(counted; the run's summary says how many)", m->url, cap);
        m->warned_drop = 1;
    }
    if (front) {
        m->q_head = (m->q_head + cap - 1) % cap;
        m->q[m->q_head] = x;
    } else {
        m->q[(m->q_head + m->q_n) % cap] = x;
    }
    m->q_n++;
}

pan_status pan_mqtt_publish(pan_mqtt *m, int camera, const char *payload)
{
    msg x = {0};
    size_t tn;
    if (!m || !payload || camera < 0) return PAN_INVAL;
    tn = strlen(m->prefix) + 32;
    x.topic = malloc(tn);
    x.payload = strdup(payload);
    if (!x.topic || !x.payload) {
        msg_free(&x);
        pthread_mutex_lock(&m->mu);
        m->st.queued++;
        m->st.dropped++; /* counted, like a full queue */
        pthread_mutex_unlock(&m->mu);
        return PAN_NOMEM;
    }
    snprintf(x.topic, tn, "%s/%d/events", m->prefix, camera);
    pthread_mutex_lock(&m->mu);
    m->st.queued++;
    q_push(m, x, 0);
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return PAN_OK;
}

/* ------------------------------------------------------------------------ the thread */

static void on_connect(struct mosquitto *mosq, void *opaque, int rc)
{
    pan_mqtt *m = opaque;
    (void)mosq;
    m->cb_connack = rc == 0 ? 1 : -1;
    if (rc) pan_log_warn("mqtt", -1, "%s: the broker refused the connection: %s", m->url, mosquitto_connack_string(rc));
}

static void on_disconnect(struct mosquitto *mosq, void *opaque, int rc)
{
    pan_mqtt *m = opaque;
    (void)mosq, (void)rc;
    m->cb_disconnected = 1;
}

static void on_publish(struct mosquitto *mosq, void *opaque, int mid)
{
    pan_mqtt *m = opaque;
    (void)mosq;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n_inflight; i++)
        if (m->inflight[i].mid == mid) {
            msg_free(&m->inflight[i]);
            memmove(&m->inflight[i], &m->inflight[i + 1], (size_t)(m->n_inflight - i - 1) * sizeof *m->inflight);
            m->n_inflight--;
            m->st.delivered++;
            break;
        }
    pthread_mutex_unlock(&m->mu);
}

/* The connection is gone (or never came): in-flight messages go back to the front of the queue,
 * in their order, and the client is dropped. */
static void drop_client(pan_mqtt *m, const char *why)
{
    pthread_mutex_lock(&m->mu);
    for (int i = m->n_inflight - 1; i >= 0; i--) {
        m->inflight[i].mid = 0;
        q_push(m, m->inflight[i], 1);
        m->st.resent++;
    }
    m->n_inflight = 0;
    m->st.failures++;
    m->st.connected = 0;
    int waiting = m->q_n;
    pthread_mutex_unlock(&m->mu);
    if (!m->lost_reported) {
        pan_log_warn("mqtt", -1, "%s: %s %s; retrying (every %g s at most), events are kept meanwhile (%d waiting, "
                     "up to %d)", m->url, m->was_up ? "connection lost:" : "cannot reach the broker:", why,
                     m->p.retry_max_s, waiting, m->p.queue_max);
        m->lost_reported = 1;
    } else {
        pan_log_debug("mqtt", -1, "%s: attempt failed: %s", m->url, why);
    }
    if (m->mosq) mosquitto_destroy(m->mosq);
    m->mosq = NULL;
    m->state = DOWN;
}

static int try_connect(pan_mqtt *m)
{
    m->mosq = mosquitto_new(m->client_id, true, m);
    if (!m->mosq) {
        drop_client(m, "out of memory");
        return -1;
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    m->cb_connack = 0;
    m->cb_disconnected = 0;
    int rc = mosquitto_connect_async(m->mosq, m->host, m->port, m->p.keepalive_s);
    if (rc != MOSQ_ERR_SUCCESS) {
        char why[160];
        snprintf(why, sizeof why, "%s", rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        drop_client(m, why);
        return -1;
    }
    m->state = CONNECTING;
    return 0;
}

/* Moves queued messages into flight while there is room. 0, or -1 when the client failed.
 * mosquitto_publish runs without the lock (the producer never waits on the network); the PUBACK
 * callback cannot come first, since callbacks run only inside mosquitto_loop on this thread. */
static int publish_some(pan_mqtt *m)
{
    for (;;) {
        pthread_mutex_lock(&m->mu);
        if (!m->q_n || m->n_inflight >= MAX_INFLIGHT) {
            pthread_mutex_unlock(&m->mu);
            return 0;
        }
        msg x = m->q[m->q_head];
        m->q_head = (m->q_head + 1) % m->p.queue_max;
        m->q_n--;
        pthread_mutex_unlock(&m->mu);
        int mid = 0;
        int rc = mosquitto_publish(m->mosq, &mid, x.topic, (int)strlen(x.payload), x.payload, 1, false);
        pthread_mutex_lock(&m->mu);
        if (rc != MOSQ_ERR_SUCCESS) q_push(m, x, 1);
        else x.mid = mid, m->inflight[m->n_inflight++] = x;
        pthread_mutex_unlock(&m->mu);
        if (rc != MOSQ_ERR_SUCCESS) return -1;
    }
}

static void *run(void *opaque)
{
    pan_mqtt *m = opaque;
    double backoff = m->p.retry_min_s, next_try = 0, started = 0, drain_until = -1;
    pthread_setname_np(pthread_self(), "pan-mqtt");
    for (;;) {
        double t = now_s();
        pthread_mutex_lock(&m->mu);
        int stop = m->stop, pending = m->q_n + m->n_inflight;
        if (stop && drain_until < 0) drain_until = t + m->p.drain_s;
        if (stop && (pending == 0 || t >= drain_until)) {
            pthread_mutex_unlock(&m->mu);
            break;
        }
        if (m->state == DOWN && t < next_try) { /* wait for the retry time (or stop) */
            double until = stop && drain_until < next_try ? drain_until : next_try;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wake = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + (until - t);
            ts.tv_sec = (time_t)wake;
            ts.tv_nsec = (long)((wake - (double)ts.tv_sec) * 1e9);
            pthread_cond_timedwait(&m->cv, &m->mu, &ts);
            pthread_mutex_unlock(&m->mu);
            continue;
        }
        pthread_mutex_unlock(&m->mu);
        if (m->state == DOWN) {
            started = t;
            if (try_connect(m)) {
                next_try = t + backoff;
                backoff = fmin(backoff * 2, m->p.retry_max_s);
                continue;
            }
        }
        if (m->state == UP && publish_some(m)) {
            drop_client(m, "publishing failed");
            next_try = t + backoff;
            continue;
        }
        int rc = mosquitto_loop(m->mosq, 50, 1);
        if (m->cb_connack > 0 && m->state == CONNECTING) {
            m->state = UP;
            backoff = m->p.retry_min_s;
            pthread_mutex_lock(&m->mu);
            m->st.connects++;
            m->st.connected = 1;
            int waiting = m->q_n;
            pthread_mutex_unlock(&m->mu);
            if (m->was_up || m->lost_reported)
                pan_log_warn("mqtt", -1, "%s: connected again; sending the %d events that waited", m->url, waiting);
            else
                pan_log_info("mqtt", -1, "%s: connected", m->url);
            m->was_up = 1;
            m->lost_reported = 0;
        }
        const char *why = NULL;
        if (rc != MOSQ_ERR_SUCCESS) why = rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
        else if (m->cb_disconnected) why = "the broker closed the connection";
        else if (m->cb_connack < 0) why = "refused";
        else if (m->state == CONNECTING && now_s() - started > m->p.connect_timeout_s) why = "no answer";
        if (why) {
            char w[160];
            snprintf(w, sizeof w, "%s", why); /* strerror's buffer is reused */
            size_t wn = strlen(w);
            if (wn && w[wn - 1] == '.') w[wn - 1] = 0; /* libmosquitto's messages end with one */
            drop_client(m, w);
            next_try = now_s() + backoff;
            backoff = fmin(backoff * 2, m->p.retry_max_s);
        }
    }
    if (m->mosq) {
        if (m->state == UP) {
            mosquitto_disconnect(m->mosq);
            mosquitto_loop(m->mosq, 50, 1);
        }
        mosquitto_destroy(m->mosq);
        m->mosq = NULL;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ lifecycle */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static void lib_init(void) { mosquitto_lib_init(); }

pan_status pan_mqtt_create(pan_mqtt **out, const char *url, const pan_mqtt_params *params, char *err, size_t err_size)
{
    static int serial;
    pan_mqtt *m;
    pan_status st;
    if (!out) return PAN_INVAL;
    *out = NULL;
    if (!(m = calloc(1, sizeof *m))) return PAN_NOMEM;
    if (params) m->p = *params;
    else pan_mqtt_params_default(&m->p);
    if ((st = pan_mqtt_url_parse(url, m->host, sizeof m->host, &m->port, m->prefix, sizeof m->prefix, err, err_size))) {
        free(m);
        return st;
    }
    if (m->p.queue_max < 1 || !(m->p.retry_min_s > 0) || m->p.retry_max_s < m->p.retry_min_s || m->p.keepalive_s < 5 ||
        !(m->p.connect_timeout_s > 0) || !(m->p.drain_s >= 0)) {
        if (err && err_size) snprintf(err, err_size, "MQTT parameters out of range");
        free(m);
        return PAN_INVAL;
    }
    char id[64];
    snprintf(id, sizeof id, "panoptes-%ld-%d", (long)getpid(), __atomic_add_fetch(&serial, 1, __ATOMIC_RELAXED));
    m->url = strdup(url);
    m->client_id = strdup(m->p.client_id ? m->p.client_id : id);
    m->q = calloc((size_t)m->p.queue_max, sizeof *m->q);
    m->p.client_id = NULL;
    if (!m->url || !m->client_id || !m->q) {
        free(m->url), free(m->client_id), free(m->q), free(m);
        return PAN_NOMEM;
    }
    pthread_once(&lib_once, lib_init);
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, run, m)) {
        if (err && err_size) snprintf(err, err_size, "%s: cannot start the MQTT thread", url);
        pthread_mutex_destroy(&m->mu), pthread_cond_destroy(&m->cv);
        free(m->url), free(m->client_id), free(m->q), free(m);
        return PAN_NOMEM;
    }
    m->started = 1;
    *out = m;
    return PAN_OK;
}

void pan_mqtt_get_stats(pan_mqtt *m, pan_mqtt_stats *s)
{
    if (!m) {
        memset(s, 0, sizeof *s);
        return;
    }
    pthread_mutex_lock(&m->mu);
    *s = m->st;
    pthread_mutex_unlock(&m->mu);
}

void pan_mqtt_destroy(pan_mqtt **pm, pan_mqtt_stats *final)
{
    if (final) memset(final, 0, sizeof *final);
    if (!pm || !*pm) return;
    pan_mqtt *m = *pm;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->mu);
    if (m->started) pthread_join(m->thread, NULL);
    m->st.undelivered = m->q_n + m->n_inflight;
    m->st.connected = 0;
    if (m->st.dropped || m->st.undelivered)
        pan_log_warn("mqtt", -1, "%s: %lld of %lld events delivered, %lld dropped (the queue of %d was full while "
                     "the broker was unreachable), %lld not delivered at exit (broker unreachable)", m->url,
                     (long long)m->st.delivered, (long long)m->st.queued, (long long)m->st.dropped, m->p.queue_max,
                     (long long)m->st.undelivered);
    else
        pan_log_info("mqtt", -1, "%s: %lld events delivered", m->url, (long long)m->st.delivered);
    if (final) *final = m->st;
    for (int i = 0; i < m->q_n; i++) msg_free(&m->q[(m->q_head + i) % m->p.queue_max]);
    for (int i = 0; i < m->n_inflight; i++) msg_free(&m->inflight[i]);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m->q), free(m->url), free(m->client_id), free(m);
    *pm = NULL;
}

#endif
