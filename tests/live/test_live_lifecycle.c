/*
 * Clients under mtls.rotation=live come and go without leaving anything
 * behind: configurations made, duplicated (as the C++ API and the Python
 * client do) and destroyed, clients created, connected through the plugin's
 * transport, rotated and destroyed, again and again. The process's file
 * descriptors and threads come back to where they were; valgrind (the
 * valgrind setup) and LeakSanitizer (the asan setup) see the memory.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "harness.h"
#include "live_client.h"
#include "peers.h"

#define CYCLES 4

static mtls_peer peer;

static void start_peer(void) { mtls_peer_start(&peer, NULL); }
static void stop_peer(void) { mtls_peer_stop(&peer); }

/* One client's life: made from a duplicated configuration, connected, one
 * message delivered, its volume renewed under it, destroyed. */
static void one_life(const char *vol, int rotate)
{
    rd_kafka_conf_t *conf = live_conf(vol, bootstrap_of(peer.port)), *dup = rd_kafka_conf_dup(conf);
    rd_kafka_t *rk;

    rd_kafka_conf_destroy(conf);
    rk = client_new(RD_KAFKA_PRODUCER, dup);
    ck_assert_int_eq(produce_n(rk, "lifecycle", "m", 5, 30000), 5);
    if (rotate) {
        volume_certmanager(vol, "app-v2", "ca");
        for (time_t until = time(NULL) + 30; time(NULL) < until && !logsink_has(&applog, "moved from generation 1 to 2");)
            ck_assert_int_eq(produce_n(rk, "lifecycle", "r", 1, 30000), 1);
        ck_assert_msg(logsink_has(&applog, "moved from generation 1 to 2"), "%s", applog.text);
        volume_certmanager(vol, "app-v1", "ca");
    }
    rd_kafka_destroy(rk);
}

START_TEST(create_dup_destroy_leaves_nothing)
{
    char *vol = make_tmpdir("life");
    int fds, threads;

    logsink_init(&applog);
    volume_certmanager(vol, "app-v1", "ca");
    /* the first life loads the plugin, OpenSSL and the provider for good */
    one_life(vol, 0);
    fds = count_fds();
    threads = count_threads();
    for (int i = 0; i < CYCLES; i++) {
        applog.len = 0;
        applog.text[0] = '\0';
        one_life(vol, i % 2);
        /* a consumer that never connects, and a configuration only duplicated */
        rd_kafka_conf_t *conf = live_conf(vol, bootstrap_of(peer.port));
        conf_set(conf, "group.id", "kmtls-lifecycle");
        rd_kafka_conf_destroy(rd_kafka_conf_dup(conf));
        rd_kafka_destroy(client_new(RD_KAFKA_CONSUMER, conf));
        ck_assert_int_eq(count_fds(), fds);
        ck_assert_int_eq(count_threads(), threads);
    }
    printf("%d lives: %d fds and %d threads before and after each\n", CYCLES, fds, threads);
    rmtree(vol);
    free(vol);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("live-lifecycle");
    TCase *tc = tcase_create("lifecycle");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, start_peer, stop_peer);
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, create_dup_destroy_leaves_nothing);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
