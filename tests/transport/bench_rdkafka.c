/*
 * bench_rdkafka [RUNS]: the throughput and latency figures for the
 * transport under a real librdkafka, against tests/peer/mtls-peer.sh:
 *   transport  security.protocol=plaintext + connect_cb -> km_transport
 *   own TLS    security.protocol=ssl, the same key, certificate and CA files
 * taken in turns, RUNS times each (default 3):
 *   - produce 1,000,000 x 100-byte messages (acks=all), from the first
 *     produce to the last delivery report: messages per second;
 *   - sync produce: one message, wait for its delivery report, 2000 times:
 *     the median.
 * A benchmark (meson benchmark): it prints, asserts only that it ran.
 */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "peers.h"

#define MSGS 1000000
#define SYNC 2000

static km_transport *current;
static int delivered;

static int connect_cb(int fd, const struct sockaddr *addr, int addrlen, const char *id, void *opaque)
{
    (void)opaque;
    return km_transport_connect(current, fd, addr, (socklen_t)addrlen, id);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    ck_assert_msg(m->err == 0, "delivery failed: %s", rd_kafka_err2str(m->err));
    delivered++;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static rd_kafka_t *producer(int port, int own_tls)
{
    char err[512], bootstrap[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", port);
#define SET(k, v) ck_assert_msg(rd_kafka_conf_set(conf, k, v, err, sizeof(err)) == RD_KAFKA_CONF_OK, "%s", err)
    SET("bootstrap.servers", bootstrap);
    SET("broker.address.family", "v4");
    SET("queue.buffering.max.messages", "1000000");
    if (own_tls) {
        SET("security.protocol", "ssl");
        SET("ssl.certificate.location", cert_path("app-v1/tls.crt"));
        SET("ssl.key.location", cert_path("app-v1/tls.key"));
        SET("ssl.ca.location", cert_path("ca/ca.crt"));
    } else {
        SET("security.protocol", "plaintext");
        rd_kafka_conf_set_connect_cb(conf, connect_cb);
    }
#undef SET
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    ck_assert_msg(rk != NULL, "%s", err);
    return rk;
}

static void produce(rd_kafka_t *rk, const char *payload)
{
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("kmtls-bench"), RD_KAFKA_V_VALUE((void *)payload, 100),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(rk, 1);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t heap(void)
{
    malloc_trim(0);
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* one run: messages/s, the sync median (us), the client's heap once it is
 * connected (B) */
static void run(int port, int own_tls, double *rate, double *p50, double *mem)
{
    static char payload[100];
    static double lat[SYNC];
    km_transport_config cfg = {.verify_hostname = 1};
    char err[256];
    size_t h0 = heap();

    if (!own_tls) {
        SSL_CTX *ctx = client_ctx("app-v1", "ca", 0);
        current = km_transport_new(&cfg, ctx, err, sizeof(err));
        ck_assert_msg(current != NULL, "%s", err);
        SSL_CTX_free(ctx);
    }
    memset(payload, 'x', sizeof(payload));
    rd_kafka_t *rk = producer(port, own_tls);
    /* warm: metadata, the connection, the topic */
    delivered = 0;
    produce(rk, payload);
    ck_assert_int_eq(rd_kafka_flush(rk, 30000), 0);
    *mem = (double)(heap() - h0);

    delivered = 0;
    double t0 = now_s();
    for (int i = 0; i < MSGS; i++) {
        produce(rk, payload);
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    ck_assert_int_eq(rd_kafka_flush(rk, 120000), 0);
    *rate = MSGS / (now_s() - t0);
    ck_assert_int_eq(delivered, MSGS);

    for (int i = 0; i < SYNC; i++) {
        double s = now_s();
        produce(rk, payload);
        ck_assert_int_eq(rd_kafka_flush(rk, 10000), 0);
        lat[i] = (now_s() - s) * 1e6;
    }
    qsort(lat, SYNC, sizeof(lat[0]), cmp);
    *p50 = lat[SYNC / 2];
    rd_kafka_destroy(rk);
    if (!own_tls)
        km_transport_free(current);
}

static int runs = 3;

START_TEST(bench)
{
    mtls_peer peer;
    double rate[2][16], p50[2][16], mem[2][16];

    mtls_peer_start(&peer, NULL);
    for (int r = 0; r < runs; r++)
        for (int side = 0; side < 2; side++) {
            int own = (r + side) % 2;   /* who goes first alternates */
            run(peer.port, own, &rate[own][r], &p50[own][r], &mem[own][r]);
            printf("run %d %-9s %8.0f msgs/s, sync produce p50 %6.0f us, heap once connected "
                   "%.0f B\n", r + 1, own ? "own TLS" : "transport", rate[own][r], p50[own][r],
                   mem[own][r]);
            fflush(stdout);
        }
    mtls_peer_stop(&peer);
    for (int s = 0; s < 2; s++) {
        qsort(rate[s], (size_t)runs, sizeof(double), cmp);
        qsort(p50[s], (size_t)runs, sizeof(double), cmp);
        qsort(mem[s], (size_t)runs, sizeof(double), cmp);
    }
    printf("median of %d (librdkafka %s): produce transport %.0f vs own TLS %.0f msgs/s (%.2fx); "
           "sync p50 transport %.0f vs own TLS %.0f us (%+.0f us)\n", runs, rd_kafka_version_str(),
           rate[0][runs / 2], rate[1][runs / 2], rate[0][runs / 2] / rate[1][runs / 2],
           p50[0][runs / 2], p50[1][runs / 2], p50[0][runs / 2] - p50[1][runs / 2]);
    printf("client heap once connected (1 broker connection): transport %.0f B vs own TLS %.0f B "
           "(%.2fx)\n", mem[0][runs / 2], mem[1][runs / 2], mem[0][runs / 2] / mem[1][runs / 2]);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc > 1)
        runs = atoi(argv[1]) > 0 && atoi(argv[1]) <= 16 ? atoi(argv[1]) : 3;
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_add_test(tc, bench);
    tcase_set_timeout(tc, 1800);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_SILENT);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
