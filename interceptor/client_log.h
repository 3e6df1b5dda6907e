/* The plugin's log lines, on the application's own log path. */
#ifndef KMTLS_CLIENT_LOG_H
#define KMTLS_CLIENT_LOG_H

#include <librdkafka/rdkafka.h>

#include "rdkafka_host.h"

typedef void km_app_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/*
 * How a client logs, as its configuration says: the application's log_cb
 * (NULL: librdkafka's default, rd_kafka_log_print to stderr) and log_level.
 * A plain value: copying it (the renewer's copy of the settings) is fine.
 */
typedef struct km_client_log {
    const km_rdkafka *rdk;
    km_app_log_cb *cb;      /* NULL: rdk->log_print */
    int level;              /* lines above it are dropped, as librdkafka drops its own */
    int queued;             /* log.queue=true: the application serves logs on its poll thread */
} km_client_log;

/* Reads log_cb, log_level and log.queue from the client's configuration
 * (on_new). Never fails: what cannot be read keeps librdkafka's default. */
void km_client_log_init(km_client_log *l, const km_rdkafka *rdk, const rd_kafka_conf_t *conf);

/*
 * One line (starting "kafka-mtls: ") at syslog level, facility "MTLS", to
 * the application's log_cb, from any thread - as librdkafka calls it from
 * its own threads. With log.queue=true the line goes to rd_kafka_log_print
 * (stderr) instead: librdkafka offers no way to queue a line for the
 * application's poll thread, and a log_cb written for that thread (the
 * Python client's) must not be called from another.
 */
void km_client_log_line(const km_client_log *l, const rd_kafka_t *rk, int level, const char *line);

#endif
