/* mtls.rotation=live: the plugin does the TLS under an unmodified client. */
#ifndef KMTLS_LIVE_H
#define KMTLS_LIVE_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "pem_bundle.h"
#include "settings.h"

/*
 * At client creation (on_new), with the material b already read: refuses
 * what cannot work (an application connect_cb or socket_cb, which would see
 * plaintext; ssl.* settings the plugin cannot honour), builds the SSL_CTX
 * from b and the client's ssl.* settings, starts the transport and the
 * volume watcher, installs the plugin's connect_cb, and only then turns
 * librdkafka's own TLS off (ssl -> plaintext, sasl_ssl -> sasl_plaintext):
 * everything that can fail fails while librdkafka would still set up TLS,
 * so the caller can still fail client creation closed. 1, or 0 with
 * errstr (nothing is left behind).
 */
int km_live_apply(rd_kafka_t *rk, rd_kafka_conf_t *conf, km_settings *s, const km_pem_bundle *b,
                  char *errstr, size_t errstr_size);

#endif
