/*
 * latency: synchronous produce latency for a client configured by
 * KEY=VALUE arguments: one 100-byte message at a time, linger.ms=0, the
 * next sent only once the delivery report of the last one is in. Prints
 *   "latency: N messages: p50 X us, p99 Y us"
 * The first WARMUP messages (connection, handshake, metadata) are not
 * counted.
 *
 *   latency COUNT TOPIC KEY=VALUE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

#include "bench_conf.h"

#define WARMUP 50

static int done, failed;

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    failed += m->err != RD_KAFKA_RESP_ERR_NO_ERROR;
    done = 1;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[1024], payload[100];
    rd_kafka_t *rk;
    double *lat;
    long count;

    if (argc < 3 || (count = atol(argv[1])) <= 0) {
        fprintf(stderr, "usage: latency COUNT TOPIC KEY=VALUE...\n");
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!bench_conf_args(conf, argv, 3, argc, "latency"))
        return 2;
    if (rd_kafka_conf_set(conf, "linger.ms", "0", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        (rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))) == NULL) {
        fprintf(stderr, "latency: %s\n", errstr);
        return 1;
    }
    if ((lat = calloc((size_t)count, sizeof(*lat))) == NULL)
        return 1;
    memset(payload, 'x', sizeof(payload));
    for (long i = 0; i < count + WARMUP; i++) {
        double t0 = now_us();

        done = 0;
        if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_VALUE(payload, sizeof(payload)),
                              RD_KAFKA_V_END) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "latency: produce failed\n");
            return 1;
        }
        while (!done)
            rd_kafka_poll(rk, 1000);
        if (failed) {
            fprintf(stderr, "latency: delivery failed\n");
            return 1;
        }
        if (i >= WARMUP)
            lat[i - WARMUP] = now_us() - t0;
    }
    qsort(lat, (size_t)count, sizeof(*lat), cmp);
    printf("latency: %ld messages: p50 %.1f us, p99 %.1f us\n", count, lat[count / 2], lat[count * 99 / 100]);
    rd_kafka_destroy(rk);
    free(lat);
    return 0;
}
