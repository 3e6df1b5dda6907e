/*
 * Every plugin line goes where librdkafka's own lines go. librdkafka has no
 * public function that logs through a client's logger, but its
 * configuration hands out the application's log_cb: rd_kafka_conf_get()
 * prints function-pointer properties as "%p" ("0x55d0c0ffee00"), and the
 * default is rd_kafka_log_print itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_log.h"

#define FACILITY "MTLS"

void km_client_log_init(km_client_log *l, const km_rdkafka *rdk, const rd_kafka_conf_t *conf)
{
    char v[64];
    void *p = NULL;
    long level;
    char *end;

    memset(l, 0, sizeof(*l));
    l->rdk = rdk;
    l->level = 6; /* librdkafka's default log_level */
    km_rdk_conf_text(rdk, conf, "log_level", v, sizeof(v));
    level = strtol(v, &end, 10);
    if (v[0] != '\0' && *end == '\0' && level >= 0 && level <= 7)
        l->level = (int)level;
    km_rdk_conf_text(rdk, conf, "log.queue", v, sizeof(v));
    l->queued = strcmp(v, "true") == 0;
    km_rdk_conf_text(rdk, conf, "log_cb", v, sizeof(v));
    if (v[0] != '\0' && sscanf(v, "%p", &p) == 1 && p != NULL) {
        km_app_log_cb *cb;

        /* data and function pointers share one representation on the
         * platforms that run librdkafka (POSIX dlsym relies on it too) */
        memcpy(&cb, &p, sizeof(cb));
        if (cb != rdk->log_print)
            l->cb = cb;
    }
}

void km_client_log_line(const km_client_log *l, const rd_kafka_t *rk, int level, const char *line)
{
    if (l->rdk == NULL || level > l->level)
        return;
    if (l->cb != NULL && !l->queued)
        l->cb(rk, level, FACILITY, line);
    else
        l->rdk->log_print(rk, level, FACILITY, line);
}
