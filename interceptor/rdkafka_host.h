/*
 * The librdkafka that loaded the plugin. The plugin is not linked against
 * any librdkafka: a process may hold several copies (the PyPI wheel of
 * confluent-kafka bundles its own under another soname, Debian's
 * librdkafka.so.1 may be loaded beside it, a Go or C++ program may link
 * one statically), and a call into a copy other than the one that owns a
 * configuration corrupts it. Every call goes through the table of the copy
 * that called conf_init, found from conf_init's return address.
 */
#ifndef KMTLS_RDKAFKA_HOST_H
#define KMTLS_RDKAFKA_HOST_H

#include <stddef.h>
#include <librdkafka/rdkafka.h>

typedef struct km_rdkafka {
    const char *path;     /* the shared object (or program) holding it */
    int version;          /* its rd_kafka_version() */
    __typeof__(rd_kafka_version) *version_fn;
    __typeof__(rd_kafka_version_str) *version_str;
    __typeof__(rd_kafka_err2str) *err2str;
    __typeof__(rd_kafka_conf_set) *conf_set;
    __typeof__(rd_kafka_conf_get) *conf_get;
    __typeof__(rd_kafka_conf_interceptor_add_on_conf_set) *add_on_conf_set;
    __typeof__(rd_kafka_conf_interceptor_add_on_conf_dup) *add_on_conf_dup;
    __typeof__(rd_kafka_conf_interceptor_add_on_conf_destroy) *add_on_conf_destroy;
    __typeof__(rd_kafka_conf_interceptor_add_on_new) *add_on_new;
    __typeof__(rd_kafka_interceptor_add_on_destroy) *add_on_destroy;
    __typeof__(rd_kafka_interceptor_add_on_thread_start) *add_on_thread_start;
    __typeof__(rd_kafka_interceptor_add_on_request_sent) *add_on_request_sent;
    __typeof__(rd_kafka_interceptor_add_on_send) *add_on_send;
    __typeof__(rd_kafka_log_print) *log_print;
    /* mtls.rotation=live: the plugin's TLS under librdkafka's connect_cb */
    __typeof__(rd_kafka_conf_new) *conf_new;
    __typeof__(rd_kafka_conf_destroy) *conf_destroy;
    __typeof__(rd_kafka_conf_set_connect_cb) *conf_set_connect_cb;
    __typeof__(rd_kafka_opaque) *opaque;
} km_rdkafka;

/*
 * The librdkafka whose code is at caller (conf_init's return address):
 * every function resolved from that very object, never from another copy.
 * The table lives as long as the process. NULL with errstr naming the
 * object and the missing function.
 */
const km_rdkafka *km_rdkafka_bind(const void *caller, char *errstr, size_t errstr_size);

/* rdkafka_conf.c: a property's text value into out[n], "" when unset or
 * unreadable. */
void km_rdk_conf_text(const km_rdkafka *rdk, const rd_kafka_conf_t *conf, const char *name, char *out,
                      size_t n);
/* 1 when the property holds a non-empty value. */
int km_rdk_conf_is_set(const km_rdkafka *rdk, const rd_kafka_conf_t *conf, const char *name);

#endif
