/* Handing the material to a client being created (on_new). */
#ifndef KMTLS_APPLY_H
#define KMTLS_APPLY_H

#include <librdkafka/rdkafka.h>
#include "settings.h"

/*
 * Loads the material and sets it on the client's configuration. On any
 * failure the client is made to fail creation with the message (fail
 * closed) and 0 is returned with errstr set.
 */
int km_apply(rd_kafka_t *rk, rd_kafka_conf_t *conf, km_settings *s, char *errstr, size_t errstr_size);

#endif
