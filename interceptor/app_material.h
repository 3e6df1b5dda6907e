/* The client key and certificate come from the plugin or from nowhere: the
 * properties librdkafka would take them from are the plugin's alone. */
#ifndef KMTLS_APP_MATERIAL_H
#define KMTLS_APP_MATERIAL_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

#include "rdkafka_host.h"

/*
 * At conf_init: the application set one of those properties before
 * plugin.library.paths, so librdkafka holds it as its own, and a failure of
 * the plugin could not stop the client from using it: 0 with errstr (the
 * plugin refuses to load), else 1. ssl.key.password set before the plugin
 * is only worth a warning (librdkafka holds it in clear).
 */
int km_app_material_before(const km_rdkafka *rdk, const rd_kafka_conf_t *conf, char *errstr,
                           size_t errstr_size);
void km_app_material_warn(const km_rdkafka *rdk, const rd_kafka_conf_t *conf);

/* After the plugin loaded: name is one of those properties, set by the
 * application (1, errstr says why it is refused), or not (0). */
int km_app_material_refused(const char *name, char *errstr, size_t errstr_size);

#endif
