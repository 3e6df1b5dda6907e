/*
 * What the live-rotation tests share: clients made the way an application
 * makes them (plugin.library.paths first, then the properties, the
 * application's own log_cb), volumes in the layouts certificate services
 * write, and a sink for everything the application's log_cb receives.
 */
#ifndef KMTLS_TESTS_LIVE_CLIENT_H
#define KMTLS_TESTS_LIVE_CLIENT_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "harness.h"

/* Every line the application's log_cb received: "<level>FACILITY| line". */
extern logsink applog;

/* A configuration with the plugin loaded first ($KMTLS_PLUGIN), the volume,
 * mtls.rotation=live, the bootstrap broker (NULL: none), applog as the
 * application's log_cb and produce_n's delivery report callback. */
rd_kafka_conf_t *live_conf(const char *volume, const char *bootstrap);
/* rd_kafka_conf_set, asserted to succeed */
void conf_set(rd_kafka_conf_t *conf, const char *name, const char *value);
/* rd_kafka_new, asserted to succeed */
rd_kafka_t *client_new(rd_kafka_type_t type, rd_kafka_conf_t *conf);
/*
 * rd_kafka_new that is to fail: 1 if it did (err says why). librdkafka < 2.13
 * (#4142) leaves a conf whose rd_kafka_new failed with a plugin loaded
 * unsafe to destroy, so it is left alone, and under LeakSanitizer what it
 * holds is not reported.
 */
int client_new_fails(rd_kafka_type_t type, rd_kafka_conf_t *conf, char *err, size_t n);
/* Around making a configuration that client_new_fails will be given (what
 * the plugin allocates for it is lost with #4142 too): leak checking off. */
void leaks_unchecked_begin(void);
void leaks_unchecked_end(void);
/* "127.0.0.1:port" (a static buffer per call slot, 4 slots) */
const char *bootstrap_of(int port);

/* Produces n messages "PREFIX-i" to topic and waits for every delivery
 * report (up to timeout_ms); returns the number delivered without error. */
int produce_n(rd_kafka_t *rk, const char *topic, const char *prefix, int n, int timeout_ms);

/* A fresh directory under $TMPDIR (removed by the caller with rmtree). */
char *make_tmpdir(const char *tag);
void rmtree(const char *dir);
/* A cert-manager volume in dir: tls.crt and tls.key of the test identity
 * (app-v1, app-v2, stranger), ca.crt of the CA (ca, foreign; NULL: none).
 * Each file is written to a temporary name and renamed into place. */
void volume_certmanager(const char *dir, const char *identity, const char *ca);
/* One file of an identity (tls.crt or tls.key) into dir, renamed into place. */
void volume_put(const char *dir, const char *identity, const char *file);
/* A Kubernetes secret volume: dir/..TS/{tls.crt,tls.key,ca.crt}, the link
 * dir/..data -> ..TS and dir/FILE -> ..data/FILE; a later call swaps
 * ..data to a new ..TS in one rename, as kubelet does. */
void volume_kubernetes(const char *dir, const char *identity);

#endif
