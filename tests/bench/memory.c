/*
 * memory: the heap a client configured by KEY=VALUE arguments takes per
 * broker connection. It connects to every broker of the cluster (one
 * message to every partition of TOPIC, whose partitions are led by
 * different brokers), lets the connections go idle, and prints
 *   "memory: N connections: X KB per connection (heap Y KB over before rd_kafka_new)"
 * Heap is glibc's in-use count (mallinfo2: OpenSSL, librdkafka and the
 * plugin allocate from it), everything of the client included, divided by
 * the brokers it is connected to.
 *
 *   memory TOPIC KEY=VALUE...
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "bench_conf.h"

static int delivered;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    delivered += m->err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

static size_t heap(void)
{
    return mallinfo2().uordblks;
}

int main(int argc, char **argv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const struct rd_kafka_metadata *md = NULL;
    char errstr[1024];
    size_t before;
    rd_kafka_t *rk;
    int partitions = 0, brokers;

    if (argc < 2) {
        fprintf(stderr, "usage: memory TOPIC KEY=VALUE...\n");
        return 2;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    if (!bench_conf_args(conf, argv, 2, argc, "memory"))
        return 2;
    before = heap();
    if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))) == NULL) {
        fprintf(stderr, "memory: %s\n", errstr);
        return 1;
    }
    if (rd_kafka_metadata(rk, 1, NULL, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 1;
    brokers = md->broker_cnt;
    for (int t = 0; t < md->topic_cnt; t++)
        if (strcmp(md->topics[t].topic, argv[1]) == 0)
            partitions = md->topics[t].partition_cnt;
    rd_kafka_metadata_destroy(md);
    for (int p = 0; p < partitions; p++)
        rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[1]), RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_VALUE("m", 1),
                          RD_KAFKA_V_END);
    rd_kafka_flush(rk, 10000);
    if (partitions < brokers || delivered != partitions) {
        fprintf(stderr, "memory: %d of %d partitions delivered, %d brokers\n", delivered, partitions, brokers);
        return 1;
    }
    /* idle: the transport gives idle connections' TLS record buffers back
     * (SSL_MODE_RELEASE_BUFFERS); librdkafka's own TLS keeps them */
    for (int i = 0; i < 10; i++)
        rd_kafka_poll(rk, 100);
    {
        size_t used = heap() - before;

        printf("memory: %d connections: %.1f KB per connection (heap %.1f KB over before rd_kafka_new)\n", brokers,
               (double)used / 1024.0 / brokers, (double)used / 1024.0);
    }
    rd_kafka_destroy(rk);
    return 0;
}
