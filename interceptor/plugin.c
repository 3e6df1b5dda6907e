/*
 * libkafka-mtls: a librdkafka plugin (plugin.library.paths) that gives any
 * librdkafka client mutual TLS from a keystore volume. conf_init is the
 * only exported symbol; the rest is wiring of interceptors to settings.c
 * (properties) and apply.c (on_new).
 */
#include <stdio.h>
#include <string.h>
#include <librdkafka/rdkafka.h>

#include "app_material.h"
#include "apply.h"
#include "settings.h"
#include "tls_options.h"

#define PLUGIN_NAME "kafka-mtls"

static rd_kafka_resp_err_t register_on(rd_kafka_conf_t *conf, km_settings *s);

static rd_kafka_conf_res_t on_conf_set(rd_kafka_conf_t *conf, const char *name, const char *val,
                                       char *errstr, size_t errstr_size, void *opaque)
{
    /* what mtls.rotation=live cannot honour fails here, not at client creation */
    if (km_tls_option_refused(opaque, conf, name, val, errstr, errstr_size))
        return RD_KAFKA_CONF_INVALID;
    return km_settings_set(opaque, name, val, errstr, errstr_size);
}

static rd_kafka_resp_err_t on_conf_dup(rd_kafka_conf_t *new_conf, const rd_kafka_conf_t *old_conf,
                                       size_t filter_cnt, const char **filter, void *opaque)
{
    km_settings *copy = km_settings_dup(opaque);
    rd_kafka_resp_err_t err;

    (void)old_conf, (void)filter_cnt, (void)filter;
    if (copy == NULL)
        return RD_KAFKA_RESP_ERR__FAIL;
    if ((err = register_on(new_conf, copy)) != RD_KAFKA_RESP_ERR_NO_ERROR)
        km_settings_free(copy);
    return err;
}

static rd_kafka_resp_err_t on_conf_destroy(void *opaque)
{
    km_settings_free(opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf, void *opaque,
                                  char *errstr, size_t errstr_size)
{
    /* The client's own copy of the configuration, still open for changes:
     * librdkafka reads the ssl.* properties only after on_new. */
    return km_apply(rk, (rd_kafka_conf_t *)conf, opaque, errstr, errstr_size)
               ? RD_KAFKA_RESP_ERR_NO_ERROR
               : RD_KAFKA_RESP_ERR__INVALID_ARG;
}

static rd_kafka_resp_err_t register_on(rd_kafka_conf_t *conf, km_settings *s)
{
    rd_kafka_resp_err_t err;

    if ((err = s->rdk->add_on_conf_set(conf, PLUGIN_NAME, on_conf_set, s)) ||
        (err = s->rdk->add_on_conf_dup(conf, PLUGIN_NAME, on_conf_dup, s)) ||
        (err = s->rdk->add_on_conf_destroy(conf, PLUGIN_NAME, on_conf_destroy, s)) ||
        (err = s->rdk->add_on_new(conf, PLUGIN_NAME, on_new, s)))
        return err;
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

__attribute__((visibility("default"), noinline))
rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf, void **plug_opaquep, char *errstr, size_t errstr_size);

rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf, void **plug_opaquep, char *errstr, size_t errstr_size)
{
    /* called by the librdkafka that owns conf: bind to that copy */
    const km_rdkafka *rdk = km_rdkafka_bind(__builtin_return_address(0), errstr, errstr_size);
    km_settings *s;
    rd_kafka_resp_err_t err;

    (void)plug_opaquep;
    if (rdk == NULL)
        return RD_KAFKA_RESP_ERR__FAIL;
    /* what the application set before the plugin stays librdkafka's */
    if (!km_app_material_before(rdk, conf, errstr, errstr_size))
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    if ((s = km_settings_new()) == NULL)
        return RD_KAFKA_RESP_ERR__FAIL;
    s->rdk = rdk;
    if (!km_settings_from_env(s)) {
        km_settings_free(s);
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    err = register_on(conf, s);
    if (err == RD_KAFKA_RESP_ERR__CONFLICT) {
        /* A duplicated configuration: on_conf_dup already registered a
         * copy of the original settings. */
        km_settings_free(s);
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        km_app_material_warn(rdk, conf); /* once: not for a duplicated configuration */
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(errstr, errstr_size, "kafka-mtls: cannot register interceptors: %s", rdk->err2str(err));
        km_settings_free(s);
    }
    return err;
}
