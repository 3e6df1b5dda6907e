/* Long-running clients: renewal ahead of expiry in the background. */
#ifndef KMTLS_RENEWER_H
#define KMTLS_RENEWER_H

#include <time.h>
#include <librdkafka/rdkafka.h>

#include "pem_bundle.h"
#include "settings.h"

/*
 * Starts a thread for client rk that, when the certificate in use (in_use's
 * leaf) enters its renew window, logs a warning (a new client instance
 * picks up a renewed certificate: librdkafka cannot swap it in a running
 * client) and,
 * with a CA configured, renews the volume ahead of expiry so that restarts,
 * new clients and Java readers of the volume get the new certificate. It
 * stops when the client is destroyed. 1, or 0 if it could not start.
 */
int km_renewer_start(rd_kafka_t *rk, const km_settings *s, const km_pem_bundle *in_use);

#endif
