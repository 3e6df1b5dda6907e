/* The state of one client under mtls.rotation=live, shared by live.c (set
 * up and torn down with the client) and rotation.c (new material). */
#ifndef KMTLS_LIVE_STATE_H
#define KMTLS_LIVE_STATE_H

#include <stdint.h>
#include <librdkafka/rdkafka.h>

#include "at_exit.h"
#include "kmtls/issuer.h"
#include "kmtls/transport.h"
#include "material_cache.h"
#include "pem_bundle.h"
#include "settings.h"
#include "tls_options.h"
#include "volume_watch.h"

typedef struct km_live {
    rd_kafka_t *rk;
    km_settings *s;          /* a copy: where and how to read the volume again */
    km_tls_options tls;      /* the client's ssl.* settings; every SSL_CTX points into it */
    km_transport *transport;
    km_volume_watch *watch;
    km_exit_hook at_exit;    /* both halted if the process exits with the client alive */
    /* the watcher's thread only, after creation: */
    km_pem_bundle in_use;    /* the material of the current generation */
    /* the process cache's entry of in_use once a rotation made it: held
     * while this client uses it (material_cache.h; the first generation's
     * is held by apply.c until the client is destroyed) */
    unsigned char held_digest[32];
    int held;
    uint64_t generation;
    km_cache_key seen;       /* the volume's fingerprint when last read */
    km_renew_before rb;
    int window_warned;       /* the certificate in use entered its renew window: said once */
    char refused[1024];      /* the last reason new material was refused, not said twice */
} km_live;

#endif
