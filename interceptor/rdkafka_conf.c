/* A client configuration's properties, read through the librdkafka that
 * loaded the plugin (rdkafka_host.h): the one reader the plugin's files
 * use. Apart from rdkafka_host.c so that what only reads properties
 * (settings, the fuzz targets) needs no dlopen. */
#include "rdkafka_host.h"

void km_rdk_conf_text(const km_rdkafka *rdk, const rd_kafka_conf_t *conf, const char *name, char *out, size_t n)
{
    size_t size = n;

    if (rdk->conf_get(conf, name, out, &size) != RD_KAFKA_CONF_OK)
        out[0] = '\0';
}

int km_rdk_conf_is_set(const km_rdkafka *rdk, const rd_kafka_conf_t *conf, const char *name)
{
    size_t size = 0;

    /* with no buffer, librdkafka reports the value's size (with its NUL) */
    return rdk->conf_get(conf, name, NULL, &size) == RD_KAFKA_CONF_OK && size > 1;
}
