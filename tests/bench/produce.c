/*
 * produce: producer throughput for a client configured by KEY=VALUE
 * arguments. Produces COUNT messages of SIZE bytes to TOPIC as fast as the
 * client takes them, waits for every delivery report, and prints
 *   "produced N messages of S bytes in T ms: R msgs/s"
 * The clock starts after the first message is delivered, so client
 * creation and the TLS handshake (what startup measures) stay out of it.
 *
 *   produce COUNT SIZE TOPIC KEY=VALUE...
 * Exits 1 with librdkafka's message when the client cannot be created or a
 * message fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <librdkafka/rdkafka.h>

#include "bench_conf.h"

static long delivered, failed;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (failed++ == 0)
            fprintf(stderr, "produce: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered++;
    }
}

static rd_kafka_t *client(int argc, char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[1024];
    rd_kafka_t *rk;

    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!bench_conf_args(conf, argv, 0, argc, "produce")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))) == NULL)
        fprintf(stderr, "produce: rd_kafka_new: %s\n", errstr);
    return rk;
}

/* Produces one message, waiting for queue space as a real producer would. */
static int produce_one(rd_kafka_t *rk, const char *topic, char *payload, size_t size)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                                    RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_END);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 1;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
            return 0;
        }
        rd_kafka_poll(rk, 1);
    }
}

int main(int argc, char **argv)
{
    long count, i;
    size_t size;
    char *payload;
    rd_kafka_t *rk;
    double t0;
    int ok = 0;

    if (argc < 4 || (count = atol(argv[1])) <= 0 || atol(argv[2]) <= 0) {
        fprintf(stderr, "usage: produce COUNT SIZE TOPIC KEY=VALUE...\n");
        return 2;
    }
    size = (size_t)atol(argv[2]);
    if ((payload = malloc(size)) == NULL || (rk = client(argc - 4, argv + 4)) == NULL)
        return 1;
    memset(payload, 'x', size);
    /* one message through first: connection, handshake and topic metadata */
    if (!produce_one(rk, argv[3], payload, size) || rd_kafka_flush(rk, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        delivered != 1)
        goto done;
    delivered = 0;
    t0 = now_ms();
    for (i = 0; i < count; i++) {
        if (!produce_one(rk, argv[3], payload, size))
            goto done;
        rd_kafka_poll(rk, 0);
    }
    if (rd_kafka_flush(rk, 120000) != RD_KAFKA_RESP_ERR_NO_ERROR || delivered != count || failed != 0) {
        fprintf(stderr, "produce: %ld of %ld delivered, %ld failed\n", delivered, count, failed);
        goto done;
    }
    {
        double ms = now_ms() - t0;

        printf("produced %ld messages of %zu bytes in %.1f ms: %.0f msgs/s\n", count, size, ms,
               (double)count * 1e3 / ms);
    }
    ok = 1;
done:
    rd_kafka_destroy(rk);
    free(payload);
    return ok ? 0 : 1;
}
