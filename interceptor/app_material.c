/*
 * Failing closed relies on one property librdkafka reads when it builds a
 * client's TLS context: the plugin's failure is written into it, and the
 * context cannot be built (apply.c, fail_closed). An application whose own
 * ssl.keystore.location, ssl.key.* or ssl.certificate.* are set would keep
 * that property busy and connect with its own certificate instead. So the
 * plugin refuses them: at loading, those set before it; afterwards, at
 * rd_kafka_conf_set. Its own sets (s->applying) are not the application's.
 */
#include <stdio.h>
#include <string.h>

#include "app_material.h"

#define PLUGIN_NAME "kafka-mtls"

/* What the plugin supplies; what it fails closed through. */
static const char *const supplied[] = {
    "ssl.keystore.location", "ssl.key.location", "ssl.key.pem", "ssl.certificate.location",
    "ssl.certificate.pem",
};

int km_app_material_before(const km_rdkafka *rdk, const rd_kafka_conf_t *conf, char *errstr,
                           size_t errstr_size)
{
    for (size_t i = 0; i < sizeof(supplied) / sizeof(supplied[0]); i++)
        if (km_rdk_conf_is_set(rdk, conf, supplied[i])) {
            snprintf(errstr, errstr_size,
                     "kafka-mtls: %s was set before plugin.library.paths, so librdkafka took it as its "
                     "own: the plugin supplies the client key and certificate and cannot fail closed "
                     "beside it; set plugin.library.paths first%s", supplied[i],
                     strcmp(supplied[i], "ssl.keystore.location") == 0
                         ? " (the plugin then reads ssl.keystore.location)"
                         : " and leave the key and certificate to the plugin");
            return 0;
        }
    return 1;
}

void km_app_material_warn(const km_rdkafka *rdk, const rd_kafka_conf_t *conf)
{
    if (km_rdk_conf_is_set(rdk, conf, "ssl.key.password"))
        rdk->log_print(NULL, 4, "MTLS",
                       "kafka-mtls: warning: ssl.key.password was set before plugin.library.paths, so "
                       "librdkafka holds it as its own, in clear (rd_kafka_conf_dump shows it); set "
                       "plugin.library.paths first and the plugin keeps it");
}

int km_app_material_refused(const char *name, char *errstr, size_t errstr_size)
{
    /* ssl.keystore.location is the plugin's own property (settings.c) */
    for (size_t i = 1; i < sizeof(supplied) / sizeof(supplied[0]); i++)
        if (strcmp(name, supplied[i]) == 0) {
            snprintf(errstr, errstr_size,
                     "kafka-mtls: %s: the plugin supplies the client key and certificate (mtls.volume or "
                     "ssl.keystore.location); an application's own would be used if the plugin failed: "
                     "remove %s, or the plugin", name, name);
            return 1;
        }
    return 0;
}
